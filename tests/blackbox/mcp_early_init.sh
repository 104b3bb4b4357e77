#!/usr/bin/env bash
# A client that initializes on /mcp while an upstream is still starting (a gateway just
# restarted, a server that takes seconds to come up) is answered once that server's handshake
# is done, so the capabilities it is told include that server's (completions, resource
# subscriptions) for its whole session. The server here starts only when the test opens its
# gate (a FIFO it reads before exec'ing the relay), after the gateway has read the initialize;
# the same wait holds for a 2026-07-28 client's server/discover. A server whose start fails
# leaves the others' capabilities and the answer on time.
. "$(dirname "$0")/lib.sh"

RELAY=$ROOT/tests/upstreams/mcp/relay.mjs
NODE=$(command -v node)
PP=$(free_port)

# config ARGS: one worker and the MCP server rs: `sh` with ARGS (the members of a YAML list).
config() {
    cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "off"
data_dir: $T/data
mcp:
  servers:
    - { name: rs, command: sh, args: [$1] }
EOF
}
config '"-c", "read go <\"$0\" && exec \"$1\" \"$2\" stdio rs", "'"$T/gate"'", "'"$NODE"'", "'"$RELAY"'"'

J=(-H "Content-Type: application/json" -H "Accept: application/json, text/event-stream")
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bb","version":"1"}}}'

# read_by_gateway: every byte the one client connection sent was acknowledged, and the
# gateway's end holds none unread: the gateway has read (and so dispatched) the request.
read_by_gateway() {
    local client server
    client=$(ss -tinH state established "( dport = :$PP )")
    server=$(ss -tnH state established "( sport = :$PP )")
    [[ $client == *bytes_acked:* ]] && [ "$(awk 'NR == 1 { print $2 }' <<<"$client")" = 0 ] &&
        [ -n "$server" ] && [ "$(awk 'NR == 1 { print $1 }' <<<"$server")" = 0 ]
}

# initialize_while_starting FILE: starts the gateway with the server held at its gate, posts
# INIT to /mcp in the background (the answer in FILE), waits until the gateway has read it,
# (or answered it: a gateway that does not wait), then opens the gate and waits for the answer.
initialize_while_starting() {
    local out=$1
    rm -f "$T/gate"
    mkfifo "$T/gate"
    portico_start "$T/portico.yaml" || { not_ok "portico starts with a server held at its gate"; return 1; }
    like "$(curl -s "http://127.0.0.1:$PP/readyz")" '"rs":"down"' "the server is still starting"
    curl -s -o "$out" "${J[@]}" --data-binary "$INIT" "http://127.0.0.1:$PP/mcp" &
    local pid=$!
    track $pid
    answered_or_read() { ! kill -0 "$pid" 2>/dev/null || read_by_gateway; }
    check "the gateway has read the initialize" wait_for 10 answered_or_read
    echo go >"$T/gate"
    wait $pid
}

initialize_while_starting "$T/init.json"
is "$(jq -r '.result.capabilities.completions != null' "$T/init.json")" true \
    "initialize while a server starts: completions, which only that server has, are offered"
is "$(jq -r '.result.serverInfo.name' "$T/init.json")" portico "and the gateway answers as itself"
like "$(curl -s "http://127.0.0.1:$PP/readyz")" '"rs":"up"' "the server is up after the handshake"
portico_stop

# A 2026-07-28 client's server/discover waits the same way.
DISCOVER='{"jsonrpc":"2.0","id":2,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
INIT=$DISCOVER
J+=(-H "MCP-Protocol-Version: 2026-07-28" -H "Mcp-Method: server/discover")
initialize_while_starting "$T/discover.json"
is "$(jq -r '.result.capabilities.completions != null' "$T/discover.json")" true \
    "server/discover while a server starts: completions are offered"
portico_stop

# A server that fails to start: the client is answered when the start fails, without it.
config '"-c", "read go <\"$0\"; exit 3", "'"$T/gate"'"'
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bb","version":"1"}}}'
J=(-H "Content-Type: application/json" -H "Accept: application/json, text/event-stream")
initialize_while_starting "$T/failed.json"
is "$(jq -r '(.result.capabilities.tools != null) and (.result.capabilities.completions == null)' "$T/failed.json")" true \
    "initialize while a server fails to start: answered, without what that server would offer"
portico_stop

done_testing
