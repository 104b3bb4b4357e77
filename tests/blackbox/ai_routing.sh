#!/usr/bin/env bash
# AI routing over the real binary and the provider test upstream (tests/upstreams/ai/server.mjs):
# fallbacks on 429 / 5xx / timeout / connection refused go to the next key or target before the
# client sees anything (checked against what the upstream recorded, in order); a key that got
# 429 cools down and one that got 401 is taken out (logged by provider and position, never by
# value); a stream cut after its first byte is not retried; usage and cost in the access log
# and /metrics are exact; no client header chooses the upstream host; every error reaches the
# client in its own format (OpenAI error object or Anthropic {"type":"error"}), the engine's own
# 413 included; a stream the client abandons is not counted as a successful call.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); MA=$(free_port); MB=$(free_port); ME=$(free_port); DEAD=$(free_port)
GUARD_GOOD=guard-good-key-51
REVOKED=sk-revoked-secret-key-0x7731aa
LOG=$T/access.log

ai_mock_start a "$MA" || not_ok "provider upstream a starts"
ai_mock_start guard "$MB" "$GUARD_GOOD" || not_ok "provider upstream guard starts"
ai_mock_start elsewhere "$ME" || not_ok "provider upstream elsewhere starts"

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: $LOG
limits: { max_body_bytes: 100000 }
providers:
  - { name: ok, type: openai, base_url: "http://127.0.0.1:$MA/v1", api_key: ok-key }
  - { name: ok-ant, type: anthropic, base_url: "http://127.0.0.1:$MA", api_key: ok-ant-key }
  - { name: ok-gem, type: gemini, base_url: "http://127.0.0.1:$MA", api_key: ok-gem-key }
  - name: limited
    type: openai
    base_url: "http://127.0.0.1:$MA/v1"
    api_keys: [lim-k1, lim-k2]
    headers: { x-mock: "status=429,retry_after=30" }
  - { name: limited-short, type: openai, base_url: "http://127.0.0.1:$MA/v1", api_key: short-k1, headers: { x-mock: "status=429,retry_after=1" } }
  - { name: overloaded, type: anthropic, base_url: "http://127.0.0.1:$MA", api_key: over-key, headers: { x-mock: "status=503" } }
  - { name: failing, type: openai, base_url: "http://127.0.0.1:$MA/v1", api_key: fail-key, headers: { x-mock: "status=500" } }
  - { name: slow, type: openai, base_url: "http://127.0.0.1:$MA/v1", api_key: slow-key, first_byte_timeout_ms: 400, headers: { x-mock: "first_byte_ms=3000" } }
  - { name: dead, type: openai, base_url: "http://127.0.0.1:$DEAD/v1", api_key: dead-key, connect_timeout_ms: 1000 }
  - { name: cutter, type: openai, base_url: "http://127.0.0.1:$MA/v1", api_key: cut-key, headers: { x-mock: "events=10,cut_after=3" } }
  - { name: cutter-ant, type: anthropic, base_url: "http://127.0.0.1:$MA", api_key: cut-ant-key, headers: { x-mock: "events=10,cut_after=4" } }
  - { name: cutter-early, type: openai, base_url: "http://127.0.0.1:$MA/v1", api_key: cut0-key, headers: { x-mock: "cut_after=0" } }
  - { name: guarded, type: openai, base_url: "http://127.0.0.1:$MB/v1", api_keys: ["$REVOKED", "$GUARD_GOOD"] }
  - { name: metered, type: anthropic, base_url: "http://127.0.0.1:$MA", api_key: meter-key }
  - { name: abandoned, type: anthropic, base_url: "http://127.0.0.1:$MA", api_key: aband-key }
  - name: priced
    type: openai
    base_url: "http://127.0.0.1:$MA/v1"
    api_key: priced-key
    prices: { gpt-4o: { input: 1.5, output: 4 } }
