#!/usr/bin/env bash
# calllog_route.sh: what the call log and a rate-limit policy cost a route, and how fast the
# call log's writer keeps up with it. Two Portico processes, identical but that "on" has
# `call_log: { enabled: true }` and a rate-limit policy on the route (generous enough never
# to refuse: it counts every call) and "off" has neither, each with one worker and the access
# log off, proxy to the same fast upstream (nginx answering {"ok":true}); wrk sends the same
# POST to each, in rounds whose order rotates, in the same run; the medians and the ratio
# on/off are printed (target: on/off >= 0.95), then the median of each round's own on/off
# (the two ran next to each other: a drift of the shared machine's speed cancels out of
# it), with each mode's CPU time per request (every
# thread of the gateway: what a busy machine disturbs less than requests/s); each round shows
# its non-2xx answers (a refusal by the policy would count there: none should).
#
# The writer, through the running gateway: after each "on" round the script waits (at most
# 30 s) until every call of the round is written or dropped (portico_call_log_records_
# written_total + _dropped_total on /metrics), and prints the records written per second
# over the round and that wait, the records dropped, and the writer thread's CPU time
# (/proc, the thread named portico-calllog): its share of one core, and the records it
# writes per second of its own CPU (what it would sustain with a core to itself). The
# medians are printed beside the "off" route's requests/s (target: >= 50,000 records/s
# written, none dropped).
#
#   bench/calllog_route.sh            defaults: DURATION=4 ROUNDS=6 WARMUP=2 CONNS=50 THREADS=2
#   POLICY=0 bench/calllog_route.sh   the call log alone, without the policy
#   STRACE=1 bench/calllog_route.sh  also counts the writer thread's system calls in each "on"
#                                     round (strace -c attached to that thread alone), printed
#                                     per 1,000 records written, by call, medians at the end
#   BASE_BIN=path/to/old/portico bench/calllog_route.sh
#                                     also a baseline build's "on" and "off" in the same rounds,
#                                     and its figures beside the current build's
set -uo pipefail
. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-4}
POLICY=${POLICY:-1}
STRACE=${STRACE:-0}
ROUNDS=${ROUNDS:-6}
WARMUP=${WARMUP:-2}
BASE_BIN=${BASE_BIN:-}
if [ -n "$BASE_BIN" ] && [ ! -x "$BASE_BIN" ]; then echo "bench: BASE_BIN=$BASE_BIN is not executable" >&2; exit 1; fi
UP=$(free_port)
bench_upstream_start "$UP"

MODES=(on off)
[ -n "$BASE_BIN" ] && MODES+=(base-on base-off)
declare -A PORT=() PID=()
CURRENT=$PORTICO
for mode in "${MODES[@]}"; do
    PORT[$mode]=$(free_port)
    logged=false
    [[ $mode == *on ]] && logged=true
    cat >"$T/$mode.yaml" <<EOF
listen: ["127.0.0.1:${PORT[$mode]}"]
workers: 1
access_log: "off"
data_dir: $T/data-$mode
call_log: { enabled: $logged }
limits: { idle_timeout: 300s }
services: [{ name: up, targets: ["http://127.0.0.1:$UP"] }]
routes: [{ name: up, match: { path_prefix: "/" }, service: up }]
EOF
    if [ "$logged" = true ] && [ "$POLICY" = 1 ]; then
        printf 'policies: [{ name: bench-rate, applies_to: { route: up }, rate: { requests: 1000000000, per: 1s } }]\n' >>"$T/$mode.yaml"
    fi
    PP=${PORT[$mode]}
    PORTICO=$CURRENT
    [[ $mode == base-* ]] && PORTICO=$BASE_BIN
    portico_start "$T/$mode.yaml" || { echo "bench: portico ($mode) did not start" >&2; exit 1; }
    PID[$mode]=$PORTICO_PID
    track "$PORTICO_PID"
done
PORTICO=$CURRENT

echo "call log benchmark: POST ${#BENCH_BODY}-byte JSON, $CONNS connections, $THREADS wrk threads, loopback"
echo "  portico $("$PORTICO" version | awk '{ print $2 }') (workers: 1, access log off), on: call_log$([ "$POLICY" = 1 ] && echo " and a rate-limit policy") / off: neither${BASE_BIN:+; base-*: the baseline build}"
echo "  warm-up ${WARMUP}s each, then $ROUNDS rounds of ${DURATION}s, order rotating; machine: $(nproc) cores"
if [ "$POLICY" = 1 ]; then
    curl -s -o /dev/null -D "$T/on.headers" -X POST -d "$BENCH_BODY" "http://127.0.0.1:${PORT[on]}/bench"
    grep -qi '^ratelimit-policy: "bench-rate"' "$T/on.headers" || { echo "bench: the policy does not apply to the route" >&2; exit 1; }
