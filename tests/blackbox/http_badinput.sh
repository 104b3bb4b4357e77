#!/usr/bin/env bash
# Bad input gets a precise status, a JSON error body, a closed connection for framing errors,
# never a crash, and never reaches the upstream: oversized heads (431), oversized bodies (413),
# malformed requests and request-smuggling shapes (400, 501 for a transfer coding other than
# chunked). tests/blackbox/http_framing.sh covers Transfer-Encoding and Host in depth.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port)
upstream_start echo "$U1" || not_ok "echo upstream starts"
echo_config "workers: 2
limits: { max_header_bytes: 8192, max_body_bytes: 1048576, header_timeout: 5s, idle_timeout: 10s, body_timeout: 5s }" >"$T/portico.yaml"
portico_start "$T/portico.yaml" || not_ok "portico starts with the test config"

# expect_error NAME STATUS CLOSES JSON: status line, JSON error body, connection closed (when
# CLOSES=close), and the server still alive afterwards.
expect_error() {
    local name=$1 want=$2 closes=$3 R=$4
    is "$(jqr '.responses[0].status // "no response"' "$R")" "$want" "$name: answered $want"
    is "$(jqr '.responses | length' "$R")" 1 "$name: exactly one response"
    error_shape "$name" "$want" '^[a-z][a-z0-9_]*$' "$(jqr '.responses[0].body' "$R")" "$(jqr '.responses[0].h["content-type"] // ""' "$R")"
    if [ "$closes" = close ]; then
        is "$(jqr '.closed' "$R")" true "$name: the connection is closed after the error"
    fi
    alive_after "$name"
}

# ---------------------------------------------------------------------------- 431
R=$(raw 'send:GET /echo/big-header HTTP/1.1\r\nHost: t\r\nX-Big: ' 'repeat:10000:a' 'send:\r\n\r\n' read:1 close:3000)
expect_error "header block over max_header_bytes" 431 any "$R"

R=$(raw 'send:GET /echo/long-target/' 'repeat:9000:b' 'send: HTTP/1.1\r\nHost: t\r\n\r\n' read:1 close:3000)
expect_error "request line over max_header_bytes" 431 any "$R"

hdrs=''; for i in $(seq 1 150); do hdrs+="X-H$i: v\\r\\n"; done
R=$(raw "send:GET /echo/many-headers HTTP/1.1\\r\\nHost: t\\r\\n$hdrs\\r\\n" read:1 close:3000)
expect_error "150 headers (over the default max_headers of 100)" 431 any "$R"

# Just under the limit is fine: an ~7 kB header block.
R=$(raw 'send:GET /echo/under HTTP/1.1\r\nHost: t\r\nX-Big: ' 'repeat:7000:a' 'send:\r\n\r\n' read:1)
is "$(jqr '.responses[0].status' "$R")" 200 "a 7 kB header block (under max_header_bytes) is accepted"

# ---------------------------------------------------------------------------- 413
R=$(raw 'send:POST /echo/big HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n' read:1 close:3000)
expect_error "Content-Length over max_body_bytes" 413 any "$R"

R=$(raw 'send:POST /echo/big-expect HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2000000\r\n\r\n' read:1 close:3000)
is "$(jqr '.responses[0].status // "no response"' "$R")" 413 "Expect: 100-continue with too large a Content-Length gets 413, not 100"
alive_after "Expect with too large a body"

# A chunked body that grows past 1 MiB (20 chunks of 64 KiB) is cut off with 413.
{
    printf 'POST /echo/big-chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n'
    chunk=$(head -c 65536 /dev/zero | tr '\0' 'c')
    for i in $(seq 1 20); do printf '10000\r\n%s\r\n' "$chunk"; done
    printf '0\r\n\r\n'
} >"$T/chunked-big.req"
R=$(raw "sendfile:$T/chunked-big.req" read:1 close:3000)
expect_error "chunked body over max_body_bytes" 413 any "$R"

