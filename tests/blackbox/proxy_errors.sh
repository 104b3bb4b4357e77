#!/usr/bin/env bash
# Upstream failures become precise gateway errors naming the service and the cause of the last
# attempt (.error.cause and the message): nothing listening -> 502 connection_refused, closed
# without a response -> 502 closed_before_head, reset -> 502 connection_reset, a TLS handshake
# with a plain-HTTP upstream -> 502 tls_failure, a handshake not done within connect -> 504
# connect_timeout, no response head within first_byte -> 504 first_byte_timeout; every target
# failing -> the last one's cause. The body names no address unless
# errors.expose_upstream_address is on; the log line names the cause. An upstream's own error
# status passes through untouched. The AI route's final error names the cause too, in the
# client's own format.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port); DEAD=$(free_port); DEAD2=$(free_port); SILENT=$(free_port)
# A TCP server that accepts and never says a word: a TLS handshake with it never completes.
node -e 'require("net").createServer(() => {}).listen(Number(process.argv[1]), "127.0.0.1")' "$SILENT" &
track $!
listening() { [ -n "$(ss -Htln "sport = :$1")" ]; }
wait_for 10 listening "$SILENT" || not_ok "silent TCP server starts"
upstream_start echo "$U1" || not_ok "echo upstream starts"
cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: "off"
services:
  - name: down
    targets: ["http://127.0.0.1:$DEAD"]
    timeouts: { connect: 1s, first_byte: 2s }
  - name: slow
    targets: ["http://127.0.0.1:$U1"]
    timeouts: { connect: 1s, first_byte: 1s }
    retries: 0
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
    retries: 0
  - name: plaintls
    targets: ["https://127.0.0.1:$U1"]
    retries: 0
  - name: silent
    targets: ["https://127.0.0.1:$SILENT"]
    timeouts: { connect: 500ms }
    retries: 0
  - name: pair
    targets: ["http://127.0.0.1:$DEAD", "http://127.0.0.1:$DEAD2"]
    retries: 1
    passive_health: { max_fails: 0 }
routes:
  - name: down
    match: { path_prefix: "/down/" }
    service: down
  - name: slow
    match: { path_prefix: "/slow/" }
    service: slow
  - name: echo
    match: { path_prefix: "/echo/" }
    service: echo
  - name: plaintls
    match: { path_prefix: "/plaintls/" }
    service: plaintls
  - name: silent
    match: { path_prefix: "/silent/" }
    service: silent
  - name: pair
    match: { path_prefix: "/pair/" }
    service: pair
providers:
  - { name: gone, type: openai, base_url: "http://127.0.0.1:$DEAD/v1", api_key: k1 }
  - { name: hung, type: anthropic, base_url: "http://127.0.0.1:$U1", api_key: k2, first_byte_timeout_ms: 500, headers: { x-echo: "delay=3000" } }
models:
  - { name: gone-model, targets: [{ provider: gone, model: gpt-4o }] }
  - { name: hung-model, targets: [{ provider: hung, model: claude-sonnet-4-5 }] }
EOF
cp "$T/portico.yaml" "$T/base.yaml"
portico_start "$T/portico.yaml" || not_ok "portico starts with the test config"

# ---------------------------------------------------------------------------- 502
get /down/x
is "$RESP_STATUS" 502 "upstream with nothing listening: 502"
error_shape "upstream down" 502 '^upstream_unavailable$' "$RESP_BODY" "$(hdr content-type)"
is "$(jqr .error.service)" "down" "upstream down: the error names the service"
rid=$(hdr x-request-id)
is "$(jqr .error.request_id)" "$rid" "upstream down: the error's request_id is the X-Request-Id header"

is "$(jqr .error.cause)" "connection_refused" "upstream down: the cause is connection_refused"
like "$(jqr .error.message)" "unavailable: connection refused" "upstream down: the message says the connection was refused"
if [[ $RESP_BODY != *127.0.0.1* && $RESP_BODY != *":$DEAD"* ]]; then ok "upstream down: the body names no address"
else not_ok "upstream down: the body names no address" "$RESP_BODY"; fi
logged() { grep -q "$1" "$T/portico.err"; }
wait_for 5 logged "$rid.*connection_refused" && ok "upstream down: the log line names the cause" \
    || not_ok "upstream down: the log line names the cause" "$(tail -n 3 "$T/portico.err")"

http POST "http://127.0.0.1:$PP/down/x" -d '{"a":1}' -H 'Content-Type: application/json'
is "$RESP_STATUS" 502 "POST to an upstream with nothing listening: 502"

get /pair/x
is "$RESP_STATUS" 502 "every target refused: 502"
is "$(jqr .error.cause)" "connection_refused" "every target refused: the last attempt's cause, not just 'every target failed'"
is "$(jqr .error.attempts)" "2" "every target refused: both targets were tried"

