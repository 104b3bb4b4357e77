#!/usr/bin/env bash
# mcp.access: per-consumer and per-team allow and deny lists of MCP servers and tools, on
# /mcp/<server> and on /mcp: tools lists show only what the caller may use, a call of any
# other tool is refused with a JSON-RPC error naming the rule, a server the caller may not
# use at all is 403 and left out of /mcp; a consumer's entry wins over its team's; deny wins
# over allow; every tools/call is in the call log with its tool as the operation, refused
# ones with their error. check-config names each mistake of the section.
. "$(dirname "$0")/lib.sh"

FIXTURE=$ROOT/tests/upstreams/mcp/fixture.mjs
NODE=$(command -v node)
PP=$(free_port); AP=$(free_port)
D=$T/data
seed team acme && seed consumer app1 acme && seed consumer app2 acme && seed service mcp acme ||
    not_ok "the store is seeded"
K1=$(seed key app1)   # its own entry: some of alpha's tools
K2=$(seed key app2)   # the team's entry: everything but beta
for c in app1 app2; do seed subscribe "$c" mcp active || not_ok "$c is subscribed"; done

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
access_log: "off"
data_dir: $D
admin: { listen: "127.0.0.1:$AP" }
call_log: {}
mcp:
  auth: key
  access:
    - { team: acme, deny: [beta] }
    - consumer: app1
      allow: ["alpha/whoami", "alpha/s*"]
      deny: ["alpha/slow"]
  servers:
    - { name: alpha, command: "$NODE", args: ["$FIXTURE", stdio, alpha], auth: key }
    - { name: beta, command: "$NODE", args: ["$FIXTURE", stdio, beta], auth: key }
EOF
portico_start "$T/portico.yaml" || { not_ok "portico starts with mcp.access"; done_testing; exit 1; }
both_up() { [[ $(curl -s "http://127.0.0.1:$PP/readyz") == *'"alpha":"up","beta":"up"'* ]]; }
check "both MCP servers are up" wait_for 15 both_up

J=(-H "Content-Type: application/json" -H "Accept: application/json, text/event-stream")
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bb","version":"1"}}}'
# as KEY PATH BODY: one message with KEY (and the session SID when set)
as() {
    local key=$1 p=$2 body=$3
    http POST "http://127.0.0.1:$PP$p" "${J[@]}" -H "Authorization: Bearer $key" ${SID:+-H "Mcp-Session-Id: $SID"} \
        --data-binary "$body"
}
open_session() { SID=; as "$1" "$2" "$INIT"; SID=$(hdr Mcp-Session-Id); }
call() { as "$1" "$2" "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"$3\"}}"; }
names() { jqr '[.result.tools[].name] | sort | join(",")'; }
# all_tools KEY PATH: every tool name of every page of tools/list, sorted, comma-joined
all_tools() {
    local cursor="" all="[]" params
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        params=${cursor:+",\"params\":{\"cursor\":\"$cursor\"}"}
        as "$1" "$2" "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"$params}"
        all=$(jq -c --argjson a "$all" '$a + [.result.tools[].name]' <<<"$RESP_BODY")
        cursor=$(jqr '.result.nextCursor // ""')
        [ -n "$cursor" ] || break
    done
    jq -r 'sort | join(",")' <<<"$all"
}

# ---- a consumer's own entry on /mcp/alpha
open_session "$K1" /mcp/alpha
is "$RESP_STATUS" 200 "app1 opens /mcp/alpha"
is "$(all_tools "$K1" /mcp/alpha)" "shared,whoami" \
    "its tools list, every page, holds what allow names (a glob included) less what deny names"
call "$K1" /mcp/alpha whoami
is "$RESP_STATUS/$(jqr '.result.content[0].text')" "200/alpha" "an allowed tool is called"
call "$K1" /mcp/alpha echo
is "$RESP_STATUS/$(jqr .error.code)" "200/-32602" "a tool allow does not name is refused with a JSON-RPC error"
like "$(jqr .error.message)" "tool 'echo' of MCP server 'alpha' is not allowed for consumer 'app1' \(mcp.access\)" \
    "naming the tool, the server, the consumer and the setting"