# Exactly at the limit passes (1048576 bytes, as Content-Length).
head -c 1048576 /dev/zero | tr '\0' 'd' >"$T/exact.bin"
http POST "http://127.0.0.1:$PP/echo/exact" --data-binary @"$T/exact.bin" -H 'Content-Type: application/octet-stream'
is "$RESP_STATUS" 200 "a body of exactly max_body_bytes is accepted"
is "$(jqr .body_len)" 1048576 "the body of exactly max_body_bytes arrives whole"

# ---------------------------------------------------------------------------- 400: malformed
# (a streamed chunked body may legitimately have reached the upstream before the 413, so the
# count of forwarded requests starts here)
before=$(up_count "$U1")
R=$(raw 'send:THIS IS NOT HTTP\r\n\r\n' read:1 close:3000)
expect_error "malformed request line" 400 close "$R"

R=$(raw 'send:GET /echo/x HTTP/1.1 extra\r\nHost: t\r\n\r\n' read:1 close:3000)
expect_error "request line with a fourth token" 400 close "$R"

R=$(raw 'send:GET /echo/x HTTP/1.1\r\nHost : t\r\n\r\n' read:1 close:3000)
expect_error "whitespace between header name and colon" 400 close "$R"

R=$(raw 'send:GET /echo/x HTTP/1.1\r\nHost: t\r\nX-Fold: a\r\n  folded\r\n\r\n' read:1 close:3000)
expect_error "obsolete line folding" 400 close "$R"

R=$(raw 'send:GET /echo/x HTTP/1.1\nHost: t\n\n' read:1 close:3000)
expect_error "bare LF line endings" 400 close "$R"

R=$(raw 'send:GET /echo/x HTTP/1.1\r\nHost: t\nX-A: b\r\n\r\n' read:1 close:3000)
expect_error "one bare LF among CRLFs" 400 close "$R"

# ---------------------------------------------------------------------------- 400: smuggling shapes
R=$(raw 'send:POST /echo/x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' read:1 close:3000)
expect_error "both Content-Length and Transfer-Encoding" 400 close "$R"

R=$(raw 'send:POST /echo/x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n' read:1 close:3000)
expect_error "Transfer-Encoding before Content-Length" 400 close "$R"

R=$(raw 'send:POST /echo/x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!' read:1 close:3000)
expect_error "two differing Content-Length headers" 400 close "$R"

R=$(raw 'send:POST /echo/x HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 6\r\n\r\nhello!' read:1 close:3000)
expect_error "a Content-Length list with differing values" 400 close "$R"

R=$(raw 'send:POST /echo/x HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n' read:1 close:3000)
expect_error "a negative Content-Length" 400 close "$R"

R=$(raw 'send:POST /echo/x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n' read:1 close:3000)
expect_error "bad chunk size 'zz'" 400 close "$R"

R=$(raw 'send:POST /echo/x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n' read:1 close:3000)
expect_error "chunk data not followed by CRLF" 400 close "$R"

R=$(raw 'send:POST /echo/x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n' read:1 close:3000)
expect_error "Transfer-Encoding whose last coding is not chunked (501, RFC 9112 6.1)" 501 close "$R"

# CL.TE smuggle attempt with a second request hidden in the body: one 400, and the hidden
# request is never executed.
R=$(raw 'send:POST /echo/front HTTP/1.1\r\nHost: t\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /echo/smuggled HTTP/1.1\r\nHost: t\r\n\r\n' read:1 close:3000)
expect_error "CL.TE smuggling attempt" 400 close "$R"

after=$(up_count "$U1")
is "$((after - before))" 0 "no malformed request (nor a smuggled one) reached the upstream"

# A good request on a fresh connection after all of that.
get /echo/still-fine
is "$RESP_STATUS" 200 "a normal request after all the bad input answers 200"

done_testing
