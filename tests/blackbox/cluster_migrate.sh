#!/usr/bin/env bash
# portico migrate-store: a single node's SQLite store copied into PostgreSQL, then served by
# a node on PostgreSQL: every object kept with its id (the export is byte for byte the
# same), a key and the admin token keep working, new ids follow the copied ones, and a
# target that is not empty is refused unless --replace.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cluster.sh"

cluster_pg_start || { not_ok "PostgreSQL starts"; done_testing; exit 1; }
U1=$(free_port)
upstream_start echo "$U1" || { not_ok "upstream starts"; done_testing; exit 1; }
admin_start "$(keyed_echo_lines)" || { not_ok "a single node on SQLite starts"; done_testing; exit 1; }
api POST /teams '{"name":"shop"}' >/dev/null
api POST /teams '{"name":"extra"}' >/dev/null
api POST /consumers '{"name":"web","team":"shop"}' >/dev/null
api POST /consumers/web/keys '{"label":"ci"}'
KEY=$(jqr .key)
api POST /subscriptions '{"consumer":"web","service":"echo"}' >/dev/null
api POST /policies '{"name":"slow","team":"shop","rate":{"requests_per_minute":600}}' >/dev/null
api DELETE /teams/extra >/dev/null   # a gap in the ids
api GET /teams
TEAMS=$(jqr -c '.items')
"$PORTICO" export --data-dir "$T/data" >"$T/sqlite.yaml" || not_ok "export from SQLite"
portico_stop

"$PORTICO" migrate-store --from "$T/data" --to "$PG_URL" >"$T/mig.out" 2>"$T/mig.err"
is "$?" 0 "migrate-store copies the SQLite store into PostgreSQL"
like "$(cat "$T/mig.out")" "consumers +1" "and says how many of each it copied"
is "$(pg_sql 'SELECT count(*) FROM keys')/$(pg_sql 'SELECT count(*) FROM audit')" \
    "1/$(grep -E '^ +audit ' "$T/mig.out" | awk '{ print $2 }')" "rows in PostgreSQL as counted"

node_start 1 "$(keyed_echo_lines)"
node_ready 1 || { not_ok "a node on the copied store starts"; done_testing; exit 1; }
napi 1 GET /teams
is "$RESP_STATUS" 200 "the admin token from the SQLite store works on PostgreSQL"
is "$(jqr -c '.items')" "$TEAMS" "the teams with their ids, times and versions"
gw() { http GET "http://127.0.0.1:${NP[1]}/echo/x" -H "Authorization: Bearer $KEY"; [ "$RESP_STATUS" = 200 ]; }
check "the copied key works on the node" wait_for 5 gw
"$PORTICO" export -c "$T/node1.yaml" >"$T/pg.yaml"
check "the export of the copy is byte for byte the SQLite one's" cmp -s "$T/sqlite.yaml" "$T/pg.yaml"
napi 1 POST /teams '{"name":"after"}'
# teams 1 (file), 2 (shop) and 3 (extra, deleted): the next is 4, as SQLite would give
is "$(jqr .id)" 4 "a new object gets an id after every id SQLite handed out, deleted ones too"

"$PORTICO" migrate-store --from "$T/data" --to "$PG_URL" >"$T/mig2.out" 2>"$T/mig2.err"
is "$?" 1 "a second copy into the now non-empty target is refused"
like "$(cat "$T/mig2.err")" "already holds .* objects" "saying the target is not empty"
is "$(pg_sql "SELECT count(*) FROM teams WHERE name = 'after'")" 1 "and changes nothing"
node_stop 1
"$PORTICO" migrate-store --from "$T/data" --to "$PG_URL" --replace >"$T/mig3.out" 2>"$T/mig3.err"
is "$?" 0 "--replace copies over it"
is "$(pg_sql "SELECT count(*) FROM teams WHERE name = 'after'")" 0 "replacing what was there"
"$PORTICO" migrate-store --from "$T/nothing" --to "$PG_URL" >/dev/null 2>"$T/mig4.err"
is "$?" 1 "a directory without a store is refused"
like "$(cat "$T/mig4.err")" "portico.db" "naming the file it looked for"
check "and creates nothing there" test ! -e "$T/nothing"
"$PORTICO" migrate-store --from "$T/data" >/dev/null 2>"$T/mig5.err"
is "$?" 64 "without --to: a usage error"
done_testing
