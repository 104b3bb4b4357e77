#!/usr/bin/env bash
# The console's sessions on the admin API: sign-in by password or by the first start's
# token, the cookie's flags, the CSRF token every cookie write needs, a session's secret
# refused as a bearer token, roles kept (a consumer's session cannot reach an admin's
# endpoint), sign-out, audit entries, idle and absolute expiry (short limits from the
# configuration), the brake on repeated failed sign-ins, and the Secure flag behind a
# TLS-terminating proxy (believed from admin.trusted_proxies only).
. "$(dirname "$0")/lib.sh"

PP=$(free_port); AP=$(free_port)
cat >"$T/c.yaml" <<EOF2
listen: ["127.0.0.1:$PP"]
access_log: "off"
data_dir: "$T/data"
admin: { listen: "127.0.0.1:$AP", session_idle: 5s, session_max: 12s, trusted_proxies: ["127.0.0.2", "10.0.0.0/8"] }
EOF2
portico_start "$T/c.yaml" || { not_ok "portico starts"; done_testing; exit 1; }
wait_for 10 admin_answers || { not_ok "the admin API answers"; done_testing; exit 1; }
ADMIN_TOKEN=$(cat "$T/data/admin-token")
A=http://127.0.0.1:$AP/admin/v1

# sess METHOD PATH [BODY [JAR [CSRF]]]: one admin request with cookie jar JAR (default $T/jar).
sess() {
    local m=$1 p=$2 body=${3-} jar=${4:-$T/jar} csrf=${5-}
    local args=(-b "$jar" -c "$jar")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    [ -n "$csrf" ] && args+=(-H "X-CSRF-Token: $csrf")
    http "$m" "$A$p" "${args[@]}"
}
cookie_of() { awk '$6 == "portico_session" { print $7 }' "${1:-$T/jar}"; }

# ---- sign-in by the bootstrap token
sess POST /sessions "{\"token\":\"$ADMIN_TOKEN\"}"
is "$RESP_STATUS" 201 "the first start's token signs in"
is "$(jqr .user.name)/$(jqr .user.role)" admin/admin "as its user"
CSRF=$(jqr .csrf_token)
like "$CSRF" '^[0-9a-f]{64}$' "with a CSRF token"
like "$(jqr .expires_at)" '^[0-9]+$' "and an expiry"
SC=$(hdr set-cookie)
like "$SC" '^portico_session=pt_[0-9A-Za-z]{32}; ' "the session travels in the portico_session cookie"
like "$SC" '; HttpOnly' "HttpOnly"
like "$SC" '; SameSite=Strict' "SameSite=Strict"
like "$SC" '; Path=/' "for the whole listener"
like "$SC" '; Max-Age=12($|;)' "lasting session_max at most"
case $SC in *Secure*) not_ok "no Secure flag over plain HTTP" "$SC" ;; *) ok "no Secure flag over plain HTTP" ;; esac
SECRET=$(cookie_of)

sess GET /sessions/current
is "$RESP_STATUS" 200 "GET /sessions/current with the cookie"
is "$(jqr .user.name)" admin "names the user"
is "$(jqr .csrf_token)" "$CSRF" "and the same CSRF token"
sess GET /teams
is "$RESP_STATUS" 200 "the cookie authenticates any admin endpoint"

# ---- CSRF
sess POST /teams '{"name":"shop"}'
is "$RESP_STATUS" 403 "a cookie write without X-CSRF-Token is refused"
is "$(jqr .error.code)" csrf_failed "as csrf_failed"
WRONG=${CSRF%?}$([ "${CSRF: -1}" = 0 ] && echo 1 || echo 0) # its last digit changed, whatever it was
sess POST /teams '{"name":"shop"}' "$T/jar" "$WRONG"
is "$RESP_STATUS" 403 "a wrong CSRF token is refused"
sess GET /teams/shop
is "$RESP_STATUS" 404 "nothing was written"
sess POST /teams '{"name":"shop"}' "$T/jar" "$CSRF"
is "$RESP_STATUS" 201 "with the session's CSRF token the write goes through"
api POST /teams '{"name":"bearer-team"}'
is "$RESP_STATUS" 201 "a bearer token needs no CSRF token"

# ---- a session is not a bearer token, a bearer token is no session
api GET /teams "" "$SECRET"
is "$RESP_STATUS" 401 "a session's secret is refused as a bearer token"
api GET /sessions/current
is "$RESP_STATUS" 404 "a bearer token has no current session"
http GET "$A/teams" -H "Cookie: portico_session=$ADMIN_TOKEN"
is "$RESP_STATUS" 401 "a bearer token is refused as a session cookie"
like "$(hdr set-cookie)" '^portico_session=; .*Max-Age=0' "and the browser is told to forget it"
api GET /tokens
is "$(jqr '[.items[] | select(.kind == "session")] | length')" 0 "sessions are not listed among tokens"

