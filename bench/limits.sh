#!/usr/bin/env bash
# limits.sh: what a rate-limit policy costs on the request path. One Portico, one fast
# upstream (nginx answering {"ok":true}), two routes to it that differ only in a policy
# (a rate of a billion requests per second and a concurrency cap no run reaches, so nothing is
# refused, but every call takes from the shared window, holds a slot, and its answer carries
# the RateLimit fields): wrk posts the same small JSON to both, alternating, in the same run; the
# medians and the ratio limited/open are printed (target: the policy costs at most 5% of
# requests/s). Then Portico runs under callgrind and the instructions per request are counted
# for each route.
#
#   bench/limits.sh                   defaults: DURATION=4 ROUNDS=10 WARMUP=3 CONNS=50 THREADS=2
#   WORKERS=2 bench/limits.sh         gateway worker threads (default 1)
#   CG_REQUESTS=0 bench/limits.sh     skips callgrind
set -uo pipefail
. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-4}
ROUNDS=${ROUNDS:-10}
WARMUP=${WARMUP:-3}
WORKERS=${WORKERS:-1}
CG_REQUESTS=${CG_REQUESTS:-2000}
UP=$(free_port); PP=$(free_port)

bench_upstream_start "$UP"

write_config() { # ACCESS_LOG
    cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: $WORKERS
access_log: $1
limits: { idle_timeout: 300s }
services:
  - name: up
    targets: ["http://127.0.0.1:$UP"]
routes:
  - { name: open, match: { path_prefix: "/open/" }, service: up }
  - { name: limited, match: { path_prefix: "/limited/" }, service: up }
policies:
  - name: never-reached
    applies_to: { route: limited }
    rate: { requests: 1000000000, per: 1s }
    concurrency: 1000000
EOF
}
write_config "$T/portico-access.log"
portico_start "$T/portico.yaml" || { echo "bench: portico did not start" >&2; exit 1; }
post_script "$T/post.lua"

for r in open limited; do
    got=$(curl -s -m 2 -X POST -d "$BENCH_BODY" "http://127.0.0.1:$PP/$r/bench")
    [ "$got" = '{"ok":true}' ] || { echo "bench: /$r/ answered '$got', not {\"ok\":true}" >&2; exit 1; }
done
curl -s -o /dev/null -D "$T/h" -X POST -d "$BENCH_BODY" "http://127.0.0.1:$PP/limited/bench"
grep -qi '^RateLimit:' "$T/h" || { echo "bench: /limited/ answers carry no RateLimit field" >&2; exit 1; }

echo "limits benchmark: POST ${#BENCH_BODY}-byte JSON, $CONNS connections, $THREADS wrk threads, loopback"
echo "  portico $("$PORTICO" version | awk '{ print $2 }') (workers: $WORKERS, access log on), routes /open/ and"
echo "  /limited/ (a rate and a concurrency policy that never refuse)"
echo "  warm-up ${WARMUP}s each, then $ROUNDS rounds of ${DURATION}s, order alternating"
echo "  machine: $(nproc) cores, $(uname -r)"
echo
wrk_post "http://127.0.0.1:$PP/open/bench" "$WARMUP" >/dev/null
wrk_post "http://127.0.0.1:$PP/limited/bench" "$WARMUP" >/dev/null

declare -A rps=() p50=() p99=() errs=()
run_one() {
    local name=$1 r
    r=$(wrk_post "http://127.0.0.1:$PP/$name/bench" "$DURATION")
    [ -n "$r" ] || { echo "bench: wrk produced no result for $name" >&2; exit 1; }
    read -r a b c n e s <<<"$r"
    rps[$name]+="$a "; p50[$name]+="$b "; p99[$name]+="$c "; errs[$name]+="$((e + s)) "
    printf '  round %d %-8s %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms  %d requests, %d errors, %d non-2xx\n' \
        "$round" "$name" "$a" "$(awk -v x="$b" 'BEGIN { print x / 1000 }')" "$(awk -v x="$c" 'BEGIN { print x / 1000 }')" "$n" "$e" "$s"
}
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then run_one open; run_one limited; else run_one limited; run_one open; fi
done
echo
printf '%-8s %12s %10s %10s %8s\n' "median" "req/s" "p50 ms" "p99 ms" "errors"
for name in open limited; do
    # shellcheck disable=SC2086
    printf '%-8s %12.0f %10.3f %10.3f %8d\n' "$name" "$(median ${rps[$name]})" \
        "$(awk -v x="$(median ${p50[$name]})" 'BEGIN { print x / 1000 }')" \
        "$(awk -v x="$(median ${p99[$name]})" 'BEGIN { print x / 1000 }')" \
        "$(printf '%s\n' ${errs[$name]} | awk '{ s += $1 } END { print s }')"
done
# shellcheck disable=SC2086
awk -v k="$(median ${rps[limited]})" -v o="$(median ${rps[open]})" 'BEGIN {
    printf "\nlimited/open: req/s %.3fx, cost %.1f%% of throughput   (target: cost <= 5%%)\n", k / o, (1 - k / o) * 100 }'
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
    curl -s -X POST -d "$BENCH_BODY" -K "$T/urls"
}
batch open 100; batch limited 100   # warm: pools, caches
declare -A ir=()
for r in open limited; do
    callgrind_control -z "$CGPID" >/dev/null 2>&1
    batch "$r" "$CG_REQUESTS"
    callgrind_control -d "$r" "$CGPID" >/dev/null 2>&1
    f=$(ls -t "$T"/cg.out.* | head -1)
    ir[$r]=$(awk '/^summary:|^totals:/ { print $2; exit }' "$f")
done
kill -TERM $CGPID 2>/dev/null
echo
echo "callgrind: instructions per request ($CG_REQUESTS keep-alive requests per route, all threads)"
awk -v o="${ir[open]}" -v k="${ir[limited]}" -v n="$CG_REQUESTS" 'BEGIN {
    printf "  open     %10.0f\n  limited  %10.0f\n  the policy adds %.0f instructions per request (%.1f%%)\n",
        o / n, k / n, (k - o) / n, (k - o) / o * 100 }'
