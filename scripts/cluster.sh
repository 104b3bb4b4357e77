#!/usr/bin/env bash
# cluster.sh: a Portico cluster on this machine, without containers: a throwaway
# PostgreSQL (the control-plane store), a Redis (the limit counters, when this portico has
# them) and three Portico nodes on loopback, each with its own ports and data directory
# under one temporary directory. Prints how to reach everything; Ctrl-C stops it all and
# removes the directory (KEEP=1 keeps it).
#
#   scripts/cluster.sh [NODES]      NODES defaults to 3; build first (make)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/pg.sh"
PORTICO=${PORTICO_BIN:-$ROOT/build/portico}
NODES=${1:-3}
[ -x "$PORTICO" ] || { echo "cluster: $PORTICO is missing; run make first" >&2; exit 1; }
pg_available || { echo "cluster: PostgreSQL's server binaries are missing (scripts/deps.sh installs them)" >&2; exit 1; }
command -v redis-server >/dev/null || echo "cluster: redis-server is missing: the nodes count limits each on its own" >&2

D=$(mktemp -d "${TMPDIR:-/tmp}/portico-cluster.XXXXXX")
chmod 755 "$D"
pids=()
stop_all() {
    trap - EXIT INT TERM
    echo
    echo "stopping..."
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    pg_stop "$D/pg"
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $D"; else rm -rf "$D"; fi
    exit 0
}
trap stop_all EXIT INT TERM

# a TCP port nothing listens on, below the ephemeral range, never handed out twice
used=" "
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 12000))
        [[ $used == *" $p "* ]] && continue
        ss -Htan "sport = :$p" 2>/dev/null | grep -q . && continue
        used+="$p "
        echo "$p"
        return
    done
}
wait_http() { # URL: until it answers at all (20 s)
    for _ in $(seq 400); do curl -s -o /dev/null -m 1 "$1" && return 0; sleep 0.05; done
    return 1
}

PGPORT=$(free_port)
pg_start "$D/pg" "$PGPORT" || { echo "cluster: PostgreSQL did not start (see $D/pg)" >&2; exit 1; }
counters=""
if command -v redis-server >/dev/null; then
    RPORT=$(free_port)
    redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$D" \
        --logfile "$D/redis.log" --daemonize no &
    pids+=($!)
    counters="counters: { redis: \"redis://127.0.0.1:$RPORT/0\" }"
fi

for n in $(seq "$NODES"); do
    NP[n]=$(free_port)
    NA[n]=$(free_port)
    cat >"$D/node$n.yaml" <<EOF
listen: ["127.0.0.1:${NP[n]}"]
data_dir: "$D/node$n"
access_log: "$D/node$n/access.log"
store: { postgres: "$PG_URL", node_id: "node$n" }
admin: { listen: "127.0.0.1:${NA[n]}" }
$counters
EOF
    # a portico built before the Redis counters has no `counters:` key: run without it
    if [ -n "$counters" ] && ! "$PORTICO" check-config -c "$D/node$n.yaml" >/dev/null 2>&1; then
        sed -i '/^counters:/d' "$D/node$n.yaml"
        [ "$n" = 1 ] && echo "cluster: this portico has no Redis counters; each node counts limits alone" >&2
    fi
    mkdir -p "$D/node$n"
    "$PORTICO" serve -c "$D/node$n.yaml" >"$D/node$n.out" 2>"$D/node$n.err" &
    pids+=($!)
    # the first node migrates the store and creates the first admin; the others follow
    if [ "$n" = 1 ] && ! wait_http "http://127.0.0.1:${NA[1]}/admin/v1/teams"; then
        echo "cluster: node 1 did not start (see $D/node1.err)" >&2
        exit 1
    fi
done
for n in $(seq "$NODES"); do
    wait_http "http://127.0.0.1:${NA[n]}/admin/v1/teams" || { echo "cluster: node $n did not start (see $D/node$n.err)" >&2; exit 1; }
done
TOKEN=$(cat "$D"/node*/admin-token 2>/dev/null | head -n 1)

echo "Portico cluster in $D"
echo "  PostgreSQL  $PG_URL"
[ -n "$counters" ] && echo "  Redis       redis://127.0.0.1:$RPORT/0"
for n in $(seq "$NODES"); do
    echo "  node$n       gateway http://127.0.0.1:${NP[n]}/   admin http://127.0.0.1:${NA[n]}/admin/v1/   log $D/node$n.err"
done
echo
echo "  admin token: $TOKEN"
echo "  try:  curl -H 'Authorization: Bearer $TOKEN' http://127.0.0.1:${NA[1]}/admin/v1/nodes"
echo
echo "Ctrl-C stops everything."
wait
