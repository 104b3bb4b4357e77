#!/usr/bin/env bash
# cluster.sh: how long an admin write on node A takes to be enforced on node B, two Portico
# nodes on one PostgreSQL store (a throwaway server on loopback, scripts/pg.sh), beside the
# same write enforced on node A itself, in the same run. bench/admin_effect.mjs makes COUNT
# writes of each kind (a new key, a revocation, an approval) through node A's admin API and
# calls the keyed route on the node measured until the answer changes.
#
#   bench/cluster.sh              COUNT=100 writes of each kind, per node measured
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/blackbox/lib_cluster.sh"

COUNT=${COUNT:-100}
pg_available || { echo "bench: PostgreSQL's server binaries are missing (scripts/deps.sh)" >&2; exit 1; }
cluster_pg_start >/dev/null || { echo "bench: PostgreSQL did not start" >&2; exit 1; }
UP=$(free_port)
bench_upstream_start "$UP"
routes="services:
  - name: up
    targets: [\"http://127.0.0.1:$UP\"]
  - name: gated
    targets: [\"http://127.0.0.1:$UP\"]
routes:
  - name: keyed
    match: { path_prefix: \"/keyed/\" }
    service: up
    auth: key
  - name: gated
    match: { path_prefix: \"/gated/\" }
    service: gated
    auth: key"
for n in 1 2; do
    node_start "$n" "workers: 2
$routes"
    node_ready "$n" >/dev/null || { echo "bench: node $n did not start" >&2; exit 1; }
done
node_token || { echo "bench: no admin-token" >&2; exit 1; }
napi 1 POST /teams '{"name":"bench"}'
napi 1 PATCH /services/gated '{"approval":"manual"}'
[ "$RESP_STATUS" = 200 ] || { echo "bench: the store could not be set up through the admin API" >&2; exit 1; }

echo "admin write on node A to its effect: $COUNT writes of each kind, two nodes on one PostgreSQL, loopback"
echo "  portico $("$PORTICO" version | awk '{ print $2 }') (workers: 2 per node), PostgreSQL $(pg_sql 'SHOW server_version') (fsync off), version check every 2 s (the fallback)"
echo "  machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
node "$BENCH_DIR/admin_effect.mjs" "${NP[1]}" "${NA[1]}" "$ADMIN_TOKEN" "$COUNT" a >"$T/same.out" || exit 1
node "$BENCH_DIR/admin_effect.mjs" "${NP[2]}" "${NA[1]}" "$ADMIN_TOKEN" "$COUNT" b >"$T/cross.out" || exit 1
printf '%-12s %4s %11s | %15s %15s | %15s %15s\n' write n "write p50" "on A: p50" "p99" "on B: p50" "p99"
paste -d" " "$T/same.out" "$T/cross.out" | awk '{ printf "%-12s %4d %11.3f | %15.3f %15.3f | %15.3f %15.3f\n", $1, $2, $3, $5, $6, $15, $16 }'
echo "(milliseconds from the write's answer on node A to the first call that saw it, on A and on B)"
awk '{ if ($5 > m) m = $5 } END { printf "\nworst median on node B: %.3f ms   (target: under 200 ms)\n", m }' "$T/cross.out"
awk '{ if ($5 > m) m = $5 } END { printf "worst median on node A (single node, same run): %.3f ms\n", m }' "$T/same.out"
