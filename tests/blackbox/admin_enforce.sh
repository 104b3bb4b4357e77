#!/usr/bin/env bash
# Admin API writes take effect on the gateway without a reload: a key and a subscription
# made through the admin API are enforced on a route with `auth: key`, a pending
# subscription is refused until approved, and a revoked key is refused: each from the
# first call after the admin API answered.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port); AP=$(free_port)
upstream_start echo "$U1" || { not_ok "upstream starts"; done_testing; exit 1; }
admin_start "services:
  - name: echo
    targets: [\"http://127.0.0.1:$U1\"]
routes:
  - name: echo
    match: { path_prefix: \"/echo/\" }
    service: echo
    auth: key" || { not_ok "portico with the admin API and a keyed route starts"; done_testing; exit 1; }

api POST /teams '{"name":"shop"}' >/dev/null
api POST /services "{\"name\":\"echo\",\"team\":\"shop\",\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:$U1\"],\"approval\":\"manual\"}"
is "$RESP_STATUS" 201 "the route's service is created in the store"
api POST /consumers '{"name":"web","team":"shop"}' >/dev/null
api POST /consumers/web/keys '{"label":"ci"}'
KEY=$(jqr .key) KID=$(jqr .id)
api POST /subscriptions '{"consumer":"web","service":"echo"}'
SUB=$(jqr .id)
is "$(jqr .state)" pending "the subscription is pending"

gw() { http GET "http://127.0.0.1:$PP/echo/x" -H "Authorization: Bearer $KEY"; }
gw_is() { gw; [ "$RESP_STATUS" = "$1" ]; }
check "a pending subscription is refused with 403" wait_for 5 gw_is 403
like "$RESP_BODY" "pending" "naming the pending approval"
# The admin thread recompiles the snapshot before it answers, so the very next call sees
# the change (the gateway's own fallback check runs only once a second).
api POST "/subscriptions/$SUB/approve"
gw
is "$RESP_STATUS" 200 "the first call after the approval passes"
api DELETE "/consumers/web/keys/$KID"
gw
is "$RESP_STATUS" 401 "the first call after the revocation is refused with 401"
like "$RESP_BODY" "revoked" "saying it was revoked"
alive_after "admin changes enforced on the gateway"
done_testing
