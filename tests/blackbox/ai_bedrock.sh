#!/usr/bin/env bash
# AWS Bedrock as a provider, through the real binary against the test upstream, which speaks
# Converse / ConverseStream (the AWS event-stream framing) and recomputes every request's
# SigV4 signature with its own copy of the keys: OpenAI, Anthropic and Gemini clients,
# streamed and not, tool calls, usage and cost in the access log, throttling (whole and as a
# stream exception), wrong keys (AWS's 403 for a bad signature) and a session token.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); MA=$(free_port); MS=$(free_port)
D=$T/data
LOG=$T/access.log
MODEL="anthropic.claude-3-5-haiku-20241022-v1:0"

export MOCK_AWS_KEY_ID=AKIDPORTICOTEST MOCK_AWS_SECRET='test/Secret+Key0123456789' MOCK_AWS_REGION=eu-west-3
ai_mock_start a "$MA" || not_ok "bedrock upstream starts"
MOCK_AWS_SESSION_TOKEN='session-token-abc' ai_mock_start s "$MS" || not_ok "bedrock upstream with a session token starts"

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: $LOG
data_dir: $D
providers:
  - name: aws
    type: bedrock
    region: eu-west-3
    base_url: "http://127.0.0.1:$MA"
    access_key_id: "\${PT_TEST_AWS_KEY}"
    secret_access_key: "\${PT_TEST_AWS_SECRET}"
    prices: { "$MODEL": { input: 0.8, output: 4 } }
  - { name: wrong, type: bedrock, region: eu-west-3, base_url: "http://127.0.0.1:$MA", access_key_id: AKIDPORTICOTEST,
      secret_access_key: not-the-secret }
  - { name: sts, type: bedrock, region: eu-west-3, base_url: "http://127.0.0.1:$MS", access_key_id: AKIDPORTICOTEST,
      secret_access_key: "test/Secret+Key0123456789", session_token: session-token-abc }
models:
  - { name: claude, targets: [{ provider: aws, model: "$MODEL" }] }
  - { name: wrongkeys, targets: [{ provider: wrong, model: "$MODEL" }] }
  - { name: sts, targets: [{ provider: sts, model: "$MODEL" }] }
  - { name: titan, targets: [{ provider: aws, model: "amazon.titan-embed-text-v2:0" }] }
  - { name: cohere, targets: [{ provider: aws, model: "cohere.embed-english-v3" }] }
EOF
PT_TEST_AWS_KEY=AKIDPORTICOTEST PT_TEST_AWS_SECRET='test/Secret+Key0123456789' portico_start "$T/portico.yaml" ||
    not_ok "portico starts"

mock_seen() { curl -s -m 5 "http://127.0.0.1:$MA/_mock/requests"; }
mock_reset() { curl -s -m 5 -X POST "http://127.0.0.1:$MA/_mock/reset" >/dev/null; }
TOOLS='[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]'

# ------------------------------------------------------------------------- OpenAI client, whole
mock_reset
ai_chat '{"model":"claude","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],"max_tokens":64,"temperature":0.3}' \
    -H 'X-Request-Id: b-whole'
is "$RESP_STATUS $(jqr '.choices[0].message.content') $(jqr '.choices[0].finish_reason')" "200 Hello w1 w2 stop" \
    "openai client, whole: the Converse answer as a chat completion"
is "$(jqr '[.usage.prompt_tokens, .usage.completion_tokens] | join(" ")')" "11 3" "openai client: usage from Converse's usage"
seen=$(mock_seen)
is "$(jq -r '.[0].path' <<<"$seen")" "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse" \
    "the model id is in the path, ':' percent-encoded"
is "$(jq -c '.[0].body | fromjson | [.system, .inferenceConfig, .model]' <<<"$seen")" \
    '[[{"text":"Be brief."}],{"maxTokens":64,"temperature":0.3},null]' "system and inferenceConfig in the Converse body, no model"
like "$(jq -r '.[0].headers.authorization' <<<"$seen")" \
    '^AWS4-HMAC-SHA256 Credential=AKIDPORTICOTEST/[0-9]{8}/eu-west-3/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=' \
    "signed with SigV4 for the region and service (the upstream checked the signature)"
