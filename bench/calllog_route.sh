#!/usr/bin/env bash
# calllog_route.sh: what the call log costs a route. Two Portico processes, identical but for
# `call_log: { enabled: true }` / `{ enabled: false }`, each with one worker and the access log
# off, proxy to the same fast upstream (nginx answering {"ok":true}); wrk sends the same POST to
# each, alternating, in the same run; the medians and the ratio on/off are printed, with the
# call log's written and dropped counts (every call should be written, none dropped).
#
#   bench/calllog_route.sh            defaults: DURATION=4 ROUNDS=6 WARMUP=2 CONNS=50 THREADS=2
set -uo pipefail
. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-4}
ROUNDS=${ROUNDS:-6}
WARMUP=${WARMUP:-2}
UP=$(free_port)
bench_upstream_start "$UP"

declare -A PORT=() PID=()
for mode in on off; do
    PORT[$mode]=$(free_port)
    cat >"$T/$mode.yaml" <<EOF
listen: ["127.0.0.1:${PORT[$mode]}"]
workers: 1
access_log: "off"
data_dir: $T/data-$mode
call_log: { enabled: $([ $mode = on ] && echo true || echo false) }
limits: { idle_timeout: 300s }
services: [{ name: up, targets: ["http://127.0.0.1:$UP"] }]
routes: [{ name: up, match: { path_prefix: "/" }, service: up }]
EOF
    PP=${PORT[$mode]}
    portico_start "$T/$mode.yaml" || { echo "bench: portico ($mode) did not start" >&2; exit 1; }
    PID[$mode]=$PORTICO_PID
    track "$PORTICO_PID"
done

echo "call log benchmark: POST ${#BENCH_BODY}-byte JSON, $CONNS connections, $THREADS wrk threads, loopback"
echo "  portico $("$PORTICO" version | awk '{ print $2 }') (workers: 1, access log off), call_log on / off"
echo "  warm-up ${WARMUP}s each, then $ROUNDS rounds of ${DURATION}s, order alternating; machine: $(nproc) cores"
for mode in on off; do wrk_post "http://127.0.0.1:${PORT[$mode]}/bench" "$WARMUP" >/dev/null; done

declare -A rps=() p99=()
run_one() {
    local r
    r=$(wrk_post "http://127.0.0.1:${PORT[$1]}/bench" "$DURATION")
    [ -n "$r" ] || { echo "bench: wrk produced no result for $1" >&2; exit 1; }
    read -r a b c n e s <<<"$r"
    rps[$1]+="$a "; p99[$1]+="$c "
    printf '  round %d %-4s %10.0f req/s  p99 %7.3f ms  %d requests, %d errors, %d non-2xx\n' "$round" "$1" "$a" \
        "$(awk -v x="$c" 'BEGIN { print x / 1000 }')" "$n" "$e" "$s"
}
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then run_one on; run_one off; else run_one off; run_one on; fi
done
PP=${PORT[on]}
written=$(metric_sum portico_call_log_records_written_total); dropped=$(metric_sum portico_call_log_dropped_total)
echo
# shellcheck disable=SC2086
awk -v on="$(median ${rps[on]})" -v off="$(median ${rps[off]})" -v pon="$(median ${p99[on]})" \
    -v poff="$(median ${p99[off]})" 'BEGIN {
    printf "median req/s: on %.0f, off %.0f; on/off %.3fx (%.1f%% of throughput)\n", on, off, on / off, (1 - on / off) * 100
    printf "median p99:   on %.3f ms, off %.3f ms\n", pon / 1000, poff / 1000 }'
echo "call log: $written records written, $dropped dropped"
for mode in on off; do PORTICO_PID=${PID[$mode]}; portico_stop; done
