#!/usr/bin/env bash
# Policies through the admin API (/admin/v1/policies): written as the file writes them,
# checked by the same key tables (each bad one refused naming the field), enforced from the
# first call after the admin API answered, changed and deleted likewise, kept across a
# restart, audited; team admins set them on their own team's consumers and services only;
# a stored policy whose service is deleted is left out with a warning, not the whole store.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port); AP=$(free_port)
upstream_start echo "$U1" || { not_ok "upstream starts"; done_testing; exit 1; }
CONF="$(keyed_echo_lines)
policies:
  - name: file-cap
    applies_to: { route: echo }
    concurrency: 50"
admin_start "$CONF" || { not_ok "portico with the admin API starts"; done_testing; exit 1; }

api POST /teams '{"name":"shop"}' >/dev/null
api POST /teams '{"name":"other"}' >/dev/null
api POST /consumers '{"name":"web","team":"shop"}' >/dev/null
api POST /consumers '{"name":"rival","team":"other"}' >/dev/null
api POST /consumers/web/keys '{"label":"ci"}'
KEY=$(jqr .key)
api POST /subscriptions '{"consumer":"web","service":"echo"}'
is "$RESP_STATUS/$(jqr .state)" "201/active" "web subscribes to the file's service"

gw() { http GET "http://127.0.0.1:$PP/echo/x" -H "Authorization: Bearer $KEY"; }
gw
is "$RESP_STATUS" 200 "calls pass before any stored policy"

# ---- create, read back as written, enforced at once ----
api POST /policies '{"name":"web-rate","team":"shop","applies_to":{"consumer":"web"},"rate":{"requests":3,"per":"1m"}}'
is "$RESP_STATUS" 201 "an admin creates a rate policy for one consumer"
PID_=$(jqr .id)
is "$(jqr .applies_to.consumer)/$(jqr .rate.requests)/$(jqr .rate.per)/$(jqr 'has("spec")')" "web/3/1m/false" \
    "it reads back as the file writes it"
ETAG=$(hdr ETag)
codes=""
for i in 1 2 3 4; do gw; codes="$codes $RESP_STATUS"; done
is "$codes" " 200 200 200 429" "the first calls after the answer are limited: three pass, the fourth is refused"
like "$(hdr RateLimit-Policy)" '"web-rate";q=3;w=60' "the refusal names the stored policy in RateLimit-Policy"
like "$RESP_BODY" "web-rate" "and in its message"
api GET /policies
is "$(jqr '[.items[].name] | join(",")')" "web-rate" "the list shows the stored policy"
api GET /policies/web-rate
is "$RESP_STATUS/$(jqr .id)" "200/$PID_" "one policy by name"

# ---- change and delete take effect like any write ----
api PATCH /policies/web-rate '{"rate":{"requests":100,"per":"1m"}}' "$ADMIN_TOKEN" -H "If-Match: $ETAG"
is "$RESP_STATUS/$(jqr .rate.requests)/$(jqr .applies_to.consumer)" "200/100/web" \
    "a PATCH replaces the rate and keeps the rest"
gw
is "$RESP_STATUS" 200 "the next call passes under the raised limit"
like "$(hdr RateLimit-Policy)" '"web-rate";q=100' "and carries the new quota"
api PATCH /policies/web-rate '{"concurrency":5,"rate":null}'
is "$RESP_STATUS/$(jqr .concurrency)/$(jqr 'has("rate")')" "200/5/false" "a null member removes that limit"
gw
is "$RESP_STATUS" 200 "calls pass under the concurrency cap"
api DELETE /policies/web-rate
is "$RESP_STATUS" 204 "the policy is deleted"
api GET /policies/web-rate
is "$RESP_STATUS" 404 "and is gone"

# ---- bad policies, each refused naming the field, nothing written ----
refused() { # NAME BODY STATUS FIELD [MESSAGE_REGEX]
    api POST /policies "$2"
    is "$RESP_STATUS/$(jqr '.error.field // ""')" "$3/$4" "$1"
    [ -z "${5-}" ] || like "$(jqr .error.message)" "$5" "$1: the message says why"
}
refused "a bad unit" '{"name":"p1","team":"shop","applies_to":{"consumer":"web"},"rate":{"requests":3,"per":"1x"}}' \
    400 rate.per
refused "a number out of range" '{"name":"p2","team":"shop","applies_to":{"consumer":"web"},"concurrency":0}' \
    400 concurrency
refused "an unknown member" '{"name":"p3","team":"shop","rates":{"requests":1,"per":"1s"}}' 400 rates
refused "a policy that limits nothing" '{"name":"p4","team":"shop","applies_to":{"consumer":"web"}}' 400 "" \
    "limits nothing"
refused "two scopes at once" '{"name":"p5","applies_to":{"consumer":"web","team":"shop"},"concurrency":1}' \
    400 applies_to "name one of"
refused "an unknown service" '{"name":"p6","applies_to":{"service":"nope"},"concurrency":1}' 400 \
    applies_to.service "no service named"
