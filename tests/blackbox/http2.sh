#!/usr/bin/env bash
# HTTP/2 on the client side: h2 by ALPN on a TLS listener and h2c with prior knowledge on a
# plain one (curl --http2 / --http2-prior-knowledge), `http2: false` turning both off; the
# proxy, bodies larger than the stream window both ways, a streamed AI answer, a keyed route,
# the MCP endpoint, h2load's concurrent streams, the stream limit, the server's own errors per
# stream, the attacks (rapid reset, CONTINUATION flood, HPACK bomb, PING and SETTINGS floods, a
# malformed frame) answered with GOAWAY, the access log and metrics per stream, and a session
# held across a reload and a drain (tests/blackbox/http2_client.mjs speaks the frames stock clients will not send).
. "$(dirname "$0")/lib.sh"

command -v h2load >/dev/null || { skip "HTTP/2" "h2load (nghttp2-client) is not installed"; done_testing; exit; }
H2C="$BB_DIR/http2_client.mjs"
PP=$(free_port); PS=$(free_port); PN=$(free_port); PT=$(free_port); U1=$(free_port); MA=$(free_port)
D=$T/data
LOG=$T/access.log
seed team acme && seed consumer app1 acme && seed service echo acme || not_ok "the store is seeded"
K1=$(seed key app1)
seed subscribe app1 echo active || not_ok "the subscription is seeded"

self_signed listener || not_ok "openssl makes a self-signed certificate"
upstream_start echo "$U1" || not_ok "echo upstream starts"
ai_mock_start mock "$MA" || not_ok "the provider upstream starts"
write_config() { # MAX_STREAMS
    cat >"$T/portico.yaml" <<EOF
listen:
  - "127.0.0.1:$PP"
  - { address: "127.0.0.1:$PS", tls: { cert: "$T/listener.pem", key: "$T/listener.key" } }
  - { address: "127.0.0.1:$PN", http2: false }
  - { address: "127.0.0.1:$PT", http2: false, tls: { cert: "$T/listener.pem", key: "$T/listener.key" } }
workers: 1
access_log: $LOG
data_dir: $D
limits: { max_body_bytes: 4MiB, body_timeout: 1s, http2_max_streams: $1 }
services:
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
providers:
  - { name: ok, type: openai, base_url: "http://127.0.0.1:$MA/v1", api_key: ok-key }
models:
  - { name: ok-model, targets: [{ provider: ok, model: gpt-4o }] }
mcp:
  servers:
    - { name: alpha, command: "$(command -v node)", args: ["$ROOT/tests/upstreams/mcp/fixture.mjs", stdio, alpha] }
routes:
  - { name: echo, match: { path_prefix: "/echo/" }, service: echo }
  - { name: keyed, match: { path_prefix: "/keyed/" }, service: echo, auth: key }
  - { name: llm, match: { path_prefix: "/v1/" }, ai: {} }
EOF
    admin_off_line "$PORTICO" >>"$T/portico.yaml"
}
write_config 20
portico_start "$T/portico.yaml" || not_ok "portico starts with h2 and h2c listeners"
P="http://127.0.0.1:$PP"
S="https://localhost:$PS"
CA=(--cacert "$T/listener.pem")
HV=(-w '%{http_version}')

# --- the protocols ---------------------------------------------------------------------------
http GET "$P/echo/plain?q=1" --http2-prior-knowledge
is "$RESP_STATUS:$(jqr .url):$(jqr .http_version)" "200:/echo/plain?q=1:1.1" \
    "h2c (prior knowledge): a proxied GET answers 200, HTTP/1.1 upstream"
