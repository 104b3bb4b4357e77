#!/usr/bin/env bash
# Rate and concurrency policies on the real binary with two workers: a window hit by 5,000
# concurrent requests over many connections admits exactly its limit (counted from the
# answers and from the upstream's own count), a concurrency cap holds against a slow
# upstream and is given back when the client leaves or the upstream fails, per-consumer,
# per-key and group_by policies on a keyed route, the RateLimit fields on allowed and
# refused answers, Retry-After, the metrics, a reload that changes a policy, and bad
# policies refused naming the field.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port); DEAD=$(free_port)
D=$T/data
LOG=$T/access.log

seed team shop && seed consumer acme shop && seed consumer globex shop && seed consumer initech shop &&
    seed consumer hooli shop && seed service orders shop ||
    not_ok "the store is seeded"
KA=$(seed key acme)
KA2=$(seed key acme)
KG=$(seed key globex)
KI=$(seed key initech)
KH=$(seed key hooli)
for c in acme globex initech hooli; do seed subscribe "$c" orders active || not_ok "$c is subscribed"; done

upstream_start u1 "$U1" || not_ok "upstream starts"
counters_start

# $1: the hdr policy's requests per minute (changed by the reload test)
write_config() {
    cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: $LOG
data_dir: $D
$(counters_line)
services:
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
  - name: dead
    targets: ["http://127.0.0.1:$DEAD"]
    retries: 0
routes:
  - { name: flood, match: { path_prefix: "/flood/" }, service: echo }
  - { name: minute, match: { path_prefix: "/minute/" }, service: echo }
  - { name: hdr, match: { path_prefix: "/hdr/" }, service: echo }
  - { name: hour, match: { path_prefix: "/hour/" }, service: echo }
  - { name: slow, match: { path_prefix: "/slow/" }, service: echo }
  - { name: dead, match: { path_prefix: "/dead/" }, service: dead }
  - { name: free, match: { path_prefix: "/free/" }, service: echo }
  - { name: keyed, match: { path_prefix: "/keyed/" }, service: echo, auth: key, auth_service: orders }
  - { name: grouped, match: { path_prefix: "/grouped/" }, service: echo, auth: key, auth_service: orders }
policies:
  - name: flood
    applies_to: { route: flood }
    rate: { requests: 1000, per: 24h }
  - name: minute
    applies_to: { route: minute }
    rate: { requests: 1000, per: 1m }
  - name: hdr
    applies_to: { route: hdr }
    rate: { requests: $1, per: 1m }
  - name: hour
    applies_to: { route: hour }
    rate: { requests: 1, per: 1h }
  - name: slow
    applies_to: { route: slow }
    concurrency: 3
  - name: dead
    applies_to: { service: dead }
    concurrency: 1
  - name: acme
    applies_to: { consumer: acme }
    rate: { requests: 2, per: 1h }
  - name: one-key
    applies_to: { key: "${KG:0:12}" }
    rate: { requests: 3, per: 1h }
  - name: per-consumer
    applies_to: { route: grouped }
    group_by: consumer
    rate: { requests: 1, per: 1h }
EOF
}
write_config 3
portico_start "$T/portico.yaml" || not_ok "portico starts"
like "$("$PORTICO" check-config -c "$T/portico.yaml" 2>&1)" \
    "policies: 9 \(checked in this order\)"$'\n'"  one-key: key pk_[^;]*; 3 per 3600000 ms, burst 3"$'\n'"  acme: consumer acme; 2 per 3600000 ms, burst 2" \
    "check-config lists the policies, most specific first"

# ---- exactness: 5,000 concurrent requests against 1,000 per day, over 200 connections
flood() { node "$BB_DIR/limits_flood.mjs" --url "http://127.0.0.1:$PP$1" --requests 5000 --connections 200; }
ctl "$U1" reset >/dev/null
R=$(flood /flood/x)
note "flood (1000 per 24h): $R"
is "$(jqr '.statuses["200"]' "$R")/$(jqr '.statuses["429"]' "$R")/$(jqr .errors "$R")" "1000/4000/0" \
    "5,000 concurrent requests on two workers: exactly 1,000 answered 200, 4,000 answered 429"
is "$(up_count "$U1")" 1000 "the upstream saw exactly 1,000 requests"
is "$(jqr '.missing | [.[]] | add' "$R")" 0 "every answer carries RateLimit-Policy and RateLimit, every 429 Retry-After"
is "$(metric_sum portico_policy_decisions_total 'policy="flood"' 'result="allowed"')/$(metric_sum portico_policy_decisions_total 'policy="flood"' 'result="refused"')" \
    "1000/4000" "portico_policy_decisions_total counts 1,000 allowed and 4,000 refused"
