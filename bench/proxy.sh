#!/usr/bin/env bash
# proxy.sh: Portico against nginx as a keep-alive reverse proxy, in the same run, on loopback.
#
# One fast upstream (an nginx answering {"ok":true}), nginx as a plain reverse proxy with
# $WORKERS worker processes (upstream keepalive 64, HTTP/1.1, Connection ""), Portico with
# `workers: $WORKERS` and its access log on (to a file). wrk sends small JSON POSTs with $CONNS
# connections; after a warm-up, runs alternate nginx/Portico for $ROUNDS rounds of $DURATION
# seconds and the medians are compared.
#
#   bench/proxy.sh                    defaults: DURATION=4 ROUNDS=10 WARMUP=3 CONNS=50 THREADS=2
#                                     WORKERS=1
#   WORKERS=2 bench/proxy.sh              two workers each (wrk threads: WORKERS when more than 2)
#   NGINX_ACCESS_LOG=off bench/proxy.sh   nginx without its access log (default: on, to a file,
#                                         as nginx ships)
#   PORTICO_BIN=path bench/proxy.sh       another build
set -uo pipefail
WORKERS=${WORKERS:-1}
[[ $WORKERS =~ ^[1-9][0-9]?$ ]] || { echo "bench: WORKERS must be a number of workers, 1 to 99" >&2; exit 2; }
# one wrk thread per proxy worker at least, so that the load generator keeps up with them
THREADS=${THREADS:-$((WORKERS > 2 ? WORKERS : 2))}
. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-4}
ROUNDS=${ROUNDS:-10}
WARMUP=${WARMUP:-3}
NGINX_ACCESS_LOG=${NGINX_ACCESS_LOG:-on}
UP=$(free_port); NP=$(free_port); PP=$(free_port)

# ---------------------------------------------------------------------------- upstream
bench_upstream_start "$UP"

# ---------------------------------------------------------------------------- nginx proxy
if [ "$NGINX_ACCESS_LOG" = on ]; then nlog="access_log $T/nginx/access.log;"; else nlog="access_log off;"; fi
nginx_start nginx "worker_processes $WORKERS;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
    $(nginx_http_paths nginx)
    $nlog
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    upstream up { server 127.0.0.1:$UP; keepalive 64; keepalive_requests 10000000; }
    server {
        listen 127.0.0.1:$NP backlog=4096;
        location / {
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
    }
}"

# ---------------------------------------------------------------------------- portico
bench_proxy_portico "" "" "$WORKERS"
# Both proxies must answer the benchmark request correctly before anything is measured.
bench_both_ok -X POST -H 'Content-Type: application/json' -d "$BENCH_BODY"

nginx_ver=$(nginx -v 2>&1 | sed 's/.*nginx\///')
portico_ver=$("$PORTICO" version | awk '{ print $2 }')
echo "proxy benchmark: $WORKERS worker(s) each, POST ${#BENCH_BODY}-byte JSON, $CONNS connections, $THREADS wrk threads, loopback"
echo "  nginx $nginx_ver (worker_processes $WORKERS, upstream keepalive 64, access log $NGINX_ACCESS_LOG)"
echo "  portico $portico_ver (workers: $WORKERS, access log on, to a file)"
echo "  warm-up ${WARMUP}s each, then $ROUNDS rounds of ${DURATION}s, order nginx/portico alternating"
echo "  machine: $(nproc) cores, $(uname -r)"
echo

wrk_post "http://127.0.0.1:$NP/v1/bench" "$WARMUP" >/dev/null
wrk_post "http://127.0.0.1:$PP/v1/bench" "$WARMUP" >/dev/null

declare -A rps=() p50=() p99=() errs=()
run_one() {
    local name=$1 url=$2 r
    r=$(wrk_post "$url" "$DURATION")
    if [ -z "$r" ]; then echo "bench: wrk produced no result for $name" >&2; exit 1; fi
    read -r a b c n e s <<<"$r"
    rps[$name]+="$a "; p50[$name]+="$b "; p99[$name]+="$c "; errs[$name]+="$((e + s)) "
    printf '  round %d %-8s %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms  %d requests, %d socket errors, %d non-2xx\n' \
        "$round" "$name" "$a" "$(awk -v x="$b" 'BEGIN { print x / 1000 }')" "$(awk -v x="$c" 'BEGIN { print x / 1000 }')" "$n" "$e" "$s"
}
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then
        run_one nginx "http://127.0.0.1:$NP/v1/bench"; run_one portico "http://127.0.0.1:$PP/v1/bench"
    else
        run_one portico "http://127.0.0.1:$PP/v1/bench"; run_one nginx "http://127.0.0.1:$NP/v1/bench"
    fi
done

log_lines=$(wc -l <"$T/portico-access.log" 2>/dev/null || echo 0)
echo
printf '%-10s %12s %10s %10s %8s\n' "median" "req/s" "p50 ms" "p99 ms" "errors"
for name in nginx portico; do
    # shellcheck disable=SC2086
    printf '%-10s %12.0f %10.3f %10.3f %8d\n' "$name" "$(median ${rps[$name]})" \
        "$(awk -v x="$(median ${p50[$name]})" 'BEGIN { print x / 1000 }')" \
        "$(awk -v x="$(median ${p99[$name]})" 'BEGIN { print x / 1000 }')" \
        "$(printf '%s\n' ${errs[$name]} | awk '{ s += $1 } END { print s }')"
done
# shellcheck disable=SC2086
awk -v pr="$(median ${rps[portico]})" -v nr="$(median ${rps[nginx]})" \
    -v p5="$(median ${p50[portico]})" -v n5="$(median ${p50[nginx]})" \
    -v p9="$(median ${p99[portico]})" -v n9="$(median ${p99[nginx]})" -v w="$WORKERS" 'BEGIN {
    target = "no target is set for this many workers"
    if (w == 1) target = "target: req/s >= 1.05x, p99 <= 1.00x"
    if (w == 2) target = "target: req/s >= 1.00x, two workers against nginx with two worker processes"
    printf "\nportico/nginx, %d worker%s each: req/s %.2fx   p50 %.2fx   p99 %.2fx   (%s)\n",
        w, w == 1 ? "" : "s", pr / nr, p5 / n5, p9 / n9, target }'
echo "portico access log: $log_lines lines written"
