#!/usr/bin/env bash
# PostgreSQL stopped under load and started again: both nodes keep serving with their last
# snapshot, admin writes answer 503 store_unavailable, and once it is back a write on one
# node takes effect on the other (re-LISTEN, version check). What happened is counted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cluster.sh"

cluster_pg_start || { not_ok "PostgreSQL starts"; done_testing; exit 1; }
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
# trust authentication ignores the password: it is there to be kept out of every message
NODE_PG_URL=${PG_URL/portico@/portico:hunter2@}
for n in 1 2; do VERSION_CHECK=1s node_start $n "$keyed"; node_ready $n || { not_ok "node $n starts"; done_testing; exit 1; }; done
node_token
napi 1 POST /teams '{"name":"shop"}'
napi 1 POST /consumers '{"name":"web","team":"shop"}'
napi 1 POST /consumers/web/keys '{}'
K1=$(jqr .key)
napi 1 POST /subscriptions '{"consumer":"web","service":"echo"}'
gw() { http GET "http://127.0.0.1:${NP[$1]}/echo/x" -H "Authorization: Bearer $2"; [ "$RESP_STATUS" = "$3" ]; }
check "two nodes serve a key made on node 1" wait_for 5 gw 2 "$K1" 200

# load: both nodes, one request after the other, each status on its own line
load() {
    while [ ! -e "$T/stop-load" ]; do
        for n in 1 2; do
            echo "$n $(curl -s -o /dev/null -m 2 -w '%{http_code}' -H "Authorization: Bearer $K1" "http://127.0.0.1:${NP[$n]}/echo/x")"
        done
    done >>"$T/load.txt"
}
load &
track $!
wait_for 5 test -s "$T/load.txt"

pg_stop "$PGDIR" fast
ok "PostgreSQL stopped under load"
check "node 1 logs the lost connection" wait_log "PostgreSQL connection was lost" "$T/node1.err" 0
before=$(wc -l <"$T/load.txt")
napi 1 POST /teams '{"name":"down"}'
is "$RESP_STATUS/$(jqr .error.code)" "503/store_unavailable" "an admin write answers 503 store_unavailable"
like "$(jqr .error.message)" "cannot be reached" "saying the database cannot be reached"
like "$(jqr .error.message)" "portico:\*\*\*@" "naming the server without its password"
napi 2 POST /consumers '{"name":"x","team":"shop"}'
is "$RESP_STATUS" 503 "on node 2 too"
served_more() { [ "$(wc -l <"$T/load.txt")" -ge $((before + 40)) ]; }
check "requests go on while PostgreSQL is down" wait_for 20 served_more

PG_OPTS="-c fsync=off" pg_up "$PGDIR" "$PGPORT"
ok "PostgreSQL started again"
writable() { napi 1 POST /consumers '{"name":"late","team":"shop"}'; [ "$RESP_STATUS" = 201 ]; }
check "admin writes succeed again once it is back" wait_for 15 writable
napi 1 POST /consumers/late/keys '{}'
K2=$(jqr .key)
napi 1 POST /subscriptions '{"consumer":"late","service":"echo"}'
check "a key made on node 1 afterwards works on node 2 (caught up)" wait_for 10 gw 2 "$K2" 200
check "node 2 logs that it caught up" wait_log "reachable again, catching up" "$T/node2.err" 0
touch "$T/stop-load"
wait_for 5 bash -c "! kill -0 ${_bb_pids[-1]} 2>/dev/null"

total=$(wc -l <"$T/load.txt")
good=$(grep -c ' 200$' "$T/load.txt")
note "load: $total requests across the outage, $good answered 200, $((total - good)) otherwise"
is "$good" "$total" "every request under load was served (200) through the outage"
for n in 1 2; do
    note "node $n: $(log_count 'connection was lost' "$T/node$n.err") lost connection(s), $(log_count 'catching up' "$T/node$n.err") catch-up(s)"
done
check "the password is in no log" bash -c "! grep -q hunter2 '$T/node1.err' '$T/node2.err' '$T/node1.out' '$T/node2.out'"
check "both nodes are still running" bash -c "kill -0 ${NODE_PID[1]} && kill -0 ${NODE_PID[2]}"
done_testing
