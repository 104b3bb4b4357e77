#!/usr/bin/env bash
# A listener's TLS options with real clients: min_version 1.3 refuses a TLS 1.2-only client;
# a cipher list refuses a client offering none of it; client_ca makes mTLS: without a
# certificate, or with one from another CA, the handshake fails; with one, the call passes and
# the verified subject goes upstream in subject_header, where a client's own copy of that header
# never does; client_cert: optional lets a client without a certificate in. Bad options are
# refused with the field named. ocsp_response staples an OCSP response (made by `openssl ocsp`
# acting as the CA's responder) to handshakes that ask for one; a response that is not "good"
# for the certificate, or that cannot be matched to it, stops the start with the reason.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port); P13=$(free_port); PC=$(free_port); PM=$(free_port); PO=$(free_port)
upstream_start echo "$U1" || not_ok "upstream starts"
test_ca && ca_signed server || not_ok "test certificates are made"
# client certificates: one from the test CA, one from a CA the listener does not trust
client_cert() { # NAME SUBJECT CA
    openssl req -newkey rsa:2048 -nodes -keyout "$T/$1.key" -out "$T/$1.csr" -subj "$2" >/dev/null 2>&1 &&
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' >"$T/$1.ext" &&
    openssl x509 -req -in "$T/$1.csr" -CA "$T/$3.pem" -CAkey "$T/$3.key" -CAcreateserial \
        -out "$T/$1.pem" -days 2 -extfile "$T/$1.ext" >/dev/null 2>&1
}
client_cert billing "/O=Acme/CN=billing" ca || not_ok "a client certificate is made"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other-ca.key" -out "$T/other-ca.pem" -days 2 \
    -subj "/CN=Other CA" -addext "basicConstraints=critical,CA:TRUE" >/dev/null 2>&1
client_cert stranger "/CN=stranger" other-ca || not_ok "a client certificate from another CA is made"

TLS="cert: $T/server.pem, key: $T/server.key"
cat >"$T/portico.yaml" <<EOF
listen:
  - "127.0.0.1:$PP"
  - { address: "127.0.0.1:$P13", tls: { $TLS, min_version: "1.3" } }
  - { address: "127.0.0.1:$PC", tls: { $TLS, ciphers: "ECDHE-RSA-AES256-GCM-SHA384" } }
  - { address: "127.0.0.1:$PM", tls: { $TLS, client_ca: $T/ca.pem, subject_header: X-Client-Subject } }
  - { address: "127.0.0.1:$PO", tls: { $TLS, client_ca: $T/ca.pem, client_cert: optional, subject_header: X-Client-Subject } }
workers: 1
access_log: "off"
services:
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
routes:
  - name: all
    match: { path_prefix: "/" }
    service: echo
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts with TLS options"

tls_get() { # PORT [curl args]: RESP_STATUS etc. over TLS, verified by the test CA
    local port=$1; shift
    http GET "https://localhost:$port/x" --cacert "$T/ca.pem" --resolve "localhost:$port:127.0.0.1" "$@"
}

# ---------------------------------------------------------------------------- versions and ciphers
tls_get "$P13" --tlsv1.3
is "$RESP_STATUS" 200 "min_version 1.3: a TLS 1.3 client passes"
tls_get "$P13" --tlsv1.2 --tls-max 1.2
is "$RESP_STATUS" 000 "min_version 1.3: a client that stops at TLS 1.2 cannot connect"
tls_get "$PC" --tls-max 1.2 --ciphers ECDHE-RSA-AES256-GCM-SHA384
is "$RESP_STATUS" 200 "ciphers: a TLS 1.2 client offering the listed cipher passes"
tls_get "$PC" --tls-max 1.2 --ciphers ECDHE-RSA-AES128-GCM-SHA256
is "$RESP_STATUS" 000 "ciphers: a TLS 1.2 client offering only another cipher cannot connect"

# ---------------------------------------------------------------------------- mTLS
tls_get "$PM"
is "$RESP_STATUS" 000 "client_ca: a client without a certificate cannot connect"
tls_get "$PM" --cert "$T/stranger.pem" --key "$T/stranger.key"
is "$RESP_STATUS" 000 "client_ca: a certificate from another CA is refused"
tls_get "$PM" --cert "$T/billing.pem" --key "$T/billing.key" -H 'X-Client-Subject: CN=admin'
is "$RESP_STATUS" 200 "client_ca: a certificate from the CA passes"
is "$(echo_header x-client-subject)" "CN=billing,O=Acme" "the verified subject goes upstream, the client's own copy does not"

tls_get "$PO" -H 'X-Client-Subject: CN=admin'
is "$RESP_STATUS" 200 "client_cert: optional lets a client without a certificate in"
is "$(echo_header x-client-subject)" "" "and a subject it wrote itself never reaches the upstream"
tls_get "$PO" --cert "$T/billing.pem" --key "$T/billing.key"
is "$RESP_STATUS $(echo_header x-client-subject)" "200 CN=billing,O=Acme" "client_cert: optional still verifies and passes a certificate sent"

get /x -H 'X-Client-Subject: CN=admin'
is "$(echo_header x-client-subject)" "CN=admin" "a listener without subject_header leaves the header alone"

