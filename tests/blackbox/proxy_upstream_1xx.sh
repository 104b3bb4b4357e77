#!/usr/bin/env bash
# Interim (1xx) responses from upstreams, RFC 9110 §15.2: 100 Continue, 102, 103 Early Hints
# and any other 1xx are absorbed (the client sees only the final response, and exactly one 100
# of the gateway's own when it sent Expect: 100-continue); a 101 Switching Protocols to a
# request that did not ask to upgrade (a tunnel: proxy_upgrade.sh) becomes a 502 naming it, the
# upstream connection is closed and the client's connection stays usable. The AI route, on the same upstream client,
# answers a provider's 101 with a 502 in the client's own error format.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port)
upstream_start echo "$U1" || not_ok "echo upstream starts"
cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "off"
services:
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
    retries: 0
routes:
  - name: echo
    match: { path_prefix: "/echo/" }
    service: echo
providers:
  - { name: switcher, type: openai, base_url: "http://127.0.0.1:$U1/v1", api_key: k1, headers: { x-echo: "interim=101" } }
  - { name: switcher-ant, type: anthropic, base_url: "http://127.0.0.1:$U1", api_key: k2, headers: { x-echo: "interim=101" } }
models:
  - { name: switch-model, targets: [{ provider: switcher, model: gpt-4o }] }
  - { name: switch-claude, targets: [{ provider: switcher-ant, model: claude-sonnet-4-5 }] }
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts with the test config"

statuses() { jqr '[.responses[].status] | join(",")' "$1"; }

# ---------------------------------------------------------------------------- absorbed
for list in 100 103 102 100,103,103 104,199; do
    R=$(raw "send:GET /echo/i?interim=$list HTTP/1.1\r\nHost: t\r\n\r\n" read:1 \
        'send:GET /echo/after HTTP/1.1\r\nHost: t\r\n\r\n' read:2)
    is "$(statuses "$R")" "200,200" "upstream interim $list: the client gets only the final 200, then the next request on the same connection"
    is "$(jqr '.responses[0].body | fromjson | .path' "$R")" "/echo/i" "upstream interim $list: the final response is the upstream's"
done

get '/echo/h?interim=103'
is "$RESP_STATUS" 200 "103 Early Hints before a 200: curl sees 200"
has_hdr link && not_ok "103 Early Hints are absorbed: their Link header is not merged into the final response" \
    || ok "103 Early Hints are absorbed: their Link header is not merged into the final response"

# The client asked to continue: it gets the gateway's own 100 once, not the upstream's as well.
R=$(raw 'send:POST /echo/e?interim=100 HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n' read:1 \
    'send:hello' read:2 'send:GET /echo/after HTTP/1.1\r\nHost: t\r\n\r\n' read:3)
is "$(statuses "$R")" "100,200,200" "Expect: 100-continue with an upstream that also sends 100: one 100, the 200, then the next request"
is "$(jqr '.responses[1].body | fromjson | .body' "$R")" "hello" "Expect: 100-continue: the body reached the upstream"

# ---------------------------------------------------------------------------- 101
before=$(up_stat "$U1" switched_closed)
get '/echo/s?interim=101'
is "$RESP_STATUS" 502 "101 Switching Protocols to a plain request: 502"
error_shape "101 to a plain request" 502 '^upstream_unavailable$' "$RESP_BODY" "$(hdr content-type)"
is "$(jqr .error.cause)" "bad_response" "101 to a plain request: the cause is a bad response"
like "$(jqr .error.message)" "101 Switching Protocols" "101 to a plain request: the message names the 101"
has_hdr upgrade && not_ok "101 to a plain request: no Upgrade header reaches the client" \
    || ok "101 to a plain request: no Upgrade header reaches the client"
switched_closed() { [ "$(up_stat "$U1" switched_closed)" -gt "$before" ]; }
if wait_for 5 switched_closed; then ok "101 to a plain request: the gateway closes the switched upstream connection"
else not_ok "101 to a plain request: the gateway closes the switched upstream connection" "switched_closed stayed $before"; fi
grep -q "bad_response.*101 Switching Protocols" "$T/portico.err" && ok "101 to a plain request: logged with its cause" \
    || not_ok "101 to a plain request: logged with its cause" "$(tail -n 3 "$T/portico.err")"

R=$(raw 'send:GET /echo/s?interim=101 HTTP/1.1\r\nHost: t\r\n\r\n' read:1 \
    'send:GET /echo/after HTTP/1.1\r\nHost: t\r\n\r\n' read:2)
is "$(statuses "$R")" "502,200" "101 to a plain request: the client's connection serves the next request"
is "$(jqr '.responses[1].body | fromjson | .path' "$R")" "/echo/after" "101 to a plain request: the next response is the right one (no switched bytes leak)"

# An h2c offer is not a tunnel (it is ignored): a 101 to it is as unasked-for as to a plain
# request. (A WebSocket upgrade the upstream accepts is a tunnel: proxy_upgrade.sh.)
R=$(raw 'send:GET /echo/u?interim=101 HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n' read:1)
is "$(statuses "$R")" "502" "101 to a client that offered h2c (not a tunnel): 502"
is "$(jqr '.responses[0].h.upgrade // "none"' "$R")" "none" "101 to an h2c offer: no Upgrade header in the answer"

# A request that offers h2c is plain HTTP/1.1 to the gateway: the connection serves the next
# request instead of staying paused as if switched.
R=$(raw 'send:GET /echo/u1 HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n' read:1 \
    'send:GET /echo/u2 HTTP/1.1\r\nHost: t\r\n\r\n' read:2)
is "$(statuses "$R")" "200,200" "a client's h2c offer is answered as HTTP and the connection serves the next request"
is "$(jqr '.responses[1].body | fromjson | .path' "$R")" "/echo/u2" "after an h2c offer, the next response is the next request's"

R=$(raw 'send:GET /echo/u?interim=103,101 HTTP/1.1\r\nHost: t\r\n\r\n' read:1)
is "$(statuses "$R")" "502" "103 then 101: 502"

# ---------------------------------------------------------------------------- AI route
body=$(jq -nc '{model: "switch-model", messages: [{role: "user", content: "hi"}]}')
http POST "http://127.0.0.1:$PP/v1/chat/completions" -H 'content-type: application/json' -d "$body"
is "$RESP_STATUS" 502 "AI route, provider answers 101: 502"
is "$(jqr 'has("type")')" "false" "AI route, provider answers 101: the OpenAI error shape"
like "$(jqr .error.message)" "bad response.*101 Switching Protocols" "AI route, provider answers 101: the message names the 101"

body=$(jq -nc '{model: "switch-claude", max_tokens: 16, messages: [{role: "user", content: "hi"}]}')
http POST "http://127.0.0.1:$PP/v1/messages" -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' -d "$body"
is "$RESP_STATUS" 502 "AI route (Anthropic client), provider answers 101: 502"
is "$(jqr .type)" "error" "AI route (Anthropic client), provider answers 101: the Anthropic error shape"
like "$(jqr .error.message)" "101 Switching Protocols" "AI route (Anthropic client), provider answers 101: the message names the 101"

alive_after "interim responses and switched upstreams"
done_testing
