#!/usr/bin/env bash
# mcp.access: per-consumer and per-team allow and deny lists of MCP servers and tools, on
# /mcp/<server> and on /mcp: tools lists show only what the caller may use, a call of any
# other tool is refused with a JSON-RPC error naming the rule, a server the caller may not
# use at all is 403 and left out of /mcp; a consumer's entry wins over its team's; deny wins
# over allow; every tools/call is in the call log with its tool as the operation, refused
# ones with their error, with its arguments' shape (keys and types) and no value, in the
# JSON, NDJSON and CSV listings; with mcp.record_arguments the values too, masked by the
# policies that apply. check-config names each mistake of the section.
# mcp.apis beside the servers: a REST route's operations (OpenAPI) and a prompt API as tools,
# held to the same access entries ("pets/get*"), the built-in diagnose_connection as
# "portico/diagnose_connection"; a tool call recorded as pets/getPet on /mcp and, carried with
# the caller's key, on the route itself under the same consumer; an API made through the admin
# API (its imported document) as tools, its subscription checked; access entries made through
# the admin API as policies with an mcp member; /mcp with apis only and the doctor turned off;
# check-config naming each mistake of mcp.apis.
. "$(dirname "$0")/lib.sh"

FIXTURE=$ROOT/tests/upstreams/mcp/fixture.mjs
NODE=$(command -v node)
PP=$(free_port); AP=$(free_port); U1=$(free_port); MA=$(free_port)
D=$T/data
seed team acme && seed consumer app1 acme && seed consumer app2 acme && seed service mcp acme &&
    seed service pets acme && seed service card acme || not_ok "the store is seeded"
K1=$(seed key app1)   # its own entry: some of alpha's tools, pets' GET operations
K2=$(seed key app2)   # the team's entry: everything but beta
for c in app1 app2; do
    for s in mcp pets card; do seed subscribe "$c" "$s" active || not_ok "$c is subscribed to $s"; done
done
upstream_start pets "$U1" || not_ok "the REST upstream starts"
ai_mock_start a "$MA" || not_ok "the provider upstream starts"
cat >"$T/pets.yaml" <<EOF
openapi: 3.0.3
info: { title: Pets, version: "1" }
paths:
  /pets/{petId}:
    get:
      operationId: getPet
      parameters: [{ name: petId, in: path, required: true, schema: { type: integer } }]
  /pets:
    post:
      requestBody: { content: { application/json: { schema: { type: object } } } }
EOF

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
access_log: "off"
data_dir: $D
admin: { listen: "127.0.0.1:$AP" }
call_log: {}
providers:
  - { name: oai, type: openai, base_url: "http://127.0.0.1:$MA/v1", api_key: k }
models:
  - { name: card, targets: [{ provider: oai, model: "gpt-4o@reply=card" }] }
services:
  - { name: pets, targets: ["http://127.0.0.1:$U1"] }
  - name: card
    kind: prompt
    model: card
    prompt: { user: "Place: {{place}}" }
    variables: { place: { type: string, required: true, max_length: 50 } }
    output: { json_schema: { type: object, required: [city], properties: { city: { type: string } } } }
routes:
  - { name: pets, match: { path_prefix: /api }, service: pets, strip_prefix: true, auth: key }
  - { name: card, match: { path_prefix: /apis/card }, service: card, auth: key }
mcp:
  auth: key
  access:
    - { team: acme, deny: [beta] }
    - consumer: app1
      allow: ["alpha/whoami", "alpha/s*", "pets/get*", "spets/get*"]
      deny: ["alpha/slow"]
  apis:
    - { route: pets, openapi: pets.yaml }
    - { route: card }
    - { route: store-pets/v1, name: spets }   # a stored API, made below through the admin API
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
# unlike GOT TEXT NAME: ok when TEXT is not in GOT
unlike() { if [[ $1 == *"$2"* ]]; then not_ok "$3" "got: '${1:0:600}'"; else ok "$3"; fi; }
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
is "$(names)" "alpha__shared,alpha__whoami,pets__getPet" \
    "/mcp lists only its allowed tools (an API's operations too), and nothing of beta or the doctor"
