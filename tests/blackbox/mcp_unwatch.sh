#!/usr/bin/env bash
# Resource subscriptions with two workers: each worker has its own instance of a server (a stdio
# server's child per worker; a session with an HTTP server per worker). Every instance that
# subscribed to a resource is told resources/unsubscribe once no session watches it any more:
# after the last watcher's DELETE, and after its unsubscribe on whichever worker it lands. One
# subscription with an HTTP server serves every worker (its updates would otherwise reach a
# client once per worker); a stdio child that restarts is subscribed again; a subscribe the
# server refused is not kept. The relay records what each instance was asked (RELAY_RECORD).
. "$(dirname "$0")/lib.sh"

RELAY=$ROOT/tests/upstreams/mcp/relay.mjs
NODE=$(command -v node)
PP=$(free_port); RH=$(free_port)
REC=$T/record
W=test://watched-resource
: >"$REC"

RELAY_RECORD=$REC "$NODE" "$RELAY" http rh "$RH" >"$T/relay-http.log" 2>&1 &
track $!
check "the HTTP relay server listens" wait_for 15 grep -qs listening "$T/relay-http.log"

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: "off"
data_dir: $T/data
mcp:
  servers:
    - { name: rs, command: "$NODE", args: ["$RELAY", stdio, rs], env: { RELAY_RECORD: "$REC" } }
    - { name: rh, url: "http://127.0.0.1:$RH/mcp" }
EOF
portico_start "$T/portico.yaml" || { not_ok "portico starts with two MCP servers"; done_testing; exit 1; }
both_up() { [[ $(curl -s "http://127.0.0.1:$PP/readyz") == *'"rs":"up","rh":"up"'* ]]; }
check "both MCP servers are up" wait_for 20 both_up

J=(-H "Content-Type: application/json" -H "Accept: application/json, text/event-stream")
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bb","version":"1"}}}'
# Each request is a connection of its own: the kernel hands it to either worker.
post() { local p=$1 body=$2; shift 2; http POST "http://127.0.0.1:$PP$p" "${J[@]}" --data-binary "$body" "$@"; }
session() { post "$1" "$INIT"; hdr Mcp-Session-Id; }
watch() { # PATH SID METHOD: resources/subscribe or unsubscribe of $W; prints status and result
    post "$1" "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"resources/$3\",\"params\":{\"uri\":\"$W\"}}" -H "Mcp-Session-Id: $2"
    echo "$RESP_STATUS $(jqr .result)"
}
# instances NAME METHOD: the instances of server NAME that were asked METHOD, sorted, one line
instances() { grep " $2 $W\$" "$REC" | cut -d' ' -f1 | grep "^$1\." | sort -u | tr '\n' ' '; }
recorded() { [ "$(instances "$1" "$2")" = "$3" ]; }
# subscribe_on_both PATH SID: the session subscribes again and again until both workers'
# children of rs subscribed (a subscribe a worker's child already made is answered here)
subscribe_on_both() {
    local i
    for ((i = 0; i < 60; i++)); do
        [ "$(instances rs subscribe | wc -w)" -ge 2 ] && return 0
        [ "$(watch "$1" "$2" subscribe)" = "200 {}" ] || return 1
    done
    return 1
}

# ---- a stdio server: each worker's child subscribes; the last DELETE tells both
A=$(session /mcp/rs)
B=$(session /mcp/rs)
is "$(watch /mcp/rs "$A" subscribe)" "200 {}" "a subscribe is answered"
check "a second session subscribes through the other worker too" subscribe_on_both /mcp/rs "$B"
SUBS=$(instances rs subscribe)
is "$(instances rs unsubscribe)" "" "nothing is unsubscribed while sessions watch"
post /mcp/rs '{}' -X DELETE -H "Mcp-Session-Id: $A"
is "$RESP_STATUS" 200 "the first session ends"
is "$(instances rs unsubscribe)" "" "...and the other still watches: no child is told to stop"
post /mcp/rs '{}' -X DELETE -H "Mcp-Session-Id: $B"
is "$RESP_STATUS" 200 "the last watching session ends"
check "both children that subscribed are told resources/unsubscribe" \
    wait_for 10 recorded rs unsubscribe "$SUBS"

