#!/usr/bin/env bash
# The admin API end to end: the bootstrap token, the whole flow (team, service, API,
# consumer, key shown once, subscription pending -> approved / rejected / cancelled),
# passwords and tokens, ETag and If-Match, pagination, the audit log, persistence across
# a restart, and a start that fails when the admin address is taken.
. "$(dirname "$0")/lib.sh"

# an AI service names models the configuration declares; the file's own AI route then
# shows as the read-only service "ai" of the team "file"
admin_start 'providers:
  - { name: p, type: openai, base_url: "http://127.0.0.1:9/v1", api_key: k }
models:
  - { name: gpt-4o, targets: [{ provider: p, model: gpt-4o }] }' || { not_ok "portico with the admin API starts"; done_testing; exit 1; }
ok "portico with the admin API starts"

# ---- bootstrap
is "$(stat -c %a "$T/data/admin-token")" 600 "admin-token is mode 0600"
like "$ADMIN_TOKEN" '^pt_[A-Za-z0-9]{32}$' "admin-token holds one bearer token"
like "$(cat "$T/portico.err")" "created user 'admin' and wrote its bearer token to $T/data/admin-token" \
    "the log says the admin user was created and where the token is"
check "the token is never logged" bash -c "! grep -qF '$ADMIN_TOKEN' '$T/portico.err' '$T/portico.out'"
check "no password or hash is logged" bash -c "! grep -qiE 'argon2|password_hash' '$T/portico.err' '$T/portico.out'"

api GET /teams "" ""
is "$RESP_STATUS" 401 "no token: 401"
is "$(hdr WWW-Authenticate)" 'Bearer realm="portico-admin"' "401 names the Bearer scheme"
is "$(jqr .error.code)" unauthenticated "401 body in the error shape"
api GET /teams "" "pt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
is "$RESP_STATUS" 401 "unknown token: 401"
api GET /teams "" "" -H "Authorization: Basic YWRtaW46YWRtaW4="
is "$RESP_STATUS" 401 "Basic credentials: 401"
api GET /teams
is "$RESP_STATUS" 200 "the bootstrap token works as a bearer token"
api GET /teams
is "$RESP_STATUS" 200 "and keeps working on every use"

# ---- the flow
api POST /teams '{"name":"payments"}'
is "$RESP_STATUS" 201 "create a team"
is "$(hdr ETag)" '"1"' "a created object carries its ETag"
api POST /services '{"name":"ledger","team":"payments","kind":"rest","targets":["http://127.0.0.1:9"],"approval":"manual"}'
is "$RESP_STATUS" 201 "create a manual REST service"
is "$(jqr .approval)/$(jqr .kind)/$(jqr '.targets[0]')" "manual/rest/http://127.0.0.1:9" "the service as sent"
SVC=$(jqr .id)
api POST /services/ledger/apis '{"name":"v1","path_prefix":"/ledger/","methods":["GET","POST"],"auth":"key"}'
is "$RESP_STATUS" 201 "create an API under the service (by name)"
api GET "/services/$SVC/apis"
is "$(jqr '.items | length')/$(jqr '.items[0].name')" "1/v1" "the service's APIs (by id)"
api POST /services '{"name":"chat","team":"payments","kind":"ai","models":["gpt-4o"]}'
is "$RESP_STATUS/$(jqr .approval)" "201/auto" "an AI service, approval auto by default"
api POST /consumers '{"name":"shop","team":"payments"}'
is "$RESP_STATUS" 201 "create a consumer"
api POST /consumers/shop/keys '{"label":"ci"}'
is "$RESP_STATUS" 201 "create a key"
KEY=$(jqr .key) PREFIX=$(jqr .prefix) KID=$(jqr .id)
like "$KEY" '^pk_[A-Za-z0-9]{32}$' "the key is shown at creation"
is "${KEY:0:12}" "$PREFIX" "its prefix is the key's start"
check "no hash in the answer" bash -c "! jq -e 'has(\"hash\")' <<<'$RESP_BODY' >/dev/null"
api GET /consumers/shop/keys
is "$(jqr '.items[0].prefix')" "$PREFIX" "the key list shows the prefix"
check "the key list never shows the key" bash -c "! grep -qF '$KEY' <<<'$RESP_BODY'"
api GET "/consumers/shop/keys/$KID"
is "$(jqr .key)/$(jqr .hash)/$(jqr .label)" "null/null/ci" "one key: no key, no hash"

