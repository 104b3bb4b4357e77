#!/usr/bin/env bash
# The AI response cache (a model's `cache:`): a deterministic request (temperature 0) is answered
# once by the provider and then from the cache, byte for byte, streams replayed as streams;
# X-Portico-Cache says hit or miss (with Age on a hit) and lets a request ask (on), refresh or
# opt out (off, or Cache-Control: no-store); answers are never shared between consumers; the
# access log marks hits with the cost saved; /metrics counts lookups, stores and the dollars
# saved; entries expire after ttl, answers over max_entry are served but not kept, and
# limits.ai_cache_size evicts the least recently used.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); MA=$(free_port)
D=$T/data
LOG=$T/access.log
seed team ml && seed consumer alice ml && seed consumer bob ml && seed service llm ml || not_ok "the store is seeded"
KA=$(seed key alice); KB=$(seed key bob)
seed subscribe alice llm active && seed subscribe bob llm active || not_ok "the subscriptions are seeded"

ai_mock_start a "$MA" || not_ok "provider upstream starts"

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: $LOG
data_dir: $D
limits: { ai_cache_size: 64KB }
providers:
  - name: oai
    type: openai
    base_url: "http://127.0.0.1:$MA/v1"
    api_key: k1
    prices: { gpt-4o: { input: 300, output: 1000 } }
  - { name: ant, type: anthropic, base_url: "http://127.0.0.1:$MA", api_key: k2 }
models:
  - { name: gpt, targets: [{ provider: oai, model: gpt-4o }], cache: { ttl: 10m } }
  - { name: brief, targets: [{ provider: oai, model: gpt-4o }], cache: { ttl: 1s } }
  - { name: small, targets: [{ provider: oai, model: gpt-4o }], cache: { max_entry: 1KB, when: always } }
  - { name: claude, targets: [{ provider: ant, model: claude-sonnet-4-5 }], cache: true }
  - { name: plain, targets: [{ provider: oai, model: gpt-4o }] }
routes:
  - name: llm
    match: { path_prefix: "/v1/" }
    ai: {}
    auth: key
    auth_service: llm
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts"

mock_count() { curl -s -m 5 "http://127.0.0.1:$MA/_mock/requests" | jq length; }
# chat KEY MODEL TEXT [TEMPERATURE] [curl args...]
chat() {
    local key=$1 model=$2 text=$3 temp=${4-0}
    shift 4 2>/dev/null || shift $#
    local t=""; [ -n "$temp" ] && t=",\"temperature\":$temp"
    http POST "http://127.0.0.1:$PP/v1/chat/completions" -H 'content-type: application/json' -H "Authorization: Bearer $key" \
        -d "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"$text\"}]$t}" "$@"
}
log_of() { # REQUEST_ID: its access-log line
    has_line() { [ -f "$LOG" ] && grep -q "\"request_id\":\"$1\"" "$LOG"; }
    wait_for 5 has_line "$1" || return 0
    grep -F "\"request_id\":\"$1\"" "$LOG" | head -n 1
}

# ---------------------------------------------------------------------------- miss, then hit
n0=$(mock_count)
chat "$KA" gpt "cache me" 0 -H 'X-Request-Id: c1'
first=$RESP_BODY
is "$RESP_STATUS $(hdr x-portico-cache)" "200 miss" "a deterministic request the first time: a miss, answered by the provider"
chat "$KA" gpt "cache me" 0 -H 'X-Request-Id: c2'
is "$RESP_STATUS $(hdr x-portico-cache)" "200 hit" "the same request again: a hit"
is "$RESP_BODY" "$first" "a hit is the first answer byte for byte"
like "$(hdr age)" '^[0-9]+$' "a hit carries Age"
is "$(($(mock_count) - n0))" 1 "the provider was called once for the two requests"
l=$(log_of c2)
is "$(jq -r '[.ai.cache, .ai.cost_usd, .ai.input_tokens] | join(" ")' <<<"$l") $(grep -o '"cost_saved_usd":[^,}]*' <<<"$l")" \
    'hit 0 0 "cost_saved_usd":0.006300' "access log: the hit is marked, costs 0 and names what the answer cost when made"
is "$(jq -r .ai.cache <<<"$(log_of c1)")" "miss" "access log: the first call is marked a miss"

