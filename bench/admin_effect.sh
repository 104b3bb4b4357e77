#!/usr/bin/env bash
# admin_effect.sh: how long an admin API write takes to be enforced on the gateway. Portico
# (`workers: 2`, the admin API on, routes /keyed/ and /gated/ with `auth: key` to one fast
# nginx upstream); bench/admin_effect.mjs, one node process on keep-alive connections, makes
# COUNT writes of each kind and after each answer calls the keyed route until the answer
# changes: a new key (401 until it passes), a revocation (200 until it is refused with 401), an
# approval of a pending subscription to "gated", set to manual approval (403 until it passes). Prints the median and p99 from the
# write's answer to its effect and from its request to its effect, beside the target (median
# under 100 ms), and the write's own time.
#
#   bench/admin_effect.sh                      COUNT=200 writes of each kind
#   FILL=100000 bench/admin_effect.sh          first fill the store with FILL consumers, 2x keys
#                                              (bench/control_snapshot.c), so every write
#                                              recompiles a large snapshot
set -uo pipefail
. "$(dirname "$0")/lib.sh"

COUNT=${COUNT:-200}
FILL=${FILL:-0}
UP=$(free_port); PP=$(free_port); AP=$(free_port)
D=$T/data

if ((FILL > 0)); then
    BUILD=$(dirname "$PORTICO")
    PKGS="libuv jansson yaml-0.1 openssl sqlite3 libargon2 libpq"
    # shellcheck disable=SC2046
    cc -std=c11 -O2 -D_GNU_SOURCE -I"$ROOT/src" $(pkg-config --cflags $PKGS) -o "$T/control_snapshot" \
        "$ROOT/bench/control_snapshot.c" "$BUILD/libportico.a" $(pkg-config --libs $PKGS) -lpthread -lm ||
        { echo "bench: cannot build the store filler (make first)" >&2; exit 1; }
    "$T/control_snapshot" fill "$D" "$FILL" $((2 * FILL)) 100 | sed 's/^/  /' || exit 1
fi

bench_upstream_start "$UP"
cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: "off"
data_dir: "$D"
admin: { listen: "127.0.0.1:$AP" }
services:
  - name: up
    targets: ["http://127.0.0.1:$UP"]
  - name: gated
    targets: ["http://127.0.0.1:$UP"]
routes:
  - name: keyed
    match: { path_prefix: "/keyed/" }
    service: up
    auth: key
  - name: gated
    match: { path_prefix: "/gated/" }
    service: gated
    auth: key
EOF
portico_start "$T/portico.yaml" || { echo "bench: portico did not start" >&2; exit 1; }
wait_for 10 admin_answers || { echo "bench: the admin API did not answer" >&2; exit 1; }
TOKEN=$(cat "$D/admin-token")
adm() { curl -s -o /dev/null -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    --data-binary "$3" "http://127.0.0.1:$AP/admin/v1$2"; }
# The file's services are in the store (read-only, team "file"); only their approval is set here.
[ "$(adm POST /teams '{"name":"bench"}')" = 201 ] &&
    [ "$(adm PATCH /services/gated '{"approval":"manual"}')" = 200 ] ||
    { echo "bench: the store could not be set up through the admin API" >&2; exit 1; }

echo "admin write to gateway effect: $COUNT writes of each kind, one keep-alive client (node), loopback"
echo "  portico $("$PORTICO" version | awk '{ print $2 }') (workers: 2), store: $( ((FILL)) && echo "$FILL consumers and $((2 * FILL)) keys filled, then " )the objects the run makes"
echo "  machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
node "$BENCH_DIR/admin_effect.mjs" "$PP" "$AP" "$TOKEN" "$COUNT" >"$T/effect.out" || exit 1
printf '%-12s %4s %11s %11s %12s %12s %9s %9s %13s %13s\n' "write" "n" "write p50" "write p99" \
    "effect p50" "effect p99" "max" "1st call" "request p50" "request p99"
awk '{ printf "%-12s %4d %11.3f %11.3f %12.3f %12.3f %9.3f %8.0f%% %13.3f %13.3f\n", $1, $2, $3, $4, $5, $6, $7, $8 * 100, $9, $10 }' "$T/effect.out"
echo "(milliseconds; effect: from the write's answer to the first call that saw it; request: from"
echo " sending the write to that call; 1st call: writes whose first call already saw the change)"
awk '{ if ($5 > m) m = $5; if ($9 > r) r = $9 } END {
    printf "\nworst median from answer to effect: %.3f ms, from request to effect: %.3f ms   (target: median under 100 ms)\n", m, r }' "$T/effect.out"
alive=$(portico_alive && echo yes || echo NO)
echo "  portico still healthy after the run: $alive"
