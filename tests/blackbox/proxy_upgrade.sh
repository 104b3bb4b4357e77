#!/usr/bin/env bash
# Upgrade requests (WebSocket and others) through a proxy route, raw on the wire: the 101 and
# the bytes behind it relayed as a tunnel, counted in /metrics and logged once with status 101
# when it ends; `upgrade: false`, the AI and MCP routes and the built-in endpoints refuse with a
# 501 JSON error; an upstream that does not switch is relayed as it answered and the connection
# closes after it; an h2c offer is ignored (answered as HTTP/1.1, nothing switched); and the
# configuration keys are checked. The WebSocket client tests are tests/node/ws_tunnel.test.mjs.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port); W1=$(free_port)
FIXTURE=$ROOT/tests/upstreams/mcp/fixture.mjs
upstream_start echo "$U1" || not_ok "echo upstream starts"
node "$UPSTREAMS/ws_echo.mjs" --port "$W1" >>"$T/ws.log" 2>&1 &
track $!
wait_for 10 answers_200 "http://127.0.0.1:$W1/healthz" || not_ok "ws echo upstream starts" "$(cat "$T/ws.log")"

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "$T/access.log"
services:
  - name: ws
    targets: ["http://127.0.0.1:$W1"]
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
    retries: 0
routes:
  - { name: ws, match: { path_prefix: "/ws/" }, service: ws, strip_prefix: true }
  - { name: echo, match: { path_prefix: "/echo/" }, service: echo }
  - { name: closed, match: { path_prefix: "/closed/" }, service: ws, upgrade: false }
providers:
  - { name: p, type: openai, base_url: "http://127.0.0.1:$U1/v1", api_key: k1 }
models:
  - { name: m, targets: [{ provider: p, model: gpt-4o }] }
mcp:
  servers:
    - { name: alpha, command: "$(command -v node)", args: ["$FIXTURE", stdio, alpha] }
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts with the test config"

WS_HEAD='Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
statuses() { jqr '[.responses[].status] | join(",")' "$1"; }

# ---------------------------------------------------------------------------- tunnels
before=$(metric_sum portico_tunnels_total 'route="ws"')
mark=$(log_lines "$T/access.log")
# a masked text frame "hi" (RFC 6455 §5.2), then our FIN: the tunnel ends from the client's side
R=$(raw "send:GET /ws/raw HTTP/1.1\r\nHost: t\r\n$WS_HEAD\r\n\x81\x82\x01\x02\x03\x04\x69\x6b" read:1 end close:3000)
is "$(statuses "$R")" "101" "a WebSocket handshake through the proxy: 101"
is "$(jqr '.responses[0].h["sec-websocket-accept"]' "$R")" "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" "the upstream's Sec-WebSocket-Accept reaches the client"
is "$(jqr '.responses[0].h.upgrade + "/" + .responses[0].h.connection' "$R")" "websocket/Upgrade" "the 101 carries Upgrade and Connection: Upgrade"
is "$(jqr '.responses[0].h["content-length"] // .responses[0].h["transfer-encoding"] // "none"' "$R")" "none" "the 101 has no body framing"
is "$(jqr .closed "$R")" "true" "the client's FIN ends the tunnel: the gateway closes too"
wait_metric portico_tunnels_total $((before + 1)) 'route="ws"' && ok "the tunnel is counted for its route" \
    || not_ok "the tunnel is counted for its route" "$(metric_sum portico_tunnels_total 'route="ws"')"
wait_log '"path":"/ws/raw".*"status":101' "$T/access.log" "$mark" && ok "one access-log line with status 101 when the tunnel ends" \
    || not_ok "one access-log line with status 101 when the tunnel ends" "$(tail -n 3 "$T/access.log")"
line=$(grep '"path":"/ws/raw"' "$T/access.log" | tail -n 1)
is "$(jq -r '.route + " " + (.bytes_in | tostring) + " " + (.error // "null")' <<<"$line")" "ws 8 null" "the line names the route and counts the tunnelled bytes in"
wait_for 10 bash -c "[ \"\$(curl -s http://127.0.0.1:$PP/metrics | awk '\$1 == \"portico_tunnels_active\" { print \$2 }')\" = 0 ]" \
    && ok "portico_tunnels_active is back to 0" || not_ok "portico_tunnels_active is back to 0"
