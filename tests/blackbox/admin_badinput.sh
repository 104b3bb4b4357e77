#!/usr/bin/env bash
# Bad input on the admin API: every refusal is a 4xx in {"error":{"code","message","field"}},
# never a 500, and the server keeps serving. Oversized bodies, invalid JSON, invalid UTF-8,
# deep nesting, non-object bodies, unknown fields, missing references, SQL injection
# strings (refused by the name rule, or stored literally), bad headers and methods.
. "$(dirname "$0")/lib.sh"

admin_start || { not_ok "portico with the admin API starts"; done_testing; exit 1; }

# error_is STATUS CODE FIELD NAME: the last answer's status, error code and field.
error_is() {
    is "$RESP_STATUS/$(jqr .error.code)/$(jqr '.error.field // ""')" "$1/$2/$3" "$4"
    [ -n "$(jqr .error.message)" ] || not_ok "$4: has a message" "body: $RESP_BODY"
}

api POST /teams '{"name":"acme"}' >/dev/null

head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' 'a' >"$T/big"
api POST /teams "" "$ADMIN_TOKEN" -H 'Content-Type: application/json' --data-binary @"$T/big"
error_is 413 body_too_large "" "a body over 1 MiB: 413"
api POST /teams '{"name":'
error_is 400 invalid_json "" "truncated JSON: 400"
api POST /teams '["acme"]'
error_is 400 invalid_json "" "a JSON array instead of an object: 400"
api POST /teams '{"name":"a","name":"b"}'
error_is 400 invalid_json "" "duplicate members: 400"
api POST /teams ""
is "$RESP_STATUS" 400 "an empty body: 400"
printf '{"name":"bad\xff\xfename"}' >"$T/utf8"
api POST /teams "" "$ADMIN_TOKEN" -H 'Content-Type: application/json' --data-binary @"$T/utf8"
error_is 400 invalid_json "" "invalid UTF-8: 400"
api POST /teams '{"name":"nul\u0000byte"}'
is "$RESP_STATUS" 400 "a NUL character: 400"
deep=$(printf '{"a":%.0s' $(seq 1 200))1$(printf '}%.0s' $(seq 1 200))
api POST /teams "$deep"
error_is 400 invalid_json "" "200 levels of nesting: 400"
deep=$(printf '[%.0s' $(seq 1 100000))
api POST /teams "$deep"
error_is 400 invalid_json "" "100000 open brackets: 400"
api POST /teams '{"name":"x","colour":"red"}'
error_is 400 unknown_field colour "an unknown field: 400 naming it"
api PATCH /teams/acme '{"id":7}'
error_is 400 unknown_field id "a managed field in PATCH: 400 naming it"
api PATCH /teams/acme '{}'
is "$RESP_STATUS" 400 "PATCH with nothing to change: 400"