# the key is the request's content, not its spelling: member order and whitespace do not matter
http POST "http://127.0.0.1:$PP/v1/chat/completions" -H 'content-type: application/json' -H "Authorization: Bearer $KA" \
    -d '{ "temperature" : 0, "messages":[{"content":"cache me","role":"user"}], "model":"gpt", "user": "someone" }'
is "$(hdr x-portico-cache)" "hit" "the same request with members reordered, spaces and a user id: a hit"

# ---------------------------------------------------------------------------- what is not cached
chat "$KA" gpt "cache me" ""
is "$(hdr x-portico-cache)" "" "no temperature (the provider's default is random): not cached, no header"
chat "$KA" gpt "cache me" 0.7
is "$(hdr x-portico-cache)" "" "temperature 0.7: not cached"
chat "$KA" gpt "random but asked" 0.7 -H 'X-Portico-Cache: on'
chat "$KA" gpt "random but asked" 0.7 -H 'X-Portico-Cache: on'
is "$(hdr x-portico-cache)" "hit" "X-Portico-Cache: on caches a request that is not deterministic"
chat "$KA" plain "cache me" 0
is "$RESP_STATUS $(hdr x-portico-cache)" "200 " "a model without cache: never cached"

# ---------------------------------------------------------------------------- scope: one consumer's answers
n0=$(mock_count)
chat "$KB" gpt "cache me" 0
is "$(hdr x-portico-cache) $(($(mock_count) - n0))" "miss 1" "another consumer's identical request is its own miss"

# ---------------------------------------------------------------------------- the request's say
n0=$(mock_count)
chat "$KA" gpt "cache me" 0 -H 'X-Portico-Cache: refresh'
is "$(hdr x-portico-cache) $(($(mock_count) - n0))" "refresh 1" "refresh: the provider is asked again"
chat "$KA" gpt "cache me" 0 -H 'Cache-Control: no-cache'
is "$(hdr x-portico-cache) $(($(mock_count) - n0))" "refresh 2" "Cache-Control: no-cache is a refresh"
chat "$KA" gpt "cache me" 0 -H 'X-Portico-Cache: off'
is "$(hdr x-portico-cache) $(($(mock_count) - n0))" " 3" "off: neither read nor marked"
chat "$KA" gpt "never kept" 0 -H 'Cache-Control: no-store'
chat "$KA" gpt "never kept" 0
is "$(hdr x-portico-cache)" "miss" "Cache-Control: no-store: the answer was not kept"
chat "$KA" gpt "cache me" 0 -H 'X-Portico-Cache: maybe'
is "$RESP_STATUS $(jqr .error.type)" "400 invalid_request_error" "a bad X-Portico-Cache: 400 in the client's format"
like "$(jqr .error.message)" "X-Portico-Cache: expected on, off or refresh" "the message names the header and its values"

# ---------------------------------------------------------------------------- streams replay as streams
stream() {
    http POST "http://127.0.0.1:$PP/v1/chat/completions" -H 'content-type: application/json' -H "Authorization: Bearer $KA" \
        -d '{"model":"gpt","stream":true,"temperature":0,"messages":[{"role":"user","content":"stream me [mock events=4]"}]}'
}
n0=$(mock_count)
stream
s1=$RESP_BODY
is "$(hdr x-portico-cache) $(hdr content-type)" "miss text/event-stream" "a stream: a miss the first time"
stream
is "$(hdr x-portico-cache) $(hdr content-type)" "hit text/event-stream" "the same stream again: a hit, still server-sent events"
is "$RESP_BODY" "$s1" "the replayed stream is the same events"
like "$RESP_BODY" 'data: \[DONE\]' "the replay ends as the stream did"
is "$(($(mock_count) - n0))" 1 "the provider streamed once"
chat "$KA" gpt "stream me [mock events=4]" 0
is "$(hdr x-portico-cache)" "miss" "the same request not streamed is another entry"

