#!/usr/bin/env bash
# h2.sh: Portico against nginx as an HTTP/2 (h2c, prior knowledge) reverse proxy, in the same
# run, on loopback, with h2load.
#
# The upstream is the benchmarks' fast nginx ({"ok":true}, HTTP/1.1 keep-alive from both
# proxies). nginx listens with HTTP/2 (`http2 on`, or `listen ... http2` before 1.25.1) and one
# worker; Portico with one worker and its access log on (to a file). h2load sends $REQUESTS GETs
# over $H2_CONNS connections with $H2_STREAMS streams each; after a warm-up, runs alternate
# nginx/Portico for $ROUNDS rounds and the medians are compared. Each run is bounded in count
# and in time (timeout).
#
# UPSTREAM=h2c makes the upstream speak HTTP/2 too: a second nginx answering {"ok":true} over
# h2c (prior knowledge), which nginx reaches with grpc_pass (its one HTTP/2 upstream module,
# keepalive 64) and Portico with `protocol: h2c` (one multiplexed connection).
#
#   bench/h2.sh           defaults: REQUESTS=20000 H2_CONNS=4 H2_STREAMS=20 ROUNDS=5 UPSTREAM=h1
set -uo pipefail
. "$(dirname "$0")/lib.sh"

REQUESTS=${REQUESTS:-20000}
H2_CONNS=${H2_CONNS:-4}
H2_STREAMS=${H2_STREAMS:-20}
ROUNDS=${ROUNDS:-5}
UPSTREAM=${UPSTREAM:-h1}
command -v h2load >/dev/null || { echo "bench: h2load is missing (Debian nghttp2-client)" >&2; exit 1; }
UP=$(free_port); NP=$(free_port); PP=$(free_port)

nginx_ver=$(nginx -v 2>&1 | sed 's/.*nginx\///')
h2_listen_on() { # PORT: nginx's listen line for h2c on PORT
    if printf '%s\n1.25.1\n' "$nginx_ver" | sort -V -C; then echo "listen 127.0.0.1:$1 http2 backlog=4096;"
    else echo "listen 127.0.0.1:$1 backlog=4096; http2 on;"; fi
}
h2_listen=$(h2_listen_on "$NP")
if [ "$UPSTREAM" = h2c ]; then
    nginx_start upstream "worker_processes 1;
events { worker_connections 4096; }
http {
    $(nginx_http_paths upstream)
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 10000000;
    server {
        $(h2_listen_on "$UP")
        http2_max_concurrent_streams 256;
        location / { default_type application/json; return 200 '{\"ok\":true}'; }
    }
}"
    proxy_location="grpc_pass grpc://up;"
    service_key="protocol: h2c"
else
    bench_upstream_start "$UP"
    proxy_location="proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";"
    service_key=
fi
nginx_start nginx "worker_processes 1;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
    $(nginx_http_paths nginx)
    access_log $T/nginx/access.log;
    keepalive_timeout 300s;
    keepalive_requests 10000000;   # also HTTP/2 requests per connection since 1.19.7 (default 1000)
    upstream up { server 127.0.0.1:$UP; keepalive 64; keepalive_requests 10000000; }
    server {
        $h2_listen
        http2_max_concurrent_streams 128;
        location / {
            $proxy_location
        }
    }
}"

bench_proxy_portico "http2_max_streams: 128" "$service_key"
# Both proxies must answer the benchmark request correctly before anything is measured.
bench_both_ok --http2-prior-knowledge

# h2load_rps URL N: requests/s of one bounded run, or nothing when not every request got a 2xx.
h2load_rps() {
    timeout 120 h2load -n "$2" -c "$H2_CONNS" -m "$H2_STREAMS" "$1" 2>&1 | awk '
        /^finished in/ { gsub(",", ""); rps = $4 }
        /^status codes:/ { ok = $3 }
        END { if (ok == n) print rps }' n="$2"
}

echo "HTTP/2 benchmark: h2c GET, $REQUESTS requests per round, $H2_CONNS connections x $H2_STREAMS streams, loopback"
if [ "$UPSTREAM" = h2c ]; then echo "  upstream: nginx over h2c (grpc_pass from nginx, protocol: h2c from Portico)"
else echo "  upstream: HTTP/1.1 keep-alive"; fi
echo "  nginx $nginx_ver (1 worker, http2, upstream keepalive 64, access log on)"
echo "  portico $("$PORTICO" version | awk '{ print $2 }') (workers: 1, access log on, to a file)"
echo "  machine: $(nproc) cores, $(uname -r) (shared: the ratio is the figure, not the rates)"
echo
h2load_rps "http://127.0.0.1:$NP/v1/bench" 2000 >/dev/null
h2load_rps "http://127.0.0.1:$PP/v1/bench" 2000 >/dev/null

declare -A rps=()
run_one() {
    local name=$1 r
    r=$(h2load_rps "$2" "$REQUESTS")
    [ -n "$r" ] || { echo "bench: h2load against $name failed or got non-2xx answers" >&2; exit 1; }
    rps[$name]+="$r "
    printf '  round %d %-8s %10.0f req/s\n' "$round" "$name" "$r"
}
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then
        run_one nginx "http://127.0.0.1:$NP/v1/bench"; run_one portico "http://127.0.0.1:$PP/v1/bench"
    else
        run_one portico "http://127.0.0.1:$PP/v1/bench"; run_one nginx "http://127.0.0.1:$NP/v1/bench"
    fi
done
# shellcheck disable=SC2086
n=$(median ${rps[nginx]}); p=$(median ${rps[portico]})
printf '\n%-10s %12.0f req/s\n%-10s %12.0f req/s\n' "nginx" "$n" "portico" "$p"
awk -v p="$p" -v n="$n" -v u="$UPSTREAM" 'BEGIN { printf "\nportico/nginx (HTTP/2, %s upstream): req/s %.2fx   (target: >= 1.00x)\n", u, p / n }'