# ---- references
api POST /services '{"name":"s1","team":"nosuch","kind":"rest","targets":["http://127.0.0.1:9"]}'
error_is 422 missing_reference team "a service of a missing team: 422 naming team"
api POST /services '{"name":"s1","team":999,"kind":"rest","targets":["http://127.0.0.1:9"]}'
error_is 422 missing_reference team "a missing team id: 422"
api POST /services '{"name":"s1","team":"acme","kind":"rest"}'
error_is 400 missing_field targets "a REST service without targets: 400 naming targets"
api POST /services '{"name":"s1","team":"acme","kind":"rest","targets":["x"],"models":["m"]}'
error_is 400 invalid_value models "a REST service with models: 400 naming models"
api POST /services '{"name":"s1","team":"acme","kind":"soap","targets":["x"]}'
error_is 400 invalid_value kind "an unknown kind: 400 naming kind"
api POST /services '{"name":"s1","team":"acme","kind":"rest","targets":["http://127.0.0.1:9"],"approval":"maybe"}'
error_is 400 invalid_value approval "an unknown approval: 400 naming approval"
api POST /services '{"name":"s1","team":"acme","kind":"rest","targets":[]}'
error_is 400 missing_field targets "a REST service with no targets: 400 naming targets"
api POST /services '{"name":"s1","team":"acme","kind":"rest","targets":[""]}'
error_is 400 invalid_value targets "an empty target: 400 naming targets"
api POST /services '{"name":"s1","team":"acme","kind":"rest","targets":["http://127.0.0.1:9"]}' >/dev/null
api PATCH /services/s1 '{"models":["m"]}'
error_is 400 invalid_value models "PATCH: models on a REST service: 400 naming models"
api PATCH /services/s1 '{"targets":[]}'
error_is 400 missing_field targets "PATCH: emptying a REST service's targets: 400 naming targets"
api PATCH /services/s1 '{"kind":"ai"}'
error_is 400 unknown_field kind "PATCH: a service's kind cannot change"
api GET /services/s1
is "$(jqr '.targets | length')/$(jqr .models)" "1/null" "the refused PATCHes changed nothing"
api POST /consumers '{"name":"c1","team":"acme"}' >/dev/null
api POST /subscriptions '{"consumer":"c1","service":"nosuch"}'
error_is 422 missing_reference service "a subscription to a missing service: 422 naming service"
api POST /subscriptions '{"consumer":"nosuch","service":"nosuch"}'
error_is 422 missing_reference consumer "a subscription of a missing consumer: 422 naming consumer"
api GET /services/nosuch
error_is 404 not_found "" "a missing service in the path: 404"
api POST /services/nosuch/apis '{"name":"a","path_prefix":"/"}'
error_is 404 not_found "" "an API under a missing service: 404"
api POST /teams '{"name":"acme"}'
error_is 409 conflict name "a duplicate name: 409 naming name"

# ---- SQL injection strings: refused by the name rule, stored literally elsewhere
api POST /teams "{\"name\":\"x'; DROP TABLE teams;--\"}"
error_is 400 invalid_value name "an injection string as a name: 400 naming name"
inj="Robert'); DROP TABLE keys;-- \" OR 1=1 --"
api POST /consumers/c1/keys "$(jq -cn --arg l "$inj" '{label:$l}')"
is "$RESP_STATUS" 201 "an injection string as a key label is accepted"
KID=$(jqr .id)
api GET "/consumers/c1/keys/$KID"
is "$(jqr .label)" "$inj" "and stored literally"
api GET /teams/acme
is "$RESP_STATUS" 200 "the tables are intact"
api GET "/teams/1%20OR%201=1"
is "$RESP_STATUS" 404 "an injection string in the path: 404"
api GET "/audit?cursor=1'%20OR%20'1'='1"
is "$RESP_STATUS/$(jqr .error.field)" "400/cursor" "an injection string as a cursor: 400 naming cursor"

# ---- headers, methods, paths
api PATCH /teams/acme '{"name":"acme2"}' "$ADMIN_TOKEN" -H 'If-Match: banana'
error_is 400 invalid_header If-Match "a malformed If-Match: 400"
api PUT /teams/acme '{"name":"acme2"}'
error_is 405 method_not_allowed "" "PUT: 405"
api GET /widgets
error_is 404 not_found "" "an unknown resource: 404"
api GET /teams/acme/extra
is "$RESP_STATUS" 404 "an unknown sub-path: 404"
http GET "http://127.0.0.1:$AP/other"
is "$RESP_STATUS" 404 "outside /admin/v1/: 404"
api GET "/teams?limit=abc"
error_is 400 invalid_value limit "limit=abc: 400 naming limit"
api POST /users '{"name":"u1","password":"correct horse battery","team":"acme","role":"emperor"}'
error_is 400 invalid_value role "an unknown role: 400 naming role"
api POST /users '{"name":"u1","team":"acme","role":"developer"}'
error_is 400 missing_field password "a user without a password: 400 naming password"
alive_after "bad admin input"
done_testing
