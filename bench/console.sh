#!/usr/bin/env bash
# console.sh: how long the console's Overview and Call logs page take to become usable in
# Chromium with a million calls in the call log.
#   - the call log's file is made by its own writer (bench/calllog.c: its schema and
#     WRITER_ROWS (20,000) records with their analytics rollups, over the last DAYS (7) days),
#     then filled to ROWS (1,000,000) records with one SQL statement (seconds, where the writer
#     takes minutes on a busy machine): those extra records are in the calls table the Call
#     logs page reads, not in the rollups the Overview reads (their request ids are not
#     indexed either)
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
echo "call log: $WRITER_ROWS records through the writer (rollups on), over $DAYS days, $CONSUMERS consumers"
w=$("$BIN" write "$T/data/calls.db" "$WRITER_ROWS" "$DAYS" "$CONSUMERS" 2>/dev/null)
echo "  $w"
start=$(date +%s.%N)
NOW_MS=$(($(date +%s) * 1000))
sqlite3 "$T/data/calls.db" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS - $WRITER_ROWS)
INSERT INTO calls(id, time_ms, request_id, team, consumer, key_prefix, service, service_team, api, method, path,
                  status, total_us, upstream_us, ttfb_us, bytes_in, bytes_out, client)
SELECT ((t << 12) | (i & 4095)), t, printf('%032x', i), 'team-' || (i % 20), 'consumer-' || (i % $CONSUMERS),
       'pk_bench' || (i % 97), 'svc-' || (i % 20), 'team-' || (i % 20), 'v1', 'GET', '/svc-' || (i % 20) || '/items/' || i,
       CASE WHEN i % 50 = 0 THEN 502 WHEN i % 20 = 0 THEN 404 ELSE 200 END, 2000 + (i * 7919) % 90000,
       1500 + (i * 7919) % 80000, 1200 + (i * 104729) % 60000, 120, 900 + i % 4000, '127.0.0.1'
FROM (SELECT i, $NOW_MS - 60000 - i * ($DAYS * 86400000 / ($ROWS - $WRITER_ROWS + 1)) AS t FROM n);
SQL
echo "  filled to $(sqlite3 "$T/data/calls.db" 'SELECT count(*) FROM calls') records in $(echo "$(date +%s.%N) - $start" | bc) s"

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
