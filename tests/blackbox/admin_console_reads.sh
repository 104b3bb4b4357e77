#!/usr/bin/env bash
# What the console reads beyond the stored objects: GET /policies/{id}/usage (a policy's quota
# and budget windows against their limits, from the totals the gateway writes every second;
# whoever reads the policy reads its usage, another team gets 404) and GET /mcp-servers (the
# file's MCP servers with their health and call counts, never a child's arguments or
# environment; admins only, read-only) with each one's tools (GET /mcp-servers/{name}/tools:
# every page as the gateway listed it, and listed again when the server says its list
# changed), GET /upstreams (each service target's health as the balancer sees it: up, then
# ejected once it fails) and the providers' usable keys.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port); AP=$(free_port)
FIXTURE=$ROOT/tests/upstreams/mcp/fixture.mjs
RELAY=$ROOT/tests/upstreams/mcp/relay.mjs
NODE=$(command -v node)
upstream_start echo "$U1" || { not_ok "upstream starts"; done_testing; exit 1; }
CONF="$(keyed_echo_lines)
call_log: { enabled: false }
workers: 1
mcp:
  servers:
    - name: alpha
      command: \"$NODE\"
      args: [\"$FIXTURE\", stdio, alpha]
      env: { FIXTURE_SECRET: \"s3cret-env-value\" }
    - { name: grower, command: \"$NODE\", args: [\"$RELAY\", stdio, grower] }
providers:
  - { name: oai, type: openai, base_url: \"http://127.0.0.1:9/v1\", api_keys: [k-one, k-two] }
models:
  - { name: gpt, targets: [{ provider: oai, model: gpt-4o }] }"
admin_start "$CONF" || { not_ok "portico with the admin API starts"; done_testing; exit 1; }

api POST /teams '{"name":"shop"}' >/dev/null
api POST /teams '{"name":"other"}' >/dev/null
api POST /consumers '{"name":"web","team":"shop"}' >/dev/null
api POST /consumers/web/keys '{"label":"ci"}'
KEY=$(jqr .key)
api POST /subscriptions '{"consumer":"web","service":"echo"}' >/dev/null
PW="a long enough passphrase"
api POST /users "{\"name\":\"dev\",\"password\":\"$PW\",\"team\":\"shop\",\"role\":\"developer\"}" >/dev/null
api POST /users "{\"name\":\"rival\",\"password\":\"$PW\",\"team\":\"other\",\"role\":\"team_admin\"}" >/dev/null
login() { http POST "http://127.0.0.1:$AP/admin/v1/tokens" --data-binary "{\"user\":\"$1\",\"password\":\"$PW\"}"; jqr .token; }
DEV=$(login dev); RIVAL=$(login rival)

# ---- usage of a policy's quota and budget ----
api POST /policies '{"name":"web-quota","team":"shop","applies_to":{"consumer":"web"},
                     "quota":{"requests_per_day":5},"budget":{"usd_per_month":2}}'
is "$RESP_STATUS" 201 "a policy with a daily quota and a monthly budget"
api GET /policies/web-quota/usage
is "$RESP_STATUS/$(jqr .policy)/$(jqr '.windows | length')/$(jqr .rates_counted)" "200/web-quota/0/false" \
    "before any call its usage is empty"
for i in 1 2; do http GET "http://127.0.0.1:$PP/echo/x" -H "Authorization: Bearer $KEY"; done
is "$RESP_STATUS" 200 "two calls under the quota pass"
counted() { api GET /policies/web-quota/usage; [ "$(jqr '[.windows[] | select(.window == "quota.requests_per_day")][0].used')" = 2 ]; }
wait_for 10 counted
check "the daily quota's window shows the two calls once the totals are written" counted
W=$(jqr '[.windows[] | select(.window == "quota.requests_per_day")][0]')
is "$(jqr .limit "$W")/$(jqr .unit "$W")/$(jqr .group "$W")" "5/requests/" "used against its limit, in its unit, one window for all"
NOW=$(date +%s)
check "it resets within a day" test "$(jqr .resets_at "$W")" -gt "$NOW" -a "$(jqr .resets_at "$W")" -le $((NOW + 86400 + 3600))
api GET /policies/web-quota/usage "" "$DEV"
is "$RESP_STATUS/$(jqr '.windows | length > 0')" "200/true" "a developer of the team reads it too"
api GET /policies/web-quota/usage "" "$RIVAL"
is "$RESP_STATUS/$(jqr .error.code)" "404/not_found" "another team's admin gets 404, as for the policy"
api POST /policies/web-quota/usage '{}'
is "$RESP_STATUS" 405 "usage is read-only"
api GET /policies/nope/usage
is "$RESP_STATUS" 404 "no such policy: 404"

# ---- MCP servers ----
alpha_up() { [[ $(curl -s "http://127.0.0.1:$PP/readyz") == *'"alpha":"up","grower":"up"'* ]]; }
wait_for 15 alpha_up
api GET /mcp-servers
is "$RESP_STATUS/$(jqr '[.items[].name] | join(",")')" "200/alpha,grower" "admins list the file's MCP servers"
is "$(jqr '.items[0].transport')/$(jqr '.items[0].status')/$(jqr '.items[0].read_only')" "stdio/up/true" \
    "with their transport and health"
is "$(jqr '.items[0].command')" "$NODE" "a stdio server names its command"
unlike() { if [[ $1 == *"$2"* ]]; then not_ok "$3"; else ok "$3"; fi; }
unlike "$RESP_BODY" "s3cret-env-value" "never its environment"
unlike "$RESP_BODY" "fixture.mjs" "nor its arguments"
api GET /mcp-servers/alpha
is "$RESP_STATUS/$(jqr .name)" "200/alpha" "one server by name"
api GET /mcp-servers/nope
is "$RESP_STATUS" 404 "an unknown server is 404"
api GET /mcp-servers "" "$DEV"
is "$RESP_STATUS/$(jqr .error.code)" "403/forbidden" "other roles may not read them"
api POST /mcp-servers '{"name":"x"}'
is "$RESP_STATUS/$(jqr .error.code)" "405/read_only" "they are declared by the file"

# ---- MCP servers' tools: listed by the gateway after the handshake, every page ----
listed() { api GET "/mcp-servers/$1/tools"; [ "$(jqr .listed_at)" != null ] && [ "$(jqr .listed_at)" != "" ]; }
wait_for 15 listed alpha
is "$RESP_STATUS/$(jqr .server)/$(jqr '[.items[].name] | join(",")')" \
    "200/alpha/whoami,echo,add,crash,noise,slow,shared,a_tool_name_long_enough_to_pass_sixty_four_characters_prefixed,pid" \
    "a server's tools, every page of its list (two a page), under its own names"
is "$(jqr '.items[] | select(.name == "add") | [.description, .inputSchema.type, .inputSchema.properties.a.type] | join("/")')" \
    "a + b/object/number" "each with its description and input schema"
NOW=$(date +%s)
check "listed_at says when (Unix seconds)" test "$(jqr .listed_at)" -le "$NOW" -a "$(jqr .listed_at)" -gt $((NOW - 60))
api GET /mcp-servers/alpha
is "$(jqr .tools)" 9 "the server's own row counts them"
api GET /mcp-servers/nope/tools
is "$RESP_STATUS/$(jqr .error.code)" "404/not_found" "an unknown server has no tools: 404"
api GET /mcp-servers/alpha/prompts
is "$RESP_STATUS" 404 "nothing else is below a server"
api GET /providers/oai/tools
is "$RESP_STATUS" 404 "nor below another kind"
api GET /mcp-servers/alpha/tools "" "$DEV"
is "$RESP_STATUS/$(jqr .error.code)" "403/forbidden" "other roles may not read them"
api POST /mcp-servers/alpha/tools '{}'
is "$RESP_STATUS/$(jqr .error.code)" "405/read_only" "read-only"
# a server that changes its list says so, and the gateway lists it again
wait_for 15 listed grower
is "$(jqr '[.items[].name] | index("grown")')" null "before: no tool 'grown'"
J=(-H "Content-Type: application/json" -H "Accept: application/json, text/event-stream")
http POST "http://127.0.0.1:$PP/mcp/grower" "${J[@]}" --data-binary \
    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bb","version":"1"}}}'
GSID=$(hdr Mcp-Session-Id)
http POST "http://127.0.0.1:$PP/mcp/grower" "${J[@]}" -H "Mcp-Session-Id: $GSID" --data-binary \
    '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"grow"}}'
is "$RESP_STATUS/$(jqr '.result.content[0].text')" "200/grower: grown" "a tool call makes the server add a tool"
grown() { api GET /mcp-servers/grower/tools; [ "$(jqr '[.items[].name] | index("grown") != null')" = true ]; }
check "after its notifications/tools/list_changed the gateway lists it again" wait_for 10 grown

# ---- providers and upstreams: their health ----
api GET /providers/oai
is "$RESP_STATUS/$(jqr .keys)/$(jqr .keys_usable)/$(jqr .status)" "200/2/2/up" "a provider: its keys counted, how many are usable, up"
unlike "$RESP_BODY" "k-one" "never a key"
api GET /upstreams
is "$RESP_STATUS/$(jqr '[.items[].name] | join(",")')" "200/echo" "admins list the services' upstreams"
is "$(jqr '.items[0].status')/$(jqr '.items[0].targets[0].url')/$(jqr '.items[0].targets[0].status')" \
    "up/http://127.0.0.1:$U1/up" "a target that answers is up"
check "its requests are counted" test "$(jqr '.items[0].targets[0].requests')" -ge 2
upstream_stop echo
ejected() {
    http GET "http://127.0.0.1:$PP/echo/x" -H "Authorization: Bearer $KEY"
    api GET /upstreams/echo
    [ "$(jqr '.targets[0].status')" = ejected ]
}
wait_for 10 ejected
is "$(jqr .status)/$(jqr '.targets[0].status')/$(jqr '.targets_available')" "down/ejected/0" \
    "a target that stops answering is ejected, its service down"
check "with when it comes back" test "$(jqr '.targets[0].ejected_for_ms')" -gt 0
api GET /upstreams "" "$DEV"
is "$RESP_STATUS/$(jqr .error.code)" "403/forbidden" "other roles may not read upstreams"

portico_stop
done_testing
