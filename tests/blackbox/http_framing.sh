#!/usr/bin/env bash
# Framing and Host as strict as nginx (issue: HTTP/1 hardening). Each refused request gets its
# status and a JSON error naming the RFC rule, the connection is closed, nothing pipelined behind
# it is served, and the upstream (a raw recorder of every byte it receives) gets nothing:
# Transfer-Encoding in HTTP/1.0 (400), codings other than one final chunked (501), a Host or an
# absolute-form authority with userinfo, bad characters, bad ports, no or two Hosts (400).
# Good shapes still pass, and the authority of an absolute-form target wins over Host.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port)
REC=$T/upstream.bytes
node "$UPSTREAMS/recorder.mjs" --port "$U1" --out "$REC" >"$T/recorder.log" 2>&1 &
track $!
wait_for 10 grep -q "^listening $U1" "$T/recorder.log" || not_ok "the recording upstream starts" "$(cat "$T/recorder.log")"
echo_config "workers: 2
limits: { header_timeout: 5s, idle_timeout: 10s, body_timeout: 5s }" >"$T/portico.yaml"
portico_start "$T/portico.yaml" || not_ok "portico starts with the test config"

rec_size() { stat -c %s "$REC"; }

# refused NAME STATUS CODE MESSAGE_REGEX RAW_ACTIONS...: runs the raw client; the one response
# has STATUS and the JSON error CODE with a message matching MESSAGE_REGEX, the connection is
# closed, and the upstream received no byte.
refused() {
    local name=$1 want=$2 code=$3 msg_re=$4 before R
    shift 4
    before=$(rec_size)
    R=$(raw "$@" read:1 close:3000)
    is "$(jqr '[.responses[].status] | join(",")' "$R")" "$want" "$name: one response, $want"
    error_shape "$name" "$want" "^$code\$" "$(jqr '.responses[0].body' "$R")" "$(jqr '.responses[0].h["content-type"] // ""' "$R")"
    like "$(jqr '.responses[0].body | fromjson | .error.message' "$R")" "$msg_re" "$name: the message names the problem"
    is "$(jqr '.closed' "$R")" true "$name: the connection is closed"
    is "$(rec_size)" "$before" "$name: the upstream received nothing"
}

# ---------------------------------------------------------------------------- HTTP/1.0 + Transfer-Encoding
refused "HTTP/1.0 keep-alive with Transfer-Encoding: chunked, a request pipelined behind it" 400 bad_transfer_encoding \
    'HTTP/1\.0 request \(RFC 9112 §6\.1\)' \
    'send:POST /echo/te10 HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /echo/smuggled HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
# The same, the pipelined request sent once the refusal is read: it must find the connection gone.
before=$(rec_size)
R=$(raw 'send:POST /echo/te10 HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' read:1 \
    'send:GET /echo/smuggled HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' read:2 close:3000)
is "$(jqr '[.responses[].status] | join(",")' "$R")" 400 "HTTP/1.0 + TE: the request sent after the 400 is not served"
is "$(jqr '.closed' "$R")" true "HTTP/1.0 + TE: the connection is closed after the 400"
is "$(rec_size)" "$before" "HTTP/1.0 + TE: the upstream received nothing"
refused "HTTP/1.0 with Transfer-Encoding: gzip, chunked" 400 bad_transfer_encoding 'RFC 9112 §6\.1' \
    'send:POST /echo/te10 HTTP/1.0\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'
refused "HTTP/1.0 with Transfer-Encoding: chunked, identity (llhttp stops mid-header)" 400 bad_transfer_encoding 'RFC 9112 §6\.1' \
    'send:POST /echo/te10 HTTP/1.0\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'

# ---------------------------------------------------------------------------- codings other than chunked
refused "Transfer-Encoding: gzip, chunked" 501 unsupported_transfer_encoding "'gzip, chunked' is not implemented.*RFC 9112 §6\.1" \
    'send:POST /echo/gz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\n\x1f\x8b\x08\r\n0\r\n\r\nGET /echo/after HTTP/1.1\r\nHost: t\r\n\r\n'
