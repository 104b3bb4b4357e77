#!/usr/bin/env bash
# The MCP endpoints' rules with raw requests: every bad message gets its JSON-RPC error and
# status (-32700 / -32600 with 400, -32601, 413 past mcp.max_message_bytes, 400 / 404 for a
# missing / unknown session, 405 for PUT), GET with a session opens the server-to-client
# event stream (counted while open, 406 without Accept: text/event-stream), Host and Origin are checked (403), `auth: key` on
# one server asks for a consumer key that the store knows, and a listener that is not
# loopback-only asks for a key on every MCP endpoint. A session id (Mcp-Session-Id or a legacy
# POST's ?sessionId=) works only for its own transport, server and consumer. Two workers: a session opened on one is
# known to the other. mcp.cors answers a browser's preflight for the allowed origins and lets
# its page read Mcp-Session-Id. /readyz and /metrics show each server's health; check-config names the
# field of each mistake of the `mcp:` section.
. "$(dirname "$0")/lib.sh"

FIXTURE=$ROOT/tests/upstreams/mcp/fixture.mjs
NODE=$(command -v node)
PP=$(free_port)
D=$T/data
seed team acme && seed consumer app1 acme && seed consumer app2 acme && seed consumer app3 acme &&
    seed service mcp acme || not_ok "the store is seeded"
K1=$(seed key app1)   # subscribed to the MCP endpoints
K2=$(seed key app2)   # not subscribed
K3=$(seed key app3)   # subscribed too: another client of the same servers
seed subscribe app1 mcp active && seed subscribe app3 mcp active || not_ok "the subscriptions are seeded"

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: "off"
data_dir: $D
mcp:
  allowed_origins: ["https://app.example.com"]
  cors: { max_age: 10m }
  max_message_bytes: 2KiB
  servers:
    - { name: alpha, command: "$NODE", args: ["$FIXTURE", stdio, alpha] }
    - { name: locked, command: "$NODE", args: ["$FIXTURE", stdio, locked], auth: key }
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts with two MCP servers"

both_up() { [[ $(curl -s "http://127.0.0.1:$PP/readyz") == *'"alpha":"up","locked":"up"'* ]]; }
wait_for 15 both_up && ok "/readyz says both MCP servers are up" || not_ok "/readyz says both MCP servers are up" \
    "$(curl -s "http://127.0.0.1:$PP/readyz")"

J=(-H "Content-Type: application/json" -H "Accept: application/json, text/event-stream")
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bb","version":"1"}}}'
post() { local p=$1 body=$2; shift 2; http POST "http://127.0.0.1:$PP$p" "${J[@]}" --data-binary "$body" "$@"; }

post /mcp/alpha "$INIT"
SID=$(hdr Mcp-Session-Id)
is "$RESP_STATUS $(jqr .result.serverInfo.name) $(jqr .result.protocolVersion)" "200 fixture-alpha 2025-06-18" \
    "initialize on /mcp/alpha is the server's answer with the client's version"
[[ $SID =~ ^[0-9a-f]{32}$ ]] && ok "initialize mints an Mcp-Session-Id" || not_ok "initialize mints an Mcp-Session-Id" "got '$SID'"
S=(-H "Mcp-Session-Id: $SID")

n_ok=0
for i in 1 2 3 4 5 6; do
    post /mcp/alpha "{\"jsonrpc\":\"2.0\",\"id\":$i,\"method\":\"tools/call\",\"params\":{\"name\":\"whoami\"}}" "${S[@]}"
    [ "$RESP_STATUS $(jqr '.result.content[0].text') $(jqr .id)" = "200 alpha $i" ] && n_ok=$((n_ok + 1))
done
is "$n_ok" 6 "six calls on fresh connections over two workers all know the session"