# ---- password sign-in, unknown users, roles
api PATCH /users/admin '{"password":"admin password 123"}'
is "$RESP_STATUS" 200 "the admin gets a password"
api POST /users '{"name":"carol","password":"consumer password 1","team":"shop","role":"consumer"}'
is "$RESP_STATUS" 201 "a consumer user is created"
sess POST /sessions '{"user":"carol","password":"consumer password 1"}' "$T/carol"
is "$RESP_STATUS" 201 "the consumer signs in with its password"
is "$(jqr .user.role)/$(jqr .user.team)" consumer/shop "with its role and team"
CCSRF=$(jqr .csrf_token)
sess GET /audit "" "$T/carol"
is "$RESP_STATUS" 403 "a consumer's session cannot read the audit log (admins only)"
sess POST /teams '{"name":"mine"}' "$T/carol" "$CCSRF"
is "$RESP_STATUS" 403 "nor create a team"
sess POST /doctor '{"target":"127.0.0.1:1"}' "$T/carol" "$CCSRF"
is "$RESP_STATUS" 403 "nor run the doctor"
# ---- sign-out (at once: the idle limit is short)
sess DELETE /sessions/current "" "$T/carol"
is "$RESP_STATUS" 403 "signing out by cookie needs the CSRF token too"
sess DELETE /sessions/current "" "$T/carol" "$CCSRF"
is "$RESP_STATUS" 204 "sign-out answers 204"
like "$(hdr set-cookie)" '^portico_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict' "and clears the cookie"
sess POST /sessions '{"user":"carol","password":"a wrong password!"}' "$T/x"
is "$RESP_STATUS" 401 "a wrong password is 401"
is "$(jqr .error.code)" unauthenticated "with the admin API's error body"
has_hdr set-cookie && not_ok "and no cookie" || ok "and no cookie"
sess POST /sessions '{"user":"nobody","password":"a wrong password!"}' "$T/x"
is "$RESP_STATUS/$(jqr .error.message)" "401/unknown user or wrong password" "an unknown user gets the same answer"
sess POST /sessions '{"token":"pt_notatokenatallnotatokenatall12"}' "$T/x"
is "$RESP_STATUS" 401 "an unknown token does not sign in"
sess POST /sessions '{"user":"carol","password":"consumer password 1","token":"x"}' "$T/x"
is "$RESP_STATUS/$(jqr .error.field)" "400/token" "a token and a password at once are refused"
sess POST /sessions '{"user":"carol","pass":"x"}' "$T/x"
is "$RESP_STATUS/$(jqr .error.code)" "400/unknown_field" "an unknown member is named"
sess POST /sessions 'not json' "$T/x"
is "$RESP_STATUS/$(jqr .error.code)" "400/invalid_json" "a body that is not JSON"
sess PUT /sessions "" "$T/x"
is "$RESP_STATUS" 405 "PUT /sessions is 405"
sess GET /sessions/other "" "$T/x"
is "$RESP_STATUS" 404 "only /sessions/current exists"

# ---- the audit log
api GET '/audit?limit=20'
like "$(jqr '[.items[] | select(.object_kind == "token" and .actor == "carol") | .action + ":" + (.after.kind // .before.kind)] | join(",")')" \
    'delete:session,create:session' "sign-in and sign-out are in the audit log, by the user"
like "$RESP_BODY" '"kind":"session"' "marked as sessions"
case $RESP_BODY in *"$SECRET"*|*"$CSRF"*) not_ok "the audit log holds no secret" ;; *) ok "the audit log holds no secret" ;; esac

# ---- the server forgets the session: a copy of the cookie no longer works
sess POST /sessions '{"user":"carol","password":"consumer password 1"}' "$T/carol2"
C2=$(cookie_of "$T/carol2"); C2CSRF=$(jqr .csrf_token)
sess DELETE /sessions/current "" "$T/carol2" "$C2CSRF"
http GET "$A/teams" -H "Cookie: portico_session=$C2"
is "$RESP_STATUS" 401 "a signed-out session's cookie, replayed, is refused"

