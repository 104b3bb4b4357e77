#!/usr/bin/env bash
# `portico check-config`: the summary of everything a good file loads (listeners, services,
# routes in the order they are tried, providers, models), and for a bad file every error at
# once, one "FILE:LINE: KEY: problem" line each, AI sections included.
. "$(dirname "$0")/lib.sh"

export PT_TEST_CC_KEY=sk-from-env-not-shown
cat >"$T/good.yaml" <<'EOF'
listen: ["127.0.0.1:18080"]
workers: 2
services:
  - name: web
    targets: ["http://127.0.0.1:9001", { url: "http://127.0.0.1:9002", weight: 3 }]
    lb: weighted
routes:
  - name: site
    match: { path_prefix: "/" }
    service: web
  - name: api
    match: { host: api.example.test, path_prefix: "/api" }
    service: web
providers:
  - { name: oa, type: openai, api_key: "${PT_TEST_CC_KEY}" }
  - { name: local, type: openai_compatible, base_url: "http://127.0.0.1:11434/v1" }
models:
  - { name: fast, targets: [{ provider: oa, model: gpt-4o-mini }], fallbacks: [slow] }
  - { name: slow, targets: [{ provider: local, model: llama }] }
EOF
"$PORTICO" check-config -c "$T/good.yaml" >"$T/out" 2>"$T/err"; rc=$?
is "$rc" 0 "a good file: exit 0"
OUT=$(cat "$T/out")
is "$(head -n 1 "$T/out")" "$T/good.yaml: ok (1 listeners, 1 services, 4 routes, 2 providers, 2 models; 2 warnings)" \
    "the first line counts what was loaded"
like "$OUT" $'\n  web \\(weighted\\): http://127.0.0.1:9001 \\(weight 1\\) http://127.0.0.1:9002 \\(weight 3\\)\n' \
    "each service with its balancer and targets"
like "$OUT" $'routes: 4 \\(in the order they are tried\\)\n  api: host api.example.test path_prefix /api -> service web\n  ai-gemini: path_prefix /v1beta/ -> AI endpoints \\(default\\)\n  ai: path_prefix /v1/ -> AI endpoints \\(default\\)\n  site: path_prefix / -> service web\n' \
    "routes in precedence order, the default AI routes among them"
like "$OUT" $'\n  oa \\(openai\\): https://api.openai.com/v1, 1 key\n  local \\(openai_compatible\\): http://127.0.0.1:11434/v1, 0 keys\n' \
    "each provider with its type, base URL and key count"
like "$OUT" $'\n  fast -> oa/gpt-4o-mini; fallbacks: slow\n  slow -> local/llama$' "each model with its targets and fallbacks"
[[ "$OUT$(cat "$T/err")" == *sk-from-env* ]] && not_ok "no key value in the output" || ok "no key value in the output"

cat >"$T/bad.yaml" <<'EOF'
listen: ["127.0.0.1:18080"]
workers: 0
services:
  - name: web
    targets: ["http://127.0.0.1:9001"]
    timeouts: { conect: 1s }
routes:
  - name: site
    service: wbe
providers:
  - name: oa
    type: openai
    api_kye: k
models:
  - { name: fast, targets: [{ provider: oa, model: gpt-4o-mini, weight: 0 }] }
EOF
"$PORTICO" check-config -c "$T/bad.yaml" >"$T/out" 2>"$T/err"; rc=$?
is "$rc" 1 "a bad file: exit 1"
F=$T/bad.yaml
is "$(cat "$T/err")" "$F:2: workers: must be between 1 and 256, got '0'
$F:6: services[0].timeouts.conect: unknown key (did you mean 'connect'?)
$F:9: routes[0].service: unknown service 'wbe' (did you mean 'web'?)
$F:13: providers[0].api_kye: unknown key (did you mean 'api_key'?)
$F:15: models[0].targets[0].weight: must be between 1 and 1000000, got '0'" \
    "every error of the file at once, in file order, each as FILE:LINE: KEY: problem"
is "$(cat "$T/out")" "" "nothing on stdout for a bad file"

done_testing
