#!/usr/bin/env bash
# Clients of the stateless 2026-07-28 revision on /mcp and /mcp/<server>, beside 2025 clients,
# with raw requests: server/discover (supported versions, capabilities, serverInfo, ttlMs and
# cacheScope) on both endpoints; lists, tools/call, prompts and resources with no session
# through stdio and Streamable HTTP upstreams, each result with resultType; every refusal of
# the revision (missing _meta keys -32602, header mismatches -32020, an unsupported version
# -32022 with data.supported and data.requested, 404 for an unknown method, 405 for GET and
# DELETE, no responses posted, notifications 202); progress on the call's event stream and
# log messages only at the level asked for; closing the stream cancels the upstream call;
# a server's sampling, elicitation and roots requests during a modern call turned into
# input_required results taken up by the retry on either worker (-32021 when the request did not
# declare the capability; each question under a requestState of its own; a requestState spent,
# forged or of another request refused); subscriptions/listen carrying a tool list change
# from another worker and ended with its result when the gateway drains; keys, Origin, mcp.access
# and the call log as for 2025 clients.
. "$(dirname "$0")/lib.sh"

FIXTURE=$ROOT/tests/upstreams/mcp/fixture.mjs
RELAY=$ROOT/tests/upstreams/mcp/relay.mjs
NODE=$(command -v node)
PP=$(free_port); AP=$(free_port); RH=$(free_port)
D=$T/data
seed team acme && seed consumer app1 acme && seed service mcp acme || not_ok "the store is seeded"
K1=$(seed key app1)
seed subscribe app1 mcp active || not_ok "the subscription is seeded"

"$NODE" "$RELAY" http rh "$RH" >"$T/relay-http.log" 2>&1 &
track $!
check "the HTTP relay server listens" wait_for 15 grep -q listening "$T/relay-http.log"

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: "off"
data_dir: $D
admin: { listen: "127.0.0.1:$AP" }
call_log: {}
mcp:
  access:
    - { consumer: app1, deny: ["locked/echo"] }
  servers:
    - { name: rs, command: "$NODE", args: ["$RELAY", stdio, rs] }
    - { name: rh, url: "http://127.0.0.1:$RH/mcp" }
    - { name: fx, command: "$NODE", args: ["$FIXTURE", stdio, fx] }
    - { name: locked, command: "$NODE", args: ["$FIXTURE", stdio, locked], auth: key }
EOF
portico_start "$T/portico.yaml" || { not_ok "portico starts with four MCP servers"; done_testing; exit 1; }
all_up() { [[ $(curl -s "http://127.0.0.1:$PP/readyz") == *'"rs":"up","rh":"up","fx":"up","locked":"up"'* ]]; }
check "every MCP server is up" wait_for 20 all_up

. "$(dirname "$0")/mcp_modern_client.bash"
# raw PATH BODY [curl args]: a POST with exactly the given headers
raw() { local p=$1 b=$2; shift 2; http POST "http://127.0.0.1:$PP$p" "${J[@]}" --data-binary "$b" "$@"; }

# ---- server/discover
mreq /mcp server/discover
is "$RESP_STATUS $(jqr '.result.supportedVersions[0]') $(jqr '.result._meta["io.modelcontextprotocol/serverInfo"].name')" \
    "200 $V portico" "server/discover on /mcp names the revision first and the gateway as the server"
is "$(jqr '[.result.supportedVersions[] | select(. == "2025-11-25" or . == "2025-06-18")] | length')" 2 \
    "and the 2025 revisions it serves after initialize"
is "$(jqr '[.result.resultType, .result.ttlMs, .result.cacheScope, (.result.capabilities.tools != null)] | join(" ")')" \
    "complete 0 private true" "and resultType, ttlMs, cacheScope and the tools capability"
mreq /mcp/fx server/discover
is "$RESP_STATUS $(jqr '.result._meta["io.modelcontextprotocol/serverInfo"].name') $(jqr '.result.capabilities | keys | join(",")')" \
    "200 fixture-fx prompts,resources,tools" "server/discover on /mcp/fx is the upstream's initialize answer"