models:
  - { name: ok-model, targets: [{ provider: ok, model: gpt-4o }] }
  - { name: claude-ok, targets: [{ provider: ok-ant, model: claude-sonnet-4-5 }] }
  - { name: rl, targets: [{ provider: limited, model: gpt-4o }], fallbacks: [claude-ok] }
  - { name: rl-alone, targets: [{ provider: limited, model: gpt-4o-mini }] }
  - { name: rl-short, targets: [{ provider: limited-short, model: gpt-4o }] }
  - { name: over, targets: [{ provider: overloaded, model: claude-sonnet-4-5 }], fallbacks: [ok-model] }
  - { name: over-alone, targets: [{ provider: overloaded, model: claude-sonnet-4-5 }] }
  - { name: fail-alone, targets: [{ provider: failing, model: gpt-4o }] }
  - { name: slow-alone, targets: [{ provider: slow, model: gpt-4o }] }
  - { name: dead-alone, targets: [{ provider: dead, model: gpt-4o }] }
  - { name: chain, targets: [{ provider: dead, model: gpt-4o }], fallbacks: [fail-alone, slow-alone, over-alone, claude-ok] }
  - { name: cut, targets: [{ provider: cutter, model: gpt-4o }], fallbacks: [ok-model] }
  - { name: cut-ant, targets: [{ provider: cutter-ant, model: claude-sonnet-4-5 }], fallbacks: [claude-ok] }
  - { name: cut-early, targets: [{ provider: cutter-early, model: gpt-4o }], fallbacks: [ok-model] }
  - { name: guard, targets: [{ provider: guarded, model: gpt-4o }] }
  - { name: meter, targets: [{ provider: metered, model: claude-sonnet-4-5 }] }
  - { name: price, targets: [{ provider: priced, model: gpt-4o }] }
  - { name: abandon, targets: [{ provider: abandoned, model: claude-sonnet-4-5 }] }
  - { name: team/fast, targets: [{ provider: ok, model: gpt-4o-mini }] }
  - { name: gem-ok, targets: [{ provider: ok-gem, model: gemini-2.5-flash }] }
  - { name: listens, targets: [{ provider: ok-ant, model: claude-sonnet-4-5 }], fallbacks: [gem-ok] }
  - { name: claude-alone, targets: [{ provider: ok-ant, model: claude-sonnet-4-5 }] }
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts with the AI test config"