api POST /subscriptions '{"consumer":"shop","service":"ledger"}'
is "$RESP_STATUS/$(jqr .state)" "201/pending" "a subscription to a manual service is pending"
SUB=$(jqr .id)
api POST "/subscriptions/$SUB/approve"
is "$RESP_STATUS/$(jqr .state)" "200/active" "approve: active"
api POST "/subscriptions/$SUB/approve"
is "$RESP_STATUS/$(jqr .error.code)" "409/invalid_state" "approving an active subscription: 409"
api POST "/subscriptions/$SUB/reject" '{"reason":"contract ended"}'
is "$RESP_STATUS/$(jqr .state)/$(jqr .reason)" "200/rejected/contract ended" "reject with a reason"
api POST "/subscriptions/$SUB/approve"
api POST "/subscriptions/$SUB/reject"
is "$RESP_STATUS/$(jqr .state)/$(jqr .reason)" "200/rejected/null" "reject without a body: no reason"
api DELETE "/subscriptions/$SUB"
is "$RESP_STATUS/$(jqr .state)" "200/cancelled" "DELETE cancels"
api POST /subscriptions '{"consumer":"shop","service":"chat"}'
is "$RESP_STATUS/$(jqr .state)" "201/active" "a subscription to an auto service is active at once"
api POST /subscriptions '{"consumer":"shop","service":"chat"}'
is "$RESP_STATUS/$(jqr .error.code)" "409/conflict" "a second live subscription to the same service: 409"
api DELETE "/consumers/shop/keys/$KID"
is "$RESP_STATUS" 200 "DELETE revokes the key"
like "$(jqr .revoked_at)" '^[0-9]+$' "the key carries its revocation time"
REVOKED=$(jqr .revoked_at)
api DELETE "/consumers/shop/keys/$KID"
is "$RESP_STATUS/$(jqr .revoked_at)" "200/$REVOKED" "revoking again keeps the first revocation time"

# ---- users, passwords, tokens
api POST /users '{"name":"ops","password":"correct horse battery","team":"payments","role":"team_admin"}'
is "$RESP_STATUS/$(jqr .role)/$(jqr .password)/$(jqr .password_hash)" "201/team_admin/null/null" \
    "create a user; no password or hash in the answer"
http POST "http://127.0.0.1:$AP/admin/v1/tokens" -H 'Content-Type: application/json' \
    --data-binary '{"user":"ops","password":"correct horse battery"}'
is "$RESP_STATUS" 201 "POST /tokens with user and password"
OPS=$(jqr .token)
like "$OPS" '^pt_' "answers a token"
api GET /teams/payments "" "$OPS"
is "$RESP_STATUS" 200 "the new token works"
http POST "http://127.0.0.1:$AP/admin/v1/tokens" --data-binary '{"user":"ops","password":"wrong password!"}'
is "$RESP_STATUS/$(hdr WWW-Authenticate)" '401/Bearer realm="portico-admin"' "a wrong password: 401"
wrong_pw=$(jqr .error.message)
http POST "http://127.0.0.1:$AP/admin/v1/tokens" --data-binary '{"user":"nobody","password":"wrong password!"}'
is "$RESP_STATUS/$(jqr .error.message)" "401/$wrong_pw" "an unknown user: the same 401 as a wrong password"
api PATCH /users/admin '{"password":"a long admin passphrase"}'
is "$RESP_STATUS" 200 "the admin sets its own password"
http POST "http://127.0.0.1:$AP/admin/v1/tokens" --data-binary '{"user":"admin","password":"a long admin passphrase"}'
is "$RESP_STATUS" 201 "and logs in with it"
api PATCH /users/ops '{"password":"short"}'
is "$RESP_STATUS/$(jqr .error.field)" "400/password" "a password under the policy: 400 naming password"
# ---- roles and disabling
api POST /users '{"name":"dev","password":"correct horse battery","team":"payments","role":"developer"}' >/dev/null
http POST "http://127.0.0.1:$AP/admin/v1/tokens" --data-binary '{"user":"dev","password":"correct horse battery"}'
DEV=$(jqr .token)
api PATCH /users/dev '{"role":"consumer"}' "$OPS"
is "$RESP_STATUS/$(jqr .role)" "200/consumer" "a team admin changes its team's user's role"
api PATCH /users/dev '{"role":"developer"}' "$DEV"
is "$RESP_STATUS" 403 "a user may not change its own role"
api PATCH /users/dev '{"role":"admin"}' "$OPS"
is "$RESP_STATUS/$(jqr .error.field)" "403/role" "only an admin makes an admin"
api PATCH /users/dev '{"disabled":true}' "$OPS"
is "$RESP_STATUS/$(jqr .disabled)" "200/true" "a team admin disables its team's user"
api GET /teams/payments "" "$DEV"
is "$RESP_STATUS" 401 "the disabled user's token is refused from the next call"
api PATCH /users/dev '{"disabled":"yes"}' "$OPS"
is "$RESP_STATUS/$(jqr .error.field)" "400/disabled" "disabled must be a boolean"
api PATCH /users/dev '{"disabled":false}' "$OPS"
api GET /teams/payments "" "$DEV"
is "$RESP_STATUS" 200 "enabled again, the same token works"
api PATCH /users/admin '{"disabled":true}'
is "$RESP_STATUS/$(jqr .error.code)" "409/invalid_state" "an admin cannot disable itself"
api DELETE /users/admin
is "$RESP_STATUS/$(jqr .error.code)" "409/invalid_state" "nor delete itself, so an enabled admin always remains"
api POST /users '{"name":"root2","password":"correct horse battery","role":"admin"}' >/dev/null
api PATCH /users/root2 '{"role":"developer"}'
is "$RESP_STATUS/$(jqr .error.field)" "409/role" "an admin is not demoted (it has no team)"
api PATCH /users/dev '{"role":"admin"}'
is "$RESP_STATUS/$(jqr .role)/$(jqr .team_id)" "200/admin/null" "an admin promotes a user, who leaves its team"
check "passwords never reach the log" bash -c "! grep -qE 'correct horse|admin passphrase' '$T/portico.err' '$T/portico.out'"

