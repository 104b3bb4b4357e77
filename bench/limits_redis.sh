#!/usr/bin/env bash
# limits_redis.sh: what a limit check costs with its counters in Redis (counters: redis)
# against the in-process counters, in the same run. One fast upstream (nginx), one Redis on
# loopback, and Portico started twice on the same configuration but for `counters:`: each
# time wrk posts the same small JSON to a route without a policy (/open/) and to one with a
# rate and a concurrency policy that never refuse (/limited/), alternating; then Portico
# runs under callgrind for each. Printed: each backend's limited/open ratios, and the Redis
# backend's limited route against the local one's, in requests/s and in instructions per
# request. callgrind counts Portico's instructions only: the Redis server's own work and the
# round trip's wait are in the requests/s, not in the instruction counts.
#
#   bench/limits_redis.sh                  defaults: DURATION=3 ROUNDS=4 WARMUP=2 CONNS=50 THREADS=2
#   WORKERS=2 bench/limits_redis.sh        gateway worker threads (default 1)
#   CG_REQUESTS=0 bench/limits_redis.sh    skips callgrind
set -uo pipefail
. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-4}
WARMUP=${WARMUP:-2}
WORKERS=${WORKERS:-1}
CG_REQUESTS=${CG_REQUESTS:-2000}
UP=$(free_port); PP=$(free_port)
have_redis || { echo "bench: redis-server is missing (scripts/deps.sh installs it)" >&2; exit 1; }

bench_upstream_start "$UP"
redis_start || { echo "bench: redis did not start" >&2; exit 1; }

write_config() { # ACCESS_LOG COUNTERS_LINE
    cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: $WORKERS
access_log: $1
limits: { idle_timeout: 300s }
$2
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
REDIS_LINE="counters: { redis: \"redis://127.0.0.1:$REDIS_PORT/0\" }"
post_script "$T/post.lua"

echo "Redis-backed limits benchmark: POST ${#BENCH_BODY}-byte JSON, $CONNS connections, $THREADS wrk threads, loopback"
echo "  portico $("$PORTICO" version | awk '{ print $2 }') (workers: $WORKERS, access log on), $(redis-server --version | awk '{ print $3 }')"
echo "  warm-up ${WARMUP}s each, then $ROUNDS rounds of ${DURATION}s per backend, order alternating"
echo "  machine: $(nproc) cores, $(uname -r)"
declare -A RPS=() OPEN=() IR=() IR_OPEN=()
for backend in local redis; do
    line=""
    [ "$backend" = redis ] && line=$REDIS_LINE
    write_config "$T/portico-access.log" "$line"
    portico_start "$T/portico.yaml" || { echo "bench: portico ($backend) did not start" >&2; exit 1; }
    curl -s -o /dev/null -D "$T/h" -X POST -d "$BENCH_BODY" "http://127.0.0.1:$PP/limited/bench"
    grep -qi '^RateLimit:' "$T/h" || { echo "bench: /limited/ answers carry no RateLimit field" >&2; exit 1; }
    wrk_post "http://127.0.0.1:$PP/open/bench" "$WARMUP" >/dev/null
    wrk_post "http://127.0.0.1:$PP/limited/bench" "$WARMUP" >/dev/null
    echo
    echo "counters: $backend"
    ab_rounds open limited "$T/post.lua"
    RPS[$backend]=${AB_RPS[limited]}
    OPEN[$backend]=${AB_RPS[open]}
    if [ "$backend" = redis ]; then
        failed=$(curl -s "http://127.0.0.1:$PP/metrics" | awk '/^portico_counters_redis_errors_total/ { print $2 }')
        echo "  round trips to Redis that failed during the run: ${failed:-?}"
    fi
    portico_stop
    if ((CG_REQUESTS > 0)); then
        write_config off "$line"
        if cg_per_request open limited; then
            IR[$backend]=${CG_IR[limited]}
            IR_OPEN[$backend]=${CG_IR[open]}
        fi
    fi
done

echo
awk -v rl="${RPS[local]}" -v rr="${RPS[redis]}" -v ol="${OPEN[local]}" -v orr="${OPEN[redis]}" 'BEGIN {
    printf "requests/s (medians)        open     limited   limited/open\n"
    printf "  local counters      %10.0f  %10.0f   %.3fx\n", ol, rl, rl / ol
    printf "  redis counters      %10.0f  %10.0f   %.3fx\n", orr, rr, rr / orr
    printf "  redis/local, limited route: %.3fx requests/s\n", rr / rl }'
if [ -n "${IR[local]:-}" ] && [ -n "${IR[redis]:-}" ]; then
    awk -v n="$CG_REQUESTS" -v ol="${IR_OPEN[local]}" -v l="${IR[local]}" -v orr="${IR_OPEN[redis]}" -v r="${IR[redis]}" 'BEGIN {
        printf "callgrind: instructions per request (%d keep-alive requests per route, all threads)\n", n
        printf "  local counters      open %9.0f  limited %9.0f  the check adds %7.0f\n", ol / n, l / n, (l - ol) / n
        printf "  redis counters      open %9.0f  limited %9.0f  the check adds %7.0f\n", orr / n, r / n, (r - orr) / n
        printf "  redis/local, limited route: %.3fx instructions; the check itself: %.2fx\n", r / l, (r - orr) / (l - ol) }'
fi
