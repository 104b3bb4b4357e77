#!/usr/bin/env bash
# The declarative round trip: a state built through the admin API is exported as YAML,
# imported into an empty store (over HTTP into a fresh portico, and with the command line
# into a store only the file has been mirrored into),
# and exported again byte for byte; keys and passwords keep working in the copy although
# the export never holds them in clear; a second import changes nothing and writes no audit
# record; a dry run shows a change and writes nothing; bad documents are refused with the
# field named and leave the store as it was.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port); AP=$(free_port)
upstream_start echo "$U1" || { not_ok "upstream starts"; done_testing; exit 1; }
# The file declares a keyed service and route of its own (they are the file's, not exported)
# and the model an AI service of the store may offer; the store's services are served too.
CONF="services:
  - name: filed
    targets: [\"http://127.0.0.1:$U1\"]
routes:
  - name: filed
    match: { path_prefix: \"/filed/\" }
    service: filed
    auth: key
providers:
  - { name: p, type: openai, base_url: \"http://127.0.0.1:9/v1\", api_key: k }
models:
  - { name: small, targets: [{ provider: p, model: m }] }"
admin_start "$CONF" || { not_ok "portico with the admin API starts"; done_testing; exit 1; }

ADMIN_PW="the admin's long passphrase"
ALICE_PW="alice's long passphrase"
api PATCH /users/admin "{\"password\":\"$ADMIN_PW\"}" >/dev/null
api POST /teams '{"name":"payments"}' >/dev/null
api POST /teams '{"name":"web"}' >/dev/null
api POST /users "{\"name\":\"alice\",\"password\":\"$ALICE_PW\",\"team\":\"payments\",\"role\":\"team_admin\"}"
is "$RESP_STATUS" 201 "a team admin is created"
api POST /users "{\"name\":\"dev\",\"password\":\"dev's long passphrase\",\"team\":\"web\",\"role\":\"developer\"}" >/dev/null
api POST /services "{\"name\":\"ledger\",\"team\":\"payments\",\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:$U1\"],
  \"approval\":\"manual\",\"lb\":\"round_robin\",\"timeouts\":{\"connect\":\"2s\"}}"
is "$RESP_STATUS" 201 "a manual REST service is created"
api POST /services/ledger/apis '{"name":"v1","path_prefix":"/ledger/","methods":["GET","POST"],"auth":"key"}'
is "$RESP_STATUS" 201 "a keyed API is created"
api POST /services/ledger/apis '{"name":"admin","path_prefix":"/ledger/admin/","auth":"none","rewrite":"/","key_header":"x-key"}' >/dev/null
api POST /services '{"name":"billing","team":"web","kind":"rest","targets":["http://127.0.0.1:9"]}' >/dev/null
api POST /services '{"name":"llm","team":"web","kind":"ai","models":["small"],"approval":"manual"}'
is "$RESP_STATUS" 201 "an AI service is created"
api POST /consumers '{"name":"shop","team":"web"}' >/dev/null
api POST /consumers '{"name":"app2","team":"payments"}' >/dev/null
api POST /consumers/shop/keys '{"label":"ci \"main\" ü"}'
KEY1=$(jqr .key)
api POST /consumers/shop/keys '{"label":"old"}'
KEY2=$(jqr .key) K2ID=$(jqr .id)
api DELETE "/consumers/shop/keys/$K2ID" >/dev/null
api POST /consumers/app2/keys '{"label":"app","expires_at":4102444800,"allowed_models":["small"]}'
KEY3=$(jqr .key)
api POST /subscriptions '{"consumer":"shop","service":"ledger"}'
api POST "/subscriptions/$(jqr .id)/approve" >/dev/null
api POST /subscriptions '{"consumer":"shop","service":"billing"}'
api DELETE "/subscriptions/$(jqr .id)" >/dev/null
api POST /subscriptions '{"consumer":"app2","service":"ledger"}'
api POST "/subscriptions/$(jqr .id)/reject" '{"reason":"no contract"}' >/dev/null
api POST /subscriptions '{"consumer":"shop","service":"filed"}' >/dev/null
api POST /subscriptions '{"consumer":"app2","service":"llm"}' >/dev/null
is "$(jqr .state)" pending "the state holds subscriptions in four states"
# Policies name what they apply to: a consumer, a stored service, a stored route, a model.
api POST /policies '{"name":"shop-rate","team":"web","applies_to":{"consumer":"shop"},"rate":{"requests":1000,"per":"1m","burst":5}}'
is "$RESP_STATUS" 201 "a policy on a consumer is created"
api POST /policies '{"name":"ledger-budget","applies_to":{"service":"ledger"},"quota":{"requests_per_day":50000},"budget":{"usd_per_day":2.5,"soft_at":0.8}}'
is "$RESP_STATUS" 201 "a policy on a stored service is created"
api POST /policies '{"name":"v1-conc","applies_to":{"route":"ledger/v1"},"concurrency":20}'
is "$RESP_STATUS" 201 "a policy on a stored route is created"
api POST /policies '{"name":"small-tokens","applies_to":{"model":"small"},"tokens":{"per_minute":40000}}'
is "$RESP_STATUS" 201 "a policy on a model is created"

gw() { http GET "http://127.0.0.1:$PP/${2:-ledger}/x" -H "Authorization: Bearer $1"; }
gw "$KEY1"
is "$RESP_STATUS" 200 "the key passes on the keyed route of the first store"
like "$(hdr RateLimit-Policy)" '"shop-rate"' "under the consumer's policy"

# export_to FILE [TOKEN]: GET /export into FILE byte for byte; the status in RESP_STATUS.
export_to() {
    RESP_STATUS=$(curl -s -m 10 -o "$1" -D "$T/export.headers" -w '%{http_code}' \
        -H "Authorization: Bearer ${2:-$ADMIN_TOKEN}" "http://127.0.0.1:$AP/admin/v1/export")
}
# import_file FILE [QUERY [TOKEN]]: POST FILE to /import.
import_file() { api POST "/import${2:-}" "" "${3:-$ADMIN_TOKEN}" --data-binary "@$1"; }
audit_head() { api GET "/audit?limit=1"; jqr '.items[0].id'; }

export_to "$T/a.yaml"
is "$RESP_STATUS" 200 "an admin exports the state"
like "$(tr -d '\r' <"$T/export.headers" | grep -i '^content-type:')" "application/yaml" "as application/yaml"
check "the export names the objects" grep -q 'name: "ledger"' "$T/a.yaml"
check "keys are exported as their SHA-256" grep -q 'hash: "sha256:[0-9a-f]\{64\}"' "$T/a.yaml"
check "the file's service and route are not exported" bash -c "! grep -qE 'name: \"filed\"|path_prefix: \"/filed/\"' '$T/a.yaml'"
check "a subscription to the file's service is" grep -q 'service: "filed"' "$T/a.yaml"
check "passwords are exported as their Argon2id string" grep -q 'password_hash: "\$argon2id\$' "$T/a.yaml"
check "policies are exported with their team by name" grep -q 'team: "web"' <(sed -n '/^policies:/,$p' "$T/a.yaml")
check "and what they apply to by name" grep -q 'applies_to: {"route": "ledger/v1"}' "$T/a.yaml"
leak=
for s in "$KEY1" "$KEY2" "$KEY3" "$ADMIN_PW" "$ALICE_PW" "$ADMIN_TOKEN"; do grep -qF -- "$s" "$T/a.yaml" && leak="$leak ${s:0:6}"; done
is "$leak" "" "the export holds no key, password or token in clear"
(cd "$T" && "$PORTICO" export -c "$T/admin.yaml" >"$T/a-cli.yaml" 2>"$T/cli.err")
check "portico export on the running gateway's store gives the same bytes" cmp -s "$T/a.yaml" "$T/a-cli.yaml"

api POST /tokens "{\"user\":\"alice\",\"password\":\"$ALICE_PW\"}"
ALICE=$(jqr .token)
export_to "$T/denied.yaml" "$ALICE"
is "$RESP_STATUS" 403 "a team admin may not export"
import_file "$T/a.yaml" "" "$ALICE"
is "$RESP_STATUS" 403 "a team admin may not import"

# ---- a fresh portico with an empty store: import over HTTP
portico_stop
mv "$T/data" "$T/data-a"
admin_start "$CONF" || { not_ok "a second portico on an empty store starts"; done_testing; exit 1; }
gw "$KEY1" filed
is "$RESP_STATUS" 401 "the empty store does not know the key"
gw "$KEY1"
is "$RESP_STATUS" 404 "nor serves the store's API"
import_file "$T/a.yaml"
is "$RESP_STATUS" 200 "the export is imported into the empty store"
is "$(jqr '[.created, .updated, .unchanged, .dry_run] | @tsv')" "$(printf '23\t1\t1\tfalse')" \
    "every object is created (the first-start admin takes the exported password; the file's team was there)"
export_to "$T/b.yaml"
check "exporting the copy gives the same bytes" cmp -s "$T/a.yaml" "$T/b.yaml"
gw "$KEY1"
is "$RESP_STATUS" 200 "a key made in the first store passes in the second"
like "$(hdr RateLimit-Policy)" '"shop-rate";q=1000' "under the imported policy"
gw "$KEY2"
is "$RESP_STATUS" 401 "the revoked key stays revoked"
gw "$KEY3"
is "$RESP_STATUS" 403 "the rejected subscription stays rejected"
gw "$KEY1" filed
is "$RESP_STATUS" 200 "the subscription to the file's service is carried over"
api POST /tokens "{\"user\":\"admin\",\"password\":\"$ADMIN_PW\"}"
is "$RESP_STATUS" 201 "the admin logs in to the copy with the first store's password"

# ---- a second import changes nothing
AUDIT=$(audit_head)
import_file "$T/b.yaml" "?dry_run=true"
is "$(jqr '[.created, .updated, ([.diff[] | select(.action != "unchanged")] | length)] | @tsv')" "$(printf '0\t0\t0')" \
    "a dry run of the same document says every object is unchanged"
import_file "$T/b.yaml"
is "$(jqr '[.created, .updated, .unchanged] | @tsv')" "$(printf '0\t0\t25')" "importing it again changes nothing"
is "$(audit_head)" "$AUDIT" "and writes no audit record"

# ---- a dry run of a changed document
sed -e '/name: "ledger"/,/approval/s/approval: "manual"/approval: "auto"/' "$T/b.yaml" >"$T/changed.yaml"
import_file "$T/changed.yaml" "?dry_run=true"
is "$RESP_STATUS" 200 "a dry run of a changed document answers"
is "$(jqr '[.diff[] | select(.action == "update")] | map([.kind, .name, (.changes.approval | join(">"))] | join(" ")) | join(",")')" \
    "service ledger manual>auto" "it shows the one change with before and after"
is "$(jqr .dry_run)" true "and says it was a dry run"
export_to "$T/after-dry.yaml"
check "a dry run writes nothing" cmp -s "$T/a.yaml" "$T/after-dry.yaml"
is "$(audit_head)" "$AUDIT" "and no audit record"
sed -e 's/concurrency: 20/concurrency: 30/' -e '/name: "shop-rate"/,/rate:/s/"burst": 5/"burst": 6/' \
    "$T/b.yaml" >"$T/changed-policy.yaml"
import_file "$T/changed-policy.yaml" "?dry_run=true"
is "$(jqr '[.diff[] | select(.action == "update")] | map([.kind, .name, (.changes | to_entries | map(.key + " " + (.value | map(tojson) | join(">"))) | join(";"))] | join(" ")) | join(",")')" \
    'policy shop-rate rate {"requests":1000,"per":"1m","burst":5}>{"requests":1000,"per":"1m","burst":6},policy v1-conc concurrency 20>30' \
    "a dry run shows a policy's changed members with before and after"
export_to "$T/after-dry2.yaml"
check "and writes nothing" cmp -s "$T/a.yaml" "$T/after-dry2.yaml"
api POST /tokens "{\"user\":\"alice\",\"password\":\"$ALICE_PW\"}"
ALICE=$(jqr .token)
import_file "$T/changed.yaml" "" "$ALICE"
is "$RESP_STATUS" 403 "a team admin may not import into the copy either"

# ---- bad documents: refused with the field named, nothing written
AUDIT=$(audit_head) # the team admin's login above wrote one
bad() { # bad NAME STATUS FIELD FILE
    import_file "$4"
    is "$RESP_STATUS $(jqr .error.field)" "$2 $3" "$1: $2 naming $3"
}
printf 'portico_export: 1\nteams: [ {name: t\n' >"$T/bad1.yaml"
bad "invalid YAML" 400 null "$T/bad1.yaml"
printf 'portico_export: 1\nteams:\n  - name: t\n    colour: red\n' >"$T/bad2.yaml"
bad "an unknown field" 400 "teams[0].colour" "$T/bad2.yaml"
printf 'portico_export: 1\nteams:\n  - name: newteam\nservices:\n  - name: s2\n    team: payments\n    kind: rest\n    targets: ["http://a"]\n  - name: s3\n    team: payments\n    kind: rest\n    targets: ["http://a"]\n    approval: 5\n' >"$T/bad3.yaml"
bad "a wrong type after valid objects" 400 "services[1].approval" "$T/bad3.yaml"
printf 'portico_export: 1\nusers:\n  - name: dev\n    disabled: "yes"\n' >"$T/bad4.yaml"
bad "a string for a boolean" 400 "users[0].disabled" "$T/bad4.yaml"
printf 'portico_export: 1\nconsumers:\n  - name: c9\n    team: nowhere\n' >"$T/bad5.yaml"
bad "a reference to a missing team" 422 "consumers[0].team" "$T/bad5.yaml"
printf 'portico_export: 1\nconsumers:\n  - name: shop\n    team: web\n    keys:\n      - prefix: "%s"\n        hash: "sha256:%064d"\n' "${KEY1:0:12}" 7 >"$T/bad6.yaml"
bad "a key whose hash differs from the stored one" 409 "consumers[0].keys[0].hash" "$T/bad6.yaml"
printf 'portico_export: 1\nusers:\n  - name: eve\n    role: admin\n    password: "a clear password"\n' >"$T/bad7.yaml"
bad "a password in clear" 400 "users[0].password" "$T/bad7.yaml"
printf 'portico_export: 1\npolicies:\n  - name: p9\n    applies_to: {consumer: nobody}\n    concurrency: 2\n' >"$T/bad9.yaml"
bad "a policy on a missing consumer" 422 "policies[0].applies_to.consumer" "$T/bad9.yaml"
printf 'portico_export: 1\npolicies:\n  - name: p10\n    rate: {requests: 5, per: 7 fortnights}\n' >"$T/bad10.yaml"
bad "a policy with a bad rate" 400 "policies[0].rate.per" "$T/bad10.yaml"
printf 'portico_export: 1\npolicies:\n  - name: p11\n    team: nowhere\n    concurrency: 2\n' >"$T/bad11.yaml"
bad "a policy of a missing team" 422 "policies[0].team" "$T/bad11.yaml"
printf 'portico_export: 2\n' >"$T/bad8.yaml"
bad "another format version" 400 "portico_export" "$T/bad8.yaml"
{ printf 'portico_export: 1\nteams:\n  - name: deep\n    x: '; for _ in $(seq 40); do printf '['; done; for _ in $(seq 40); do printf ']'; done; echo; } >"$T/deep.yaml"
bad "YAML nested 40 deep" 400 null "$T/deep.yaml"
{ printf '{"portico_export":1,"teams":[{"name":"deep","x":'; for _ in $(seq 40); do printf '['; done; for _ in $(seq 40); do printf ']'; done; printf '}]}'; } >"$T/deep.json"
bad "JSON nested 40 deep" 400 null "$T/deep.json"
head -c $((1024 * 1024 + 10)) /dev/zero | tr '\0' '#' >"$T/big.yaml"
import_file "$T/big.yaml"
is "$RESP_STATUS" 413 "a document over 1 MiB is refused with 413"
export_to "$T/after-bad.yaml"
check "no refused document changed the store" cmp -s "$T/a.yaml" "$T/after-bad.yaml"
is "$(audit_head)" "$AUDIT" "nor wrote an audit record"
printf '{"portico_export":1,"teams":[{"name":"from-json"}]}' >"$T/ok.json"
import_file "$T/ok.json"
is "$RESP_STATUS $(jqr .created)" "200 1" "the same document as JSON is imported too"

"$PORTICO" import --data-dir "$T/data-c" >/dev/null 2>"$T/usage.err"
is "$?" 64 "portico import without a FILE is a usage error"
"$PORTICO" export --data-dir "$T/data-c" -c "$T/admin.yaml" >/dev/null 2>>"$T/usage.err"
is "$?" 64 "-c and --data-dir together are a usage error"

# ---- the command line next to the running gateway: its version check picks the import up
LATE="pk_$(head -c 300 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 32)"
cat >"$T/late.yaml" <<EOF2
portico_export: 1
consumers:
  - name: late
    team: web
    keys:
      - prefix: "${LATE:0:12}"
        hash: "sha256:$(printf '%s' "$LATE" | sha256sum | cut -d' ' -f1)"
subscriptions:
  - consumer: late
    service: ledger
    state: active
EOF2
gw "$LATE"
is "$RESP_STATUS" 401 "a key the store does not hold yet is refused"
(cd "$T" && "$PORTICO" import -c "$T/admin.yaml" "$T/late.yaml" >"$T/late.out" 2>&1)
like "$(tail -n 1 "$T/late.out")" "3 created" "portico import writes into the running gateway's store"
gw_is() { gw "$LATE"; [ "$RESP_STATUS" = "$1" ]; }
check "the running gateway accepts the imported key without a reload" wait_for 5 gw_is 200
alive_after "export and import"

# ---- the command line into a store the file has been mirrored into, without a gateway
portico_stop
mv "$T/data" "$T/data-b"
admin_start "$CONF" || { not_ok "a third portico on an empty store starts"; done_testing; exit 1; }
portico_stop
(cd "$T" && "$PORTICO" import --dry-run --data-dir "$T/data" "$T/a.yaml" >"$T/dry.out" 2>&1)
like "$(tail -n 1 "$T/dry.out")" "23 created, 1 updated, 1 unchanged \(dry run" "portico import --dry-run prints a summary"
(cd "$T" && "$PORTICO" export --data-dir "$T/data" >"$T/c0.yaml" 2>/dev/null)
check "and writes nothing" bash -c "! grep -q 'ledger' '$T/c0.yaml'"
(cd "$T" && "$PORTICO" import --data-dir "$T/data" "$T/a.yaml" >"$T/imp.out" 2>&1)
like "$(grep -c '^create ' "$T/imp.out")" "^23$" "portico import prints one line per created object"
(cd "$T" && "$PORTICO" export --data-dir "$T/data" >"$T/c.yaml" 2>/dev/null)
check "portico export of the imported directory gives the same bytes" cmp -s "$T/a.yaml" "$T/c.yaml"
(cd "$T" && "$PORTICO" import --data-dir "$T/data" "$T/bad3.yaml" >/dev/null 2>"$T/bad.err")
is "$?" 1 "portico import of a bad document exits 1"
like "$(cat "$T/bad.err")" "services\[1\].*approval" "naming the object and field"
printf 'portico_export: 1\nservices:\n  - name: ai2\n    team: web\n    kind: ai\n    models: [nosuch]\n' >"$T/unserved.yaml"
(cd "$T" && "$PORTICO" import --dry-run -c "$T/admin.yaml" "$T/unserved.yaml" >/dev/null 2>"$T/unserved.err")
is "$?" 1 "with -c, a service the gateway would not serve is refused as the admin API refuses it"
like "$(cat "$T/unserved.err")" "services\[0\].*models" "naming the field"
printf 'portico_export: 1\npolicies:\n  - name: p12\n    applies_to: {service: nosuch}\n    concurrency: 2\n' >"$T/p12.yaml"
(cd "$T" && "$PORTICO" import --dry-run -c "$T/admin.yaml" "$T/p12.yaml" >/dev/null 2>"$T/p12.err")
is "$?" 1 "with -c, a policy on a service neither the store nor the file has is refused"
like "$(cat "$T/p12.err")" "policies\[0\].*applies_to" "naming the field"
done_testing
