#!/usr/bin/env bash
# Call logs and analytics across a cluster: three nodes on one PostgreSQL store, each with
# its own calls.db; calls made through A, B and C are all seen from every node's admin API
# (pages with one cursor across the nodes, exports, top-N and series with the nodes' figures
# added); scope=node answers for one node; a stopped node is reported missing in the answer
# and in X-Portico-Missing-Nodes while the others' calls are still served.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cluster.sh"

cluster_pg_start || { not_ok "PostgreSQL starts"; done_testing; exit 1; }
U1=$(free_port)
upstream_start echo "$U1" || { not_ok "upstream starts"; done_testing; exit 1; }
top='call_log: { retention: 1d }
services:
  - { name: echo, targets: ["http://127.0.0.1:'$U1'"] }
routes:
  - { name: echo, match: { path_prefix: "/echo/" }, service: echo }'
for n in 1 2 3; do node_start $n "$top"; node_ready $n || { not_ok "node $n starts"; done_testing; exit 1; }; done
node_token || not_ok "an admin token was written"

# 2 calls through A, 3 through B, 4 through C
for n in 1 2 3; do
    for i in $(seq 1 $((n + 1))); do http GET "http://127.0.0.1:${NP[$n]}/echo/n$n-$i"; done
done
is "$RESP_STATUS" 200 "nine calls made through the three nodes"

count_is() { napi "$1" GET "/calls?limit=100"; [ "$(jqr '.items | length')" = "$2" ]; }
for n in 1 2 3; do check "node $n's admin API lists all nine calls" wait_for 10 count_is "$n" 9; done
is "$(jqr '[.items[] | .node] | group_by(.) | map("\(.[0])=\(length)") | join(",")')" "node1=2,node2=3,node3=4" \
    "each call names the node that served it"
is "$(jqr '[.items[].id] | . == (sort | reverse)')/$(jqr .partial)/$(jqr .next_cursor)" "true/false/null" \
    "newest first, not partial, no further page"
is "$(jqr '[.nodes[] | "\(.id):\(.answered)"] | join(",")')" "node1:true,node2:true,node3:true" "every node answered"
napi 1 GET "/calls?scope=node"
is "$(jqr '.items | length')/$(jqr '.nodes')" "2/null" "scope=node answers for node A alone"

# pages of 2 with the cluster cursor, from node B
seen="" pages=0 cur=""
while [ $pages -lt 10 ]; do
    napi 2 GET "/calls?limit=2${cur:+&cursor=$cur}"
    [ "$RESP_STATUS" = 200 ] || break
    seen+="$(jqr '.items[] | "\(.node)/\(.id)"')"$'\n'
    pages=$((pages + 1))
    cur=$(jqr '.next_cursor | values')
    [ -n "$cur" ] || break
done
is "$(grep -c . <<<"$seen")/$(grep . <<<"$seen" | sort -u | wc -l)/$pages" "9/9/5" \
    "pages of 2 across the cluster: nine calls, none twice, in five pages"
is "$(grep . <<<"$seen" | cut -d/ -f2 | sort -rn | tr '\n' ' ')" "$(grep . <<<"$seen" | cut -d/ -f2 | tr '\n' ' ')" \
    "the pages run newest first across the nodes"
napi 2 GET "/calls?cursor=cXYZ"
is "$RESP_STATUS/$(jqr .error.field)" "400/cursor" "a cursor this API did not give is refused"

napi 3 GET "/calls?format=ndjson&service=echo"
is "$(grep -c '"node":"node' <<<"$RESP_BODY")" 9 "an NDJSON export from node C holds the nine calls with their node"
napi 3 GET "/calls?format=csv"
is "$(head -n1 <<<"$RESP_BODY" | tr -d '\r' | awk -F, '{print $NF}')/$(($(wc -l <<<"$RESP_BODY") - 1))" "node/9" \
    "a CSV export names the node in its last column"

# analytics: the rollups reach calls.db within 5 s on each node
top_is() { napi "$1" GET "/analytics/top?by=service"; [ "$(jqr '.items[0].requests')" = "$2" ]; }
check "analytics top from node A counts the cluster's nine calls" wait_for 15 top_is 1 9
is "$(jqr '.items[0].name')/$(jqr .partial)" "echo/false" "for the service echo, from every node"
is "$(jqr .totals.requests)/$(jqr '.totals.latency_us.p99 > 0')" "9/true" "its totals are every node's, latencies merged"
napi 2 GET "/analytics/series?by=service&name=echo"
is "$(jqr '[.points[].requests] | add')/$(jqr '[.points[].latency_us.p99 > 0] | all')" "9/true" \
    "the series from node B adds the nodes' points, with latencies"
napi 2 GET "/analytics/top?by=service&scope=node"
is "$(jqr '.items[0].requests')/$(jqr .totals.requests)" "3/3" "scope=node: node B's three, its totals too"

# a stopped node is reported, not fatal
node_stop 3
napi 1 GET "/calls?limit=100"
is "$RESP_STATUS/$(jqr '.items | length')/$(jqr .partial)" "200/5/true" "with node C stopped, A answers with A's and B's calls"
is "$(jqr '.nodes[] | select(.id == "node3") | "\(.answered) \(.error)"')" "false the node stopped" \
    "and says node C is missing, and why"
is "$(hdr X-Portico-Missing-Nodes)" "node3" "X-Portico-Missing-Nodes names it"
napi 2 GET "/analytics/top?by=service"
is "$(jqr '.items[0].requests')/$(jqr .partial)" "5/true" "analytics from B count the nodes that answered, marked partial"
GW2=$(pgrep -P "${NODE_PID[2]}" | head -n1); kill -STOP "$GW2"
t0=$(date +%s%N)
napi 1 GET "/calls?limit=100"
ms=$((($(date +%s%N) - t0) / 1000000))
kill -CONT "$GW2"
is "$RESP_STATUS/$(jqr '.items | length')/$(jqr '[.nodes[] | select(.answered | not) | .id] | join(",")')" "200/2/node2,node3" \
    "a node that does not answer in time is reported missing too"
check "within the ask timeout (${ms} ms)" test "$ms" -lt 6000

for n in 1 2; do node_stop $n; is "$NODE_STATUS" 0 "node $n stops cleanly"; done
done_testing
