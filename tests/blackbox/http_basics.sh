#!/usr/bin/env bash
# The HTTP/1.1 server's everyday behaviour: built-in endpoints, keep-alive, pipelining, HEAD,
# Expect: 100-continue, chunked bodies both ways, HTTP/1.0 and Connection: close, request ids.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port)
upstream_start echo "$U1" || not_ok "echo upstream starts"
echo_config "workers: 2" >"$T/portico.yaml"
portico_start "$T/portico.yaml" || not_ok "portico starts with the test config"

# ---------------------------------------------------------------------------- built-in endpoints
get /healthz
is "$RESP_STATUS" 200 "/healthz answers 200"
get /readyz
is "$RESP_STATUS" 200 "/readyz answers 200"
get /metrics
is "$RESP_STATUS" 200 "/metrics answers 200"
like "$(hdr content-type)" '^text/plain' "/metrics is served as text/plain"
like "$RESP_BODY" $'(^|\n)# TYPE portico_[a-z_]+ (counter|gauge|histogram)' "/metrics holds typed portico_ families"

# ---------------------------------------------------------------------------- keep-alive
# A fourth request on the same connection shows it stayed open after the third response.
R=$(raw 'send:GET /echo/k1 HTTP/1.1\r\nHost: t\r\n\r\n' read:1 \
        'send:GET /echo/k2 HTTP/1.1\r\nHost: t\r\n\r\n' read:2 \
        'send:GET /echo/k3 HTTP/1.1\r\nHost: t\r\n\r\n' read:3 \
        'send:GET /echo/k4 HTTP/1.1\r\nHost: t\r\n\r\n' read:4)
is "$(jqr '[.responses[:3][].status] | join(",")' "$R")" "200,200,200" "keep-alive: three sequential requests on one connection all answer 200"
is "$(jqr '[.responses[:3][].body | fromjson | .path] | join(",")' "$R")" "/echo/k1,/echo/k2,/echo/k3" "keep-alive: each response belongs to its request"
is "$(jqr '"\(.responses[3].status) \(.responses[3].body | fromjson | .path)"' "$R")" "200 /echo/k4" \
    "keep-alive: the connection stays open after the responses (a fourth request on it is answered)"

conns=$(curl -s -w '%{num_connects} ' -o /dev/null "http://127.0.0.1:$PP/echo/a" -o /dev/null "http://127.0.0.1:$PP/echo/b" \
    -o /dev/null "http://127.0.0.1:$PP/echo/c")
is "$conns" "1 0 0 " "keep-alive: curl reuses one connection for three requests"

# ---------------------------------------------------------------------------- pipelining
R=$(raw 'send:GET /echo/p1 HTTP/1.1\r\nHost: t\r\n\r\nPOST /echo/p2 HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello worldGET /echo/p3 HTTP/1.1\r\nHost: t\r\n\r\n' read:3)
is "$(jqr '[.responses[].status] | join(",")' "$R")" "200,200,200" "pipelining: three requests in one write get three 200s"
is "$(jqr '[.responses[].body | fromjson | .path] | join(",")' "$R")" "/echo/p1,/echo/p2,/echo/p3" "pipelining: responses come back in request order"
is "$(jqr '.responses[1].body | fromjson | .body' "$R")" "hello world" "pipelining: the middle POST's body reaches the upstream intact"
is "$(jqr '[.responses[].body | fromjson | .method] | join(",")' "$R")" "GET,POST,GET" "pipelining: methods are kept apart"

R=$(raw 'send:GET /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /readyz HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n' read:3)
is "$(jqr '[.responses[].status] | join(",")' "$R")" "200,200,200" "pipelining: built-in endpoints answer three pipelined requests"

# Ten pipelined requests in one write, mixing proxied and built-in ones.
reqs=''; want=''
for i in 1 2 3 4 5 6 7 8 9 10; do
    if ((i % 3 == 0)); then reqs+="GET /healthz HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n"; want+="healthz,"
    else reqs+="GET /echo/n$i HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n"; want+="/echo/n$i,"; fi
done
R=$(raw "send:$reqs" read:10)
got=$(jqr '[.responses[] | if .h["x-upstream-name"] then (.body | fromjson | .path) else "healthz" end] | join(",")' "$R")
is "$got," "$want" "pipelining: ten mixed requests are answered in order"

# ---------------------------------------------------------------------------- HEAD
R=$(raw --head-at 1 'send:HEAD /echo/h HTTP/1.1\r\nHost: t\r\n\r\nGET /echo/after-head HTTP/1.1\r\nHost: t\r\n\r\n' read:2)
is "$(jqr '.responses[0].status' "$R")" 200 "HEAD through the proxy answers 200"
is "$(jqr '.responses[0].h["content-type"]' "$R")" "application/json" "HEAD keeps the upstream's Content-Type"
like "$(jqr '.responses[0].h["content-length"] // .responses[0].h["transfer-encoding"] // "none"' "$R")" '^([0-9]+|chunked)$' \
    "HEAD response carries its framing header"