l=$(ai_log_line b-whole)
is "$(jq -r '[.ai.provider, .ai.input_tokens, .ai.output_tokens] | join(" ")' <<<"$l" 2>/dev/null)" "aws 11 3" \
    "access log: provider and tokens"
like "$(grep -o '"cost_usd":[^,}]*' <<<"$l")" '"cost_usd":0.000021' "access log: cost from the provider's prices (11 x 0.8 + 3 x 4 per million, to the micro-dollar)"
if grep -q 'test/Secret+Key0123456789' "$LOG" "$T/portico.err" 2>/dev/null; then
    not_ok "the secret access key is never logged"
else
    ok "the secret access key is never logged"
fi

# ------------------------------------------------------------------------- OpenAI client, stream with tools
ai_chat "{\"model\":\"claude\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"tools\":$TOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"weather [mock tools=1]\"}]}"
is "$RESP_STATUS $(sse_data | tail -n 1)" "200 [DONE]" "openai client, stream: ends with [DONE]"
is "$(sse_data | grep -v DONE | jq -r '.choices[0].delta.content // empty' | tr -d '\n')" "Hello w1 w2" "openai client, stream: text deltas"
is "$(sse_data | grep -v DONE | jq -r '.choices[0].delta.tool_calls[0]? | select(.id) | "\(.id):\(.function.name)"' | tr '\n' ' ')" \
    "tooluse_0:get_weather tooluse_1:get_weather " "openai client, stream: both tool calls with their ids"
is "$(sse_data | grep -v DONE | jq -r '.choices[0].delta.tool_calls[0]? | select(.index==1) | .function.arguments' | tr -d '\n')" \
    '{"city":"Zürich"}' "openai client, stream: the second call's arguments, whole"
is "$(sse_data | grep -v DONE | jq -r 'select(.usage) | "\(.usage.prompt_tokens) \(.usage.completion_tokens)"')" "11 23" \
    "openai client, stream: usage from the metadata event"
is "$(sse_data | grep -v DONE | jq -r '.choices[0]?.finish_reason // empty')" "tool_calls" "openai client, stream: finish_reason tool_calls"

# ------------------------------------------------------------------------- Anthropic client
ai_msgs '{"model":"claude","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS $(jqr '.content[0].text') $(jqr '.stop_reason') $(jqr '.usage.input_tokens')" "200 Hello w1 w2 end_turn 11" \
    "anthropic client, whole"
ai_msgs '{"model":"claude","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"weather [mock tools=1]"}],"tools":[{"name":"get_weather","input_schema":{"type":"object"}}]}'
events=$(grep '^event: ' <<<"$RESP_BODY" | cut -c8- | tr -d '\r' | sort | uniq -c | awk '{print $2"="$1}' | tr '\n' ' ')
is "$events" "content_block_delta=7 content_block_start=3 content_block_stop=3 message_delta=1 message_start=1 message_stop=1 " \
    "anthropic client, stream: a text block and two tool_use blocks"
is "$(sse_data | jq -r 'select(.type=="message_delta") | "\(.delta.stop_reason) \(.usage.output_tokens)"')" "tool_use 23" \
    "anthropic client, stream: stop reason and output tokens"
ai_msgs '{"model":"claude","max_tokens":50,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"tu_1","name":"get_weather","input":{"city":"Oslo"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"tu_1","content":"3C"}]}],"tools":[{"name":"get_weather","input_schema":{"type":"object"}}]}'
is "$(mock_seen | jq -c '.[-1].body | fromjson | [.messages[1].content[0].toolUse, .messages[2].content[0].toolResult]')" \
    '[{"toolUseId":"tu_1","name":"get_weather","input":{"city":"Oslo"}},{"toolUseId":"tu_1","content":[{"text":"3C"}]}]' \
    "anthropic client: tool use and tool result turns as Converse blocks"

# ------------------------------------------------------------------------- Gemini client
http POST "http://127.0.0.1:$PP/v1beta/models/claude:streamGenerateContent?alt=sse" -H 'content-type: application/json' \
    --data-binary '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}'
is "$RESP_STATUS $(sse_data | jq -r '.candidates[0].content.parts[0].text // empty' | tr -d '\n')" "200 Hello w1 w2" \
    "gemini client, stream"
