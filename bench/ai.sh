#!/usr/bin/env bash
# ai.sh: the AI gateway path under load, beside nginx and the Portkey gateway, in one run on loopback.
#
# Part 1, requests/s. One fast upstream (an nginx answering a fixed OpenAI chat completion on
# POST /v1/chat/completions and a fixed Anthropic message on POST /v1/messages). In front of it:
#   nginx        plain keep-alive reverse proxy (the baseline)
#   passthrough  Portico, OpenAI client -> openai provider (usage read, access log on)
#   translation  Portico, OpenAI client -> anthropic provider (request and answer translated)
#   responses    Portico, OpenAI Responses client (POST /v1/responses) -> openai provider, translated
#                to Chat Completions and the answer rendered as a Responses object
#   gemini       Portico, Gemini client (POST /v1beta/models/M:generateContent, Google's GenAI SDK's
#                request) -> openai provider, translated both ways
#   portkey      the Portkey gateway from npm (@portkey-ai/gateway, run with node), OpenAI
#                provider with its custom-host header pointing at the same upstream
# Every server has one worker / one process. wrk posts a small chat request with $CONNS
# connections; after a warm-up, $ROUNDS rounds of $DURATION seconds each, the order rotating
# every round; medians and ratios are printed beside the targets.
#
# Part 2, streams. The provider test upstream (tests/upstreams/ai/server.mjs) sends 200 text
# events 5 ms apart; a raw-socket client measures the time to the first response byte and how
# the events arrive (one socket read per text delta means nothing was batched), directly
# against the upstream and through Portico (passthrough, OpenAI -> Anthropic, and a Responses
# client -> OpenAI provider), alternating,
# $STREAM_RUNS runs each, medians.
#
# Portkey is installed with npm into tools/portkey (git-ignored) when missing; it is bound to
# 127.0.0.1 by a preload that fixes the listen address. If it cannot be installed or started,
# the run says so and goes on without it.
#
#   bench/ai.sh     defaults: DURATION=4 ROUNDS=10 WARMUP=3 CONNS=50 THREADS=2 STREAM_RUNS=21
#                   PORTKEY_VERSION=1.15.2 (PORTKEY=off skips it)
set -uo pipefail
. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-4}
ROUNDS=${ROUNDS:-10}
WARMUP=${WARMUP:-3}
STREAM_RUNS=${STREAM_RUNS:-21}
PORTKEY=${PORTKEY:-on}
PORTKEY_VERSION=${PORTKEY_VERSION:-1.15.2}
PORTKEY_DIR=$ROOT/tools/portkey
UP=$(free_port); NP=$(free_port); PP=$(free_port); KP=$(free_port); MP=$(free_port)

chat_body() { echo "{\"model\":\"$1\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}"; }
responses_body() { echo "{\"model\":\"$1\",\"max_output_tokens\":64,\"input\":\"hello\"}"; }
gemini_body() { echo '{"contents":[{"role":"user","parts":[{"text":"hello"}]}],"generationConfig":{"maxOutputTokens":64}}'; }

# ---------------------------------------------------------------------------- upstream
bench_upstream_start "$UP"

# ---------------------------------------------------------------------------- nginx proxy
nginx_start nginx "worker_processes 1;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
    $(nginx_http_paths nginx)
    access_log $T/nginx/access.log;
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

# ---------------------------------------------------------------------------- stream upstream
PORT=$MP node "$ROOT/tests/upstreams/ai/server.mjs" >"$T/mock.log" 2>&1 &
track $!

# ---------------------------------------------------------------------------- portico
cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: $T/portico-access.log
limits: { idle_timeout: 300s }
providers:
  - { name: oai, type: openai, base_url: "http://127.0.0.1:$UP/v1", api_key: bench-key }
  - { name: ant, type: anthropic, base_url: "http://127.0.0.1:$UP", api_key: bench-key }
  - { name: mock-oai, type: openai, base_url: "http://127.0.0.1:$MP/v1", api_key: bench-key }
  - { name: mock-ant, type: anthropic, base_url: "http://127.0.0.1:$MP", api_key: bench-key }
