#!/usr/bin/env bash
# console.sh: how long the console's Overview and Call logs page take to become usable in
# Chromium with a million calls in the call log.
#   - the call log's file is filled by bench/calllog.c: ROWS - WRITER_ROWS records generated
#     in SQL and converted into chunks by the gateway's code (`calllog bulk`, seconds), then
#     WRITER_ROWS (20,000) records with their analytics rollups through the writer, over the
#     last DAYS (7) days: the generated records are in the call log the Call logs page reads,
#     not in the rollups the Overview reads
#   - headless Chromium signs in and times each page ROUNDS (7) times, from the navigation to
#     its data on screen and its requests answered (bench/console.mjs)
#
#   make && bench/console.sh
# Knobs: ROWS, DAYS, CONSUMERS, ROUNDS.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
scripts/deps.sh run   # the toolchain and libraries it builds against, when missing

ROWS=${ROWS:-1000000}
WRITER_ROWS=${WRITER_ROWS:-20000}
DAYS=${DAYS:-7}
CONSUMERS=${CONSUMERS:-1000}
export ROUNDS=${ROUNDS:-7}
BUILD=${BUILD:-build}
BIN=$BUILD/bench/calllog
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "console.sh: Chromium is not installed" >&2; exit 1; }

make --no-print-directory -j"$(nproc)" "$BUILD/libportico.a" "$BUILD/portico" >/dev/null
mkdir -p "$BUILD/bench"
PKGS="libuv jansson yaml-0.1 openssl sqlite3 libargon2"
# shellcheck disable=SC2046
cc -std=c11 -O2 -g -D_GNU_SOURCE -Isrc $(pkg-config --cflags $PKGS) -o "$BIN" bench/calllog.c \
    "$BUILD/libportico.a" $(pkg-config --libs $PKGS) -lpthread -lm

mkdir -p "$T/data"
echo "call log: $((ROWS - WRITER_ROWS)) records generated over $DAYS days, $CONSUMERS consumers"
start=$(date +%s.%N)
"$BIN" bulk "$T/data/calls.db" "$((ROWS - WRITER_ROWS))" "$DAYS" "$CONSUMERS" 2>/dev/null
echo "call log: $WRITER_ROWS records more through the writer (rollups on), over $DAYS days"
w=$("$BIN" write "$T/data/calls.db" "$WRITER_ROWS" "$DAYS" "$CONSUMERS" 2>/dev/null)
echo "  $w"
echo "  filled to $(sqlite3 "$T/data/calls.db" 'SELECT sum(n) FROM chunks') records in $(echo "$(date +%s.%N) - $start" | bc) s"

PP=$(free_port); AP=$(free_port)
cat >"$T/portico.yaml" <<EOF2
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "off"
data_dir: "$T/data"
admin: { listen: "127.0.0.1:$AP" }
call_log: { retention: 30d }
EOF2
portico_start "$T/portico.yaml" || { echo "portico did not start" >&2; exit 1; }
wait_for 20 admin_answers
TOKEN=$(cat "$T/data/admin-token")
PASSWORD="bench console passphrase"
curl -sf -o /dev/null -X PATCH -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$AP/admin/v1/users/admin" \
    -d "{\"password\":\"$PASSWORD\"}"
echo "Chromium, $ROUNDS rounds a page, $ROWS calls in the log:"
ADMIN_URL="http://127.0.0.1:$AP" PASSWORD="$PASSWORD" node bench/console.mjs
portico_stop
