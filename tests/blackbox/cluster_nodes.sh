#!/usr/bin/env bash
# Three nodes on one PostgreSQL store: a key created on node A works on node C, a
# subscription approved on B takes effect on A and C, each without a reload (NOTIFY, then
# each node compiles its snapshot); GET /nodes lists the three; the admin API's key cases
# pass on a PostgreSQL store.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cluster.sh"

cluster_pg_start || { not_ok "PostgreSQL starts"; done_testing; exit 1; }
ok "PostgreSQL starts on a free loopback port"

U1=$(free_port)
upstream_start echo "$U1" || { not_ok "upstream starts"; done_testing; exit 1; }
keyed='services:
  - name: echo
    targets: ["http://127.0.0.1:'$U1'"]
routes:
  - name: echo
    match: { path_prefix: "/echo/" }
    service: echo
    auth: key'
# a long version check: what is seen within the bounds below came by NOTIFY
for n in 1 2 3; do VERSION_CHECK=60s node_start $n "$keyed"; node_ready $n || { not_ok "node $n starts"; done_testing; exit 1; }; done
ok "three nodes start on one store"
check "the first admin was created once" node_token
is "$(ls "$T"/node*/admin-token 2>/dev/null | wc -l)" 1 "one node wrote admin-token"
is "$(pg_sql "SELECT count(*) FROM users")" 1 "one admin user in the store"

# node A = 1, B = 2, C = 3
gw() { http GET "http://127.0.0.1:${NP[$1]}/echo/x" -H "Authorization: Bearer $2"; [ "$RESP_STATUS" = "$3" ]; }

napi 1 POST /teams '{"name":"shop"}'
napi 1 POST /consumers '{"name":"web","team":"shop"}'
napi 1 POST /consumers/web/keys '{"label":"ci"}'
K1=$(jqr .key)
napi 1 POST /subscriptions '{"consumer":"web","service":"echo"}'
is "$RESP_STATUS/$(jqr .state)" "201/active" "node A: key and active subscription made"
check "the key created on node A works on node C" wait_for 5 gw 3 "$K1" 200
check "and on node B" wait_for 5 gw 2 "$K1" 200
gw 1 "pk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" 401
is "$RESP_STATUS" 401 "an unknown key is refused on node A"

napi 1 PATCH /services/echo '{"approval":"manual"}'
napi 1 POST /consumers '{"name":"app","team":"shop"}'
napi 1 POST /consumers/app/keys '{}'
K2=$(jqr .key)
napi 1 POST /subscriptions '{"consumer":"app","service":"echo"}'
SUB=$(jqr .id)
is "$(jqr .state)" pending "a subscription to the now manual service is pending"
check "node C refuses the pending subscription with 403" wait_for 5 gw 3 "$K2" 403
napi 2 POST "/subscriptions/$SUB/approve"
is "$RESP_STATUS/$(jqr .state)" "200/active" "approved on node B"
check "the approval takes effect on node A" wait_for 5 gw 1 "$K2" 200
check "and on node C" wait_for 5 gw 3 "$K2" 200

napi 3 GET "/consumers/app/keys"
KID=$(jqr '.items[0].id')
napi 3 DELETE "/consumers/app/keys/$KID"
is "$RESP_STATUS" 200 "the key revoked on node C"
check "node A refuses it with 401" wait_for 5 gw 1 "$K2" 401
check "node B refuses it with 401" wait_for 5 gw 2 "$K2" 401

# the registry: every node seen from any node
all_current() { napi 2 GET /nodes; [ "$(jqr '[.items[] | select(.alive and .current)] | length')" = 3 ]; }
check "GET /nodes on node B lists three nodes, alive and running the current configuration" wait_for 10 all_current
is "$(jqr '[.items[].id] | join(",")')" "node1,node2,node3" "named by their node_id"
is "$(jqr '.items[0].address')/$(jqr '.items[0].admin_address')" "127.0.0.1:${NP[1]}/127.0.0.1:${NA[1]}" "with their addresses"
node_stop 3
is "$NODE_STATUS" 0 "node 3 stops cleanly"
napi 1 GET /nodes
is "$(jqr '.items[2].alive')/$(jqr '.items[2].health')" "false/stopped" "a stopped node is listed as not alive"

# the admin API's own black-box tests, each on a fresh PostgreSQL database
for t in admin_flow admin_enforce admin_authz auth_keys; do
    pg_sql "CREATE DATABASE t_$t" >/dev/null
    BB_STORE_PG="${PG_URL%/*}/t_$t" bash "$BB_DIR/$t.sh" >"$T/$t.tap" 2>&1
    rc=$?
    nok=$(grep -c '^not ok' "$T/$t.tap")
    nyes=$(grep -c '^ok' "$T/$t.tap")
    if [ "$rc" = 0 ] && [ "$nok" = 0 ] && [ "$nyes" -gt 0 ]; then ok "$t.sh on a PostgreSQL store ($nyes ok)"
    else not_ok "$t.sh on a PostgreSQL store" "$(grep -A3 '^not ok' "$T/$t.tap" | head -n 12)"; fi
done

for n in 1 2; do node_stop $n; is "$NODE_STATUS" 0 "node $n stops cleanly"; done
done_testing
