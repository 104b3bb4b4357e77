#!/usr/bin/env bash
# Admin API writes take effect on the gateway without a reload: a key and a subscription
# made through the admin API are enforced on a route with `auth: key`, a pending
# subscription is refused until approved, and a revoked key is refused: each from the
# first call after the admin API answered. The file's service and route show in the admin
# API as read-only objects of the team "file"; only their approval setting may change.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port); AP=$(free_port)
upstream_start echo "$U1" || { not_ok "upstream starts"; done_testing; exit 1; }
# the file: the service echo and one keyed route to it, named (and prefixed) $1
echo_conf() {
    printf 'services:\n  - name: echo\n    targets: ["http://127.0.0.1:%s"]\n' "$U1"
    printf 'routes:\n  - name: %s\n    match: { path_prefix: "/%s/" }\n    service: echo\n    auth: key\n' "$1" "$1"
}
admin_start "$(echo_conf echo)" || { not_ok "portico with the admin API and a keyed route starts"; done_testing; exit 1; }

api POST /teams '{"name":"shop"}' >/dev/null
api GET /services/echo
is "$RESP_STATUS/$(jqr .origin)/$(jqr .read_only)" "200/file/true" "the file's service shows, read-only"
is "$(jqr '.targets[0]')" "http://127.0.0.1:$U1" "with the file's targets"
SVC_TEAM=$(jqr .team_id)
api GET "/teams/$SVC_TEAM"
is "$(jqr .name)" file "owned by the team file"
api GET /services/echo/apis/echo
is "$RESP_STATUS/$(jqr .origin)/$(jqr .auth)/$(jqr .path_prefix)" "200/file/key//echo/" "the file's route shows as its API"
api PATCH /services/echo '{"targets":["http://127.0.0.1:1"]}'
is "$RESP_STATUS/$(jqr .error.code)" "409/read_only" "its targets cannot be changed here"
like "$(jqr .error.message)" "configuration file" "saying where to change them"
api DELETE /services/echo
is "$RESP_STATUS/$(jqr .error.code)" "409/read_only" "nor can it be deleted"
api DELETE /services/echo/apis/echo
is "$RESP_STATUS/$(jqr .error.code)" "409/read_only" "nor its API"
api POST /services/echo/apis '{"name":"more","path_prefix":"/more/"}'
is "$RESP_STATUS/$(jqr .error.code)" "409/read_only" "nor may APIs be added to it"
api PATCH /services/echo '{"approval":"manual"}'
is "$RESP_STATUS/$(jqr .approval)" "200/manual" "its approval setting may be changed"
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
# the change (the gateway's own fallback check runs only every store.version_check, 2 s by default).
api POST "/subscriptions/$SUB/approve"
gw
is "$RESP_STATUS" 200 "the first call after the approval passes"
api DELETE "/consumers/web/keys/$KID"
gw
is "$RESP_STATUS" 401 "the first call after the revocation is refused with 401"
like "$RESP_BODY" "revoked" "saying it was revoked"
alive_after "admin changes enforced on the gateway"

# a reload mirrors the file again: the route renamed, the old API gone, the service kept
# with its subscriptions
admin_config "$(echo_conf echo2)" >"$T/admin.yaml"
kill -HUP "$PORTICO_PID"
wait_log "configuration reloaded" "$T/portico.err" || not_ok "the reload is logged"
api GET /services/echo/apis/echo2
is "$RESP_STATUS/$(jqr .path_prefix)" "200//echo2/" "the renamed route shows as an API"
api GET /services/echo/apis/echo
is "$RESP_STATUS" 404 "the old one is gone"
api GET /services/echo
is "$(jqr .approval)" manual "the service kept the approval set here"
api GET "/audit?limit=1000"
N1=$(jqr '[.items[] | select(.actor == "file")] | length')
kill -HUP "$PORTICO_PID"
wait_log_count "configuration reloaded" "$T/portico.err" 2 || not_ok "the second reload is logged"
api GET "/audit?limit=1000"
is "$(jqr '[.items[] | select(.actor == "file")] | length')" "$N1" "a reload of the same file writes nothing"
done_testing
