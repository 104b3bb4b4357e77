#!/usr/bin/env bash
# Limits exact across a cluster: three Portico nodes share one configuration and a Redis
# started by the test (counters: redis). A window hit through all three at once admits
# exactly its limit, a concurrency cap holds across nodes, a quota holds across nodes and
# across a node restart without its data directory, rate windows follow Redis's clock,
# Redis stopped under load makes fail-open and fail-closed policies behave as configured
# (logged and counted) and recovery follows its restart, and a wrong password or an
# unreachable address at start says so clearly. A rate with slack (2%: each worker takes 20
# calls at a time) makes far fewer round trips and never admits more than its limit.
. "$(dirname "$0")/lib.sh"

if ! have_redis; then
    skip "limits across nodes with Redis" "redis-server is not installed"
    done_testing
    exit
fi

U1=$(free_port)
upstream_start u1 "$U1" || not_ok "upstream starts"
redis_start || not_ok "redis starts"
for n in a b c; do NODE_PORT[$n]=$(free_port); done
PP=${NODE_PORT[a]} # metric_sum and get read node a

# $1: the node's name
write_config() {
    cat >"$T/$1.yaml" <<EOF
listen: ["127.0.0.1:${NODE_PORT[$1]}"]
workers: 2
access_log: "off"
data_dir: $T/$1/data
counters: { redis: "redis://127.0.0.1:$REDIS_PORT/0", timeout: 1s, prefix: "bb:" }
services:
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
routes:
  - { name: day, match: { path_prefix: "/day/" }, service: echo }
  - { name: minute, match: { path_prefix: "/minute/" }, service: echo }
  - { name: slack, match: { path_prefix: "/slack/" }, service: echo }
  - { name: slow, match: { path_prefix: "/slow/" }, service: echo }
  - { name: quota, match: { path_prefix: "/quota/" }, service: echo }
  - { name: second, match: { path_prefix: "/second/" }, service: echo }
  - { name: open, match: { path_prefix: "/open/" }, service: echo }
  - { name: closed, match: { path_prefix: "/closed/" }, service: echo }
policies:
  - name: day
    applies_to: { route: day }
    rate: { requests: 1000, per: 24h }
  - name: minute
    applies_to: { route: minute }
    rate: { requests: 1000, per: 1m }
  - name: slack
    applies_to: { route: slack }
    rate: { requests: 1000, per: 24h, slack: 2% }
  - name: slow
    applies_to: { route: slow }
    concurrency: 3
  - name: quota
    applies_to: { route: quota }
    quota: { requests_per_day: 5 }
  - name: second
    applies_to: { route: second }
    rate: { requests: 1, per: 1s }
  - name: open
    applies_to: { route: open }
    rate: { requests: 1000000, per: 1s }
    on_store_error: open
  - name: closed
    applies_to: { route: closed }
    rate: { requests: 1000000, per: 1s }
    on_store_error: closed
EOF
}
for n in a b c; do
    write_config $n
    node_start $n "$T/$n.yaml" || not_ok "node $n starts" "$(tail -n 5 "$T/$n/err")"
done
like "$(cat "$T/a/err")" "counters: limit counters in redis at 127.0.0.1:$REDIS_PORT, database 0" \
    "the node logs where its counters are"

url() { echo "http://127.0.0.1:${NODE_PORT[$1]}$2"; }

# floods PATH N: N requests through each node at once (100 connections each); prints
# "200s 429s errors" summed over the three
floods() {
    local n
    for n in a b c; do
        node "$BB_DIR/limits_flood.mjs" --url "$(url $n "$1")" --requests "$2" --connections 100 >"$T/flood.$n" &
    done
    wait
    cat "$T"/flood.{a,b,c} | jq -s -r '[(map(.statuses["200"] // 0) | add), (map(.statuses["429"] // 0) | add),
        (map(.errors) | add)] | join(" ")'
}

