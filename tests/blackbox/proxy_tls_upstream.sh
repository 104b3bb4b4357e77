#!/usr/bin/env bash
# HTTPS upstreams: verified against a per-service CA file, refused (502, with the verification
# failure in the error log) without it, accepted with insecure_skip_verify, SNI set from config,
# a name mismatch refused, and pooled TLS connections reused.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); UT=$(free_port)
{ test_ca && ca_signed upstream; } || not_ok "openssl makes a test CA and an upstream certificate"
upstream_start tls "$UT" --tls-cert "$T/upstream.pem" --tls-key "$T/upstream.key" || not_ok "HTTPS upstream starts"
cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "off"
services:
  - name: with-ca
    targets: ["https://127.0.0.1:$UT"]
    tls: { ca_file: "$T/ca.pem" }
  - name: no-ca
    targets: ["https://127.0.0.1:$UT"]
    retries: 0
  - name: insecure
    targets: ["https://127.0.0.1:$UT"]
    tls: { insecure_skip_verify: true }
  - name: sni-good
    targets: ["https://127.0.0.1:$UT"]
    tls: { ca_file: "$T/ca.pem", sni: "localhost" }
  - name: sni-wrong
    targets: ["https://127.0.0.1:$UT"]
    tls: { ca_file: "$T/ca.pem", sni: "wrong.example" }
    retries: 0
routes:
  - { name: with-ca, match: { path_prefix: "/ca/" }, service: with-ca }
  - { name: no-ca, match: { path_prefix: "/noca/" }, service: no-ca }
  - { name: insecure, match: { path_prefix: "/insecure/" }, service: insecure }
  - { name: sni-good, match: { path_prefix: "/sni/" }, service: sni-good }
  - { name: sni-wrong, match: { path_prefix: "/badsni/" }, service: sni-wrong }
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts with the test config"

get '/ca/x?q=1'
is "$RESP_STATUS:$(jqr .name)" "200:tls" "HTTPS upstream with ca_file: 200 from the upstream"
is "$(jqr .url)" "/ca/x?q=1" "HTTPS upstream with ca_file: path and query reach the upstream"

errlines_before=$(wc -l <"$T/portico.err" 2>/dev/null || echo 0)
get /noca/x
is "$RESP_STATUS" 502 "HTTPS upstream signed by an unknown CA, no ca_file: 502"
is "$(jqr .error.service)" "no-ca" "unknown CA: the 502 names the service"
wait_log '[Vv]erif|issuer|[Cc]ertificate' "$T/portico.err" "$errlines_before"
newlog=$(tail -n +$((errlines_before + 1)) "$T/portico.err")
like "$newlog" '[Vv]erif|issuer|[Cc]ertificate' "unknown CA: the error log names the verification failure"
if grep -q 'BEGIN\|PRIVATE' <<<"$newlog"; then not_ok "unknown CA: the error log holds no key or certificate material"
else ok "unknown CA: the error log holds no key or certificate material"; fi

get /insecure/x
is "$RESP_STATUS:$(jqr .name)" "200:tls" "insecure_skip_verify: true: 200 from the upstream"

get /sni/x
is "$RESP_STATUS" 200 "tls.sni: localhost verifies against the certificate"
is "$(jqr .tls_servername)" "localhost" "tls.sni: the upstream receives SNI 'localhost'"

get /badsni/x
is "$RESP_STATUS" 502 "tls.sni naming a host the certificate does not cover: 502"

ctl_tls_conns() { local n; n=$(curl -sk -m 5 "https://127.0.0.1:$UT/__ctl/stats" | jq .conns_used 2>/dev/null); echo "${n:-0}"; }
get /ca/warm
before=$(ctl_tls_conns)
bad=0; for i in $(seq 1 10); do [ "$(status_of "http://127.0.0.1:$PP/ca/r$i")" = 200 ] || bad=$((bad + 1)); done
is "$bad" 0 "HTTPS upstream: 10 sequential requests answer 200"
used=$(( $(ctl_tls_conns) - before ))
if ((used >= 0 && used <= 1)); then ok "HTTPS upstream: pooled TLS connections are reused (10 requests, $used new connections)"
else not_ok "HTTPS upstream: pooled TLS connections are reused" "$used new upstream connections for 10 requests"; fi

alive_after "HTTPS upstreams"
done_testing