call "$K1" /mcp/alpha slow
is "$(jqr .error.code)" -32602 "deny wins over an allow glob"
SID=
as "$K1" /mcp/beta "$INIT"
is "$RESP_STATUS/$(jqr .error.code)" "403/-32600" "a server no allow pattern names is 403"
like "$(jqr .error.message)" "consumer 'app1' may not use MCP server 'beta'" "saying so"

# ---- the same consumer on /mcp
open_session "$K1" /mcp
as "$K1" /mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
is "$(names)" "alpha__shared,alpha__whoami" "/mcp lists only its allowed tools, and nothing of beta"
call "$K1" /mcp alpha__whoami
is "$(jqr '.result.content[0].text')" alpha "an allowed tool is called through /mcp"
call "$K1" /mcp alpha__echo
is "$(jqr .error.code)" -32602 "a tool it may not use is refused through /mcp too"
call "$K1" /mcp beta__whoami
is "$(jqr .error.code)" -32602 "and a tool of a server it may not use"

# ---- the team's entry for another consumer of the team
open_session "$K2" /mcp/alpha
is "$(all_tools "$K2" /mcp/alpha | tr , '\n' | wc -l)" 9 "app2 (the team's entry: deny beta) sees all of alpha's tools"
call "$K2" /mcp/alpha echo
is "$RESP_STATUS/$(jqr .error)" "200/null" "and calls echo, which app1 may not"
SID=
as "$K2" /mcp/beta "$INIT"
is "$RESP_STATUS" 403 "but not beta"
open_session "$K2" /mcp
as "$K2" /mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
is "$(jqr '[.result.tools[].name | select(startswith("beta__"))] | length')/$(jqr '.result.tools | length')" "0/8" \
    "on /mcp it sees alpha's tools only (less the one whose prefixed name is too long)"

# ---- every tools/call in the call log, with its tool
ADMIN=$(cat "$D/admin-token" 2>/dev/null)
calls() { http GET "http://127.0.0.1:$AP/admin/v1/calls?$1" -H "Authorization: Bearer $ADMIN"; }
logged() { calls "operation=alpha/whoami&consumer=app1"; (($(jqr '.items | length') >= 2)); }
check "the calls of whoami, on /mcp/alpha and on /mcp, are in the call log as alpha/whoami" wait_for 10 logged
is "$(jqr '[.items[].path] | unique | join(",")')" "/mcp,/mcp/alpha" "from both endpoints"
refused() { calls "operation=alpha/echo&consumer=app1"; (($(jqr '.items | length') >= 2)); }
check "refused calls are logged with their tool" wait_for 10 refused
is "$(jqr '[.items[].error] | unique | join(",")')" mcp_access_denied "and the refusal as their error"
alive_after "calls refused by mcp.access"
portico_stop

# ---- check-config names each mistake
bad() {
    printf 'listen: ["127.0.0.1:%s"]\nmcp:\n%s\n  servers:\n    - { name: alpha, url: "http://127.0.0.1:9/mcp" }\n' \
        "$PP" "$1" >"$T/bad.yaml"
    config_refused "$2" "$3"
}
bad "  auth: key
  access: [{ consumer: a, team: t, deny: [alpha] }]" "an entry for a consumer and a team" \
    "mcp\.access\[0\]: name one consumer or one team"
bad "  auth: key
  access: [{ consumer: a, allow: [gamma] }]" "a pattern naming no server" "mcp\.access\[0\]\.allow\[0\]: no MCP server named 'gamma'"
bad "  auth: key
  access: [{ consumer: a, deny: [\"alpha/\"] }]" "a pattern without a tool after the slash" \
    "mcp\.access\[0\]\.deny\[0\]: 'alpha/' is not a server or server/tool pattern"
bad "  auth: key
  access: [{ consumer: a, deny: [alpha] }, { consumer: a, allow: [alpha] }]" "two entries for one consumer" \
    "mcp\.access\[1\]: a second entry for consumer 'a'"
bad "  access: [{ consumer: a, deny: [alpha] }]" "access without keys" "mcp\.access: callers are told apart by their key"
bad "  auth: key
  access: [{ consumer: a }]" "an entry that allows and denies nothing" "mcp\.access\[0\]: give allow, deny or both"
done_testing
