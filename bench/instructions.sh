#!/usr/bin/env bash
# instructions.sh: instructions and allocations per request on the proxy and AI paths, for one
# Portico build or two side by side (a baseline and the current build), with nginx as a reverse
# proxy beside them (its access log off and on). Instruction counts do not depend on what else
# the machine is doing, so the figures of two builds compare exactly even on a busy machine.
#
# Each target runs under `valgrind --tool=callgrind`: WARMUP keep-alive POSTs first (pools,
# caches and buffers reach their steady size), then the counters are zeroed, REQUESTS keep-alive
# POSTs go over one connection, and the counters are dumped. The dump's instruction total
# divided by REQUESTS is the cost of one request (every thread of the process counted);
# allocations are the calls to malloc, calloc, realloc and posix_memalign in the same dump.
#
#   bench/instructions.sh                            the current build (build/portico) and nginx
#   BASE_BIN=path/to/old/portico bench/instructions.sh   also the baseline build, and the ratios
#   WARMUP=200 REQUESTS=1000 bench/instructions.sh   request counts (defaults)
#   PATHS="proxy passthrough translation"            which Portico paths (default all three)
#   TRACED=1                                         also the current build with `tracing:` on,
#                                                    every trace sampled, spans exported to the
#                                                    upstream nginx (200 to POST /v1/traces)
#   CALL_LOG=on|off                                  the call log forced on or off in both builds
#                                                    (default: each build's own default)
#   POLICY=1                                         a rate-limit policy (never refusing) on the
#                                                    proxy route in both builds
#   CG_KEEP=DIR                                      keeps each callgrind dump in DIR (for
#                                                    callgrind_annotate: where the instructions go)
#
# With the call log on, a line per Portico build also splits the total: the worker thread's
# instructions per request (the same from run to run) and the call log writer's per record it
# committed in the window (its batches gather more or fewer records depending on how fast
# valgrind runs, so its share of the total, and the total, vary between runs by thousands).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

WARMUP=${WARMUP:-200}
REQUESTS=${REQUESTS:-1000}
PATHS=${PATHS:-proxy passthrough translation}
BASE_BIN=${BASE_BIN:-}
TRACED=${TRACED:-}
CALL_LOG=${CALL_LOG:-}
POLICY=${POLICY:-}
case $CALL_LOG in ''|on|off) ;; *) echo "bench: CALL_LOG is on or off" >&2; exit 1 ;; esac
command -v valgrind >/dev/null || { echo "bench: valgrind is missing (scripts/deps.sh bench installs it)" >&2; exit 1; }
command -v callgrind_control >/dev/null || { echo "bench: callgrind_control is missing (valgrind)" >&2; exit 1; }
if [ -n "$BASE_BIN" ] && [ ! -x "$BASE_BIN" ]; then echo "bench: BASE_BIN=$BASE_BIN is not executable" >&2; exit 1; fi

UP=$(free_port)

bench_upstream_start "$UP"

# path_url / path_body PATH: the URL path and the body one request of that path sends.
path_url() { case $1 in proxy) echo /v1/bench ;; *) echo /v1/chat/completions ;; esac; }
path_body() {
    case $1 in
        proxy) echo "$BENCH_BODY" ;;
        passthrough) echo '{"model":"bench-oai","max_tokens":64,"messages":[{"role":"user","content":"hello"}]}' ;;
        translation) echo '{"model":"bench-ant","max_tokens":64,"messages":[{"role":"user","content":"hello"}]}' ;;
    esac
}

# curl_many PORT PATH N: N keep-alive POSTs from one curl process; prints how many got 200.
curl_many() {
    local port=$1 path=$2 n=$3 cfg i
    cfg=$T/curl-$n.cfg
    : >"$cfg"
    for ((i = 0; i < n; i++)); do printf 'url = "http://127.0.0.1:%s%s"\noutput = "/dev/null"\n' "$port" "$(path_url "$path")" >>"$cfg"; done
    curl -s -K "$cfg" -X POST -H 'Content-Type: application/json' -d "$(path_body "$path")" \
        -w '%{http_code}\n' | grep -c '^200$'
}

