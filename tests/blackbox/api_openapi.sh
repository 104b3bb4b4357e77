#!/usr/bin/env bash
# OpenAPI documents through the admin API and requests checked against them at the gateway:
# a real-world document (tests/data/bookshop-3.0.yaml, 38 operations; its 3.1 JSON variant)
# imported with a dry run first, exported back (JSON and YAML) and compared after
# normalisation, re-imported with changes showing the right diff; requests refused with the
# parameter or body pointer named and the upstream never called; bad documents refused with
# their line or JSON pointer; the catalog as each role sees it.
. "$(dirname "$0")/lib.sh"

DATA=$(cd "$(dirname "$0")/../data" && pwd)
PP=$(free_port); U1=$(free_port); AP=$(free_port)
upstream_start books "$U1" || { not_ok "upstream starts"; done_testing; exit 1; }
admin_start "" || { not_ok "portico with the admin API starts"; done_testing; exit 1; }

# import DOCFILE SERVICE [QUERY] [TOKEN]: POST the document as it is written.
oas_import() {
    local tok=${4-$ADMIN_TOKEN}
    http POST "http://127.0.0.1:$AP/admin/v1/services/$2/openapi${3:+?$3}" -H "Authorization: Bearer $tok" \
        --data-binary @"$1"
}
# ops JSON: "METHOD path p1,p2" per operation of an exported document, sorted.
ops() { jq -r '.paths | to_entries[] | .key as $p | .value | to_entries[] |
               "\(.key|ascii_upcase) \($p) \([.value.parameters[]?.name] | sort | join(","))"' <<<"$1" | sort; }

api POST /teams '{"name":"shop"}' >/dev/null
api POST /teams '{"name":"readers"}' >/dev/null
api POST /teams '{"name":"hidden"}' >/dev/null
api POST /services "{\"name\":\"bookshop\",\"team\":\"shop\",\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:$U1\"]}"
is "$RESP_STATUS" 201 "a REST service to import into"
api POST /services "{\"name\":\"bookshop31\",\"team\":\"shop\",\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:$U1\"]}" >/dev/null
api POST /services "{\"name\":\"secret\",\"team\":\"hidden\",\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:$U1\"]}" >/dev/null

# ---------------------------------------------------------------------------- import
oas_import "$DATA/bookshop-3.0.yaml" bookshop dry_run=true
is "$RESP_STATUS" 200 "a dry run of the 3.0 YAML document answers 200"
is "$(jqr '[.dry_run, .created, .operations, (.added|length), (.removed|length), (.changed|length)] | join(" ")')" \
    "true true 38 38 0 0" "it would create the API with 38 operations, all added"
api GET /services/bookshop/apis
is "$(jqr '.items|length')" 0 "the dry run wrote nothing"

oas_import "$DATA/bookshop-3.0.yaml" bookshop validate=true
is "$RESP_STATUS $(jqr .dry_run) $(jqr .created) $(jqr '.added|length')" "200 false true 38" "the import creates the API"
api GET /services/bookshop/apis/openapi
is "$(jqr '[.path_prefix, .validate, .openapi.operations, (.methods|sort|join(","))] | join(" ")')" \
    "/v2 true 38 DELETE,GET,PATCH,POST,PUT" \
    "one API at the servers' path, validating, with the operations' methods (the document itself only counted)"

oas_import "$DATA/bookshop-3.1.json" bookshop31 "api=v2&path_prefix=/v2-31"
is "$RESP_STATUS $(jqr .operations)" "200 38" "the 3.1 JSON variant imports into another service"

# ---------------------------------------------------------------------------- export
api GET /services/bookshop/openapi
is "$RESP_STATUS $(jqr .openapi) $(jqr .info.title) $(jqr '.servers[0].url')" "200 3.1.0 Bookshop /v2" \
    "the export is OpenAPI 3.1 with the document's info and the API's prefix as server"
EXPORT30=$RESP_BODY
is "$(ops "$EXPORT30" | wc -l)" 38 "38 operations exported"
like "$(ops "$EXPORT30" | grep '^GET /books/{bookId}/reviews ')" "bookId,limit,min_rating" \
    "path-level and operation parameters are both on the operation"
api GET /services/bookshop31/openapi
is "$(ops "$RESP_BODY")" "$(ops "$EXPORT30")" "the 3.0 YAML and 3.1 JSON documents export the same operations and parameters"
is "$(jq -S '.paths' <<<"$RESP_BODY" | sha256sum)" "$(jq -S '.paths' <<<"$EXPORT30" | sha256sum)" \
    "...and the same schemas once normalised (nullable as type lists, refs resolved)"
is "$(jq -c '.paths["/stock/{bookId}"].put.requestBody.content["application/json"].schema.properties.warehouse' <<<"$EXPORT30")" \
    '{"type":["string","null"]}' "3.0's nullable is exported as a 3.1 type list"

printf '%s' "$EXPORT30" >"$T/export.json"
oas_import "$T/export.json" bookshop dry_run=true
is "$(jqr '[(.added|length), (.removed|length), (.changed|length), .unchanged] | join(" ")')" "0 0 0 38" \
    "importing the export again changes nothing: operations, parameters and schemas are equal"
http GET "http://127.0.0.1:$AP/admin/v1/services/bookshop/openapi?format=yaml" -H "Authorization: Bearer $ADMIN_TOKEN"
is "$RESP_STATUS $(hdr content-type)" "200 application/yaml" "?format=yaml exports YAML"
printf '%s\n' "$RESP_BODY" >"$T/export.yaml"
oas_import "$T/export.yaml" bookshop dry_run=true
is "$(jqr '[(.added|length), (.removed|length), (.changed|length), .unchanged] | join(" ")')" "0 0 0 38" \
    "...which imports back to the same operations"

# ---------------------------------------------------------------------------- re-import with changes
jq 'del(.paths["/health"]) | .paths["/books"].get.summary = "Browse the catalogue"
    | .paths["/gifts"] = {"post": {"operationId": "sendGift", "responses": {}}}
    | .paths["/orders/{orderId}"].get.parameters = [{"name": "expand", "in": "query", "schema": {"type": "boolean"}}]' \
    "$DATA/bookshop-3.1.json" >"$T/changed.json"
oas_import "$T/changed.json" bookshop dry_run=true
is "$(jq -c '[.added, .removed, .changed]' <<<"$RESP_BODY")" \
    '[["POST /gifts"],["GET /health"],[{"operation":"GET /books","fields":["summary"]},{"operation":"GET /orders/{orderId}","fields":["parameters"]}]]' \
    "a changed document's dry run names the added, removed and changed operations"
api GET /services/bookshop/openapi
is "$(jqr '.paths["/health"].get.operationId')" health "the dry run kept the stored operations"
oas_import "$T/changed.json" bookshop
is "$(jqr '[.dry_run, .created, (.added|length), (.removed|length), (.changed|length), .unchanged] | join(" ")')" \
    "false false 1 1 2 35" "applied, the same diff is answered"
api GET /services/bookshop/openapi
is "$(jqr '[.paths["/health"], .paths["/gifts"].post.operationId] | join(",")')" ",sendGift" "and the export follows"
oas_import "$DATA/bookshop-3.0.yaml" bookshop >/dev/null

# ---------------------------------------------------------------------------- validation
api POST /consumers '{"name":"reader","team":"readers"}' >/dev/null
api POST /consumers/reader/keys '{"label":"bb"}'
KEY=$(jqr .key)
api POST /subscriptions '{"consumer":"reader","service":"bookshop"}'
is "$(jqr .state)" active "the consumer subscribes to the imported service"
K=(-H "Authorization: Bearer $KEY")

before=$(up_count "$U1")
get /v2/books/7 "${K[@]}"
is "$RESP_STATUS $(jqr .path)" "200 /v2/books/7" "a request the document declares reaches the upstream"
get "/v2/books?limit=10&genre=poetry&author=Le%20Guin" "${K[@]}"
is "$RESP_STATUS" 200 "typed query parameters pass"
is "$(up_count "$U1")" $((before + 2)) "both were served by the upstream"

before=$(up_count "$U1")
get /v2/books/abc "${K[@]}"
is "$RESP_STATUS $(jqr .error.code)" "400 request_invalid" "a path parameter of the wrong type is refused 400"
is "$(jqr .error.message)" "path parameter 'bookId': 'abc' is not an integer" "naming the parameter and the type"
get /v2/books/search "${K[@]}"
is "$RESP_STATUS $(jqr .error.message)" "400 query parameter 'q' is required" \
    "a missing required query parameter is named (the literal /books/search beats /books/{bookId})"
get "/v2/books?limit=1000" "${K[@]}"
like "$RESP_STATUS $(jqr .error.message)" "^400 query parameter 'limit': .*more than the maximum 100" "a value over its maximum"
http POST "http://127.0.0.1:$PP/v2/orders" "${K[@]}" -H 'Content-Type: application/json' --data-binary '{}'
is "$RESP_STATUS $(jqr .error.message)" "400 header parameter 'Idempotency-Key' is required" "a missing required header"
ORDER='{"customer_id":"c-42","items":[{"book_id":1,"quantity":2}],"shipping":{"street":"1 Road","city":"Oslo","country":"NO"}}'
http POST "http://127.0.0.1:$PP/v2/orders" "${K[@]}" -H 'Idempotency-Key: order-0001' -H 'Content-Type: application/json' \
    --data-binary "$ORDER"
is "$RESP_STATUS $(jqr .error.code)" "400 request_invalid" "a body failing the nested allOf (shipping is Address and has a recipient) is refused"
like "$(jqr .error.message)" "^body at /shipping: missing required property 'recipient'" "the message names the JSON pointer"
error_shape "the refusal" 400 request_invalid "$RESP_BODY" "$(hdr content-type)"
get /v2/nowhere "${K[@]}"
is "$RESP_STATUS $(jqr .error.code)" "404 operation_not_found" "a path the document does not declare is 404"
is "$(up_count "$U1")" "$before" "no refused request reached the upstream"

ORDER=${ORDER/\"NO\"/\"NO\",\"recipient\":\"Ann\"}
http POST "http://127.0.0.1:$PP/v2/orders" "${K[@]}" -H 'Idempotency-Key: order-0001' -H 'Content-Type: application/json' \
    --data-binary "$ORDER"
is "$RESP_STATUS $(jqr .body_len)" "200 ${#ORDER}" "the valid order reaches the upstream whole"

api PATCH /services/bookshop/apis/openapi '{"validate":false}'
is "$RESP_STATUS" 200 "validation is switched off by PATCH"
before=$(up_count "$U1")
get /v2/books/abc "${K[@]}"
is "$RESP_STATUS $(up_count "$U1")" "200 $((before + 1))" "with validation off the same request is proxied"
api PATCH /services/bookshop/apis/openapi '{"validate":true}' >/dev/null

# ---------------------------------------------------------------------------- the state's round trip
http GET "http://127.0.0.1:$AP/admin/v1/export" -H "Authorization: Bearer $ADMIN_TOKEN"
is "$RESP_STATUS" 200 "the state exports"
printf '%s\n' "$RESP_BODY" >"$T/state.yaml"
like "$(grep -c '"operations": \[' "$T/state.yaml")" "^2$" "the state's export carries both imported documents"
http POST "http://127.0.0.1:$AP/admin/v1/import?dry_run=true" -H "Authorization: Bearer $ADMIN_TOKEN" --data-binary @"$T/state.yaml"
is "$RESP_STATUS $(jqr .updated) $(jqr .created)" "200 0 0" "importing it again changes nothing (operations and validate kept)"
sed 's/"operations": \[/"operations": [{"method": "GET"}, /' "$T/state.yaml" >"$T/state-bad.yaml"
http POST "http://127.0.0.1:$AP/admin/v1/import?dry_run=true" -H "Authorization: Bearer $ADMIN_TOKEN" --data-binary @"$T/state-bad.yaml"
is "$RESP_STATUS $(jqr .error.field)" "400 services[0].apis[0].openapi" \
    "a state document whose operations were not written by an import is refused, naming the API"

# ---------------------------------------------------------------------------- bad documents
refuse() { # NAME FILE FIELD MESSAGE-REGEX
    oas_import "$2" bookshop dry_run=true
    is "$RESP_STATUS $(jqr .error.code) $(jqr .error.field)" "400 invalid_openapi $3" "$1: 400 naming $3"
    like "$(jqr .error.message)" "$4" "$1: the message says where and why"
}
printf 'openapi: 3.0.0\npaths:\n  /a: {get: {summary: "x"\n' >"$T/bad1.yaml"
refuse "a document that does not parse" "$T/bad1.yaml" null "line [34]"
printf '{"swagger": "2.0", "paths": {}}' >"$T/bad2.json"
refuse "Swagger 2.0" "$T/bad2.json" /swagger "Swagger 2.0 is not supported"
printf '{"openapi": "3.2.0", "paths": {}}' >"$T/bad3.json"
refuse "an unsupported version" "$T/bad3.json" /openapi "unsupported version '3.2.0'"
printf 'openapi: 3.1.0\ninfo: {title: t, version: "1"}\npaths:\n  /pets/{id}:\n    get:\n      parameters:\n        - $ref: "#/components/parameters/PetId"\n' >"$T/bad4.yaml"
refuse "a \$ref that does not resolve" "$T/bad4.yaml" '/paths/~1pets~1{id}/get/parameters/0/$ref' "^line 7: .*does not resolve"
cat >"$T/bad5.yaml" <<'EOF'
openapi: 3.0.3
paths:
  /nodes:
    post:
      requestBody:
        content:
          application/json:
            schema: { $ref: '#/components/schemas/Node' }
components:
  schemas:
    Node:
      type: object
      properties:
        children: { type: array, items: { $ref: '#/components/schemas/Node' } }
EOF
refuse "a cyclic \$ref" "$T/bad5.yaml" '/components/schemas/Node/properties/children/items/$ref' "^line 14: .*cyclic"
cat >"$T/bad6.yaml" <<'EOF'
openapi: 3.0.3
paths:
  /users:
    get:
      parameters:
        - name: email
          in: query
          schema:
            type: string
            pattern: '^[^@]+@[^@]+$'
EOF
refuse "a keyword the validator cannot honour" "$T/bad6.yaml" /paths/~1users/get/parameters/0/schema/pattern \
    "^line 10: .*'pattern' cannot be honoured"
api GET /services/bookshop/openapi
is "$(ops "$RESP_BODY" | wc -l)" 38 "no refused document changed what is stored"
portico_alive && ok "portico is still running" || not_ok "portico is still running"

# ---------------------------------------------------------------------------- catalog and roles
PW="correct horse battery"
api POST /users "{\"name\":\"dev\",\"password\":\"$PW\",\"team\":\"shop\",\"role\":\"developer\"}" >/dev/null
api POST /users "{\"name\":\"cons\",\"password\":\"$PW\",\"team\":\"readers\",\"role\":\"consumer\"}" >/dev/null
declare -A TOK
for u in dev cons; do
    http POST "http://127.0.0.1:$AP/admin/v1/tokens" --data-binary "{\"user\":\"$u\",\"password\":\"$PW\"}"
    TOK[$u]=$(jqr .token)
done

api GET /catalog
is "$(jqr '[.items[].name] | sort | join(",")')" "bookshop,bookshop31,secret" "an admin's catalog holds every service"
api GET /catalog "" "${TOK[cons]}"
is "$RESP_STATUS $(jqr '[.items[].name] | sort | join(",")')" "200 bookshop,bookshop31" \
    "a consumer sees the services it may subscribe to, not another team's service without APIs"
is "$(jq -c '.items[] | select(.name=="bookshop") | [.team, .approval, .openapi, .apis[0].state, .apis[0].validate, .apis[0].operations]' <<<"$RESP_BODY")" \
    '["shop","auto","/admin/v1/services/bookshop/openapi","published",true,38]' \
    "each entry has its team, approval mode, document link and APIs with their state"
is "$(jq -c '.items[] | select(.name=="bookshop") | [.subscriptions[] | [.consumer, .state]]' <<<"$RESP_BODY")" '[["reader","active"]]' \
    "...and the caller's team's subscriptions to it"
is "$(jq -c '.items[] | select(.name=="bookshop31") | .subscriptions' <<<"$RESP_BODY")" '[]' "none where the team has not subscribed"
api GET /services/bookshop/openapi "" "${TOK[cons]}"
is "$RESP_STATUS $(ops "$RESP_BODY" | wc -l)" "200 38" "the consumer reads the document the catalog links to"
api GET /services/secret/openapi "" "${TOK[cons]}"
is "$RESP_STATUS" 404 "a service outside the consumer's catalog is 404"
oas_import "$DATA/bookshop-3.0.yaml" bookshop dry_run=true "${TOK[cons]}"
is "$RESP_STATUS" 404 "a consumer of another team cannot import (the service is not theirs to see)"
oas_import "$DATA/bookshop-3.0.yaml" bookshop dry_run=true "${TOK[dev]}"
is "$RESP_STATUS $(jqr .unchanged)" "200 38" "the service team's developer imports"
api POST /services "{\"name\":\"readers-own\",\"team\":\"readers\",\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:$U1\"]}" >/dev/null
oas_import "$DATA/bookshop-3.0.yaml" readers-own dry_run=true "${TOK[cons]}"
is "$RESP_STATUS $(jqr .error.code)" "403 forbidden" "a consumer may not import into its own team's service (403, not 404)"
api GET /catalog "" "${TOK[dev]}"
is "$(jqr '[.items[].name] | sort | join(",")')" "bookshop,bookshop31" "a developer sees its team's services (readers-own has no API)"
api GET /catalog "" "${TOK[cons]}"
like "$(jqr '[.items[].name] | join(",")')" "readers-own" "a team's own services are in its catalog even without APIs"

# subscribing from the catalog is the subscriptions endpoint
api POST /subscriptions '{"consumer":"reader","service":"bookshop31"}' "${TOK[cons]}"
is "$RESP_STATUS $(jqr .state)" "201 active" "subscribing from the catalog: POST /subscriptions"
api GET /catalog "" "${TOK[cons]}"
is "$(jq -c '.items[] | select(.name=="bookshop31") | [.subscriptions[].state]' <<<"$RESP_BODY")" '["active"]' "the catalog shows the new subscription"

# ---------------------------------------------------------------------------- a released service
api POST /services/bookshop/releases '{"note":"with its document"}'
is "$RESP_STATUS" 201 "the service with an imported document is released"
before=$(up_count "$U1")
get /v2/books/abc "${K[@]}"
is "$RESP_STATUS $(jqr .error.code) $(up_count "$U1")" "400 request_invalid $before" \
    "served from its release, it is still checked against its document"
api PATCH /services/bookshop/apis/openapi '{"validate":false}'
get /v2/books/abc "${K[@]}"
is "$RESP_STATUS" 400 "turning validation off is a draft until the next release"
api POST /services/bookshop/releases '{"note":"no validation"}'
is "$RESP_STATUS $(jqr '.diff.changed[0].api') $(jqr '[.diff.changed[0].fields[].field] | join(",")')" "201 openapi validate" \
    "the next release's diff names the change"
get /v2/books/abc "${K[@]}"
is "$RESP_STATUS $(up_count "$U1")" "200 $((before + 1))" "once published, the request is proxied"
sed 's/summary: List books$/summary: List every book/' "$DATA/bookshop-3.0.yaml" >"$T/bookshop-edited.yaml"
oas_import "$T/bookshop-edited.yaml" bookshop
api POST /services/bookshop/releases '{}'
like "$(jq -c '[.diff.changed[0].fields[] | select(.field == "openapi") | .from, .to]' <<<"$RESP_BODY")" \
    '^\[\{"operations":[0-9]+\},\{"operations":[0-9]+\}\]$' "a changed document shows in a diff by its operations"

done_testing
