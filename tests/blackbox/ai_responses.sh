#!/usr/bin/env bash
# The OpenAI Responses API (POST /v1/responses) over the real binary and the provider test
# upstream (tests/upstreams/ai/server.mjs): a whole response and a typed event stream through
# OpenAI, Anthropic and Gemini providers (translated to each one's own endpoint), a fallback to
# another provider before anything was sent, a stream cut mid-way ending with error and
# response.failed events, the access log naming the format; what only OpenAI can serve
# (previous_response_id, its server-side tools) passed as it is to an OpenAI provider's own
# /v1/responses, streams included, and refused with a 400 naming the member by any other; and
# GET and DELETE /v1/responses/{id} a 404 in OpenAI's error object (without `responses:` Portico
# keeps none; ai_responses_store.sh tests keeping them).
. "$(dirname "$0")/lib.sh"

PP=$(free_port); MA=$(free_port)
LOG=$T/access.log

ai_mock_start a "$MA" || not_ok "provider upstream starts"

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: $LOG
providers:
  - { name: oai, type: openai, base_url: "http://127.0.0.1:$MA/v1", api_key: oai-key }
  - { name: ant, type: anthropic, base_url: "http://127.0.0.1:$MA", api_key: ant-key }
  - { name: gem, type: gemini, base_url: "http://127.0.0.1:$MA", api_key: gem-key }
  - { name: busy, type: openai, base_url: "http://127.0.0.1:$MA/v1", api_key: busy-key, headers: { x-mock: "status=503" } }
  - { name: cutter, type: anthropic, base_url: "http://127.0.0.1:$MA", api_key: cut-key, headers: { x-mock: "events=10,cut_after=5" } }