call "$K1" /mcp alpha__whoami
is "$(jqr '.result.content[0].text')" alpha "an allowed tool is called through /mcp"
call "$K1" /mcp alpha__echo
is "$(jqr .error.code)" -32602 "a tool it may not use is refused through /mcp too"
call "$K1" /mcp beta__whoami
is "$(jqr .error.code)" -32602 "and a tool of a server it may not use"
call "$K1" /mcp pets__post_pets
like "$(jqr .error.code)/$(jqr .error.message)" "-32602/tool 'post_pets' of MCP server 'pets' is not allowed" \
    "an API's operation the entry does not allow is refused the same way"
as "$K1" /mcp '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"pets__getPet","arguments":{"petId":7}}}'
is "$(jqr .result.isError)/$(jqr .result.structuredContent.path)" "false//pets/7" \
    "an allowed operation is called through the keyed route (its prefix stripped, the id in the path)"
as "$K1" /mcp '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"diagnose_connection","arguments":{"target":"127.0.0.1:1"}}}'
like "$(jqr .error.code)/$(jqr .error.message)" "-32602/tool 'diagnose_connection' of MCP server 'portico' is not allowed" \
    "the built-in tool is held to the entry as portico/diagnose_connection"

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
is "$(jqr '[.result.tools[].name | select(startswith("beta__"))] | length')/$(jqr '.result.tools | length')" "0/12" \
    "on /mcp it sees alpha's tools (less the one whose prefixed name is too long), the APIs' and the doctor"
is "$(jqr '[.result.tools[].name | select(startswith("alpha__") | not)] | join(",")')" \
    "diagnose_connection,pets__post_pets,pets__getPet,card" \
    "the gateway's own tools come first (an API's operations by path, then method)"
is "$(jqr '.result.tools[] | select(.name == "card") | .inputSchema.properties.place.maxLength')" 50 \
    "a prompt API's tool takes its variables as declared"
as "$K2" /mcp '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"card","arguments":{"place":"Paris"}}}'
is "$(jqr .result.isError)/$(jqr .result.structuredContent.output.city)" "false/Paris" \
    "the prompt API's tool answers with its validated output"
as "$K2" /mcp '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"card","arguments":{}}}'
like "$(jqr .result.isError)/$(jqr '.result.content[0].text')" "true/HTTP 400: .*place" \
    "a variable the prompt API refuses comes back as an isError result naming it"

