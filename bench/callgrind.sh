#!/usr/bin/env bash
# callgrind.sh: instructions per request on the proxy and AI paths, for one Portico build or
# two side by side (a baseline and the current build), with nginx as a reverse proxy beside
# them. Instruction counts do not depend on what else the machine is doing, so the figures
# of two builds compare exactly even on a busy machine.
#
# Each target runs under `valgrind --tool=callgrind` twice, with SHORT and then LONG
# keep-alive POSTs from one curl process; the per-request figure is the difference of the
# two totals divided by the difference of the counts, so start-up and shutdown cancel out.
#
#   bench/callgrind.sh                         the current build (build/portico) and nginx
#   BASE_BIN=path/to/old/portico bench/callgrind.sh   also the baseline build, and the ratios
#   SHORT=300 LONG=1300 bench/callgrind.sh     request counts (defaults)
#   PATHS="proxy passthrough translation"      which paths (default all three)
#   TRACED=1 bench/callgrind.sh                also the current build with `tracing:` on, every
#                                              trace sampled, spans exported to the upstream nginx
#                                              (which answers 200 to POST /v1/traces); the
#                                              exporter thread's instructions count too
#   CALL_LOG=on|off                            the call log forced on or off in both builds
#                                              (default: each build's own default)
set -uo pipefail
. "$(dirname "$0")/lib.sh"

SHORT=${SHORT:-300}
LONG=${LONG:-1300}
PATHS=${PATHS:-proxy passthrough translation}
BASE_BIN=${BASE_BIN:-}
TRACED=${TRACED:-}
CALL_LOG=${CALL_LOG:-}
case $CALL_LOG in ''|on|off) ;; *) echo "bench: CALL_LOG is on or off" >&2; exit 1 ;; esac
command -v valgrind >/dev/null || { echo "bench: valgrind is missing (scripts/deps.sh bench installs it)" >&2; exit 1; }
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
    local port=$1 path=$2 n=$3 cfg=$T/curl-$n.cfg i
    : >"$cfg"
    for ((i = 0; i < n; i++)); do printf 'url = "http://127.0.0.1:%s%s"\noutput = "/dev/null"\n' "$port" "$(path_url "$path")" >>"$cfg"; done
    curl -s -K "$cfg" -X POST -H 'Content-Type: application/json' -d "$(path_body "$path")" \
        -w '%{http_code}\n' | grep -c '^200$'
}

# total_ir FILE: the instruction total callgrind wrote.
total_ir() { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }

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
}

tracing_yaml() {
    printf 'tracing:\n  otlp: { endpoint: "http://127.0.0.1:%s/v1/traces" }\n  sample: 1.0\n' "$UP"
}

nginx_proxy_conf() {
    cat <<EOF
master_process off;
worker_processes 1;
events { worker_connections 1024; }
http {
    $(nginx_http_paths "ng$1")
    access_log $T/ng$1/access.log;
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

# one_run KIND BIN PATH N: starts the target under callgrind, sends N requests, stops it;
# prints the instruction total (empty when something went wrong).
one_run() {
    local kind=$1 bin=$2 path=$3 n=$4 port out pid got args=()
    port=$(free_port); out=$T/cg-$kind-$path-$n-$port.out
    if [ "$kind" = nginx ]; then
        mkdir -p "$T/ng$port"
        nginx_proxy_conf "$port" >"$T/ng$port/nginx.conf"
        valgrind --tool=callgrind --callgrind-out-file="$out" \
            nginx -p "$T/ng$port" -e "$T/ng$port/error.log" -c "$T/ng$port/nginx.conf" -g 'daemon off;' \
            >"$T/cg-$port.log" 2>&1 &
    else
        { portico_yaml "$port"; admin_off_line "$bin"; [ "$kind" = traced ] && tracing_yaml; } >"$T/p$port.yaml"
        "$bin" help 2>&1 | grep -q -- --no-supervisor && args=(--no-supervisor)
        valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" serve "${args[@]}" -c "$T/p$port.yaml" \
            >"$T/cg-$port.log" 2>&1 &
    fi
    pid=$!; track "$pid"
    if ! wait_port "$port" 60; then
        echo "bench: $kind did not start under valgrind (see $T/cg-$port.log)" >&2
        kill -KILL "$pid" 2>/dev/null; return
    fi
    got=$(curl_many "$port" "$path" "$n")
    [ "$kind" = nginx ] && kill -QUIT "$pid" || kill -TERM "$pid"
    wait "$pid" 2>/dev/null
    if [ "$got" != "$n" ]; then echo "bench: $kind $path: $got of $n requests got 200" >&2; return; fi
    total_ir "$out"
}

# per_request KIND BIN PATH: instructions per request (difference of a LONG and a SHORT run).
per_request() {
    local a b
    a=$(one_run "$1" "$2" "$3" "$SHORT"); b=$(one_run "$1" "$2" "$3" "$LONG")
    if [ -z "$a" ] || [ -z "$b" ]; then echo nan; return; fi
    echo $(((b - a) / (LONG - SHORT)))
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "n/a"; else printf "%.3fx", a / b }'; }

echo "instructions per request (callgrind, $SHORT and $LONG keep-alive POSTs, 1 worker, access log on, call log ${CALL_LOG:-as built})"
printf '%-12s %12s %12s %12s %10s %10s %12s %10s\n' path nginx current baseline cur/base cur/nginx traced traced/cur
for path in $PATHS; do
    ng=nan
    [ "$path" = proxy ] && ng=$(per_request nginx "" proxy)
    cur=$(per_request portico "$PORTICO" "$path")
    base=nan
    [ -n "$BASE_BIN" ] && base=$(per_request portico "$BASE_BIN" "$path")
    traced=nan
    [ -n "$TRACED" ] && traced=$(per_request traced "$PORTICO" "$path")
    printf '%-12s %12s %12s %12s %10s %10s %12s %10s\n' "$path" "$ng" "$cur" "$base" "$(ratio "$cur" "$base")" \
        "$(ratio "$cur" "$ng")" "$traced" "$(ratio "$traced" "$cur")"
done