is "$(jqr '.result.capabilities.resources.subscribe // "none"')" none "without resources' subscribe (not served to the revision)"
mreq /mcp/rh server/discover
is "$RESP_STATUS $(jqr '.result._meta["io.modelcontextprotocol/serverInfo"].name') $(jqr '.result.capabilities.logging != null')" \
    "200 relay-rh true" "server/discover on /mcp/rh (an HTTP upstream) too"

# ---- lists and calls, no session
mreq /mcp/rs tools/list
like "$RESP_STATUS $(jqr '.result.resultType') $(jqr '[.result.tools[].name] | join(",")')" "^200 complete .*progress" \
    "tools/list on /mcp/rs (stdio) without a session"
has_hdr Mcp-Session-Id && not_ok "no session is minted" || ok "no session is minted"
mreq /mcp/rh tools/list
like "$RESP_STATUS $(jqr '.result.resultType') $(jqr '.result.ttlMs') $(jqr '[.result.tools[].name] | join(",")')" \
    "^200 complete 0 .*wait" "tools/list on /mcp/rh (HTTP) with ttlMs"
mreq /mcp tools/list
like "$(jqr '[.result.tools[].name] | join(",")')" "rs__progress.*rh__progress.*fx__whoami" "tools/list on /mcp merges every server"
mreq /mcp tools/call '"name":"fx__echo","arguments":{"text":"hi"}'
is "$RESP_STATUS $(text) $(jqr .result.resultType)" "200 hi complete" "tools/call on /mcp routes to fx"
mreq /mcp/rh tools/call '"name":"test_simple_text"'
is "$RESP_STATUS $(jqr .result.resultType) $(jqr '.result.content[0].type')" "200 complete text" "tools/call on /mcp/rh"
mreq /mcp/rs tools/call '"name":"test_error_handling"'
is "$RESP_STATUS $(jqr .result.isError) $(jqr .result.resultType)" "200 true complete" \
    "a tool's error result carries resultType too"
B64=$(printf fx__whoami | base64)
http POST "http://127.0.0.1:$PP/mcp" "${J[@]}" -H "MCP-Protocol-Version: $V" -H "Mcp-Method: tools/call" \
    -H "Mcp-Name: =?base64?$B64?=" --data-binary "$(body tools/call '"name":"fx__whoami"')"
is "$RESP_STATUS $(text)" "200 fx" "Mcp-Name in its =?base64?...?= form is decoded"
mreq /mcp/fx prompts/list
is "$RESP_STATUS $(jqr .result.resultType) $(jqr '.result.cacheScope') $(jqr '[.result.prompts[].name] | join(",")')" \
    "200 complete private greet,shared_prompt" "prompts/list on /mcp/fx"
mreq /mcp prompts/get '"name":"fx__greet","arguments":{"who":"ann"}'
is "$RESP_STATUS $(jqr '.result.messages[0].content.text') $(jqr .result.resultType)" "200 hello ann from fx complete" \
    "prompts/get on /mcp"
mreq /mcp/fx resources/list
is "$RESP_STATUS $(jqr '[.result.resources[].uri] | join(",")') $(jqr .result.ttlMs)" \
    "200 fixture://fx/info,fixture://shared 0" "resources/list on /mcp/fx"
mreq /mcp resources/read '"uri":"fixture://fx/info"'
is "$RESP_STATUS $(jqr '.result.contents[0].text') $(jqr .result.resultType) $(jqr .result.cacheScope)" \
    "200 fx complete private" "resources/read on /mcp"
mreq /mcp resources/read '"uri":"fixture://nowhere"'
is "$(err)" "200 -32602" "a resource no server has is -32602 (the revision retired -32002)"
mreq /mcp resources/templates/list
is "$RESP_STATUS $(jqr .result.resultType) $(jqr '.result.resourceTemplates | type')" "200 complete array" \
    "resources/templates/list on /mcp"

