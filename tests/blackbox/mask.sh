#!/usr/bin/env bash
# Data masking policies on the real binary: a masked request never reaches the upstream in
# clear (a recording upstream keeps every byte it received), with its Content-Length fixed
# (JSON, text and chunked bodies); a refusing rule answers 400 naming the rule, never the
# value, and the upstream receives nothing; answers are masked, AI streams included, where
# a card number split across two server-sent events is still masked (OpenAI and Anthropic),
# in the answer's text and in each tool call's argument fragments (OpenAI, Anthropic,
# Responses and Gemini clients);
# refusals come in the OpenAI and Anthropic error formats; a route without a masking
# policy passes bytes unchanged; the counts reach /metrics and the call log. A route with
# call_log bodies keeps both bodies in the call log, cut at body_max and redacted (named
# fields, a regex, keys and cards); other routes keep none.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); AP=$(free_port); UR=$(free_port); MA=$(free_port)
D=$T/data
REC=$T/upstream.bytes
node "$UPSTREAMS/recorder.mjs" --port "$UR" --out "$REC" >"$T/recorder.log" 2>&1 &
track $!
wait_for 10 grep -q "^listening $UR" "$T/recorder.log" || not_ok "the recording upstream starts" "$(cat "$T/recorder.log")"
ai_mock_start mock "$MA" || not_ok "the provider upstream starts"

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: "off"
data_dir: $D
admin: { listen: "127.0.0.1:$AP" }
call_log: { retention: 30d }
services:
  - { name: rec, targets: ["http://127.0.0.1:$UR"] }
routes:
  - { name: rec, match: { path_prefix: "/rec/" }, service: rec }
  - { name: refuse, match: { path_prefix: "/refuse/" }, service: rec }
  - { name: answer, match: { path_prefix: "/answer/" }, service: rec }
  - { name: plain, match: { path_prefix: "/plain/" }, service: rec }
  - name: logged
    match: { path_prefix: "/logged/" }
    service: rec
    call_log: { bodies: true, body_max: 200, redact: { fields: [password], regex: ["ACME-[0-9]+"] } }
  - { name: llm, match: { path_prefix: "/v1/" }, ai: {} }
  - { name: gem, match: { path_prefix: "/v1beta/" }, ai: {} }
providers:
  - { name: oai, type: openai, base_url: "http://127.0.0.1:$MA/v1", api_key: oai-key }
  - { name: ant, type: anthropic, base_url: "http://127.0.0.1:$MA", api_key: ant-key }