is "$(jqr '.responses[1].body | fromjson | .path' "$R")" "/echo/after-head" "HEAD sends no body: the next response on the connection parses cleanly"
is "$(jqr '.responses[0].body_len' "$R")" 0 "HEAD response has no body"

R=$(raw --head-at 1 'send:HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n' read:2)
is "$(jqr '[.responses[].status] | join(",")' "$R")" "200,200" "HEAD /healthz then GET /healthz on one connection: 200, 200"
is "$(jqr '.error' "$R")" null "HEAD /healthz writes no body bytes"

# ---------------------------------------------------------------------------- Expect: 100-continue
R=$(raw 'send:POST /echo/expect HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n' read:1 \
        'send:hello' read:2)
is "$(jqr '.responses[0].status' "$R")" 100 "Expect: 100-continue gets '100 Continue' before the body is sent"
is "$(jqr '.responses[0].version' "$R")" "HTTP/1.1" "the interim response is HTTP/1.1"
is "$(jqr '.responses[1].status' "$R")" 200 "after the body the real response is 200"
is "$(jqr '.responses[1].body | fromjson | .body' "$R")" "hello" "the body sent after 100 Continue reaches the upstream"
is "$(jqr '[.responses[] | select(.status == 100)] | length' "$R")" 1 "exactly one 100 Continue is sent"

# ---------------------------------------------------------------------------- chunked bodies
R=$(raw 'send:POST /echo/chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n' read:1)
is "$(jqr '.responses[0].status' "$R")" 200 "chunked request body: 200"
is "$(jqr '.responses[0].body | fromjson | .body' "$R")" "hello world" "chunked request body reaches the upstream de-chunked and intact"
is "$(jqr '.responses[0].body | fromjson | .body_len' "$R")" 11 "chunked request body length is exact"

head -c 300000 /dev/urandom >"$T/up.bin"
want_sha=$(sha256sum "$T/up.bin" | cut -d' ' -f1)
http POST "http://127.0.0.1:$PP/echo/chunked-big" -H 'Transfer-Encoding: chunked' --data-binary @"$T/up.bin"
is "$RESP_STATUS" 200 "chunked 300 kB upload: 200"
is "$(jqr .body_sha256)" "$want_sha" "chunked 300 kB upload arrives byte for byte (sha256)"
is "$(jqr .body_len)" 300000 "chunked 300 kB upload length is exact"

R=$(raw 'send:GET /echo/cr?chunked=1 HTTP/1.1\r\nHost: t\r\n\r\n' read:1 'send:GET /echo/after-chunked HTTP/1.1\r\nHost: t\r\n\r\n' read:2)
is "$(jqr '.responses[0].status' "$R")" 200 "chunked response: 200"
is "$(jqr '.responses[0].body' "$R")" "part1 part2 part3" "chunked response body reaches the client intact"
is "$(jqr '.responses[1].body | fromjson | .path' "$R")" "/echo/after-chunked" "the connection is still usable after a chunked response"

http GET "http://127.0.0.1:$PP/echo/curl?chunked=1"
is "$RESP_BODY" "part1 part2 part3" "curl reads the chunked response intact"

# ---------------------------------------------------------------------------- HTTP/1.0 and close
R=$(raw 'send:GET /echo/ten HTTP/1.0\r\n\r\n' read:1 close:3000)
is "$(jqr '.responses[0].status' "$R")" 200 "HTTP/1.0 request without Host is answered"
is "$(jqr '.closed' "$R")" true "HTTP/1.0 without keep-alive: the server closes after the response"

R=$(raw 'send:GET /echo/bye HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' read:1 close:3000)
is "$(jqr '.responses[0].status' "$R")" 200 "Connection: close request is answered"
is "$(jqr '.closed' "$R")" true "Connection: close: the server closes after the response"

# ---------------------------------------------------------------------------- request ids
get /echo/rid
rid=$(hdr x-request-id)
like "$rid" '^[A-Za-z0-9._-]{8,}$' "X-Request-Id is generated when absent"
is "$(echo_header x-request-id)" "$rid" "the generated X-Request-Id is passed to the upstream"
get /echo/rid2
rid2=$(hdr x-request-id)
if [ -n "$rid2" ] && [ "$rid2" != "$rid" ]; then ok "two requests get different generated ids"
else not_ok "two requests get different generated ids" "first '$rid', second '$rid2'"; fi

get /echo/rid3 -H 'X-Request-Id: test-abc-123'
is "$(hdr x-request-id)" "test-abc-123" "a client X-Request-Id is returned unchanged"
is "$(echo_header x-request-id)" "test-abc-123" "a client X-Request-Id reaches the upstream unchanged and once"

get /healthz
like "$(hdr x-request-id)" '^[A-Za-z0-9._-]{8,}$' "built-in endpoints also carry X-Request-Id"

alive_after "the basic requests"
done_testing