# ---- exactness: 3 x 1,200 requests through three nodes against 1,000 per day
ctl "$U1" reset >/dev/null
R=$(floods /day/x 1200)
note "flood (1000 per 24h) through three nodes: $R"
is "$R" "1000 2600 0" "3,600 concurrent requests through three nodes: exactly 1,000 answered 200, 2,600 answered 429"
is "$(up_count "$U1")" 1000 "the upstream saw exactly 1,000 requests"

# 1,000 per minute: 1,000 at once, then one per 60 ms while the floods last
ctl "$U1" reset >/dev/null
START=$(date +%s%N)
R=$(floods /minute/x 1200)
ELAPSED_MS=$((($(date +%s%N) - START) / 1000000))
read -r PASSED REFUSED ERRS <<<"$R"
note "flood (1000 per 1m) through three nodes over $ELAPSED_MS ms: $R"
check "1,000 per minute across three nodes: at least 1,000 pass, and no more than one per 60 ms since ($PASSED)" \
    test "$PASSED" -ge 1000 -a "$PASSED" -le $((1000 + ELAPSED_MS / 60 + 1))
is "$((PASSED + REFUSED))/$ERRS/$(up_count "$U1")" "3600/0/$PASSED" "every request answered, the upstream saw exactly the 200s"
is "$(metric_sum portico_counters_redis_errors_total)" 0 "no round trip to Redis failed under the floods (none was let through uncounted)"
check "every check was a round trip to Redis" test "$(metric_sum portico_counters_redis_calls_total)" -ge 2400

# ---- slack: the same flood against 1,000 per day with slack: 2% (20 calls a lease, six workers)
evals() { redis-cli -p "$REDIS_PORT" INFO commandstats | tr -d '\r' |
    awk -F'[:=,]' '/^cmdstat_eval(sha)?:/ { n += $3 } END { print n + 0 }'; }
ctl "$U1" reset >/dev/null
E0=$(evals)
R=$(floods /slack/x 1200)
TRIPS=$(($(evals) - E0))
read -r PASSED REFUSED ERRS <<<"$R"
note "flood (1000 per 24h, slack 2%) through three nodes: $R, $TRIPS round trips to Redis"
check "with slack, never more than the limit and at most 6 x 19 unused calls under it ($PASSED)" \
    test "$PASSED" -le 1000 -a "$PASSED" -ge $((1000 - 6 * 19))
is "$((PASSED + REFUSED))/$ERRS/$(up_count "$U1")" "3600/0/$PASSED" "every request answered, the upstream saw exactly the 200s"
check "a tenth of the round trips of the exact policy or fewer ($TRIPS for 3,600 checks)" test "$TRIPS" -le 360
check "the node counts checks decided without a round trip" test "$(metric_sum portico_counters_redis_local_total)" -ge 1000

# ---- concurrency across nodes: one held request on each node, a fourth anywhere is refused
SLOW=()
for n in a b c; do
    curl -s -o /dev/null -w '%{http_code}' -m 20 "$(url $n /slow/x?hold=s1)" >"$T/slow.$n" &
    SLOW+=($!)
done
held() { [ "$(ctl "$U1" "held?id=$1" | jq -r .held)" = "$2" ]; }
check "three slow requests are in flight, one through each node" wait_for 10 held s1 3
for n in a b c; do
    is "$(status_of "$(url $n /slow/x)")" 429 "a fourth concurrent request through node $n is refused"
done
ctl "$U1" "release?id=s1" >/dev/null
wait "${SLOW[@]}"
is "$(cat "$T"/slow.{a,b,c})" 200200200 "the three held requests complete"
http GET "$(url b /slow/x)"
is "$RESP_STATUS/$(hdr RateLimit)" '200/"slow/concurrency";r=2' "once they end, their slots are free on every node"

