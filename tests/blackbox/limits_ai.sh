#!/usr/bin/env bash
# Token limits, quotas and budgets on the real binary with the AI provider test upstream:
# a tokens-per-minute window takes each call's estimate and settles on the real usage
# (streams included), and refuses in the client's own error format with Retry-After and
# the RateLimit fields; a day quota survives a clean stop and a crash (the gateway process
# killed with SIGKILL once the background writer has written it, and restarted by its
# supervisor on the same data_dir); a $0.01 budget serves the streamed call that crosses it
# and refuses the next naming the budget; the soft threshold is logged once, counted and
# posted to a local webhook receiver; a limit store that cannot be written fails open or
# closed as each policy says.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); MA=$(free_port); HOOK=$(free_port)
D=$T/data
LOG=$T/access.log
mkdir -p "$D"

ai_mock_start a "$MA" || not_ok "provider upstream a starts"
node "$UPSTREAMS/recorder.mjs" --port "$HOOK" --out "$T/hook.raw" >"$T/hook.log" 2>&1 &
_bb_pids+=($!)
wait_port "$HOOK" || not_ok "the webhook receiver starts"
counters_start

write_config() {
    cat >"$T/portico.yaml" <<EOF2
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: $LOG
data_dir: $1
$(counters_line)
providers:
  - { name: oai, type: openai, base_url: "http://127.0.0.1:$MA/v1", api_key: k1 }
  - { name: ant, type: anthropic, base_url: "http://127.0.0.1:$MA", api_key: k2 }
  - name: dear
    type: openai
    base_url: "http://127.0.0.1:$MA/v1"
    api_key: k3
    prices: { gpt-4o: { input: 300, output: 1000 } }
models:
  - { name: tok, targets: [{ provider: oai, model: gpt-4o }] }
  - { name: tok-ant, targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
  - { name: daily, targets: [{ provider: oai, model: gpt-4o }] }
  - { name: spend, targets: [{ provider: dear, model: gpt-4o }] }
  - { name: shut, targets: [{ provider: oai, model: gpt-4o }] }
policies:
  - name: tok
    applies_to: { model: tok }
    tokens: { per_minute: 1000 }
  - name: tok-ant
    applies_to: { model: tok-ant }
    tokens: { per_minute: 1000 }
  - name: daily
    applies_to: { model: daily }
    quota: { requests_per_day: 3, time_zone: Europe/Paris }
  - name: spend
    applies_to: { model: spend }
    budget: { usd_per_day: 0.01, soft_at: 0.5, webhook: "http://127.0.0.1:$HOOK/budget" }
  - name: shut
    applies_to: { model: shut }
    quota: { requests_per_month: 100 }
    on_store_error: closed
EOF2
}
write_config "$D"
portico_start "$T/portico.yaml" || not_ok "portico starts"
like "$("$PORTICO" check-config -c "$T/portico.yaml" 2>&1)" \
    "  daily: model daily; requests_per_day 3 \\(Europe/Paris; store errors let through\\)"$'\n'"  spend: model spend; usd_per_day \\\$0.010000, soft at 50.0% \\(UTC; store errors let through\\)" \
    "check-config lists the quotas and budgets with their zone"

# chat MODEL MAX_TOKENS TEXT [stream]: POST /v1/chat/completions
chat() {
    local body
    body=$(jq -nc --arg m "$1" --argjson n "$2" --arg t "$3" --argjson s "${4:-false}" \
        '{model: $m, max_tokens: $n, stream: $s, messages: [{role: "user", content: $t}]}
         + (if $s then {stream_options: {include_usage: true}} else {} end)')
    http POST "http://127.0.0.1:$PP/v1/chat/completions" -N -H 'content-type: application/json' -d "$body"
}
# 200 tokens of answer and 11 of prompt, as the test upstream reports them
BIG='hello [mock events=200]'

# ---- tokens per minute: reserved, settled, refused
chat tok 700 "$BIG"
is "$RESP_STATUS" 200 "a call reserving about 710 of 1,000 tokens a minute passes"
like "$(hdr RateLimit-Policy)" '"tok/tokens";q=1000;w=60;qu="tokens"' "its answer names the tokens window"
chat tok 700 "$BIG" true
is "$RESP_STATUS" 200 "a second one passes: the first was settled on its 211 real tokens (1,420 reserved otherwise)"
like "$RESP_BODY" '"total_tokens":211' "the stream reported its usage"
chat tok 700 "$BIG"
is "$RESP_STATUS" 429 "a third needing about 710 more is refused: 422 are used, settled from the stream too"
is "$(jqr .error.type)/$(jqr .error.code)" "rate_limit_error/rate_limit_exceeded" "the refusal is OpenAI's rate-limit error"
like "$(jqr .error.message)" "^policy 'tok' allows 1000 tokens per minute; this call needs about [0-9]+ " \
    "the message names the policy and the tokens"
RA=$(hdr Retry-After)
check "Retry-After says when the window has room ($RA s)" test "${RA:-0}" -ge 1 -a "${RA:-0}" -le 60
like "$(hdr RateLimit)" "^\"tok/tokens\";r=0;t=$RA\$" "RateLimit shows the tokens window empty"
is "$(metric_sum portico_policy_decisions_total 'policy="tok"' 'reason="tokens"')" 1 \
    "portico_policy_decisions_total counts the refusal with reason tokens"
chat tok 100 "$BIG"
is "$RESP_STATUS" 200 "a call that fits what is left passes"

body=$(jq -nc --arg t "$BIG" '{model: "tok-ant", max_tokens: 900, messages: [{role: "user", content: $t}]}')
http POST "http://127.0.0.1:$PP/v1/messages" -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' -d "$body"
is "$RESP_STATUS" 200 "Anthropic: a call within the window passes"
http POST "http://127.0.0.1:$PP/v1/messages" -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' -d "$body"
is "$RESP_STATUS/$(jqr .type)/$(jqr .error.type)" "429/error/rate_limit_error" \
    "Anthropic: the refusal is Anthropic's rate_limit_error"

# ---- a day quota survives a clean stop and a crash
for i in 1 2; do chat daily 16 hi; is "$RESP_STATUS" 200 "quota: call $i of 3 passes"; done
like "$(hdr RateLimit)" '"daily/requests_per_day";r=1;t=[0-9]+' "RateLimit shows what is left of the day"
portico_stop
is "$PORTICO_STATUS" 0 "portico stops cleanly"
if [ "${COUNTERS:-}" = redis ]; then # the totals live in Redis, not in data_dir: start afresh
    check "no totals file is written with counters in Redis" test ! -e "$D/limits.db"
    rm -rf "$D"
else
    check "the totals were written to data_dir/limits.db" test -s "$D/limits.db"
fi
portico_start "$T/portico.yaml" || not_ok "portico starts again on the same data_dir"
chat daily 16 hi
is "$RESP_STATUS" 200 "after the restart, call 3 of 3 passes"
db_total() { sqlite3 "$D/limits.db" "select coalesce(max(total), 0) from windows where hex(key) like '$(printf daily | xxd -p)%'" 2>/dev/null; }
db_has() { test "$(db_total)" = "$1"; }
[ "${COUNTERS:-}" = redis ] ||
    wait_for 5 db_has 3 || not_ok "the background writer stores the third call within a second or so" "total $(db_total)"
# the gateway process dies (SIGKILL); the supervisor starts a new one on the same data_dir
child=$(pgrep -P "$PORTICO_PID" -x portico | head -n 1)
kill -KILL "$child"
restarted() {
    local c
    c=$(pgrep -P "$PORTICO_PID" -x portico | head -n 1)
    [ -n "$c" ] && [ "$c" != "$child" ] && answers_200 "http://127.0.0.1:$PP/healthz"
}
wait_for 20 restarted || not_ok "the supervisor starts a new gateway after SIGKILL"
chat daily 16 hi
is "$RESP_STATUS" 429 "after a crash, the quota still counts 3 of 3: the fourth call is refused"
like "$(jqr .error.message)" "^quota requests_per_day of policy 'daily' is used up: 3 of 3 requests this day; it resets at the start of the next day \(Europe/Paris\), in [0-9]+ s$" \
    "the message names the quota, the zone and when it resets"
like "$(hdr RateLimit)" '^"daily/requests_per_day";r=0;t=[0-9]+$' "RateLimit shows the quota used up"

# ---- a $0.01 budget with streams, and its soft threshold
# each call costs 11 x $300 + 3 x $1,000 per million tokens = $0.0063
chat spend 16 hi true
is "$RESP_STATUS" 200 "budget: the first streamed call (\$0.0063 of \$0.01) is served"
wait_for 10 grep -q 'budget.soft_limit' "$T/hook.raw" || not_ok "the webhook receives the soft threshold"
like "$(grep -o '{"event".*}' "$T/hook.raw" | head -1)" \
    '"policy":"spend","budget":"usd_per_day","window":"[0-9]{4}-[0-9]{2}-[0-9]{2}","time_zone":"UTC","group":"","spent_usd":0.006300,"limit_usd":0.010000,"soft_at":0.500' \
    "the webhook's JSON names the policy, the budget, the window and the amounts"
like "$(head -1 "$T/hook.raw")" '^POST /budget HTTP/1.1' "it is POSTed to the configured path"
if wait_log "policy 'spend': budget usd_per_day reached its soft threshold \\(50%\\)" "$T/portico.err"; then
    ok "the soft threshold is logged"
else
    not_ok "the soft threshold is logged"
fi
chat spend 16 hi true
is "$RESP_STATUS" 200 "the second streamed call, which crosses \$0.01, is served"
chat spend 16 hi true
is "$RESP_STATUS" 429 "the third is refused: the budget is spent"
like "$(jqr .error.message)" "^budget usd_per_day of policy 'spend' is spent: \\\$0.012600 of \\\$0.010000 this day" \
    "the refusal names the budget and what was spent"
is "$(metric_sum portico_policy_budget_soft_total 'policy="spend"')" 1 "the soft threshold is counted once"
is "$(grep -c 'budget.soft_limit' "$T/hook.raw")" 1 "and posted once"

# ---- a limit store that cannot be written (with counters in Redis: Redis stopped)
if [ "${COUNTERS:-}" = redis ]; then
    redis_stop
    STORE_WHAT=calls
else
    portico_stop
    mkdir -p "$T/bad"
    mkdir "$T/bad/limits.db" # a directory where the file should be
    write_config "$T/bad"
    portico_start "$T/portico.yaml" || not_ok "portico starts with a limits store it cannot write"
    STORE_WHAT=requests_per_month
fi
chat shut 16 hi
is "$RESP_STATUS" 429 "on_store_error: closed refuses what it cannot count"
like "$(jqr .error.message)" "policy 'shut' cannot count its $STORE_WHAT: the limit store cannot be written" \
    "and says why"
chat daily 16 hi
is "$RESP_STATUS" 200 "on_store_error: open (the default) lets the call through"

done_testing
