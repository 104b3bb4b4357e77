#!/usr/bin/env bash
# mcp.sh: MCP tools/call through Portico's /mcp/<server> beside calling the same MCP server
# directly and through supergateway (an npm MCP proxy), in one run on loopback.
#
# The upstream is the project's MCP test server (tests/upstreams/mcp/fixture.mjs, official SDK),
# tool echo {text}. Targets:
#   direct-http     the fixture over Streamable HTTP, called directly (the HTTP baseline)
#   portico-http    Portico /mcp/h, its server `h` being that same fixture process
#   direct-stdio    the fixture over stdio, one child spawned by the load client (the stdio baseline)
#   portico-stdio   Portico /mcp/s, its server `s` a stdio child Portico starts
#   supergateway    supergateway --stdio (the fixture) --outputTransport streamableHttp --stateful
# The npm proxies put a stdio server on HTTP, so supergateway is compared on the stdio rows.
# Portico has one worker, its access log on (to a file); supergateway one node process (it starts
# one child per session). The load client (bench/mcp_load.mjs, official SDK client) opens
# $CLIENTS sessions per HTTP target (one shared child for direct-stdio), makes $WARMUP calls,
# then $ROUNDS rounds of $CALLS calls each split over the $CLIENTS callers, the order rotating
# every round; every answer is checked, a round is bounded by $ROUND_TIMEOUT seconds. Prints
# every round, the medians, and each proxy beside its baseline: p50 and p99 added (ms), and
# calls/s and latency as ratios.
#
# supergateway is installed with npm into tools/supergateway (git-ignored) when missing and is
# pinned to 127.0.0.1 by a preload (it listens on every interface otherwise). If it cannot be
# installed or started, the run says so and goes on without it.
#
#   bench/mcp.sh    defaults: CLIENTS=8 CALLS=2000 WARMUP=200 ROUNDS=5 ROUND_TIMEOUT=120
#                   SUPERGATEWAY_VERSION=4.0.0 (SUPERGATEWAY=off skips it)
set -uo pipefail
. "$(dirname "$0")/lib.sh"

CLIENTS=${CLIENTS:-8}
CALLS=${CALLS:-2000}
WARMUP=${WARMUP:-200}
ROUNDS=${ROUNDS:-5}
ROUND_TIMEOUT=${ROUND_TIMEOUT:-120}
SUPERGATEWAY=${SUPERGATEWAY:-on}
SUPERGATEWAY_VERSION=${SUPERGATEWAY_VERSION:-4.0.0}
SG_DIR=$ROOT/tools/supergateway
FIXTURE=$ROOT/tests/upstreams/mcp/fixture.mjs
NODE=$(command -v node)
PP=$(free_port); SP=$(free_port)

# ---------------------------------------------------------------------------- the HTTP fixture
"$NODE" "$FIXTURE" http h 0 >"$T/fixture.log" 2>&1 &
track $!
fixture_port() { grep -oE '^listening [0-9]+' "$T/fixture.log" | awk '{ print $2 }'; }
fixture_up() { [ -n "$(fixture_port)" ]; }
wait_for 10 fixture_up || { echo "bench: the HTTP fixture did not start: $(cat "$T/fixture.log")" >&2; exit 1; }
FP=$(fixture_port)

# ---------------------------------------------------------------------------- portico
cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: $T/portico-access.log
limits: { idle_timeout: 300s }
mcp:
  servers:
    - { name: h, url: "http://127.0.0.1:$FP/mcp" }
    - { name: s, command: "$NODE", args: ["$FIXTURE", stdio, s] }