refused "an unknown consumer" '{"name":"p7","applies_to":{"consumer":"nobody"},"concurrency":1}' 422 \
    applies_to.consumer
refused "the name of the file's policy" '{"name":"file-cap","applies_to":{"consumer":"web"},"concurrency":1}' \
    400 name "duplicate policy name"
refused "a bad name" '{"name":"no spaces","applies_to":{"consumer":"web"},"concurrency":1}' 400 name
api GET /policies
is "$(jqr '.items | length')" 0 "no refused policy was stored"

# ---- team admins: their own team's consumers and services ----
PW=correct-horse-battery
api POST /users "{\"name\":\"ta\",\"password\":\"$PW\",\"team\":\"shop\",\"role\":\"team_admin\"}" >/dev/null
api POST /users "{\"name\":\"dev\",\"password\":\"$PW\",\"team\":\"shop\",\"role\":\"developer\"}" >/dev/null
http POST "http://127.0.0.1:$AP/admin/v1/tokens" --data-binary "{\"user\":\"ta\",\"password\":\"$PW\"}"
TA=$(jqr .token)
http POST "http://127.0.0.1:$AP/admin/v1/tokens" --data-binary "{\"user\":\"dev\",\"password\":\"$PW\"}"
DEV=$(jqr .token)
api POST /policies '{"name":"ta-web","applies_to":{"consumer":"web"},"rate":{"requests":2,"per":"1m"}}' "$TA"
is "$RESP_STATUS" 201 "a team admin limits a consumer of their team"
api GET "/teams/$(jqr .team_id)" 
is "$(jqr .name)" shop "the policy belongs to their team"
api POST /policies '{"name":"ta-all","concurrency":10}' "$TA"
is "$RESP_STATUS/$(jqr .error.code)" "403/forbidden" "but not the whole gateway"
api POST /policies '{"name":"ta-rival","applies_to":{"consumer":"rival"},"concurrency":1}' "$TA"
is "$RESP_STATUS/$(jqr .error.field)" "422/applies_to.consumer" "nor another team's consumer"
api POST /policies '{"name":"ta-model","applies_to":{"model":"gpt"},"concurrency":1}' "$TA"
is "$RESP_STATUS" 403 "nor a model, which every team shares"
api POST /policies '{"name":"dev-web","applies_to":{"consumer":"web"},"concurrency":1}' "$DEV"
is "$RESP_STATUS" 403 "a developer may not write policies"
api GET /policies/ta-web '' "$DEV"
is "$RESP_STATUS" 200 "but reads their team's"
api POST /policies '{"name":"admin-rival","team":"other","applies_to":{"consumer":"rival"},"concurrency":3}'
api GET /policies '' "$TA"
is "$(jqr '[.items[].name] | join(",")')" "ta-web" "a team admin lists only their team's policies"
api GET /policies/admin-rival '' "$TA"
is "$RESP_STATUS" 404 "another team's policy is not found"
gw; gw; gw
is "$RESP_STATUS" 429 "the team admin's policy is enforced"

# ---- audited, kept across a restart ----
api GET "/audit?limit=100"
is "$(jqr '[.items[] | select(.object_kind == "policy" and .actor == "ta")] | length')" 1 \
    "the team admin's write is in the audit log under their name"
portico_stop
portico_start "$T/admin.yaml" || not_ok "portico starts again"
wait_for 10 admin_answers || not_ok "the admin API answers again"
codes=""
for i in 1 2 3; do gw; codes="$codes $RESP_STATUS"; done
is "$codes" " 200 200 429" "after a restart the stored policy holds (its rate window starts again)"
like "$(hdr RateLimit-Policy)" '"ta-web";q=2' "it is the same policy"

# ---- a policy whose service goes away is left out, the rest still served ----
api POST /services '{"name":"temp","team":"shop","kind":"rest","targets":["http://127.0.0.1:'"$U1"'"]}' >/dev/null
api POST /services/temp/apis '{"name":"t","path_prefix":"/temp/","auth":"none"}' >/dev/null
api POST /policies '{"name":"temp-cap","applies_to":{"service":"temp"},"rate":{"requests":1,"per":"1h"}}'
is "$RESP_STATUS" 201 "a policy on a stored service"
get /temp/a
get /temp/b
is "$RESP_STATUS" 429 "is enforced on it"
N=$(log_lines "$T/portico.err")
api DELETE /services/temp
is "$RESP_STATUS" 204 "the service is deleted"
check "the policy is left out with a warning naming it" wait_log "policy 'temp-cap' from the store is not enforced" \
    "$T/portico.err" "$N"
api POST /services '{"name":"temp2","team":"shop","kind":"rest","targets":["http://127.0.0.1:'"$U1"'"]}' >/dev/null
api POST /services/temp2/apis '{"name":"t","path_prefix":"/temp2/","auth":"none"}' >/dev/null
get /temp2/a
is "$RESP_STATUS" 200 "the store's other changes are still served"
gw
is "$RESP_STATUS" 429 "and its other policies still enforced"
alive_after "policies written through the admin API"
done_testing