is "$(head -n 1 "$RESP_HEADERS" | tr -d '\r')" "HTTP/2 200 " "h2c: the answer is HTTP/2"
is "$(jqr '[.headers[] | select(.[0] == "Host")][0][1]')" "127.0.0.1:$U1" "h2c: :authority becomes the upstream's Host as over HTTP/1.1"
v=$(curl -s -o /dev/null "${HV[@]}" "${CA[@]}" --http2 "$S/echo/tls")
is "$v" 2 "h2 over TLS: curl --http2 negotiates h2 by ALPN"
v=$(curl -s -o /dev/null "${HV[@]}" "$P/echo/h1")
is "$v" 1.1 "the h2c listener still serves HTTP/1.1"
v=$(curl -s -o /dev/null "${HV[@]}" "${CA[@]}" --http2 "https://localhost:$PT/echo/tls")
is "$v" 1.1 "http2: false on a TLS listener: ALPN picks http/1.1"
v=$(curl -s -o /dev/null "${HV[@]}" --http2-prior-knowledge "http://127.0.0.1:$PN/echo/x"); rc=$?
[ "$rc" != 0 ] && [ "$v" != 2 ] && ok "http2: false on a plain listener: the h2c preface is not taken" ||
    not_ok "http2: false on a plain listener: the h2c preface is not taken" "curl exit $rc, version '$v'"
is "$(status_of "http://127.0.0.1:$PN/healthz")" 200 "http2: false on a plain listener: HTTP/1.1 answers"

http GET "$P/echo/te?chunked=1&set=Keep-Alive:timeout%3D5" --http2-prior-knowledge
is "$RESP_STATUS" 200 "h2c: a chunked upstream answer arrives (curl refuses connection-specific fields in h2)"
bad=$(grep -ciE '^(connection|keep-alive|transfer-encoding|upgrade|proxy-connection):' "$RESP_HEADERS")
is "$bad" 0 "h2c: no hop-by-hop header reaches the HTTP/2 answer"

# --- bodies -----------------------------------------------------------------------------
http POST "$P/echo/small" --http2-prior-knowledge --data-binary 'hello h2'
is "$RESP_STATUS:$(jqr .body)" "200:hello h2" "h2c: a small POST body arrives"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$T/up.bin"
want=$(sha256sum "$T/up.bin" | cut -d' ' -f1)
http POST "$P/echo/big" --http2-prior-knowledge --data-binary @"$T/up.bin"
is "$RESP_STATUS:$(jqr .body_sha256)" "200:$want" "h2c: a 3 MiB upload (12x the stream window) arrives intact"
http POST "$S/echo/big" "${CA[@]}" --http2 --data-binary @"$T/up.bin"
is "$RESP_STATUS:$(jqr .body_sha256)" "200:$want" "h2: a 3 MiB upload over TLS arrives intact"
http POST "$P/echo/chunked" --http2-prior-knowledge -H 'Transfer-Encoding: chunked' --data-binary @"$T/up.bin"
is "$RESP_STATUS:$(jqr .body_sha256)" "200:$want" "h2c: a body without content-length streams upstream intact"
got=$(curl -s --http2-prior-knowledge "$P/echo/dl?bytes=$((5 * 1024 * 1024))" | sha256sum | cut -d' ' -f1)
direct=$(curl -s "http://127.0.0.1:$U1/dl?bytes=$((5 * 1024 * 1024))" | sha256sum | cut -d' ' -f1)
is "$got" "$direct" "h2c: a 5 MiB download arrives intact"

# --- the server's own errors, per stream ---------------------------------------------------------
head -c $((5 * 1024 * 1024)) /dev/zero >"$T/toobig.bin"
http POST "$P/echo/toobig" --http2-prior-knowledge --data-binary @"$T/toobig.bin"
is "$RESP_STATUS:$(jqr .error.code)" "413:body_too_large" "h2c: a body over limits.max_body_bytes is 413 on its stream"
big=$(head -c 40000 /dev/zero | tr '\0' a)
http GET "$P/echo/bighead" --http2-prior-knowledge -H "x-big: $big"
is "$RESP_STATUS:$(jqr .error.code)" "431:header_too_large" "h2c: a header list over limits.max_header_bytes is 431 on its stream"
# (over TLS: curl 7.88 does not reuse an h2c prior-knowledge connection for a second transfer)
out=$(curl -s --http2 "${CA[@]}" -o /dev/null -w '%{http_code} %{num_connects}\n' -H "x-big: $big" "$S/echo/a" \
    --next --http2 "${CA[@]}" -o /dev/null -w '%{http_code} %{num_connects}\n' "$S/echo/b")
