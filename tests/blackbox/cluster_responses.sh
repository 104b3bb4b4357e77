#!/usr/bin/env bash
# Kept Responses API answers on PostgreSQL: two nodes share one store, so a response made on
# one node is read, continued with previous_response_id and deleted on the other; the rows
# are in PostgreSQL's responses table and expired ones are pruned by the node's thread.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cluster.sh"

cluster_pg_start || { not_ok "PostgreSQL starts"; done_testing; exit 1; }
MA=$(free_port)
ai_mock_start a "$MA" || not_ok "provider upstream starts"
AI="responses: { retention: 4s, prune_every: 200ms }
providers:
  - { name: ant, type: anthropic, base_url: \"http://127.0.0.1:$MA\", api_key: ant-key }
models:
  - { name: claude, targets: [{ provider: ant, model: claude-sonnet-4-5 }] }"
for n in 1 2; do node_start $n "$AI"; done
for n in 1 2; do node_ready $n || not_ok "node $n starts"; done

# respond N JSON / stored N METHOD ID: on node N
respond() { http POST "http://127.0.0.1:${NP[$1]}/v1/responses" -H 'content-type: application/json' --data-binary "$2"; }
stored() { http "$2" "http://127.0.0.1:${NP[$1]}/v1/responses/$3"; }

respond 1 '{"model":"claude","input":"Say hello"}'
ID=$(jqr .id)
is "$RESP_STATUS $(jqr .store)" "200 true" "node 1 keeps an answer"
stored 2 GET "$ID"
is "$RESP_STATUS $(jqr .output[0].content[0].text)" "200 Hello w1 w2" "node 2 reads it from PostgreSQL"
is "$(pg_sql "SELECT consumer || '/' || model FROM responses WHERE id = '$ID'")" "/claude" \
    "the row is in PostgreSQL's responses table (no consumer on an open route)"
respond 2 "{\"model\":\"claude\",\"input\":\"and then?\",\"previous_response_id\":\"$ID\"}"
is "$RESP_STATUS $(jqr .previous_response_id)" "200 $ID" "node 2 continues node 1's response"
stored 2 DELETE "$ID"
is "$RESP_STATUS $(jqr .deleted)" "200 true" "node 2 deletes it"
stored 1 GET "$ID"
is "$RESP_STATUS" 404 "node 1 no longer finds it"
_pruned() { [ "$(pg_sql "SELECT count(*) FROM responses")" = 0 ]; }
if wait_for 15 _pruned; then ok "expired responses are pruned from PostgreSQL"; else not_ok "expired responses are pruned from PostgreSQL"; fi
is "$(( $(PP=${NP[1]} metric_sum portico_responses_pruned_total) + $(PP=${NP[2]} metric_sum portico_responses_pruned_total) ))" 1 \
    "the nodes pruned the one that was left, once"
done_testing