# ---- every tools/call in the call log, with its tool
ADMIN=$(cat "$D/admin-token" 2>/dev/null)
calls() { http GET "http://127.0.0.1:$AP/admin/v1/calls?$1" -H "Authorization: Bearer $ADMIN"; }
logged() { calls "operation=alpha/whoami&consumer=app1"; (($(jqr '.items | length') >= 2)); }
check "the calls of whoami, on /mcp/alpha and on /mcp, are in the call log as alpha/whoami" wait_for 10 logged
is "$(jqr '[.items[].path] | unique | join(",")')" "/mcp,/mcp/alpha" "from both endpoints"
refused() { calls "operation=alpha/echo&consumer=app1"; (($(jqr '.items | length') >= 2)); }
check "refused calls are logged with their tool" wait_for 10 refused
is "$(jqr '[.items[].error] | unique | join(",")')" mcp_access_denied "and the refusal as their error"
# ---- access entries made through the admin API: a policy's mcp member
admin() { http "$1" "http://127.0.0.1:$AP/admin/v1$2" -H "Authorization: Bearer $ADMIN" ${3:+--data-binary "$3"}; }
admin POST /policies '{"name":"app2-tools","team":"acme","applies_to":{"consumer":"app2"},"mcp":{"allow":["alpha/who*","pets"],"deny":["pets/post_*"]}}'
is "$RESP_STATUS" 201 "a policy with an mcp member is created through the admin API"
admin POST /policies '{"name":"app1-more","team":"acme","applies_to":{"consumer":"app1"},"mcp":{"allow":["beta"]}}'
is "$RESP_STATUS" 201 "and one for a consumer the file already has an entry for"
app2_narrowed() { open_session "$K2" /mcp; as "$K2" /mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'; [ "$(names)" = "alpha__whoami,pets__getPet" ]; }
check "once the configuration in force is rebuilt, app2's tools on /mcp are what its policy allows" wait_for 10 app2_narrowed
call "$K2" /mcp alpha__echo
like "$(jqr .error.code)/$(jqr .error.message)" "-32602/tool 'echo' of MCP server 'alpha' is not allowed for consumer 'app2'" \
    "a call of another tool is refused (the consumer's policy wins over its team's file entry)"
SID=; as "$K2" /mcp/beta "$INIT"
is "$RESP_STATUS" 403 "and a server it does not allow is 403"
check "the file's entry for app1 wins over its policy, with a log line" \
    wait_log "policy 'app1-more': its mcp access is not enforced: mcp.access \(or an earlier policy\) has an entry for consumer 'app1'" "$T/portico.err"
admin POST /policies '{"name":"bad-scope","team":"acme","applies_to":{"team":"acme"},"mcp":{"deny":["a/"]}}'
like "$RESP_STATUS/$(jqr .error.message)" "400/.*'a/' is not a server or server/tool pattern" "a malformed pattern is refused at write"
admin POST /policies '{"name":"bad-scope","team":"acme","applies_to":{"service":"pets"},"mcp":{"deny":["alpha"]}}'
like "$RESP_STATUS/$(jqr .error.message)" "400/.*MCP access is a consumer's or a team's" "and a policy on a service"
# ---- a stored API's imported document gives its tools too
admin POST /services '{"name":"store-pets","team":"acme","kind":"rest","targets":["http://127.0.0.1:'"$U1"'"]}'
is "$RESP_STATUS" 201 "a service is created through the admin API"
http POST "http://127.0.0.1:$AP/admin/v1/services/store-pets/openapi?api=v1&path_prefix=/store" \
    -H "Authorization: Bearer $ADMIN" --data-binary @"$T/pets.yaml"
is "$RESP_STATUS" 200 "and its API v1 gets an OpenAPI document"
spets_listed() { open_session "$K1" /mcp; as "$K1" /mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'; [[ $(names) == *spets__getPet* ]]; }
check "the stored API's operations become tools once the configuration is rebuilt" wait_for 10 spets_listed
as "$K1" /mcp '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"spets__getPet","arguments":{"petId":3}}}'
like "$(jqr .result.isError)/$(jqr '.result.content[0].text')" "true/HTTP 403: .*subscri" \
    "the stored API's route checks the caller's subscription to its service"
admin POST /subscriptions '{"consumer":"app1","service":"store-pets"}'
[ "$(jqr .status)" = active ] || admin POST "/subscriptions/$(jqr .id)/approve"
subscribed() {
    as "$K1" /mcp '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"spets__getPet","arguments":{"petId":3}}}'
    [ "$(jqr .result.isError)" = false ]
}
check "once subscribed, the caller's call goes through" wait_for 10 subscribed
is "$(jqr .result.structuredContent.path)" "/store/pets/3" "to the stored API's route (the document's paths under its prefix)"
admin DELETE /policies/app2-tools
app2_back() { open_session "$K2" /mcp; as "$K2" /mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'; [ "$(jqr '.result.tools | length')" = 14 ]; }
check "deleting the policy gives app2 its team's entry back" wait_for 10 app2_back
api_logged() { calls "operation=pets/getPet&consumer=app1"; (($(jqr '.items | length') >= 1)); }
check "an API tool's call is in the call log as pets/getPet" wait_for 10 api_logged
is "$(jqr '.items[0].path')" "/mcp" "on /mcp"
route_logged() { calls "service=pets&consumer=app1"; (($(jqr '.items | length') >= 1)); }
check "and the request it made is in the call log of the route, under the same consumer" wait_for 10 route_logged
is "$(jqr '.items[0].path')/$(jqr '.items[0].status')" "/api/pets/7/200" "as the route served it"
is "$(jqr '.items[0].arguments_shape')/$(jqr '.items[0].arguments')" "null/null" "a call that is not a tool call has no arguments"
# ---- a tool call's arguments: their shape, never their values (mcp.record_arguments is off)
as "$K2" /mcp '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"card","arguments":{"place":"Zanzibar","opts":{"n":3,"tags":["x"]}}}}'
shaped() { calls "operation=card/card&consumer=app2"; [[ $(jqr '.items[0].arguments_shape') == *opts* ]]; }
check "a tool call is recorded with its arguments' shape" wait_for 10 shaped
is "$(jq -c '.items[0].arguments_shape' <<<"$RESP_BODY")" '{"opts":{"n":"integer","tags":["string"]},"place":"string"}' \
    "keys in order with their values' types"
is "$(jqr '.items[0].arguments')" null "and no values"
unlike "$(jq -c '.items[0]' <<<"$RESP_BODY")" "Zanzibar" "no value appears anywhere in the record"
calls "operation=card/card&consumer=app2&format=ndjson&limit=1"
like "$RESP_BODY" '"arguments_shape":\{"opts":\{"n":"integer","tags":\["string"\]\},"place":"string"\}' "the NDJSON export has the shape"
calls "operation=card/card&consumer=app2&format=csv&limit=1"
like "$(head -1 <<<"$RESP_BODY")" ",arguments_shape,arguments" "the CSV export has the columns"
like "$RESP_BODY" '"\{""opts"":\{""n"":""integer"",""tags"":\[""string""\]\},""place"":""string""\}"' "and the shape"
unlike "$RESP_BODY" "Zanzibar" "without the values"
alive_after "calls refused by mcp.access"
portico_stop

# ---- /mcp with APIs only, and the doctor turned off
# and arguments' values recorded (mcp.record_arguments), masked by the policies that apply
D=$T/data2
cat >"$T/apis-only.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
access_log: "off"
data_dir: $D
admin: { listen: "127.0.0.1:$AP" }
call_log: {}
services: [{ name: pets, targets: ["http://127.0.0.1:$U1"] }]
routes: [{ name: pets, match: { path_prefix: /api }, service: pets, strip_prefix: true }]
policies:
  - name: pii   # every call, /mcp's included
    mask: { request: [{ detect: email, action: replace }, { path: \$.params.arguments.petId, action: replace }] }
mcp:
  diagnose_connection: false
  prefix: false
  record_arguments: true
  apis: [{ route: pets, openapi: pets.yaml }]
EOF
portico_start "$T/apis-only.yaml" || not_ok "portico starts with mcp.apis and no servers"
ADMIN=$(cat "$D/admin-token" 2>/dev/null)
SID=; as "" /mcp "$INIT"; SID=$(hdr Mcp-Session-Id)
as "" /mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
is "$(names)" "getPet,post_pets" "/mcp serves the APIs' tools with no server, unprefixed, without the doctor"
call "" /mcp diagnose_connection
like "$(jqr .error.code)/$(jqr .error.message)" "-32602/unknown tool 'diagnose_connection'" "which is an unknown tool"
as "" /mcp '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"getPet","arguments":{"petId":41}}}'
is "$(jqr .result.structuredContent.path)" "/pets/41" "a masking rule for the record leaves the call's arguments as sent"
as "" /mcp '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"getPet","arguments":{"petId":41,"note":"Quokka ann@example.com"}}}'
like "$(jqr .error.message)" "unknown argument 'note'" "a call the tool refuses..."
valued() { calls "operation=pets/getPet"; [ "$(jqr '.items[0].arguments.note // empty')" ]; } # the second call's record
check "...is recorded too, with mcp.record_arguments its values" wait_for 10 valued
is "$(jqr '.items[0].arguments.petId')" "[REDACTED]" "masked by the policies that apply (a path rule at \$.params.arguments)"
is "$(jq -c '.items[0].arguments_shape' <<<"$RESP_BODY")" '{"note":"string","petId":"integer"}' "beside the shape"
is "$(jqr '.items[0].arguments.note')" "Quokka [REDACTED]" "a value is kept as the masking policies that apply leave it"
unlike "$(jq -c '.items[0]' <<<"$RESP_BODY")" "ann@example.com" "never as it came"
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
# bad_api APIS_YAML WHAT REGEX: a file with the pets route, an AI route and the card prompt API
bad_api() {
    cat >"$T/bad.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
providers: [{ name: oai, type: openai, base_url: "http://127.0.0.1:9/v1", api_key: k }]
models: [{ name: card, targets: [{ provider: oai, model: gpt-4o }] }]
services:
  - { name: pets, targets: ["http://127.0.0.1:9"] }
  - { name: card, kind: prompt, model: card, prompt: { user: "{{place}}" }, variables: { place: { type: string } } }
routes:
  - { name: pets, match: { path_prefix: /api }, service: pets }
  - { name: card, match: { path_prefix: /card }, service: card }
  - { name: chat, match: { path_prefix: /v1/ }, ai: {} }
mcp:
  servers: [{ name: alpha, url: "http://127.0.0.1:9/mcp" }]
  apis:
$1
EOF
    config_refused "$2" "$3"
}
bad_api "    - { route: nope }" "an unknown route" "mcp\.apis\[0\]\.route: no route named 'nope'"
bad_api "    - { route: svc/api, name: s, openapi: $T/pets.yaml }" "a document for a stored API" \
    "mcp\.apis\[0\]\.openapi: 'svc/api' names a stored API: its imported document is used"
bad_api "    - { route: chat, name: c }" "an AI route" "mcp\.apis\[0\]\.route: route 'chat' is not a service's route"
bad_api "    - { route: pets }" "a REST route without a document" "mcp\.apis\[0\]: route 'pets' is a REST route: give openapi"
bad_api "    - { route: card, openapi: $T/pets.yaml }" "a document for a prompt API" \
    "mcp\.apis\[0\]\.openapi: route 'card' serves a prompt API"
bad_api "    - { route: pets, openapi: $T/missing.yaml }" "a document that is not there" "mcp\.apis\[0\]\.openapi: .*missing\.yaml"
bad_api "    - { route: pets, openapi: $T/portico.yaml }" "a file that is not an OpenAPI document" \
    "mcp\.apis\[0\]\.openapi: .*portico\.yaml: "
bad_api "    - { route: pets, openapi: $T/pets.yaml, prefix: false }
    - { route: pets, openapi: $T/pets.yaml, prefix: false, name: again }" "two tools of one name" \
    "mcp\.apis: two tools are named 'post_pets' \(the second from apis entry 'again'\)"
bad_api "    - { route: pets, openapi: $T/pets.yaml, name: alpha }" "an entry named like a server" \
    "mcp\.apis\[0\]: the name 'alpha' is taken by an MCP server"
bad_api "    - { route: card, name: diagnose_connection }" "a tool named like the built-in one" \
    "mcp\.apis: the tool name 'diagnose_connection' of apis entry 'diagnose_connection' is the built-in tool's"
bad_api "    - { route: pets, openapi: $T/pets.yaml, name: a_name_of_sixty_three_characters_that_leaves_no_room_for_tools_ }" \
    "an entry whose tools' names cannot fit" "too long: it prefixes tool names"
done_testing