post /mcp/alpha '{"jsonrpc":"2.0","id":1,' "${S[@]}"
is "$RESP_STATUS $(jqr .error.code) $(jqr .id)" "400 -32700 null" "a body that is not JSON: 400, -32700, id null"
post /mcp/alpha '[{"jsonrpc":"2.0","id":1,"method":"ping"}]' "${S[@]}"
is "$RESP_STATUS $(jqr .error.code)" "400 -32600" "a batch: 400, -32600"
like "$(jqr .error.message)" "batches are not supported" "the batch error says why"
post /mcp/alpha '{"jsonrpc":"1.0","id":"k7","method":"ping"}' "${S[@]}"
is "$RESP_STATUS $(jqr .error.code) $(jqr .id)" "400 -32600 k7" "a wrong jsonrpc version: -32600 answering the id it had"
post /mcp/alpha '{"jsonrpc":"2.0","id":9,"method":"tools/list"}'
is "$RESP_STATUS $(jqr .error.code)" "400 -32600" "no Mcp-Session-Id after initialize: 400"
post /mcp/alpha '{"jsonrpc":"2.0","id":9,"method":"tools/list"}' -H "Mcp-Session-Id: 0123456789abcdef0123456789abcdef"
is "$RESP_STATUS $(jqr .error.code)" "404 -32600" "an unknown session: 404"
post /mcp/locked '{"jsonrpc":"2.0","id":9,"method":"tools/list"}' "${S[@]}" -H "Authorization: Bearer $K1"
is "$RESP_STATUS" 404 "a session of one server is unknown to another"
post /mcp/alpha '{"jsonrpc":"2.0","id":3,"method":"no/such/method"}' "${S[@]}"
is "$RESP_STATUS $(jqr .error.code)" "200 -32601" "an unknown method is relayed and the server's -32601 comes back"
post /mcp/alpha '{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}' "${S[@]}"
is "$RESP_STATUS" 202 "a notification is accepted with 202"
post /mcp/alpha "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"text\":\"$(head -c 3000 /dev/zero | tr '\0' x)\"}}}" "${S[@]}"
is "$RESP_STATUS $(jqr .error.code)" "413 -32600" "a message over max_message_bytes: 413 with a JSON-RPC error"
like "$(jqr .error.message)" "larger than 2048 bytes" "the 413 names the limit"
http PUT "http://127.0.0.1:$PP/mcp/alpha" "${S[@]}"
is "$RESP_STATUS $(jqr .error.code)" "405 -32600" "PUT is 405 with a JSON-RPC error"
http GET "http://127.0.0.1:$PP/mcp/alpha" "${S[@]}" -H "Accept: application/json"
is "$RESP_STATUS $(jqr .error.code)" "406 -32600" "GET without Accept: text/event-stream is 406"
http GET "http://127.0.0.1:$PP/mcp/alpha" -H "Mcp-Session-Id: 0123456789abcdef0123456789abcdef" -H "Accept: text/event-stream"
is "$RESP_STATUS $(jqr .error.code)" "404 -32600" "GET for an unknown session: 404"
STREAM_OUT="$T/get_stream.txt"
curl -sN -D - "http://127.0.0.1:$PP/mcp/alpha" "${S[@]}" -H "Accept: text/event-stream" >"$STREAM_OUT" 2>/dev/null &
STREAM_PID=$!
track "$STREAM_PID"
check "GET with a session opens the server-to-client stream" wait_metric portico_mcp_streams 1
like "$(head -1 "$STREAM_OUT") $(grep -i '^content-type' "$STREAM_OUT")" "200.*text/event-stream" "the stream is 200 text/event-stream"
kill "$STREAM_PID" 2>/dev/null
stream_closed() { (($(metric_sum portico_mcp_streams) == 0)); }
check "a client that closes its stream is no longer counted" wait_for 10 stream_closed
post /mcp/nope "$INIT"
is "$RESP_STATUS $(jqr .error.code)" "404 -32600" "an unknown server name: 404"

post /mcp "$INIT"
ASID=$(hdr Mcp-Session-Id)
is "$RESP_STATUS $(jqr .result.serverInfo.name)" "200 portico" "initialize on /mcp is the gateway's"
post /mcp '{"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"info"}}' -H "Mcp-Session-Id: $ASID"
is "$RESP_STATUS $(jqr .error.code)" "200 -32601" "a method /mcp does not serve: -32601"
post /mcp '{"jsonrpc":"2.0","id":2,"method":"completion/complete"}' -H "Mcp-Session-Id: $ASID"
like "$RESP_STATUS $(jqr .error.code) $(jqr .error.message)" "^200 -32602 completion/complete needs params.ref" \
  "completion/complete on /mcp without a ref: -32602"
post /mcp '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"alpha__nope"}}' -H "Mcp-Session-Id: $ASID"
like "$(jqr .error.code) $(jqr .error.message)" "^-32602 " "an unknown tool of a known server: the server's -32602"
post /mcp '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"zeta__x"}}' -H "Mcp-Session-Id: $ASID"
is "$(jqr .error.code) $(jqr .error.message)" "-32602 unknown tool 'zeta__x'" "a tool nobody serves: -32602"
post /mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"cursor":"abc"}}' -H "Mcp-Session-Id: $ASID"
is "$(jqr .error.code)" "-32602" "a cursor /mcp never gave: -32602"
http DELETE "http://127.0.0.1:$PP/mcp" -H "Mcp-Session-Id: $ASID"
is "$RESP_STATUS" 200 "DELETE ends the session"
post /mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' -H "Mcp-Session-Id: $ASID"
is "$RESP_STATUS" 404 "a deleted session is unknown"

