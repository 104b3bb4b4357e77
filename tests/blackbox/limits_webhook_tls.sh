#!/usr/bin/env bash
# The budget webhook over https on the real binary: a TLS receiver on loopback whose
# certificate a test CA signed gets the soft-threshold POST when that CA is trusted
# (SSL_CERT_FILE); a receiver with a certificate nobody vouches for gets nothing, and the
# refusal is logged by scheme, host and port, never the URL's path (often its secret).
. "$(dirname "$0")/lib.sh"

PP=$(free_port); MA=$(free_port); GOOD=$(free_port); BAD=$(free_port)
test_ca && ca_signed good && self_signed bad || { not_ok "test certificates are made"; done_testing; exit 1; }
ai_mock_start a "$MA" || not_ok "the provider upstream starts"
receiver() { # receiver NAME PORT CERT: a recording HTTPS receiver
    node "$UPSTREAMS/recorder.mjs" --port "$2" --out "$T/$1.raw" --tls "$T/$3.pem" "$T/$3.key" >"$T/$1.log" 2>&1 &
    _bb_pids+=($!)
    wait_port "$2"
}
receiver good "$GOOD" good || not_ok "the trusted receiver starts"
receiver bad "$BAD" bad || not_ok "the untrusted receiver starts"

cat >"$T/portico.yaml" <<EOF2
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: "off"
data_dir: $T/data
providers:
  - name: dear
    type: openai
    base_url: "http://127.0.0.1:$MA/v1"
    api_key: k
    prices: { gpt-4o: { input: 300, output: 1000 } }
models:
  - { name: trusted, targets: [{ provider: dear, model: gpt-4o }] }
  - { name: untrusted, targets: [{ provider: dear, model: gpt-4o }] }
policies:
  - name: trusted
    applies_to: { model: trusted }
    budget: { usd_per_day: 0.01, soft_at: 0.5, webhook: "https://localhost:$GOOD/hooks/trusted-s3cret" }
  - name: untrusted
    applies_to: { model: untrusted }
    budget: { usd_per_day: 0.01, soft_at: 0.5, webhook: "https://localhost:$BAD/hooks/untrusted-s3cret" }
EOF2
SSL_CERT_FILE=$T/ca.pem portico_start "$T/portico.yaml" || { not_ok "portico starts"; done_testing; exit 1; }

chat() {
    http POST "http://127.0.0.1:$PP/v1/chat/completions" -H 'content-type: application/json' \
        -d "{\"model\":\"$1\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
}
# Each call costs 11 x $300 + 3 x $1,000 per million tokens = $0.0063: past the soft 50%.
chat trusted
is "$RESP_STATUS" 200 "a call past the soft threshold of a budget with an https webhook is served"
check "the receiver whose certificate the trusted CA signed gets the POST" \
    wait_for 10 grep -q '"event":"budget.soft_limit"' "$T/good.raw"
like "$(head -1 "$T/good.raw")" '^POST /hooks/trusted-s3cret HTTP/1.1' "on the configured path, over TLS"
like "$(grep -o '{"event".*}' "$T/good.raw" | head -1)" '"policy":"trusted","budget":"usd_per_day"' \
    "naming the policy and the budget"
check "the delivery is logged" wait_log "budget webhook https://localhost:$GOOD answered 200" "$T/portico.err"

chat untrusted
is "$RESP_STATUS" 200 "a call past the soft threshold of a budget whose webhook is not trusted is served"
check "the refused certificate is logged" \
    wait_log "budget webhook https://localhost:$BAD was not reached .*(TLS|certificate)" "$T/portico.err"
is "$(stat -c %s "$T/bad.raw")" 0 "the untrusted receiver got no byte of the POST"
check "no log line names a webhook's path" bash -c "! grep -q 's3cret' '$T/portico.err' '$T/portico.out'"
alive_after "https budget webhooks"

portico_stop
done_testing
