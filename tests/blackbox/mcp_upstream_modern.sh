#!/usr/bin/env bash
# Upstream MCP servers of the stateless 2026-07-28 revision (tests/upstreams/mcp/modern.mjs,
# over stdio and Streamable HTTP) beside a 2025-era one (fixture.mjs), driven with raw requests
# of a 2025-era client on /mcp/<server> and /mcp: the era found by server/discover (shown by
# /readyz and /metrics), lists (every page), calls, progress, log messages, x-mcp-header
# arguments in Mcp-Param-* headers, the _meta and headers each request carries, cancels (the
# answer stream closed over HTTP, notifications/cancelled over stdio), list changes through
# subscriptions/listen, an input_required result refused clearly, a stdio server that dies and
# is probed again, an HTTP server replaced by a 2025-era one (probed again: it is initialized)
# and then by a modern one again,
# and `era:` in the configuration.
. "$(dirname "$0")/lib.sh"

MODERN=$ROOT/tests/upstreams/mcp/modern.mjs
FIXTURE=$ROOT/tests/upstreams/mcp/fixture.mjs
NODE=$(command -v node)
PP=$(free_port)
RH=$T/http.jsonl   # what the HTTP server received
RS=$T/stdio.jsonl  # what the stdio server received

start_http() { # start_http PORT: the modern HTTP server on PORT (0: any); sets HP
    : >"$T/mh.out"
    "$NODE" "$MODERN" http mh "$1" "$RH" >"$T/mh.out" 2>&1 &
    MH_PID=$!
    track "$MH_PID"
    wait_for 10 grep -q '^listening' "$T/mh.out" || not_ok "the modern HTTP server starts" "$(cat "$T/mh.out")"
    HP=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$T/mh.out")
}
start_http 0

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "off"
mcp:
  servers:
    - { name: ms, command: "$NODE", args: ["$MODERN", stdio, ms, "$RS"] }
    - { name: mh, url: "http://127.0.0.1:$HP/mcp", timeout: 20s }
    - { name: old, command: "$NODE", args: ["$FIXTURE", stdio, old] }
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts with modern and 2025-era MCP servers"

all_up() { [[ $(curl -s "http://127.0.0.1:$PP/readyz") == *'"ms":"up","mh":"up","old":"up"'* ]]; }
wait_for 20 all_up && ok "/readyz says the three servers are up" || not_ok "/readyz says the three servers are up" \
    "$(curl -s "http://127.0.0.1:$PP/readyz")"
like "$(curl -s "http://127.0.0.1:$PP/readyz")" '"mcp_eras":\{"ms":"2026","mh":"2026","old":"2025"\}' \
    "/readyz names each server's era"
M=$(curl -s "http://127.0.0.1:$PP/metrics")
like "$M" 'portico_mcp_upstream_era\{server="mh"\} 2026' "/metrics: the HTTP server's era"
like "$M" 'portico_mcp_upstream_era\{server="old"\} 2025' "/metrics: the 2025-era server's era"
log_has() { grep -q -- "$1" "$T/portico.err"; }
log_has "MCP server 'old' speaks the 2025 era (it answered server/discover with the error" &&
    ok "the 2025-era server's error to server/discover made it initialize" ||
    not_ok "the 2025-era server's error to server/discover made it initialize" "$(grep "'old'" "$T/portico.err")"

J=(-H "Content-Type: application/json" -H "Accept: application/json, text/event-stream")
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bb","version":"1"}}}'
post() { local p=$1 body=$2; shift 2; http POST "http://127.0.0.1:$PP$p" "${J[@]}" --data-binary "$body" "$@"; }
call() { # call PATH SESSION ID TOOL [ARGS_JSON [META_JSON]]
    post "$1" "{\"jsonrpc\":\"2.0\",\"id\":$3,\"method\":\"tools/call\",\"params\":{\"name\":\"$4\",\"arguments\":${5:-{\}}${6:+,\"_meta\":$6}}}" \
        -H "Mcp-Session-Id: $2"
}
open_session() { post "$1" "$INIT"; SID=$(hdr Mcp-Session-Id); }
# last METHOD FILE: the newest record of METHOD the server made
last() { grep "\"method\":\"$1\"" "$2" | tail -1; }

