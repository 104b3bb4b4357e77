#!/usr/bin/env bash
# Upstream failures become precise gateway errors naming the service: nothing listening -> 502,
# connection closed without a response -> 502, no response head within first_byte -> 504. An
# upstream's own error status passes through untouched.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port); DEAD=$(free_port)
upstream_start echo "$U1" || not_ok "echo upstream starts"
cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: "off"
services:
  - name: down
    targets: ["http://127.0.0.1:$DEAD"]
    timeouts: { connect: 1s, first_byte: 2s }
  - name: slow
    targets: ["http://127.0.0.1:$U1"]
    timeouts: { connect: 1s, first_byte: 1s }
    retries: 0
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
    retries: 0
routes:
  - name: down
    match: { path_prefix: "/down/" }
    service: down
  - name: slow
    match: { path_prefix: "/slow/" }
    service: slow
  - name: echo
    match: { path_prefix: "/echo/" }
    service: echo
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts with the test config"

# ---------------------------------------------------------------------------- 502
get /down/x
is "$RESP_STATUS" 502 "upstream with nothing listening: 502"
error_shape "upstream down" 502 '^upstream_unavailable$' "$RESP_BODY" "$(hdr content-type)"
is "$(jqr .error.service)" "down" "upstream down: the error names the service"
rid=$(hdr x-request-id)
is "$(jqr .error.request_id)" "$rid" "upstream down: the error's request_id is the X-Request-Id header"

http POST "http://127.0.0.1:$PP/down/x" -d '{"a":1}' -H 'Content-Type: application/json'
is "$RESP_STATUS" 502 "POST to an upstream with nothing listening: 502"

get /echo/x?abort=1
is "$RESP_STATUS" 502 "upstream closing without a response: 502"
like "$(jqr .error.code)" '^upstream_' "upstream closing without a response: an upstream_ error code"
is "$(jqr .error.service)" "echo" "upstream closing without a response: the error names the service"

# ---------------------------------------------------------------------------- 504
get '/slow/x?delay=4000'
is "$RESP_STATUS" 504 "no response head within first_byte: 504"
error_shape "upstream timeout" 504 '^upstream_timeout$' "$RESP_BODY" "$(hdr content-type)"
is "$(jqr .error.service)" "slow" "upstream timeout: the error names the service"

get '/slow/x?delay=200'
is "$RESP_STATUS" 200 "a response inside first_byte is served"

# ---------------------------------------------------------------------------- pass-through
get '/echo/x?status=503&set=retry-after:7'
is "$RESP_STATUS" 503 "an upstream's own 503 passes through"
is "$(jqr .name)" "echo" "an upstream's own error body passes through untouched"
is "$(hdr retry-after)" "7" "an upstream's error headers pass through"
get '/echo/x?status=404'
is "$(jqr .name)" "echo" "an upstream 404 is the upstream's, not the gateway's no-route 404"

# The keep-alive client connection survives a gateway error.
R=$(raw 'send:GET /down/x HTTP/1.1\r\nHost: t\r\n\r\n' read:1 'send:GET /echo/after HTTP/1.1\r\nHost: t\r\n\r\n' read:2)
is "$(jqr '[.responses[].status] | join(",")' "$R")" "502,200" "a 502 keeps the client connection usable"

alive_after "upstream errors"
done_testing
