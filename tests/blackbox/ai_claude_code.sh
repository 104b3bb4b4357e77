#!/usr/bin/env bash
# The request Claude Code sends, against every provider type: an Anthropic client's streamed
# /v1/messages with a large system prompt in blocks with cache_control, 24 tools, extended
# thinking, a history holding a signed thinking block, a tool call and its result, a long
# metadata.user_id and several betas. Each provider must answer a streamed tool call in
# Anthropic's events, and must have received the whole prompt and every tool in its own format.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); MA=$(free_port)
EMAIL=portico-test@proj-1.iam.gserviceaccount.com
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/sa.pem" 2>/dev/null &&
    openssl pkey -in "$T/sa.pem" -pubout -out "$T/sa.pub" 2>/dev/null || not_ok "the test key pair is made"
jq -n --rawfile k "$T/sa.pem" --arg uri "http://127.0.0.1:$MA/token" --arg email "$EMAIL" \
    '{type:"service_account", private_key:$k, client_email:$email, token_uri:$uri}' >"$T/sa.json"
export MOCK_GCP_PUBKEY=$T/sa.pub MOCK_GCP_EMAIL=$EMAIL
export MOCK_AWS_KEY_ID=AKIDPORTICOTEST MOCK_AWS_SECRET='test/Secret+Key0123456789' MOCK_AWS_REGION=us-east-1
ai_mock_start mock "$MA" || not_ok "the provider upstream starts"

cat >"$T/portico.yaml" <<EOF2
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "off"
$(admin_off_line "$PORTICO")
providers:
  - { name: anthropic, type: anthropic, base_url: "http://127.0.0.1:$MA", api_key: k }
  - { name: openai, type: openai, base_url: "http://127.0.0.1:$MA/v1", api_key: k }
  - { name: azure, type: azure, base_url: "http://127.0.0.1:$MA", api_key: k, api_version: "2025-01-01-preview",
      deployments: { gpt-4o: dep-4o } }
  - { name: gemini, type: gemini, base_url: "http://127.0.0.1:$MA", api_key: k }
  - { name: mistral, type: mistral, base_url: "http://127.0.0.1:$MA/v1", api_key: k }
  - { name: compatible, type: openai_compatible, base_url: "http://127.0.0.1:$MA/v1", api_key: k }
  - { name: bedrock, type: bedrock, region: us-east-1, base_url: "http://127.0.0.1:$MA", access_key_id: AKIDPORTICOTEST,
      secret_access_key: "test/Secret+Key0123456789" }
  - { name: vertex, type: vertex, project: proj-1, region: us-central1, base_url: "http://127.0.0.1:$MA", credentials: "$T/sa.json" }
