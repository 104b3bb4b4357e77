#!/usr/bin/env bash
# auth.sh: what key enforcement costs. One Portico, one fast upstream (nginx answering
# {"ok":true}), two routes to it that differ only in `auth: key` (the key checked, its
# consumer's subscription to the service looked up, the key stripped, identity headers added):
# wrk sends the same POST, with the same Authorization header, to both, alternating, in the same
# run; the medians and the ratio keyed/open are printed (target: the check costs at most 3% of
# requests/s). Then Portico runs under callgrind and the instructions per request are counted
# for each route (all threads, counters zeroed before and dumped after each batch).
#
#   bench/auth.sh                     defaults: DURATION=4 ROUNDS=10 WARMUP=3 CONNS=50 THREADS=2
#   CG_REQUESTS=2000 bench/auth.sh    requests per callgrind batch (CG_REQUESTS=0 skips it)
set -uo pipefail
. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-4}
ROUNDS=${ROUNDS:-10}
WARMUP=${WARMUP:-3}
CG_REQUESTS=${CG_REQUESTS:-2000}
SEED=${STORE_SEED:-$(dirname "$PORTICO")/tests/store_seed}
[ -x "$SEED" ] || { echo "bench: $SEED is missing; run make first" >&2; exit 1; }
UP=$(free_port); PP=$(free_port)
D=$T/data

bench_upstream_start "$UP"

# A store like a real one around the caller: other teams, consumers, keys and subscriptions.
"$SEED" "$D" team bench >/dev/null && "$SEED" "$D" service up bench && "$SEED" "$D" consumer caller bench ||
    { echo "bench: the store could not be seeded" >&2; exit 1; }
for i in $(seq 20); do "$SEED" "$D" service "other$i" bench; done
for i in $(seq 50); do
    "$SEED" "$D" consumer "c$i" bench && "$SEED" "$D" key "c$i" >/dev/null && "$SEED" "$D" subscribe "c$i" up active
done
for i in $(seq 10); do "$SEED" "$D" subscribe caller "other$i" active; done
KEY=$("$SEED" "$D" key caller)
"$SEED" "$D" subscribe caller up active || { echo "bench: the subscription could not be seeded" >&2; exit 1; }

write_config() { # ACCESS_LOG
    cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: $1
data_dir: $D
limits: { idle_timeout: 300s }
services:
  - name: up
    targets: ["http://127.0.0.1:$UP"]
routes:
  - name: open
    match: { path_prefix: "/open/" }
    service: up
  - name: keyed
    match: { path_prefix: "/keyed/" }
    service: up
    auth: key
EOF
}
write_config "$T/portico-access.log"
portico_start "$T/portico.yaml" || { echo "bench: portico did not start" >&2; exit 1; }

post_script "$T/post-key.lua" Authorization "Bearer $KEY"
wrk_key() { wrk_post "$1" "$2" "$T/post-key.lua"; }

for r in open keyed; do
    got=$(curl -s -m 2 -X POST -H "Authorization: Bearer $KEY" -d "$BENCH_BODY" "http://127.0.0.1:$PP/$r/bench")
    [ "$got" = '{"ok":true}' ] || { echo "bench: /$r/ answered '$got', not {\"ok\":true}" >&2; exit 1; }
done

echo "auth benchmark: POST ${#BENCH_BODY}-byte JSON with a Portico key, $CONNS connections, $THREADS wrk threads, loopback"
echo "  portico $("$PORTICO" version | awk '{ print $2 }') (workers: 1, access log on), routes /open/ and /keyed/ (auth: key)"
echo "  store: 51 consumers, 51 keys, 21 services, 61 subscriptions"
echo "  warm-up ${WARMUP}s each, then $ROUNDS rounds of ${DURATION}s, order alternating"
echo "  machine: $(nproc) cores, $(uname -r)"
echo
wrk_key "http://127.0.0.1:$PP/open/bench" "$WARMUP" >/dev/null
wrk_key "http://127.0.0.1:$PP/keyed/bench" "$WARMUP" >/dev/null

ab_rounds open keyed "$T/post-key.lua"
ab_summary open keyed 3
portico_stop

# ---------------------------------------------------------------------------- callgrind
((CG_REQUESTS > 0)) || exit 0
write_config off
cg_per_request open keyed -H "Authorization: Bearer $KEY" || exit 0
echo
echo "callgrind: instructions per request ($CG_REQUESTS keep-alive requests per route, all threads)"
awk -v o="${CG_IR[open]}" -v k="${CG_IR[keyed]}" -v n="$CG_REQUESTS" 'BEGIN {
    printf "  open   %10.0f\n  keyed  %10.0f\n  the check adds %.0f instructions per request (%.1f%%)\n",
        o / n, k / n, (k - o) / n, (k - o) / o * 100 }'
