#!/usr/bin/env bash
# Clients of the stateless 2026-07-28 revision through the gateway to servers of the same
# revision (tests/upstreams/mcp/modern.mjs over stdio and Streamable HTTP), end to end, with raw
# requests on /mcp/<server> and on /mcp beside a 2025-era server (fixture.mjs): server/discover,
# the upstream's pages of tools/list, calls (text, an error result with resultType, a JSON-RPC
# error), progress on the answer stream, cancels (the server's answer stream closed over HTTP,
# notifications/cancelled over stdio), resources, prompts, the server's own input_required
# result reaching the client as it is and the client's retry with inputResponses and the
# server's requestState answered, the client's capabilities, log level and Mcp-Param-* headers
# reaching the server (it records what it received), subscriptions/listen carrying a modern
# server's list changes, and a drain ending a 2025 client's GET stream and a subscription
# gracefully.
. "$(dirname "$0")/lib.sh"

MODERN=$ROOT/tests/upstreams/mcp/modern.mjs
FIXTURE=$ROOT/tests/upstreams/mcp/fixture.mjs
NODE=$(command -v node)
PP=$(free_port)
RH=$T/http.jsonl   # what the HTTP server received
RS=$T/stdio.jsonl  # what the stdio servers (one child per worker) received

: >"$T/mh.out"
"$NODE" "$MODERN" http mh 0 "$RH" >"$T/mh.out" 2>&1 &
track $!
check "the modern HTTP server listens" wait_for 10 grep -q '^listening' "$T/mh.out"
HP=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$T/mh.out")

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: "off"
mcp:
  servers:
    - { name: ms, command: "$NODE", args: ["$MODERN", stdio, ms, "$RS"] }
    - { name: mh, url: "http://127.0.0.1:$HP/mcp", timeout: 20s }
    - { name: old, command: "$NODE", args: ["$FIXTURE", stdio, old] }
EOF
portico_start "$T/portico.yaml" || { not_ok "portico starts with two modern and one 2025-era MCP server"; done_testing; exit 1; }
all_up() { [[ $(curl -s "http://127.0.0.1:$PP/readyz") == *'"mcp_eras":{"ms":"2026","mh":"2026","old":"2025"}'* ]]; }
check "every MCP server is up, each of its era" wait_for 20 all_up

. "$(dirname "$0")/mcp_modern_client.bash"

# ---- first, before any client lists tools: a 2025 client's call of a tool with an
# x-mcp-header argument, on either worker (only one has listed the server's tools yet)
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bb","version":"1"}}}'
http POST "http://127.0.0.1:$PP/mcp/mh" "${J[@]}" --data-binary "$INIT"
SID=$(hdr Mcp-Session-Id)
n_ok=0
for i in 1 2 3 4 5 6; do
    http POST "http://127.0.0.1:$PP/mcp/mh" "${J[@]}" -H "Mcp-Session-Id: $SID" \
        --data-binary '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"region","arguments":{"region":"eu"}}}'
    [ "$RESP_STATUS $(text)" = "200 mh: eu" ] && n_ok=$((n_ok + 1)) || note "region: $RESP_STATUS $RESP_BODY"
done
is "$n_ok" 6 "the argument reaches the server in Mcp-Param-Region from either worker (one that had not listed the tools lists them)"
# answer: the final message, whether the answer came as JSON or as an event stream
answer() { if [ "$(hdr Content-Type)" = text/event-stream ]; then last_msg; else echo "$RESP_BODY"; fi; }
# last METHOD FILE: the newest record of METHOD the server made
last() { grep "\"method\":\"$1\"" "$2" | tail -1; }

# ---- server/discover
for s in mh ms; do
    mreq /mcp/$s server/discover
    is "$RESP_STATUS $(jqr '.result.supportedVersions[0]') $(jqr '.result._meta["io.modelcontextprotocol/serverInfo"].name') $(jqr .result.resultType)" \
        "200 $V modern-$s complete" "$s: server/discover is the modern server's own"
    is "$(jqr .result.instructions) $(jqr .result.capabilities.tools.listChanged) $(jqr .result.cacheScope)" \
        "the $s test server true private" "$s: with its instructions and capabilities"