models:
  - { name: anthropic, targets: [{ provider: anthropic, model: claude-sonnet-4-5 }] }
  - { name: openai, targets: [{ provider: openai, model: gpt-4o }] }
  - { name: azure, targets: [{ provider: azure, model: gpt-4o }] }
  - { name: gemini, targets: [{ provider: gemini, model: gemini-2.5-pro }] }
  - { name: mistral, targets: [{ provider: mistral, model: mistral-large-latest }] }
  - { name: compatible, targets: [{ provider: compatible, model: qwen3-coder }] }
  - { name: bedrock, targets: [{ provider: bedrock, model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0" }] }
  - { name: vertex-gemini, targets: [{ provider: vertex, model: gemini-2.5-pro }] }
  - { name: vertex-claude, targets: [{ provider: vertex, model: claude-sonnet-4-5@20250929 }] }
EOF2
portico_start "$T/portico.yaml" || not_ok "portico starts with every provider type"
wait_log "AI provider 'vertex': access token obtained" "$T/portico.err" || not_ok "the Vertex provider has its token"

# The request: a 24 KiB CLAUDE.md-like prompt ending in a marker, 24 tools (the last with
# cache_control), thinking, and a history with a signed thinking block and a tool round trip.
PROMPT=$(head -c 18000 /dev/zero | tr '\0' 'x' | fold -w 79 | sed 's/^/- rule: /'; echo "END-OF-PROJECT-NOTES")
jq -n --arg prompt "$PROMPT" '
  def tool(i): {name: "Tool\(i)", description: "Tool number \(i): does one thing in the workspace.",
                input_schema: {type: "object", properties: {path: {type: "string"}, limit: {type: "integer"}},
                               required: ["path"]}};
  {max_tokens: 32000, stream: true,
   system: [{type: "text", text: "You are Claude Code, an interactive CLI tool."},
            {type: "text", text: $prompt, cache_control: {type: "ephemeral"}}],
   tools: ([range(23) | tool(.)] + [tool(23) + {cache_control: {type: "ephemeral"}}]),
   thinking: {type: "enabled", budget_tokens: 4000},
   metadata: {user_id: ("user_" + ("ab" * 32) + "_account_0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0_session_9f8e7d6c-5b4a-3928-1706-f5e4d3c2b1a0")},
   messages: [
     {role: "user", content: [{type: "text", text: "The test in a.c fails; fix it."}]},
     {role: "assistant", content: [
        {type: "thinking", thinking: "Read the file first.", signature: "EqQBCkYIBxgCKkD0signature"},
        {type: "text", text: "I will read a.c."},
        {type: "tool_use", id: "toolu_01AbC", name: "Tool0", input: {path: "a.c"}}]},
     {role: "user", content: [
        {type: "tool_result", tool_use_id: "toolu_01AbC", content: "int main(void) { return 1; }"},
        {type: "text", text: "Go on. [mock tools=1]", cache_control: {type: "ephemeral"}}]}]}' >"$T/cc.json"
BETAS="claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14,context-1m-2025-08-07,context-management-2025-06-27"

# cc MODEL: the Claude Code request for MODEL, streamed; RESP_* hold the answer.
cc() {
    jq --arg m "$1" '.model = $m' "$T/cc.json" >"$T/req.json"
    curl -s -m 5 -X POST "http://127.0.0.1:$MA/_mock/reset" >/dev/null
    http POST "http://127.0.0.1:$PP/v1/messages" -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
        -H "anthropic-beta: $BETAS" -H 'x-api-key: client-key' --data-binary "@$T/req.json"
}
events() { awk -v e="$1" '/^event: / { name = substr($0, 8) } /^data: / && name == e { print substr($0, 7) }' <<<"$RESP_BODY"; }
# seen JQ: JQ over the request the provider received (the last one that is not a token request)
seen() {
    curl -s -m 5 "http://127.0.0.1:$MA/_mock/requests" |
        jq -r "[.[] | select(.path != \"/token\")][-1] | $1"
}
TOOLS_IN='(.body | fromjson | ((.toolConfig.tools // .tools // []) | map(.functionDeclarations // [.]) | add | length))'

for model in anthropic openai azure gemini mistral compatible bedrock vertex-gemini vertex-claude; do
    cc "$model"
    is "$RESP_STATUS" 200 "$model: Claude Code's request is served"
    is "$(grep -o '^event: [a-z_]*' <<<"$RESP_BODY" | sed -n '1p;$p' | cut -c8- | tr '\n' ' ')" "message_start message_stop " \
        "$model: an Anthropic event stream from message_start to message_stop"
    is "$(events content_block_start | jq -r 'select(.content_block.type == "tool_use") | .content_block.name' | tr '\n' ' ')" \
        "get_weather get_weather " "$model: the two tool calls come back as tool_use blocks"
    args=$(events content_block_delta | jq -r 'select(.delta.type == "input_json_delta") | .delta.partial_json' | tr -d '\n')
    like "$args" '"city": *"Paris"' "$model: the tool arguments arrive as input_json_delta"
    is "$(events message_delta | jq -r .delta.stop_reason)" tool_use "$model: the turn stops for tool use"
    is "$(seen "$TOOLS_IN")" 24 "$model: the provider receives all 24 tools"
    is "$(seen '.body | contains("END-OF-PROJECT-NOTES")')" true "$model: the provider receives the whole system prompt"
    is "$(seen '.body | contains("int main(void) { return 1; }")')" true "$model: the tool result reaches the provider"
done

# What stays Anthropic's own on Anthropic models
cc anthropic
is "$(seen '.headers["anthropic-beta"]')" "$BETAS" "anthropic: every beta reaches the provider, whole"
is "$(seen '.body | fromjson | [.thinking.type, .thinking.budget_tokens, .metadata.user_id[0:5], (.system[1].cache_control.type)] | join(" ")')" \
    "enabled 4000 user_ ephemeral" "anthropic: thinking, metadata and cache_control are passed on"
is "$(seen '.body | fromjson | .messages[1].content[0].signature')" "EqQBCkYIBxgCKkD0signature" \
    "anthropic: the signed thinking block of the history is passed on"
cc vertex-claude
is "$(seen '.body | fromjson | [.anthropic_version, .thinking.type, (.tools | length)] | join(" ")')" "vertex-2023-10-16 enabled 24" \
    "vertex-claude: Vertex's Anthropic body keeps thinking and the tools"
# What other providers cannot take is brought within their rules
cc openai
is "$(seen '.body | fromjson | (.user // "" | length) <= 64')" true "openai: the long metadata.user_id is not sent past OpenAI's 64-character user"
is "$(seen '.body | fromjson | [.messages[] | .content | tostring | contains("EqQBCkYIBxgCKkD0signature")] | any')" false \
    "openai: Anthropic's thinking signature is not sent to another provider"

alive_after "Claude Code's request on every provider type"
done_testing