fi
for mode in "${MODES[@]}"; do wrk_post "http://127.0.0.1:${PORT[$mode]}/bench" "$WARMUP" >/dev/null; done

TICK=$(getconf CLK_TCK)
# ticks MODE [THREAD]: CPU time (user + system, clock ticks) of the mode's gateway process (the
# supervisor's child when there is one), or of its thread named THREAD.
ticks() {
    local p t sum=0
    for p in "${PID[$1]}" $(pgrep -P "${PID[$1]}"); do
        for t in /proc/"$p"/task/*; do
            [ -z "${2:-}" ] || [ "$(cat "$t/comm" 2>/dev/null)" = "$2" ] || continue
            sum=$((sum + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$t/stat" 2>/dev/null || echo 0)))
        done
    done
    echo "$sum"
}
# writer_ticks MODE: the call log writer's CPU ticks. A build that does not name its writer
# thread (portico-calllog) counts its busiest unnamed thread but the main one (the writer,
# the only other thread busy under load with the access log off).
writer_ticks() {
    local p t best=0 v named=
    for p in "${PID[$1]}" $(pgrep -P "${PID[$1]}"); do
        for t in /proc/"$p"/task/*; do
            case $(cat "$t/comm" 2>/dev/null) in
                portico-calllog) named=1 ;;
                portico) [ "${t##*/}" != "$p" ] || continue ;;
                *) continue ;;
            esac
            v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$t/stat" 2>/dev/null || echo 0)
            [ -n "$named" ] && { echo "$v"; return; }
            ((v > best)) && best=$v
        done
    done
    echo "$best"
}
# writer_tid MODE: the thread id of the mode's call log writer (portico-calllog).
writer_tid() {
    local p t
    for p in "${PID[$1]}" $(pgrep -P "${PID[$1]}"); do
        for t in /proc/"$p"/task/*; do
            [ "$(cat "$t/comm" 2>/dev/null)" = portico-calllog ] && { echo "${t##*/}"; return; }
        done
    done
}
# strace_calls FILE RECORDS: "call=N ..." per 1,000 records from an strace -c summary.
strace_calls() {
    awk -v n="$2" 'NR > 2 && $NF != "total" && $4 ~ /^[0-9]+$/ && n > 0 { printf "%s=%.2f ", $NF, $4 * 1000 / n }' "$1"
}
declare -A sys=()
# taken MODE: the records the mode's writer has written or dropped so far ("written dropped").
taken() { PP=${PORT[$1]}; echo "$(metric_sum portico_call_log_records_written_total) $(metric_sum portico_call_log_dropped_total)"; }
_writer_done() { local w d; read -r w d <<<"$(taken "$1")"; ((w + d >= $2)); }
calc() { awk "BEGIN { $1 }"; }

declare -A rps=() p99=() cpu=() wps=() wcpu=() wcap=() dropped=() last=() pair=()
run_one() {
    local mode=$1 r w0 d0 c0 t0 w1 d1 c1 t1 p0 p1 secs st_pid=
    p0=$(ticks "$mode")
    [[ $mode == *on ]] && { read -r w0 d0 <<<"$(taken "$mode")"; c0=$(writer_ticks "$mode"); t0=$(date +%s.%N); }
    if [[ $mode == *on ]] && [ "$STRACE" = 1 ]; then
        strace -c -q -o "$T/strace.$mode" -p "$(writer_tid "$mode")" &
        st_pid=$!
    fi
    r=$(wrk_post "http://127.0.0.1:${PORT[$mode]}/bench" "$DURATION")
    [ -n "$r" ] || { echo "bench: wrk produced no result for $mode" >&2; exit 1; }
    read -r a b c n e s <<<"$r"
    p1=$(ticks "$mode")
    rps[$mode]+="$a "; p99[$mode]+="$c "; last[$mode]=$a
    cpu[$mode]+="$(calc "printf \"%.2f\", ($p1 - $p0) / $TICK / $n * 1e6") "
    printf '  round %d %-8s %8.0f req/s  p99 %7.3f ms  %5.2f us CPU/req  %d requests, %d errors, %d non-2xx\n' "$round" \
        "$mode" "$a" "$(calc "print $c / 1000")" "$(calc "print ($p1 - $p0) / $TICK / $n * 1e6")" "$n" "$e" "$s"
    [[ $mode == *on ]] || return 0
    wait_for 30 _writer_done "$mode" $((w0 + d0 + n)) || echo "  (the writer had not caught up 30 s after the round)"
    t1=$(date +%s.%N); c1=$(writer_ticks "$mode"); read -r w1 d1 <<<"$(taken "$mode")"
    if [ -n "$st_pid" ]; then
        kill -INT "$st_pid"; wait "$st_pid" 2>/dev/null
        sys[$mode]+="$(strace_calls "$T/strace.$mode" $((w1 - w0)))
