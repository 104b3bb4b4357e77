#!/usr/bin/env bash
# Starting on PostgreSQL: three nodes started at once on an empty database migrate it once
# and create one first admin; a node whose binary knows an older schema than the database
# refuses to start, naming both versions; a URL that is not PostgreSQL's is refused by
# check-config.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cluster.sh"

cluster_pg_start || { not_ok "PostgreSQL starts"; done_testing; exit 1; }

for n in 1 2 3; do node_start $n; done
ready=0
for n in 1 2 3; do node_ready $n && ready=$((ready + 1)); done
is "$ready" 3 "three nodes started at once on an empty database all become ready"
migrated=0
for n in 1 2 3; do migrated=$((migrated + $(log_count "migrated the store's schema from version 0" "$T/node$n.err"))); done
is "$migrated" 1 "exactly one node migrated the schema"
LATEST=$(pg_sql "SELECT max(version) FROM schema_migrations")
is "$(pg_sql "SELECT count(*) FROM schema_migrations")" "$LATEST" "each migration recorded once"
is "$(pg_sql "SELECT count(*) FROM users")" 1 "one first admin"
is "$(ls "$T"/node*/admin-token 2>/dev/null | wc -l)" 1 "one admin-token written"

# a restart finds nothing to migrate
node_stop 1
mark=$(log_lines "$T/node1.err")
node_start 1
node_ready 1
is "$(tail -n +$((mark + 1)) "$T/node1.err" | grep -c "migrated the store's schema")" 0 "a restart migrates nothing"
is "$(pg_sql "SELECT count(*) FROM schema_migrations")" "$LATEST" "still each migration once"

# the database moves past this binary (a newer node migrated it)
for n in 1 2 3; do node_stop $n; done
pg_sql "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($((LATEST + 1)), 'from a newer portico', 0)"
node_start 4
wait_for 10 bash -c "! kill -0 ${NODE_PID[4]} 2>/dev/null"
wait "${NODE_PID[4]}" 2>/dev/null
st=$?
check "a node with an older binary refuses to start" test "$st" -ne 0
like "$(cat "$T/node4.err")" "schema version $((LATEST + 1)) but this portico knows versions up to $LATEST" \
    "naming both schema versions"
is "$(pg_sql "SELECT count(*) FROM schema_migrations")" "$((LATEST + 1))" "and changing nothing"

printf 'store: { postgres: "mysql://u@h/db" }\n' >"$T/bad.yaml"
config_refused "a store URL that is not PostgreSQL's is refused" "store.postgres.*postgres://"
printf 'store: { postgres: "postgres://u:pw@h:1" }\n' >"$T/bad.yaml"
config_refused "a store URL without a database is refused" "must name a database"
check "without showing its password" bash -c "! grep -q ':pw@' '$T/err' '$T/out'"
printf 'store: { postgres: "postgres://u:pw@127.0.0.1:1/db" }\n' >"$T/good.yaml"
"$PORTICO" check-config -c "$T/good.yaml" >"$T/out" 2>"$T/err"
like "$(cat "$T/out")" "store in postgres://u:\*\*\*@127.0.0.1:1/db" "check-config names the PostgreSQL store without its password"
done_testing
