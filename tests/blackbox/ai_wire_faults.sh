#!/usr/bin/env bash
# Translation faults real clients hit, each fixed in its general mechanism:
# - an Anthropic client served by an OpenAI provider reads a non-zero input usage in
#   message_start (a local count, since OpenAI reports usage only at the end) and the
#   provider's exact figure in message_delta;
# - a Gemini model that sends a whole function call larger than 64 KiB in one SSE event
#   reaches the client intact (an event is bounded by the answer size, not a line length);
# - a long anthropic-beta header (Claude Code sends several betas) reaches an Anthropic
#   provider whole, on messages and on count_tokens passed through.
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
models:
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
alive_after "the translation faults"
done_testing