# ---- the revision's refusals
raw /mcp/fx '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}' -H "MCP-Protocol-Version: $V" -H "Mcp-Method: tools/list"
is "$(err)" "400 -32602" "the header alone without _meta's protocol version is -32602 (400)"
like "$(jqr .error.message)" "protocolVersion" "and says which member is missing"
raw /mcp/fx "$(body tools/list)" -H "MCP-Protocol-Version: 2025-11-25" -H "Mcp-Method: tools/list"
is "$(err)" "400 -32020" "MCP-Protocol-Version other than _meta's is -32020 (400)"
raw /mcp/fx "$(body tools/list)" -H "Mcp-Method: tools/list"
is "$(err)" "400 -32020" "no MCP-Protocol-Version header is -32020 (400)"
V=2099-01-01 mreq /mcp/fx tools/list
is "$(err) $(jqr .error.data.requested) $(jqr '.error.data.supported | index("2026-07-28") != null')" \
    "400 -32022 2099-01-01 true" "an unsupported version is -32022 with data.requested and data.supported"
raw /mcp/fx '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}' \
    -H "MCP-Protocol-Version: $V" -H "Mcp-Method: tools/list"
is "$(err)" "400 -32602" "no clientCapabilities is -32602 (400)"
raw /mcp/fx "$(body tools/list)" -H "MCP-Protocol-Version: $V"
is "$(err)" "400 -32020" "no Mcp-Method is -32020 (400)"
raw /mcp/fx "$(body tools/list)" -H "MCP-Protocol-Version: $V" -H "Mcp-Method: prompts/list"
is "$(err)" "400 -32020" "an Mcp-Method other than the method is -32020 (400)"
raw /mcp "$(body tools/call '"name":"fx__whoami"')" -H "MCP-Protocol-Version: $V" -H "Mcp-Method: tools/call"
is "$(err)" "400 -32020" "tools/call without Mcp-Name is -32020 (400)"
raw /mcp "$(body tools/call '"name":"fx__whoami"')" -H "MCP-Protocol-Version: $V" -H "Mcp-Method: tools/call" \
    -H "Mcp-Name: fx__echo"
is "$(err)" "400 -32020" "an Mcp-Name other than params.name is -32020 (400)"
raw /mcp "$(body resources/read '"uri":"fixture://fx/info"')" -H "MCP-Protocol-Version: $V" -H "Mcp-Method: resources/read" \
    -H "Mcp-Name: =?base64?not base64?="
is "$(err)" "400 -32020" "a broken base64 Mcp-Name is -32020 (400)"
mreq /mcp/fx logging/setLevel '"level":"info"'
is "$(err)" "404 -32601" "a method the revision dropped is 404 -32601 on /mcp/fx"
mreq /mcp no/such
is "$(err)" "404 -32601" "an unknown method is 404 -32601 on /mcp"
mreq /mcp/rs ping
is "$(err)" "404 -32601" "ping, which the revision dropped, too"
mreq /mcp/fx initialize '"protocolVersion":"2026-07-28","capabilities":{},"clientInfo":{"name":"bb","version":"1"}'
is "$(err)" "404 -32601" "and initialize carrying the revision's _meta"
http GET "http://127.0.0.1:$PP/mcp" -H "Accept: text/event-stream" -H "MCP-Protocol-Version: $V"
is "$RESP_STATUS" 405 "GET from a client of the revision is 405"
http DELETE "http://127.0.0.1:$PP/mcp/fx" -H "MCP-Protocol-Version: $V" -H "Mcp-Session-Id: abc"
is "$RESP_STATUS" 405 "DELETE too, whatever its Mcp-Session-Id"
raw /mcp '{"jsonrpc":"2.0","id":3,"result":{}}' -H "MCP-Protocol-Version: $V"
is "$(err)" "400 -32600" "a response posted by a client of the revision is refused"
raw /mcp/fx "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"_meta\":{$(meta)}}}" \
    -H "MCP-Protocol-Version: $V" -H "Mcp-Method: notifications/progress"
is "$RESP_STATUS" 202 "a notification is 202"

