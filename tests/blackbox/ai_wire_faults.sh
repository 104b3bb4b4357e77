#!/usr/bin/env bash
# Translation faults real clients hit, each fixed in its general mechanism:
# - an Anthropic client served by an OpenAI provider reads a non-zero input usage in
#   message_start (a local count, since OpenAI reports usage only at the end) and the
#   provider's exact figure in message_delta;
# - a Gemini model that sends a whole function call larger than 64 KiB in one SSE event
#   reaches the client intact (an event is bounded by the answer size, not a line length);
# - a long anthropic-beta header (Claude Code sends several betas) reaches an Anthropic
#   provider whole, on messages and on count_tokens passed through;
# - parameters a model refuses are brought within what it takes (the built-in rules) or
#   refused with a 400 naming them (a provider's own `params:` rule), never sent as they
#   are: a non-default temperature to a reasoning model, temperature with top_p to a
#   recent Claude model, Claude Code's long metadata.user_id as OpenAI's user.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); MA=$(free_port)
ai_mock_start mock "$MA" || not_ok "the provider upstream starts"

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "off"
$(admin_off_line "$PORTICO")
providers:
  - { name: oa, type: openai, base_url: "http://127.0.0.1:$MA/v1", api_key: oa-key }
  - { name: ant, type: anthropic, base_url: "http://127.0.0.1:$MA", api_key: ant-key }
  - { name: gem, type: gemini, base_url: "http://127.0.0.1:$MA", api_key: gem-key }
  - name: strict
    type: openai
    base_url: "http://127.0.0.1:$MA/v1"
    api_key: strict-key
    params: { "gpt-4o-mini": { max: { temperature: 1 }, action: refuse } }
models:
  - { name: reasoner, targets: [{ provider: oa, model: gpt-5 }] }
  - { name: claude45, targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
  - { name: strict-mini, targets: [{ provider: strict, model: gpt-4o-mini }] }
  - { name: gpt, targets: [{ provider: oa, model: gpt-4o }] }
  - { name: claude, targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
  - { name: gemini, targets: [{ provider: gem, model: gemini-2.5-pro }] }
EOF
portico_start "$T/portico.yaml" || { not_ok "portico starts"; done_testing; exit 1; }

post() { local p=$1 body=$2; shift 2; http POST "http://127.0.0.1:$PP$p" -H 'Content-Type: application/json' --data-binary "$body" "$@"; }
# data of the SSE events named $1 in the last answer, one JSON per line
events() { awk -v e="$1" '/^event: / { name = substr($0, 8) } /^data: / && name == e { print substr($0, 7) }' <<<"$RESP_BODY"; }

# ---- message_start input usage, Anthropic client on an OpenAI provider
LONG=$(printf 'word %.0s' $(seq 1 400))
post /v1/messages "{\"model\":\"gpt\",\"max_tokens\":50,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"$LONG\"}]}" \
    -H 'anthropic-version: 2023-06-01'
is "$RESP_STATUS" 200 "a streamed Anthropic call on an OpenAI provider"
start_in=$(events message_start | jq -r .message.usage.input_tokens)
check "message_start names a non-zero input usage ($start_in, a local count)" test "${start_in:-0}" -gt 0
is "$(events message_delta | jq -r .usage.input_tokens)" 11 "message_delta carries the provider's exact figure"

# ---- one SSE event larger than 64 KiB
PAD=150000
post /v1/chat/completions "{\"model\":\"gemini\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"write it [mock tools=1 pad=$PAD]\"}]}"
is "$RESP_STATUS" 200 "a Gemini stream whose function call is one 300 KB event"
args_len=$(grep '^data: {' <<<"$RESP_BODY" | sed 's/^data: //' |
    jq -rj '.choices[0].delta.tool_calls[0]? | select(.index == 0) | .function.arguments // empty' | wc -c)
check "the first call's arguments arrive whole ($args_len bytes)" test "$args_len" -gt "$PAD"
like "$(grep '^data: {' <<<"$RESP_BODY" | tail -n 2 | head -n 1)" 'tool_calls' "the stream ends with finish_reason tool_calls"
post /v1/chat/completions "{\"model\":\"gemini\",\"messages\":[{\"role\":\"user\",\"content\":\"write it [mock tools=1 pad=$PAD]\"}]}"
is "$(jqr '.choices[0].message.tool_calls[1].function.arguments | fromjson | .content | length')" "$PAD" \
    "the same answer unstreamed"

# ---- a long anthropic-beta header, messages and count_tokens
BETA=$(printf 'beta-feature-%02d-2025-01-01,' $(seq 1 30))
BETA=${BETA%,}
curl -s -X POST "http://127.0.0.1:$MA/_mock/reset" >/dev/null
seen_beta() { curl -s "http://127.0.0.1:$MA/_mock/requests" | jq -r "[.[] | select(.path | endswith(\"$1\"))][-1].headers[\"anthropic-beta\"] // empty"; }
post /v1/messages '{"model":"claude","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}' \
    -H 'anthropic-version: 2023-06-01' -H "anthropic-beta: $BETA"
is "$RESP_STATUS" 200 "an Anthropic call with a ${#BETA}-byte anthropic-beta"
is "$(seen_beta /v1/messages)" "$BETA" "the provider receives the whole header"
post /v1/messages/count_tokens '{"model":"claude","messages":[{"role":"user","content":"hi there"}]}' \
    -H 'anthropic-version: 2023-06-01' -H "anthropic-beta: $BETA"
is "$RESP_STATUS" 200 "count_tokens passed through"
is "$(seen_beta /count_tokens)" "$BETA" "count_tokens forwards anthropic-beta too"
# ---- parameters a model refuses
last_body() { curl -s "http://127.0.0.1:$MA/_mock/requests" | jq -c '.[-1].body | fromjson'; }
post /v1/chat/completions '{"model":"reasoner","temperature":0.2,"top_p":0.5,"messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS" 200 "a reasoning model called with temperature 0.2 and top_p 0.5"
is "$(last_body | jq -c '[.temperature, .top_p]')" "[1,1]" "gets the only values it takes"
post /v1/chat/completions '{"model":"reasoner","messages":[{"role":"user","content":"hi"}],"seed":7}'
is "$(last_body | jq -c '[.temperature, .top_p, .seed]')" "[null,null,7]" "a request within the rules is passed as sent"
post /v1/messages '{"model":"claude45","max_tokens":20,"temperature":0.3,"top_p":0.9,"messages":[{"role":"user","content":"hi"}]}' \
    -H 'anthropic-version: 2023-06-01'
is "$RESP_STATUS" 200 "a recent Claude model called with temperature and top_p"
is "$(last_body | jq -c '[.temperature, .top_p]')" "[0.3,null]" "gets temperature alone"
UID150=$(printf 'user_%0145d' 7)
post /v1/messages "{\"model\":\"gpt\",\"max_tokens\":20,\"metadata\":{\"user_id\":\"$UID150\"},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" \
    -H 'anthropic-version: 2023-06-01'
is "$RESP_STATUS" 200 "a 150-character metadata.user_id on an OpenAI model"
sent_user=$(last_body | jq -r .user)
like "$sent_user" '^u-[0-9a-f]{62}$' "becomes a 64-character digest OpenAI takes"
post /v1/chat/completions '{"model":"strict-mini","temperature":1.5,"messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS/$(jqr .error.param)" "400/temperature" "a provider's own refuse rule answers 400 naming the parameter"
like "$(jqr .error.message)" "gpt-4o-mini" "and the model"
alive_after "the translation faults"
done_testing