is "$(metric_sum portico_route_responses_total 'route="flood"' 'class="4xx"')" 4000 "the route's own series count its 429s"
check "portico_request_outcomes_total counts the refusals as rate_limited" \
    test "$(metric_sum portico_request_outcomes_total 'outcome="rate_limited"')" -ge 4000

# the same on a per-minute window: 1,000 at once, then one per 60 ms while the flood lasts
ctl "$U1" reset >/dev/null
START=$(date +%s%N)
R=$(flood /minute/x)
ELAPSED_MS=$((($(date +%s%N) - START) / 1000000))
PASSED=$(jqr '.statuses["200"]' "$R")
note "flood (1000 per 1m) over $ELAPSED_MS ms: $R"
check "1,000 per minute: at least 1,000 pass, and no more than one per 60 ms since ($PASSED)" \
    test "$PASSED" -ge 1000 -a "$PASSED" -le $((1000 + ELAPSED_MS / 60 + 1))
is "$(up_count "$U1")" "$PASSED" "the upstream saw exactly the requests answered 200"

# ---- the RateLimit fields and Retry-After
for want in 2 1 0; do
    get /hdr/a
    is "$RESP_STATUS/$(hdr RateLimit-Policy)" '200/"hdr";q=3;w=60' "allowed: RateLimit-Policy names the policy (r=$want)"
    like "$(hdr RateLimit)" "^\"hdr\";r=$want;t=[0-9]+$" "allowed: RateLimit shows $want remaining"
done
get /hdr/a
is "$RESP_STATUS" 429 "the fourth call in the minute is refused"
error_shape "refused" 429 '^rate_limited$' "$RESP_BODY" "$(hdr Content-Type)"
like "$(jqr .error.message)" "policy 'hdr' allows 3 requests per 60 s; its window allows the next call in (19|20) s" \
    "the message names the policy and when to retry"
like "$(hdr Retry-After)" '^(19|20)$' "Retry-After is the wait for the next call, rounded up"
like "$(hdr RateLimit)" "^\"hdr\";r=0;t=$(hdr Retry-After)$" "refused: RateLimit shows none left, t = Retry-After"
get /hour/a
get /hour/a
like "$RESP_STATUS/$(hdr Retry-After)" '^429/(3599|3600)$' "1 per hour: Retry-After is the hour (less the time since the call, rounded up)"
get /free/a
is "$RESP_STATUS" 200 "a route under no policy passes"
has_hdr RateLimit && not_ok "no RateLimit fields outside any policy" "$(cat "$RESP_HEADERS")" ||
    ok "no RateLimit fields outside any policy"

# ---- concurrency against a slow upstream
SLOW=()
for i in 1 2 3; do
    curl -s -o "$T/slow$i.out" -w '%{http_code}' -m 20 "http://127.0.0.1:$PP/slow/x?hold=s1" >"$T/slow$i.status" &
    SLOW+=($!)
    track $!
done
held() { [ "$(ctl "$U1" "held?id=$1" | jq -r .held)" = "$2" ]; }
check "three slow requests are in flight at the upstream" wait_for 10 held s1 3
get /slow/x
is "$RESP_STATUS/$(hdr Retry-After)" "429/1" "a fourth concurrent request is refused, Retry-After 1"
is "$(hdr RateLimit-Policy)/$(hdr RateLimit)" '"slow/concurrency";q=3;qu="concurrent-requests"/"slow/concurrency";r=0' \
    "the refusal names the concurrency limit"
like "$(jqr .error.message)" "policy 'slow' allows 3 requests in flight" "the message says requests in flight"
ctl "$U1" "release?id=s1" >/dev/null
wait "${SLOW[@]}"
is "$(cat "$T"/slow{1,2,3}.status | tr -d '\n')" 200200200 "the three held requests complete"
get /slow/x
is "$RESP_STATUS/$(hdr RateLimit)" '200/"slow/concurrency";r=2' "once they end, their slots are free again"

# the client leaves while its request is held: its slot is given back
CURLS=()
for i in 1 2 3; do
    curl -s -o /dev/null -m 30 "http://127.0.0.1:$PP/slow/x?hold=s2" &
    CURLS+=($!)
    track $!
