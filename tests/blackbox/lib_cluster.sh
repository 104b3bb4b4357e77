# lib_cluster.sh: helpers for the cluster tests (source it after lib.sh): a throwaway
# PostgreSQL (scripts/pg.sh) stopped at exit even on failure, and Portico nodes on it, each
# with its own ports and data directory.
#
#   cluster_pg_start          starts PostgreSQL on a free port; sets PG_URL, PGDIR, PGPORT.
#                             Without the server's binaries: one SKIP line and exit 0
#   node_config N [TOP]       node N's configuration: proxy port NP[N], admin port NA[N],
#                             data dir $T/nodeN, the store in NODE_PG_URL (default PG_URL),
#                             extra top-level lines TOP
#   node_start N [TOP]        starts node N in the background (NODE_PID[N]; log $T/nodeN.err)
#   node_ready N              waits until its admin API answers (20 s); 1 if it died
#   node_token                ADMIN_TOKEN from whichever node created the first admin
#   napi N METHOD PATH [BODY] an admin request to node N (as api in lib.sh)
#   node_stop N               SIGTERM, waits for it to exit

. "$ROOT/scripts/pg.sh"
declare -A NP=() NA=() NODE_PID=()

cluster_pg_start() {
    if ! pg_available; then
        skip "cluster tests" "PostgreSQL's server binaries (initdb, pg_ctl) are not installed"
        done_testing
        exit 0
    fi
    PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/portico-pg.XXXXXX")
    PGPORT=$(free_port)
    on_exit 'pg_stop "$PGDIR" immediate; rm -rf "$PGDIR"'
    PG_OPTS="-c fsync=off" pg_start "$PGDIR" "$PGPORT"
}

node_config() {
    local n=$1
    NP[$n]=${NP[$n]:-$(free_port)}
    NA[$n]=${NA[$n]:-$(free_port)}
    cat <<EOF2
listen: ["127.0.0.1:${NP[$n]}"]
access_log: "off"
data_dir: "$T/node$n"
store: { postgres: "${NODE_PG_URL:-$PG_URL}", version_check: ${VERSION_CHECK:-2s}, node_id: "node$n" }
admin: { listen: "127.0.0.1:${NA[$n]}" }
${2:-}
EOF2
}

node_start() {
    local n=$1
    node_config "$n" "${2:-}" >"$T/node$n.yaml"
    (cd "$T" && exec "$PORTICO" serve -c "$T/node$n.yaml" >>"$T/node$n.out" 2>>"$T/node$n.err") &
    NODE_PID[$n]=$!
    track "${NODE_PID[$n]}"
}

_node_answers() { [ "$(status_of "http://127.0.0.1:${NA[$1]}/admin/v1/teams")" = 401 ]; }
_node_up_or_dead() { _node_answers "$1" || ! kill -0 "${NODE_PID[$1]}" 2>/dev/null; }
node_ready() {
    wait_for 20 _node_up_or_dead "$1" && _node_answers "$1" && return 0
    note "node $1 is not ready; stderr:"
    tail -n 8 "$T/node$1.err" 2>/dev/null | sed 's/^/#   /'
    return 1
}

node_token() {
    local f
    for f in "$T"/node*/admin-token; do [ -s "$f" ] && ADMIN_TOKEN=$(cat "$f") && return 0; done
    return 1
}

napi() {
    local n=$1 method=$2 path=$3 body=${4-}
    local args=(-H "Authorization: Bearer $ADMIN_TOKEN")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    http "$method" "http://127.0.0.1:${NA[$n]}/admin/v1$path" "${args[@]}"
}

node_stop() {
    local p=${NODE_PID[$1]:-}
    [ -n "$p" ] || return 0
    kill -TERM "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    NODE_STATUS=$?
    NODE_PID[$1]=
}
