#!/usr/bin/env bash
# auth.sh: what key enforcement costs. One Portico, one fast upstream (nginx answering
# {"ok":true}), two routes to it that differ only in `auth: key` (the key checked, its
# consumer's subscription to the service looked up, the key stripped, identity headers added):
# wrk sends the same POST, with the same Authorization header, to both, alternating, in the same
# run; the medians and the ratio keyed/open are printed (target: the check costs at most 3% of
# requests/s). Then Portico runs under callgrind and the instructions per request are counted
# for each route (all threads, counters zeroed before and dumped after each batch).
#
#   bench/auth.sh                     defaults: DURATION=4 ROUNDS=10 WARMUP=3 CONNS=50 THREADS=2
#   CG_REQUESTS=2000 bench/auth.sh    requests per callgrind batch (CG_REQUESTS=0 skips it)
set -uo pipefail
. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-4}
ROUNDS=${ROUNDS:-10}
WARMUP=${WARMUP:-3}
CG_REQUESTS=${CG_REQUESTS:-2000}
SEED=${STORE_SEED:-$(dirname "$PORTICO")/tests/store_seed}
[ -x "$SEED" ] || { echo "bench: $SEED is missing; run make first" >&2; exit 1; }
UP=$(free_port); PP=$(free_port)
D=$T/data

bench_upstream_start "$UP"

# A store like a real one around the caller: other teams, consumers, keys and subscriptions.
"$SEED" "$D" team bench >/dev/null && "$SEED" "$D" service up bench && "$SEED" "$D" consumer caller bench ||
    { echo "bench: the store could not be seeded" >&2; exit 1; }
for i in $(seq 20); do "$SEED" "$D" service "other$i" bench; done
for i in $(seq 50); do
    "$SEED" "$D" consumer "c$i" bench && "$SEED" "$D" key "c$i" >/dev/null && "$SEED" "$D" subscribe "c$i" up active
done
for i in $(seq 10); do "$SEED" "$D" subscribe caller "other$i" active; done
KEY=$("$SEED" "$D" key caller)
"$SEED" "$D" subscribe caller up active || { echo "bench: the subscription could not be seeded" >&2; exit 1; }

write_config() { # ACCESS_LOG
    cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: $1
data_dir: $D
limits: { idle_timeout: 300s }
services:
  - name: up
    targets: ["http://127.0.0.1:$UP"]
routes:
  - name: open
    match: { path_prefix: "/open/" }
    service: up
  - name: keyed
    match: { path_prefix: "/keyed/" }
    service: up
    auth: key
EOF
}
write_config "$T/portico-access.log"
portico_start "$T/portico.yaml" || { echo "bench: portico did not start" >&2; exit 1; }

post_script "$T/post-key.lua" Authorization "Bearer $KEY"
wrk_key() { wrk_post "$1" "$2" "$T/post-key.lua"; }

for r in open keyed; do
    got=$(curl -s -m 2 -X POST -H "Authorization: Bearer $KEY" -d "$BENCH_BODY" "http://127.0.0.1:$PP/$r/bench")
    [ "$got" = '{"ok":true}' ] || { echo "bench: /$r/ answered '$got', not {\"ok\":true}" >&2; exit 1; }
done

echo "auth benchmark: POST ${#BENCH_BODY}-byte JSON with a Portico key, $CONNS connections, $THREADS wrk threads, loopback"
echo "  portico $("$PORTICO" version | awk '{ print $2 }') (workers: 1, access log on), routes /open/ and /keyed/ (auth: key)"
echo "  store: 51 consumers, 51 keys, 21 services, 61 subscriptions"
echo "  warm-up ${WARMUP}s each, then $ROUNDS rounds of ${DURATION}s, order alternating"
echo "  machine: $(nproc) cores, $(uname -r)"
echo
wrk_key "http://127.0.0.1:$PP/open/bench" "$WARMUP" >/dev/null
wrk_key "http://127.0.0.1:$PP/keyed/bench" "$WARMUP" >/dev/null

# CPU time the gateway process (all its threads) spent per request is the steadier figure on a
# shared machine: requests/s moves with whatever else runs, the work per request much less.
GW=$(pgrep -P "$PORTICO_PID" -x portico | head -n 1); GW=${GW:-$PORTICO_PID}
TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$GW/stat" 2>/dev/null || echo 0; }