# the Anthropic format and an Anthropic provider
msg() {
    http POST "http://127.0.0.1:$PP/v1/messages" -H 'content-type: application/json' -H "x-api-key: $KA" \
        -H 'anthropic-version: 2023-06-01' \
        -d '{"model":"claude","max_tokens":50,"temperature":0,"messages":[{"role":"user","content":"hello claude"}]}'
}
msg; m1=$RESP_BODY
msg
is "$RESP_STATUS $(hdr x-portico-cache)" "200 hit" "Anthropic format (cache: true): a hit"
is "$RESP_BODY" "$m1" "the Anthropic answer replays byte for byte"

# ---------------------------------------------------------------------------- ttl, max_entry, size cap
chat "$KA" brief "short lived" 0
chat "$KA" brief "short lived" 0
is "$(hdr x-portico-cache)" "hit" "ttl 1s: a hit within the second"
expired() { chat "$KA" brief "short lived" 0; [ "$(hdr x-portico-cache)" = miss ]; }
wait_for 10 expired && ok "ttl 1s: a miss once the entry is older than its ttl" || not_ok "ttl 1s: a miss once the entry is older than its ttl"

chat "$KA" small "a long answer [mock echo=1] $(head -c 1500 /dev/zero | tr '\0' x)" 0.9
chat "$KA" small "a long answer [mock echo=1] $(head -c 1500 /dev/zero | tr '\0' x)" 0.9
is "$RESP_STATUS $(hdr x-portico-cache)" "200 miss" "an answer over max_entry is served but not kept (when: always caches temperature 0.9)"
chat "$KA" small "short [mock echo=1]" 0.9
chat "$KA" small "short [mock echo=1]" 0.9
is "$(hdr x-portico-cache)" "hit" "when: always: a small answer at temperature 0.9 is a hit"

ev0=$(metric_sum portico_ai_cache_evictions_total)
for i in $(seq 1 40); do chat "$KA" gpt "filler $i [mock echo=1] $(head -c 2000 /dev/zero | tr '\0' y)" 0 >/dev/null; done
ev1=$(metric_sum portico_ai_cache_evictions_total)
yes() { [ "$1" = 1 ]; }
check "limits.ai_cache_size 64KB: storing 40 answers of 2 KB evicts entries ($ev0 -> $ev1)" yes $((ev1 > ev0))
check "the cache stays within limits.ai_cache_size" yes $(($(metric_sum portico_ai_cache_bytes) <= 65536))
chat "$KA" gpt "filler 1 [mock echo=1] $(head -c 2000 /dev/zero | tr '\0' y)" 0
is "$(hdr x-portico-cache)" "miss" "the least recently used entry was the one evicted"

# ---------------------------------------------------------------------------- metrics
check "portico_ai_cache_lookups_total counts hits" yes $(($(metric_sum portico_ai_cache_lookups_total 'result="hit"') >= 7))
check "portico_ai_cache_lookups_total counts misses" yes $(($(metric_sum portico_ai_cache_lookups_total 'result="miss"') >= 5))
check "portico_ai_cache_stores_total counts stored answers" yes $(($(metric_sum portico_ai_cache_stores_total) >= 5))
saved=$(curl -s "http://127.0.0.1:$PP/metrics" | awk '$1 == "portico_ai_cache_saved_usd_total" { print $2 }')
check "portico_ai_cache_saved_usd_total counts the dollars saved ($saved)" yes "$(awk -v s="$saved" 'BEGIN { print (s >= 0.0063) ? 1 : 0 }')"

# ---------------------------------------------------------------------------- configuration
bad() { # NAME CACHE REGEX
    cat >"$T/bad.yaml" <<EOF2
admin: { enabled: false }
providers:
  - { name: oai, type: openai, base_url: "http://127.0.0.1:9/v1", api_key: k }
models:
  - { name: m, targets: [{ provider: oai, model: gpt-4o }], cache: $2 }
EOF2
    config_refused "$1" "$3"
}
bad "cache.when unknown" "{ when: sometimes }" 'models\[0\]\.cache\.when: expected deterministic.*or always'
bad "cache.ttl 0" "{ ttl: 0s }" 'models\[0\]\.cache\.ttl'
bad "cache: a number" "5" 'models\[0\]\.cache: expected true, false or \{ttl, when, max_entry\}'
bad "cache: an unknown member" "{ tll: 5m }" 'models\[0\]\.cache.*tll'

alive_after "the AI response cache"
portico_stop TERM
is "$PORTICO_STATUS" 0 "portico exits 0"
done_testing