for s in mh ms; do
    open_session /mcp/$s
    is "$RESP_STATUS $(jqr .result.serverInfo.name) $(jqr .result.protocolVersion)" "200 modern-$s 2025-06-18" \
        "$s: initialize is the server's discover answer with the client's version"
    is "$(jqr .result.instructions) $(jqr .result.capabilities.tools.listChanged)" "the $s test server true" \
        "$s: its instructions and capabilities"
    S=$SID
    post /mcp/$s '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' -H "Mcp-Session-Id: $S"
    is "$RESP_STATUS $(jqr '[.result.tools[].name] | join(",")') $(jqr .result.nextCursor)" "200 whoami,echo 2" \
        "$s: tools/list is the server's first page"
    is "$(jqr '.result | has("resultType")')" false "$s: resultType is not shown to a 2025-era client"
    call /mcp/$s "$S" 3 echo '{"text":"hi"}'
    is "$(jqr '.result.content[0].text') $(jqr .id)" "$s: hi 3" "$s: tools/call answers with the client's id"
    call /mcp/$s "$S" 4 fail
    is "$(jqr .result.isError) $(jqr '.result.content[0].text')" "true $s: it failed" "$s: a tool error is a result"
    call /mcp/$s "$S" 5 boom
    is "$(jqr .error.code) $(jqr .error.message)" "-32603 $s: boom" "$s: a JSON-RPC error comes back unchanged"
    call /mcp/$s "$S" 6 progress '{"steps":2}' '{"progressToken":"tok-1"}'
    is "$(hdr Content-Type)" "text/event-stream" "$s: a call with progress is answered as an event stream"
    is "$(sse_data | jq -sc '[.[] | select(.method == "notifications/progress") | .params.progressToken]')" '["tok-1","tok-1"]' \
        "$s: both progress notifications carry the client's own token"
    is "$(sse_data | jq -r 'select(.id == 6) | .result.content[0].text')" "$s: done" "$s: then the answer"
    post /mcp/$s '{"jsonrpc":"2.0","id":7,"method":"logging/setLevel","params":{"level":"info"}}' -H "Mcp-Session-Id: $S"
    is "$RESP_STATUS $(jqr '.result | length')" "200 0" "$s: logging/setLevel is answered by the gateway"
    call /mcp/$s "$S" 8 log
    is "$(sse_data | jq -r 'select(.method == "notifications/message") | .params.data')" "$s logs" \
        "$s: the level goes in _meta and the server's log message is relayed"
    call /mcp/$s "$S" 9 ask
    is "$(jqr .error.code)" "-32000" "$s: an input_required result for a client that cannot answer it is an error"
    like "$(jqr .error.message)" "needed input the client did not give.*elicitation/create" "$s: ...that says what the server asked"
    post /mcp/$s '{"jsonrpc":"2.0","id":10,"method":"ping"}' -H "Mcp-Session-Id: $S"
    is "$RESP_STATUS $(jqr '.result | length')" "200 0" "$s: ping is answered by the gateway (2026-07-28 has none)"
    post /mcp/$s '{"jsonrpc":"2.0","id":11,"method":"resources/read","params":{"uri":"modern://readme"}}' -H "Mcp-Session-Id: $S"
    is "$(jqr '.result.contents[0].text')" "$s readme" "$s: resources/read"
    post /mcp/$s '{"jsonrpc":"2.0","id":12,"method":"prompts/get","params":{"name":"greet","arguments":{"who":"you"}}}' -H "Mcp-Session-Id: $S"
    is "$(jqr '.result.messages[0].content.text')" "$s greets you" "$s: prompts/get"
    post /mcp/$s '{"jsonrpc":"2.0","id":13,"method":"no/such"}' -H "Mcp-Session-Id: $S"
    is "$RESP_STATUS $(jqr .error.code)" "200 -32601" "$s: an unknown method is the server's -32601"
done

# What the servers received: every request carries the _meta of the revision, over HTTP with
# the headers that mirror it; no initialize, no session, no GET.
R=$(last tools/call "$RH")
is "$(jqr '.meta["io.modelcontextprotocol/protocolVersion"]' "$R") $(jqr '.meta["io.modelcontextprotocol/clientInfo"].name' "$R") $(jqr '.meta["io.modelcontextprotocol/clientCapabilities"] | type' "$R")" \
    "2026-07-28 portico object" "HTTP: a call's _meta has the version, the clientInfo and the client capabilities"
is "$(jqr '.headers["mcp-protocol-version"]' "$R") $(jqr '.headers["mcp-method"]' "$R") $(jqr '.headers["mcp-name"]' "$R")" \
    "2026-07-28 tools/call ask" "HTTP: MCP-Protocol-Version, Mcp-Method and Mcp-Name mirror the body"
is "$(jqr '.headers | has("mcp-session-id")' "$R")" false "HTTP: no Mcp-Session-Id"
is "$(grep -c '"method":"initialize"' "$RH") $(grep -c '"method":"initialize"' "$RS")" "0 0" "neither modern server was sent initialize"
is "$(jqr '.meta["io.modelcontextprotocol/logLevel"]' "$(last tools/call "$RS")")" info "stdio: the log level rides in _meta"
is "$(jqr '.meta["io.modelcontextprotocol/clientCapabilities"] | keys | join(",")' "$R")" "elicitation,roots,sampling" \
    "HTTP: the capabilities declared are those the gateway relays"
