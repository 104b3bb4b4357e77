#!/usr/bin/env bash
# MCP servers across a reload (SIGHUP): a stdio server whose definition did not change keeps
# its child (same pid), one whose args changed gets a new child, one removed from the file is
# stopped (its process ends, /mcp/<name> is 404) and one added is started; a session opened
# before the reload still works after it. The gateway's own shutdown stops every child.
. "$(dirname "$0")/lib.sh"

FIXTURE=$ROOT/tests/upstreams/mcp/fixture.mjs
NODE=$(command -v node)
PP=$(free_port)

config() { # the servers' lines
    cat <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "off"
mcp:
  servers:
$1
EOF
}
config '    - { name: keep, command: "'"$NODE"'", args: ["'"$FIXTURE"'", stdio, keep] }
    - { name: change, command: "'"$NODE"'", args: ["'"$FIXTURE"'", stdio, change] }
    - { name: drop, command: "'"$NODE"'", args: ["'"$FIXTURE"'", stdio, drop] }' >"$T/portico.yaml"
portico_start "$T/portico.yaml" || not_ok "portico starts with three MCP servers"

up() { [[ $(curl -s "http://127.0.0.1:$PP/readyz") == *"$1"* ]]; }
check "the three servers are up" wait_for 15 up '"keep":"up","change":"up","drop":"up"'

J=(-H "Content-Type: application/json")
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bb","version":"1"}}}'
post() { local p=$1 body=$2; shift 2; http POST "http://127.0.0.1:$PP$p" "${J[@]}" --data-binary "$body" "$@"; }
session() { post "/mcp/$1" "$INIT"; hdr Mcp-Session-Id; }
pid_of() { # SERVER SESSION: the pid the server's child reports
    post "/mcp/$1" '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"pid"}}' -H "Mcp-Session-Id: $2"
    jqr '.result.content[0].text'
}
SK=$(session keep); SC=$(session change); SD=$(session drop)
PK=$(pid_of keep "$SK"); PC=$(pid_of change "$SC"); PD=$(pid_of drop "$SD")
[[ $PK =~ ^[0-9]+$ && $PC =~ ^[0-9]+$ && $PD =~ ^[0-9]+$ ]] && ok "each child reports its pid" ||
    not_ok "each child reports its pid" "got '$PK' '$PC' '$PD'"

config '    - { name: keep, command: "'"$NODE"'", args: ["'"$FIXTURE"'", stdio, keep] }
    - { name: change, command: "'"$NODE"'", args: ["'"$FIXTURE"'", stdio, changed] }
    - { name: added, command: "'"$NODE"'", args: ["'"$FIXTURE"'", stdio, added] }' >"$T/portico.yaml"
kill -HUP "$PORTICO_PID"
check "after the reload the added server is up" wait_for 15 up '"keep":"up","change":"up","added":"up"'

is "$(pid_of keep "$SK")" "$PK" "an unchanged server keeps its child, and the session opened before the reload"
NC=$(pid_of change "$SC")
[[ $NC =~ ^[0-9]+$ && $NC != "$PC" ]] && ok "a server whose args changed runs in a new child" ||
    not_ok "a server whose args changed runs in a new child" "before $PC, after '$NC'"
post /mcp/change '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami"}}' -H "Mcp-Session-Id: $SC"
is "$(jqr '.result.content[0].text')" changed "...started with the new args"
gone() { ! kill -0 "$1" 2>/dev/null; }
check "the removed server's child has ended" wait_for 10 gone "$PD"
check "...and so has the changed server's old child" wait_for 10 gone "$PC"
post /mcp/drop "$INIT"
is "$RESP_STATUS" 404 "a removed server's endpoint is 404"
post /mcp/added "$INIT"
is "$RESP_STATUS $(jqr .result.serverInfo.name)" "200 fixture-added" "an added server answers"
PA=$(pid_of added "$(hdr Mcp-Session-Id)")

portico_stop
is "$PORTICO_STATUS" 0 "the gateway drains and exits 0"
check "its shutdown stopped every child" wait_for 10 gone "$PK"
check "...the added one too" wait_for 10 gone "$PA"
done_testing
