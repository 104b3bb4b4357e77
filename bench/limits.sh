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

ab_rounds open limited "$T/post.lua"
ab_summary open limited 5
portico_stop

# ---------------------------------------------------------------------------- callgrind
((CG_REQUESTS > 0)) || exit 0
write_config off
cg_per_request open limited || exit 0
echo
echo "callgrind: instructions per request ($CG_REQUESTS keep-alive requests per route, all threads)"
awk -v o="${CG_IR[open]}" -v k="${CG_IR[limited]}" -v n="$CG_REQUESTS" 'BEGIN {
    printf "  open     %10.0f\n  limited  %10.0f\n  the policy adds %.0f instructions per request (%.1f%%)\n",
        o / n, k / n, (k - o) / n, (k - o) / o * 100 }'