done
mreq /mcp server/discover
is "$RESP_STATUS $(jqr '.result._meta["io.modelcontextprotocol/serverInfo"].name')" "200 portico" "/mcp: server/discover is the gateway's"

# ---- lists: the upstream's pages on /mcp/<server>, every page merged on /mcp
for s in mh ms; do
    names= cursor= pages=0 shape=
    while :; do
        mreq /mcp/$s tools/list "${cursor:+\"cursor\":\"$cursor\"}"
        [ "$RESP_STATUS" = 200 ] || break
        pages=$((pages + 1))
        shape="$shape $(jqr '[.resultType, .ttlMs, .cacheScope] | join("/")' "$(jqr .result)")"
        names="$names$(jqr '[.result.tools[].name] | join(",")'),"
        cursor=$(jqr '.result.nextCursor // empty')
        [ -n "$cursor" ] && [ $pages -lt 20 ] || break
    done
    is "$pages $names" "7 whoami,echo,fail,boom,progress,log,slow,cancelled,region,ask,grow,last,die," \
        "$s: tools/list is the server's, page by page (two tools a page)"
    is "$(tr ' ' '\n' <<<"$shape" | sort -u | xargs)" "complete/0/private" "$s: every page with resultType, ttlMs 0 and cacheScope private"
done
mreq /mcp tools/list
is "$(jqr '[.result.tools[].name | select(test("^(ms|mh|old)__(whoami|die|echo)$"))] | sort | join(",")') $(jqr .result.resultType)" \
    "mh__die,mh__echo,mh__whoami,ms__die,ms__echo,ms__whoami,old__echo,old__whoami complete" \
    "/mcp lists every page of both modern servers beside the 2025-era one"
is "$(jqr '.result.tools[] | select(.name == "mh__region") | .inputSchema.properties.region["x-mcp-header"]')" Region \
    "/mcp keeps a tool's x-mcp-header mark"

