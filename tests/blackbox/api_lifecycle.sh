#!/usr/bin/env bash
# An API's life cycle: a deprecated route is served with the Deprecation (RFC 9745), Sunset
# (RFC 8594) and Link fields on every answer, the gateway's own errors included; a retired one
# answers 410 Gone naming its successor before keys are asked for, and never reaches the
# upstream; a deprecated route past its sunset is retired without a reload; a CORS preflight on a
# retired route is still answered. Through the admin API, an API's lifecycle is written, served
# from the next call, shown on the file's mirrored APIs, and refused with the field named when
# it is wrong. Bad lifecycle settings in the file are refused with the field named.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port); AP=$(free_port)
upstream_start echo "$U1" || { not_ok "upstream starts"; done_testing; exit 1; }

admin_start "$(cat <<EOF
services:
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
routes:
  - name: orders-v1
    match: { path_prefix: "/v1/orders" }
    service: echo
    lifecycle:
      state: deprecated
      deprecated_at: 2026-06-01
      sunset: 2099-01-01T00:00:00Z
      successor: /v2/orders
      docs: https://docs.example.com/orders-v2#migrate
  - name: legacy
    match: { path_prefix: "/legacy/" }
    service: echo
    auth: key
    lifecycle: { state: retired, sunset: 2026-01-31, successor: "https://api.example.com/v3/" }
  - name: bygone
    match: { path_prefix: "/bygone/" }
    service: echo
    lifecycle: { state: deprecated, deprecated_at: 2019-01-01, sunset: 2020-01-01T12:00:00Z }
    cors: { origins: [https://app.example.com] }
  - name: orders-v2
    match: { path_prefix: "/v2/orders" }
    service: echo
policies:
  - name: tiny
    applies_to: { route: orders-v1 }
    rate: { requests: 2, per: 1h }
EOF
)" || { not_ok "portico with lifecycle routes starts"; done_testing; exit 1; }

# ---------------------------------------------------------------------------- deprecated
get /v1/orders/7
is "$RESP_STATUS $(jqr .path)" "200 /v1/orders/7" "a deprecated API is still served"
is "$(hdr deprecation)" "@1780272000" "Deprecation: @<the date as Unix seconds> (RFC 9745)"
is "$(hdr sunset)" "Thu, 01 Jan 2099 00:00:00 GMT" "Sunset: the HTTP date (RFC 8594)"
links=$(grep -i '^link:' "$RESP_HEADERS" | tr -d '\r')
like "$links" '</v2/orders>; rel="successor-version"' "Link to the successor"
like "$links" '<https://docs.example.com/orders-v2#migrate>; rel="deprecation"' "Link to the migration docs"
get /v1/orders/8
get /v1/orders/9
is "$RESP_STATUS" 429 "the gateway's own 429 on a deprecated API..."
is "$(hdr deprecation)" "@1780272000" "...carries Deprecation too"
get /v2/orders/1
has_hdr deprecation && not_ok "the successor carries no Deprecation" || ok "the successor carries no Deprecation"

# ---------------------------------------------------------------------------- retired
before=$(up_count "$U1")
get /legacy/things
is "$RESP_STATUS" 410 "a retired API answers 410 Gone, before asking for a key"
is "$(jqr .error.code)" api_retired "code api_retired"
is "$(jqr .error.message)" "the API 'legacy' was retired on 2026-01-31; its successor is https://api.example.com/v3/" \
    "the message names the API, the date and the successor"
like "$(grep -i '^link:' "$RESP_HEADERS" | tr -d '\r')" '<https://api.example.com/v3/>; rel="successor-version"' \
    "the 410 links the successor"
has_hdr deprecation && not_ok "a retired API's 410 has no Deprecation field" || ok "a retired API's 410 has no Deprecation field"
http POST "http://127.0.0.1:$PP/legacy/things" -d '{}' -H 'Authorization: Bearer pk_whatever'
is "$RESP_STATUS" 410 "every method is gone, whatever key"
is "$(up_count "$U1")" "$before" "a retired API never reaches the upstream"

get /bygone/x
is "$RESP_STATUS" 410 "a deprecated API past its sunset is retired"
like "$(jqr .error.message)" "retired on 2020-01-01T12:00:00Z" "naming the sunset as written"
http OPTIONS "http://127.0.0.1:$PP/bygone/x" -H 'Origin: https://app.example.com' -H 'Access-Control-Request-Method: GET'
is "$RESP_STATUS" 204 "its CORS preflight is still answered"
get /bygone/x -H 'Origin: https://app.example.com'
is "$RESP_STATUS $(hdr access-control-allow-origin)" "410 https://app.example.com" "so a page can read the 410"

# ---------------------------------------------------------------------------- admin API
api GET /services/echo/apis/orders-v1
is "$RESP_STATUS $(jqr .lifecycle.state) $(jqr .lifecycle.successor)" "200 deprecated /v2/orders" \
    "the file's lifecycle shows on its mirrored API"

api POST /teams '{"name":"shop"}' >/dev/null
api POST /services "{\"name\":\"billing\",\"team\":\"shop\",\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:$U1\"]}"
is "$RESP_STATUS" 201 "a stored service"
api POST /services/billing/apis '{"name":"v1","path_prefix":"/billing/v1/","auth":"none"}'
is "$RESP_STATUS" 201 "with an API"
get /billing/v1/invoices
is "$RESP_STATUS" 200 "served while published"
has_hdr deprecation && not_ok "no Deprecation while published" || ok "no Deprecation while published"

api PATCH /services/billing/apis/v1 '{"lifecycle":{"state":"deprecated","deprecated_at":"2026-11-01T00:00:00Z","successor":"/billing/v2/"}}'
is "$RESP_STATUS $(jqr .lifecycle.state)" "200 deprecated" "deprecating it through the admin API"
get /billing/v1/invoices
is "$RESP_STATUS $(hdr deprecation)" "200 @1793491200" "the next call carries Deprecation"
like "$(grep -i '^link:' "$RESP_HEADERS" | tr -d '\r')" '</billing/v2/>; rel="successor-version"' "and the Link"

api PATCH /services/billing/apis/v1 '{"lifecycle":{"state":"deprecated"}}'
is "$RESP_STATUS $(jqr .error.field)" "400 lifecycle" "deprecated without a date is refused, naming the field"
like "$(jqr .error.message)" "deprecated_at" "saying what is missing"
api PATCH /services/billing/apis/v1 '{"lifecycle":{"state":"gone"}}'
is "$RESP_STATUS $(jqr .error.field)" "400 lifecycle.state" "an unknown state is refused, naming the field"
like "$(jqr .error.message)" "published, deprecated, retired" "listing the states"
api PATCH /services/billing/apis/v1 '{"lifecycle":{"state":"retired","successor":"javascript:alert(1)"}}'
is "$RESP_STATUS $(jqr .error.field)" "400 lifecycle.successor" "a successor that is no path or URL is refused"
get /billing/v1/invoices
is "$RESP_STATUS" 200 "a refused write changes nothing"

api PATCH /services/billing/apis/v1 '{"lifecycle":{"state":"retired","successor":"/billing/v2/"}}'
is "$RESP_STATUS" 200 "retiring it"
get /billing/v1/invoices
is "$RESP_STATUS $(jqr .error.code)" "410 api_retired" "the next call is 410"
like "$(jqr .error.message)" "billing/v1.*successor is /billing/v2/" "naming the successor"

api PATCH /services/billing/apis/v1 '{"lifecycle":null}'
get /billing/v1/invoices
is "$RESP_STATUS" 200 "clearing the lifecycle publishes it again"

# ---------------------------------------------------------------------------- bad configurations
route_refused "deprecated without a date" lifecycle '{ state: deprecated }' "routes\[0\]\.lifecycle: a deprecated API needs deprecated_at"
route_refused "an unknown state" lifecycle '{ state: sunsetting }' "lifecycle\.state: unknown state 'sunsetting'"
route_refused "a date that is none" lifecycle '{ state: deprecated, deprecated_at: soon }' "lifecycle\.deprecated_at: 'soon' is not a date"
route_refused "sunset before deprecation" lifecycle '{ state: deprecated, deprecated_at: 2027-01-01, sunset: 2026-01-01 }' \
    "lifecycle\.sunset: the sunset \(2026-01-01\) comes before deprecated_at"
route_refused "dates on a published API" lifecycle '{ sunset: 2027-01-01 }' "need state: deprecated"
route_refused "a successor with a space" lifecycle '{ state: retired, successor: "/v2/a b" }' "lifecycle\.successor: .*percent-encode"
route_refused "docs that are a path" lifecycle '{ state: retired, docs: /docs }' "lifecycle\.docs: '/docs' is not an http\(s\) URL"

alive_after "portico is alive after the lifecycle checks"
done_testing