is "$(sse_data | tail -n 1 | jq -r '"\(.candidates[0].finishReason) \(.usageMetadata.totalTokenCount)"')" "STOP 14" \
    "gemini client, stream: finish reason and usage"

# ------------------------------------------------------------------------- errors
ai_chat '{"model":"claude","messages":[{"role":"user","content":"hi [mock status=429 retry_after=7]"}]}'
is "$RESP_STATUS $(jqr '.error.type')" "429 rate_limit_error" "ThrottlingException: 429 in the OpenAI error shape"
is "$(hdr retry-after)" "7" "ThrottlingException: retry-after passed on"
ai_msgs '{"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"hi [mock status=429]"}]}'
is "$RESP_STATUS $(jqr '.error.type')" "429 rate_limit_error" "ThrottlingException: 429 in the Anthropic error shape"
ai_chat '{"model":"claude","stream":true,"messages":[{"role":"user","content":"hi [mock stream_error=throttlingException]"}]}'
is "$RESP_STATUS $(sse_data | grep -v DONE | tail -n 1 | jq -r '.error.type')" "200 rate_limit_error" \
    "an exception message mid-stream ends the stream with an error event"
ai_chat '{"model":"wrongkeys","messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS" 502 "a wrong secret: the upstream refuses the signature, the client gets 502"
like "$(jqr '.error.message')" "provider 'wrong' refused the gateway's credentials \(status 403\)" "the error names the provider and the 403"
if grep -q 'not-the-secret' "$LOG" "$T/portico.err" 2>/dev/null; then not_ok "the wrong secret is not logged"; else ok "the wrong secret is not logged"; fi

# ------------------------------------------------------------------------- session token
ai_chat '{"model":"sts","messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS $(jqr '.choices[0].message.content')" "200 Hello w1 w2" "temporary credentials: the session token is sent and signed"
like "$(curl -s -m 5 "http://127.0.0.1:$MS/_mock/requests" | jq -r '.[-1].headers.authorization')" \
    'SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token,' "x-amz-security-token is a signed header"

# ------------------------------------------------------------------------- embeddings (InvokeModel)
emb() { http POST "http://127.0.0.1:$PP/v1/embeddings" -H 'content-type: application/json' --data-binary "$1"; }
mock_reset
emb '{"model":"titan","input":"hello","dimensions":256}'
is "$RESP_STATUS $(jq -c '[.data[0].embedding, .usage.prompt_tokens]' <<<"$RESP_BODY")" "200 [[0,0.5,-0.25],5]" \
    "Titan embeddings: the vector, and Titan's inputTextTokenCount as usage"
is "$(mock_seen | jq -c '.[0] | [.path, (.body | fromjson)]')" \
    '["/model/amazon.titan-embed-text-v2%3A0/invoke",{"inputText":"hello","dimensions":256}]' "InvokeModel with Titan's body, signed"
emb '{"model":"titan","input":["a","b"]}'
is "$RESP_STATUS $(jqr .error.param)" "400 input" "Titan embeds one text per request: a batch is a 400"
mock_reset
http POST "http://127.0.0.1:$PP/v1beta/models/cohere:batchEmbedContents" -H 'content-type: application/json' \
    --data-binary '{"requests":[{"content":{"parts":[{"text":"q1"}]},"taskType":"RETRIEVAL_QUERY"},{"content":{"parts":[{"text":"q2"}]},"taskType":"RETRIEVAL_QUERY"}]}'
is "$RESP_STATUS $(jq -c '[.embeddings[].values]' <<<"$RESP_BODY")" "200 [[0,0.5,-0.25],[1,0.5,-0.25]]" \
    "Cohere embeddings for a Gemini client, batched"
is "$(mock_seen | jq -c '.[0].body | fromjson')" '{"texts":["q1","q2"],"input_type":"search_query"}' \
    "Cohere gets the texts and the input_type its taskType stands for"
emb '{"model":"claude","input":"x"}'
like "$RESP_STATUS $(jqr .error.message)" "^400 provider 'aws' \(bedrock\): embeddings are served by Amazon Titan" \
    "a Bedrock chat model asked for embeddings: 400 saying which models embed"

alive_after "the Bedrock tests"
done_testing