done
check "three more are held" wait_for 10 held s2 3
kill "${CURLS[@]}" 2>/dev/null
wait "${CURLS[@]}" 2>/dev/null
free_again() { [ "$(status_of "http://127.0.0.1:$PP/slow/x")" = 200 ]; }
check "clients that left gave their slots back" wait_for 10 free_again
ctl "$U1" "release?id=s2" >/dev/null

# the upstream fails: the slot is given back with the 502
get /dead/x
is "$RESP_STATUS" 502 "a dead upstream answers 502 under a concurrency policy"
like "$(hdr RateLimit)" '^"dead/concurrency";r=0$' "the 502 carries the RateLimit fields"
get /dead/x
is "$RESP_STATUS" 502 "the failed call released its slot (502 again, not 429)"

# ---- per consumer, per key, group_by on a keyed route
for i in 1 2; do
    get /keyed/a -H "Authorization: Bearer $KA"
    is "$RESP_STATUS" 200 "acme's call $i passes"
done
like "$(hdr RateLimit-Policy)" '"acme";q=2;w=3600' "acme's answers show acme's policy"
get /keyed/a -H "Authorization: Bearer $KA2"
is "$RESP_STATUS" 429 "acme's third call is refused, whichever of its keys it uses"
like "$(jqr .error.message)" "policy 'acme'" "the refusal names acme's policy"
wait_log '"path":"/keyed/a".*"status":429' "$LOG" || note "no 429 line for /keyed/a in the access log yet"
L=$(grep '"status":429' "$LOG" | grep "/keyed/a" | tail -n 1)
is "$(jqr .error "$L")/$(jqr .consumer "$L")" "rate_limited/acme" "the access log names the outcome and the consumer"
for i in 1 2 3; do get /keyed/a -H "Authorization: Bearer $KG"; done
is "$RESP_STATUS" 200 "globex is not limited by acme's policy"
get /keyed/a -H "Authorization: Bearer $KG"
is "$RESP_STATUS/$(jqr .error.code)" "429/rate_limited" "a policy on globex's key prefix refuses its fourth call"
get /keyed/a
is "$RESP_STATUS" 401 "without a key the key check answers first"

get /grouped/a -H "Authorization: Bearer $KI"
is "$RESP_STATUS" 200 "group_by consumer: initech's first call on the route"
get /grouped/a -H "Authorization: Bearer $KI"
like "$RESP_STATUS/$(hdr RateLimit)" '^429/"per-consumer";r=0;t=(3599|3600)$' "group_by consumer: initech's second call is refused"
get /grouped/a -H "Authorization: Bearer $KH"
is "$RESP_STATUS" 200 "group_by consumer: hooli has a window of its own"
ctl "$U1" reset >/dev/null
get /grouped/a -H "Authorization: Bearer $KA"
is "$RESP_STATUS" 429 "acme has spent its own policy's calls"
is "$(up_count "$U1")" 0 "a refused call reaches no upstream"

# ---- reload: a changed policy applies
MARK=$(log_lines "$T/portico.err")
write_config 50
kill -HUP "$PORTICO_PID"
check "the reload is logged" wait_log "configuration reloaded" "$T/portico.err" "$MARK"
get /hdr/a
is "$RESP_STATUS/$(hdr RateLimit-Policy)" '200/"hdr";q=50;w=60' "after the reload the new limit applies"

# a bad policy is refused by the reload, naming the field; the running one stays
MARK=$(log_lines "$T/portico.err")
sed -i 's/per: 1h }$/per: 1 fortnight }/' "$T/portico.yaml"
kill -HUP "$PORTICO_PID"
check "a reload with a bad policy is refused naming the field" \
    wait_log 'reload refused.*policies\[[0-9]+\]\.rate\.per' "$T/portico.err" "$MARK"
get /hour/a
is "$RESP_STATUS" 429 "the running policies stay after a refused reload"

# ---- check-config names the field of each bad policy
bad() {
    printf 'services:\n  - name: echo\n    targets: ["http://127.0.0.1:1"]\npolicies:\n%b' "$1" >"$T/bad.yaml"
    "$PORTICO" check-config -c "$T/bad.yaml" 2>&1
}
like "$(bad '  - name: a\n    rate: { requests: 10, per: 0s }\n')" "policies\[0\]\.rate\.per: must be between 1s and 30d" \
    "check-config: a window under a second"
like "$(bad '  - name: a\n    concurrency: 5\n  - name: a\n    concurrency: 5\n')" \
    "policies\[1\]\.name: duplicate policy name 'a'" "check-config: duplicate names"
like "$(bad '  - name: a\n    applies_to: { service: nope }\n    concurrency: 5\n')" \
    "policies\[0\]\.applies_to\.service: no service named 'nope'" "check-config: a service that does not exist"
like "$(bad '  - name: a\n    rate: { requests: 10, per: 1m, bust: 2 }\n')" \
    "policies\[0\]\.rate\.bust: unknown key \(did you mean 'burst'\?\)" "check-config: an unknown key"

alive_after "the limits tests"
done_testing