is "$(metric_sum portico_tunnel_bytes_total 'route="ws"' 'direction="client_to_upstream"')" "$(jq .bytes_in <<<"$line")" \
    "portico_tunnel_bytes_total counts the client's bytes"

# echo.mjs answers interim=101 with a 101 and a text frame "hello" right behind the head
R=$(raw "send:GET /echo/sw?interim=101 HTTP/1.1\r\nHost: t\r\n$WS_HEAD\r\n" read:1 end close:3000)
is "$(statuses "$R")" "101" "an upstream's 101 to an upgrade request is relayed"
like "$(jqr .leftover "$R")" "hello" "the bytes the upstream sent behind its 101 head reach the client"

# an upgrade request with a body (chunked): the body is read whole and sent first, then the switch
R=$(raw "send:POST /echo/sw?interim=101 HTTP/1.1\r\nHost: t\r\n$WS_HEAD""Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" read:1 end close:3000)
is "$(statuses "$R")" "101" "an upgrade request with a chunked body is tunnelled after its body"
like "$(jqr .leftover "$R")" "hello" "the upstream's bytes behind its 101 reach the client"

# a 101 switching to a protocol the client did not offer (RFC 9110 §7.8) is a bad response:
# the client would be left speaking IRC to a WebSocket server
R=$(raw 'send:GET /echo/sw?interim=101 HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: irc/6.9\r\n\r\n' read:1 close:3000)
is "$(statuses "$R")" "502" "a 101 to a protocol the client did not offer: 502"
[[ "$(jqr .leftover "$R")" != *hello* ]] && ok "nothing of the unoffered protocol reaches the client" \
    || not_ok "nothing of the unoffered protocol reaches the client" "$(jqr .leftover "$R")"
wait_log "switching to 'websocket', which the client did not offer" "$T/portico.err" && ok "the unoffered switch is logged with the protocol" \
    || not_ok "the unoffered switch is logged with the protocol" "$(tail -n 3 "$T/portico.err")"

# ---------------------------------------------------------------------------- refusals
mark=$(log_lines "$T/access.log")
R=$(raw "send:GET /closed/x HTTP/1.1\r\nHost: t\r\n$WS_HEAD\r\n" read:1 close:3000)
is "$(statuses "$R")" "501" "upgrade: false: 501"
error_shape "upgrade: false" 501 '^upgrade_not_supported$' "$(jqr '.responses[0].body' "$R")" "$(jqr '.responses[0].h["content-type"]' "$R")"
like "$(jqr '.responses[0].body | fromjson | .error.message' "$R")" "route 'closed' does not allow protocol upgrades \(upgrade: false\).*websocket" \
    "upgrade: false: the message names the route, the key and the protocol"
is "$(jqr '.responses[0].h.connection' "$R")/$(jqr .closed "$R")" "close/true" "upgrade: false: the connection closes after the refusal"
wait_log '"path":"/closed/x".*"status":501.*"error":"upgrade_not_supported"' "$T/access.log" "$mark" \
    && ok "the refusal is logged with its outcome" || not_ok "the refusal is logged with its outcome" "$(tail -n 2 "$T/access.log")"

http GET "http://127.0.0.1:$PP/v1/chat/completions" -H 'Connection: Upgrade' -H 'Upgrade: websocket'
is "$RESP_STATUS" 501 "an AI route refuses an upgrade: 501"
like "$(jqr .error.message)" "serves the AI endpoints, which do not switch protocols" "AI route: the message says why"
is "$(jqr 'has("type")')" "false" "AI route: the refusal in the OpenAI error shape"

http POST "http://127.0.0.1:$PP/mcp/alpha" -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'content-type: application/json' \
    -H 'accept: application/json, text/event-stream' --data '{"jsonrpc":"2.0","id":1,"method":"ping"}'
is "$RESP_STATUS" 501 "an MCP route refuses an upgrade: 501"
like "$(jqr .error.message)" "serves the MCP endpoints, which do not switch protocols" "MCP route: the message says why"

