#!/usr/bin/env bash
# calllog.sh: the call log's writer and query, driven directly through their C interface
# (bench/calllog.c), without HTTP in the way:
#   - sustained records/s through the bounded queue into SQLite,
#     records stamped as they are written, analytics rollups on      target >= 50,000/s
#   - database bytes per million records                             (reported, no target)
#   - one consumer, one day, the first page, over a large table       target < 100 ms at 10 M rows
#
#   bench/calllog.sh                     2,000,000 rows (about a minute here)
#   ROWS=10000000 bench/calllog.sh       the full 10 M rows the query target is stated for
# Knobs: ROWS, DAYS (30), CONSUMERS (1000), ROUNDS (50), WRITE_ROWS (1000000, the fresh-file
# throughput run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh run   # the toolchain and libraries it builds against, when missing

ROWS=${ROWS:-2000000}
WRITE_ROWS=${WRITE_ROWS:-1000000}
DAYS=${DAYS:-30}
CONSUMERS=${CONSUMERS:-1000}
ROUNDS=${ROUNDS:-50}
BUILD=${BUILD:-build}
BIN=$BUILD/bench/calllog

make --no-print-directory -j"$(nproc)" "$BUILD/libportico.a" >/dev/null
mkdir -p "$BUILD/bench"
PKGS="libuv jansson yaml-0.1 openssl sqlite3 libargon2"
# shellcheck disable=SC2046
cc -std=c11 -O2 -g -D_GNU_SOURCE -Isrc $(pkg-config --cflags $PKGS) -o "$BIN" bench/calllog.c \
    "$BUILD/libportico.a" $(pkg-config --libs $PKGS) -lpthread -lm

T=$(mktemp -d /tmp/pt-bench-calllog.XXXXXX)
trap 'rm -rf "$T"' EXIT
field() { sed -n "s/.*$1=\([0-9.-]*\).*/\1/p" <<<"$2"; }

echo "writer: $WRITE_ROWS records into a fresh file, stamped as written, rollups on"
w=$("$BIN" write "$T/write.db" "$WRITE_ROWS" 0 "$CONSUMERS")
echo "  $w"
echo "large table: $ROWS records over $DAYS days, $CONSUMERS consumers (records only, no rollups)"
l=$("$BIN" write "$T/large.db" "$ROWS" "$DAYS" "$CONSUMERS" fill)
echo "  $l"
q=$("$BIN" query "$T/large.db" "$ROUNDS" "$DAYS" "$CONSUMERS")
echo "  $q"

echo
printf 'writer, sustained: %s records/s   target >= 50000/s\n' "$(field records_per_s "$w")"
printf 'writer, into the large table: %s records/s\n' "$(field records_per_s "$l")"
printf 'database size: %s bytes per million records (%s MB per million)\n' "$(field bytes_per_million "$l")" \
    "$(awk -v b="$(field bytes_per_million "$l")" 'BEGIN { printf "%.0f", b / 1048576 }')"
printf 'one consumer, one day, first page, at %s rows: median %s ms, slowest %s ms   target < 100 ms at 10 M rows\n' \
    "$ROWS" "$(field median_ms "$q")" "$(field max_ms "$q")"