# ---- expiry: idle (5 s without use), absolute (12 s however used). The limits leave a loaded
# machine room between the earlier steps, which must all fall within the idle limit.
clock_past() { (($(date +%s) >= $1)); }
sess POST /sessions "{\"token\":\"$ADMIN_TOKEN\"}" "$T/idle"
t0=$(date +%s)
sess GET /sessions/current "" "$T/idle"
is "$RESP_STATUS" 200 "a fresh session is live"
wait_for 10 clock_past $((t0 + 6))
sess GET /sessions/current "" "$T/idle"
is "$RESP_STATUS" 401 "unused for longer than session_idle, it has ended"
is "$(jqr .error.code)" session_expired "as session_expired"
like "$(jqr .error.message)" "without use" "saying why"

sess POST /sessions "{\"token\":\"$ADMIN_TOKEN\"}" "$T/abs"
t0=$(date +%s)
still_live() { sess GET /teams "" "$T/abs"; [ "$RESP_STATUS" != 200 ]; }
wait_for 20 still_live
t1=$(date +%s)
is "$RESP_STATUS/$(jqr .error.code)" 401/session_expired "kept in use, it still ends"
check "at session_max after sign-in, not before (ended after $((t1 - t0)) s)" test $((t1 - t0)) -ge 11
like "$(jqr .error.message)" "time limit" "saying why"

# ---- the brake: five failures for one user from one address, then 429
for i in 1 2 3 4 5; do sess POST /sessions '{"user":"carol","password":"wrong wrong wrong"}' "$T/x"; done
is "$RESP_STATUS" 401 "five failures are answered 401"
sess POST /sessions '{"user":"carol","password":"consumer password 1"}' "$T/x"
is "$RESP_STATUS" 429 "then even the right password waits"
is "$(jqr .error.code)" too_many_attempts "as too_many_attempts"
like "$(hdr retry-after)" '^[0-9]+$' "with Retry-After"
sess POST /sessions '{"user":"admin","password":"admin password 123"}' "$T/x"
is "$RESP_STATUS" 201 "another user from the same address is not held back"
brake_over() { sess POST /sessions '{"user":"carol","password":"consumer password 1"}' "$T/x"; [ "$RESP_STATUS" = 201 ]; }
wait_for 10 brake_over && ok "after the wait the right password signs in" || not_ok "after the wait the right password signs in" "$RESP_STATUS $RESP_BODY"

# ---- behind a proxy: Secure when a trusted proxy says the client came over https
# proxied FROM WHAT [curl args]: a token sign-in from source address FROM; Secure or not?
proxied() {
    local from=$1 what=$2; shift 2
    http POST "$A/sessions" --interface "$from" -H 'Content-Type: application/json' \
        --data-binary "{\"token\":\"$ADMIN_TOKEN\"}" "$@"
    local sc; sc=$(hdr set-cookie)
    case $sc in *"; Secure"*) echo "$RESP_STATUS Secure" ;; *) echo "$RESP_STATUS plain" ;; esac
}
is "$(proxied 127.0.0.1 x -H 'X-Forwarded-Proto: https')" "201 plain" "X-Forwarded-Proto from a peer not in trusted_proxies is ignored"
is "$(proxied 127.0.0.1 x -H 'Forwarded: for=192.0.2.1;proto=https')" "201 plain" "so is its Forwarded"
is "$(proxied 127.0.0.2 x -H 'X-Forwarded-Proto: https')" "201 Secure" "a trusted proxy's X-Forwarded-Proto: https gives Secure"
is "$(proxied 127.0.0.2 x -H 'Forwarded: for=192.0.2.1;proto=https')" "201 Secure" "so does its Forwarded: proto=https"
is "$(proxied 127.0.0.2 x)" "201 plain" "a trusted proxy that says nothing: plain HTTP"
is "$(proxied 127.0.0.2 x -H 'X-Forwarded-Proto: http')" "201 plain" "a trusted proxy that says http: no Secure"
is "$(proxied 127.0.0.2 x -H 'Forwarded: proto=http' -H 'X-Forwarded-Proto: https')" "201 plain" \
    "Forwarded's proto wins over X-Forwarded-Proto"
proxied 127.0.0.2 x -H 'X-Forwarded-Proto: https' -c "$T/pjar" >/dev/null
PCSRF=$(jqr .csrf_token)
http DELETE "$A/sessions/current" --interface 127.0.0.2 -b "$T/pjar" -H 'X-Forwarded-Proto: https' -H "X-CSRF-Token: $PCSRF"
is "$RESP_STATUS" 204 "sign-out through the proxy"
like "$(hdr set-cookie)" '^portico_session=; .*Max-Age=0.*; Secure' "clears the cookie with Secure too"

alive_after "sessions"
done_testing