# ---------------------------------------------------------------------------- Host and Origin
post /mcp/alpha "$INIT" -H "Origin: https://evil.example"
is "$RESP_STATUS $(jqr .error.code)" "403 -32600" "an Origin not allowed: 403"
like "$(jqr .error.message)" "allowed_origins" "the 403 says where to allow it"
post /mcp/alpha "$INIT" -H "Origin: https://app.example.com"
is "$RESP_STATUS" 200 "an Origin in allowed_origins passes"
post /mcp/alpha "$INIT" -H "Origin: http://localhost:6274"
is "$RESP_STATUS" 200 "a loopback Origin passes"
post /mcp/alpha "$INIT" -H "Origin: http://localhost.evil.example"
is "$RESP_STATUS" 403 "a name that only starts like localhost does not"
post /mcp/alpha "$INIT" -H "Host: rebind.evil.example:$PP"
is "$RESP_STATUS $(jqr .error.code)" "403 -32600" "a Host that is not loopback or the listener's: 403 (DNS rebinding)"

# ---------------------------------------------------------------------------- mcp.cors
preflight() { # ORIGIN PATH
    http OPTIONS "http://127.0.0.1:$PP$2" -H "Origin: $1" -H "Access-Control-Request-Method: POST" \
        -H "Access-Control-Request-Headers: content-type, mcp-session-id, mcp-protocol-version"
}
preflight https://app.example.com /mcp/alpha
is "$RESP_STATUS $(hdr Access-Control-Allow-Origin)" "204 https://app.example.com" \
    "a browser's preflight from an allowed origin is answered"
like "$(hdr Access-Control-Allow-Headers | tr A-Z a-z)" "mcp-session-id" "allowing the MCP headers it asks for"
is "$(hdr Access-Control-Max-Age)" 600 "with the configured max_age"
preflight https://app.example.com /mcp
is "$RESP_STATUS" 204 "on /mcp as well"
preflight https://evil.example /mcp/alpha
is "$RESP_STATUS" 403 "a preflight from another origin is refused"
post /mcp/alpha "$INIT" -H "Origin: https://app.example.com"
is "$(hdr Access-Control-Allow-Origin)" "https://app.example.com" "the answer lets the page read it"
like "$(hdr Access-Control-Expose-Headers)" "Mcp-Session-Id" "including its Mcp-Session-Id"

# ---------------------------------------------------------------------------- keys
post /mcp/locked "$INIT"
is "$RESP_STATUS $(jqr .error.code)" "401 key_missing" "auth: key on a server: no key is 401"
post /mcp/locked "$INIT" -H "Authorization: Bearer $K2"
is "$RESP_STATUS" 403 "a key whose consumer is not subscribed to mcp: 403"
post /mcp/locked "$INIT" -H "Authorization: Bearer $K1"
is "$RESP_STATUS $(jqr .result.serverInfo.name)" "200 fixture-locked" "a subscribed key opens it"
LSID=$(hdr Mcp-Session-Id)
post /mcp/locked '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"whoami"}}' -H "Mcp-Session-Id: $LSID"
is "$RESP_STATUS" 401 "the session alone is no credential: every request needs the key"
post /mcp/locked '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"whoami"}}' -H "Mcp-Session-Id: $LSID" \
    -H "Authorization: Bearer $K3"
is "$RESP_STATUS" 404 "another consumer's key with the session: 404, as for an unknown session"

# ---------------------------------------------------------------------------- whose session
# A legacy HTTP+SSE client's ?sessionId= must name a session of that transport, of that
# server, made with the same consumer's key.
# legacy_session NAME PATH [CURL ARGS]: opens a legacy stream; its session id in $NAME.
legacy_session() {
    local name=$1 path=$2 out=$T/legacy-$1.out
    shift 2
    curl -sN -H "Accept: text/event-stream" "$@" "http://127.0.0.1:$PP$path" >"$out" 2>/dev/null &
    track $!
    got_endpoint() { grep -q 'sessionId=' "$out"; }
    wait_for 5 got_endpoint || not_ok "a legacy stream opens on $path"
    printf -v "$name" '%s' "$(sed -n 's/^data: .*?sessionId=\([0-9a-f]*\)$/\1/p' "$out")"
}
legacy_session LEG1 /mcp/locked -H "Authorization: Bearer $K1"
legacy_session LEGA /mcp/alpha
post "/mcp/locked?sessionId=$LEG1" "$INIT" -H "Authorization: Bearer $K1"
is "$RESP_STATUS" 202 "a legacy POST with its own session and key is accepted"
post "/mcp/locked?sessionId=$LEG1" "$INIT" -H "Authorization: Bearer $K3"
is "$RESP_STATUS $(jqr .error.code)" "404 -32600" "a legacy POST naming another consumer's session: 404"
post "/mcp/alpha?sessionId=$LEG1" "$INIT"
is "$RESP_STATUS" 404 "a legacy POST naming another server's session: 404"
post "/mcp/alpha?sessionId=$SID" "$INIT"
is "$RESP_STATUS" 404 "a legacy POST naming a Streamable HTTP session: 404"
post /mcp/alpha '{"jsonrpc":"2.0","id":6,"method":"ping"}' -H "Mcp-Session-Id: $LEGA"
is "$RESP_STATUS" 404 "a Streamable HTTP request naming a legacy session: 404"
http GET "http://127.0.0.1:$PP/mcp/alpha" -H "Accept: text/event-stream" -H "Mcp-Session-Id: $LEGA" -m 2
is "$RESP_STATUS" 404 "a GET stream naming a legacy session: 404"
post "/mcp/alpha?sessionId=$LEGA" '{"jsonrpc":"2.0","id":7,"method":"ping"}'
is "$RESP_STATUS" 202 "...which its own client still uses"