# ---- ETag and If-Match
api GET /teams/payments
ETAG=$(hdr ETag)
is "$ETAG" '"1"' "GET one answers its ETag"
api POST /teams '{"name":"scratch"}'
api PATCH /teams/scratch '{"name":"scratch2"}' "$ADMIN_TOKEN" -H 'If-Match: "1"'
is "$RESP_STATUS/$(hdr ETag)" '200/"2"' "PATCH with the current ETag succeeds and moves it"
api PATCH /teams/scratch2 '{"name":"scratch3"}' "$ADMIN_TOKEN" -H 'If-Match: "1"'
is "$RESP_STATUS/$(jqr .error.code)" "412/precondition_failed" "PATCH with a stale ETag: 412"
api DELETE /teams/scratch2 "" "$ADMIN_TOKEN" -H 'If-Match: "1"'
is "$RESP_STATUS" 412 "DELETE with a stale ETag: 412"
api GET /teams/scratch2
is "$RESP_STATUS/$(jqr .name)" "200/scratch2" "the object is unchanged after the 412s"
api DELETE /teams/scratch2 "" "$ADMIN_TOKEN" -H 'If-Match: "2"'
is "$RESP_STATUS" 204 "DELETE with the current ETag"
api DELETE /teams/payments
is "$RESP_STATUS/$(jqr .error.code)" "409/still_referenced" "a team still owning objects cannot be deleted"

# ---- pagination
for i in 1 2 3 4 5 6 7; do api POST /teams "{\"name\":\"page$i\"}" >/dev/null; done
seen="" pages=0 cursor=""
while :; do
    api GET "/teams?limit=3${cursor:+&cursor=$cursor}"
    pages=$((pages + 1))
    seen+=$(jqr '.items[].name' | tr '\n' ' ')
    cursor=$(jqr '.next_cursor // empty')
    [ -z "$cursor" ] || ((pages > 10)) && break
done
is "$pages" 3 "9 teams at 3 a page: 3 pages"
is "$seen" "file payments page1 page2 page3 page4 page5 page6 page7 " "every team once, in order"
api GET "/teams?limit=0"
is "$RESP_STATUS/$(jqr .error.field)" "400/limit" "limit=0: 400 naming limit"

# ---- audit
api GET "/audit?limit=100"
is "$RESP_STATUS" 200 "the audit log lists"
like "$(jqr '[.items[] | select(.object_kind == "key" and .action == "create")][0].actor')" '^admin$' \
    "the key's creation is audited under the admin's name"
check "no secret in the audit log" bash -c "! grep -qE '$KEY|correct horse|\\\$argon2' <<<'$RESP_BODY'"

# ---- persistence across a restart
portico_stop
is "$PORTICO_STATUS" 0 "portico stops cleanly with the admin API running"
before=$(cat "$T/data/admin-token")
portico_start "$T/admin.yaml" && wait_for 10 admin_answers
api GET /consumers/shop/keys
is "$RESP_STATUS/$(jqr '.items[0].prefix')" "200/$PREFIX" "after a restart: the token works and the key is there"
api GET /subscriptions
is "$(jqr '[.items[].state] | join(",")')" "cancelled,active" "the subscriptions kept their states"
is "$(cat "$T/data/admin-token")" "$before" "a second start does not bootstrap again"
is "$(grep -c "created user 'admin'" "$T/portico.err")" 1 "and does not say so again"

# ---- the admin address taken: the start fails and says why
PP_SAVE=$PP
PP=$(free_port)
admin_config "" | sed "s#$T/data#$T/data2#" >"$T/taken.yaml"
"$PORTICO" serve -c "$T/taken.yaml" >"$T/taken.out" 2>"$T/taken.err" &
pid=$!
track $pid
wait_for 10 bash -c "! kill -0 $pid 2>/dev/null"
wait $pid; rc=$?
PP=$PP_SAVE
check "a taken admin address fails the start" test "$rc" -ne 0
like "$(cat "$T/taken.err")" "admin: cannot listen on 127\\.0\\.0\\.1:$AP" "saying which address"
alive_after "the admin flow"
done_testing
