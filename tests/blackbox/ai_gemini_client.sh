#!/usr/bin/env bash
# Gemini as a client format (POST /v1beta/models/{model}:generateContent, :streamGenerateContent,
# :countTokens, :batchEmbedContents / :embedContent, GET /v1beta/models) over the real binary and the provider test upstream
# (tests/upstreams/ai/server.mjs): whole answers and streams (server-sent events with alt=sse, one
# JSON array without) through Gemini (passed through), OpenAI and Anthropic providers (translated),
# function calls both ways, countTokens, the model list, errors in Google's shape, and the key in
# x-goog-api-key or ?key= on a keyed route, which never reaches the provider nor the access log.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); MA=$(free_port)
D=$T/data
LOG=$T/access.log
seed team ml && seed consumer bot ml && seed service llm ml || not_ok "the store is seeded"
KEY=$(seed key bot)
seed subscribe bot llm active || not_ok "the subscription is seeded"

ai_mock_start a "$MA" || not_ok "provider upstream starts"

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: $LOG
data_dir: $D
providers:
  - { name: oai, type: openai, base_url: "http://127.0.0.1:$MA/v1", api_key: oai-key }
  - { name: ant, type: anthropic, base_url: "http://127.0.0.1:$MA", api_key: ant-key }
  - { name: gem, type: gemini, base_url: "http://127.0.0.1:$MA", api_key: gem-key }
  - { name: busy, type: gemini, base_url: "http://127.0.0.1:$MA", api_key: busy-key, headers: { x-mock: "status=429" } }