for p in /healthz /readyz /metrics; do
    http GET "http://127.0.0.1:$PP$p" -H 'Connection: Upgrade' -H 'Upgrade: websocket'
    is "$RESP_STATUS/$(jqr .error.code)" "501/upgrade_not_supported" "the built-in endpoint $p refuses an upgrade"
done

# ---------------------------------------------------------------------------- no switch
for case in "refuse400 400 no websocket here" "plain200 200 plain answer"; do
    set -- $case
    R=$(raw "send:GET /ws/$1/x HTTP/1.1\r\nHost: t\r\n$WS_HEAD\r\nGET /ws/next HTTP/1.1\r\nHost: t\r\n\r\n" read:1 close:3000)
    is "$(statuses "$R")" "$2" "an upstream answering $2 to the upgrade: relayed as it is"
    like "$(jqr '.responses[0].body' "$R")" "${*:3}" "upstream $2: its body reaches the client"
    is "$(jqr '.responses[0].h.upgrade // "none"' "$R")" "none" "upstream $2: no Upgrade in the answer"
    is "$(jqr '.responses[0].h.connection' "$R")/$(jqr .closed "$R")" "close/true" \
        "upstream $2: the connection closes, the bytes behind the upgrade request are never parsed as HTTP"
done

# ---------------------------------------------------------------------------- h2c
R=$(raw 'send:GET /echo/h2c HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\nGET /echo/after HTTP/1.1\r\nHost: t\r\n\r\n' read:2)
is "$(statuses "$R")" "200,200" "an h2c offer is ignored: answered as HTTP/1.1, and the connection serves the next request"
body=$(jqr '.responses[0].body' "$R")
is "$(echo_header upgrade "$body")$(echo_header http2-settings "$body")" "" "h2c: neither Upgrade nor HTTP2-Settings goes upstream"
is "$(jqr '.responses[1].body | fromjson | .path' "$R")" "/echo/after" "h2c: the next response is the next request's"

# a plain request is unchanged: no Connection: Upgrade upstream
get /echo/plain
is "$(echo_header upgrade)" "" "a plain request sends no Upgrade upstream"

# ---------------------------------------------------------------------------- configuration
route_refused "upgrade: not a boolean" upgrade maybe "upgrade.*(true|false|boolean)"
cat >"$T/bad.yaml" <<EOF
admin: { enabled: false }
services:
  - name: a
    targets: ["http://127.0.0.1:9"]
    timeouts: { tunnel_idle: 0s }
EOF
config_refused "timeouts.tunnel_idle: 0s" "tunnel_idle"

# AI routes never switch protocols: upgrade: true on one is a mistake named at load; false is
# what they do anyway and is accepted
ai_upgrade_config() {
    cat <<EOF
admin: { enabled: false }
routes:
  - name: llm
    match: { path_prefix: /v1/ }
    ai: {}
    upgrade: $1
providers:
  - { name: p, type: openai, base_url: "http://127.0.0.1:9/v1", api_key: k }
models:
  - { name: m, targets: [{ provider: p, model: gpt-4o }] }
EOF
}
ai_upgrade_config true >"$T/bad.yaml"
config_refused "upgrade: true on an AI route" "routes\\[0\\]\\.upgrade.*AI routes never switch protocols"
ai_upgrade_config false >"$T/ok.yaml"
"$PORTICO" check-config -c "$T/ok.yaml" >"$T/out" 2>&1
is "$?" 0 "upgrade: false on an AI route is accepted"

alive_after "tunnels and refused upgrades"
portico_stop TERM
is "$PORTICO_STATUS" 0 "portico exits 0 after the tunnels"
# Only a sanitizer build can see a read of freed memory or a leak; elsewhere this is skipped.
if [ -z "${SANITIZE:-}" ]; then
    skip "no sanitizer report" "not a sanitizer build (SANITIZE is unset)"
elif grep -q 'Sanitizer' "$T/portico.err"; then
    not_ok "no sanitizer report" "$(grep -A14 'ERROR: .*Sanitizer' "$T/portico.err" | head -30)"
else
    ok "no sanitizer report"
fi
done_testing
