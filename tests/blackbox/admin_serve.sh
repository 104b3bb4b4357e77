#!/usr/bin/env bash
# Services and APIs created through the admin API are served by the gateway, without a
# reload and from the first call after the answer: a REST service's API forwards to its
# targets (with its rewrite, methods and key checks), an AI service's API serves only the
# service's models under its own prefix, a change of path or a deletion takes effect at
# once, a service the gateway could not serve is refused with 400 naming the field, and
# the file's own routes keep working throughout.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port); U2=$(free_port); MA=$(free_port); AP=$(free_port)
upstream_start one "$U1" || { not_ok "upstream one starts"; done_testing; exit 1; }
upstream_start two "$U2" || { not_ok "upstream two starts"; done_testing; exit 1; }
ai_mock_start mock "$MA" || not_ok "the provider upstream starts"
admin_start "workers: 2
services:
  - name: filed
    targets: [\"http://127.0.0.1:$U1\"]
routes:
  - name: filed
    match: { path_prefix: \"/filed/\" }
    service: filed
providers:
  - { name: ok, type: openai, base_url: \"http://127.0.0.1:$MA/v1\", api_key: ok-key }
models:
  - { name: ok-model, targets: [{ provider: ok, model: gpt-4o }] }
  - { name: other-model, targets: [{ provider: ok, model: gpt-4o-mini }] }" ||
    { not_ok "portico with the admin API starts"; done_testing; exit 1; }

gw() { local p=$1; shift; http "${M:-GET}" "http://127.0.0.1:$PP$p" "$@"; }

api POST /teams '{"name":"shop"}' >/dev/null
get /orders/1
is "$RESP_STATUS" 404 "before the API exists its path is not routed"

api POST /services "{\"name\":\"orders\",\"team\":\"shop\",\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:$U2\"],\"timeouts\":{\"connect\":\"2s\"}}"
is "$RESP_STATUS" 201 "a REST service is created"
api POST /services/orders/apis '{"name":"v1","path_prefix":"/orders/","methods":["GET","POST"],"auth":"none","rewrite":"/api/orders/"}'
is "$RESP_STATUS" 201 "an API without keys is created"
get /orders/1
is "$RESP_STATUS" 200 "the first call after the answer is served"
is "$(jqr .name)" two "by the service's own target"
is "$(jqr .path)" "/api/orders/1" "with the API's rewrite"
M=DELETE gw /orders/1
is "$RESP_STATUS" 404 "a method the API does not list is not routed"

# keys and subscriptions on an API the store declares
api PATCH /services/orders/apis/v1 '{"auth":"key"}'
is "$RESP_STATUS" 200 "the API now requires a key"
get /orders/1
is "$RESP_STATUS" 401 "a call without a key is refused from the next call"
api POST /consumers '{"name":"web","team":"shop"}' >/dev/null
api POST /consumers/web/keys '{"label":"ci"}'
KEY=$(jqr .key)
get /orders/1 -H "Authorization: Bearer $KEY"
is "$RESP_STATUS" 403 "a key without a subscription gets 403"
like "$RESP_BODY" "not subscribed" "naming the missing subscription"
api POST /subscriptions '{"consumer":"web","service":"orders"}'
get /orders/1 -H "Authorization: Bearer $KEY"
is "$RESP_STATUS" 200 "subscribed, the key passes"
is "$(echo_header x-portico-consumer)" web "the upstream is told the consumer"
is "$(echo_header authorization)" "" "and never sees the Portico key"

# a change of path and a deletion
api PATCH /services/orders/apis/v1 '{"path_prefix":"/shop/orders/","rewrite":null}'
is "$RESP_STATUS" 200 "the API's path changes"
get /shop/orders/2 -H "Authorization: Bearer $KEY"
is "$RESP_STATUS" 200 "the new path is served at once"
is "$(jqr .path)" "/shop/orders/2" "without the rewrite that was removed"
get /orders/2 -H "Authorization: Bearer $KEY"
is "$RESP_STATUS" 404 "the old path is gone, 404 and never 403"

# an AI service: its models only, under its own prefix
api POST /services '{"name":"assist","team":"shop","kind":"ai","models":["ok-model"]}'
is "$RESP_STATUS" 201 "an AI service is created"
api POST /services/assist/apis '{"name":"chat","path_prefix":"/assist/","auth":"none"}'
is "$RESP_STATUS" 201 "with an API"
M=POST gw /assist/v1/chat/completions -H 'Content-Type: application/json' \
    --data-binary '{"model":"ok-model","messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS" 200 "the AI API serves the service's model under its prefix"
M=POST gw /assist/v1/chat/completions -H 'Content-Type: application/json' \
    --data-binary '{"model":"other-model","messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS" 404 "a model outside the service is not found there"
is "$(jqr .error.code)" model_not_found "in OpenAI's error format"
gw /assist/v1/models
is "$(jqr '[.data[].id] | join(",")')" ok-model "the model list names only the service's models"

# what the gateway could not serve is refused before it is stored
api POST /services "{\"name\":\"bad\",\"team\":\"shop\",\"kind\":\"rest\",\"targets\":[\"ftp://127.0.0.1:$U2\"]}"
is "$RESP_STATUS" 400 "a target the gateway cannot reach is refused"
like "$(jqr .error.field)" "^targets" "naming the field"
api POST /services "{\"name\":\"bad\",\"team\":\"shop\",\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:$U2\"],\"timeouts\":{\"connect\":\"soon\"}}"
is "$RESP_STATUS" 400 "an unreadable timeout is refused"
is "$(jqr .error.field)" "timeouts.connect" "naming timeouts.connect"
api POST /services/orders/apis '{"name":"v2","path_prefix":"no-slash"}'
is "$RESP_STATUS" 400 "a path that does not start with / is refused"
is "$(jqr .error.field)" "path_prefix" "naming path_prefix"
api POST /services '{"name":"bad-ai","team":"shop","kind":"ai","models":["ok-model","no-such-model"]}'
is "$RESP_STATUS" 400 "an AI service naming a model that is not configured is refused"
is "$(jqr .error.field)" "models[1]" "naming the model"
api POST /services/assist/apis '{"name":"x","path_prefix":"/x/","methods":["FETCH"]}'
is "$RESP_STATUS" 400 "an unknown method is refused"
like "$(jqr .error.field)" "^methods" "naming methods"
api POST /services "{\"name\":\"filed\",\"team\":\"shop\",\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:$U2\"]}"
is "$RESP_STATUS" 400 "a service named like one of the file's is refused"
api PATCH /services/assist '{"models":["no-such-model"]}'
is "$RESP_STATUS" 400 "an AI service cannot be changed to a model that is not configured"
like "$(jqr .error.field)" "models" "naming models"

# admin writes republish the configuration; calls in flight on other routes never notice
request_loop "http://127.0.0.1:$PP/filed/l" "$T/stop-loop" >"$T/loop.txt" & lpid=$!; track $lpid
looping() { [ -s "$T/loop.txt" ]; }
wait_for 5 looping || note "the request loop did not start"
writes=0
for i in $(seq 1 15); do
    api POST /services/orders/apis "{\"name\":\"tmp$i\",\"path_prefix\":\"/tmp$i/\"}"
    [ "$RESP_STATUS" = 201 ] && writes=$((writes + 1))
    api DELETE "/services/orders/apis/tmp$i"
    [ "$RESP_STATUS" = 204 ] && writes=$((writes + 1))
done
touch "$T/stop-loop"; wait "$lpid"
is "$writes" 30 "30 admin writes, each republishing the configuration"
is "$(grep -vc '^200$' "$T/loop.txt")" 0 "no call on the file's route failed meanwhile ($(wc -l <"$T/loop.txt") sent)"

api DELETE /services/orders
is "$RESP_STATUS" 204 "the service is deleted"
get /shop/orders/2 -H "Authorization: Bearer $KEY"
is "$RESP_STATUS" 404 "its API is gone from the next call"
get /filed/x
is "$RESP_STATUS" 200 "the file's own route served throughout"
is "$(jqr .name)" one "by the file's service"
alive_after "services served from the store"

# what the file declares beyond services: listeners, providers (never their keys), models
api GET /models
is "$RESP_STATUS/$(jqr '[.items[].name] | join(",")')" "200/ok-model,other-model" "the file's models are listed"
is "$(jqr '.items[0].origin')/$(jqr '.items[0].read_only')/$(jqr '.items[0].targets[0].provider')" "file/true/ok" \
    "read-only, with their targets"
api GET /providers/ok
is "$RESP_STATUS/$(jqr .type)/$(jqr .keys)" "200/openai/1" "a provider by name, its keys only counted"
unlike_key() { ! grep -q ok-key <<<"$RESP_BODY"; }
check "a provider's key never appears" unlike_key
api GET /listeners
is "$(jqr '.items[0].port')" "$PP" "the listeners are listed"
api POST /models '{"name":"x"}'
is "$RESP_STATUS/$(jqr .error.code)" "405/read_only" "they cannot be written here"
api POST /users '{"name":"buyer","password":"correct horse battery","team":"shop","role":"consumer"}' >/dev/null
http POST "http://127.0.0.1:$AP/admin/v1/tokens" --data-binary '{"user":"buyer","password":"correct horse battery"}'
BUYER=$(jqr .token)
api GET /models "" "$BUYER"
is "$RESP_STATUS" 200 "every role reads the model catalog"
api GET /providers "" "$BUYER"
is "$RESP_STATUS" 403 "only admins read providers"

# the doctor behind the admin API: the same report as `portico doctor --json`
api POST /doctor "{\"target\":\"127.0.0.1:$U1\"}"
is "$RESP_STATUS/$(jqr .verdict)" "200/healthy" "the doctor reports a healthy upstream"
is "$(jqr '.checks | map(.id) | index("connect") != null')" true "with its checks"
DEAD=$(free_port)
api POST /doctor "{\"target\":\"127.0.0.1:$DEAD\",\"timeout_ms\":300}"
is "$RESP_STATUS/$(jqr .root_cause.id)" "200/nothing_listening" "and names why a dead port fails"
api POST /doctor '{"target":"http://[::1"}'
is "$RESP_STATUS/$(jqr .error.field)" "400/target" "a target that does not parse: 400 naming target"
api POST /doctor '{"target":"127.0.0.1:1","timeout_ms":5}'
is "$RESP_STATUS/$(jqr .error.field)" "400/timeout_ms" "a timeout out of range: 400 naming timeout_ms"
api POST /doctor '{"target":"127.0.0.1:1","command":"rm"}'
is "$RESP_STATUS" 400 "an unknown member: 400"
api POST /doctor "{\"target\":\"127.0.0.1:$U1\"}" "$BUYER"
is "$RESP_STATUS" 403 "only admins run it"

# a restart serves what the store keeps
portico_stop
portico_start "$T/admin.yaml" || not_ok "portico restarts"
wait_for 10 admin_answers || not_ok "the admin API answers after the restart"
M=POST gw /assist/v1/chat/completions -H 'Content-Type: application/json' \
    --data-binary '{"model":"ok-model","messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS" 200 "after a restart the stored AI API is served"
done_testing