models:
  - { name: gpt, targets: [{ provider: oai, model: gpt-4o }] }
  - { name: claude, targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
policies:
  - name: pii
    applies_to: { route: rec }
    mask:
      request:
        - { detect: card }
        - { path: \$.user.email, action: replace, with: "[email]" }
        - { detect: api_key, action: replace }
  - name: no-ssn
    applies_to: { route: refuse }
    mask: { request: [{ name: no-ssn, detect: ssn, action: refuse }] }
  - name: answers
    applies_to: { route: answer }
    mask: { response: [{ detect: email }] }
  - name: ai
    applies_to: { route: llm }
    mask:
      request:
        - { name: no-ssn, detect: ssn, action: refuse }
        - { detect: email, action: replace }
      response:
        - { detect: card }
  - name: ai-gemini
    applies_to: { route: gem }
    mask: { response: [{ detect: card }] }
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts with masking policies"

CARD='4111 1111 1111 1111'
KEY='sk-proj-abcdefghij0123456789XYZ'
rec_size() { stat -c %s "$REC"; }
# The bytes the recorder received since offset $1.
rec_since() { tail -c +$(($1 + 1)) "$REC"; }
# lacks TEXT WORD: TEXT does not contain WORD.
lacks() { ! grep -qF -- "$2" <<<"$1"; }
contains() { grep -qiF -- "$2" <<<"$1"; }

# ---------------------------------------------------------------------------- requests
before=$(rec_size)
body="{\"user\":{\"email\":\"jane@corp.example\",\"name\":\"Jane\"},\"note\":\"pay with $CARD\",\"key\":\"$KEY\"}"
http POST "http://127.0.0.1:$PP/rec/a" -H 'content-type: application/json' --data-binary "$body"
is "$RESP_STATUS" 200 "a JSON request under a masking policy passes"
got=$(rec_since "$before")
check "the card never reached the upstream in clear" lacks "$got" "$CARD"
check "the e-mail named by path never reached the upstream" lacks "$got" "jane@corp.example"
check "the API key never reached the upstream" lacks "$got" "sk-proj-"
sent=$(jqr .body)
is "$sent" '{"user":{"email":"[email]","name":"Jane"},"note":"pay with ****1111","key":"[REDACTED]"}' \
    "the upstream received the masked document"
is "$(jqr '.headers[] | select(.[0] | ascii_downcase == "content-length") | .[1]')" "${#sent}" \
    "its Content-Length is the masked body's"

http POST "http://127.0.0.1:$PP/rec/t" -H 'content-type: text/plain' --data-binary "card $CARD end"
is "$(jqr .body)" "card ****1111 end" "a text body gets the detectors"
before=$(rec_size)
http POST "http://127.0.0.1:$PP/rec/c" -H 'content-type: text/plain' -H 'Transfer-Encoding: chunked' \
    --data-binary "chunked $CARD end"
is "$RESP_STATUS $(jqr .body)" "200 chunked ****1111 end" "a chunked body is masked whole"
check "...and sent with its Content-Length" contains "$(rec_since "$before")" "content-length: 20"

http POST "http://127.0.0.1:$PP/plain/p" -H 'content-type: text/plain' --data-binary "card $CARD end"
is "$(jqr .body)" "card $CARD end" "a route without a masking policy passes the body unchanged"

before=$(rec_size)
http POST "http://127.0.0.1:$PP/refuse/r" -H 'content-type: application/json' --data-binary '{"ssn":"123-45-6789"}'
is "$RESP_STATUS $(jqr .error.code)" "400 mask_refused" "a refusing rule answers 400 mask_refused"
like "$(jqr .error.message)" "masking rule 'no-ssn' of policy 'no-ssn'" "...naming the rule and the policy"
check "...never the value" lacks "$RESP_BODY" "123-45-6789"
is "$(rec_size)" "$before" "...and the upstream received nothing"

# ---------------------------------------------------------------------------- answers
before=$(rec_size)
http POST "http://127.0.0.1:$PP/answer/a" -H 'content-type: text/plain' --data-binary "write to bob@example.com now"
is "$RESP_STATUS $(jqr .body)" "200 write to ****.com now" "the answer is masked"
check "...while the request went upstream as sent (the rules are for answers)" \
    contains "$(rec_since "$before")" "bob@example.com"

# ---------------------------------------------------------------------------- AI calls
mock_seen() { curl -s -m 5 "http://127.0.0.1:$MA/_mock/requests"; }
# chat MODEL TEXT STREAM: an OpenAI chat completion; messages: the same in Anthropic's format.
chat() {
    http POST "http://127.0.0.1:$PP/v1/chat/completions" -H 'content-type: application/json' \
        -d "$(jq -cn --arg m "$1" --arg t "$2" --argjson s "$3" '{model:$m,stream:$s,messages:[{role:"user",content:$t}]}')"
}
messages() {
    http POST "http://127.0.0.1:$PP/v1/messages" -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
        -d "$(jq -cn --arg m "$1" --arg t "$2" --argjson s "$3" '{model:$m,max_tokens:100,stream:$s,messages:[{role:"user",content:$t}]}')"
}
sse_text_openai() { grep '^data: {' <<<"$RESP_BODY" | sed 's/^data: //' | jq -j '.choices[0].delta.content // empty'; }
sse_text_anthropic() {
    grep '^data: {' <<<"$RESP_BODY" | sed 's/^data: //' | jq -j 'select(.type=="content_block_delta") | .delta.text'
}

# "Card: 4111 1111 1111 1111 ok" in two pieces of 14: "Card: 4111 111" + "1 1111 1111 ok"
chat gpt "[mock echo=1 events=2] Card: $CARD ok" true
is "$RESP_STATUS" 200 "an OpenAI stream under a masking policy answers"
is "$(sse_text_openai)" "Card: ****1111 ok" "a card split across two OpenAI stream events is masked"
check "...and no event carries any of it" lacks "$RESP_BODY" "4111"
like "$RESP_BODY" 'data: \[DONE\]' "...and the stream ends as OpenAI's does"

messages claude "[mock echo=1 events=2] Card: $CARD ok" true
is "$RESP_STATUS" 200 "an Anthropic stream under a masking policy answers"
is "$(sse_text_anthropic)" "Card: ****1111 ok" "a card split across two Anthropic stream events is masked"
check "...and no event carries any of it" lacks "$RESP_BODY" "4111"
like "$RESP_BODY" 'event: message_stop' "...and the stream ends as Anthropic's does"

chat gpt "[mock echo=1 events=3] Card: $CARD ok" false
is "$RESP_STATUS $(jqr '.choices[0].message.content')" "200 Card: ****1111 ok" "a JSON answer is masked"

# Tool calls: each call's arguments carry the card too ("note"), cut in two fragments in the
# middle of it; the client must never see it, in any client format.
TOOLS="[mock echo=1 events=2 tools=1] Card: $CARD ok"
ai_post() { # ai_post PATH REQUEST_ID BODY
    http POST "http://127.0.0.1:$PP$1" -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
        -H "X-Request-Id: $2" --data-binary "$3"
}
# The notes of the calls, one line each, from the arguments each call's fragments make up.
notes_of() { jq -R -r 'fromjson | .note' 2>/dev/null; }
sse_events() { grep '^data: {' <<<"$RESP_BODY" | sed 's/^data: //'; }

ai_post /v1/chat/completions tools-openai "$(jq -cn --arg t "$TOOLS" '{model:"gpt",stream:true,messages:[{role:"user",content:$t}]}')"
is "$RESP_STATUS" 200 "an OpenAI stream with tool calls under a masking policy answers"
check "no event carries the card" lacks "$RESP_BODY" "4111"
is "$(sse_events | jq -s -r '[.[] | .choices[0].delta.tool_calls // [] | .[]] | group_by(.index)[] | map(.function.arguments) | join("")' | notes_of | sort -u)" \
    "Card: ****1111 ok" "a card split across two argument fragments of each OpenAI tool call is masked"
is "$(sse_events | jq -s -r '[.[] | .choices[0].delta.tool_calls // [] | .[] | .function.name // empty] | join(",")')" \
    "get_weather,get_weather" "...and each call is named once"

ai_post /v1/messages tools-anthropic "$(jq -cn --arg t "$TOOLS" '{model:"claude",max_tokens:100,stream:true,messages:[{role:"user",content:$t}]}')"
is "$RESP_STATUS" 200 "an Anthropic stream with tool use answers"
check "no event carries the card" lacks "$RESP_BODY" "4111"
is "$(sse_events | jq -s -r '[.[] | select(.delta.type? == "input_json_delta")] | group_by(.index)[] | map(.delta.partial_json) | join("")' | notes_of | sort -u)" \
    "Card: ****1111 ok" "a card split across two input_json_delta fragments is masked"

ai_post /v1/responses tools-responses "$(jq -cn --arg t "$TOOLS" '{model:"gpt",stream:true,input:$t}')"
is "$RESP_STATUS" 200 "a Responses stream with function calls answers"
check "no event carries the card" lacks "$RESP_BODY" "4111"
is "$(sse_events | jq -s -r '[.[] | select(.type == "response.function_call_arguments.delta")] | group_by(.output_index)[] | map(.delta) | join("")' | notes_of | sort -u)" \
    "Card: ****1111 ok" "a card split across two function_call_arguments deltas is masked"

ai_post '/v1beta/models/gpt:streamGenerateContent?alt=sse' tools-gemini \
    "$(jq -cn --arg t "$TOOLS" '{contents:[{role:"user",parts:[{text:$t}]}]}')"
is "$RESP_STATUS" 200 "a Gemini stream with function calls answers"
check "no event carries the card" lacks "$RESP_BODY" "4111"
is "$(sse_events | jq -r '.candidates[0].content.parts[] | .functionCall.args.note // empty' | sort -u)" \
    "Card: ****1111 ok" "a Gemini function call's args are masked"

ai_post /v1/chat/completions tools-whole "$(jq -cn --arg t "$TOOLS" '{model:"gpt",stream:false,messages:[{role:"user",content:$t}]}')"
is "$RESP_STATUS" 200 "a JSON answer with tool calls answers"
check "it does not carry the card" lacks "$RESP_BODY" "4111"
is "$(jqr '.choices[0].message.tool_calls[].function.arguments' | notes_of | sort -u)" "Card: ****1111 ok" \
    "the tool calls' arguments of a JSON answer are masked"

chat gpt "mail me at jane@corp.example" false
is "$RESP_STATUS" 200 "a request with an e-mail passes"
is "$(mock_seen | jq -r '.[-1].body | fromjson | .messages[0].content')" "mail me at [REDACTED]" \
    "the provider received the e-mail replaced"

n_before=$(mock_seen | jq length)
chat gpt "my ssn is 123-45-6789" false
is "$RESP_STATUS $(jqr .error.type)" "400 invalid_request_error" "a refused AI call answers 400 in OpenAI's format"
like "$(jqr .error.message)" "masking rule 'no-ssn'" "...naming the rule"
check "...never the value" lacks "$RESP_BODY" "123-45-6789"
messages claude "my ssn is 123-45-6789" false
is "$RESP_STATUS $(jqr .type) $(jqr .error.type)" "400 error invalid_request_error" \
    "a refused AI call answers 400 in Anthropic's format with anthropic-version"
like "$(jqr .error.message)" "masking rule 'no-ssn'" "...naming the rule"
is "$(mock_seen | jq length)" "$n_before" "the provider received neither refused call"

# ---------------------------------------------------------------------------- metrics
check "the masked values are counted per policy, rule and direction" \
    wait_metric portico_masked_values_total 1 'policy="pii"' 'rule="card"' 'direction="request"'
check "...answers too" wait_metric portico_masked_values_total 3 'policy="ai"' 'rule="card"' 'direction="response"'
check "...and refusals" wait_metric portico_masked_values_total 2 'policy="ai"' 'rule="no-ssn"'

# ---------------------------------------------------------------------------- the call log
wait_for 10 admin_answers || not_ok "the admin API answers"
ADMIN_TOKEN=$(cat "$D/admin-token")
# record ID: R gets the call log record of that request, once the writer has committed it.
has_record() { api GET "/calls?request_id=$1"; [ "$(jqr '.items | length')" = 1 ]; }
record() {
    wait_for 10 has_record "$1" || not_ok "the record of $1 is committed"
    R=$(jqr '.items[0]')
}

http POST "http://127.0.0.1:$PP/rec/a" -H 'X-Request-Id: masked-1' -H 'content-type: application/json' \
    --data-binary "$body"
PAD=$(printf 'x%.0s' {1..300})
http POST "http://127.0.0.1:$PP/logged/a" -H 'X-Request-Id: logged-1' -H 'content-type: application/json' \
    -H "Authorization: Bearer $KEY" \
    --data-binary "{\"password\":\"hunter2\",\"key\":\"$KEY\",\"card\":\"$CARD\",\"ref\":\"ACME-42\",\"pad\":\"$PAD\"}"
is "$RESP_STATUS" 200 "a call on a route that keeps bodies passes"
http POST "http://127.0.0.1:$PP/plain/p" -H 'X-Request-Id: plain-1' --data-binary "card $CARD"

record masked-1
is "$(jq -c '.masked' <<<"$R")" '{"card":1,"$.user.email":1,"api_key":1}' \
    "the record counts the masked values per rule"
is "$(jq -c '.request_body' <<<"$R")" null "...and keeps no body on a route without call_log bodies"

record logged-1
req=$(jq -r '.request_body' <<<"$R"); resp=$(jq -r '.response_body' <<<"$R")
like "$req" '^\{"password":"\[REDACTED\]","key":"\[REDACTED\]","card":"\[REDACTED\]","ref":"\[REDACTED\]","pad":"xxx' \
    "the request body is kept, named field, key, card and regex redacted"
is "${#req}" 200 "...cut at body_max"
check "the answer's body is kept too" test -n "$resp"
check "...within body_max" test "${#resp}" -le 200
for secret in hunter2 sk-proj- 4111 ACME-42; do
    check "neither body keeps $secret" lacks "$req$resp" "$secret"
done
check "the file holds no secret of the call" bash -c '! grep -aqE "hunter2|sk-proj-|4111 1111|ACME-42" "$1"/calls.db*' _ "$D"

for id in tools-openai tools-anthropic tools-gemini tools-whole; do
    record "$id"
    is "$(jq -c '.masked' <<<"$R")" '{"card":3}' "the call log counts the text's card and both calls' for $id"
done
# A Responses stream sends each value again in its done events: the text in output_text.done,
# content_part.done and output_item.done, each call's arguments in function_call_arguments.done
# and output_item.done, all three in response.completed; each one sent is masked and counted.
record tools-responses
is "$(jq -c '.masked' <<<"$R")" '{"card":13}' "the call log counts every masked value a Responses stream carried"

record plain-1
is "$(jq -c '[.masked, .request_body, .response_body]' <<<"$R")" '[null,null,null]' \
    "a call without masking or bodies has none of them"

portico_stop
done_testing