models:
  - { name: gpt, targets: [{ provider: oai, model: gpt-4o }] }
  - { name: claude, targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
  - { name: gemini, targets: [{ provider: gem, model: gemini-2.5-flash }] }
  - { name: busy-then-claude, targets: [{ provider: busy, model: gpt-4o }], fallbacks: [claude] }
  - { name: cut, targets: [{ provider: cutter, model: claude-sonnet-4-5 }] }
  - { name: claude-then-gpt, targets: [{ provider: ant, model: claude-sonnet-4-5 }], fallbacks: [gpt] }
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts"

mock_seen() { curl -s -m 5 "http://127.0.0.1:$MA/_mock/requests"; }
mock_reset() { curl -s -m 5 -X POST "http://127.0.0.1:$MA/_mock/reset" >/dev/null; }
# respond JSON [curl args...]: POST /v1/responses with that body.
respond() { http POST "http://127.0.0.1:$PP/v1/responses" -H 'content-type: application/json' --data-binary "$1" "${@:2}"; }
# events: the event names of the last streamed answer, space-separated, in order.
events() { grep '^event: ' <<<"$RESP_BODY" | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//'; }
# event_data NAME: the data of every event NAME of the last answer, one JSON per line.
event_data() { awk -v n="$1" '/^event: /{e=$2} /^data: /{ if (e == n) print substr($0, 7) }' <<<"$RESP_BODY"; }

# ---------------------------------------------------------------------------- whole responses
for m in "gpt /v1/chat/completions" "claude /v1/messages" "gemini /v1beta/models/gemini-2.5-flash:generateContent"; do
    set -- $m
    mock_reset
    respond "{\"model\":\"$1\",\"input\":\"Say hello\",\"instructions\":\"Be brief.\",\"store\":true}"
    is "$RESP_STATUS $(jqr .object) $(jqr .status)" "200 response completed" "$1: a whole response"
    is "$(jqr '.output[0].content[0].text')" "Hello w1 w2" "$1: the text is the message item's output_text"
    is "$(jqr '[.usage.input_tokens, .usage.output_tokens, .usage.total_tokens] | join(" ")')" "11 3 14" "$1: usage in Responses' names"
    is "$(mock_seen | jq -r '.[0].path | split("?")[0]')" "$2" "$1: translated to the provider's own endpoint"
done

# ---------------------------------------------------------------------------- streams
respond '{"model":"claude","input":"Say hello [mock events=4]","stream":true}'
is "$RESP_STATUS $(hdr content-type)" "200 text/event-stream" "a stream is an event stream"
is "$(events)" "response.created response.in_progress response.output_item.added response.content_part.added response.output_text.delta response.output_text.delta response.output_text.delta response.output_text.delta response.output_text.done response.content_part.done response.output_item.done response.completed" \
    "the typed events come in Responses' order"
is "$(grep '^data: ' <<<"$RESP_BODY" | cut -c7- | jq -s -c '[.[].sequence_number]')" "[0,1,2,3,4,5,6,7,8,9,10,11]" \
    "every event carries its sequence number, from 0"
is "$(event_data response.completed | jq -r '"\(.response.output[0].content[0].text) \(.response.usage.output_tokens)"')" \
    "Hello w1 w2 w3 4" "response.completed carries the whole output and the usage"

respond '{"model":"gemini","input":"Weather in Paris and Zürich? [mock tools=1]","stream":true,"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]}'
is "$(event_data response.function_call_arguments.done | jq -s -c '[.[].arguments | fromjson | .city]')" '["Paris","Zürich"]' \
    "parallel function calls stream their arguments, each closed with its whole arguments"
is "$(event_data response.completed | jq -r '[.response.output[] | select(.type == "function_call") | .name] | join(",")')" \
    "get_weather,get_weather" "the final response lists both function_call items"

# ---------------------------------------------------------------------------- fallback, cut
mock_reset
respond '{"model":"busy-then-claude","input":"Say hello"}'
is "$RESP_STATUS $(jqr .output[0].content[0].text)" "200 Hello w1 w2" "a 503 before anything was sent falls back to the next model"
is "$(mock_seen | jq -r '[.[].path] | join(" ")')" "/v1/chat/completions /v1/messages" "both providers were tried, in order"

respond '{"model":"cut","input":"Say hello","stream":true}'
is "$RESP_STATUS" 200 "a stream cut after its first bytes has started (200)"
is "$(events | awk '{print $(NF-1), $NF}')" "error response.failed" "it ends with an error event, then response.failed"
is "$(event_data response.failed | jq -r '"\(.response.status) \(.response.output[0].status)"')" "failed incomplete" \
    "response.failed marks the response failed and the cut message incomplete"

# ---------------------------------------------------------------------------- what only OpenAI serves
PREV='{"model":"gpt","input":"and then?","previous_response_id":"resp_123","store":true}'
mock_reset
respond "$PREV" -H 'X-Request-Id: prev-1'
is "$RESP_STATUS $(jqr .id) $(jqr '.output[0].content[0].text')" "200 resp_mock_1 Hello w1 w2" \
    "previous_response_id to an OpenAI provider: its own /v1/responses answers, as it is"
is "$(mock_seen | jq -r '.[0].path')" "/v1/responses" "it went to the provider's /v1/responses"
is "$(mock_seen | jq -c '.[0].body | fromjson | [.model, .previous_response_id, .store]')" '["gpt-4o","resp_123",true]' \
    "the body went unchanged but for the model"
is "$(mock_seen | jq -r '.[0].headers.authorization')" "Bearer oai-key" "with the provider's key"
wait_log '"request_id":"prev-1"' "$LOG" || true
l=$(grep -F '"request_id":"prev-1"' "$LOG" | head -n 1)
is "$(jq -c '[.ai.format, .ai.passthrough, .ai.input_tokens, .ai.output_tokens]' <<<"$l")" '["responses",true,11,3]' \
    "access log: a passed-through Responses call, with the usage OpenAI reported"
mock_reset
respond '{"model":"gpt","input":"search [mock events=3]","stream":true,"tools":[{"type":"web_search"}]}' -H 'X-Request-Id: prev-2'
is "$RESP_STATUS $(hdr content-type)" "200 text/event-stream" "a server-side tool to an OpenAI provider: streamed through"
is "$(events)" "response.created response.output_item.added response.content_part.added response.output_text.delta response.output_text.delta response.output_text.delta response.output_text.done response.content_part.done response.output_item.done response.completed" \
    "the provider's own typed events reach the client as they came"
is "$(mock_seen | jq -c '.[0].body | fromjson | .tools')" '[{"type":"web_search"}]' "the server-side tool reached OpenAI"
wait_log '"request_id":"prev-2"' "$LOG" || true
l=$(grep -F '"request_id":"prev-2"' "$LOG" | head -n 1)
is "$(jq -c '[.ai.passthrough, .ai.input_tokens, .ai.output_tokens, (.ai.ttft_ms > 0)]' <<<"$l")" '[true,11,3,true]' \
    "access log: the stream's usage from response.completed, and its first token's time"
mock_reset
respond '{"model":"claude-then-gpt","input":"and then?","previous_response_id":"resp_9"}'
is "$RESP_STATUS $(mock_seen | jq -r '[.[].path] | join(" ")')" "200 /v1/responses" \
    "a model whose first target is not OpenAI: its OpenAI fallback serves it (the other is never called)"
respond '{"model":"claude","input":"and then?","previous_response_id":"resp_123"}'
is "$RESP_STATUS $(jqr .error.type) $(jqr .error.param)" "400 invalid_request_error previous_response_id" \
    "previous_response_id with no OpenAI target: 400 naming the field"
like "$(jqr .error.message)" "no target of this model is an OpenAI provider" "the message says why"
respond '{"model":"gemini","input":"hi","tools":[{"type":"web_search"}]}'
is "$RESP_STATUS $(jqr .error.param)" "400 tools[0]" "a server-side tool with no OpenAI target: 400 naming it"
like "$(jqr .error.message)" "run on OpenAI's servers" "the message says where such tools run"
for method in GET DELETE; do
    http "$method" "http://127.0.0.1:$PP/v1/responses/resp_123"
    is "$RESP_STATUS $(jqr .error.type)" "404 invalid_request_error" "$method /v1/responses/{id}: 404 in OpenAI's error object"
    is "$(jqr .error.message)" "Response with id 'resp_123' not found." "$method /v1/responses/{id}: nothing is kept without responses:"
done
http GET "http://127.0.0.1:$PP/v1/responses"
is "$RESP_STATUS $(jqr .error.type)" "405 invalid_request_error" "GET /v1/responses: 405 in OpenAI's error object"
respond '{"model":"nope","input":"hi"}'
is "$RESP_STATUS $(jqr .error.code)" "404 model_not_found" "an unknown model: 404 model_not_found"
respond '{"model":"gpt","input":[{"type":"function_call","name":"f"}]}'
is "$RESP_STATUS $(jqr .error.param)" "400 input[0].call_id" "a bad input item: 400 naming its path"

# ---------------------------------------------------------------------------- access log
if wait_log '"format":"responses","provider":"ant"' "$LOG"; then
    ok "the access log names the responses format and the provider"
else
    not_ok "the access log names the responses format and the provider"
fi

alive_after "the Responses API tests"
done_testing