"
        printf '           writer system calls per 1,000 records: %s\n' "$(strace_calls "$T/strace.$mode" $((w1 - w0)))"
    fi
    secs=$(calc "print $t1 - $t0")
    dropped[$mode]=$((${dropped[$mode]:-0} + d1 - d0))
    wps[$mode]+="$(calc "printf \"%.0f\", ($w1 - $w0) / $secs") "
    wcpu[$mode]+="$(calc "printf \"%.1f\", ($c1 - $c0) / $TICK / $secs * 100") "
    wcap[$mode]+="$(calc "v = $c1 > $c0 ? ($w1 - $w0) / (($c1 - $c0) / $TICK) : 0; printf \"%.0f\", v") "
    printf '           writer %8.0f records/s written over %.1f s, %d dropped; %5.1f%% of a core, %.0f records per CPU-second\n' \
        "$(calc "print ($w1 - $w0) / $secs")" "$secs" $((d1 - d0)) "$(calc "print ($c1 - $c0) / $TICK / $secs * 100")" \
        "$(calc "v = $c1 > $c0 ? ($w1 - $w0) / (($c1 - $c0) / $TICK) : 0; print v")"
}
for ((round = 1; round <= ROUNDS; round++)); do
    k=${#MODES[@]}
    for ((i = 0; i < k; i++)); do run_one "${MODES[$(((round - 1 + i) % k))]}"; done
    # each build's on/off within the round: the two ran next to each other, so a slow drift of
    # the machine's speed (other tenants) cancels out of their ratio
    for b in "" base-; do [ -n "${last[${b}on]:-}" ] && pair[${b:-current}]+="$(calc "printf \"%.4f\", ${last[${b}on]} / ${last[${b}off]}") "; done
done

echo
# summary PREFIX LABEL: the medians of one build's pair of modes.
summary() {
    local on=${1}on off=${1}off
    # shellcheck disable=SC2086
    calc "on = $(median ${rps[$on]}); off = $(median ${rps[$off]}); con = $(median ${cpu[$on]}); coff = $(median ${cpu[$off]})
        printf \"%-9s median req/s: on %.0f, off %.0f; on/off %.3fx (%.1f%% of throughput); CPU/req on %.2f us, off %.2f us (+%.1f%%)\n\",
            \"$2\", on, off, on / off, (1 - on / off) * 100, con, coff, (con / coff - 1) * 100"
    # shellcheck disable=SC2086
    printf '          median of the rounds'"'"' own on/off: %.3fx (rounds: %s)\n' "$(median ${pair[${1:-current}]})" "${pair[${1:-current}]% }"
    # shellcheck disable=SC2086
    printf '          median p99: on %.3f ms, off %.3f ms\n' "$(calc "print $(median ${p99[$on]}) / 1000")" \
        "$(calc "print $(median ${p99[$off]}) / 1000")"
    # shellcheck disable=SC2086
    printf '          call log writer: %s records/s written (median of the rounds; off: %s req/s), %d dropped in the rounds;\n' \
        "$(median ${wps[$on]})" "$(median ${rps[$off]})" "${dropped[$on]}"
    # shellcheck disable=SC2086
    printf '          %s%% of a core, %s records per CPU-second of the writer thread (target: >= 50000 records/s)\n' \
        "$(median ${wcpu[$on]})" "$(median ${wcap[$on]})"
}
summary "" current
[ -n "$BASE_BIN" ] && summary base- baseline
# syscalls_summary MODE LABEL: each call's median per 1,000 records over the rounds.
syscalls_summary() {
    [ -n "${sys[$1]:-}" ] || return 0
    printf '%-9s writer system calls per 1,000 records (median of the rounds): %s\n' "$2" "$(
        tr ' ' '\n' <<<"${sys[$1]}" | grep = | awk -F= '{ v[$1] = v[$1] " " $2 } END { for (k in v) print k, v[k] }' |
            while read -r k vals; do
                # shellcheck disable=SC2086
                printf '%s=%s ' "$k" "$(median $vals)"
            done)"
}
syscalls_summary on current
syscalls_summary base-on baseline
for mode in "${MODES[@]}"; do PORTICO_PID=${PID[$mode]}; portico_stop; done