is "$(echo $out)" "431 1 200 0" "h2: after a 431 the same connection serves the next request"
R=$(node "$H2C" stall-body --port "$PP" --path /echo/stall)
is "$(jqr '.statuses["1"]' "$R"):$(jqr '.rst["1"]' "$R"):$(jqr .goaway "$R")" "408:0:null" \
    "h2c: a stream whose body stops is 408 after body_timeout, then RST_STREAM NO_ERROR; the session stays"
R=$(node "$H2C" stall-body --port "$PP" --path /keyed/stall)
is "$(jqr '.statuses["1"]' "$R"):$(jqr '.rst["1"]' "$R")" "401:0" \
    "h2c: answered before its body was read, a stream is told to stop with RST_STREAM NO_ERROR"
http GET "$P/echo/../admin" --http2-prior-knowledge --path-as-is
is "$RESP_STATUS:$(jqr .error.code)" "400:bad_path" "h2c: a dot segment in :path is refused as over HTTP/1.1"

# --- routes: AI stream, keys, MCP-free built-ins ---------------------------------------------------
body=$(jq -nc '{model: "ok-model", stream: true, stream_options: {include_usage: true}, messages: [{role: "user", content: "hi"}]}')
http POST "$P/v1/chat/completions" --http2-prior-knowledge -N -H 'content-type: application/json' -d "$body"
events=$(grep -c '^data: ' <<<"$RESP_BODY")
[ "$RESP_STATUS" = 200 ] && ((events >= 3)) && grep -q '^data: \[DONE\]' <<<"$RESP_BODY" &&
    ok "h2c: a streamed AI answer arrives event by event to [DONE]" ||
    not_ok "h2c: a streamed AI answer arrives event by event to [DONE]" "status $RESP_STATUS, $events events" "${RESP_BODY:0:300}"
like "$(hdr content-type)" '^text/event-stream' "h2c: the AI stream is text/event-stream"
http POST "$S/v1/chat/completions" "${CA[@]}" --http2 -H 'content-type: application/json' \
    -d '{"model":"ok-model","messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS:$(jqr .object)" "200:chat.completion" "h2: an AI answer over TLS"
http GET "$P/keyed/x" --http2-prior-knowledge
is "$RESP_STATUS:$(jqr .error.code)" "401:key_missing" "h2c: a keyed route without a key is 401"
http GET "$P/keyed/x" --http2-prior-knowledge -H "Authorization: Bearer $K1"
is "$RESP_STATUS" 200 "h2c: a keyed route with a key is 200"
is "$(jqr '[.headers[] | select(.[0] | ascii_downcase == "authorization")] | length')" 0 "h2c: the key is not passed upstream"

mcp_up() { [[ $(curl -s --http2-prior-knowledge "$P/readyz") == *'"alpha":"up"'* ]]; }
wait_for 15 mcp_up || not_ok "the MCP server is up" "$(curl -s "$P/readyz")"
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bb","version":"1"}}}'
http POST "$P/mcp/alpha" --http2-prior-knowledge -H "Content-Type: application/json" \
    -H "Accept: application/json, text/event-stream" --data-binary "$INIT"
is "$RESP_STATUS:$(jqr .result.serverInfo.name)" "200:fixture-alpha" "h2c: the MCP endpoint answers initialize"
like "$(hdr Mcp-Session-Id)" '^[0-9a-f]{32}$' "h2c: the MCP answer carries its Mcp-Session-Id"

