#!/usr/bin/env bash
# Routing and request rewriting: the 404 for no route, prefix strip and rewrite (query kept),
# header add/remove both ways, host / method / header matching, precedence (exact path over
# prefix, longer prefix over shorter, host-specific over hostless, whatever the file order), and
# no request header (Host, X-Forwarded-Host, an absolute-form target) can choose the upstream.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); UA=$(free_port); UB=$(free_port); UC=$(free_port)
upstream_start a "$UA" || not_ok "upstream a starts"
upstream_start b "$UB" || not_ok "upstream b starts"
upstream_start c "$UC" || not_ok "upstream c starts"
cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: "off"
services:
  - name: a
    targets: ["http://127.0.0.1:$UA"]
  - name: b
    targets: ["http://127.0.0.1:$UB"]
  - name: c
    targets: ["http://127.0.0.1:$UC"]
routes:
  - name: strip
    match: { path_prefix: "/strip/" }
    service: a
    strip_prefix: true
  - name: rewrite
    match: { path_prefix: "/old/" }
    service: a
    rewrite_prefix: "/internal/"
  - name: hdr
    match: { path_prefix: "/hdr/" }
    service: a
    request_headers: { add: { x-added: "1" }, remove: [x-secret] }
    response_headers: { add: { x-gw: "portico" }, remove: [server, x-upstream-secret] }
  # precedence: declared shortest / hostless first so file order cannot be what decides
  - name: p-short
    match: { path_prefix: "/p/" }
    service: a
  - name: p-exact
    match: { path: "/p/exact" }
    service: b
  - name: p-long
    match: { path_prefix: "/p/long/" }
    service: c
  - name: h-any
    match: { path_prefix: "/h/" }
    service: a
  - name: h-host
    match: { path_prefix: "/h/", host: "api.example.com" }
    service: b
  - name: w-host
    match: { path_prefix: "/w/", host: "*.example.org" }
    service: c
  - name: m-post
    match: { path_prefix: "/m/", methods: [POST, PUT] }
    service: b
  - name: hm
    match: { path_prefix: "/hm/", headers: { x-env: "prod" } }
    service: b
  - name: plain
    match: { path_prefix: "/a/" }
    service: a
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts with the test config"

# served_by NAME WANT_UPSTREAM: the last response is 200 and came from that upstream.
served_by() {
    local got
    got=$( [ "$RESP_STATUS" = 200 ] && jqr .name || echo "status $RESP_STATUS")
    is "$got" "$2" "$1"
}

# ---------------------------------------------------------------------------- no route
get /nothing/here
is "$RESP_STATUS" 404 "no route: 404"
error_shape "no route" 404 '^route_not_found$' "$RESP_BODY" "$(hdr content-type)"
like "$(jqr .error.message)" 'GET' "no route: the message names the method"
like "$(jqr .error.message)" '/nothing/here' "no route: the message names the path"

http DELETE "http://127.0.0.1:$PP/other/place"
like "$(jqr .error.message)" 'DELETE.*/other/place|/other/place.*DELETE' "no route: method and path of a DELETE"

# ---------------------------------------------------------------------------- strip / rewrite
get '/strip/x/y?q=1&r=two'
is "$(jqr .url)" "/x/y?q=1&r=two" "strip_prefix: the upstream gets the path without the prefix, query kept"
get '/strip/'
is "$(jqr .path)" "/" "strip_prefix: the bare prefix becomes /"
get '/strip/a%20b?x=%2F&y=%20'
is "$(jqr .url)" "/a%20b?x=%2F&y=%20" "strip_prefix: percent-encoding in path and query is passed as sent"
get '/old/a/b?z=9'
is "$(jqr .url)" "/internal/a/b?z=9" "rewrite_prefix: the prefix is replaced, query kept"
get '/a/keep/me?k=v'
is "$(jqr .url)" "/a/keep/me?k=v" "without strip or rewrite the path reaches the upstream unchanged"