models:
  - { name: bench-oai, targets: [{ provider: oai, model: gpt-4o }] }
  - { name: bench-ant, targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
  - { name: stream-oai, targets: [{ provider: mock-oai, model: gpt-4o }] }
  - { name: stream-ant, targets: [{ provider: mock-ant, model: claude-sonnet-4-5 }] }
EOF
portico_start "$T/portico.yaml" || { echo "bench: portico did not start" >&2; exit 1; }
wait_for 10 answers_200 "http://127.0.0.1:$MP/healthz" || { echo "bench: the stream upstream did not start" >&2; exit 1; }

# ---------------------------------------------------------------------------- portkey
portkey_note=
portkey_start() {
    npm_tool "$PORTKEY_DIR" @portkey-ai/gateway "$PORTKEY_VERSION" || { portkey_note=$NPM_TOOL_NOTE; return 1; }
    NODE_ENV=production node --import "$(loopback_preload)" \
        "$PORTKEY_DIR/node_modules/@portkey-ai/gateway/build/start-server.js" --port="$KP" --headless \
        >"$T/portkey.log" 2>&1 &
    PORTKEY_PID=$!
    track $PORTKEY_PID
    if ! wait_for 20 answers_200 "http://127.0.0.1:$KP/"; then
        portkey_note="it did not answer on 127.0.0.1:$KP: $(tail -c 300 "$T/portkey.log" | tr '\n' ' ')"
        return 1
    fi
    if beyond_loopback "$KP"; then
        portkey_note="it listens beyond loopback; not measured"
        return 1
    fi
}
if [ "$PORTKEY" = on ]; then
    portkey_start || { echo "bench: Portkey skipped: $portkey_note" >&2; PORTKEY=off; }
else
    portkey_note="PORTKEY=off"
fi

# ---------------------------------------------------------------------------- load definitions
# load NAME URL BODY [HEADER: VALUE]...: one measured target: $T/NAME.lua for wrk, and the same
# request checked once with curl before anything is measured.
declare -A URL=() BODY=() HDRS=()
load() {
    local name=$1 h; URL[$1]=$2; BODY[$1]=$3; HDRS[$1]=; shift 3
    {
        echo 'wrk.method = "POST"'
        echo "wrk.body = '${BODY[$name]}'"
        echo 'wrk.headers["Content-Type"] = "application/json"'
        for h in "$@"; do
            echo "wrk.headers[\"${h%%:*}\"] = \"${h#*: }\""
            HDRS[$name]+="$h"$'\n'
        done
        sed -n '/^done = function/,$p' "$T/post.lua"   # lib.sh's RESULT line, as wrk_post prints it
    } >"$T/$name.lua"
}
# answers_right NAME: the target answers the chat request with the upstream's text (in a chat
# completion, in a Responses message item, or in a Gemini candidate).
answers_right() {
    local args=(-H 'Content-Type: application/json') l got
    while IFS= read -r l; do [ -n "$l" ] && args+=(-H "$l"); done <<<"${HDRS[$1]}"
    got=$(curl -s -m 5 -X POST "${args[@]}" -d "${BODY[$1]}" "${URL[$1]}" | jq -r '.choices[0].message.content // .output[0].content[0].text // .candidates[0].content.parts[0].text // empty' 2>/dev/null)
    [ "$got" = "Hello from the bench upstream." ]
}
load nginx "http://127.0.0.1:$NP/v1/chat/completions" "$(chat_body gpt-4o)"
load passthrough "http://127.0.0.1:$PP/v1/chat/completions" "$(chat_body bench-oai)" "Authorization: Bearer client-key"
load translation "http://127.0.0.1:$PP/v1/chat/completions" "$(chat_body bench-ant)" "Authorization: Bearer client-key"
load responses "http://127.0.0.1:$PP/v1/responses" "$(responses_body bench-oai)" "Authorization: Bearer client-key"
load gemini "http://127.0.0.1:$PP/v1beta/models/bench-oai:generateContent" "$(gemini_body)" "x-goog-api-key: client-key"
NAMES=(nginx passthrough translation responses gemini)
if [ "$PORTKEY" = on ]; then
    load portkey "http://127.0.0.1:$KP/v1/chat/completions" "$(chat_body gpt-4o)" "Authorization: Bearer bench-key" \
        "x-portkey-provider: openai" "x-portkey-custom-host: http://127.0.0.1:$UP/v1"
    NAMES+=(portkey)
fi
for n in "${NAMES[@]}"; do
    wait_for 5 answers_right "$n" && continue
    if [ "$n" != portkey ]; then echo "bench: $n did not answer the chat request with the upstream's text" >&2; exit 1; fi
    portkey_note="its answer was not the upstream's chat completion"; PORTKEY=off; NAMES=(nginx passthrough translation responses gemini)
    echo "bench: Portkey skipped: $portkey_note" >&2
done

# The process serving each target, for its CPU time per request (user + system, every thread):
# steadier than requests/s on a shared machine, and it shows where the proxies' costs differ.
NGINX_WORKER=$(pgrep -P "${NGINX_PID[nginx]}" | head -n 1)
PORTICO_GW=$(pgrep -P "$PORTICO_PID" -x portico | head -n 1); PORTICO_GW=${PORTICO_GW:-$PORTICO_PID}
server_pid() { case $1 in nginx) echo "$NGINX_WORKER" ;; portkey) echo "$PORTKEY_PID" ;; *) echo "$PORTICO_GW" ;; esac; }
wrk_run() {
    timeout $(($2 + 30)) wrk -t"$THREADS" -c"$CONNS" -d"$2s" --timeout 5s -s "$T/$1.lua" "${URL[$1]}" 2>&1 |
        awk '/^RESULT / { print $2, $3, $4, $5, $6, $7 }'
}
ms() { awk -v x="$1" 'BEGIN { printf "%.3f", x / 1000 }'; }