# --- concurrency and the stream limit ------------------------------------------------------------------
R=$(node "$H2C" settings --port "$PP")
is "$(jqr '.settings["3"]' "$R"):$(jqr '.settings["6"]' "$R")" "20:32768" \
    "SETTINGS: MAX_CONCURRENT_STREAMS from limits.http2_max_streams, MAX_HEADER_LIST_SIZE from max_header_bytes"
mark=$(log_lines "$LOG")
h2load -n 2000 -c 4 -m 20 "$P/echo/h2load" >"$T/h2load.out" 2>&1
like "$(grep '^status codes' "$T/h2load.out")" '^status codes: 2000 2xx, 0 3xx, 0 4xx, 0 5xx' \
    "h2load -n 2000 -c 4 -m 20: every stream answers 200"
like "$(grep '^requests:' "$T/h2load.out")" '2000 succeeded, 0 failed, 0 errored' "h2load: no stream fails"
wait_log_count '"path":"/echo/h2load","protocol":"HTTP/2"' "$LOG" 2000 &&
    ok "access log: one line per stream, marked HTTP/2" ||
    not_ok "access log: one line per stream, marked HTTP/2" "$(log_count '"path":"/echo/h2load","protocol":"HTTP/2"' "$LOG") lines"
[ "$(tail -n +$((mark + 1)) "$LOG" | grep '/echo/h2load' | grep -c '"status":200')" = 2000 ] &&
    ok "access log: every h2load stream logged with status 200" || not_ok "access log: every h2load stream logged with status 200"
wait_metric portico_http2_streams_total 2000 && ok "metrics: portico_http2_streams_total counts the streams" ||
    not_ok "metrics: portico_http2_streams_total counts the streams" "$(metric_sum portico_http2_streams_total)"
is "$(metric_sum portico_http2_sessions_total)" "$(metric_sum portico_http2_sessions_total)" "metrics: portico_http2_sessions_total is exported"
((  $(metric_sum portico_http2_sessions_total) >= 4 )) && ok "metrics: HTTP/2 sessions counted" ||
    not_ok "metrics: HTTP/2 sessions counted" "$(metric_sum portico_http2_sessions_total)"

node "$H2C" limit --port "$PP" --n 25 --path "/echo/lim?hold=lim" --timeout 15000 >"$T/limit.json" &
track $!
lim_pid=$!
active_at_least() { (($(up_stat "$U1" active) >= $1)); }
wait_for 10 active_at_least 20 && ok "stream limit: 20 streams reach the upstream at once" ||
    not_ok "stream limit: 20 streams reach the upstream at once" "active $(up_stat "$U1" active)"
ctl "$U1" "release?id=lim" >/dev/null
wait "$lim_pid"
R=$(cat "$T/limit.json")
is "$(jqr '.heads | length' "$R")" 20 "stream limit: the 20 streams within the limit are answered"
is "$(jqr '[.rst[]] | length' "$R")" 5 "stream limit: the 5 streams past it are reset"
like "$(jqr '[.rst[]] | unique | join(",")' "$R")" '^(7|1)$' "stream limit: reset as REFUSED_STREAM or PROTOCOL_ERROR"
is "$(up_stat "$U1" max_active)" 20 "stream limit: the upstream never saw more than 20 at once"

# --- attacks ------------------------------------------------------------------------------------------
refused0=$(metric_sum portico_http2_sessions_refused_total)
R=$(node "$H2C" rapid-reset --port "$PP" --n 1000 --path /healthz)
is "$(jqr .goaway.code "$R"):$(jqr .closed "$R")" "11:true" "rapid reset: GOAWAY ENHANCE_YOUR_CALM, connection closed"
(( $(jqr .goaway.last_stream "$R") < 1999 )) && ok "rapid reset: the flood is cut short" ||
    not_ok "rapid reset: the flood is cut short" "last stream $(jqr .goaway.last_stream "$R")"