# ---- the 2025 path beside it
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bb","version":"1"}}}'
raw /mcp/fx "$INIT"
SID=$(hdr Mcp-Session-Id)
is "$RESP_STATUS $(jqr .result.protocolVersion)" "200 2025-11-25" "initialize still opens a 2025 session"
raw /mcp/fx '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' -H "Mcp-Session-Id: $SID" -H "MCP-Protocol-Version: 2025-11-25"
is "$RESP_STATUS $(jqr '.result.resultType // "absent"')" "200 absent" "and its answers are the 2025 ones"
raw /mcp/fx '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' -H "Mcp-Session-Id: $SID" -H "MCP-Protocol-Version: 2099-01-01"
is "$(err)" "400 -32600" "a 2025 session with an unknown MCP-Protocol-Version is refused as before"

# ---- progress and log messages on the call's event stream
for s in rs rh; do
    # the progress token sits beside the revision's keys in one _meta
    http POST "http://127.0.0.1:$PP/mcp/$s" "${J[@]}" -H "MCP-Protocol-Version: $V" -H "Mcp-Method: tools/call" \
        -H "Mcp-Name: progress" --data-binary \
        "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"_meta\":{$(meta),\"progressToken\":\"p1\"},\"name\":\"progress\",\"arguments\":{\"steps\":3}}}"
    is "$RESP_STATUS $(hdr Content-Type) $(hdr X-Accel-Buffering)" "200 text/event-stream no" "progress on /mcp/$s comes as an event stream"
    is "$(grep -c '"notifications/progress".*"progressToken":"p1"' <<<"$RESP_BODY")" 3 "with the three progress notifications under the client's token"
    is "$(jqr '.result.resultType + " " + .result.content[0].text' "$(last_msg)")" "complete $s: done" "then the result"
done
mreq /mcp/rs tools/call '"name":"test_tool_with_logging"'
is "$RESP_STATUS $(grep -c notifications/message <<<"$RESP_BODY")" "200 0" "log messages do not come when the request asked for none"
LOGLEVEL=info mreq /mcp/rs tools/call '"name":"test_tool_with_logging"'
like "$RESP_STATUS $(grep -c notifications/message <<<"$RESP_BODY")" "^200 [1-9]" "and come at the level asked for"
LOGLEVEL=error mreq /mcp/rh tools/call '"name":"test_tool_with_logging"'
is "$RESP_STATUS $(grep -c notifications/message <<<"$RESP_BODY")" "200 0" "but not below it"

# ---- closing the answer stream cancels the call
# cancelled_count SERVER: how many calls the relay saw cancelled (it answers "NAME: N")
cancelled_count() { mreq "/mcp/$1" tools/call '"name":"cancelled"'; local t; t=$(text); echo "${t##*: }"; }
for s in rs rh; do
    before=$(cancelled_count $s)
    out=$T/wait-$s.out
    : >"$out"
    curl -s -N -X POST "http://127.0.0.1:$PP/mcp/$s" "${J[@]}" -H "MCP-Protocol-Version: $V" -H "Mcp-Method: tools/call" \
        -H "Mcp-Name: wait" --data-binary \
        "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"_meta\":{$(meta),\"progressToken\":7},\"name\":\"wait\"}}" \
        >"$out" 2>/dev/null &
    cpid=$!
    check "the waiting call on /mcp/$s streams its first progress" wait_for 10 grep -q running "$out"
    stop_pid "$cpid"
    grew() { [ "$(cancelled_count "$1")" -gt "$2" ]; }
    # a stdio server runs a child per worker: asked again until the worker whose child ran the call answers
    check "closing the stream cancels the call on /mcp/$s" wait_for 10 grew $s "$before"
done

# ---- a server's request during a modern call: multi round-trip requests
mreq /mcp/rs tools/call '"name":"sample","arguments":{"text":"x"}'
is "$(err) $(jqr '.error.data.requiredCapabilities.sampling | type')" "400 -32021 object" \
    "sampling asked for by a tool, the request declaring no sampling: -32021 with data.requiredCapabilities"
