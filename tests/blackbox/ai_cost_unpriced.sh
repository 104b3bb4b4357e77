#!/usr/bin/env bash
# A model without a price has an unknown cost, not a zero one: the access log's cost_usd is null,
# /metrics has no cost sample for it (tokens still counted), /v1/models says which models are
# priced, the missing price is logged once per model, and a cost budget counts its calls as 0
# (documented) so they are served past a budget a priced model has spent.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); MA=$(free_port)
D=$T/data
LOG=$T/access.log

ai_mock_start a "$MA" || not_ok "provider upstream starts"

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: $LOG
data_dir: $D
providers:
  - name: dear
    type: openai
    base_url: "http://127.0.0.1:$MA/v1"
    api_key: k1
    prices: { gpt-4o: { input: 300, output: 1000 } }
  - { name: local, type: openai_compatible, base_url: "http://127.0.0.1:$MA/v1", api_key: k2 }
models:
  - { name: dear, targets: [{ provider: dear, model: gpt-4o }] }
  - { name: free, targets: [{ provider: local, model: house-llama }] }
policies:
  - name: spend-dear
    applies_to: { model: dear }
    budget: { usd_per_day: 0.001 }
  - name: spend-free
    applies_to: { model: free }
    budget: { usd_per_day: 0.000001 }
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts"

chat() { # MODEL ID
    http POST "http://127.0.0.1:$PP/v1/chat/completions" -H 'content-type: application/json' -H "X-Request-Id: $2" \
        -d "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
}
log_line() {
    has_line() { [ -f "$LOG" ] && grep -q "\"request_id\":\"$1\"" "$LOG"; }
    wait_for 5 has_line "$1" || return 0
    grep -F "\"request_id\":\"$1\"" "$LOG" | head -n 1
}
cost_text() { grep -o '"cost_usd":[^,}]*' <<<"$1" | cut -d: -f2; }

http GET "http://127.0.0.1:$PP/v1/models"
is "$(jqr '[.data[] | "\(.id)=\(.priced)"] | join(" ")')" "dear=true free=false" "/v1/models says which models have a price"

chat free u1
is "$RESP_STATUS" 200 "an unpriced model answers"
l=$(log_line u1)
is "$(jqr '.ai.input_tokens' "$l") $(cost_text "$l")" "11 null" "access log: tokens counted, cost_usd null (unknown, not 0)"
chat dear p1
l=$(log_line p1)
is "$(cost_text "$l")" "0.006300" "access log: a priced model's cost is a number (11 x 300 + 3 x 1000 per million)"

metrics=$(curl -s -m 5 "http://127.0.0.1:$PP/metrics")
like "$metrics" 'portico_ai_tokens_total\{provider="local",model="house-llama",kind="input"\} 11' "metrics: the unpriced model's tokens are counted"
if grep -q 'portico_ai_cost_usd_total{provider="local"' <<<"$metrics"; then
    not_ok "metrics: no cost sample for the unpriced model"
else
    ok "metrics: no cost sample for the unpriced model"
fi
like "$metrics" 'portico_ai_cost_usd_total\{provider="dear",model="gpt-4o"\} 0.0063' "metrics: the priced model's cost is sampled"

# the priced call spent its $0.001 budget: the next one is refused; the unpriced model's calls count 0
# toward theirs ($0.000001), so they go on being served
chat dear p2
is "$RESP_STATUS" 429 "a priced model's budget is spent by its calls"
for i in 2 3 4; do chat free "u$i"; done
is "$RESP_STATUS" 200 "an unpriced model's calls count 0 toward its budget"
if wait_log "AI model 'house-llama' of provider 'local' has no price" "$T/portico.err"; then
    ok "the missing price is logged"
else
    not_ok "the missing price is logged"
fi
is "$(grep -c "has no price" "$T/portico.err")" 1 "once per model, not per call"

alive_after "the unpriced-cost tests"
done_testing