refused "Transfer-Encoding: identity" 501 unsupported_transfer_encoding "'identity' is not implemented" \
    'send:POST /echo/id HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\nContent-Type: text/plain\r\n\r\nhello'
refused "Transfer-Encoding: chunked, chunked" 501 unsupported_transfer_encoding 'RFC 9112 §6\.1' \
    'send:POST /echo/cc HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n'
refused "two Transfer-Encoding fields, gzip then chunked" 501 unsupported_transfer_encoding 'RFC 9112 §6\.1' \
    'send:POST /echo/two HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
refused "two Transfer-Encoding: chunked fields" 501 unsupported_transfer_encoding 'RFC 9112 §6\.1' \
    'send:POST /echo/two HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
refused "an empty Transfer-Encoding" 501 unsupported_transfer_encoding "'' is not implemented" \
    'send:POST /echo/empty HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: \r\nContent-Length: 0\r\n\r\n'
refused "Transfer-Encoding: chunked with a parameter" 501 unsupported_transfer_encoding 'RFC 9112 §6\.1' \
    'send:POST /echo/param HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n'

# Obfuscated Transfer-Encoding headers (the classic TE.CL / CL.TE disguises): each is refused with
# 400 or 501, the connection closed, and the request hidden in the body never reaches the upstream.
hidden='GET /echo/hidden HTTP/1.1\r\nHost: t\r\n\r\n'
for te in 'Transfer-Encoding: xchunked' 'Transfer-Encoding: chunked\x0b' 'Transfer-Encoding : chunked' \
    'Transfer-Encoding:\x0bchunked' 'Transfer-Encoding: "chunked"' 'Transfer-Encoding: chunk' \
    'Transfer-Encoding: chunked\r\nContent-Length: 4' 'Content-Length: 4\r\nTransfer-Encoding: gzip' \
    'Transfer-Encoding: \xffchunked' 'X: y\r\n Transfer-Encoding: chunked'; do
    before=$(rec_size)
    R=$(raw "send:POST /echo/obf HTTP/1.1\r\nHost: t\r\n$te\r\n\r\n0\r\n\r\n$hidden" read:1 close:3000)
    like "$(jqr '[.responses[].status] | join(",")' "$R")" '^(400|501)$' "'$te': one 400 or 501"
    is "$(jqr '.closed' "$R")" true "'$te': the connection is closed"
    is "$(rec_size)" "$before" "'$te': the upstream received nothing"
done

# ---------------------------------------------------------------------------- Host
refused "HTTP/1.1 without Host" 400 missing_host 'RFC 9112 §3\.2' \
    'send:GET /echo/nohost HTTP/1.1\r\n\r\n'
refused "HTTP/1.1 absolute-form without Host" 400 missing_host 'RFC 9112 §3\.2' \
    'send:GET http://a.example/echo/nohost HTTP/1.1\r\n\r\n'
refused "two Host headers" 400 duplicate_host 'RFC 9112 §3\.2' \
    'send:GET /echo/two HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n'
refused "Host: evil.example/x?y" 400 bad_host "Host header: '/' is not allowed" \
    'send:GET /echo/h HTTP/1.1\r\nHost: evil.example/x?y\r\n\r\n'
refused "Host: good.example, evil.example" 400 bad_host "Host header: ',' is not allowed" \
    'send:GET /echo/h HTTP/1.1\r\nHost: good.example, evil.example\r\n\r\n'
refused "Host with a space" 400 bad_host 'Host header: 0x20 is not allowed' \
    'send:GET /echo/h HTTP/1.1\r\nHost: good example\r\n\r\n'
refused "Host with userinfo" 400 bad_host 'Host header: userinfo.*RFC 9110 §4\.2\.4' \
    'send:GET /echo/h HTTP/1.1\r\nHost: user:pw@b.example\r\n\r\n'
refused "Host with a port out of range" 400 bad_host '1 to 65535.*RFC 3986 §3\.2\.3' \
    'send:GET /echo/h HTTP/1.1\r\nHost: b.example:65536\r\n\r\n'
refused "Host with a port that is not digits" 400 bad_host '1 to 65535' \
    'send:GET /echo/h HTTP/1.1\r\nHost: b.example:0x50\r\n\r\n'