# ---- calls
for p in /mcp/mh:echo /mcp/ms:echo /mcp:mh__echo /mcp:ms__echo; do
    path=${p%%:*} tool=${p#*:}
    mreq "$path" tools/call "\"name\":\"$tool\",\"arguments\":{\"text\":\"hi\"}"
    s=${path#/mcp/}
    [ "$path" = /mcp ] && s=${tool%%__*}
    is "$RESP_STATUS $(text) $(jqr .result.resultType)" "200 $s: hi complete" "tools/call $tool on $path"
done
mreq /mcp/mh tools/call '"name":"whoami"'
is "$RESP_STATUS $(text) $(jqr .result.resultType) $(jqr '.result | has("ttlMs")')" "200 mh complete false" "a call's result carries resultType, not ttlMs"
mreq /mcp tools/call '"name":"old__echo","arguments":{"text":"hi"}'
is "$RESP_STATUS $(text) $(jqr .result.resultType)" "200 hi complete" "/mcp: the 2025-era server beside them"
for s in mh ms; do
    mreq /mcp/$s tools/call '"name":"fail"'
    is "$RESP_STATUS $(jqr .result.isError) $(jqr .result.resultType) $(text)" "200 true complete $s: it failed" \
        "$s: an error result with resultType"
    mreq /mcp/$s tools/call '"name":"boom"'
    is "$(err) $(jqr .error.message)" "200 -32603 $s: boom" "$s: a JSON-RPC error reaches the client"
done

# ---- progress and log messages on the answer stream
for s in mh ms; do
    EXTRA_META='"progressToken":"p1"' mreq /mcp/$s tools/call '"name":"progress","arguments":{"steps":3}'
    is "$RESP_STATUS $(hdr Content-Type)" "200 text/event-stream" "$s: progress comes as an event stream"
    is "$(sse_data | jq -sc '[.[] | select(.method == "notifications/progress") | .params.progressToken]')" '["p1","p1","p1"]' \
        "$s: with the server's three notifications under the client's token"
    is "$(jqr '.result.resultType + " " + .result.content[0].text' "$(last_msg)")" "complete $s: done" "$s: then the result"
    mreq /mcp/$s tools/call '"name":"log"'
    is "$RESP_STATUS $(grep -c notifications/message <<<"$RESP_BODY") $(text)" "200 0 $s: logged at no level" \
        "$s: a request without a log level: the server is asked for none"
    LOGLEVEL=info mreq /mcp/$s tools/call '"name":"log"'
    is "$(sse_data | jq -r 'select(.method == "notifications/message") | .params.data')" "$s logs" \
        "$s: the client's log level reaches the server and its message the client"
    is "$(jqr '.meta["io.modelcontextprotocol/logLevel"]' "$(last tools/call "$( [ $s = mh ] && echo "$RH" || echo "$RS")")")" info \
        "$s: the level rides in the server's _meta"
    LOGLEVEL=error mreq /mcp/$s tools/call '"name":"log"'
    is "$(grep -c notifications/message <<<"$RESP_BODY") $(answer | jq -r '.result.content[0].text')" "0 $s: logged at error" \
        "$s: a higher level asked for: the server hears it, the info message does not come"
done

# ---- what the modern server received of the client's request
CAPS='{"elicitation":{},"extensions":{"x":{}}}'
mreq /mcp/mh tools/call '"name":"whoami"'
R=$(last tools/call "$RH")
is "$(jqr '.meta["io.modelcontextprotocol/clientCapabilities"] | keys | join(",")' "$R") $(jqr '.meta["io.modelcontextprotocol/protocolVersion"]' "$R")" \
    "elicitation,extensions $V" "the client's own capabilities reach the server"
is "$(jqr '.headers["mcp-method"]' "$R") $(jqr '.headers["mcp-name"]' "$R") $(jqr '.headers | has("mcp-session-id")' "$R")" \
    "tools/call whoami false" "with Mcp-Method and Mcp-Name, no session"
CAPS='{}'
# region PATH TOOL VALUE HEADER: the region tool with the client's Mcp-Param-Region
region() {
    http POST "http://127.0.0.1:$PP$1" "${J[@]}" -H "MCP-Protocol-Version: $V" -H "Mcp-Method: tools/call" -H "Mcp-Name: $2" \
        -H "Mcp-Param-Region: $4" --data-binary "$(body tools/call "\"name\":\"$2\",\"arguments\":{\"region\":\"$3\",\"q\":\"x\"}")"
}
n_ok=0
for i in 1 2 3 4; do   # each request on a new connection: either worker
    region /mcp/mh region "eu west ü" "=?base64?ZXUgd2VzdCDDvA==?="
    [ "$RESP_STATUS $(text)" = "200 mh: eu west ü" ] &&
        [ "$(jqr '.headers["mcp-param-region"]' "$(last tools/call "$RH")")" = "=?base64?ZXUgd2VzdCDDvA==?=" ] &&
        n_ok=$((n_ok + 1)) || note "region on /mcp/mh: $RESP_STATUS $RESP_BODY"
    region /mcp mh__region us-west1 us-west1
    [ "$RESP_STATUS $(text)" = "200 mh: us-west1" ] &&
        [ "$(jqr '.headers["mcp-param-region"]' "$(last tools/call "$RH")")" = us-west1 ] &&
        n_ok=$((n_ok + 1)) || note "region on /mcp: $RESP_STATUS $RESP_BODY"
done
is "$n_ok" 8 "the client's Mcp-Param-Region reaches the server as sent (base64 form too), on /mcp/mh and /mcp, on either worker"
# a header-safe value the client chose to send in its base64 form: the gateway, mirroring it
# itself, would have sent it plain
region /mcp/mh region us-west1 "=?base64?dXMtd2VzdDE=?="
is "$RESP_STATUS $(text) $(jqr '.headers["mcp-param-region"]' "$(last tools/call "$RH")")" "200 mh: us-west1 =?base64?dXMtd2VzdDE=?=" \
    "the client's own header is passed on, not rewritten"
region /mcp/mh region us-west1 us-east1
is "$(err) $(jqr '.error.message')" "400 -32020 header mismatch: Mcp-Param-Region" \
    "a client's header that does not mirror its argument gets the server's -32020"

# ---- resources and prompts
for s in mh ms; do
    mreq /mcp/$s resources/list
    is "$RESP_STATUS $(jqr '[.result.resources[].uri] | join(",")') $(jqr .result.resultType) $(jqr .result.cacheScope)" \
        "200 modern://readme complete private" "$s: resources/list"
    mreq /mcp/$s resources/read '"uri":"modern://readme"'
    is "$RESP_STATUS $(jqr '.result.contents[0].text') $(jqr .result.resultType)" "200 $s readme complete" "$s: resources/read"
    mreq /mcp/$s prompts/get '"name":"greet","arguments":{"who":"ann"}'
    is "$RESP_STATUS $(jqr '.result.messages[0].content.text') $(jqr .result.resultType)" "200 $s greets ann complete" "$s: prompts/get"
done
mreq /mcp prompts/list
is "$(jqr '[.result.prompts[].name | select(startswith("m"))] | sort | join(",")')" "mh__greet,ms__greet" "/mcp: prompts/list merges them"
mreq /mcp prompts/get '"name":"mh__greet","arguments":{"who":"bo"}'
is "$RESP_STATUS $(jqr '.result.messages[0].content.text')" "200 mh greets bo" "/mcp: prompts/get routes"
mreq /mcp resources/read '"uri":"modern://readme"'
is "$RESP_STATUS $(jqr '.result.contents[0].text')" "200 ms readme" "/mcp: resources/read goes to the first server listing the URI"

# ---- the server's input_required result, and the retry
mreq /mcp/mh tools/call '"name":"ask"'
is "$(err) $(jqr '.error.data.requiredCapabilities | keys | join(",")')" "400 -32021 elicitation" \
    "a request without elicitation gets the server's -32021 with data.requiredCapabilities"
CAPS='{"elicitation":{}}'
# retry PATH NAME STATE RESPONSES
retry() {
    http POST "http://127.0.0.1:$PP$1" "${J[@]}" -H "MCP-Protocol-Version: $V" -H "Mcp-Method: tools/call" -H "Mcp-Name: $2" \
        --data-binary "$(body tools/call "\"name\":\"$2\",\"requestState\":\"$3\",\"inputResponses\":$4")"
}
n_ok=0
for i in 1 2 3; do   # the round and its retry on separate connections: either worker
    for p in /mcp/mh:ask /mcp/ms:ask /mcp:mh__ask /mcp:ms__ask; do
        path=${p%%:*} tool=${p#*:}
        mreq "$path" tools/call "\"name\":\"$tool\""
        [ "$RESP_STATUS $(jqr .result.resultType) $(jqr .result.inputRequests.confirm.method) $(jqr .result.requestState)" = \
            "200 input_required elicitation/create opaque" ] || { note "ask on $path: $RESP_STATUS $RESP_BODY"; continue; }
        retry "$path" "$tool" opaque '{"confirm":{"action":"accept","content":{"ok":true}}}'
        s=${path#/mcp/}
        [ "$path" = /mcp ] && s=${tool%%__*}
        [ "$RESP_STATUS $(text) $(jqr .result.resultType)" = "200 $s: accept {\"ok\":true} complete" ] && n_ok=$((n_ok + 1)) ||
            note "retry on $path: $RESP_STATUS $RESP_BODY"
    done
done
is "$n_ok" 12 "the server's input_required reaches the client as it is, and the retry with inputResponses and requestState is answered (stdio, HTTP, /mcp, either worker)"
R=$(last tools/call "$RH")
is "$(jqr '.meta["io.modelcontextprotocol/clientCapabilities"] | keys | join(",")' "$R")" elicitation "the retry carries the client's capabilities"
CAPS='{}'

# ---- cancels: the client closes its answer stream
# slow PATH TOOL OUT: the slow tool in the background (SLOW), once its progress came
slow() {
    : >"$3"
    curl -sN -m 20 -X POST "http://127.0.0.1:$PP$1" "${J[@]}" -H "MCP-Protocol-Version: $V" -H "Mcp-Method: tools/call" \
        -H "Mcp-Name: $2" --data-binary "$(body tools/call "\"name\":\"$2\"" '"progressToken":7')" >"$3" 2>/dev/null &
    SLOW=$!
    track $SLOW
    wait_for 10 grep -q '"running"' "$3"
}
cancelled_is() { mreq /mcp/mh tools/call '"name":"cancelled"'; [ "$(text)" = "mh: $1" ]; }
check "HTTP: the slow call runs (its progress came)" slow /mcp/mh slow "$T/slow_mh.out"
stop_pid $SLOW
check "HTTP: closing the client's stream closes the server's, which cancels the call" wait_for 10 cancelled_is 1
check "HTTP on /mcp: the slow call runs" slow /mcp mh__slow "$T/slow_mh2.out"
stop_pid $SLOW
check "HTTP on /mcp: closing the stream cancels the call" wait_for 10 cancelled_is 2
check "stdio: the slow call runs" slow /mcp/ms slow "$T/slow_ms.out"
UPID=$(jqr .id "$(last tools/call "$RS")")
stop_pid $SLOW
stdio_cancelled() { [ "$(jqr .requestId "$(last notifications/cancelled "$RS")")" = "$UPID" ]; }
check "stdio: closing the stream sends the server notifications/cancelled naming its own id" wait_for 10 stdio_cancelled

# ---- subscriptions/listen with list changes from the modern servers
listen() { # listen PATH OUT: subscriptions/listen in the background (LPID)
    : >"$2"
    curl -s -N -X POST "http://127.0.0.1:$PP$1" "${J[@]}" -H "MCP-Protocol-Version: $V" -H "Mcp-Method: subscriptions/listen" \
        --data-binary "$(body subscriptions/listen '"notifications":{"toolsListChanged":true,"promptsListChanged":true}')" >"$2" 2>/dev/null &
    LPID=$!
    track $LPID
    wait_for 10 grep -q 'notifications/subscriptions/acknowledged' "$2"
}
changed() { grep -q '"notifications/tools/list_changed".*"io.modelcontextprotocol/subscriptionId":5' "$1"; }
check "/mcp/mh: subscriptions/listen is acknowledged" listen /mcp/mh "$T/listen_mh.out"
L1=$LPID
check "/mcp: subscriptions/listen is acknowledged" listen /mcp "$T/listen_all.out"
L2=$LPID
mreq /mcp/mh tools/call '"name":"grow"'
is "$RESP_STATUS $(text)" "200 mh: grown" "the HTTP server grows a tool"
check "its list change reaches the subscription on /mcp/mh" wait_for 10 changed "$T/listen_mh.out"
check "and the one on /mcp" wait_for 10 changed "$T/listen_all.out"
mreq /mcp/mh tools/list '"cursor":"12"'
is "$(jqr '[.result.tools[].name] | join(",")')" "die,grown" "the new tool is listed"
stop_pid $L1
check "/mcp/ms: subscriptions/listen is acknowledged" listen /mcp/ms "$T/listen_ms.out"
for _ in 1 2 3 4; do mreq /mcp/ms tools/call '"name":"grow"'; done   # the child of each worker grows
check "a stdio modern server's list change reaches the subscription on /mcp/ms" wait_for 10 changed "$T/listen_ms.out"
stop_pid $LPID
stop_pid $L2

alive_after "2026-07-28 clients of 2026-07-28 servers"

# ---- a drain ends the long streams gracefully: a 2025 client's GET stream and a subscription
http POST "http://127.0.0.1:$PP/mcp/mh" "${J[@]}" --data-binary "$INIT"
SID=$(hdr Mcp-Session-Id)
: >"$T/get_drain.out"
curl -s -N "http://127.0.0.1:$PP/mcp/mh" -H "Mcp-Session-Id: $SID" -H "Accept: text/event-stream" >"$T/get_drain.out" 2>/dev/null &
GPID=$!
check "a 2025 client's GET stream is open (its priming event came)" wait_for 10 grep -q '^id: g' "$T/get_drain.out"
check "a subscription is open" listen /mcp "$T/listen_drain.out"
portico_stop
wait "$GPID"
is "$?" 0 "SIGTERM ends the GET stream cleanly (the client sees its end and may resume it elsewhere)"
wait "$LPID"
is "$(grep '^data: ' "$T/listen_drain.out" | tail -n 1 | cut -c7- | jq -c '.result._meta')" \
    '{"io.modelcontextprotocol/subscriptionId":5}' "and the subscription with its result"
grep -q "drain deadline reached" "$T/portico.err" && not_ok "the streams did not hold the drain to its deadline" \
    "$(grep "drain deadline" "$T/portico.err")" || ok "the streams did not hold the drain to its deadline"
done_testing
