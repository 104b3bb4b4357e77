#!/usr/bin/env bash
# Responses kept by Portico (`responses:`), over the real binary, its SQLite store and the
# provider test upstream: an answer kept (whole and streamed) and read back by its consumer
# only; previous_response_id continued by Portico for Anthropic and Gemini targets, the
# stored conversation (function calls and their outputs included) sent again to the
# provider; input_items with its pagination; DELETE; store: false; a malformed id; an id of
# another consumer; an answer over responses.max_size; and the kept count in /metrics.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); MA=$(free_port)
D=$T/data
LOG=$T/access.log

seed team ml && seed consumer bot ml && seed consumer other ml && seed service llm ml || not_ok "the store is seeded"
KB=$(seed key bot)
KO=$(seed key other)
seed subscribe bot llm active && seed subscribe other llm active || not_ok "subscriptions are seeded"

ai_mock_start a "$MA" || not_ok "provider upstream starts"

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: $LOG
data_dir: $D
responses: { max_size: 64KiB }
providers:
  - { name: ant, type: anthropic, base_url: "http://127.0.0.1:$MA", api_key: ant-key }
  - { name: gem, type: gemini, base_url: "http://127.0.0.1:$MA", api_key: gem-key }
models:
  - { name: claude, targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
  - { name: gemini, targets: [{ provider: gem, model: gemini-2.5-flash }] }
routes:
  - { name: llm, match: { path_prefix: "/v1/" }, ai: {}, auth: key, auth_service: llm }
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts"

mock_last() { curl -s -m 5 "http://127.0.0.1:$MA/_mock/requests" | jq -c '.[-1].body | fromjson'; }
# respond KEY JSON: POST /v1/responses as the key's consumer.
respond() { http POST "http://127.0.0.1:$PP/v1/responses" -H "authorization: Bearer $1" -H 'content-type: application/json' --data-binary "$2"; }
stored() { http "$1" "http://127.0.0.1:$PP/v1/responses/$2" -H "authorization: Bearer $3"; }
completed() { awk '/^event: /{e=$2} /^data: /{ if (e == "response.completed") print substr($0, 7) }' <<<"$RESP_BODY" | jq -c .response; }
TOOLS='[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]'

# ---------------------------------------------------------------------------- kept, read back
respond "$KB" '{"model":"claude","input":"Say hello","instructions":"Be brief."}'
ID1=$(jqr .id); FIRST=$RESP_BODY
is "$RESP_STATUS $(jqr .store)" "200 true" "an answer is kept by default (store: true, OpenAI's default)"
like "$ID1" '^resp_[0-9a-f]{32}$' "its id is resp_ and 32 random hex digits"
stored GET "$ID1" "$KB"
is "$RESP_STATUS" 200 "GET /v1/responses/{id}: 200 for the consumer that made it"
is "$(jq -S -c . <<<"$RESP_BODY")" "$(jq -S -c . <<<"$FIRST")" "the response read back is the one the client got"
stored GET "$ID1" "$KO"
is "$RESP_STATUS $(jqr .error.type)" "404 invalid_request_error" "another consumer: 404, as for an unknown id"
is "$(jqr .error.message)" "Response with id '$ID1' not found." "in OpenAI's words"

# ---------------------------------------------------------------------------- chained turns
respond "$KB" "{\"model\":\"claude\",\"input\":\"and then?\",\"previous_response_id\":\"$ID1\",\"stream\":true}"
is "$RESP_STATUS" 200 "previous_response_id served by Portico for an Anthropic target, streamed"
ID2=$(completed | jq -r .id)
is "$(completed | jq -r '"\(.previous_response_id) \(.store)"')" "$ID1 true" "the response names the one it continues"
is "$(mock_last | jq -c '[.system, [.messages[] | .role + ":" + (.content | map(.text) | join(""))]]')" \
    '[null,["user:Say hello","assistant:Hello w1 w2","user:and then?"]]' \
    "the provider got the kept conversation, then the new input (instructions are not carried over)"
wait_metric portico_responses_stored_total 2 || not_ok "a streamed answer is kept when it completes"
stored GET "$ID2/input_items?order=asc&limit=2" "$KB"
is "$RESP_STATUS $(jqr .object) $(jqr .has_more)" "200 list true" "input_items: a list, paginated"
is "$(jqr '[.data[] | .role + ":" + (.content[0].text)] | join(",")')" "user:Say hello,assistant:Hello w1 w2" \
    "input_items lists the conversation the answer was made from, oldest first with order=asc"
stored GET "$ID2/input_items?after=$(jqr .last_id)&order=asc" "$KB"
is "$(jqr '[.data[] | .content[0].text] | join(",")') $(jqr .has_more)" "and then? false" "after= gives the next page"
stored GET "$ID2/input_items?limit=500" "$KB"
is "$RESP_STATUS $(jqr .error.param)" "400 limit" "a limit out of range: 400 naming it"

# a tool round trip on Gemini: the function calls and their outputs travel in the conversation
respond "$KB" "{\"model\":\"gemini\",\"input\":\"Weather in Paris and Zürich? [mock tools=1]\",\"tools\":$TOOLS}"
ID3=$(jqr .id)
CALLS=$(jq -c '[.output[] | select(.type == "function_call") | .call_id]' <<<"$RESP_BODY")
is "$(jq length <<<"$CALLS")" 2 "a Gemini answer with two function calls is kept"
OUT=$(jq -c '[.[] | {type: "function_call_output", call_id: ., output: "sunny"}]' <<<"$CALLS")
respond "$KB" "{\"model\":\"gemini\",\"input\":$OUT,\"previous_response_id\":\"$ID3\",\"tools\":$TOOLS}"
is "$RESP_STATUS" 200 "the next turn sends only the function outputs, with previous_response_id"
is "$(mock_last | jq -c '[.contents[] | .role + ":" + ([.parts[] | keys[0]] | join("+"))]')" \
    '["user:text","model:text+functionCall+functionCall","user:functionResponse+functionResponse"]' \
    "Gemini got the question, the model turn (its text and both calls) and both results, in order"

# ---------------------------------------------------------------------------- refusals
respond "$KO" "{\"model\":\"claude\",\"input\":\"hi\",\"previous_response_id\":\"$ID1\"}"
is "$RESP_STATUS $(jqr .error.code) $(jqr .error.param)" "400 previous_response_not_found previous_response_id" \
    "another consumer's previous_response_id: 400 previous_response_not_found"
respond "$KB" '{"model":"claude","input":"hi","previous_response_id":"resp_unknown"}'
is "$(jqr .error.message)" "Previous response with id 'resp_unknown' not found." "an unknown one: the same, in OpenAI's words"
respond "$KB" '{"model":"claude","input":"hi","previous_response_id":"not-an-id"}'
is "$RESP_STATUS $(jqr .error.code) $(jqr .error.param)" "400 invalid_value previous_response_id" "a malformed previous_response_id: 400"
stored GET "bad!id" "$KB"
is "$RESP_STATUS $(jqr .error.param)" "400 response_id" "a malformed id in the path: 400 naming response_id"
http POST "http://127.0.0.1:$PP/v1/responses/$ID1/cancel" -H "authorization: Bearer $KB"
is "$RESP_STATUS" 404 "POST .../cancel (background responses are not served): 404"
respond "$KB" '{"model":"claude","input":"not kept","store":false}'
stored GET "$(jqr .id)" "$KB"
is "$RESP_STATUS" 404 "store: false is not kept"
BIG=$(head -c 70000 /dev/zero | tr '\0' a)
respond "$KB" "{\"model\":\"claude\",\"input\":\"$BIG\"}"
ID4=$(jqr .id)
is "$RESP_STATUS" 200 "an answer over responses.max_size is still served"
wait_metric portico_responses_dropped_total 1 || not_ok "and counted as not kept"
stored GET "$ID4" "$KB"
is "$RESP_STATUS" 404 "...but not kept"
http GET "http://127.0.0.1:$PP/v1/responses/$ID1" -H "authorization: Bearer nope"
is "$RESP_STATUS" 401 "no valid key: 401 before any lookup"

# ---------------------------------------------------------------------------- delete
stored DELETE "$ID1" "$KO"
is "$RESP_STATUS" 404 "DELETE by another consumer: 404"
stored DELETE "$ID1" "$KB"
is "$RESP_STATUS $(jq -c . <<<"$RESP_BODY")" "200 {\"id\":\"$ID1\",\"object\":\"response\",\"deleted\":true}" \
    "DELETE by its consumer: OpenAI's deleted object"
stored GET "$ID1" "$KB"
is "$RESP_STATUS" 404 "a deleted response is gone"
stored DELETE "$ID1" "$KB"
is "$RESP_STATUS" 404 "deleting it again: 404"
is "$(metric_sum portico_responses_store_errors_total)" 0 "no store operation failed"
if sqlite3 "$D/portico.db" "select count(*) from responses where response like '%ant-key%' or input like '%$KB%'" | grep -qx 0; then
    ok "no provider key and no client key in the kept rows"
else
    not_ok "no provider key and no client key in the kept rows"
fi

alive_after "the kept responses tests"
done_testing
