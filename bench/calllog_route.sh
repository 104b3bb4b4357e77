#!/usr/bin/env bash
# calllog_route.sh: what the call log and a rate-limit policy cost a route. Two Portico
# processes, identical but that "on" has `call_log: { enabled: true }` and a rate-limit policy
# on the route (generous enough never to refuse: it counts every call) and "off" has neither,
# each with one worker and the access log off, proxy to the same fast upstream (nginx
# answering {"ok":true}); wrk sends the same POST to each, alternating, in the same run; the
# medians and the ratio on/off are printed (target: on/off >= 0.95), with the call log's
# written and dropped counts (every call should be written, none dropped); each round shows
# its non-2xx answers (a refusal by the policy would count there: none should).
#
#   bench/calllog_route.sh            defaults: DURATION=4 ROUNDS=6 WARMUP=2 CONNS=50 THREADS=2
#   POLICY=0 bench/calllog_route.sh   the call log alone, without the policy
set -uo pipefail
. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-4}
POLICY=${POLICY:-1}
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
    if [ "$mode" = on ] && [ "$POLICY" = 1 ]; then
        printf 'policies: [{ name: bench-rate, applies_to: { route: up }, rate: { requests: 1000000000, per: 1s } }]\n' >>"$T/$mode.yaml"
    fi
    PP=${PORT[$mode]}
    portico_start "$T/$mode.yaml" || { echo "bench: portico ($mode) did not start" >&2; exit 1; }
    PID[$mode]=$PORTICO_PID
    track "$PORTICO_PID"
done

echo "call log benchmark: POST ${#BENCH_BODY}-byte JSON, $CONNS connections, $THREADS wrk threads, loopback"
echo "  portico $("$PORTICO" version | awk '{ print $2 }') (workers: 1, access log off), on: call_log$([ "$POLICY" = 1 ] && echo " and a rate-limit policy") / off: neither"
echo "  warm-up ${WARMUP}s each, then $ROUNDS rounds of ${DURATION}s, order alternating; machine: $(nproc) cores"
if [ "$POLICY" = 1 ]; then
    curl -s -o /dev/null -D "$T/on.headers" -X POST -d "$BENCH_BODY" "http://127.0.0.1:${PORT[on]}/bench"
    grep -qi '^ratelimit-policy: "bench-rate"' "$T/on.headers" || { echo "bench: the policy does not apply to the route" >&2; exit 1; }
fi
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
