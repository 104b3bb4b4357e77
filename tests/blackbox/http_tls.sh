#!/usr/bin/env bash
# The HTTPS listener: a certificate and key from the config, verified by curl against the
# self-signed certificate, ALPN http/1.1 (h2 when offered: tests/blackbox/http2.sh), keep-alive,
# pipelining and big bodies over TLS, and garbage on the TLS port harms nothing.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); PS=$(free_port); U1=$(free_port)
self_signed listener || not_ok "openssl makes a self-signed certificate"
upstream_start echo "$U1" || not_ok "echo upstream starts"
cat >"$T/portico.yaml" <<EOF
listen:
  - "127.0.0.1:$PP"
  - { address: "127.0.0.1:$PS", tls: { cert: "$T/listener.pem", key: "$T/listener.key" } }
workers: 2
access_log: "off"
services:
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
routes:
  - name: echo
    match: { path_prefix: "/echo/" }
    service: echo
EOF
portico_start "$T/portico.yaml" "https://127.0.0.1:$PS/healthz" --cacert "$T/listener.pem" ||
    not_ok "portico starts with an HTTPS listener"
S="https://127.0.0.1:$PS"
CA=(--cacert "$T/listener.pem")

http GET "$S/healthz" "${CA[@]}"
is "$RESP_STATUS" 200 "HTTPS: curl --cacert verifies the certificate and gets 200 from /healthz"
http GET "https://localhost:$PS/healthz" "${CA[@]}"
is "$RESP_STATUS" 200 "HTTPS: the certificate verifies for the name localhost too"
http GET "$S/echo/x?q=1" "${CA[@]}"
is "$RESP_STATUS:$(jqr .url)" "200:/echo/x?q=1" "HTTPS: a proxied request answers 200 with the upstream's body"
http GET "http://127.0.0.1:$PP/healthz"
is "$RESP_STATUS" 200 "the plain listener beside the HTTPS one still answers"

R=$(raw --port "$PS" --tls --cafile "$T/listener.pem" --servername localhost --alpn http/1.1 'send:GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n' read:1)
is "$(jqr .alpn "$R")" "http/1.1" "HTTPS: ALPN negotiates http/1.1"
R=$(raw --port "$PS" --tls --cafile "$T/listener.pem" --servername localhost --alpn h2,http/1.1 close:2000)
is "$(jqr .alpn "$R")" "h2" "HTTPS: offered h2 and http/1.1, the server picks h2"
alpn_line=$(openssl s_client -connect "127.0.0.1:$PS" -alpn http/1.1 -CAfile "$T/listener.pem" -servername localhost </dev/null 2>/dev/null | grep -E '^ALPN protocol')
is "$alpn_line" "ALPN protocol: http/1.1" "HTTPS: openssl s_client sees ALPN http/1.1"

conns=$(curl -s "${CA[@]}" -w '%{num_connects} ' -o /dev/null "$S/echo/a" -o /dev/null "$S/echo/b" -o /dev/null "$S/echo/c")
is "$conns" "1 0 0 " "HTTPS: keep-alive reuses one TLS connection for three requests"

R=$(raw --port "$PS" --tls --cafile "$T/listener.pem" --servername localhost \
    'send:GET /echo/t1 HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /echo/t3 HTTP/1.1\r\nHost: t\r\n\r\n' read:3)
is "$(jqr '[.responses[].status] | join(",")' "$R")" "200,200,200" "HTTPS: three pipelined requests get three 200s in order"

head -c $((5 * 1024 * 1024)) /dev/urandom >"$T/tls.bin"
want=$(sha256sum "$T/tls.bin" | cut -d' ' -f1)
http POST "$S/echo/upload" "${CA[@]}" --data-binary @"$T/tls.bin"
is "$(jqr .body_sha256)" "$want" "HTTPS: a 5 MB upload arrives intact"
got=$(curl -s "${CA[@]}" "$S/echo/dl?bytes=$((5 * 1024 * 1024))" | sha256sum | cut -d' ' -f1)
direct=$(curl -s "http://127.0.0.1:$U1/dl?bytes=$((5 * 1024 * 1024))" | sha256sum | cut -d' ' -f1)
is "$got" "$direct" "HTTPS: a 5 MB download arrives intact"

# Plain HTTP to the TLS port, and TLS-looking garbage: closed, nothing else harmed.
R=$(raw --port "$PS" 'send:GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n' close:5000)
is "$(jqr .closed "$R")" true "plain HTTP sent to the HTTPS port: the connection is closed"
R=$(raw --port "$PS" 'send:\x16\x03\x01\x00\x05hello garbage that is not a ClientHello' close:5000)
is "$(jqr .closed "$R")" true "a bogus TLS record: the connection is closed"
http GET "$S/healthz" "${CA[@]}"
is "$RESP_STATUS" 200 "HTTPS still answers after bad handshakes"

alive_after "TLS traffic"
done_testing