# ---------------------------------------------------------------------------- headers
get '/hdr/x?set=x-upstream-secret:topsecret' -H 'X-Secret: s3' -H 'X-Keep: yes' -H 'X-Added: 0'
is "$RESP_STATUS" 200 "header rules route: 200"
is "$(echo_header x-added)" "1" "request_headers.add sets the header, replacing the client's value"
is "$(echo_header x-secret)" "" "request_headers.remove drops the header before the upstream"
is "$(echo_header x-keep)" "yes" "other client headers reach the upstream"
is "$(hdr x-gw)" "portico" "response_headers.add sets a header on the response"
if has_hdr x-upstream-secret; then not_ok "response_headers.remove drops an upstream header" "x-upstream-secret: $(hdr x-upstream-secret)"
else ok "response_headers.remove drops an upstream header"; fi
if [ "$(hdr server)" = "echo-upstream" ]; then not_ok "response_headers.remove [server] drops the upstream's Server" "server: echo-upstream"
else ok "response_headers.remove [server] drops the upstream's Server"; fi
is "$(hdr x-upstream-name)" "a" "other upstream response headers reach the client"
get '/a/no-rules?set=x-upstream-secret:visible'
is "$(hdr x-upstream-secret)" "visible" "header rules apply only to their route"

# ---------------------------------------------------------------------------- matching and precedence
get /p/exact;          served_by "exact path beats prefix" b
get /p/exact/more;     served_by "an exact path does not match as a prefix" a
get /p/other;          served_by "prefix /p/ matches /p/other" a
get /p/long/x;         served_by "longer prefix beats shorter" c
get /p/longer;         served_by "a prefix matches on the byte string: /p/long/ does not match /p/longer" a

get /h/x -H 'Host: api.example.com';              served_by "host-specific route beats hostless" b
get /h/x -H "Host: API.Example.COM:$PP";          served_by "host matching ignores case and port" b
get /h/x -H 'Host: other.example.com';            served_by "another host falls back to the hostless route" a
get /w/x -H 'Host: a.example.org';                served_by "wildcard host *.example.org matches a.example.org" c
get /w/x -H 'Host: a.b.example.org';              served_by "wildcard host matches several labels" c
get /w/x -H 'Host: example.org'
is "$RESP_STATUS" 404 "wildcard host *.example.org does not match example.org"

http POST "http://127.0.0.1:$PP/m/x" -d 'x=1';    served_by "methods: POST matches [POST, PUT]" b
http PUT "http://127.0.0.1:$PP/m/x" -d 'x=1';     served_by "methods: PUT matches [POST, PUT]" b
get /m/x
is "$RESP_STATUS" 404 "methods: GET does not match [POST, PUT] (404)"

get /hm/x -H 'X-Env: prod';                       served_by "header match: x-env: prod matches" b
get /hm/x -H 'X-Env: dev'
is "$RESP_STATUS" 404 "header match: x-env: dev does not match (404)"
get /hm/x
is "$RESP_STATUS" 404 "header match: a missing header does not match (404)"

# ---------------------------------------------------------------------------- upstream from config only
bcount=$(up_count "$UB")
get /a/x -H "Host: 127.0.0.1:$UB";                served_by "a Host header naming another upstream does not change the target" a
get /a/x -H "X-Forwarded-Host: 127.0.0.1:$UB";    served_by "X-Forwarded-Host does not change the target" a
get /a/x -H "X-Forwarded-For: 127.0.0.1" -H "Forwarded: host=127.0.0.1:$UB"; served_by "Forwarded: host= does not change the target" a
R=$(raw "send:GET http://127.0.0.1:$UB/a/x HTTP/1.1\\r\\nHost: 127.0.0.1:$UB\\r\\n\\r\\n" read:1)
st=$(jqr '.responses[0].status' "$R"); nm=$(jqr '.responses[0].h["x-upstream-name"] // "none"' "$R")
if { [ "$st" = 200 ] && [ "$nm" = a ]; } || [ "$st" = 400 ]; then ok "an absolute-form target is routed by its path or refused, never sent to its host"
else not_ok "an absolute-form target is routed by its path or refused, never sent to its host" "status $st from upstream $nm"; fi
is "$(up_count "$UB")" "$bcount" "upstream b received none of the spoofing requests"

alive_after "the routing requests"
done_testing