# ---- a quota across nodes and across a node restart without its data directory
Q=""
for n in a b a c b; do Q+=$(status_of "$(url $n /quota/x)"); done
is "$Q" 200200200200200 "five calls of a quota of 5 per day pass, spread over three nodes"
http GET "$(url c /quota/x)"
is "$RESP_STATUS" 429 "the sixth, through another node, is refused"
like "$(jqr .error.message)" "quota requests_per_day of policy 'quota' is used up: 5 of 5" "the message counts all nodes' calls"
node_stop a
rm -rf "$T/a/data"
node_start a "$T/a.yaml" || not_ok "node a restarts"
is "$(status_of "$(url a /quota/x)")" 429 "node a restarted without its data directory still refuses: the total lives in Redis"

# ---- rate windows follow Redis's clock (one for all nodes), not each node's
http GET "$(url a /second/x)"
is "$RESP_STATUS" 200 "1 per second: the first call passes"
T0=$(date +%s%N)
http GET "$(url b /second/x)"
is "$RESP_STATUS/$(hdr Retry-After)" "429/1" "the next, through another node, is refused with Retry-After 1"
check "through a third node it passes again once the second is over" wait_for 5 answers_200 "$(url c /second/x)"
WAITED=$((($(date +%s%N) - T0) / 1000000))
check "...and not before the window let it (${WAITED} ms after the refusal, the window holds 1 s)" test "$WAITED" -ge 800

# ---- Redis stopped under load: open lets through, closed refuses; both logged and counted
node "$BB_DIR/limits_flood.mjs" --url "$(url a /open/x)" --requests 3000 --connections 20 >"$T/open.json" &
OPEN_FLOOD=$!
node "$BB_DIR/limits_flood.mjs" --url "$(url a /closed/x)" --requests 3000 --connections 20 >"$T/closed.json" &
CLOSED_FLOOD=$!
wait_metric portico_policy_decisions_total 200 'policy="closed"' 'result="allowed"' || not_ok "the floods run"
redis_stop
wait "$OPEN_FLOOD" "$CLOSED_FLOOD"
note "open: $(cat "$T/open.json"); closed: $(cat "$T/closed.json")"
is "$(jq -r '[.statuses["200"], .statuses["429"] // 0, .errors] | join("/")' "$T/open.json")" "3000/0/0" \
    "on_store_error: open: all 3,000 calls pass, before and after Redis stopped"
C200=$(jq -r '.statuses["200"]' "$T/closed.json")
C429=$(jq -r '.statuses["429"] // 0' "$T/closed.json")
is "$((C200 + C429))/$(jq -r .errors "$T/closed.json")" "3000/0" "on_store_error: closed: every call answered"
check "...some passed before Redis stopped ($C200) and the rest were refused after ($C429)" test "$C200" -ge 200 -a "$C429" -ge 1
is "$(metric_sum portico_policy_store_errors_total 'policy="closed"' 'on_store_error="closed"')" "$C429" \
    "portico_policy_store_errors_total counts each refusal of the closed policy"
is "$(metric_sum portico_policy_decisions_total 'policy="closed"' 'reason="store_error"')" "$C429" \
    "...and portico_policy_decisions_total counts them as refused for store_error"
check "portico_policy_store_errors_total counts calls of the open policy let through" \
    test "$(metric_sum portico_policy_store_errors_total 'policy="open"' 'on_store_error="open"')" -ge 1
is "$(metric_sum portico_counters_redis_up)" 0 "portico_counters_redis_up is 0"
check "portico_counters_redis_errors_total counts the failed round trips" \
    test "$(metric_sum portico_counters_redis_errors_total)" -ge 1
http GET "$(url a /closed/x)"
is "$RESP_STATUS" 429 "with Redis down a closed policy refuses"
like "$(jqr .error.message)" "policy 'closed' cannot count its calls: the limit store cannot be written" \
    "...saying why"
like "$(cat "$T/a/err")" "counters: redis at 127.0.0.1:$REDIS_PORT (failed|cannot be reached)" "the node logs that Redis fails"
wait_log "policy 'closed': its counters cannot be counted .*on_store_error: closed, so the call is refused" "$T/a/err" \
    && ok "the node logs the closed policy's refusals (each policy's failures logged on their own)" \
    || not_ok "the node logs the closed policy's refusals (each policy's failures logged on their own)" "$(tail -n 5 "$T/a/err")"