# ---- the last unsubscribe lands on one worker: both children are told
: >"$REC"
C=$(session /mcp/rs)
D=$(session /mcp)
is "$(watch /mcp/rs "$C" subscribe)" "200 {}" "a session of /mcp/rs subscribes again"
check "a session of /mcp subscribes through the other worker too" subscribe_on_both /mcp "$D"
SUBS=$(instances rs subscribe)
is "$(watch /mcp/rs "$C" unsubscribe)" "200 {}" "an unsubscribe while another session watches is answered"
is "$(instances rs unsubscribe)" "" "...and no child is told to stop"
is "$(watch /mcp "$D" unsubscribe)" "200 {}" "the last watcher's unsubscribe is answered"
check "both children that subscribed are told resources/unsubscribe, whichever worker got it" \
    wait_for 10 recorded rs unsubscribe "$SUBS"

# ---- an HTTP server: one subscription serves both workers, told to stop by the last watcher
: >"$REC"
E=$(session /mcp/rh)
F=$(session /mcp/rh)
is "$(watch /mcp/rh "$E" subscribe)" "200 {}" "a subscribe to the HTTP server is answered"
n_ok=0
for i in 1 2 3 4 5 6 7 8; do [ "$(watch /mcp/rh "$F" subscribe)" = "200 {}" ] && n_ok=$((n_ok + 1)); done
is "$n_ok" 8 "another session's subscribes, on either worker, are answered"
SUBS=$(instances rh subscribe)
is "$(wc -w <<<"$SUBS")" 1 "the server got one subscribe: one of the gateway's sessions with it subscribed ($SUBS)"
is "$(watch /mcp/rh "$E" unsubscribe)" "200 {}" "the first session unsubscribes"
post /mcp/rh '{}' -X DELETE -H "Mcp-Session-Id: $F"
is "$RESP_STATUS" 200 "the last watching session ends"
check "the session with the server that subscribed is told resources/unsubscribe" \
    wait_for 10 recorded rh unsubscribe "$SUBS"
is "$(grep -c " unsubscribe " "$REC")" 1 "...once"

# ---- a child that restarts is subscribed again to what its worker held, and told to stop later
: >"$REC"
H=$(session /mcp/rs)
is "$(watch /mcp/rs "$H" subscribe)" "200 {}" "a session subscribes once more"
OLD=$(instances rs subscribe)
check "one child subscribed" test "$(wc -w <<<"$OLD")" = 1
OLD_PID=$(cut -d. -f2 <<<"$OLD")
kill "$OLD_PID"
renewed() { [ -n "$(instances rs subscribe | tr ' ' '\n' | grep -v "^${OLD%% }\$")" ]; }
check "the child started in its place is subscribed again" wait_for 20 renewed
NEW=$(instances rs subscribe | tr ' ' '\n' | grep -v "^${OLD%% }\$" | tr '\n' ' ')
post /mcp/rs '{}' -X DELETE -H "Mcp-Session-Id: $H"
check "the new child is told resources/unsubscribe when the session ends" wait_for 10 recorded rs unsubscribe "$NEW"

# ---- a subscribe the server refuses keeps nothing: the next one is the server's to refuse too
G=$(session /mcp/rs)
for i in 1 2 3 4; do
    post /mcp/rs '{"jsonrpc":"2.0","id":8,"method":"resources/subscribe","params":{"uri":"test://nobody"}}' -H "Mcp-Session-Id: $G"
    is "$RESP_STATUS $(jqr .error.code)" "200 -32002" "a subscribe to a resource the server does not have is its error ($i)"
done

check "portico is still alive" portico_alive
done_testing