# ---------------------------------------------------------------------------- helpers
mock_reset() { curl -s -m 5 -X POST "http://127.0.0.1:$1/_mock/reset" >/dev/null; }
mock_seen() { curl -s -m 5 "http://127.0.0.1:$1/_mock/requests"; }
# tried PORT: what the upstream received, oldest first: "PATH KEY" joined by " | ".
tried() {
    mock_seen "$1" | jq -r '[.[] | "\(.path | split("?")[0]) \((.headers.authorization // .headers["x-api-key"] // .headers["x-goog-api-key"] // "-") | sub("^Bearer "; ""))"] | join(" | ")'
}
# oai MODEL TEXT [curl args]: POST /v1/chat/completions (whole answer).
oai() {
    local body
    body=$(jq -nc --arg m "$1" --arg t "$2" '{model: $m, messages: [{role: "user", content: $t}]}')
    http POST "http://127.0.0.1:$PP/v1/chat/completions" -H 'content-type: application/json' -d "$body" "${@:3}"
}
# oai_stream MODEL TEXT [curl args]: the same, streamed with include_usage.
oai_stream() {
    local body
    body=$(jq -nc --arg m "$1" --arg t "$2" '{model: $m, stream: true, stream_options: {include_usage: true}, messages: [{role: "user", content: $t}]}')
    http POST "http://127.0.0.1:$PP/v1/chat/completions" -N -H 'content-type: application/json' -d "$body" "${@:3}"
}
# ant MODEL TEXT [stream] [curl args]: POST /v1/messages.
ant() {
    local body
    body=$(jq -nc --arg m "$1" --arg t "$2" --argjson s "${3:-false}" '{model: $m, max_tokens: 64, stream: $s, messages: [{role: "user", content: $t}]}')
    http POST "http://127.0.0.1:$PP/v1/messages" -N -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' -d "$body" "${@:4}"
}
# openai_error NAME STATUS TYPE: the last response is that status with an OpenAI error object.
openai_error() {
    local p=()
    [ "$RESP_STATUS" = "$2" ] || p+=("status $RESP_STATUS, want $2")
    [ "$(jqr '.error.type')" = "$3" ] || p+=(".error.type '$(jqr '.error.type')', want '$3'")
    [ -n "$(jqr '.error.message // empty')" ] || p+=(".error.message missing")
    [ "$(jqr 'has("type")')" = false ] || p+=("a top-level .type: that is the Anthropic shape")
    [[ $(hdr content-type) == application/json* ]] || p+=("content-type '$(hdr content-type)'")
    if ((${#p[@]} == 0)); then ok "$1"; else not_ok "$1" "${p[@]}" "body: ${RESP_BODY:0:300}"; fi
}
# anthropic_error NAME STATUS TYPE: the last response is that status with {"type":"error",...}.
anthropic_error() {
    local p=()
    [ "$RESP_STATUS" = "$2" ] || p+=("status $RESP_STATUS, want $2")
    [ "$(jqr '.type')" = error ] || p+=(".type '$(jqr '.type')', want 'error'")
    [ "$(jqr '.error.type')" = "$3" ] || p+=(".error.type '$(jqr '.error.type')', want '$3'")
    [ -n "$(jqr '.error.message // empty')" ] || p+=(".error.message missing")
    [[ $(hdr content-type) == application/json* ]] || p+=("content-type '$(hdr content-type)'")
    if ((${#p[@]} == 0)); then ok "$1"; else not_ok "$1" "${p[@]}" "body: ${RESP_BODY:0:300}"; fi
}
# log_line ID: the access log line of request ID (waits up to 5 s for it).
log_line() {
    has_line() { [ -f "$LOG" ] && grep -q "\"request_id\":\"$1\"" "$LOG"; }
    wait_for 5 has_line "$1" || return 0
    grep -F "\"request_id\":\"$1\"" "$LOG" | head -n 1   # as written: jq would reformat numbers
}
# cost_text LINE: the cost_usd field as written in a log line (jq would reformat small numbers).
cost_text() { grep -o '"cost_usd":[^,}]*' <<<"$1" | cut -d: -f2; }
# metric NAME LABELS: one sample's value from /metrics (0 when absent).
metric() {
    curl -s -m 5 "http://127.0.0.1:$PP/metrics" | awk -v k="$1{$2}" '$1 == k { v = $2 } END { print (v == "" ? 0 : v) }'
}

# ---------------------------------------------------------------------------- 429 and keys
mock_reset "$MA"
oai rl 'hello'
is "$RESP_STATUS" 200 "429: the client gets 200 from the fallback"
is "$(jqr '.choices[0].message.content')" "Hello w1 w2" "429: the answer is the fallback's"
is "$(tried "$MA")" "/v1/chat/completions lim-k1 | /v1/chat/completions lim-k2 | /v1/messages ok-ant-key" \
    "429: the next key of the same target, then the next target, in that order"
mock_reset "$MA"
oai rl 'hello again'
is "$RESP_STATUS" 200 "429: the next request succeeds"
is "$(tried "$MA")" "/v1/messages ok-ant-key" "429: both keys cool down: the next request skips them (no call with lim-k1 or lim-k2)"
mock_reset "$MA"
oai rl-alone 'hello'
openai_error "429: while every key of the only target cools down, an OpenAI client gets 429 rate_limit_error" 429 rate_limit_error
like "$(hdr retry-after)" '^(29|30)$' "429: the cooldown answer carries retry-after (the upstream's 30 s, counting down)"
is "$(tried "$MA")" "" "429: a cooling key is not tried for another model of the same provider either"
ant rl-alone 'hello'
anthropic_error "429: the same for an Anthropic client: 429 rate_limit_error in its format" 429 rate_limit_error

# A cooldown ends: retry-after 1 s, then the key is used again. The clock is the stimulus: the
# test asks again until the key is tried, and checks that this was not before retry-after.
mock_reset "$MA"
t_before=$(date +%s%N)
oai rl-short 'hello'
openai_error "429 from the only key: the client gets the 429 (nothing else to try)" 429 rate_limit_error
is "$(hdr retry-after)" 1 "429: retry-after passed on to the client"
oai rl-short 'hello'
is "$(tried "$MA")" "/v1/chat/completions short-k1" "429: within retry-after the key is not tried again"
tried_again() { oai rl-short 'hello'; [ "$(tried "$MA")" != "/v1/chat/completions short-k1" ]; }
wait_for 10 tried_again
waited_ms=$((($(date +%s%N) - t_before) / 1000000))
is "$(tried "$MA")" "/v1/chat/completions short-k1 | /v1/chat/completions short-k1" "429: after retry-after the key is tried again"
if ((waited_ms >= 1000)); then ok "429: the key was not tried again before retry-after (${waited_ms} ms)"
else not_ok "429: the key was not tried again before retry-after" "tried again ${waited_ms} ms after the first 429"; fi

# 401: the key is taken out, logged by provider and position, never by value.
mock_reset "$MB"
oai guard 'hello'
is "$RESP_STATUS" 200 "401: the client gets 200 from the next key"
is "$(tried "$MB")" "/v1/chat/completions $REVOKED | /v1/chat/completions $GUARD_GOOD" "401: the refused key, then the next key"
for i in 1 2 3; do oai guard "again $i"; done
is "$(tried "$MB")" "/v1/chat/completions $REVOKED | /v1/chat/completions $GUARD_GOOD | /v1/chat/completions $GUARD_GOOD | /v1/chat/completions $GUARD_GOOD | /v1/chat/completions $GUARD_GOOD" \
    "401: the refused key is out of rotation (the next three requests use only the good key)"
wait_for 3 grep -q 'refused API key' "$T/portico.err"
like "$(grep 'refused API key' "$T/portico.err" | head -n 1)" "guarded.*#1" "401: the error log names the provider and the key's position"
if grep -qF "$REVOKED" "$T/portico.err" "$LOG" "$T/portico.out"; then
    not_ok "401: the key value is in no log" "$(grep -hF "$REVOKED" "$T/portico.err" "$LOG" | head -n 2)"
else ok "401: the key value is in no log"; fi

# ---------------------------------------------------------------------------- 5xx, timeout, refused
mock_reset "$MA"
oai over 'hello'
is "$RESP_STATUS" 200 "503 from an Anthropic target: the client gets 200 from the OpenAI fallback"
is "$(tried "$MA")" "/v1/messages over-key | /v1/chat/completions ok-key" "503: one call to the overloaded target, then the fallback"

mock_reset "$MA"
ant chain 'hello'
is "$RESP_STATUS" 200 "chain: refused, 500, timeout and 503 all fall back; an Anthropic client gets 200"
is "$(jqr '.content[0].text')" "Hello w1 w2" "chain: the answer is the last target's"
is "$(tried "$MA")" "/v1/chat/completions fail-key | /v1/chat/completions slow-key | /v1/messages over-key | /v1/messages ok-ant-key" \
    "chain: after the refused connection, the 500, the timeout, the 503 and the good target, in order"
l=$(log_line "$(hdr x-request-id)")
is "$(jqr '.ai.attempts' "$l")" 5 "chain: the access log counts 5 attempts"
is "$(jqr '.ai.provider' "$l")" ok-ant "chain: the access log names the provider that answered"

# A whole answer goes out with its length (passed through and translated); a stream is chunked.
length_framed() { # NAME: the last response carries a Content-Length equal to its body, no chunking
    local p=() cl
    cl=$(hdr content-length)
    [ "$RESP_STATUS" = 200 ] || p+=("status $RESP_STATUS")
    [ "$cl" = "$(printf '%s' "$RESP_BODY" | wc -c)" ] || p+=("content-length '$cl', body $(printf '%s' "$RESP_BODY" | wc -c) bytes")
    [ -z "$(hdr transfer-encoding)" ] || p+=("transfer-encoding '$(hdr transfer-encoding)'")
    if ((${#p[@]} == 0)); then ok "$1"; else not_ok "$1" "${p[@]}"; fi
}
oai ok-model 'hello'; length_framed "a passed-through whole answer carries its Content-Length"
oai claude-ok 'hello'; length_framed "a translated whole answer carries its Content-Length"
ant claude-ok 'hello'; length_framed "an Anthropic client's whole answer carries its Content-Length"
oai_stream ok-model 'hello'
is "$RESP_STATUS/$(hdr transfer-encoding)/$(hdr content-length)" "200/chunked/" "a streamed answer is chunked, without a length"

# Each failure alone, with nothing to fall back to: the client's own format and status.
oai fail-alone 'hello'; openai_error "500 with nothing left: an OpenAI client gets 502 api_error" 502 api_error
ant fail-alone 'hello'; anthropic_error "500 with nothing left: an Anthropic client gets 502 api_error" 502 api_error
oai over-alone 'hello'; openai_error "503 with nothing left: an OpenAI client gets 503 api_error" 503 api_error
ant over-alone 'hello'; anthropic_error "503 with nothing left: an Anthropic client gets 503 overloaded_error" 503 overloaded_error
oai slow-alone 'hello'; openai_error "timeout with nothing left: an OpenAI client gets 504 api_error" 504 api_error
is "$(jqr '.error.code')" upstream_timeout "timeout: the OpenAI error code is upstream_timeout"
ant slow-alone 'hello'; anthropic_error "timeout with nothing left: an Anthropic client gets 504 api_error" 504 api_error
oai dead-alone 'hello'; openai_error "refused with nothing left: an OpenAI client gets 502 api_error" 502 api_error
is "$(jqr '.error.code')" upstream_unreachable "refused: the OpenAI error code is upstream_unreachable"
ant dead-alone 'hello'; anthropic_error "refused with nothing left: an Anthropic client gets 502 api_error" 502 api_error
oai nope 'hello'; openai_error "unknown model: an OpenAI client gets 404 invalid_request_error" 404 invalid_request_error
ant nope 'hello'; anthropic_error "unknown model: an Anthropic client gets 404 not_found_error" 404 not_found_error
http POST "http://127.0.0.1:$PP/v1/chat/completions" -H 'content-type: application/json' -d '{"model":'
openai_error "invalid JSON: an OpenAI client gets 400 invalid_request_error" 400 invalid_request_error
http POST "http://127.0.0.1:$PP/v1/messages" -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' -d '{"model":"claude-ok","max_tokens":5}'
anthropic_error "missing messages: an Anthropic client gets 400 invalid_request_error" 400 invalid_request_error
http POST "http://127.0.0.1:$PP/v1/messages" -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' -d '{"model":"guard","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS" 200 "Anthropic client through the good key of guard: 200"

# ---------------------------------------------------------------------------- cut streams
mock_reset "$MA"
oai_stream cut 'hello'
is "$RESP_STATUS" 200 "cut stream (OpenAI): the response had started (200)"
like "$RESP_BODY" '"content":"Hello"' "cut stream (OpenAI): the events before the cut reached the client"
if grep -q '^data: \[DONE\]' <<<"$RESP_BODY"; then not_ok "cut stream (OpenAI): no [DONE]: the client sees a truncated stream"
else ok "cut stream (OpenAI): no [DONE]: the client sees a truncated stream"; fi
like "$(grep '^data: ' <<<"$RESP_BODY" | tail -n 1)" '^data: \{"error":' "cut stream (OpenAI): it ends with an error event"
is "$(tried "$MA")" "/v1/chat/completions cut-key" "cut stream (OpenAI): not retried after the first byte (one upstream call)"

mock_reset "$MA"
ant cut-ant 'hello' true
like "$RESP_BODY" 'event: content_block_delta' "cut stream (Anthropic): the events before the cut reached the client"
if grep -q '^event: message_stop' <<<"$RESP_BODY"; then not_ok "cut stream (Anthropic): no message_stop"
else ok "cut stream (Anthropic): no message_stop"; fi
like "$(grep '^event: ' <<<"$RESP_BODY" | tail -n 1)" '^event: error' "cut stream (Anthropic): it ends with an error event"
is "$(tried "$MA")" "/v1/messages cut-ant-key" "cut stream (Anthropic): not retried after the first byte (one upstream call)"

mock_reset "$MA"
oai_stream cut-early 'hello'
is "$RESP_STATUS" 200 "stream cut before its first event: retried, the client gets 200"
like "$RESP_BODY" 'data: \[DONE\]' "stream cut before its first event: the fallback's stream is whole"
is "$(tried "$MA")" "/v1/chat/completions cut0-key | /v1/chat/completions ok-key" "stream cut before its first event: the fallback was called"

mock_reset "$MA"
oai cut 'hello'
is "$RESP_STATUS" 200 "whole answer cut mid-body: retried (nothing was sent), the client gets 200"
is "$(tried "$MA")" "/v1/chat/completions cut-key | /v1/chat/completions ok-key" "whole answer cut mid-body: the fallback was called"

# ---------------------------------------------------------------------------- usage and cost
# claude-sonnet-4-5: 3 USD in / 15 USD out per million; the upstream reports 11 in, 23 out with
# tools=1: 11 x 3 + 23 x 15 = 378 micro-dollars.
oai claude-ok 'weather? [mock tools=1]' -H 'X-Request-Id: ai-usage-1'
is "$RESP_STATUS" 200 "usage fixture: 200"
l=$(log_line ai-usage-1)
is "$(jqr '[.ai.format, .ai.provider, .ai.model, .ai.input_tokens, .ai.output_tokens, .ai.cache_read_tokens, .ai.cache_write_tokens, .ai.attempts, .ai.passthrough] | map(tostring) | join(" ")' "$l") $(cost_text "$l")" \
    "openai ok-ant claude-sonnet-4-5 11 23 0 0 1 false 0.000378" "access log: usage and cost exact (OpenAI client, Anthropic provider, whole)"
is "$(jqr '.route + " " + .service + " " + (.status | tostring)' "$l")" "ai ok-ant 200" "access log: route ai, provider as service, status"

# Streamed, 7 events: usage comes from the stream; priced provider: 1.5 in, 4 out per million:
# 11 x 1.5 + 7 x 4 = 44.5 micro-dollars, rounded half up to 0.000045.
oai_stream price '[mock events=7]' -H 'X-Request-Id: ai-usage-2'
l=$(log_line ai-usage-2)
is "$(jqr '[.ai.provider, .ai.model, .ai.input_tokens, .ai.output_tokens, .ai.passthrough] | map(tostring) | join(" ")' "$l") $(cost_text "$l")" \
    "priced gpt-4o 11 7 true 0.000045" "access log: streamed passthrough usage, and the configured price overrides the table"
ant price '[mock events=5]' true -H 'X-Request-Id: ai-usage-3'
l=$(log_line ai-usage-3)
is "$(jqr '[.ai.format, .ai.input_tokens, .ai.output_tokens, .ai.passthrough] | map(tostring) | join(" ")' "$l") $(cost_text "$l")" \
    "anthropic 11 5 false 0.000037" "access log: Anthropic client streamed from an OpenAI provider: usage and cost exact (16.5 + 20 = 36.5 -> 37)"
if [ -n "$l" ] && ! jq -e '.ai.ttft_ms > 0' >/dev/null <<<"$l"; then not_ok "access log: time to first token recorded" "$l"
else check "access log: time to first token recorded" test -n "$l"; fi

# /metrics: tokens and cost grow by exactly the usage of what was sent.
lab='provider="metered",model="claude-sonnet-4-5"'
in0=$(metric portico_ai_tokens_total "$lab,kind=\"input\"")
out0=$(metric portico_ai_tokens_total "$lab,kind=\"output\"")
ok0=$(metric portico_ai_calls_total "$lab,outcome=\"ok\"")
oai meter 'one'                                  # 11 in, 3 out
oai_stream meter 'two [mock events=9]'           # 11 in, 9 out
ant meter 'three [mock tools=1]'                 # 11 in, 23 out
ant meter 'four [mock events=4]' true            # 11 in, 4 out
oai meter 'five [mock status=400]'               # refused: no usage
# Counters are bumped once a response is written, a moment after the client has it.
wait_metric portico_ai_calls_total $((ok0 + 4)) "$lab" 'outcome="ok"' || note "the four ok calls were never counted"
in1=$(metric portico_ai_tokens_total "$lab,kind=\"input\"")
out1=$(metric portico_ai_tokens_total "$lab,kind=\"output\"")
ok1=$(metric portico_ai_calls_total "$lab,outcome=\"ok\"")
cost1=$(metric portico_ai_cost_usd_total "$lab")
is "$((in1 - in0))" 44 "metrics: input tokens grew by exactly 4 x 11"
is "$((out1 - out0))" 39 "metrics: output tokens grew by exactly 3 + 9 + 23 + 4"
is "$((ok1 - ok0))" 4 "metrics: four calls counted ok"
# the provider is used by this block only: the cost is the whole counter (44 x 3 + 39 x 15 = 717 micro-dollars)
is "$cost1" 0.000717000000 "metrics: cost grew by exactly the priced usage"

# A stream the client walks away from (curl gives up after 0.5 s of a 2 s stream) is no "ok" call:
# the access log says client_closed, and the metric must not count it as a success.
lab='provider="abandoned",model="claude-sonnet-4-5"'
all_outcomes() {
    curl -s -m 5 "http://127.0.0.1:$PP/metrics" |
        awk -v p="portico_ai_calls_total{$lab," 'index($1, p) == 1 { s += $2 } END { print s + 0 }'
}
ok0=$(metric portico_ai_calls_total "$lab,outcome=\"ok\"")
all0=$(all_outcomes)
oai_stream abandon '[mock events=400 gap_ms=5]' -m 0.5 -H 'X-Request-Id: ai-abandoned-1'
l=$(log_line ai-abandoned-1)
is "$(jqr '.error' "$l")" client_closed "abandoned stream: the access log says client_closed"
wait_metric portico_ai_calls_total $((all0 + 1)) "$lab" || note "the abandoned stream was never counted"
is "$(( $(all_outcomes) - all0 ))" 1 "abandoned stream: counted once in portico_ai_calls_total"
is "$(( $(metric portico_ai_calls_total "$lab,outcome=\"ok\"") - ok0 ))" 0 "abandoned stream: not counted as outcome=\"ok\""

# ---------------------------------------------------------------------------- body limit
# The engine's own refusals on an AI route are client-visible errors too: the client's format.
# (The HTTP server checks Content-Length against max_body_bytes before the AI route is
# dispatched, so today it answers in the gateway's generic error shape.)
printf '{"model":"ok-model","max_tokens":5,"messages":[{"role":"user","content":"%s"}]}' \
    "$(head -c 150000 /dev/zero | tr '\0' a)" >"$T/big.json"   # printf is a builtin: no argument limit
http POST "http://127.0.0.1:$PP/v1/chat/completions" -H 'content-type: application/json' --data-binary @"$T/big.json"
openai_error "body over max_body_bytes: an OpenAI client gets 413 in the OpenAI error format" 413 invalid_request_error
http POST "http://127.0.0.1:$PP/v1/messages" -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' --data-binary @"$T/big.json"
anthropic_error "body over max_body_bytes: an Anthropic client gets 413 request_too_large in its format" 413 request_too_large

# ---------------------------------------------------------------------------- one model
http GET "http://127.0.0.1:$PP/v1/models/ok-model"
is "$RESP_STATUS $(jqr '[.id, .object, .owned_by] | join(",")')" "200 ok-model,model,ok" "GET /v1/models/{id}: the model in OpenAI's shape"
http GET "http://127.0.0.1:$PP/v1/models/claude-ok" -H 'anthropic-version: 2023-06-01'
is "$RESP_STATUS $(jqr '[.type, .id, .display_name] | join(",")')" "200 model,claude-ok,claude-ok" \
    "GET /v1/models/{id} with anthropic-version: the model in Anthropic's shape"
http GET "http://127.0.0.1:$PP/v1/models/team%2Ffast"
is "$RESP_STATUS $(jqr .id)" "200 team/fast" "a name with a slash, percent-encoded as SDKs send it, is found"
http GET "http://127.0.0.1:$PP/v1/models/team/fast"
is "$RESP_STATUS $(jqr .id)" "200 team/fast" "the same name with a plain slash is found too"
http GET "http://127.0.0.1:$PP/v1/models/no-such-model"
openai_error "an unknown model id is a 404 in OpenAI's error shape" 404 invalid_request_error
like "$(jqr .error.message)" "no-such-model" "the 404 names the model asked for"
http GET "http://127.0.0.1:$PP/v1/models/no-such-model" -H 'anthropic-version: 2023-06-01'
anthropic_error "an unknown model id is a 404 in Anthropic's error shape with anthropic-version" 404 not_found_error
http GET "http://127.0.0.1:$PP/v1/models/bad%00name"
openai_error "an id that decodes to a NUL byte is an unknown model, not a crash" 404 invalid_request_error
http POST "http://127.0.0.1:$PP/v1/models/ok-model" -H 'content-type: application/json' -d '{}'
openai_error "POST /v1/models/{id} is no AI endpoint: the AI route answers 404 in OpenAI's error shape" 404 \
    invalid_request_error
like "$(jqr .error.message)" "POST /v1/models/ok-model" "the 404 names the method and path"

# ---------------------------------------------------------------------------- files and audio
AUDIO='{"model":"listens","messages":[{"role":"user","content":[{"type":"text","text":"What is said?"},{"type":"input_audio","input_audio":{"data":"UklGRiQAAABXQVZF","format":"wav"}}]}]}'
mock_reset "$MA"
http POST "http://127.0.0.1:$PP/v1/chat/completions" -H 'content-type: application/json' -d "$AUDIO"
is "$RESP_STATUS $(tried "$MA")" "200 /v1beta/models/gemini-2.5-flash:generateContent ok-gem-key" \
    "audio the first target (Anthropic) cannot take goes to the fallback that can (Gemini), without calling Anthropic"
is "$(mock_seen "$MA" | jq -r '.[0].body | fromjson | .contents[0].parts[1].inlineData.mimeType')" "audio/wav" \
    "the audio reaches Gemini as inlineData"
http POST "http://127.0.0.1:$PP/v1/chat/completions" -H 'content-type: application/json' -d "${AUDIO/listens/claude-alone}"
openai_error "audio for a model only Anthropic serves is a 400 naming the provider" 400 invalid_request_error
like "$(jqr .error.message)" "provider 'ok-ant' \\(anthropic\\) does not accept files of type 'audio/wav'" "the 400 says what cannot be sent where"
http POST "http://127.0.0.1:$PP/v1/chat/completions" -H 'content-type: application/json' \
    -d '{"model":"claude-alone","messages":[{"role":"user","content":[{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0x"}}]}]}'
is "$RESP_STATUS $(mock_seen "$MA" | jq -r '.[-1].body | fromjson | .messages[0].content[0] | "\(.type) \(.source.media_type) \(.title)"')" \
    "200 document application/pdf a.pdf" "an OpenAI file part reaches Anthropic as a document block"

# ---------------------------------------------------------------------------- no client-chosen host
mock_reset "$MA"; mock_reset "$ME"
oai ok-model 'hello' -H "x-portkey-custom-host: http://127.0.0.1:$ME/v1" -H 'x-portkey-provider: openai' \
    -H "Host: 127.0.0.1:$ME" -H "X-Forwarded-Host: 127.0.0.1:$ME" -H "x-portkey-config: {\"custom_host\":\"http://127.0.0.1:$ME/v1\"}" \
    -H "x-upstream-url: http://127.0.0.1:$ME/v1" -H "base-url: http://127.0.0.1:$ME/v1"
is "$RESP_STATUS" 200 "host headers: the request is served"
body=$(jq -nc --arg h "http://127.0.0.1:$ME/v1" '{model: "ok-model", base_url: $h, custom_host: $h, messages: [{role: "user", content: "hi"}]}')
http POST "http://127.0.0.1:$PP/v1/chat/completions" -H 'content-type: application/json' -d "$body"
http POST "http://127.0.0.1:$PP/v1/chat/completions" -H 'content-type: application/json' \
    --request-target "http://127.0.0.1:$ME/v1/chat/completions" -d '{"model":"ok-model","messages":[{"role":"user","content":"hi"}]}'
is "$(mock_seen "$ME" | jq length)" 0 "host headers, body fields and an absolute request target never reach another host"
is "$(mock_seen "$MA" | jq -r '[.[].headers.host] | unique | join(",")')" "127.0.0.1:$MA" "the configured upstream got every call, with its own Host"
is "$(mock_seen "$MA" | jq -r '[.[].headers | keys[] | select(startswith("x-portkey") or . == "x-forwarded-host" or . == "x-upstream-url")] | length')" 0 \
    "routing headers from the client are not forwarded upstream"

alive_after "the AI routing tests"
done_testing