nginx_ver=$(nginx -v 2>&1 | sed 's/.*nginx\///')
portico_ver=$("$PORTICO" version | awk '{ print $2 }')
echo "AI gateway benchmark, loopback, $(nproc) cores, $(uname -r), node $(node --version)"
echo "  POST /v1/chat/completions (${#OPENAI_ANSWER}-byte answer; responses: POST /v1/responses; gemini: POST /v1beta/models/M:generateContent), $CONNS connections, $THREADS wrk threads"
echo "  nginx $nginx_ver (1 worker, upstream keepalive 64, access log on); portico $portico_ver (workers: 1, access log on)"
if [ "$PORTKEY" = on ]; then echo "  portkey @portkey-ai/gateway $PORTKEY_VERSION (node, one process, OpenAI provider + x-portkey-custom-host)"
else echo "  portkey: not measured ($portkey_note)"; fi
echo "  warm-up ${WARMUP}s each, then $ROUNDS rounds of ${DURATION}s, order rotating"
echo

for n in "${NAMES[@]}"; do wrk_run "$n" "$WARMUP" >/dev/null; done
declare -A rps=() p50=() p99=() errs=() cpu=()
for ((round = 1; round <= ROUNDS; round++)); do
    k=${#NAMES[@]}
    for ((i = 0; i < k; i++)); do
        n=${NAMES[$(((i + round - 1) % k))]}
        pid=$(server_pid "$n"); t0=$(proc_cpu_ticks "$pid")
        r=$(wrk_run "$n" "$DURATION")
        [ -n "$r" ] || { echo "bench: wrk produced no result for $n" >&2; exit 1; }
        read -r a b c cnt e s <<<"$r"
        us=$(cpu_us_per "$cnt" $(($(proc_cpu_ticks "$pid") - t0)))
        rps[$n]+="$a "; p50[$n]+="$b "; p99[$n]+="$c "; errs[$n]+="$((e + s)) "; cpu[$n]+="$us "
        printf '  round %d %-12s %10.0f req/s  p50 %8s ms  p99 %8s ms  %6s us CPU/req  %d requests, %d socket errors, %d non-2xx\n' \
            "$round" "$n" "$a" "$(ms "$b")" "$(ms "$c")" "$us" "$cnt" "$e" "$s"
    done
done

declare -A R=() L50=() L99=() C=()
echo
printf '%-12s %12s %10s %10s %8s %14s %14s %12s %12s\n' median req/s "p50 ms" "p99 ms" errors "req/s / nginx" "req/s / portkey" \
    "us CPU/req" "CPU / nginx"
for n in "${NAMES[@]}"; do
    # shellcheck disable=SC2086
    R[$n]=$(median ${rps[$n]}); L50[$n]=$(median ${p50[$n]}); L99[$n]=$(median ${p99[$n]}); C[$n]=$(median ${cpu[$n]})
done
for n in "${NAMES[@]}"; do
    vsk=n/a
    [ "$PORTKEY" = on ] && vsk=$(awk -v a="${R[$n]}" -v b="${R[portkey]}" 'BEGIN { printf "%.1fx", a / b }')
    printf '%-12s %12.0f %10s %10s %8d %14s %14s %12.2f %12s\n' "$n" "${R[$n]}" "$(ms "${L50[$n]}")" "$(ms "${L99[$n]}")" \
        "$(printf '%s\n' ${errs[$n]} | awk '{ s += $1 } END { print s }')" \
        "$(awk -v a="${R[$n]}" -v b="${R[nginx]}" 'BEGIN { printf "%.2fx", a / b }')" "$vsk" \
        "${C[$n]}" "$(awk -v a="${C[$n]}" -v b="${C[nginx]}" 'BEGIN { printf "%.2fx", b ? a / b : 0 }')"
done

# verdict NAME LHS OP RHS: "met" or "MISSED".
verdict() { awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN { ok = (op == ">=") ? a >= b : a < b; print ok ? "met" : "MISSED" }'; }
echo
for n in passthrough translation; do
    want=0.95; [ "$n" = translation ] && want=0.85
    r=$(awk -v a="${R[$n]}" -v b="${R[nginx]}" 'BEGIN { printf "%.2f", a / b }')
    printf 'target %-11s >= %.2fx nginx req/s:   %sx (%0.f vs %0.f)  %s\n' "$n" "$want" "$r" "${R[$n]}" "${R[nginx]}" "$(verdict "$r" ">=" "$want")"
    if [ "$PORTKEY" = on ]; then
        r=$(awk -v a="${R[$n]}" -v b="${R[portkey]}" 'BEGIN { printf "%.1f", a / b }')
        printf 'target %-11s >= 30x portkey req/s:   %sx (%0.f vs %0.f)  %s\n' "$n" "$r" "${R[$n]}" "${R[portkey]}" "$(verdict "$r" ">=" 30)"
    else
        printf 'target %-11s >= 30x portkey req/s:   not measured (%s)\n' "$n" "$portkey_note"
    fi
done

# Usage accounting really ran on the measured path: the provider's usage (9 in, 7 out per call).
# Calls wrk leaves in flight at the end of a round count under another outcome (client_closed).
metrics=$(curl -s -m 5 "http://127.0.0.1:$PP/metrics")
for p in oai:gpt-4o ant:claude-sonnet-4-5; do
    lab="provider=\"${p%%:*}\",model=\"${p#*:}\""
    calls=$(awk -v k="portico_ai_calls_total{$lab,outcome=\"ok\"}" '$1 == k { print $2 }' <<<"$metrics")
    other=$(awk -v k="portico_ai_calls_total{$lab,outcome=\"ok\"}" -v p="portico_ai_calls_total{$lab," \
        'index($1, p) == 1 && $1 != k { s += $2 } END { print s + 0 }' <<<"$metrics")
    tin=$(awk -v k="portico_ai_tokens_total{$lab,kind=\"input\"}" '$1 == k { print $2 }' <<<"$metrics")
    tout=$(awk -v k="portico_ai_tokens_total{$lab,kind=\"output\"}" '$1 == k { print $2 }' <<<"$metrics")
    printf 'usage accounted for %s: %s ok calls, %s input / %s output tokens (%s); %s calls with another outcome\n' \
        "${p%%:*}" "${calls:-0}" "${tin:-0}" "${tout:-0}" \
        "$( ((${tin:-0} == 9 * ${calls:-0} && ${tout:-0} == 7 * ${calls:-0})) && echo "exactly 9 / 7 per ok call" || echo "NOT 9 / 7 per ok call")" "$other"
done
echo "portico access log: $(wc -l <"$T/portico-access.log" 2>/dev/null || echo 0) lines"

# ---------------------------------------------------------------------------- streams
# A raw-socket client: per run, the time from sending the request to the first response byte,
# and for each socket read the number of text deltas it completed.
cat >"$T/sse_probe.mjs" <<'EOF'
import net from 'node:net';
import fs from 'node:fs';
const { runs, targets } = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const now = () => Number(process.hrtime.bigint()) / 1e6;
function once(t) {
  return new Promise((resolve, reject) => {
    const s = net.connect(t.port, '127.0.0.1');
    s.setNoDelay(true);
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`${t.name}: no end within 20 s`)); }, 20000);
    let t0 = 0, first = 0, last = 0, reads = 0, deltas = 0, batched = 0, tail = '', all = '';
    const deltaRe = new RegExp(t.delta, 'g');
    s.on('connect', () => {
      const req = `POST ${t.path} HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\nContent-Type: application/json\r\n` +
        Object.entries(t.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') +
        `Content-Length: ${Buffer.byteLength(t.body)}\r\nConnection: close\r\n\r\n${t.body}`;
      t0 = now();
      s.write(req);
    });
    s.on('data', (d) => {
      const at = now();
      if (!first) first = at;
      reads++;
      const text = tail + d.toString('latin1');
      const n = (text.match(deltaRe) || []).length - (tail.match(deltaRe) || []).length;
      tail = text.slice(-200);
      all += d.toString('latin1');
      if (n > 0) { deltas += n; last = at; }
      if (n > 1) batched++;
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ ttfb: first - t0, total: last - t0, reads, deltas, batched, complete: all.includes(t.end) });
    });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}
