#!/usr/bin/env bash
# CORS per route: preflights answered by the gateway (found by the method they announce, before
# keys and policies), the browsers' shapes (Access-Control-Request-Headers, private network),
# refusals naming what is not allowed, Allow-Origin on ordinary answers including the gateway's
# own errors, Vary: Origin, the upstream's Access-Control-* replaced, wildcard origins,
# credentials, and routes without cors left as they were. Bad cors configurations are refused
# with the field named.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); UA=$(free_port)
upstream_start a "$UA" || not_ok "upstream a starts"
cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "off"
services:
  - name: a
    targets: ["http://127.0.0.1:$UA"]
routes:
  - name: app
    match: { path_prefix: "/app/", methods: [GET, POST] }
    service: a
    cors:
      origins: [https://app.example.com, "https://*.tenants.example.com"]
      headers: [Authorization, Content-Type, X-Trace]
      expose_headers: [X-Request-Id, RateLimit]
      credentials: true
      max_age: 10m
      private_network: true
  - name: open
    match: { path_prefix: "/open/" }
    service: a
    cors: { origins: "*" }
  - name: limited
    match: { path_prefix: "/limited/" }
    service: a
    cors: { origins: [https://app.example.com] }
  - name: plain
    match: { path_prefix: "/plain/" }
    service: a
  - name: llm
    match: { path_prefix: "/llm/" }
    ai: {}
    strip_prefix: true
    cors: { origins: [https://app.example.com], headers: [Authorization, Content-Type] }
providers:
  - { name: p, type: openai, base_url: "http://127.0.0.1:9/v1", api_key: k }
models:
  - { name: m, targets: [{ provider: p, model: gpt-4o }] }
policies:
  - name: one-an-hour
    applies_to: { route: limited }
    rate: { requests: 1, per: 1h }
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts with cors routes"

ORIGIN=https://app.example.com
preflight() { # PATH METHOD [curl args]
    local p=$1 m=$2; shift 2
    http OPTIONS "http://127.0.0.1:$PP$p" -H "Origin: ${PF_ORIGIN:-$ORIGIN}" -H "Access-Control-Request-Method: $m" "$@"
}

# ---------------------------------------------------------------------------- preflights
before=$(up_count "$UA")
preflight /app/x POST -H 'Access-Control-Request-Headers: content-type,authorization'
is "$RESP_STATUS" 204 "preflight for POST on a [GET, POST] route: 204 from the gateway"
is "$(hdr access-control-allow-origin)" "$ORIGIN" "preflight: Allow-Origin is the origin (credentials: no '*')"
is "$(hdr access-control-allow-methods)" "GET, POST" "preflight: Allow-Methods is the route's methods"
is "$(hdr access-control-allow-headers)" "Authorization, Content-Type, X-Trace" "preflight: Allow-Headers lists cors.headers"
is "$(hdr access-control-allow-credentials)" "true" "preflight: Allow-Credentials true"
is "$(hdr access-control-max-age)" "600" "preflight: Max-Age 10m = 600 s"
like "$(hdr vary)" "Origin.*Access-Control-Request-Method" "preflight: Vary names what the answer depends on"
has_hdr access-control-allow-private-network && not_ok "preflight without the private-network ask: no Allow-Private-Network" \
    || ok "preflight without the private-network ask: no Allow-Private-Network"
is "$(up_count "$UA")" "$before" "preflights never reach the upstream"

preflight /app/x GET -H 'Access-Control-Request-Private-Network: true'
is "$RESP_STATUS $(hdr access-control-allow-private-network)" "204 true" \
    "Chrome's private-network preflight is allowed when private_network: true"

PF_ORIGIN=https://eu.tenants.example.com preflight /app/x GET
is "$RESP_STATUS $(hdr access-control-allow-origin)" "204 https://eu.tenants.example.com" \
    "a '*.' origin pattern allows a subdomain"
PF_ORIGIN=https://a.b.tenants.example.com preflight /app/x GET
is "$RESP_STATUS" 204 "a '*.' origin pattern allows several labels"
PF_ORIGIN=https://tenants.example.com preflight /app/x GET
is "$RESP_STATUS" 403 "a '*.' pattern does not allow the bare domain"
PF_ORIGIN=http://eu.tenants.example.com preflight /app/x GET
is "$RESP_STATUS" 403 "a pattern's scheme must match (http is not https)"
PF_ORIGIN=HTTPS://APP.EXAMPLE.COM preflight /app/x GET
is "$RESP_STATUS" 204 "origins compare without ASCII case"

PF_ORIGIN=https://evil.example preflight /app/x POST
is "$RESP_STATUS" 403 "preflight from an origin not listed: 403"
is "$(jqr .error.code)" cors_refused "the refusal's code is cors_refused"
like "$(jqr .error.message)" "https://evil.example.*route 'app'.*cors.origins" "the refusal names the origin, route and setting"
has_hdr access-control-allow-origin && not_ok "a refused preflight has no Allow-Origin" || ok "a refused preflight has no Allow-Origin"

preflight /app/x DELETE
is "$RESP_STATUS" 403 "preflight for a method the route does not take: 403"
like "$(jqr .error.message)" "method 'DELETE'.*cors.methods" "the refusal names the method"

preflight /app/x POST -H 'Access-Control-Request-Headers: content-type, x-secret-thing'
is "$RESP_STATUS" 403 "preflight asking for a header not listed: 403"
like "$(jqr .error.message)" "header 'x-secret-thing'.*cors.headers" "the refusal names the header"

preflight /open/x PUT -H 'Access-Control-Request-Headers: x-anything'
is "$RESP_STATUS" 204 "origins '*': preflight allowed"
is "$(hdr access-control-allow-origin)" "*" "origins '*' without credentials: Allow-Origin *"
is "$(hdr access-control-allow-headers)" "x-anything" "without cors.headers the requested headers are allowed"
is "$(hdr access-control-allow-methods)" "DELETE, GET, HEAD, POST, PUT, PATCH" \
    "a route without methods allows the default set"
has_hdr access-control-max-age && not_ok "no max_age: no Max-Age field" || ok "no max_age: no Max-Age field"

before=$(up_count "$UA")
preflight /plain/x POST
is "$RESP_STATUS" 200 "a route without cors passes OPTIONS to its upstream"
is "$(jqr .method)" OPTIONS "the upstream got the OPTIONS request"
is "$(up_count "$UA")" "$((before + 1))" "the upstream counted it"

http OPTIONS "http://127.0.0.1:$PP/app/x" -H "Origin: $ORIGIN"
is "$RESP_STATUS" 404 "OPTIONS without Access-Control-Request-Method is no preflight (404: the route takes GET, POST)"

# ---------------------------------------------------------------------------- ordinary requests
get '/app/x?set=Access-Control-Allow-Origin:https://upstream.example&set=Access-Control-Max-Age:99' -H "Origin: $ORIGIN"
is "$RESP_STATUS" 200 "a GET from an allowed origin: 200"
is "$(hdr access-control-allow-origin)" "$ORIGIN" "its answer allows the origin"
is "$(grep -ci '^access-control-allow-origin:' "$RESP_HEADERS")" 1 "one Allow-Origin: the upstream's own is replaced"
has_hdr access-control-max-age && not_ok "the upstream's Access-Control-* fields are dropped" \
    || ok "the upstream's Access-Control-* fields are dropped"
is "$(hdr access-control-allow-credentials)" "true" "Allow-Credentials on the answer"
is "$(hdr access-control-expose-headers)" "X-Request-Id, RateLimit" "Expose-Headers lists expose_headers"
like "$(hdr vary)" "Origin" "Vary: Origin"
is "$(echo_header origin)" "$ORIGIN" "the Origin still reaches the upstream"

get /app/x -H "Origin: https://evil.example"
is "$RESP_STATUS" 200 "a GET from another origin is still served (the browser withholds it)"
has_hdr access-control-allow-origin && not_ok "no Allow-Origin for an origin not listed" || ok "no Allow-Origin for an origin not listed"
like "$(hdr vary)" "Origin" "Vary: Origin all the same"

get /app/x
has_hdr access-control-allow-origin && not_ok "no Origin: no Allow-Origin" || ok "no Origin: no Allow-Origin"
like "$(hdr vary)" "Origin" "no Origin: Vary: Origin, so a cache keeps the answers apart"

get /open/x -H "Origin: https://anyone.example"
is "$(hdr access-control-allow-origin)" "*" "origins '*': Allow-Origin *"
has_hdr vary && not_ok "origins '*' without credentials: no Vary needed" || ok "origins '*' without credentials: no Vary needed"

get '/plain/x?set=Access-Control-Allow-Origin:https://upstream.example' -H "Origin: $ORIGIN"
is "$(hdr access-control-allow-origin)" "https://upstream.example" "a route without cors passes the upstream's fields"

get /limited/x -H "Origin: $ORIGIN"
is "$RESP_STATUS" 200 "the limited route's first call passes"
get /limited/x -H "Origin: $ORIGIN"
is "$RESP_STATUS" 429 "its second call is refused by the policy"
is "$(hdr access-control-allow-origin)" "$ORIGIN" "the gateway's own 429 carries Allow-Origin, so the page can read it"
has_hdr ratelimit && ok "the 429 carries the RateLimit fields too" || not_ok "the 429 carries the RateLimit fields too"
preflight /limited/x GET
is "$RESP_STATUS" 204 "preflights are answered before policies (no rate taken, none refused)"

get /app/nothing -X PATCH -H "Origin: $ORIGIN"
is "$RESP_STATUS" 404 "a method the route does not match is still 404"

# ---------------------------------------------------------------------------- AI routes
preflight /llm/v1/chat/completions POST -H 'Access-Control-Request-Headers: authorization, content-type'
is "$RESP_STATUS $(hdr access-control-allow-origin)" "204 $ORIGIN" "an AI route answers a browser's preflight"
get /llm/v1/models -H "Origin: $ORIGIN"
is "$RESP_STATUS $(jqr '.data[0].id') $(hdr access-control-allow-origin)" "200 m $ORIGIN" \
    "the AI route's model list carries Allow-Origin"
http POST "http://127.0.0.1:$PP/llm/v1/chat/completions" -H "Origin: $ORIGIN" -H 'Content-Type: application/json' \
    -d '{"model":"nope","messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS $(jqr .error.type)" "404 invalid_request_error" "an unknown model: the OpenAI-shaped 404"
is "$(hdr access-control-allow-origin)" "$ORIGIN" "the AI error carries Allow-Origin, so the page's SDK can read it"

# ---------------------------------------------------------------------------- bad configurations
route_refused "'*' with credentials" cors '{ origins: "*", credentials: true }' 'routes\[0\]\.cors\.credentials: .*list the origins'
route_refused "an origin with a path" cors '{ origins: [https://a.example/] }' "cors\.origins\[0\]: an origin has no path: write 'https://a.example'"
route_refused "not http(s)" cors '{ origins: [ftp://a.example] }' "cors\.origins\[0\]: 'ftp://a.example' is not an origin"
route_refused "'null'" cors '{ origins: ["null"] }' "cors\.origins\[0\]: 'null' is the origin of sandboxed"
route_refused "'*' among others" cors '{ origins: ["*", https://a.example] }' "cors\.origins\[0\]: '\*' allows every origin: list it alone"
route_refused "no origins" cors '{ methods: [GET] }' "routes\[0\]\.cors: missing required key 'origins'"
route_refused "a misspelt method" cors '{ origins: "*", methods: [PSOT] }' "cors\.methods\[0\]: unknown HTTP method 'PSOT' \(did you mean 'POST'\?\)"
route_refused "a bad port" cors '{ origins: ["https://a.example:0"] }' "not a valid port"
route_refused "max_age over a day" cors '{ origins: "*", max_age: 2d }' "cors\.max_age: must be between"
route_refused "an unknown key" cors '{ origins: "*", origin: x }' "cors\.origin: unknown key"

alive_after "portico is alive after the CORS checks"
done_testing