open_session /mcp/mh
call /mcp/mh "$SID" 14 echo '{"text":"own"}' '{"io.modelcontextprotocol/clientCapabilities":{"extensions":{}}}'
is "$(jqr '.meta["io.modelcontextprotocol/clientCapabilities"] | keys | join(",")' "$(last tools/call "$RH")")" "extensions" \
    "a call whose _meta declares its own client capabilities keeps them"
R=$(last resources/read "$RH")
is "$(jqr '.headers["mcp-name"]' "$R")" "modern://readme" "HTTP: Mcp-Name of resources/read is the URI"

# /mcp: the modern servers' tools beside the 2025-era server's, every page of each.
open_session /mcp
A=$SID
post /mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' -H "Mcp-Session-Id: $A"
is "$(jqr '[.result.tools[].name | select(test("^(ms|mh|old)__(whoami|die|echo)$"))] | sort | join(",")')" \
    "mh__die,mh__echo,mh__whoami,ms__die,ms__echo,ms__whoami,old__echo,old__whoami" "/mcp lists the modern servers' tools (every page) beside the 2025-era one's"
call /mcp "$A" 3 mh__whoami
is "$(jqr '.result.content[0].text')" "mh" "/mcp routes a call to the modern HTTP server"
call /mcp "$A" 4 old__echo '{"text":"x"}'
like "$(jqr '.result.content[0].text')" "x" "/mcp routes a call to the 2025-era server"
call /mcp "$A" 5 mh__region '{"region":"eu west ü","q":"x"}'
is "$(jqr '.result.content[0].text')" "mh: eu west ü" "an x-mcp-header argument reaches the HTTP server (it checks the header)"
is "$(jqr '.headers["mcp-param-region"]' "$(last tools/call "$RH")")" "=?base64?ZXUgd2VzdCDDvA==?=" \
    "...in Mcp-Param-Region, base64 since it is not ASCII"
call /mcp "$A" 6 mh__region '{"region":"us-west1"}'
is "$(jqr '.headers["mcp-param-region"]' "$(last tools/call "$RH")")" "us-west1" "a header-safe value is sent as it is"

# Cancels: a client that closes its POST (HTTP: the gateway closes the answer stream) and a
# client's notifications/cancelled (stdio: the server hears it under its own id).
# slow SERVER ID: opens a session on /mcp/SERVER (S) and starts the slow tool in the background
# (SLOW) under the client's id ID; returns once the server runs it (its progress came).
slow() {
    open_session "/mcp/$1"
    S=$SID
    curl -sN -m 20 "http://127.0.0.1:$PP/mcp/$1" "${J[@]}" -H "Mcp-Session-Id: $S" \
        -d "{\"jsonrpc\":\"2.0\",\"id\":$2,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\",\"_meta\":{\"progressToken\":1}}}" \
        >"$T/slow_$1.out" &
    SLOW=$!
    track $SLOW
    wait_for 10 grep -q '"running"' "$T/slow_$1.out"
}
cancelled_is() { call "/mcp/$1" "$2" 21 cancelled; [ "$(jqr '.result.content[0].text')" = "$1: $3" ]; }
check "HTTP: the slow call runs (its progress came)" slow mh 20
kill $SLOW
check "HTTP: a client that goes away closes the answer stream, which cancels the call" wait_for 10 cancelled_is mh "$S" 1
check "stdio: the slow call runs" slow ms '"s1"'
UPID=$(jqr .id "$(last tools/call "$RS")")
post /mcp/ms '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"s1","reason":"enough"}}' -H "Mcp-Session-Id: $S"
is "$RESP_STATUS" 202 "stdio: the client's notifications/cancelled is accepted"
wait_for 10 grep -q '"notifications/cancelled"' "$RS"
is "$(jqr .requestId "$(last notifications/cancelled "$RS")")" "$UPID" \
    "stdio: the server gets notifications/cancelled naming its own id for the call"
check "stdio: ...and stops the call" wait_for 10 cancelled_is ms "$S" 1
wait $SLOW 2>/dev/null
like "$(cat "$T/slow_ms.out")" '"id":"s1".*-32800' "stdio: the cancelled client's POST ends with -32800"

# List changes: subscriptions/listen is open on each modern server; a change reaches the
# client's GET stream.
is "$(metric_sum portico_mcp_upstream_streams 'server="mh"') $(metric_sum portico_mcp_upstream_streams 'server="ms"')" "1 1" \
    "a subscriptions/listen stream is open to each modern server"
