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
#   ab_rounds A B SCRIPT         two routes of one Portico ($PP) compared: ROUNDS rounds of
#                                DURATION s of wrk_post on /A/bench and /B/bench (SCRIPT), the
#                                order alternating; prints each round (with the gateway's CPU time
#                                per request), then the medians; sets AB_RPS[A], AB_RPS[B] (median
#                                requests/s) and AB_CPU[A], AB_CPU[B] (median us of CPU per request)
#   ab_summary A B TARGET        prints B/A in requests/s beside TARGET (% cost allowed) and in CPU
#   cg_per_request A B [CURL_ARG]...  runs Portico under callgrind on $T/portico.yaml and counts
#                                the instructions per request (all threads) of CG_REQUESTS
#                                keep-alive POSTs on /A/bench and on /B/bench; sets CG_IR[A] and
#                                CG_IR[B]; 1 when valgrind is missing (said) or Portico did not start
#   npm_tool DIR PACKAGE VERSION  PACKAGE@VERSION installed with npm into DIR (a git-ignored
#                                tools/ folder) unless it is there; 1 with NPM_TOOL_NOTE on failure
#   loopback_preload             writes $T/loopback.mjs, a `node --import` preload that makes a
#                                server given only a port listen on 127.0.0.1; prints its URL
#   beyond_loopback PORT         true when something listens on PORT on an address not 127.x
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

declare -A AB_RPS=() AB_CPU=() CG_IR=()
# CPU time the gateway process (all its threads) spent per request is the steadier figure on a
# shared machine: requests/s moves with whatever else runs, the work per request much less.
# proc_cpu_ticks PID: user + system clock ticks of the process (every thread) so far.
proc_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# cpu_us_per N TICKS: microseconds of CPU per request for TICKS ticks over N requests.
cpu_us_per() { awk -v t="$2" -v k="$(getconf CLK_TCK)" -v n="$1" 'BEGIN { printf "%.2f", n ? t / k * 1e6 / n : 0 }'; }
_ab_cpu_ticks() { proc_cpu_ticks "$_ab_gw"; }
_ab_one() { # NAME SCRIPT
    local r a b c n e s t0 us
    t0=$(_ab_cpu_ticks)
    r=$(wrk_post "http://127.0.0.1:$PP/$1/bench" "$DURATION" "$2")
    [ -n "$r" ] || { echo "bench: wrk produced no result for $1" >&2; exit 1; }
    read -r a b c n e s <<<"$r"
    us=$(cpu_us_per "$n" $(($(_ab_cpu_ticks) - t0)))
    _ab_rps[$1]+="$a "; _ab_p50[$1]+="$b "; _ab_p99[$1]+="$c "; _ab_errs[$1]+="$((e + s)) "; _ab_cpu[$1]+="$us "
    printf '  round %d %-8s %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms  %6.2f us CPU/req  %d requests, %d errors, %d non-2xx\n' \
        "$_ab_round" "$1" "$a" "$(awk -v x="$b" 'BEGIN { print x / 1000 }')" "$(awk -v x="$c" 'BEGIN { print x / 1000 }')" \
        "$us" "$n" "$e" "$s"
}
ab_rounds() {
    local name
    declare -gA _ab_rps=() _ab_p50=() _ab_p99=() _ab_errs=() _ab_cpu=()
    _ab_gw=$(pgrep -P "$PORTICO_PID" -x portico | head -n 1); _ab_gw=${_ab_gw:-$PORTICO_PID}
    for ((_ab_round = 1; _ab_round <= ROUNDS; _ab_round++)); do
        if ((_ab_round % 2)); then _ab_one "$1" "$3"; _ab_one "$2" "$3"; else _ab_one "$2" "$3"; _ab_one "$1" "$3"; fi
    done
    echo
    printf '%-8s %12s %10s %10s %12s %8s\n' "median" "req/s" "p50 ms" "p99 ms" "us CPU/req" "errors"
    for name in "$1" "$2"; do
        # shellcheck disable=SC2086
        AB_RPS[$name]=$(median ${_ab_rps[$name]})
        # shellcheck disable=SC2086
        AB_CPU[$name]=$(median ${_ab_cpu[$name]})
        # shellcheck disable=SC2086
        printf '%-8s %12.0f %10.3f %10.3f %12.2f %8d\n' "$name" "${AB_RPS[$name]}" \
            "$(awk -v x="$(median ${_ab_p50[$name]})" 'BEGIN { print x / 1000 }')" \
            "$(awk -v x="$(median ${_ab_p99[$name]})" 'BEGIN { print x / 1000 }')" "${AB_CPU[$name]}" \
            "$(printf '%s\n' ${_ab_errs[$name]} | awk '{ s += $1 } END { print s }')"
    done
}
# The two lines every comparison ends with: B against A in requests/s (TARGET% allowed) and in
# gateway CPU per request.   ab_summary A B TARGET
ab_summary() {
    awk -v a="$1" -v b="$2" -v t="$3" -v rb="${AB_RPS[$2]}" -v ra="${AB_RPS[$1]}" -v cb="${AB_CPU[$2]}" -v ca="${AB_CPU[$1]}" 'BEGIN {
        printf "\n%s/%s: req/s %.3fx, cost %.1f%% of throughput   (target: cost <= %s%%)\n", b, a, rb / ra, (1 - rb / ra) * 100, t
        if (ca > 0) printf "%s  CPU per request %.3fx, %.1f%% more gateway CPU per request\n",
            sprintf("%" (length(a) + length(b) + 1) "s", ""), cb / ca, (cb / ca - 1) * 100 }'
}