refused "Host with an IPv6 address outside brackets" 400 bad_host 'brackets' \
    'send:GET /echo/h HTTP/1.1\r\nHost: ::1\r\n\r\n'
refused "Host with an unclosed IPv6 literal" 400 bad_host 'IPv6 address in brackets' \
    'send:GET /echo/h HTTP/1.1\r\nHost: [::1\r\n\r\n'
refused "Host with an empty label" 400 bad_host 'empty label' \
    'send:GET /echo/h HTTP/1.1\r\nHost: a..example\r\n\r\n'
refused "Host with a non-ASCII byte" 400 bad_host '0xc3 is not allowed' \
    'send:GET /echo/h HTTP/1.1\r\nHost: \xc3\xa9.example\r\n\r\n'

# ---------------------------------------------------------------------------- absolute-form authority
refused "absolute-form with userinfo (would have routed to a.example)" 400 bad_host \
    'authority in the request target: userinfo' \
    'send:GET http://a.example:pw@b.example/echo/x HTTP/1.1\r\nHost: b.example\r\n\r\n'
refused "absolute-form with a comma in the authority" 400 bad_host "request target: ',' is not allowed" \
    'send:GET http://a.example,b.example/echo/x HTTP/1.1\r\nHost: b.example\r\n\r\n'
refused "absolute-form with an empty authority" 400 bad_host 'no host.*RFC 9110 §4\.2\.1' \
    'send:GET http:///echo/x HTTP/1.1\r\nHost: b.example\r\n\r\n'
refused "absolute-form with a valid authority but an invalid Host" 400 bad_host "Host header: '/' is not allowed" \
    'send:GET http://a.example/echo/x HTTP/1.1\r\nHost: b.example/x\r\n\r\n'

# ---------------------------------------------------------------------------- what still passes
# (the recorder answers with what it received: request line, headers, body)
before=$(rec_size)
R=$(raw 'send:POST /echo/chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' read:1)
is "$(jqr '.responses[0].status' "$R")" 200 "a single chunked coding (any case) is served"
B=$(jqr '.responses[0].body' "$R")
is "$(jqr '.body' "$B")" hello "the chunked body reaches the upstream whole"
is "$(jqr '[.headers[] | select(.[0] | ascii_downcase == "transfer-encoding") | .[1]] | join(",")' "$B")" chunked \
    "the upstream is told chunked, once"
((before < $(rec_size))) && ok "the recorder sees what is served (so an unchanged file means nothing arrived)" ||
    not_ok "the recorder sees what is served (so an unchanged file means nothing arrived)" "size stayed $before"

R=$(raw 'send:GET HTTP://Good.Example:8080/echo/abs HTTP/1.1\r\nHost: other.example\r\n\r\n' read:1)
is "$(jqr '.responses[0].status' "$R")" 200 "a valid absolute-form target is served"
B=$(jqr '.responses[0].body' "$R")
is "$(jqr '.request_line' "$B")" "GET /echo/abs HTTP/1.1" "the upstream gets the path of the absolute-form target"
is "$(jqr '[.headers[] | select(.[0] | ascii_downcase == "x-forwarded-host") | .[1]] | join(",")' "$B")" good.example \
    "X-Forwarded-Host is the target's authority (lowercased, no port), not the Host header (RFC 9112 §3.2.2)"

R=$(raw 'send:GET /echo/v6 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n' 'send:GET /echo/dot HTTP/1.1\r\nHost: Example.COM.\r\n\r\n' read:2)
is "$(jqr '[.responses[].status] | join(",")' "$R")" "200,200" "a bracketed IPv6 Host and a Host with a trailing dot are served"
is "$(jqr '.responses[1].body | fromjson | [.headers[] | select(.[0] | ascii_downcase == "x-forwarded-host") | .[1]] | join(",")' "$R")" \
    example.com "X-Forwarded-Host drops the trailing dot and lowercases"

R=$(raw 'send:GET /echo/ten HTTP/1.0\r\n\r\n' read:1 close:3000)
is "$(jqr '.responses[0].status' "$R")" 200 "HTTP/1.0 without Host is served"

alive_after "the framing and Host requests"
done_testing
