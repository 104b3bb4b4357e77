#!/usr/bin/env bash
# Key enforcement on an AI route (`ai: {}` with `auth: key`): refusals arrive in the client's own
# error format (OpenAI's error object, or Anthropic's {"type":"error"} when the client speaks
# Anthropic), a key limited to some models gets 403 naming the model, and the provider sees its
# own key, never the client's Portico key.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); MA=$(free_port)
D=$T/data
LOG=$T/access.log

seed team ml && seed consumer bot ml && seed consumer narrow ml && seed consumer stranger ml &&
    seed service llm ml || not_ok "the store is seeded"
KA=$(seed key bot)
KM=$(seed key narrow 0 '["claude-ok"]')
KN=$(seed key stranger)
seed subscribe bot llm active && seed subscribe narrow llm active || not_ok "subscriptions are seeded"

ai_mock_start mock "$MA" || not_ok "the provider upstream starts"

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: $LOG
data_dir: $D
providers:
  - { name: ok, type: openai, base_url: "http://127.0.0.1:$MA/v1", api_key: ok-key }
  - { name: ok-ant, type: anthropic, base_url: "http://127.0.0.1:$MA", api_key: ok-ant-key }
models:
  - { name: ok-model, targets: [{ provider: ok, model: gpt-4o }] }
  - { name: claude-ok, targets: [{ provider: ok-ant, model: claude-sonnet-4-5 }] }
routes:
  - name: llm
    match: { path_prefix: "/v1/" }
    ai: {}
    auth: key
    auth_service: llm
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts"

oai() {
    local body
    body=$(jq -nc --arg m "$1" '{model: $m, messages: [{role: "user", content: "hi"}]}')
    http POST "http://127.0.0.1:$PP/v1/chat/completions" -H 'content-type: application/json' -d "$body" "${@:2}"
}
ant() {
    local body
    body=$(jq -nc --arg m "$1" '{model: $m, max_tokens: 64, messages: [{role: "user", content: "hi"}]}')
    http POST "http://127.0.0.1:$PP/v1/messages" -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' -d "$body" "${@:2}"
}
openai_shape() { # NAME STATUS CODE MESSAGE_REGEX
    is "$RESP_STATUS" "$2" "$1: status $2"
    [ "$(jqr '.error | has("message") and has("type") and has("param") and has("code")')" = true ] &&
        ok "$1: an OpenAI error object" || not_ok "$1: an OpenAI error object" "body: $RESP_BODY"
    is "$(jqr .error.code)" "$3" "$1: code $3"
    like "$(jqr .error.message)" "$4" "$1: the message says why"
}
anthropic_shape() { # NAME STATUS TYPE MESSAGE_REGEX
    is "$RESP_STATUS" "$2" "$1: status $2"
    is "$(jqr .type)/$(jqr .error.type)" "error/$3" "$1: an Anthropic error of type $3"
    like "$(jqr .error.message)" "$4" "$1: the message says why"
}

oai ok-model
openai_shape "OpenAI, no key" 401 key_missing "needs an API key"
is "$(hdr WWW-Authenticate)" 'Bearer realm="portico"' "OpenAI, no key: WWW-Authenticate"
ant claude-ok
anthropic_shape "Anthropic, no key" 401 authentication_error "needs an API key"
ant claude-ok -H "x-api-key: pk_notakeyatallnotakeyatallnotakey1"
anthropic_shape "Anthropic, unknown key" 401 authentication_error "not valid"
oai ok-model -H "Authorization: Bearer $KN"
openai_shape "OpenAI, not subscribed" 403 not_subscribed "not subscribed"
ant claude-ok -H "x-api-key: $KN"
anthropic_shape "Anthropic, not subscribed" 403 permission_error "not subscribed"

curl -s -m 5 -X POST "http://127.0.0.1:$MA/_mock/reset" >/dev/null
oai ok-model -H "Authorization: Bearer $KA" -H "X-Request-Id: ai-ok"
is "$RESP_STATUS" 200 "OpenAI with an active key: 200"
ant claude-ok -H "x-api-key: $KA"
is "$RESP_STATUS" 200 "Anthropic with an active key in x-api-key: 200"
SEEN=$(curl -s -m 5 "http://127.0.0.1:$MA/_mock/requests")
is "$(jq -r '[.[] | (.headers.authorization // .headers["x-api-key"])] | join(" ")' <<<"$SEEN")" "Bearer ok-key ok-ant-key" \
    "the providers saw their own keys"
[[ $SEEN == *"$KA"* ]] && not_ok "the Portico key never reaches the provider" || ok "the Portico key never reaches the provider"

oai ok-model -H "Authorization: Bearer $KM" -H "X-Request-Id: ai-model"
openai_shape "a key not allowed the model" 403 null "may not call the model 'ok-model'"
is "$(jqr .error.param)" model "a key not allowed the model: param is model"
ant claude-ok -H "x-api-key: $KM"
is "$RESP_STATUS" 200 "the same key calls a model it is allowed"

logged() { [ -f "$LOG" ] && grep -q '"ai-model"' "$LOG" && grep -q '"ai-ok"' "$LOG"; }
check "access log: the AI calls are logged" wait_for 5 logged
L=$(grep '"ai-model"' "$LOG" | head -1)
is "$(jqr .error "$L")/$(jqr .status "$L")/$(jqr .consumer "$L")" "model_not_allowed/403/narrow" \
    "access log: model_not_allowed, with the consumer"
L=$(grep '"ai-ok"' "$LOG" | head -1)
is "$(jqr .consumer "$L")/$(jqr .team "$L")/$(jqr .key_prefix "$L")" "bot/ml/${KA:0:12}" "access log: the AI caller's identity"

done_testing