_cg_batch() { # ROUTE N [CURL_ARG]...: N keep-alive POSTs on one connection
    local route=$1 n=$2 i
    shift 2
    for ((i = 0; i < n; i++)); do printf 'url = "http://127.0.0.1:%s/%s/bench"\noutput = "/dev/null"\n' "$PP" "$route"; done >"$T/urls"
    curl -s -X POST "$@" -d "$BENCH_BODY" -K "$T/urls"
}
cg_per_request() {
    local a=$1 b=$2 r f pid
    shift 2
    command -v valgrind >/dev/null || { echo "callgrind: valgrind is missing, skipped"; return 1; }
    valgrind --tool=callgrind --callgrind-out-file="$T/cg.out" "$PORTICO" serve --no-supervisor -c "$T/portico.yaml" \
        >"$T/cg.log" 2>&1 &
    pid=$!; track $pid
    wait_for 60 answers_200 "http://127.0.0.1:$PP/healthz" || { echo "callgrind: portico did not start" >&2; return 1; }
    _cg_batch "$a" 100 "$@"; _cg_batch "$b" 100 "$@"   # warm: pools, caches
    for r in "$a" "$b"; do
        callgrind_control -z "$pid" >/dev/null 2>&1
        _cg_batch "$r" "$CG_REQUESTS" "$@"
        callgrind_control -d "$r" "$pid" >/dev/null 2>&1
        f=$(ls -t "$T"/cg.out.* | head -1)
        CG_IR[$r]=$(awk '/^summary:|^totals:/ { print $2; exit }' "$f")
    done
    kill -TERM $pid 2>/dev/null
    [ -n "${KEEP_CG:-}" ] && cp "$T"/cg.out.* "$KEEP_CG"/ 2>/dev/null
    return 0
}

# bench_proxy_portico [LIMITS [SERVICE_KEY [WORKERS]]]: Portico on $PP as the plain reverse proxy
# the proxy benchmarks compare with nginx: WORKERS workers (default 1), its access log on (to a
# file), one route "/" to $UP. LIMITS adds to `limits:` (idle_timeout is 300s); SERVICE_KEY is
# one more key of the service ("protocol: h2c").
bench_proxy_portico() {
    cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: ${3:-1}
access_log: $T/portico-access.log
limits: { idle_timeout: 300s${1:+, $1} }
services:
  - name: up
    targets: ["http://127.0.0.1:$UP"]
    ${2:-}
routes:
  - name: all
    match: { path_prefix: "/" }
    service: up
EOF
    portico_start "$T/portico.yaml" || { echo "bench: portico did not start" >&2; exit 1; }
}

# bench_both_ok CURL_ARG...: nginx on $NP and Portico on $PP both answer /v1/bench with
# {"ok":true} (polled for 5 s each) before anything is measured; exits otherwise.
bench_both_ok() {
    local url ok_body
    for url in "http://127.0.0.1:$NP/v1/bench" "http://127.0.0.1:$PP/v1/bench"; do
        ok_body=
        for _ in $(seq 50); do
            ok_body=$(curl -s -m 2 "$@" "$url")
            [ "$ok_body" = '{"ok":true}' ] && break
            sleep 0.1
        done
        [ "$ok_body" = '{"ok":true}' ] || { echo "bench: $url answered '$ok_body', not {\"ok\":true}" >&2; exit 1; }
    done
}

# The comparison servers from npm live in tools/ (git-ignored), installed on first use.
npm_tool() {
    local dir=$1 pkg=$2 ver=$3 have=
    [ -f "$dir/node_modules/$pkg/package.json" ] && have=$(jq -r .version "$dir/node_modules/$pkg/package.json" 2>/dev/null)
    [ "$have" = "$ver" ] && return 0
    echo "installing $pkg@$ver into ${dir#"$ROOT"/} (npm)..." >&2
    mkdir -p "$dir"
    timeout 300 npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$pkg@$ver" >"$T/npm-install.log" 2>&1 &&
        return 0
    NPM_TOOL_NOTE="npm install failed: $(tail -n 2 "$T/npm-install.log" | tr '\n' ' ')"
    return 1
}

# Servers from npm that listen on every interface when given a port are pinned to loopback.
loopback_preload() {
    cat >"$T/loopback.mjs" <<'EOF'
import net from 'node:net';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...a) {
  if (typeof a[0] === 'number' || (typeof a[0] === 'string' && /^\d+$/.test(a[0]))) {
    const cb = a.find((x) => typeof x === 'function');
    return listen.call(this, Number(a[0]), '127.0.0.1', ...(cb ? [cb] : []));
  }
  if (a[0] && typeof a[0] === 'object' && a[0].port !== undefined) a[0] = { ...a[0], host: '127.0.0.1' };
  return listen.apply(this, a);
};
EOF
    echo "file://$T/loopback.mjs"
}
beyond_loopback() { [ -n "$(ss -Htln | awk -v p=":$1" '$4 ~ p"$" && $4 !~ /^127\./')" ]; }
