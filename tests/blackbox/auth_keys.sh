#!/usr/bin/env bash
# Key enforcement on a route with `auth: key`: the store is seeded through its own C interface
# (build/tests/store_seed), and every refusal (401 missing / unknown / expired / revoked, 403 not
# subscribed / pending / rejected) and every accepted way of presenting a key is checked against
# a real echo upstream, which shows that the key never reaches it and the identity headers do.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port)
D=$T/data
LOG=$T/access.log

seed team acme && seed consumer app1 acme && seed consumer app2 acme && seed consumer app3 acme &&
    seed consumer app4 acme && seed service echo acme || not_ok "the store is seeded"
K1=$(seed key app1)          # active subscription
K2=$(seed key app2)          # pending
K3=$(seed key app3)          # rejected
K4=$(seed key app4)          # not subscribed
KX=$(seed key app1 1000)     # expired in 1970
KR=$(seed key app1)          # revoked before start
KL=$(seed key app1)          # revoked while running
seed subscribe app1 echo active && seed subscribe app2 echo pending && seed subscribe app3 echo rejected &&
    seed revoke "$KR" || not_ok "subscriptions are seeded"
[[ $K1 == pk_* ]] && ok "store_seed prints a generated key" || not_ok "store_seed prints a generated key" "got '$K1'"

upstream_start echo "$U1" || not_ok "echo upstream starts"
cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: $LOG
data_dir: $D
services:
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
routes:
  - name: keyed
    match: { path_prefix: "/echo/" }
    service: echo
    auth: key
    key_header: X-My-Key
    key_query: api_key
  - name: open
    match: { path_prefix: "/open/" }
    service: echo
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts with a data_dir"

challenge() { [[ $(hdr WWW-Authenticate) == 'Bearer realm="portico"' ]]; }
expect() { # NAME STATUS CODE MESSAGE_REGEX [curl args for /echo/x]
    local name=$1 st=$2 code=$3 re=$4; shift 4
    get /echo/x "$@"
    is "$RESP_STATUS" "$st" "$name: status $st"
    is "$(jqr .error.code)" "$code" "$name: code $code"
    like "$(jqr .error.message)" "$re" "$name: the message says why"
}

expect "no key" 401 key_missing "needs an API key"
check "no key: WWW-Authenticate Bearer" challenge
expect "unknown key" 401 key_invalid "not valid" -H "Authorization: Bearer pk_notakeyatallnotakeyatallnotakey1"
check "unknown key: WWW-Authenticate Bearer" challenge
expect "expired key" 401 key_expired "expired" -H "Authorization: Bearer $KX"
check "expired key: WWW-Authenticate Bearer" challenge
expect "revoked key" 401 key_revoked "revoked" -H "x-api-key: $KR"
expect "not subscribed" 403 not_subscribed "not subscribed.*POST /admin/v1/subscriptions" -H "Authorization: Bearer $K4" -H "X-Request-Id: auth-403"
expect "pending" 403 subscription_pending "pending approval" -H "Authorization: Bearer $K2"
expect "rejected" 403 subscription_rejected "rejected.*POST /admin/v1/subscriptions" -H "Authorization: Bearer $K3"
has_hdr WWW-Authenticate && not_ok "403: no WWW-Authenticate challenge" || ok "403: no WWW-Authenticate challenge"

get /nothing/here -H "Authorization: Bearer $K4"
is "$RESP_STATUS" 404 "an unmatched path with a key is 404, not 403"

P1=${K1:0:12}
accepted() { # NAME HEADER_THAT_MUST_NOT_ARRIVE
    local name=$1 gone=$2
    is "$RESP_STATUS" 200 "$name: 200"
    is "$(echo_header "$gone")" "" "$name: the key's header does not reach the upstream"
    [[ $RESP_BODY == *"$K1"* ]] && not_ok "$name: the key appears nowhere upstream" || ok "$name: the key appears nowhere upstream"
    is "$(echo_header X-Portico-Consumer)" app1 "$name: X-Portico-Consumer upstream"
    is "$(echo_header X-Portico-Team)" acme "$name: X-Portico-Team upstream"
    is "$(echo_header X-Portico-Key-Prefix)" "$P1" "$name: X-Portico-Key-Prefix upstream"
}
get /echo/b -H "Authorization: Bearer $K1" -H "X-Request-Id: auth-bearer"
accepted "Bearer" Authorization
get /echo/x -H "x-api-key: $K1" -H "X-Portico-Consumer: someone-else"
accepted "x-api-key" x-api-key
get /echo/h -H "X-My-Key: $K1" -H "Authorization: Basic dXNlcjpwdw=="
accepted "custom header" X-My-Key
is "$(echo_header Authorization)" "Basic dXNlcjpwdw==" "custom header: another Authorization header still goes upstream"
get /echo/2 -H "Authorization: Bearer $K1" -H "x-api-key: $K1" -H "X-Other: $K1"
accepted "the key sent twice" x-api-key
get "/echo/q?a=1&api_key=$K1&b=2"
accepted "query parameter" X-My-Key
is "$(jqr .query)" "a=1&b=2" "query parameter: stripped from the upstream URL, the others kept"
get /metrics
is "$(grep -F 'portico_consumer_requests_total{consumer="app1",team="acme"}' <<<"$RESP_BODY" | awk '{ print $2 }')" 5 \
    "metrics: the five accepted calls counted by consumer and team"