const res = Object.fromEntries(targets.map((t) => [t.name, []]));
for (const t of targets) await once(t); // warm-up: connections, pools, JIT
for (let r = 0; r < runs; r++) {
  for (let i = 0; i < targets.length; i++) {
    const t = targets[(i + r) % targets.length];
    res[t.name].push(await once(t));
  }
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
for (const t of targets) {
  const a = res[t.name];
  console.log(JSON.stringify({ name: t.name, ttfb: med(a.map((x) => x.ttfb)), total: med(a.map((x) => x.total)),
    reads: med(a.map((x) => x.reads)), deltas: med(a.map((x) => x.deltas)),
    batched: med(a.map((x) => x.batched)), batched_total: a.reduce((n, x) => n + x.batched, 0),
    complete: a.filter((x) => x.complete).length, runs: a.length }));
}
EOF
txt='[mock events=200 gap_ms=5]'
oai_body=$(jq -nc --arg m gpt-4o --arg t "$txt" '{model: $m, stream: true, stream_options: {include_usage: true}, messages: [{role: "user", content: $t}]}')
resp_body=$(jq -nc --arg t "$txt" '{model: "stream-oai", stream: true, input: $t}')
ant_body=$(jq -nc --arg t "$txt" '{model: "claude-sonnet-4-5", max_tokens: 1024, stream: true, messages: [{role: "user", content: $t}]}')
jq -n --argjson runs "$STREAM_RUNS" --argjson mp "$MP" --argjson pp "$PP" --arg ob "$oai_body" --arg ab "$ant_body" --arg rb "$resp_body" '{
  runs: $runs,
  targets: [
    {name: "direct-openai", port: $mp, path: "/v1/chat/completions", body: $ob, headers: {authorization: "Bearer bench-key"},
     delta: "\"delta\":\\{\"content\":\"[^\"]", end: "[DONE]"},
    {name: "portico-passthrough", port: $pp, path: "/v1/chat/completions", body: ($ob | sub("gpt-4o"; "stream-oai")),
     headers: {authorization: "Bearer client-key"}, delta: "\"delta\":\\{\"content\":\"[^\"]", end: "[DONE]"},
    {name: "direct-anthropic", port: $mp, path: "/v1/messages", body: $ab,
     headers: {"x-api-key": "bench-key", "anthropic-version": "2023-06-01"}, delta: "\"text_delta\"", end: "message_stop"},
    {name: "portico-translation", port: $pp, path: "/v1/chat/completions", body: ($ob | sub("gpt-4o"; "stream-ant")),
     headers: {authorization: "Bearer client-key"}, delta: "\"delta\":\\{\"content\":\"[^\"]", end: "[DONE]"},
    {name: "portico-responses", port: $pp, path: "/v1/responses", body: $rb,
     headers: {authorization: "Bearer client-key"}, delta: "\"type\":\"response.output_text.delta\"", end: "response.completed"}
  ]}' >"$T/probe.json"