# retry PATH NAME STATE RESPONSES: the request again with the client's answers
retry() {
    http POST "http://127.0.0.1:$PP$1" "${J[@]}" -H "MCP-Protocol-Version: $V" -H "Mcp-Method: tools/call" -H "Mcp-Name: $2" \
        --data-binary "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"_meta\":{$(meta)},\"name\":\"$2\",\"requestState\":\"$3\",\"inputResponses\":$4}}"
}
CAPS='{"sampling":{},"elicitation":{},"roots":{}}'
n_ok=0
for i in 1 2 3 4 5 6; do   # each request on a new connection: retries land on either worker
    for s in rs rh; do
        mreq /mcp/$s tools/call '"name":"elicit"'
        state=$(jqr .result.requestState)
        [ "$RESP_STATUS $(jqr .result.resultType) $(jqr .result.inputRequests.k1.method)" = \
            "200 input_required elicitation/create" ] || { note "elicit on $s: $RESP_STATUS $RESP_BODY"; continue; }
        retry /mcp/$s elicit "$state" '{"k1":{"action":"accept","content":{"ok":true}}}'
        [ "$RESP_STATUS $(text) $(jqr .result.resultType)" = "200 $s: accept {\"ok\":true} complete" ] && n_ok=$((n_ok + 1)) ||
            note "retry on $s: $RESP_STATUS $RESP_BODY"
    done
done
is "$n_ok" 12 "elicitation comes as input_required and the retry with the answer gets the tool's result (stdio and HTTP, either worker)"
mreq /mcp tools/call '"name":"rh__roots"'
state=$(jqr .result.requestState)
is "$RESP_STATUS $(jqr .result.inputRequests.k1.method)" "200 roots/list" "roots/list the same way on /mcp"
retry /mcp rh__roots "$state" '{}'
is "$RESP_STATUS $(jqr .result.resultType) $(jqr .result.requestState)" "200 input_required $state" \
    "a retry without the answer is asked again"
retry /mcp rh__elicit "$state" '{"k1":{"roots":[]}}'
is "$(err)" "200 -32602" "a retry of another request does not take the call up"
retry /mcp rh__roots "$state" '{"k1":{"roots":[{"uri":"file:///a"},{"uri":"file:///b"}]}}'
is "$RESP_STATUS $(text)" "200 rh: file:///a,file:///b" "the right retry does"
retry /mcp rh__roots "$state" '{"k1":{"roots":[]}}'
is "$(err)" "200 -32602" "and the requestState is spent"
retry /mcp/rs elicit "pt1.1.0123456789abcdef0123456789abcdef" '{"k1":{"action":"decline"}}'
is "$(err)" "200 -32602" "a requestState the gateway never gave is refused"
mreq /mcp/rh tools/call '"name":"sample","arguments":{"text":"x"}'
state=$(jqr .result.requestState)
retry /mcp/rh sample "$state" '{"k1":{"role":"assistant","content":{"type":"text","text":"hello"},"model":"m"}}'
is "$RESP_STATUS $(text)" "200 rh: hello" "sampling the same way"
# two questions in turn: each round has its own requestState, and a spent one answers nothing
for s in rs rh; do
    mreq /mcp/$s tools/call '"name":"test_input_required_result_multi_round"'
    state1=$(jqr .result.requestState)
    retry /mcp/$s test_input_required_result_multi_round "$state1" '{"k1":{"action":"accept","content":{"name":"Alice"}}}'
    state2=$(jqr .result.requestState)
    is "$RESP_STATUS $(jqr .result.resultType) $(jqr .result.inputRequests.k2.params.message)" \
        "200 input_required Step 2: What is your favorite color?" "the second question of a call comes as k2 (/mcp/$s)"
    [ -n "$state2" ] && [ "$state2" != "$state1" ] && r=fresh || r="the same: $state1 / $state2"
    is "$r" fresh "under a requestState of its own (/mcp/$s)"
    retry /mcp/$s test_input_required_result_multi_round "$state1" '{"k2":{"action":"accept","content":{"color":"red"}}}'
    is "$(err)" "200 -32602" "the first round's requestState, spent, does not answer the second (/mcp/$s)"
    retry /mcp/$s test_input_required_result_multi_round "$state2" '{"k2":{"action":"accept","content":{"color":"blue"}}}'
    is "$RESP_STATUS $(text) $(jqr .result.resultType)" "200 Alice likes blue complete" "the second round's does (/mcp/$s)"