[[ $RESP_BODY == *'consumer="app4"'* ]] && not_ok "metrics: a refused consumer is not counted as a call" ||
    ok "metrics: a refused consumer is not counted as a call"
get "/open/x" -H "Authorization: Bearer whatever"
is "$RESP_STATUS" 200 "a route without auth still needs no key"

logged() { [ -f "$LOG" ] && grep -q '"auth-bearer"' "$LOG"; }
check "access log: the keyed request is logged" wait_for 5 logged
L=$(grep '"auth-bearer"' "$LOG" 2>/dev/null | head -1)
is "$(jqr .consumer "$L")/$(jqr .team "$L")/$(jqr .key_prefix "$L")" "app1/acme/$P1" "access log: consumer, team and key prefix"
L=$(grep '"auth-403"' "$LOG" 2>/dev/null | head -1)
is "$(jqr .error "$L")/$(jqr .status "$L")/$(jqr .consumer "$L")" "not_subscribed/403/app4" \
    "access log: a refusal for want of a subscription names the caller"

# A change made to the store while running is in force within 2 s (the version re-check).
get /echo/l -H "Authorization: Bearer $KL"
is "$RESP_STATUS" 200 "live key: 200 before the change"
seed revoke "$KL" || not_ok "the key is revoked in the store"
revoked_now() { [ "$(status_of -H "Authorization: Bearer $KL" "http://127.0.0.1:$PP/echo/l")" = 401 ]; }
check "a key revoked in the store while running is refused within 2 s" wait_for 2 revoked_now
get /echo/l -H "Authorization: Bearer $K1"
is "$RESP_STATUS" 200 "the other keys still work after the recompile"

get /metrics
like "$RESP_BODY" 'portico_request_outcomes_total\{outcome="unauthorized"\} [1-9]' "metrics: refusals counted as unauthorized"
like "$RESP_BODY" 'portico_request_outcomes_total\{outcome="forbidden"\} [1-9]' "metrics: refusals counted as forbidden"

portico_stop
is "$PORTICO_STATUS" 0 "portico exits 0"

# A data_dir that cannot be opened stops the start, naming the path.
touch "$T/notadir"
sed "s|data_dir: .*|data_dir: $T/notadir/sub|" "$T/portico.yaml" >"$T/bad.yaml"
"$PORTICO" serve -c "$T/bad.yaml" >"$T/bad.out" 2>&1 & BADPID=$!; track $BADPID
exited() { ! kill -0 "$BADPID" 2>/dev/null; }
check "an unopenable store stops the start" wait_for 10 exited
like "$(cat "$T/bad.out")" "data_dir '$T/notadir/sub'" "the error names the data directory"

# Without a keyed route the store is not opened: no store file appears (the call log's own
# file does: every call is logged).
grep -v -e 'auth: key' -e 'key_header' -e 'key_query' "$T/portico.yaml" | sed "s|data_dir: .*|data_dir: $T/unused|" >"$T/plain.yaml"
portico_start "$T/plain.yaml" || not_ok "portico starts without keyed routes"
get /echo/x
is "$RESP_STATUS" 200 "without auth: key the route needs no key"
[ -e "$T/unused/portico.db" ] && not_ok "without a keyed route no store is created" ||
    ok "without a keyed route no store is created"
# A reload that adds the first keyed route opens the store then.
cp "$T/portico.yaml" "$T/plain.yaml"
kill -HUP "$PORTICO_PID"
keyed_now() { [ "$(status_of "http://127.0.0.1:$PP/echo/x")" = 401 ]; }
check "a reload adding auth: key opens the store and enforces keys" wait_for 5 keyed_now
get /echo/x -H "Authorization: Bearer $K1"
is "$RESP_STATUS" 200 "after the reload an active key passes"
portico_stop

done_testing
