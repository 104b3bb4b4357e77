# lib.sh: shared helpers for the benchmark scripts (source it; do not run it).
#
# Builds on the black-box test harness (tests/blackbox/lib.sh) for the temp dir $T, free ports,
# portico_start / portico_stop, rss_kb, track and the cleanup trap that kills every process
# started, and adds nginx instances, wrk runs and medians. Everything runs on 127.0.0.1.
#
#   nginx_start NAME CONF_BODY   writes $T/NAME/nginx.conf (main context: CONF_BODY after the
#                                common lines), starts nginx in the foreground under the trap;
#                                sets NGINX_PID[NAME]
#   nginx_stop NAME
#   nginx_rss_kb NAME            VmRSS of the master plus its workers, in kB
#   post_script FILE [NAME VALUE]...     a wrk script posting BENCH_BODY with extra headers
#   wrk_post URL SECONDS [SCRIPT] wrk with the JSON POST script ($T/post.lua by default);
#                                prints "rps p50_us p99_us requests errors non2xx"
#   bench_upstream_start PORT    the one fast upstream every benchmark uses (an nginx named
#                                "upstream"): a fixed OpenAI chat completion on
#                                POST /v1/chat/completions, a fixed Anthropic message on
#                                POST /v1/messages, {"ok":true} everywhere else
#   median N...                  the median of the numbers
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$BENCH_DIR/../scripts/deps.sh" run bench || exit 1   # installs only what is missing
. "$BENCH_DIR/../tests/blackbox/lib.sh"

declare -A NGINX_PID=()
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}

for _b_tool in nginx wrk; do
    command -v "$_b_tool" >/dev/null || { echo "bench: '$_b_tool' is missing (scripts/deps.sh installs it)" >&2; exit 1; }
done
if [ ! -x "$PORTICO" ]; then
    echo "bench: $PORTICO is missing; run make first" >&2
    exit 1
fi

nginx_start() {
    local name=$1 body=$2 d=$T/$1 user=
    mkdir -p "$d"
    # Run as root, nginx's workers would switch to "nobody" and lose access to the private dir.
    [ "$(id -u)" = 0 ] && user="user root;"
    cat >"$d/nginx.conf" <<EOF
$user
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
$body
EOF
    nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" &
    NGINX_PID[$name]=$!
    track "${NGINX_PID[$name]}"
}

nginx_stop() {
    stop_pid "${NGINX_PID[$1]:-}" QUIT 5
    unset "NGINX_PID[$1]"
}

# Temp paths every nginx http block needs, inside its private dir.
nginx_http_paths() {
    local d=$T/$1
    echo "client_body_temp_path $d/body; proxy_temp_path $d/proxy; fastcgi_temp_path $d/fcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;"
}

nginx_rss_kb() {
    local master=${NGINX_PID[$1]:-} total=0 p kb
    [ -n "$master" ] || { echo 0; return; }
    for p in "$master" $(pgrep -P "$master"); do
        kb=$(rss_kb "$p" VmRSS); total=$((total + ${kb:-0}))
    done
    echo "$total"
}

# The request every proxy benchmark sends: a small JSON POST.
BENCH_BODY='{"model":"bench","messages":[{"role":"user","content":"hello"}]}'
# post_script FILE [NAME VALUE]...: a wrk Lua script posting BENCH_BODY with these extra
# headers, printing one RESULT line (see wrk_post).
post_script() {
    local f=$1 h=""; shift
    while [ $# -ge 2 ]; do h+="wrk.headers[\"$1\"] = \"$2\""$'\n'; shift 2; done
    cat >"$f" <<EOF
wrk.method = "POST"
wrk.body = '$BENCH_BODY'
wrk.headers["Content-Type"] = "application/json"
$h
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %.1f %d %d %d %d %d\\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.requests, e.connect + e.read + e.write + e.timeout, e.status))
end
EOF
}
post_script "$T/post.lua"

# wrk_post URL SECONDS [SCRIPT]: one bounded wrk run (default script: $T/post.lua); prints
# "rps p50_us p99_us requests errors non2xx".
wrk_post() {
    timeout $(($2 + 30)) wrk -t"$THREADS" -c"$CONNS" -d"$2s" --timeout 5s -s "${3:-$T/post.lua}" "$1" 2>&1 |
        awk '/^RESULT / { print $2, $3, $4, $5, $6, $7 }'
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# The fixed answers of the bench upstream (9 input and 7 output tokens each).
OPENAI_ANSWER='{"id":"chatcmpl-bench","object":"chat.completion","created":1732700000,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the bench upstream."},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":7,"total_tokens":16}}'
ANTHROPIC_ANSWER='{"id":"msg_bench","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hello from the bench upstream."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":7}}'

bench_upstream_start() {
    nginx_start upstream "worker_processes 1;
events { worker_connections 4096; }
http {
    $(nginx_http_paths upstream)
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    server {
        listen 127.0.0.1:$1 backlog=4096;
        location = /v1/chat/completions { default_type application/json; return 200 '$OPENAI_ANSWER'; }
        location = /v1/messages { default_type application/json; return 200 '$ANTHROPIC_ANSWER'; }
        location / { default_type application/json; return 200 '{\"ok\":true}'; }
    }
}"
    wait_port "$1" || { echo "bench: the upstream nginx did not start" >&2; exit 1; }
}