done
CAPS='{}'

# ---- subscriptions/listen
out=$T/listen.out
: >"$out"
curl -s -N -X POST "http://127.0.0.1:$PP/mcp/rs" "${J[@]}" -H "MCP-Protocol-Version: $V" -H "Mcp-Method: subscriptions/listen" \
    --data-binary "$(body subscriptions/listen '"notifications":{"toolsListChanged":true,"promptsListChanged":true}')" >"$out" 2>/dev/null &
lpid=$!
check "subscriptions/listen acknowledges first" wait_for 10 grep -q 'notifications/subscriptions/acknowledged' "$out"
is "$(grep -m1 '^data: ' "$out" | cut -c7- | jq -c '.params')" \
    '{"notifications":{"toolsListChanged":true,"promptsListChanged":true},"_meta":{"io.modelcontextprotocol/subscriptionId":5}}' \
    "with the list changes it carries and the subscription's id"
for _ in 1 2 3 4; do mreq /mcp/rs tools/call '"name":"grow"'; done   # the child of each worker grows
changed() { grep -q '"notifications/tools/list_changed".*"io.modelcontextprotocol/subscriptionId":5' "$out"; }
check "a tool list change reaches the subscription, whichever worker's child changed" wait_for 10 changed
stop_pid "$lpid"

# ---- keys, Origin, mcp.access and the call log
mreq /mcp/locked tools/list
is "$RESP_STATUS" 401 "a server with auth: key asks a modern client for a key"
mreq /mcp/locked tools/call '"name":"whoami"' -H "Authorization: Bearer $K1"
is "$RESP_STATUS $(text)" "200 locked" "and serves it with one"
mreq /mcp/locked tools/call '"name":"echo","arguments":{"text":"no"}' -H "Authorization: Bearer $K1"
like "$(err) $(jqr .error.message)" "^200 -32602 .*not allowed for consumer 'app1' \(mcp.access\)" "mcp.access refuses a denied tool"
mreq /mcp/fx tools/list '' -H "Origin: https://evil.example.com"
is "$RESP_STATUS" 403 "a foreign Origin is refused"
ADMIN=$(cat "$D/admin-token" 2>/dev/null)
calls() { http GET "http://127.0.0.1:$AP/admin/v1/calls?$1" -H "Authorization: Bearer $ADMIN"; }
logged() { calls "operation=locked/whoami&consumer=app1"; (($(jqr '.items | length') >= 1)); }
check "the modern tool call is in the call log as locked/whoami" wait_for 10 logged
refused() { calls "operation=locked/echo&consumer=app1"; [ "$(jqr '.items[0].error')" = mcp_access_denied ]; }
check "and the refused one with its error" wait_for 10 refused

alive_after "modern clients"

# ---- a drain ends subscriptions gracefully: their result, not the drain deadline
out=$T/listen-drain.out
: >"$out"
curl -s -N -X POST "http://127.0.0.1:$PP/mcp/rh" "${J[@]}" -H "MCP-Protocol-Version: $V" -H "Mcp-Method: subscriptions/listen" \
    --data-binary "$(body subscriptions/listen '"notifications":{"toolsListChanged":true}')" >"$out" 2>/dev/null &
lpid=$!
check "a subscription is open" wait_for 10 grep -q 'notifications/subscriptions/acknowledged' "$out"
portico_stop
wait "$lpid" 2>/dev/null
is "$(grep '^data: ' "$out" | tail -n 1 | cut -c7- | jq -c '.result')" \
    '{"_meta":{"io.modelcontextprotocol/subscriptionId":5},"resultType":"complete"}' \
    "SIGTERM ends it with the listen request's result naming the subscription"
done_testing
