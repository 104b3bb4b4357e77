# pg.sh: a throwaway PostgreSQL server on loopback, for the cluster tests and
# scripts/cluster.sh (source it; do not run it). initdb and postgres refuse to run as root:
# as root they run as the system's `postgres` user, in a directory it owns.
#
#   pg_available           the server's binaries are installed (sets PG_BIN)
#   pg_start DIR PORT      initdb in DIR/data (DIR created), start on 127.0.0.1:PORT, create the
#                          database "portico" for user "portico" (trust on loopback); sets PG_URL
#   pg_up DIR PORT         start again after pg_stop
#   pg_stop DIR [MODE]     stop (pg_ctl mode: fast by default, immediate for a crash)
#   pg_sql SQL             run SQL against PG_URL; rows as unaligned text

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
PG_URL=

_pg_as() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_available() { [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ]; }

pg_start() {
    local dir=$1 port=$2
    mkdir -p "$dir" || return 1
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir" || return 1; fi
    chmod 700 "$dir"
    _pg_as "$PG_BIN/initdb" -D "$dir/data" -A trust -U portico --no-sync >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        return 1
    }
    pg_up "$dir" "$port" || return 1
    _pg_as "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U portico portico || return 1
    PG_URL="postgres://portico@127.0.0.1:$port/portico"
}

pg_up() {
    _pg_as "$PG_BIN/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 30 \
        -o "-h 127.0.0.1 -p $2 -k $1 ${PG_OPTS:-}" start >/dev/null
}

pg_stop() { _pg_as "$PG_BIN/pg_ctl" -D "$1/data" -m "${2:-fast}" -w -t 30 stop >/dev/null 2>&1; }

pg_sql() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$PG_URL" -c "$1"; }