models:
  - { name: gpt, targets: [{ provider: oai, model: gpt-4o }] }
  - { name: claude, targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
  - { name: gemini, targets: [{ provider: gem, model: gemini-2.5-flash }] }
  - { name: busy, targets: [{ provider: busy, model: gemini-2.5-flash }] }
  - { name: team/gpt, targets: [{ provider: oai, model: gpt-4o }] }
routes:
  - name: llm
    match: { path_prefix: "/v1beta/" }
    ai: {}
    auth: key
    auth_service: llm
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts"

mock_seen() { curl -s -m 5 "http://127.0.0.1:$MA/_mock/requests"; }
mock_reset() { curl -s -m 5 -X POST "http://127.0.0.1:$MA/_mock/reset" >/dev/null; }
# gen MODEL:VERB[?QUERY] BODY [curl args...]: POST /v1beta/models/MODEL:VERB with the key.
gen() {
    http POST "http://127.0.0.1:$PP/v1beta/models/$1" -H 'content-type: application/json' \
        -H "x-goog-api-key: $KEY" --data-binary "$2" "${@:3}"
}
HELLO='{"contents":[{"role":"user","parts":[{"text":"Say hello"}]}],"systemInstruction":{"parts":[{"text":"Be brief."}]},"generationConfig":{"temperature":0.5,"maxOutputTokens":64}}'
sse_data() { grep '^data: ' <<<"$RESP_BODY" | cut -c7- | tr -d '\r'; }

# ---------------------------------------------------------------------------- whole answers
for m in "gemini /v1beta/models/gemini-2.5-flash:generateContent" "gpt /v1/chat/completions" "claude /v1/messages"; do
    set -- $m
    mock_reset
    gen "$1:generateContent" "$HELLO"
    is "$RESP_STATUS $(jqr '.candidates[0].content.parts[0].text') $(jqr '.candidates[0].finishReason')" \
        "200 Hello w1 w2 STOP" "$1: candidates[0].content.parts and finishReason"
    is "$(jqr '[.usageMetadata.promptTokenCount, .usageMetadata.candidatesTokenCount, .usageMetadata.totalTokenCount] | join(" ")')" \
        "11 3 14" "$1: usageMetadata"
    is "$(mock_seen | jq -r '.[0].path | split("?")[0]')" "$2" "$1: sent to the provider's own endpoint"
done
mock_reset
gen "gpt:generateContent" "$HELLO"
is "$(mock_seen | jq -c '.[0].body | fromjson | [.messages[0], .temperature, .max_completion_tokens]')" \
    '[{"role":"system","content":"Be brief."},0.5,64]' "systemInstruction and generationConfig reach an OpenAI provider"
mock_reset
gen "gemini:generateContent" "$HELLO"
is "$(mock_seen | jq -r '.[0].body')" "$HELLO" "a Gemini provider gets the client's body unchanged"
is "$(mock_seen | jq -r '.[0].headers["x-goog-api-key"]')" "gem-key" "the provider gets its own key, not the client's"

# ---------------------------------------------------------------------------- streams
for m in gemini gpt claude; do
    gen "$m:streamGenerateContent?alt=sse" '{"contents":[{"role":"user","parts":[{"text":"Say hello [mock events=4]"}]}]}'
    is "$RESP_STATUS $(hdr content-type)" "200 text/event-stream" "$m: alt=sse streams server-sent events"
    is "$(sse_data | jq -j '.candidates[0].content.parts[0].text // ""')" "Hello w1 w2 w3" "$m: the chunks carry the text"
    is "$(sse_data | jq -s -r '[.[] | select(.candidates[0].finishReason)] | last | "\(.candidates[0].finishReason) \(.usageMetadata.candidatesTokenCount)"')" \
        "STOP 4" "$m: the last chunk has finishReason and usage"
    gen "$m:streamGenerateContent" '{"contents":[{"role":"user","parts":[{"text":"Say hello [mock events=4]"}]}]}'
    is "$RESP_STATUS $(hdr content-type)" "200 application/json" "$m: without alt=sse the stream is JSON"
    is "$(jq -j '.[].candidates[0].content.parts[0].text // ""' <<<"$RESP_BODY")" "Hello w1 w2 w3" \
        "$m: one JSON array of the chunks"
done

# ---------------------------------------------------------------------------- function calls
TOOLS='"tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather","parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING"}},"required":["city"]}}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}}'
for m in gemini gpt claude; do
    mock_reset
    gen "$m:generateContent" "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Weather? [mock tools=1]\"}]}],$TOOLS}"
    is "$(jqr '[.candidates[0].content.parts[] | select(.functionCall) | .functionCall | "\(.name):\(.args.city)"] | join(",")')" \
        "get_weather:Paris,get_weather:Zürich" "$m: both function calls, with their args"
    is "$(jqr '.candidates[0].finishReason')" "STOP" "$m: a turn of calls ends with STOP"
done
mock_reset
gen "gpt:generateContent" "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Weather?\"}]}],$TOOLS}"
is "$(mock_seen | jq -c '.[0].body | fromjson | [.tools[0].function.parameters.type, .tools[0].function.parameters.properties.city.type, .tool_choice.function.name]')" \
    '["object","string","get_weather"]' "OpenAPI types become JSON Schema's; one allowed function is a forced call"
ROUND='{"contents":[{"role":"user","parts":[{"text":"Weather in Paris?"}]},{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}]},{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"temp_c":21}}}]}]}'
for m in gpt claude; do
    mock_reset
    gen "$m:generateContent" "$ROUND"
    is "$RESP_STATUS" 200 "$m: a function response turn is accepted"
done
mock_reset
gen "gpt:generateContent" "$ROUND"
is "$(mock_seen | jq -c '.[0].body | fromjson | .messages | [.[1].tool_calls[0].id, .[2].role, .[2].tool_call_id, .[2].content]')" \
    '["call_1_0","tool","call_1_0","{\"temp_c\":21}"]' "the response is paired with its call by name (OpenAI tool message)"
gen "gemini:streamGenerateContent?alt=sse" '{"contents":[{"role":"user","parts":[{"text":"Weather? [mock tools=1 signed=1]"}]}]}'
is "$(sse_data | jq -s -r '[.[].candidates[0].content.parts[]? | select(.functionCall) | (.thoughtSignature != null)] | map(tostring) | join(",")')" \
    "true,false" "passed through: Gemini's thoughtSignature reaches the client"
gen "gpt:streamGenerateContent?alt=sse" '{"contents":[{"role":"user","parts":[{"text":"Weather? [mock tools=1]"}]}]}'
is "$(sse_data | jq -s -r '[.[].candidates[0].content.parts[]? | select(.functionCall) | .functionCall.args.city] | join(",")')" "Paris,Zürich" \
    "translated streams send whole function calls"

# ---------------------------------------------------------------------------- countTokens, models
gen "gemini:countTokens" '{"contents":[{"role":"user","parts":[{"text":"one two three"}]}]}'
is "$RESP_STATUS $(jqr .totalTokens)" "200 3" "countTokens on a Gemini provider: its own count"
gen "gpt:countTokens" '{"contents":[{"role":"user","parts":[{"text":"one two three"}]}]}'
is "$RESP_STATUS $(jqr '.totalTokens > 0')" "200 true" "countTokens elsewhere: {totalTokens}"
http GET "http://127.0.0.1:$PP/v1beta/models?key=$KEY"
is "$RESP_STATUS $(jqr '[.models[].name] | join(",")')" "200 models/gpt,models/claude,models/gemini,models/busy,models/team/gpt" \
    "GET /v1beta/models lists the models in Gemini's shape (key as ?key=)"
http GET "http://127.0.0.1:$PP/v1beta/models/claude" -H "x-goog-api-key: $KEY"
is "$RESP_STATUS $(jqr .name)" "200 models/claude" "GET /v1beta/models/{model}"

# ---------------------------------------------------------------------------- embeddings
EMB='{"requests":[{"model":"models/x","content":{"parts":[{"text":"one"}]},"outputDimensionality":3,"taskType":"RETRIEVAL_DOCUMENT","title":"Doc one"},{"model":"models/x","content":{"parts":[{"text":"two"},{"text":"three"}]},"outputDimensionality":3}]}'
for m in "gemini /v1beta/models/gemini-2.5-flash:batchEmbedContents" "gpt /v1/embeddings"; do
    set -- $m
    mock_reset
    gen "$1:batchEmbedContents" "$EMB"
    is "$RESP_STATUS $(jq -c '[.embeddings[].values]' <<<"$RESP_BODY")" "200 [[0,0.5,-0.25],[1,0.5,-0.25]]" "$1: batchEmbedContents answers embeddings[].values"
    is "$(mock_seen | jq -r '.[0].path | split("?")[0]')" "$2" "$1: embeddings go to the provider's own endpoint"
done
is "$(mock_seen | jq -c '.[0].body | fromjson')" '{"model":"gpt-4o","input":["one","two\nthree"],"dimensions":3}' \
    "an OpenAI provider gets the texts as input, its own model name and the dimensions"
mock_reset
gen "gemini:batchEmbedContents" "$EMB"
is "$(mock_seen | jq -c '.[0].body | fromjson | [.requests[] | [.taskType, .title, .outputDimensionality]]')" \
    '[["RETRIEVAL_DOCUMENT","Doc one",3],[null,null,3]]' "a Gemini provider gets each request's taskType and title"
gen "gemini:embedContent" '{"content":{"parts":[{"text":"hello"}]},"taskType":7}'
is "$RESP_STATUS $(jqr .error.message)" "400 body.taskType: expected a string" "a taskType that is not a string: 400 naming it"
gen "gpt:embedContent" '{"content":{"parts":[{"text":"hello"}]}}'
is "$RESP_STATUS $(jq -c '.embedding.values' <<<"$RESP_BODY")" "200 [0,0.5,-0.25]" "embedContent answers one embedding"
gen "gpt:embedContent" '{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AA"}}]}}'
is "$RESP_STATUS $(jqr .error.status)" "400 INVALID_ARGUMENT" "only text can be embedded: a 400 in Google's shape"
gen "claude:batchEmbedContents" "$EMB"
like "$RESP_STATUS $(jqr .error.message)" "^400 provider 'ant' \(anthropic\) does not offer embeddings" "a provider without embeddings: 400 saying so"

# ---------------------------------------------------------------------------- errors
gshape() { # NAME STATUS GSTATUS
    is "$RESP_STATUS $(jqr .error.code) $(jqr .error.status)" "$2 $2 $3" "$1: $2 $3 in Google's error shape"
}
gen "gpt:generateContent" '{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"candidateCount":2}}'
gshape "candidateCount 2" 400 INVALID_ARGUMENT
like "$(jqr .error.message)" "candidateCount: only 1 candidate" "candidateCount: the message names the field"
gen "gpt:generateContent" '{"contents":"hi"}'
gshape "contents not an array" 400 INVALID_ARGUMENT
gen "gpt:generateContent" '{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"tools":[{"googleSearch":{}}]}'
like "$RESP_STATUS $(jqr .error.message)" "^400 tools\[0\]\.googleSearch: runs on Google" "a server tool: 400 naming it"
like "$(jqr .error.message)" "no target of this model is a Gemini provider" "a server tool elsewhere: the message says what would serve it"
# what only Gemini serves goes to a Gemini provider as it is
mock_reset
gen "gemini:generateContent" '{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"tools":[{"googleSearch":{}}],"cachedContent":"cachedContents/abc"}'
is "$RESP_STATUS $(jqr '.candidates[0].content.parts[0].text')" "200 Hello w1 w2" "googleSearch and cachedContent to a Gemini provider: served"
is "$(mock_seen | jq -c '.[0].body | fromjson | [.tools, .cachedContent]')" '[[{"googleSearch":{}}],"cachedContents/abc"]' \
    "the Gemini provider got the server tool and the cached content as they were"
gen "gpt:generateContent" '{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"cachedContent":"cachedContents/abc"}'
is "$RESP_STATUS $(jqr .error.status)" "400 INVALID_ARGUMENT" "cachedContent with no Gemini target: 400"
gen "nope:generateContent" "$HELLO"
gshape "an unknown model" 404 NOT_FOUND
gen "busy:generateContent" "$HELLO"
gshape "rate limited" 429 RESOURCE_EXHAUSTED
# a '/' in a model name comes %2F-encoded from SDKs: decoded before the model is looked up
mock_reset
gen "team%2Fgpt:generateContent" "$HELLO"
is "$RESP_STATUS $(jqr '.candidates[0].content.parts[0].text')" "200 Hello w1 w2" "a %2F-encoded model name reaches its model"
is "$(mock_seen | jq -r '.[0].body | fromjson | .model')" "gpt-4o" "the encoded name's target model is called"
gen "team%2fgpt:countTokens" "$HELLO"
is "$RESP_STATUS" 200 "countTokens: a lower-case %2f decodes too"
gen "team%2:generateContent" "$HELLO"
gshape "a bad %-escape in the model name" 400 INVALID_ARGUMENT
like "$(jqr .error.message)" "model: not a valid model name" "a bad %-escape: the message names the model"
gen "team%00gpt:generateContent" "$HELLO"
gshape "an encoded NUL in the model name" 400 INVALID_ARGUMENT
http POST "http://127.0.0.1:$PP/v1beta/models/gpt:generateContent" -H 'content-type: application/json' --data-binary "$HELLO"
gshape "no key" 401 UNAUTHENTICATED
http POST "http://127.0.0.1:$PP/v1beta/models/gpt:embedThings" -H "x-goog-api-key: $KEY" --data-binary "$HELLO"
gshape "an unknown verb" 404 NOT_FOUND
http GET "http://127.0.0.1:$PP/v1beta/models/gpt:generateContent" -H "x-goog-api-key: $KEY"
is "$RESP_STATUS $(jqr .error.code)" "405 405" "GET on a generate verb: 405 in Google's shape"

# ---------------------------------------------------------------------------- key by ?key=
mock_reset
http POST "http://127.0.0.1:$PP/v1beta/models/gemini:generateContent?key=$KEY" -H 'content-type: application/json' --data-binary "$HELLO"
is "$RESP_STATUS" 200 "the key as ?key= is accepted"
is "$(mock_seen | jq -r '.[0].path')" "/v1beta/models/gemini-2.5-flash:generateContent" "the client's query is not forwarded"
if wait_log '"format":"gemini","provider":"gem"' "$LOG"; then
    ok "the access log names the gemini format and the provider"
else
    not_ok "the access log names the gemini format and the provider"
fi
if grep -q -- "$KEY" "$LOG"; then not_ok "the key never reaches the access log"; else ok "the key never reaches the access log"; fi

alive_after "the Gemini client tests"
done_testing
