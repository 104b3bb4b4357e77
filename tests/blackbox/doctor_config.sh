#!/usr/bin/env bash
# `portico doctor -c FILE`: every listener, service target and AI provider of a configuration
# checked, one section each, the exit status the worst of them; a file that does not load is
# refused with its error.
. "$(dirname "$0")/lib.sh"

U1=$(free_port); MA=$(free_port); DEAD=$(free_port); PP=$(free_port)
upstream_start one "$U1" || not_ok "upstream one starts"
ai_mock_start mock "$MA" || not_ok "the provider upstream starts"
cat >"$T/broken.yaml" <<EOF2
listen: ["127.0.0.1:$PP"]
services:
  - name: up
    targets: ["http://127.0.0.1:$U1", "http://127.0.0.1:$DEAD"]
providers:
  - { name: ai, type: openai, base_url: "http://127.0.0.1:$MA/v1", api_key: k }
models:
  - { name: m, targets: [{ provider: ai, model: x }] }
EOF2
out=$("$PORTICO" doctor -c "$T/broken.yaml" --json --timeout 300); rc=$?
is "$rc" 2 "a configuration with a dead target: exit 2"
is "$(jq -r '.objects | length' <<<"$out")" 4 "four objects: the listener, two targets, the provider"
is "$(jq -r '[.objects[] | .kind] | join(",")' <<<"$out")" "listener,service target,service target,AI provider" \
    "in the file's order"
is "$(jq -r ".objects[] | select(.target == \"127.0.0.1:$U1\") | .report.verdict" <<<"$out")" healthy \
    "the live target is healthy"
is "$(jq -r ".objects[] | select(.target == \"127.0.0.1:$DEAD\") | .report.root_cause.id" <<<"$out")" \
    nothing_listening "the dead target: nothing listening"
is "$(jq -r '.objects[] | select(.kind == "AI provider") | .report.verdict' <<<"$out")" healthy \
    "the AI provider's base URL is reachable"
text=$("$PORTICO" doctor -c "$T/broken.yaml" --timeout 300)
like "$text" "service target up: 127.0.0.1:$DEAD" "the text report has a section per object"
like "$text" "4 objects checked; exit 2" "and a last line with the count and the status"

# --check-keys: each key tried with the provider's cheapest call; a refused one fails, and no
# key is ever printed
GP=$(free_port)
ai_mock_start guard "$GP" good-key-77 || not_ok "a key-checking provider upstream starts"
cat >"$T/keys.yaml" <<EOF2
listen: ["127.0.0.1:$PP"]
providers:
  - { name: oa, type: openai, base_url: "http://127.0.0.1:$GP/v1", api_keys: [good-key-77, stale-key-99] }
  - { name: ant, type: anthropic, base_url: "http://127.0.0.1:$GP", api_key: good-key-77 }
models:
  - { name: m, targets: [{ provider: oa, model: x }] }
EOF2
out=$("$PORTICO" doctor -c "$T/keys.yaml" --json --check-keys --timeout 300); rc=$?
is "$rc" 2 "--check-keys with a refused key: exit 2"
is "$(jq -c '[.objects[] | select(.name == "oa") | .keys[] | .result]' <<<"$out")" '["accepted","refused"]' \
    "the OpenAI provider's first key is accepted, the second refused"
is "$(jq -r '.objects[] | select(.name == "ant") | .keys[0].result' <<<"$out")" accepted \
    "the Anthropic provider's key is accepted (x-api-key)"
check "no key is printed" bash -c "! grep -q -e good-key-77 -e stale-key-99 <<<'$out'"

cat >"$T/fine.yaml" <<EOF2
listen: ["127.0.0.1:$PP"]
services:
  - name: up
    targets: ["http://127.0.0.1:$U1"]
    health_check: { path: /healthz }
EOF2
portico_start "$T/fine.yaml" || not_ok "portico serves the fine configuration"
out=$("$PORTICO" doctor -c "$T/fine.yaml" --json)
is "$?" 0 "everything reachable, the gateway's own listener included: exit 0"
is "$(jq -r '.objects[1].target' <<<"$out")" "http://127.0.0.1:$U1/healthz" "a target with a health check is asked for its path"

printf 'services:\n  - name: x\n    targets: ["ftp://nowhere"]\n' >"$T/bad.yaml"
err=$("$PORTICO" doctor -c "$T/bad.yaml" 2>&1); rc=$?
is "$rc" 64 "a configuration that does not load: exit 64"
like "$err" "bad.yaml:3" "naming the line at fault"
done_testing