EOF
portico_start "$T/portico.yaml" || { echo "bench: portico did not start" >&2; exit 1; }
both_up() { curl -s -m 2 "http://127.0.0.1:$PP/readyz" | jq -e '.mcp.h == "up" and .mcp.s == "up"' >/dev/null; }
wait_for 20 both_up || { echo "bench: the MCP servers are not up: $(curl -s "http://127.0.0.1:$PP/readyz")" >&2; exit 1; }

# ---------------------------------------------------------------------------- supergateway
sg_note=
sg_start() {
    npm_tool "$SG_DIR" supergateway "$SUPERGATEWAY_VERSION" || { sg_note=$NPM_TOOL_NOTE; return 1; }
    # The preload applies to supergateway only: its children are plain node processes.
    "$NODE" --import "$(loopback_preload)" "$SG_DIR/node_modules/supergateway/dist/index.js" \
        --stdio "'$NODE' '$FIXTURE' stdio sg" --outputTransport streamableHttp --stateful \
        --port "$SP" --streamableHttpPath /mcp --healthEndpoint /healthz --logLevel none \
        >"$T/supergateway.log" 2>&1 &
    SG_PID=$!
    track $SG_PID
    # Given time to stop its children (their own process groups) before the cleanup's SIGKILL.
    on_exit 'stop_pid "$SG_PID" TERM 10'
    if ! wait_for 20 answers_200 "http://127.0.0.1:$SP/healthz"; then
        sg_note="it did not answer on 127.0.0.1:$SP: $(tail -c 300 "$T/supergateway.log" | tr '\n' ' ')"
        return 1
    fi
    if beyond_loopback "$SP"; then
        sg_note="it listens beyond loopback; not measured"
        return 1
    fi
}
if [ "$SUPERGATEWAY" = on ]; then
    sg_start || { echo "bench: supergateway skipped: $sg_note" >&2; SUPERGATEWAY=off; }
else
    sg_note="SUPERGATEWAY=off"
fi

# ---------------------------------------------------------------------------- load
targets=$(jq -nc --arg fp "$FP" --arg pp "$PP" --arg node "$NODE" --arg fx "$FIXTURE" '[
  {name: "direct-http", url: "http://127.0.0.1:\($fp)/mcp"},
  {name: "portico-http", url: "http://127.0.0.1:\($pp)/mcp/h"},
  {name: "direct-stdio", stdio: [$node, $fx, "stdio", "direct"]},
  {name: "portico-stdio", url: "http://127.0.0.1:\($pp)/mcp/s"}]')
[ "$SUPERGATEWAY" = on ] && targets=$(jq -c --arg sp "$SP" '. + [{name: "supergateway", url: "http://127.0.0.1:\($sp)/mcp"}]' <<<"$targets")
jq -n --argjson t "$targets" --argjson c "$CLIENTS" --argjson n "$CALLS" --argjson w "$WARMUP" \
    --argjson r "$ROUNDS" --argjson to "$ROUND_TIMEOUT" \
    '{clients: $c, calls: $n, warmup: $w, rounds: $r, round_timeout_s: $to, targets: $t}' >"$T/load.json"

echo "MCP gateway benchmark, loopback, $(nproc) cores, $(uname -r), node $(node --version), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  tools/call echo on tests/upstreams/mcp/fixture.mjs; $CLIENTS SDK clients per target, $WARMUP calls of warm-up,"
echo "  then $ROUNDS rounds of $CALLS calls, order rotating; portico $("$PORTICO" version | awk '{ print $2 }') (workers: 1, access log on)"
if [ "$SUPERGATEWAY" = on ]; then echo "  supergateway $SUPERGATEWAY_VERSION (stdio -> Streamable HTTP, --stateful: a child per session)"
else echo "  supergateway: not measured ($sg_note)"; fi
echo

# Bounded in time: every round by ROUND_TIMEOUT in the client, the whole run here.
limit=$(((ROUNDS + 1) * $(jq length <<<"$targets") * ROUND_TIMEOUT + 60))
timeout "$limit" "$NODE" "$BENCH_DIR/mcp_load.mjs" "$T/load.json" >"$T/load.out" 2>"$T/load.err"
rc=$?
grep -v '^RESULT ' "$T/load.out"
[ "$rc" = 0 ] || { echo "bench: the load client failed ($rc): $(tail -n 5 "$T/load.err")" >&2; exit 1; }
sed -n 's/^RESULT //p' "$T/load.out" >"$T/results"
get() { jq -r --arg n "$1" "select(.name == \$n) | .$2" "$T/results"; }

echo
printf '%-14s %10s %10s %10s\n' median calls/s "p50 ms" "p99 ms"
while read -r n; do
    printf '%-14s %10.0f %10.3f %10.3f\n' "$n" "$(get "$n" cps)" "$(get "$n" p50)" "$(get "$n" p99)"
done < <(jq -r .name "$T/results")

echo
printf '%-14s %-13s %11s %11s %12s %10s %10s\n' proxy baseline "p50 added" "p99 added" "calls/s x" "p50 x" "p99 x"
vs() { # PROXY BASELINE
    [ -n "$(get "$1" cps)" ] || return 0
    awk -v a="$1" -v b="$2" -v c1="$(get "$1" cps)" -v c0="$(get "$2" cps)" -v m1="$(get "$1" p50)" -v m0="$(get "$2" p50)" \
        -v n1="$(get "$1" p99)" -v n0="$(get "$2" p99)" 'BEGIN {
        printf "%-14s %-13s %+8.3f ms %+8.3f ms %11.2fx %9.2fx %9.2fx\n", a, b, m1 - m0, n1 - n0, c1 / c0, m1 / m0, n1 / n0 }'
}
vs portico-http direct-http
vs portico-stdio direct-stdio
vs supergateway direct-stdio
if [ "$SUPERGATEWAY" = on ]; then
    awk -v p="$(get portico-stdio cps)" -v s="$(get supergateway cps)" -v a="$(get portico-stdio p99)" -v b="$(get supergateway p99)" \
        'BEGIN { printf "\nportico-stdio / supergateway: calls/s %.2fx, p99 %.2fx\n", p / s, a / b }'
fi
echo "portico access log: $(wc -l <"$T/portico-access.log" 2>/dev/null || echo 0) lines"
