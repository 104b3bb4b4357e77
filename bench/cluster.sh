#!/usr/bin/env bash
# cluster.sh: Portico nodes on one PostgreSQL store (a throwaway server on loopback,
# scripts/pg.sh), two measurements in one run:
#
# - propagation: how long an admin write on node A takes to be enforced on node B, beside the
#   same write enforced on node A itself. bench/admin_effect.mjs makes COUNT writes of each
#   kind (a new key, a revocation, an approval) through node A's admin API and calls the
#   keyed route on the node measured until the answer changes.
# - throughput: a keyed route (the key checked against each node's snapshot) under wrk, on
#   node A alone with CONNS connections, then on the three nodes at once with CONNS/3 each (one
#   wrk per node, their requests/s added), ROUNDS rounds of DURATION s, the order alternating;
#   the medians and their ratio. On one machine the three nodes share its cores: the ratio
#   says what a node costs beside its neighbours, not what three machines would give.
#
#   bench/cluster.sh [propagation|throughput|all]   COUNT=100 writes of each kind; ROUNDS=3
#                                                  of DURATION=5 s; WORKERS=1 per node
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/blackbox/lib_cluster.sh"

COUNT=${COUNT:-100}
WHAT=${1:-all}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WORKERS=${WORKERS:-1}
CONNS=$((CONNS / 3 * 3)) # the same connections in all, on one node or split over three
case $WHAT in propagation | throughput | all) ;; *) echo "usage: bench/cluster.sh [propagation|throughput|all]" >&2; exit 2 ;; esac
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
for n in 1 2 3; do
    node_start "$n" "workers: $WORKERS
$routes"
    node_ready "$n" >/dev/null || { echo "bench: node $n did not start" >&2; exit 1; }
done
node_token || { echo "bench: no admin-token" >&2; exit 1; }
napi 1 POST /teams '{"name":"bench"}'
napi 1 PATCH /services/gated '{"approval":"manual"}'
[ "$RESP_STATUS" = 200 ] || { echo "bench: the store could not be set up through the admin API" >&2; exit 1; }

propagation() {
    echo "admin write on node A to its effect: $COUNT writes of each kind, two nodes on one PostgreSQL, loopback"
    echo "  portico $("$PORTICO" version | awk '{ print $2 }') (workers: $WORKERS per node), PostgreSQL $(pg_sql 'SHOW server_version') (fsync off), version check every 2 s (the fallback)"
    echo "  machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    node "$BENCH_DIR/admin_effect.mjs" "${NP[1]}" "${NA[1]}" "$ADMIN_TOKEN" "$COUNT" a >"$T/same.out" || exit 1
    node "$BENCH_DIR/admin_effect.mjs" "${NP[2]}" "${NA[1]}" "$ADMIN_TOKEN" "$COUNT" b >"$T/cross.out" || exit 1
    printf '%-12s %4s %11s | %15s %15s | %15s %15s\n' write n "write p50" "on A: p50" "p99" "on B: p50" "p99"
    paste -d" " "$T/same.out" "$T/cross.out" | awk '{ printf "%-12s %4d %11.3f | %15.3f %15.3f | %15.3f %15.3f\n", $1, $2, $3, $5, $6, $15, $16 }'
    echo "(milliseconds from the write's answer on node A to the first call that saw it, on A and on B)"
    awk '{ if ($5 > m) m = $5 } END { printf "\nworst median on node B: %.3f ms   (target: under 200 ms)\n", m }' "$T/cross.out"
    awk '{ if ($5 > m) m = $5 } END { printf "worst median on node A (single node, same run): %.3f ms\n", m }' "$T/same.out"
}

# One wrk per node in $@ at once, CONNS and three wrk threads split between them; prints the requests/s added up
# and the errors and non-2xx answers added up.
wrk_nodes() {
    local n k=$# per=$((CONNS / $#)) pids=()
    for n in "$@"; do
        CONNS=$per THREADS=$((3 / k)) wrk_post "http://127.0.0.1:${NP[$n]}/keyed/bench" "$DURATION" "$T/keyed.lua" >"$T/wrk.$n" &
        pids+=($!)
    done
    wait "${pids[@]}" # only these: the nodes are children too
    cat "${@/#/$T/wrk.}" | awk -v k="$k" '{ r += $1; e += $5; s += $6; n++ } END { if (n != k) print "nan 0 0"; else printf "%.0f %d %d\n", r, e, s }'
}

throughput() {
    napi 1 POST /consumers '{"name":"load","team":"bench"}'
    napi 1 POST /consumers/load/keys '{"label":"bench"}'
    local key=$(jqr .key)
    napi 1 POST /subscriptions '{"consumer":"load","service":"up"}'
    [ "$RESP_STATUS" = 201 ] || { echo "bench: the key could not be made" >&2; exit 1; }
    post_script "$T/keyed.lua" Authorization "Bearer $key"
    local n
    key_works() { [ "$(status_of -X POST -H "Authorization: Bearer $key" "http://127.0.0.1:${NP[$1]}/keyed/x")" = 200 ]; }
    for n in 1 2 3; do wait_for 10 key_works "$n" || { echo "bench: the key does not work on node $n" >&2; exit 1; }; done
    echo
    echo "throughput: POST ${#BENCH_BODY}-byte JSON on a keyed route, $CONNS connections in all, $ROUNDS rounds of $DURATION s"
    echo "  workers: $WORKERS per node; node A alone (one wrk, 3 threads), then nodes A, B and C at once ($((CONNS / 3)) connections each, one wrk of 1 thread each)"
    echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    local one=() three=() r a b
    wrk_nodes 1 >/dev/null; wrk_nodes 1 2 3 >/dev/null  # warm-up
    for r in $(seq "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then a=$(wrk_nodes 1); b=$(wrk_nodes 1 2 3); else b=$(wrk_nodes 1 2 3); a=$(wrk_nodes 1); fi
        one+=("${a%% *}"); three+=("${b%% *}")
        printf '  round %d: one node %8s req/s (errors %s, non-2xx %s) | three nodes %8s req/s (errors %s, non-2xx %s)\n' \
            "$r" "${a%% *}" "$(cut -d' ' -f2 <<<"$a")" "$(cut -d' ' -f3 <<<"$a")" "${b%% *}" "$(cut -d' ' -f2 <<<"$b")" "$(cut -d' ' -f3 <<<"$b")"
    done
    local m1 m3
    m1=$(median "${one[@]}"); m3=$(median "${three[@]}")
    printf '\nmedian: one node %.0f req/s, three nodes %.0f req/s: %.2fx\n' "$m1" "$m3" "$(awk -v a="$m1" -v b="$m3" 'BEGIN { print (a > 0 ? b / a : 0) }')"
    echo "  machine: $(nproc) cores, load average after $(cut -d' ' -f1-3 /proc/loadavg)"
}

[ "$WHAT" = throughput ] || propagation
[ "$WHAT" = propagation ] || throughput