declare -A rps=() p50=() p99=() errs=() cpu=()
run_one() {
    local name=$1 r t0 us
    t0=$(cpu_ticks)
    r=$(wrk_key "http://127.0.0.1:$PP/$name/bench" "$DURATION")
    [ -n "$r" ] || { echo "bench: wrk produced no result for $name" >&2; exit 1; }
    read -r a b c n e s <<<"$r"
    us=$(awk -v t=$(($(cpu_ticks) - t0)) -v k="$TCK" -v n="$n" 'BEGIN { printf "%.2f", n ? t / k * 1e6 / n : 0 }')
    rps[$name]+="$a "; p50[$name]+="$b "; p99[$name]+="$c "; errs[$name]+="$((e + s)) "; cpu[$name]+="$us "
    printf '  round %d %-6s %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms  %6.2f us CPU/req  %d requests, %d errors, %d non-2xx\n' \
        "$round" "$name" "$a" "$(awk -v x="$b" 'BEGIN { print x / 1000 }')" "$(awk -v x="$c" 'BEGIN { print x / 1000 }')" "$us" "$n" "$e" "$s"
}
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then run_one open; run_one keyed; else run_one keyed; run_one open; fi
done
echo
printf '%-8s %12s %10s %10s %12s %8s\n' "median" "req/s" "p50 ms" "p99 ms" "us CPU/req" "errors"
for name in open keyed; do
    # shellcheck disable=SC2086
    printf '%-8s %12.0f %10.3f %10.3f %12.2f %8d\n' "$name" "$(median ${rps[$name]})" \
        "$(awk -v x="$(median ${p50[$name]})" 'BEGIN { print x / 1000 }')" \
        "$(awk -v x="$(median ${p99[$name]})" 'BEGIN { print x / 1000 }')" "$(median ${cpu[$name]})" \
        "$(printf '%s\n' ${errs[$name]} | awk '{ s += $1 } END { print s }')"
done
# shellcheck disable=SC2086
awk -v k="$(median ${rps[keyed]})" -v o="$(median ${rps[open]})" -v ck="$(median ${cpu[keyed]})" \
    -v co="$(median ${cpu[open]})" 'BEGIN {
    printf "\nkeyed/open: req/s %.3fx, cost %.1f%% of throughput   (target: cost <= 3%%)\n", k / o, (1 - k / o) * 100
    if (co > 0) printf "            CPU per request %.3fx, %.1f%% more gateway CPU per request\n", ck / co, (ck / co - 1) * 100 }'
portico_stop

# ---------------------------------------------------------------------------- callgrind
((CG_REQUESTS > 0)) || exit 0
command -v valgrind >/dev/null || { echo "callgrind: valgrind is missing, skipped"; exit 0; }
write_config off
valgrind --tool=callgrind --callgrind-out-file="$T/cg.out" "$PORTICO" serve --no-supervisor -c "$T/portico.yaml" \
    >"$T/cg.log" 2>&1 &
CGPID=$!; track $CGPID
wait_for 60 answers_200 "http://127.0.0.1:$PP/healthz" || { echo "callgrind: portico did not start" >&2; exit 1; }
batch() { # ROUTE N: N keep-alive POSTs on one connection
    local i
    for ((i = 0; i < $2; i++)); do printf 'url = "http://127.0.0.1:%s/%s/bench"\noutput = "/dev/null"\n' "$PP" "$1"; done >"$T/urls"
    curl -s -X POST -H "Authorization: Bearer $KEY" -d "$BENCH_BODY" -K "$T/urls"
}
batch open 100; batch keyed 100   # warm: pools, caches
declare -A ir=()
for r in open keyed; do
    callgrind_control -z "$CGPID" >/dev/null 2>&1
    batch "$r" "$CG_REQUESTS"
    callgrind_control -d "$r" "$CGPID" >/dev/null 2>&1
    f=$(ls -t "$T"/cg.out.* | head -1)
    ir[$r]=$(awk '/^summary:|^totals:/ { print $2; exit }' "$f")
done
kill -TERM $CGPID 2>/dev/null
[ -n "${KEEP_CG:-}" ] && cp "$T"/cg.out.* "$KEEP_CG"/ 2>/dev/null
echo
echo "callgrind: instructions per request ($CG_REQUESTS keep-alive requests per route, all threads)"
awk -v o="${ir[open]}" -v k="${ir[keyed]}" -v n="$CG_REQUESTS" 'BEGIN {
    printf "  open   %10.0f\n  keyed  %10.0f\n  the check adds %.0f instructions per request (%.1f%%)\n",
        o / n, k / n, (k - o) / n, (k - o) / o * 100 }'