LINES=$(grep -c "counters: redis at" "$T/a/err")
check "the failure log lines are rate-limited ($LINES lines for 6,000 calls)" test "$LINES" -le 10

redis_start || not_ok "redis restarts on the same port"
check "once Redis is back the closed policy lets calls through again" wait_for 15 answers_200 "$(url a /closed/x)"
check "the node logs that Redis is reachable again" wait_log "counters: redis at 127.0.0.1:$REDIS_PORT reachable again" "$T/a/err"
is "$(metric_sum portico_counters_redis_up)" 1 "portico_counters_redis_up is 1 again"

# ---- at start: a wrong password refuses to start, naming the cause; an unreachable Redis is logged
PW_PORT=$(free_port)
redis-server --port "$PW_PORT" --bind 127.0.0.1 --dir "$T/redis" --save '' --appendonly no \
    --requirepass right-secret --logfile "$T/redis/pw.log" &
track $!
wait_port "$PW_PORT" || not_ok "a second redis starts"
NODE_PORT[pw]=$(free_port)
sed -e "s|redis://127.0.0.1:$REDIS_PORT/0|redis://:wrong-secret@127.0.0.1:$PW_PORT/0|" \
    -e "s|127.0.0.1:${NODE_PORT[a]}|127.0.0.1:${NODE_PORT[pw]}|" "$T/a.yaml" >"$T/pw.yaml"
mkdir -p "$T/pw"
(cd "$T/pw" && "$PORTICO" serve -c "$T/pw.yaml" >"$T/pw/out" 2>"$T/pw/err")
is "$?" 1 "a wrong password: portico exits with status 1"
like "$(cat "$T/pw/err")" "counters: redis at 127.0.0.1:$PW_PORT refused the credentials in counters.redis: WRONGPASS" \
    "...saying Redis refused the credentials"
check "...and never printing the password" bash -c "! grep -q wrong-secret '$T/pw/err' '$T/pw/out'"
sed -i "s|:wrong-secret@|:right-secret@|" "$T/pw.yaml"
node_start pw "$T/pw.yaml" || not_ok "the right password starts"
is "$(status_of "$(url pw /quota/x)")" 200 "with the right password the node serves"
like "$(redis-cli -p "$PW_PORT" -a right-secret --no-auth-warning --scan --pattern 'bb:quota*')" "^bb:quota" \
    "...and counts in that Redis, under the configured prefix"
node_stop pw

DEAD=$(free_port)
NODE_PORT[dead]=$(free_port)
sed -e "s|redis://127.0.0.1:$REDIS_PORT/0|redis://127.0.0.1:$DEAD/0|" \
    -e "s|127.0.0.1:${NODE_PORT[a]}|127.0.0.1:${NODE_PORT[dead]}|" "$T/a.yaml" >"$T/dead.yaml"
node_start dead "$T/dead.yaml" || not_ok "a node whose Redis cannot be reached still starts"
like "$(cat "$T/dead/err")" "counters: redis at 127.0.0.1:$DEAD cannot be reached: .*policies follow their on_store_error" \
    "an unreachable Redis at start is logged clearly"
is "$(status_of "$(url dead /open/x)")/$(status_of "$(url dead /closed/x)")" 200/429 \
    "...and its policies follow on_store_error"
node_stop dead

sed "s|redis://127.0.0.1:$REDIS_PORT/0|redis://127.0.0.1:99999/0|" "$T/a.yaml" >"$T/bad.yaml"
like "$("$PORTICO" check-config -c "$T/bad.yaml" 2>&1)" "counters: redis: the Redis URL's port is not a number from 1 to 65535" \
    "a bad URL is refused when the configuration loads"

for n in a b c; do
    kill -0 "${NODE_PID[$n]}" 2>/dev/null && ok "node $n still running" || not_ok "node $n still running"
done
done_testing