R=$(last subscriptions/listen "$RH")
is "$(jqr '.headers["mcp-method"]' "$R") $(jqr '.meta["io.modelcontextprotocol/protocolVersion"]' "$R")" \
    "subscriptions/listen 2026-07-28" "HTTP: subscriptions/listen is posted as a modern request"
for s in mh ms; do
    open_session /mcp/$s
    S=$SID
    curl -sN "http://127.0.0.1:$PP/mcp/$s" -H "Mcp-Session-Id: $S" -H "Accept: text/event-stream" >"$T/get_$s.out" 2>/dev/null &
    GP=$!
    track $GP
    wait_metric portico_mcp_streams 1
    call /mcp/$s "$S" 30 grow
    wait_for 10 grep -q 'notifications/tools/list_changed' "$T/get_$s.out" &&
        ok "$s: the server's list change reaches the client's GET stream" ||
        not_ok "$s: the server's list change reaches the client's GET stream" "$(cat "$T/get_$s.out")"
    kill $GP
    wait_for 10 eval '(($(metric_sum portico_mcp_streams) == 0))'
done

# A stdio server that dies is started again and probed again.
open_session /mcp/ms
S=$SID
call /mcp/ms "$S" 40 die
is "$(jqr '.result.content[0].text')" "ms: dying" "stdio: the server says it dies"
wait_for 10 log_has "MCP server 'ms' exited with status 3" && ok "stdio: its exit is logged" || not_ok "stdio: its exit is logged"
probes() { grep -c '"method":"server/discover"' "$RS"; }
wait_for 10 eval '(($(probes) >= 2))' && ok "stdio: the new process is probed again" || not_ok "stdio: the new process is probed again"
call_works() { call "/mcp/$1" "$2" 41 whoami; [ "$(jqr '.result.content[0].text')" = "$1" ]; }
check "stdio: calls work again" wait_for 15 call_works ms "$S"

# An HTTP server replaced by a 2025-era one on the same port: probed again, it is initialized;
# then the modern one again.
kill "$MH_PID"
wait "$MH_PID" 2>/dev/null
"$NODE" "$FIXTURE" http mh "$HP" >"$T/fx.out" 2>&1 &
FX_PID=$!
track $FX_PID
wait_for 10 grep -q 'listening' "$T/fx.out" || not_ok "the 2025-era server takes the port" "$(cat "$T/fx.out")"
open_session /mcp/mh
S=$SID
era_2025() { call_works mh "$S"; [[ $(curl -s "http://127.0.0.1:$PP/readyz") == *'"mh":"2025"'* ]]; }
check "HTTP: a server that changed is probed again (now 2025) and calls work" wait_for 20 era_2025
# ...and back: the modern server again on that port is found modern again.
kill "$FX_PID"
wait "$FX_PID" 2>/dev/null
start_http "$HP"
era_2026() { call_works mh "$S"; [[ $(curl -s "http://127.0.0.1:$PP/readyz") == *'"mh":"2026"'* ]]; }
check "HTTP: a modern server back in its place is found modern again and calls work" wait_for 20 era_2026

# era: in the configuration.
cat >"$T/bad.yaml" <<EOF
mcp: { servers: [ { name: x, url: "http://127.0.0.1:1/mcp", era: 2027 } ] }
EOF
config_refused "era: 2027" "mcp.servers\[0\].era: expected auto, 2025 or 2026, got '2027'"
cat >"$T/bad.yaml" <<EOF
mcp: { servers: [ { name: x, url: "http://127.0.0.1:1/sse", transport: sse, era: 2026 } ] }
EOF
config_refused "era: 2026 with transport: sse" "era: 2026 has no HTTP\+SSE transport"
portico_stop

PP=$(free_port)
: >"$RS"
cat >"$T/era.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "off"
mcp:
  servers:
    - { name: old, command: "$NODE", args: ["$FIXTURE", stdio, old], era: 2025 }
    - { name: pinned, command: "$NODE", args: ["$MODERN", stdio, pinned, "$RS"], era: 2026 }
EOF
: >"$T/portico.err"
portico_start "$T/era.yaml" || not_ok "portico starts with era: set"
both_up() { [[ $(curl -s "http://127.0.0.1:$PP/readyz") == *'"old":"up","pinned":"up"'* ]]; }
check "era: 2025 and era: 2026 servers come up" wait_for 20 both_up
log_has "MCP server 'old' speaks the 2025 era" && not_ok "era: 2025 skips the probe" || ok "era: 2025 skips the probe"
is "$(grep -c '"method":"server/discover"' "$RS")" 1 "era: 2026 probes with server/discover (no fallback)"
alive_after "modern upstreams"
done_testing