# ---------------------------------------------------------------------------- metrics
M=$(curl -s "http://127.0.0.1:$PP/metrics")
like "$M" 'portico_mcp_upstream_ready\{server="alpha"\} 2' "/metrics: alpha is ready on both workers"
like "$M" 'portico_mcp_calls_ok_total\{server="alpha"\} [1-9]' "/metrics counts the calls"
alive_after "the bad MCP requests"
portico_stop

# ---------------------------------------------------------------------------- a listener off loopback
PO=$(free_port)
cat >"$T/open.yaml" <<EOF
listen: ["0.0.0.0:$PO"]
workers: 1
access_log: "off"
data_dir: $D
mcp:
  servers:
    - { name: alpha, command: "$NODE", args: ["$FIXTURE", stdio, alpha] }
EOF
PP_SAVED=$PP; PP=$PO
portico_start "$T/open.yaml" || not_ok "portico starts on 0.0.0.0"
post /mcp/alpha "$INIT"
is "$RESP_STATUS" 401 "a listener that is not loopback-only: a key is required even without auth: key"
post /mcp/alpha "$INIT" -H "Authorization: Bearer $K1"
is "$RESP_STATUS" 200 "...and a subscribed key passes"
portico_stop
PP=$PP_SAVED

# ---------------------------------------------------------------------------- check-config
cat >"$T/good.yaml" <<EOF
mcp:
  servers:
    - { name: files, command: npx, args: ["-y", "server-filesystem"] }
    - { name: search, url: "http://127.0.0.1:3001/mcp" }
EOF
"$PORTICO" check-config -c "$T/good.yaml" >"$T/out" 2>"$T/err"; rc=$?
is "$rc" 0 "check-config accepts a good mcp: section"
like "$(cat "$T/out")" "mcp: path_prefix /mcp -> MCP endpoints: files \(stdio\), search \(http://127.0.0.1:3001/mcp\)" \
    "the summary shows the MCP route and its servers"
cat >"$T/bad.yaml" <<EOF
mcp:
  servers:
    - { name: a }
    - { name: b, command: x, url: "http://127.0.0.1:1/mcp" }
    - { name: c, url: "http://127.0.0.1:1/mcp", env: { A: b } }
    - { name: c, command: y }
EOF
"$PORTICO" check-config -c "$T/bad.yaml" >"$T/out" 2>"$T/err"; rc=$?
is "$rc" 1 "check-config refuses a bad mcp: section"
like "$(cat "$T/err")" "bad.yaml:3: mcp.servers\[0\]: give command" "a server without command or url is named"
like "$(cat "$T/err")" "bad.yaml:4: mcp.servers\[1\].url: give either command or url" "command and url together are named"
like "$(cat "$T/err")" "bad.yaml:5: mcp.servers\[2\].env: only applies to a stdio server" "env on an HTTP server is named"
like "$(cat "$T/err")" "bad.yaml:6: mcp.servers\[3\].name: duplicate server name 'c'" "a duplicate name is named"
cat >"$T/bad.yaml" <<EOF
mcp:
  allowed_origins: ["https://app.example.com"]
  cors: { origins: ["https://app.example.com", "https://other.example"] }
  servers: [{ name: a, command: x }]
EOF
config_refused "a cors origin the Origin check refuses" \
    "mcp\.cors\.origins\[1\]: 'https://other\.example' is refused by the MCP endpoints' Origin check"
printf 'mcp:\n  cors: { origins: "*" }\n  servers: [{ name: a, command: x }]\n' >"$T/bad.yaml"
config_refused "cors for every origin" "mcp\.cors\.origins: the MCP endpoints check every Origin"
printf 'mcp:\n  cors: {}\n  servers: [{ name: a, command: x }]\n' >"$T/bad.yaml"
config_refused "cors without any origin" "mcp\.cors: no origins"
done_testing