get /plaintls/x
is "$RESP_STATUS" 502 "TLS to an upstream that speaks plain HTTP: 502"
is "$(jqr .error.cause)" "tls_failure" "TLS to an upstream that speaks plain HTTP: the cause is tls_failure"

get /silent/x
is "$RESP_STATUS" 504 "connection (TCP and TLS handshake) not established within connect: 504"
is "$(jqr .error.cause)" "connect_timeout" "connection not established in time: the cause is connect_timeout"
like "$(jqr .error.message)" "did not answer in time: connect timed out" "connection not established in time: the message says so"

get /echo/x?abort=1
is "$RESP_STATUS" 502 "upstream closing without a response: 502"
like "$(jqr .error.code)" '^upstream_' "upstream closing without a response: an upstream_ error code"
is "$(jqr .error.service)" "echo" "upstream closing without a response: the error names the service"
is "$(jqr .error.cause)" "closed_before_head" "upstream closing without a response: the cause says it closed before the response head"

get /echo/x?reset=1
is "$RESP_STATUS" 502 "upstream resetting the connection: 502"
is "$(jqr .error.cause)" "connection_reset" "upstream resetting the connection: the cause is connection_reset"
like "$(jqr .error.message)" "connection reset" "upstream resetting the connection: the message says so"

# ---------------------------------------------------------------------------- 504
get '/slow/x?delay=4000'
is "$RESP_STATUS" 504 "no response head within first_byte: 504"
error_shape "upstream timeout" 504 '^upstream_timeout$' "$RESP_BODY" "$(hdr content-type)"
is "$(jqr .error.service)" "slow" "upstream timeout: the error names the service"
is "$(jqr .error.cause)" "first_byte_timeout" "upstream timeout: the cause is the first-byte timeout"
like "$(jqr .error.message)" "no response head within the first-byte timeout" "upstream timeout: the message says which timeout"

get '/slow/x?delay=200'
is "$RESP_STATUS" 200 "a response inside first_byte is served"

# ---------------------------------------------------------------------------- pass-through
get '/echo/x?status=503&set=retry-after:7'
is "$RESP_STATUS" 503 "an upstream's own 503 passes through"
is "$(jqr .name)" "echo" "an upstream's own error body passes through untouched"
is "$(hdr retry-after)" "7" "an upstream's error headers pass through"
get '/echo/x?status=404'
is "$(jqr .name)" "echo" "an upstream 404 is the upstream's, not the gateway's no-route 404"

# The keep-alive client connection survives a gateway error.
R=$(raw 'send:GET /down/x HTTP/1.1\r\nHost: t\r\n\r\n' read:1 'send:GET /echo/after HTTP/1.1\r\nHost: t\r\n\r\n' read:2)
is "$(jqr '[.responses[].status] | join(",")' "$R")" "502,200" "a 502 keeps the client connection usable"

# ---------------------------------------------------------------------------- AI route
http POST "http://127.0.0.1:$PP/v1/chat/completions" -H 'content-type: application/json' \
    -d '{"model":"gone-model","messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS" 502 "AI provider with nothing listening: 502"
like "$(jqr .error.message)" "cannot reach provider 'gone' \\(connection refused\\)" \
    "AI provider with nothing listening: the OpenAI error says the connection was refused"
[[ $RESP_BODY != *127.0.0.1* ]] && ok "AI provider with nothing listening: the body names no address" \
    || not_ok "AI provider with nothing listening: the body names no address" "$RESP_BODY"

http POST "http://127.0.0.1:$PP/v1/messages" -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
    -d '{"model":"hung-model","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS" 504 "AI provider that never answers: 504"
is "$(jqr .type)" "error" "AI provider that never answers: the Anthropic error shape"
like "$(jqr .error.message)" "did not answer in time \\(no response head within the first-byte timeout\\)" \
    "AI provider that never answers: the error says which timeout"

alive_after "upstream errors"

# ---------------------------------------------------------------------------- expose_upstream_address
portico_stop
{ echo 'errors: { expose_upstream_address: true }'; cat "$T/base.yaml"; } >"$T/portico.yaml"
portico_start "$T/portico.yaml" || not_ok "portico starts with errors.expose_upstream_address"
get /down/x
is "$RESP_STATUS" 502 "expose_upstream_address: still 502"
is "$(jqr .error.target)" "http://127.0.0.1:$DEAD" "expose_upstream_address: the error names the target"
like "$(jqr .error.message)" "connection refused \\(http://127.0.0.1:$DEAD: connect to 127.0.0.1:$DEAD failed" \
    "expose_upstream_address: the message carries the low-level detail"
done_testing