alive_after "portico is alive after the TLS handshakes that failed"

# ---------------------------------------------------------------------------- bad options
tls_refused() { # NAME TLS_EXTRA MESSAGE_REGEX
    printf 'admin: { enabled: false }\nlisten:\n  - { address: "127.0.0.1:1", tls: { %s, %s } }\n' "$TLS" "$2" >"$T/bad.yaml"
    config_refused "$1" "$3"
}
tls_refused "TLS 1.1" 'min_version: "1.1"' "tls\.min_version: unknown min_version '1\.1' \(did you mean '1\.2'\?\)"
tls_refused "a cipher list OpenSSL takes none of" 'ciphers: "NOPE-CIPHER"' "tls\.ciphers: OpenSSL takes none of 'NOPE-CIPHER'"
tls_refused "a bad TLS 1.3 suite" 'ciphersuites: "TLS_NOPE"' "tls\.ciphersuites: OpenSSL takes none of 'TLS_NOPE'"
tls_refused "client_cert without client_ca" 'client_cert: optional' "tls\.client_cert: only applies with client_ca"
tls_refused "subject_header without client_ca" 'subject_header: X-S' "tls\.subject_header: only applies with client_ca"
tls_refused "a client_ca that is not there" "client_ca: $T/nowhere.pem" "tls\.client_ca: .*nowhere\.pem"

# ---------------------------------------------------------------------------- OCSP stapling
portico_stop
cat "$T/server.pem" "$T/ca.pem" >"$T/chain.pem"
SERIAL=$(openssl x509 -in "$T/server.pem" -noout -serial | cut -d= -f2)
EXPIRY=$(date -u -d '+2 days' +%y%m%d%H%M%SZ)
# ocsp_for STATE OUT: a response from the test CA's responder saying STATE (V good, R revoked)
ocsp_for() {
    if [ "$1" = R ]; then
        printf 'R\t%s\t%s\t%s\tunknown\t/CN=localhost\n' "$EXPIRY" "$(date -u +%y%m%d%H%M%SZ)" "$SERIAL"
    else
        printf 'V\t%s\t\t%s\tunknown\t/CN=localhost\n' "$EXPIRY" "$SERIAL"
    fi >"$T/index.txt"
    openssl ocsp -issuer "$T/ca.pem" -cert "$T/server.pem" -no_nonce -reqout "$T/ocsp.req" >/dev/null 2>&1 &&
        openssl ocsp -index "$T/index.txt" -CA "$T/ca.pem" -rsigner "$T/ca.pem" -rkey "$T/ca.key" \
            -reqin "$T/ocsp.req" -respout "$2" -ndays 1 >/dev/null 2>&1
}
ocsp_for V "$T/good.der" && ocsp_for R "$T/revoked.der" || not_ok "the OCSP responses are made"
PS=$(free_port)
ocsp_conf() { # CERT RESPONSE
    cat <<EOF
listen:
  - "127.0.0.1:$PP"
  - { address: "127.0.0.1:$PS", tls: { cert: $1, key: $T/server.key, ocsp_response: $2 } }
  - { address: "127.0.0.1:$P13", tls: { $TLS } }
workers: 1
access_log: "off"
services: [{ name: echo, targets: ["http://127.0.0.1:$U1"] }]
routes: [{ name: all, match: { path_prefix: "/" }, service: echo }]
EOF
}
ocsp_conf "$T/chain.pem" "$T/good.der" >"$T/ocsp.yaml"
portico_start "$T/ocsp.yaml" || not_ok "portico starts with an OCSP response to staple"
status_of_tls() { openssl s_client -connect "127.0.0.1:$1" -servername localhost -CAfile "$T/ca.pem" -status </dev/null 2>/dev/null; }
OUT=$(status_of_tls "$PS")
like "$OUT" "OCSP Response Status: successful" "a client that asks gets the stapled response"
like "$OUT" "Cert Status: good" "saying the certificate is good"
like "$OUT" "Verify return code: 0 \(ok\)" "and the handshake verifies"
like "$(status_of_tls "$P13")" "OCSP response: no response sent" "a listener without ocsp_response staples nothing"
tls_get "$PS"
is "$RESP_STATUS" 200 "a client that does not ask is served as before"
portico_stop
# refused_start NAME RESPONSE-OR-CERT... : portico does not start, and its error log says MESSAGE
refused_start() { # NAME CERT RESPONSE MESSAGE_REGEX
    local n
    n=$(log_lines "$T/portico.err")
    ocsp_conf "$2" "$3" >"$T/ocsp.yaml"
    if portico_start "$T/ocsp.yaml" >/dev/null 2>&1; then not_ok "$1 stops the start"; portico_stop
    else ok "$1 stops the start"; fi
    like "$(tail -n +$((n + 1)) "$T/portico.err")" "$4" "$1: the error says why"
}
refused_start "a revoked response" "$T/chain.pem" "$T/revoked.der" \
    "OCSP response .*revoked\.der: the responder says the certificate is revoked"
refused_start "a response that cannot be matched" "$T/server.pem" "$T/good.der" "must hold the issuer's certificate"
refused_start "a file that is no OCSP response" "$T/chain.pem" "$T/ocsp.req" "not a DER OCSP response"
done_testing
