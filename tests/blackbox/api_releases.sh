#!/usr/bin/env bash
# Releases: a service published as a numbered, immutable release is served as that release
# says while its rows are edited as a draft; the next publish moves traffic and records the
# diff; a rollback is a new release with an old one's content; a team whose publish_approval
# is team_admin turns a developer's publish into a request a team admin refuses (with a
# reason) or approves; two APIs on one path prefix are told apart by a request header; a
# deprecation and a retirement take effect through a release; releases survive a restart;
# bad input is refused with the field named. Which upstream answered proves what is served.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port); U2=$(free_port); AP=$(free_port)
upstream_start one "$U1" || { not_ok "upstream one starts"; done_testing; exit 1; }
upstream_start two "$U2" || { not_ok "upstream two starts"; done_testing; exit 1; }

FILE_LINES="services:
  - name: filed
    targets: [\"http://127.0.0.1:$U1\"]
routes:
  - name: filed
    match: { path_prefix: \"/filed/\" }
    service: filed"
admin_start "$FILE_LINES" || { not_ok "portico with the admin API starts"; done_testing; exit 1; }

# served PATH [curl args]: "<status> <upstream name> <path the upstream saw>"
served() { get "$@"; echo "$RESP_STATUS $(jqr .name) $(jqr .path)"; }
token_of() {
    http POST "http://127.0.0.1:$AP/admin/v1/tokens" -H 'Content-Type: application/json' \
        --data-binary "{\"user\":\"$1\",\"password\":\"correct horse battery\"}"
    jqr .token
}

api POST /teams '{"name":"shop"}' >/dev/null
api POST /services "{\"name\":\"billing\",\"team\":\"shop\",\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:$U1\"]}"
is "$RESP_STATUS" 201 "a stored service"
SID=$(jqr .id)
api POST /services/billing/apis '{"name":"v1","path_prefix":"/billing/","auth":"none"}'
is "$RESP_STATUS" 201 "with an API"

# ---------------------------------------------------------------------------- never released
is "$(served /billing/a)" "200 one /billing/a" "a service never released is served from its rows, as before"
api GET /services/billing/releases
is "$RESP_STATUS $(jqr '.items | length')" "200 0" "no release yet"
api GET /services/billing/draft
is "$RESP_STATUS $(jqr .current_release) $(jqr .changed) $(jqr '.diff.added | join(",")')" "200 null true v1" \
    "the draft of a service without a release: everything is new"

# ---------------------------------------------------------------------------- release 1
api POST /services/billing/releases '{"note":"first cut"}'
is "$RESP_STATUS $(jqr .number) $(jqr .note) $(jqr .created_by)" "201 1 first cut admin" "publish: release 1"
is "$(jqr .diff.summary)" "first release, with 1 API" "its diff says it is the first"
is "$(jqr '.snapshot.apis[0].name') $(jqr '.snapshot.service.targets[0]')" "v1 http://127.0.0.1:$U1" \
    "its snapshot holds the service and its APIs"
is "$(jqr '[.snapshot | .. | objects | select(has("id") or has("version") or has("created_at"))] | length')" 0 \
    "no ids, times or versions in the snapshot"
is "$(served /billing/a)" "200 one /billing/a" "release 1 is served"

# ---------------------------------------------------------------------------- the draft
api PATCH /services/billing "{\"targets\":[\"http://127.0.0.1:$U2\"]}"
is "$RESP_STATUS" 200 "edit the service after its release"
api POST /services/billing/apis '{"name":"v2","path_prefix":"/billing/","auth":"none","rewrite":"/v2/","match_headers":{"X-API-Version":"2"}}'
is "$RESP_STATUS $(jqr '.match_headers["X-API-Version"]')" "201 2" "add a second version told apart by a header"
before2=$(up_count "$U2")
is "$(served /billing/b)" "200 one /billing/b" "the draft does not move traffic: still release 1's upstream"
is "$(served /billing/b -H 'X-API-Version: 2')" "200 one /billing/b" "nor serve the draft's new API"
is "$(up_count "$U2")" "$before2" "the draft's upstream got nothing"
api GET /services/billing/draft
is "$(jqr .current_release) $(jqr .changed) $(jqr '.diff.service[0].field') $(jqr '.diff.added | join(",")')" \
    "1 true targets v2" "the draft shows its diff against release 1"
is "$(jqr '.diff.service[0].from[0]') -> $(jqr '.diff.service[0].to[0]')" \
    "http://127.0.0.1:$U1 -> http://127.0.0.1:$U2" "with the values before and after"

# ---------------------------------------------------------------------------- release 2
api POST /services/billing/releases
is "$RESP_STATUS $(jqr .number)" "201 2" "publish without a note: release 2"
is "$(jqr '.diff.added | join(",")') $(jqr '.diff.service | map(.field) | join(",")') $(jqr '.diff.removed | length')" \
    "v2 targets 0" "release 2's diff: v2 added, targets changed, nothing removed"
is "$(jqr .diff.summary)" "service targets changed; API v2 added" "and a summary for people"
is "$(served /billing/c)" "200 two /billing/c" "traffic follows release 2"

# ---------------------------------------------------------------------------- header versions
is "$(served /billing/c -H 'X-API-Version: 2')" "200 two /v2/c" "X-API-Version: 2 selects the v2 API"
is "$(served /billing/c -H 'X-API-Version: 3')" "200 two /billing/c" "another value stays on v1"
is "$(served /billing/c)" "200 two /billing/c" "no header: v1"
api PATCH /services/billing/apis/v2 '{"match_headers":{"X@Bad":"2"}}'
is "$RESP_STATUS $(jqr .error.field)" "400 match_headers.X@Bad" "a header name that is no token is refused, naming it"
api PATCH /services/billing/apis/v2 '{"match_headers":"2"}'
is "$RESP_STATUS $(jqr .error.field)" "400 match_headers" "match_headers must be a mapping"

api GET /services/billing/releases
is "$(jqr '[.items[].number] | join(",")') $(jqr '.items[0] | has("snapshot")') $(jqr '.items[0].diff.summary')" \
    "2,1 false service targets changed; API v2 added" "the list: newest first, diffs without snapshots"
api GET /services/billing/releases/1
is "$RESP_STATUS $(jqr .number) $(jqr '.snapshot.service.targets[0]')" "200 1 http://127.0.0.1:$U1" \
    "one release with its snapshot"
R1=$(jqr -c .snapshot)
api GET "/services/$SID/releases/2"
is "$RESP_STATUS $(jqr .number)" "200 2" "a service by id works as well"

# ---------------------------------------------------------------------------- rollback
api POST /services/billing/rollback '{"release":1}'
is "$RESP_STATUS $(jqr .number) $(jqr .rollback_of) $(jqr .note)" "201 3 1 rollback to release 1" \
    "rollback to 1 makes release 3"
api GET /services/billing/releases/3
is "$(jqr -c .snapshot)" "$R1" "release 3 holds release 1's content"
is "$(jqr '.diff.removed | join(",")') $(jqr '.diff.service[0].field')" "v2 targets" "its diff against release 2"
is "$(served /billing/d)" "200 one /billing/d" "traffic follows the rollback"
is "$(served /billing/d -H 'X-API-Version: 2')" "200 one /billing/d" "the v2 API is gone with it"
api GET /services/billing/releases
is "$(jqr '[.items[].number] | join(",")')" "3,2,1" "history is kept: 1 and 2 are still there"
api POST /services/billing/rollback '{"release":3}'
is "$RESP_STATUS $(jqr .error.code) $(jqr .error.field)" "409 current_release release" "rollback to the current release: 409"
api POST /services/billing/rollback '{"release":99}'
is "$RESP_STATUS $(jqr .error.field)" "404 release" "rollback to a release that does not exist: 404"
like "$(jqr .error.message)" "has no release 99" "saying which"
api POST /services/billing/rollback '{}'
is "$RESP_STATUS $(jqr .error.code) $(jqr .error.field)" "400 missing_field release" "rollback without a release: 400"
api POST /services/billing/rollback '{"release":"2"}'
is "$RESP_STATUS $(jqr .error.field)" "400 release" "a release that is not a number: 400"
api POST /services/billing/rollback '{"release":2,"force":true}'
is "$RESP_STATUS $(jqr .error.code) $(jqr .error.field)" "400 unknown_field force" "an unknown field: 400 naming it"

# ---------------------------------------------------------------------------- bad inputs
api POST /services/billing/releases '{"note":5}'
is "$RESP_STATUS $(jqr .error.field)" "400 note" "a note that is not a string: 400"
api POST /services/billing/releases '{"notes":"x"}'
is "$RESP_STATUS $(jqr .error.field)" "400 notes" "an unknown member: 400 naming it"
api POST /services/billing/releases "{\"note\":\"$(head -c 1100 /dev/zero | tr '\0' x)\"}"
is "$RESP_STATUS $(jqr .error.field)" "400 note" "a note over 1024 bytes: 400"
api POST /services/billing/releases 'not json'
is "$RESP_STATUS $(jqr .error.code)" "400 invalid_json" "a body that is not JSON: 400"
for n in 0 abc 99; do
    api GET "/services/billing/releases/$n"
    is "$RESP_STATUS" 404 "GET release '$n': 404"
done
api DELETE /services/billing/releases/1
is "$RESP_STATUS" 405 "a release cannot be deleted"
api PATCH /services/billing/releases/1 '{"note":"rewritten"}'
is "$RESP_STATUS" 405 "nor changed"
api POST /services/filed/releases
is "$RESP_STATUS $(jqr .error.code)" "409 read_only" "the file's services have no releases"
api GET /services/billing/release-requests/999
is "$RESP_STATUS" 404 "an unknown release request: 404"
api PATCH /services/billing "{\"targets\":[\"http://127.0.0.1:$U1\"]}" >/dev/null
api DELETE /services/billing/apis/v2 >/dev/null
api POST /services/billing/releases
is "$RESP_STATUS $(jqr .error.code)" "409 no_changes" "publishing a draft equal to the current release: 409"
like "$(jqr .error.message)" "equals release 3" "naming the release"

# ---------------------------------------------------------------------------- approval
api PATCH /teams/shop '{"publish_approval":"sometimes"}'
is "$RESP_STATUS $(jqr .error.field)" "400 publish_approval" "an unknown publish_approval: 400"
api PATCH /teams/shop '{"publish_approval":"team_admin"}'
is "$RESP_STATUS $(jqr .publish_approval)" "200 team_admin" "the team now needs a team admin to publish"
for u in dev:developer lead:team_admin buyer:consumer; do
    api POST /users "{\"name\":\"${u%%:*}\",\"password\":\"correct horse battery\",\"team\":\"shop\",\"role\":\"${u#*:}\"}" >/dev/null
done
DEV=$(token_of dev); LEAD=$(token_of lead); BUYER=$(token_of buyer)
like "$DEV $LEAD $BUYER" '^pt_.* pt_.* pt_' "three users of the team log in"

api PATCH /services/billing "{\"targets\":[\"http://127.0.0.1:$U2\"]}" "$DEV"
is "$RESP_STATUS" 200 "a developer edits the draft"
api POST /services/billing/releases '{"note":"move to two"}' "$DEV"
is "$RESP_STATUS $(jqr .state) $(jqr .requested_by) $(jqr '.diff.service[0].field')" "202 pending dev targets" \
    "the developer's publish becomes a pending request, with its diff"
REQ=$(jqr .id)
is "$(served /billing/e)" "200 one /billing/e" "a pending request moves no traffic"
api POST /services/billing/releases '' "$DEV"
is "$RESP_STATUS $(jqr .error.code)" "409 pending_request" "one request waits at a time"
api POST "/services/billing/release-requests/$REQ/approve" '' "$DEV"
is "$RESP_STATUS" 403 "a developer may not approve"
like "$(jqr .error.message)" "team admin of team 'shop'" "the refusal says who may"
api POST /services/billing/releases '' "$BUYER"
is "$RESP_STATUS" 403 "a consumer may not publish"
like "$(jqr .error.message)" "developer or team admin of team 'shop'" "saying who may"
api POST /services/billing/rollback '{"release":2}' "$DEV"
is "$RESP_STATUS" 403 "a developer may not roll back while approval is required"
like "$(jqr .error.message)" "needs a team admin" "saying why"
api POST "/services/billing/release-requests/$REQ/refuse" '' "$LEAD"
is "$RESP_STATUS $(jqr .error.field)" "400 reason" "refusing needs a reason"
api POST "/services/billing/release-requests/$REQ/refuse" '{"reason":"two is not ready"}' "$LEAD"
is "$RESP_STATUS $(jqr .state) $(jqr .reason) $(jqr .decided_by)" "200 refused two is not ready lead" \
    "the team admin refuses with a reason"
api GET "/services/billing/release-requests/$REQ" "" "$DEV"
is "$(jqr .state) $(jqr .reason)" "refused two is not ready" "the requester sees the state and the reason"
api POST "/services/billing/release-requests/$REQ/approve" '' "$LEAD"
is "$RESP_STATUS $(jqr .error.code)" "409 invalid_state" "a refused request cannot be approved"
is "$(served /billing/e)" "200 one /billing/e" "a refused request moves no traffic"

api POST /services/billing/releases '{"note":"two is ready now"}' "$DEV"
is "$RESP_STATUS $(jqr .state)" "202 pending" "the developer applies again"
REQ2=$(jqr .id)
api POST "/services/billing/release-requests/$REQ2/approve" '' "$LEAD"
is "$RESP_STATUS $(jqr .number) $(jqr .request_id) $(jqr .note)" "201 4 $REQ2 two is ready now" \
    "the team admin approves: release 4 is published"
is "$(served /billing/e)" "200 two /billing/e" "traffic follows the approved release"
api GET "/services/billing/release-requests/$REQ2" "" "$DEV"
is "$(jqr .state) $(jqr .release_number) $(jqr .decided_by)" "approved 4 lead" "the requester sees it approved as release 4"
api GET /services/billing/release-requests "" "$DEV"
is "$(jqr '[.items[].state] | join(",")')" "approved,refused" "the team lists its requests, newest first"
api POST /services/billing/rollback '{"release":3}' "$LEAD"
is "$RESP_STATUS $(jqr .number)" "201 5" "a team admin rolls back without a request"
is "$(served /billing/e)" "200 one /billing/e" "and traffic follows"
api POST /services/billing/rollback '{"release":4}'
is "$RESP_STATUS $(jqr .number)" "201 6" "an admin always publishes"
is "$(served /billing/e)" "200 two /billing/e" "traffic follows"

api POST /teams '{"name":"other"}' >/dev/null
api POST /users '{"name":"stranger","password":"correct horse battery","team":"other","role":"team_admin"}' >/dev/null
api GET /services/billing/releases "" "$(token_of stranger)"
is "$RESP_STATUS" 404 "another team's releases are not there"

# ---------------------------------------------------------------------------- life cycle
api PATCH /services/billing/apis/v1 '{"lifecycle":{"state":"deprecated","deprecated_at":"2026-11-01T00:00:00Z","successor":"/billing2/"}}' "$LEAD"
is "$RESP_STATUS" 200 "deprecate v1 in the draft"
get /billing/f
has_hdr deprecation && not_ok "no Deprecation before the release" || ok "no Deprecation before the release"
api POST /services/billing/releases '{"note":"deprecate v1"}' "$LEAD"
is "$RESP_STATUS $(jqr '.diff.changed[0].api') $(jqr '.diff.changed[0].fields[0].field')" "201 v1 lifecycle" \
    "the release's diff names the changed API and field"
get /billing/f
is "$RESP_STATUS $(hdr deprecation)" "200 @1793491200" "after the release: Deprecation"
api PATCH /services/billing/apis/v1 '{"lifecycle":{"state":"retired","successor":"/billing2/"}}' "$LEAD"
get /billing/g
is "$RESP_STATUS" 200 "a retirement in the draft is not served yet"
api POST /services/billing/releases '{"note":"retire v1"}' "$LEAD"
is "$RESP_STATUS $(jqr .number)" "201 8" "publish the retirement"
get /billing/g
is "$RESP_STATUS $(jqr .error.code)" "410 api_retired" "after the release: 410"

# ---------------------------------------------------------------------------- audit, export
api GET '/audit?limit=1000'
is "$(jqr '[.items[] | select(.object_kind=="release" and .action=="create")] | length')" 8 "every release is audited"
is "$(jqr '[.items[] | select(.object_kind=="release_request" and .action=="update" and .actor=="lead")] | length')" 2 \
    "so is every decision, under the deciding user's name"
api GET /export
is "$RESP_STATUS $(grep -ciE 'release|snapshot' <<<"$RESP_BODY")" "200 0" "releases are not exported"

# ---------------------------------------------------------------------------- restart
api PATCH /services/billing/apis/v1 '{"lifecycle":null}'
is "$RESP_STATUS" 200 "a draft left unpublished before the restart"
portico_stop
admin_start "$FILE_LINES" || { not_ok "portico starts again on the same store"; done_testing; exit 1; }
api GET /services/billing/releases
is "$(jqr '.items[0].number') $(jqr '.items | length')" "8 8" "the releases survive a restart"
get /billing/h
is "$RESP_STATUS" 410 "the current release is served after the restart, not the draft"
api GET /services/billing/draft
is "$(jqr .current_release) $(jqr .changed) $(jqr '.diff.changed[0].fields[0].field')" "8 true lifecycle" \
    "the draft is still a draft"

# ---------------------------------------------------------------------------- policies
# The stored policies on a released service (or one of its routes) are part of its releases.
api POST /services "{\"name\":\"ledger\",\"team\":\"shop\",\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:$U1\"]}" >/dev/null
api POST /services/ledger/apis '{"name":"v1","path_prefix":"/ledger/","auth":"none"}' >/dev/null
api POST /services/ledger/releases '{"note":"no limits"}'
is "$RESP_STATUS $(jqr .number)" "201 1" "another service is released"
api POST /policies '{"name":"ledger-cap","team":"shop","applies_to":{"service":"ledger"},"rate":{"requests":1,"per":"1h"}}'
is "$RESP_STATUS" 201 "a policy on it is stored"
codes() { local out="" i; for i in 1 2 3; do get "/ledger/$i"; out="$out$RESP_STATUS "; done; echo "$out"; }
is "$(codes)" "200 200 200 " "a new policy on a released service is a draft: not enforced yet"
api GET /services/ledger/draft
is "$(jqr .changed) $(jqr '.diff.policies.added | join(",")')" "true ledger-cap" "the draft shows the policy added"
api POST /services/ledger/releases '{"note":"with a cap"}'
is "$RESP_STATUS $(jqr .number) $(jqr .diff.summary)" "201 2 policy ledger-cap added" "publishing it: release 2"
is "$(jqr '.snapshot.policies[0].spec.rate.requests')" 1 "its snapshot holds the policy"
is "$(codes)" "200 429 429 " "once published, the policy is enforced"
api PATCH /policies/ledger-cap '{"rate":{"requests":100,"per":"1h"}}'
is "$(codes)" "429 429 429 " "a change to it waits for the next release"
api POST /services/ledger/rollback '{"release":1}'
is "$RESP_STATUS $(jqr .number) $(jqr '.diff.policies.removed | join(",")')" "201 3 ledger-cap" \
    "a rollback to the release before it removes the policy"
is "$(codes)" "200 200 200 " "and traffic is no longer limited"
api POST /policies '{"name":"elsewhere","team":"shop","applies_to":{"service":"billing"},"concurrency":5}'
api GET /services/ledger/draft
is "$(jqr '.diff.policies.added | join(",")')" "ledger-cap" "a policy on another service is not part of this one"

alive_after "releases, approvals and rollbacks"
done_testing