R=$(node "$H2C" continuation --port "$PP" --n 100 --path /healthz)
is "$(jqr .goaway.code "$R"):$(jqr .closed "$R")" "11:true" "CONTINUATION flood: GOAWAY ENHANCE_YOUR_CALM, connection closed"
R=$(node "$H2C" hpack-bomb --port "$PP" --n 3000 --path /healthz)
is "$(jqr .goaway.code "$R"):$(jqr .closed "$R")" "11:true" "HPACK bomb (12 MB of headers from 16 KB): GOAWAY ENHANCE_YOUR_CALM"
R=$(node "$H2C" ping-flood --port "$PP" --n 5000)
is "$(jqr .goaway.code "$R"):$(jqr .closed "$R")" "11:true" "PING flood: GOAWAY ENHANCE_YOUR_CALM"
R=$(node "$H2C" settings-flood --port "$PP" --n 40)
is "$(jqr .goaway.code "$R"):$(jqr .closed "$R")" "11:true" "SETTINGS flood (40 entries in one frame): GOAWAY ENHANCE_YOUR_CALM"
R=$(node "$H2C" bad-frame --port "$PP")
is "$(jqr .goaway.code "$R"):$(jqr .closed "$R")" "1:true" "a malformed frame: GOAWAY PROTOCOL_ERROR, connection closed"
wait_metric portico_http2_sessions_refused_total $((refused0 + 5)) &&
    ok "metrics: the five abusive sessions are counted" ||
    not_ok "metrics: the five abusive sessions are counted" "$(metric_sum portico_http2_sessions_refused_total) from $refused0"
(( $(metric_sum portico_http2_protocol_errors_total) >= 1 )) && ok "metrics: the malformed session is counted" ||
    not_ok "metrics: the malformed session is counted"
is "$(status_of --http2-prior-knowledge "$P/healthz")" 200 "after the attacks, h2c still answers"
check "after the attacks, portico is alive" portico_alive

# --- a session held across a reload and a drain --------------------------------------------------------
mkfifo "$T/held.in"
node "$H2C" held --port "$PP" --path "/echo/held?hold=drain" --path2 /echo/after-reload <"$T/held.in" >"$T/held.out" 2>&1 &
held_pid=$!
track "$held_pid"
exec 7>"$T/held.in"
wait_for 10 active_at_least 1 || not_ok "held: the first stream reaches the upstream"
write_config 30
mark=$(log_lines "$T/portico.err")
kill -HUP "$PORTICO_PID"
wait_log "configuration reloaded" "$T/portico.err" "$mark" || not_ok "the reload is logged"
is "$(node "$H2C" settings --port "$PP" | jq -r '.settings["3"]')" 30 "reload: a new session gets the new stream limit"
echo go >&7
wait_log '"tag":"second","status":200' "$T/held.out" && ok "reload: the open HTTP/2 session serves a new stream" ||
    not_ok "reload: the open HTTP/2 session serves a new stream" "$(cat "$T/held.out")"
kill -TERM "$PORTICO_PID"
wait_log '"event":"goaway","code":0' "$T/held.out" && ok "drain: the open session gets GOAWAY NO_ERROR" ||
    not_ok "drain: the open session gets GOAWAY NO_ERROR" "$(cat "$T/held.out")"
ctl "$U1" "release?id=drain" >/dev/null
wait_log '"event":"end","tag":"first"' "$T/held.out" && ok "drain: the in-flight stream finishes after GOAWAY" ||
    not_ok "drain: the in-flight stream finishes after GOAWAY" "$(cat "$T/held.out")"
grep -q '"tag":"first","status":200' "$T/held.out" && ok "drain: the in-flight stream's answer is 200" ||
    not_ok "drain: the in-flight stream's answer is 200" "$(cat "$T/held.out")"
exec 7>&- # the client closes its session
portico_gone() { ! kill -0 "$PORTICO_PID" 2>/dev/null; }
wait_for 15 portico_gone && wait "$PORTICO_PID"; PORTICO_STATUS=$?
is "$PORTICO_STATUS" 0 "drain: portico exits 0 on its own once the session is done"
PORTICO_PID=

done_testing
