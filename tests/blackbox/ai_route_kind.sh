#!/usr/bin/env bash
# AI as a route kind: the router resolves every request. With a `path_prefix: "/"` route to a
# web app and models set, the default AI route exists under /v1/ only, so GET /models reaches
# the web app and GET /v1/models the AI layer; a route with `ai: {}` and a host match serves
# the AI endpoints on that host only; an unknown /v1/... path on an AI route answers 404 in
# OpenAI's error shape (Anthropic's with anthropic-version). No provider is called here: the
# model list and errors are answered by the gateway itself.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); UW=$(free_port)
upstream_start web "$UW" || not_ok "web upstream starts"

# web_and_ai_config [ROUTE_LINES]: a '/' route to the web app, one provider and one model,
# plus ROUTE_LINES (more entries of routes:).
web_and_ai_config() {
    cat <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "off"
services:
  - name: web
    targets: ["http://127.0.0.1:$UW"]
routes:
  - name: web
    match: { path_prefix: "/" }
    service: web
${1:-}
providers:
  - { name: p, type: openai, base_url: "http://127.0.0.1:9/v1", api_key: k }
models:
  - { name: public-model, targets: [{ provider: p, model: gpt-4o }] }
EOF
}

# ---------------------------------------------------------------------------- default AI route
web_and_ai_config >"$T/default.yaml"
portico_start "$T/default.yaml" || not_ok "portico starts with a '/' route and models"

get /models
is "$RESP_STATUS $(jqr .name) $(jqr .path)" "200 web /models" "GET /models reaches the web app, not the AI layer"
get /chat/completions
is "$RESP_STATUS $(jqr .name)" "200 web" "GET /chat/completions outside /v1/ reaches the web app"
get /v1/models
is "$RESP_STATUS $(jqr '.object') $(jqr '.data[0].id')" "200 list public-model" "GET /v1/models is the AI layer's"
get /v1/foo
is "$RESP_STATUS $(jqr .error.type)" "404 invalid_request_error" "unknown /v1/foo: 404 in OpenAI's error shape"
like "$(jqr .error.message)" "GET /v1/foo" "the 404 names method and path"
is "$(jqr 'has("type")')" false "no top-level .type (that would be Anthropic's shape)"
get /v1/foo -H 'anthropic-version: 2023-06-01'
is "$RESP_STATUS $(jqr .type) $(jqr .error.type)" "404 error not_found_error" \
    "unknown /v1/foo with anthropic-version: 404 in Anthropic's error shape"
is "$(up_count "$UW")" 2 "the web app saw exactly the two requests routed to it"
portico_stop

# ---------------------------------------------------------------------------- ai: {} on a host
web_and_ai_config "  - name: llm
    match: { host: ai.example.test }
    ai: {}" >"$T/host.yaml"
portico_start "$T/host.yaml" || not_ok "portico starts with an ai: {} route on a host"
get /v1/models -H 'Host: ai.example.test'
is "$RESP_STATUS $(jqr '.data[0].id')" "200 public-model" "the AI route serves /v1/models on its host"
get /models -H 'Host: ai.example.test'
is "$RESP_STATUS $(jqr '.data[0].id')" "200 public-model" "on its host the AI route also takes /models"
get /v1/models -H 'Host: www.example.test'
is "$RESP_STATUS $(jqr .name) $(jqr .path)" "200 web /v1/models" \
    "on another host /v1/models goes to the web app: no default AI route when one is declared"
get /v1/nothing-here -H 'Host: ai.example.test'
is "$RESP_STATUS $(jqr .error.type)" "404 invalid_request_error" "unknown path on the AI host: OpenAI 404"
portico_stop

# ---------------------------------------------------------------------------- check-config
"$PORTICO" check-config -c "$T/default.yaml" >"$T/cc.out" 2>"$T/cc.err"; rc=$?
is "$rc" 0 "check-config accepts the '/' route with models (warnings do not fail it)"
like "$(cat "$T/cc.err")" "warning: AI route 'ai' \(path_prefix /v1/\) shadows route 'web' \(path_prefix /\)" \
    "check-config warns that the default AI route shadows the '/' route under /v1/"
"$PORTICO" check-config -c "$T/host.yaml" >"$T/cc.out" 2>"$T/cc.err"; rc=$?
like "$(cat "$T/cc.err")" "warning: AI route 'llm' \(host ai.example.test path_prefix /\) shadows route 'web'" \
    "check-config warns when a declared AI route on a host shadows the '/' route there"
cat >"$T/legacy.yaml" <<EOF
services:
  - name: web
    targets: ["http://127.0.0.1:$UW"]
routes:
  - name: llm
    match: { path_prefix: "/v1/" }
    ai: {}
  - name: legacy
    match: { path: "/v1/legacy" }
    service: web
providers:
  - { name: p, type: openai, base_url: "http://127.0.0.1:9/v1", api_key: k }
models:
  - { name: public-model, targets: [{ provider: p, model: gpt-4o }] }
EOF
"$PORTICO" check-config -c "$T/legacy.yaml" >"$T/cc.out" 2>"$T/cc.err"
like "$(cat "$T/cc.err")" "warning: route 'legacy' \(path /v1/legacy\) shadows AI route 'llm' \(path_prefix /v1/\)" \
    "check-config warns when another route shadows an AI route"
is "$(grep -c warning "$T/cc.err")" 1 "and says it once"

done_testing