# dump_figures FILE: "instructions allocations" of one callgrind dump (written uncompressed:
# every call arc names its callee in full, so the calls to the allocators can be summed).
dump_figures() {
    awk '/^(summary|totals):/ && !ir { ir = $2 }
         /^cfn=/ { fn = substr($0, 5); sub(/^\([0-9]+\) ?/, "", fn); sub(/'"'"'[0-9]+$/, "", fn) }
         /^calls=/ && fn ~ /^(malloc|calloc|realloc|posix_memalign)$/ { split(substr($0, 7), c, " "); n += c[1] }
         END { print ir + 0, n + 0 }' "$1"
}

portico_yaml() {
    cat <<EOF
listen: ["127.0.0.1:$1"]
workers: 1
access_log: $T/access-$1.log
limits: { idle_timeout: 300s }
providers:
  - { name: oai, type: openai, base_url: "http://127.0.0.1:$UP/v1", api_key: bench-key }
  - { name: ant, type: anthropic, base_url: "http://127.0.0.1:$UP", api_key: bench-key }
models:
  - { name: bench-oai, targets: [{ provider: oai, model: gpt-4o }] }
  - { name: bench-ant, targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
services:
  - name: up
    targets: ["http://127.0.0.1:$UP"]
routes:
  - name: bench
    match: { path_prefix: "/v1/bench" }
    service: up
EOF
    [ -z "$CALL_LOG" ] || printf 'data_dir: %s\ncall_log: { enabled: %s }\n' "$T/data-$1" \
        "$([ "$CALL_LOG" = on ] && echo true || echo false)"
    [ "$POLICY" != 1 ] ||
        printf 'policies: [{ name: bench-rate, applies_to: { route: bench }, rate: { requests: 1000000000, per: 1s } }]\n'
}

tracing_yaml() {
    printf 'tracing:\n  otlp: { endpoint: "http://127.0.0.1:%s/v1/traces" }\n  sample: 1.0\n' "$UP"
}

# nginx_proxy_conf PORT on|off: nginx as a keep-alive reverse proxy, its access log on or off.
nginx_proxy_conf() {
    local log="access_log $T/ng$1/access.log;"
    [ "$2" = off ] && log="access_log off;"
    cat <<EOF
master_process off;
worker_processes 1;
events { worker_connections 1024; }
http {
    $(nginx_http_paths "ng$1")
    $log
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    upstream up { server 127.0.0.1:$UP; keepalive 64; keepalive_requests 10000000; }
    server {
        listen 127.0.0.1:$1 backlog=1024;
        location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
EOF
}

# measure KIND BIN PATH: starts the target under callgrind (KIND nginx-on, nginx-off, portico
# or traced), sends WARMUP requests, zeroes the counters, sends REQUESTS, dumps them and stops
# it; prints "instructions allocations" per request ("nan nan" when something went wrong).
measure() {
    local kind=$1 bin=$2 path=$3 port out pid got dump args=()
    port=$(free_port); out=$T/cg-$kind-$path-$port.out
    if [[ $kind == nginx-* ]]; then
        mkdir -p "$T/ng$port"
        nginx_proxy_conf "$port" "${kind#nginx-}" >"$T/ng$port/nginx.conf"
        valgrind --tool=callgrind --compress-strings=no --compress-pos=no --callgrind-out-file="$out" \
            nginx -p "$T/ng$port" -e "$T/ng$port/error.log" -c "$T/ng$port/nginx.conf" -g 'daemon off;' \
            >"$T/cg-$port.log" 2>&1 &
    else
        { portico_yaml "$port"; admin_off_line "$bin"; [ "$kind" = traced ] && tracing_yaml; } >"$T/p$port.yaml"
        "$bin" help 2>&1 | grep -q -- --no-supervisor && args=(--no-supervisor)
        valgrind --tool=callgrind --compress-strings=no --compress-pos=no --callgrind-out-file="$out" \
            "$bin" serve "${args[@]}" -c "$T/p$port.yaml" >"$T/cg-$port.log" 2>&1 &
    fi
    pid=$!; track "$pid"
    if ! wait_port "$port" 60; then
        echo "bench: $kind did not start under valgrind (see $T/cg-$port.log)" >&2
        kill -KILL "$pid" 2>/dev/null; echo nan nan; return
    fi
    got=$(curl_many "$port" "$path" "$WARMUP")
    callgrind_control -z "$pid" >/dev/null 2>&1
    got=$((got + $(curl_many "$port" "$path" "$REQUESTS")))
    callgrind_control -d measured "$pid" >/dev/null 2>&1
    [[ $kind == nginx-* ]] && kill -QUIT "$pid" || kill -TERM "$pid"
    wait "$pid" 2>/dev/null
    dump=$(ls -t "$out".* 2>/dev/null | head -1)
    [ -n "${CG_KEEP:-}" ] && [ -n "$dump" ] && cp "$dump" "$CG_KEEP/${bin//\//_}-$kind-$path.out"
    if [ "$got" != $((WARMUP + REQUESTS)) ] || [ -z "$dump" ]; then
        echo "bench: $kind $path: $got of $((WARMUP + REQUESTS)) requests got 200" >&2; echo nan nan; return
    fi
    dump_figures "$dump" | awk -v n="$REQUESTS" '{ printf "%d %.1f\n", $1 / n, $2 / n }'
    [ "$kind" = portico ] && [ "$CALL_LOG" = on ] && split_figures "$dump" >"$T/split-${bin//\//_}-$path"
}

# split_figures FILE: "worker-instructions-per-request writer-instructions-per-record" of a
# dump (records: the analytics' additions, one per record committed in the window).
split_figures() {
    callgrind_annotate --inclusive=yes "$1" 2>/dev/null | awk -v n="$REQUESTS" '
        /gateway\.c:worker_main / && !w { gsub(",", "", $1); w = $1 }
        /=> .*calllog\.c:on_batch / && !b { gsub(",", "", $1); b = $1 }
        /=> .*rollup\.c:pt_rollup_add / { gsub(/[(,x)]/, "", $NF); r += $NF }
        END { printf "%d %d\n", w / n, r ? b / r : 0 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "nan" || b == "nan" || b == 0) print "-"; else printf "%.3fx", a / b }'; }

# row NAME "IR ALLOCS" ["BASE_IR BASE_ALLOCS"]: one line of the table, ratios to nginx (log off).
row() {
    local ir al bir=nan bal=nan
    read -r ir al <<<"$2"
    [ -n "${3:-}" ] && read -r bir bal <<<"$3"
    printf '%-22s %10s %8s %10s  %10s %8s %10s  %9s\n' "$1" "$ir" "$al" "$(ratio "$ir" "$NG_OFF")" \
        "$bir" "$bal" "$(ratio "$bir" "$NG_OFF")" "$(ratio "$ir" "$bir")"
}

echo "per request: callgrind, $WARMUP keep-alive POSTs to warm up, then $REQUESTS measured; 1 worker;"
echo "Portico's access log on, call log ${CALL_LOG:-as built}$([ "$POLICY" = 1 ] && echo ", a rate-limit policy on the proxy route"); allocations = malloc+calloc+realloc+posix_memalign calls"
printf '%-22s %10s %8s %10s  %10s %8s %10s  %9s\n' "" instr allocs "x nginx" base-instr allocs "x nginx" cur/base
ng=$(measure nginx-off "" proxy)
read -r NG_OFF _ <<<"$ng"
row "nginx (log off)" "$ng"
row "nginx (log on)" "$(measure nginx-on "" proxy)"
for path in $PATHS; do
    cur=$(measure portico "$PORTICO" "$path")
    base=
    [ -n "$BASE_BIN" ] && base=$(measure portico "$BASE_BIN" "$path")
    row "portico $path" "$cur" "$base"
    for b in "$PORTICO" ${BASE_BIN:+"$BASE_BIN"}; do
        f=$T/split-${b//\//_}-$path
        [ -s "$f" ] && read -r wk wr <"$f" &&
            printf '  %s: worker thread %s per request, call log writer %s per record\n' \
                "$([ "$b" = "$PORTICO" ] && echo current || echo base)" "$wk" "$wr"
    done
    [ -n "$TRACED" ] && row "portico $path traced" "$(measure traced "$PORTICO" "$path")"
done
echo "targets: proxy <= 1.00x nginx (log off), passthrough <= 1.30x, translation <= 1.80x"