echo
echo "streams: 200 text events 5 ms apart from tests/upstreams/ai/server.mjs; $STREAM_RUNS runs each, alternating, medians"
echo "  TTFB = request sent -> first response byte; reads = socket reads; batched = reads that carried more than"
echo "  one text delta (median per run, and the total over all runs: the client's own scheduling can merge two)"
if ! timeout $((STREAM_RUNS * 5 * 4 + 60)) node "$T/sse_probe.mjs" "$T/probe.json" >"$T/probe.out" 2>"$T/probe.err"; then
    echo "bench: the stream probe failed: $(tail -n 3 "$T/probe.err")" >&2; exit 1
fi
printf '  %-20s %9s %10s %7s %7s %8s %6s %9s\n' "" "TTFB ms" "last ms" reads deltas batched total complete
jq -r '[.name, .ttfb, .total, .reads, .deltas, .batched, .batched_total, "\(.complete)/\(.runs)"] | @tsv' "$T/probe.out" |
    while IFS=$'\t' read -r n a b c d e f g; do
        printf '  %-20s %9.3f %10.1f %7s %7s %8s %6s %9s\n' "$n" "$a" "$b" "$c" "$d" "$e" "$f" "$g"
    done
probe() { jq -r --arg n "$1" "select(.name == \$n) | .$2" "$T/probe.out"; }
echo
for pair in "portico-passthrough direct-openai" "portico-translation direct-anthropic" "portico-responses direct-openai"; do
    set -- $pair
    added=$(awk -v a="$(probe "$1" ttfb)" -v b="$(probe "$2" ttfb)" 'BEGIN { printf "%.3f", a - b }')
    printf 'target %-19s adds < 1 ms to TTFB:  +%s ms (%.3f vs %.3f direct)  %s\n' "$1" "$added" "$(probe "$1" ttfb)" "$(probe "$2" ttfb)" "$(verdict "$added" "<" 1)"
    b=$(probe "$1" batched); bd=$(probe "$2" batched)
    printf 'target %-19s does not batch events: %s batched reads of %s deltas per run, %s in all runs (direct: %s, %s in all)  %s\n' \
        "$1" "$b" "$(probe "$1" deltas)" "$(probe "$1" batched_total)" "$bd" "$(probe "$2" batched_total)" \
        "$(awk -v b="$b" -v d="$(probe "$1" deltas)" 'BEGIN { print (b == 0 && d == 200) ? "met" : "MISSED" }')"
done
