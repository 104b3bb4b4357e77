#!/usr/bin/env bash
# Tracing: W3C traceparent from the client (or started by Portico) goes upstream with a new
# parent id per attempt; spans reach a local OTLP/HTTP receiver with the right parents: the
# gateway span is the child of the client's span, each upstream attempt the child of the
# gateway span and the parent the upstream saw; an AI call's provider span carries the model
# and the tokens. A malformed traceparent starts a new trace; an unsampled one is passed on but
# not exported. The trace id is in the access log and the call log (GET /admin/v1/calls?trace_id=).
# A collector that is down costs nothing: traffic flows and the dropped spans are counted.
# An https:// collector gets the spans when its certificate is trusted (SSL_CERT_FILE), and
# none when it is not: those exports count as failures.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); AP=$(free_port); U1=$(free_port); MA=$(free_port); OT=$(free_port); DEAD=$(free_port)
D=$T/data

otlp_start() {
    node "$UPSTREAMS/otlp.mjs" --port "$OT" >>"$T/otlp.log" 2>&1 &
    UP_PID[otlp]=$!
    wait_for 10 answers_200 "http://127.0.0.1:$OT/__ctl/stats" || note "the OTLP receiver did not start: $(tail -n 3 "$T/otlp.log")"
}
spans() { curl -s -m 5 "http://127.0.0.1:$OT/__ctl/spans"; }
# span_count TRACE [JQ-CONDITION]: spans of TRACE the receiver holds (meeting the condition).
span_count() { spans | jq --arg t "$1" "[.[] | select(.traceId == \$t) | select(${2:-true})] | length"; }
has_spans() { (($(span_count "$1" "${3:-true}") >= $2)); }
# span_of TRACE KIND: the first span of TRACE of that kind (2 server, 3 client), as JSON.
span_of() { spans | jq -c --arg t "$1" --argjson k "$2" '[.[] | select(.traceId == $t and .kind == $k)][0]'; }
# upstream_hdr NAME: the values of the header NAME the echo upstream saw ("|"-joined, "" when none).
upstream_hdr() { jqr "[.headers[] | select(.[0] | ascii_downcase == \"$1\") | .[1]] | join(\"|\")"; }
ok_if() { if eval "$1"; then ok "$2"; else not_ok "$2" "${@:3}"; fi; }

upstream_start echo "$U1" || not_ok "echo upstream starts"
ai_mock_start mock "$MA" || not_ok "the provider upstream starts"
otlp_start

cat >"$T/portico.yaml" <<YAML
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: $T/access.log
data_dir: $D
admin: { listen: "127.0.0.1:$AP" }
call_log: {}
tracing:
  otlp: { endpoint: "http://127.0.0.1:$OT/v1/traces", headers: { x-collector-key: k1 }, timeout: 1s, retries: 1 }
  sample: 1.0
  service_name: portico-test
  flush_interval: 20ms
services:
  - { name: echo, targets: ["http://127.0.0.1:$U1"] }
  - { name: two, targets: ["http://127.0.0.1:$DEAD", "http://127.0.0.1:$U1"], retries: 1 }
providers:
  - { name: ok, type: openai, base_url: "http://127.0.0.1:$MA/v1", api_key: k }
models:
  - { name: ok-model, targets: [{ provider: ok, model: gpt-4o }] }
routes:
  - { name: echo, match: { path_prefix: "/echo/" }, service: echo }
  - { name: two, match: { path_prefix: "/two/" }, service: two }
  - { name: llm, match: { path_prefix: "/v1/" }, ai: {} }
YAML
portico_start "$T/portico.yaml" || not_ok "portico starts"

# ---- a client's traceparent is continued
TRACE=0af7651916cd43dd8448eb211c80319c
CLIENT_SPAN=b7ad6b7169203331
get /echo/a -H "traceparent: 00-$TRACE-$CLIENT_SPAN-01" -H "tracestate: rojo=00f067aa0ba902b7" -H "X-Request-Id: traced-1"
is "$RESP_STATUS" 200 "a request with a traceparent passes"
UP_TP=$(upstream_hdr traceparent)
like "$UP_TP" "^00-$TRACE-[0-9a-f]{16}-01$" "the upstream gets one traceparent with the client's trace id, sampled"
UP_SPAN=$(cut -d- -f3 <<<"$UP_TP")
ok_if '[ -n "$UP_SPAN" ] && [ "$UP_SPAN" != "$CLIENT_SPAN" ] && [ "$UP_SPAN" != 0000000000000000 ]' \
    "the upstream's parent id is a new span, not the client's" "upstream saw: $UP_TP"
is "$(upstream_hdr tracestate)" "rojo=00f067aa0ba902b7" "tracestate is passed on unchanged"

wait_for 10 has_spans "$TRACE" 2 || not_ok "the receiver gets the request's spans" "$(spans | head -c 600)"
GW=$(span_of "$TRACE" 2)
UPS=$(span_of "$TRACE" 3)
is "$(jq -r .parentSpanId <<<"$GW")" "$CLIENT_SPAN" "the gateway span's parent is the client's span"
is "$(jq -r .spanId <<<"$UPS")" "$UP_SPAN" "the upstream attempt span is the parent id the upstream saw"
is "$(jq -r .parentSpanId <<<"$UPS")" "$(jq -r .spanId <<<"$GW")" "the attempt span is the gateway span's child"
is "$(jq -r '.attributes["http.response.status_code"]' <<<"$GW")" 200 "the gateway span has the status"
is "$(jq -r '.attributes["http.request.method"] + " " + .attributes["portico.route"] + " " + .attributes["portico.request_id"]' <<<"$GW")" \
    "GET echo traced-1" "the gateway span has the method, the route and the request id"
is "$(jq -r '.attributes["server.port"]' <<<"$UPS")" "$U1" "the attempt span names the target's port"
is "$(jq -r .service <<<"$GW")" portico-test "the resource carries service.name from the configuration"
ok_if '(( $(jq -r .endTimeUnixNano <<<"$GW") >= $(jq -r .endTimeUnixNano <<<"$UPS") ))' "the attempt ends within the gateway span"

# ---- the trace id in the access log and the call log
if wait_log "\"request_id\":\"traced-1\".*\"trace_id\":\"$TRACE\",\"span_id\":\"$(jq -r .spanId <<<"$GW")\"" "$T/access.log"; then
    ok "the access log line carries the trace id and the gateway span id"
else
    not_ok "the access log line carries the trace id and the gateway span id" "$(grep traced-1 "$T/access.log")"
fi
wait_for 10 admin_answers || not_ok "the admin API answers"
ADMIN_TOKEN=$(cat "$D/admin-token")
calls_for_trace() {
    http GET "http://127.0.0.1:$AP/admin/v1/calls?trace_id=$TRACE" -H "Authorization: Bearer $ADMIN_TOKEN"
    [ "$(jqr '.items | length')" = 1 ]
}
wait_for 10 calls_for_trace || not_ok "the call log finds the call by trace id" "$RESP_STATUS $RESP_BODY"
is "$(jqr '.items[0].request_id + " " + .items[0].trace_id')" "traced-1 $TRACE" "GET /admin/v1/calls?trace_id= shows the call with its trace id"

# ---- an AI call: the provider span with model and tokens
AI_TRACE=4bf92f3577b34da6a3ce929d0e0e4736
http POST "http://127.0.0.1:$PP/v1/chat/completions" -H "traceparent: 00-$AI_TRACE-00f067aa0ba902b7-01" \
    -H 'content-type: application/json' -d '{"model":"ok-model","messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS" 200 "an AI call with a traceparent passes"
wait_for 10 has_spans "$AI_TRACE" 2 || not_ok "the receiver gets the AI call's spans" "$(spans | head -c 600)"
PROV=$(span_of "$AI_TRACE" 3)
AGW=$(span_of "$AI_TRACE" 2)
is "$(jq -r '[.attributes["gen_ai.system"], .attributes["gen_ai.request.model"], .attributes["gen_ai.usage.input_tokens"], .attributes["gen_ai.usage.output_tokens"]] | map(tostring) | join(" ")' <<<"$PROV")" \
    "openai gpt-4o 11 3" "the provider span has gen_ai.system, the model and the tokens"
is "$(jq -r .parentSpanId <<<"$PROV")" "$(jq -r .spanId <<<"$AGW")" "the provider span is the gateway span's child"
MOCK_TP=$(curl -s "http://127.0.0.1:$MA/_mock/requests" | jq -r --arg t "$AI_TRACE" '[.[] | select((.headers.traceparent // "") | contains($t))][0].headers.traceparent')
is "$MOCK_TP" "00-$AI_TRACE-$(jq -r .spanId <<<"$PROV")-01" "the provider saw the provider span as its parent"

# ---- a retry to another target: one span per attempt
TWO=11111111111111111111111111111111
get /two/a -H "traceparent: 00-$TWO-2222222222222222-01"
is "$RESP_STATUS" 200 "a request whose first target is down is retried"
wait_for 10 has_spans "$TWO" 3 || not_ok "the receiver gets a span per attempt" "$(spans | jq -c --arg t "$TWO" '[.[] | select(.traceId == $t)]')"
is "$(span_count "$TWO" '.kind == 3 and .attributes["error.type"] == "connection_refused"')" 1 "the failed attempt's span says why"
is "$(spans | jq -r --arg t "$TWO" '[.[] | select(.traceId == $t and .kind == 3 and .attributes["error.type"] == null)][0].spanId')" \
    "$(upstream_hdr traceparent | cut -d- -f3)" "the upstream saw the second attempt's span as its parent"

# ---- no traceparent: a new trace; a malformed one: a new trace too
get /echo/b -H "X-Request-Id: fresh"
NEW_TP=$(upstream_hdr traceparent)
like "$NEW_TP" '^00-[0-9a-f]{32}-[0-9a-f]{16}-01$' "without a traceparent, Portico starts a sampled trace"
NEW=$(cut -d- -f2 <<<"$NEW_TP")
wait_for 10 has_spans "$NEW" 1 '.kind == 2' || not_ok "the new trace's gateway span arrives"
is "$(span_of "$NEW" 2 | jq -r .parentSpanId)" "" "the gateway span of a new trace is a root"
BAD=0AF7651916CD43DD8448EB211C80319C
for tp in "00-$BAD-b7ad6b7169203331-01" "ff-$TRACE-b7ad6b7169203331-01" "00-00000000000000000000000000000000-b7ad6b7169203331-01" \
          "00-$TRACE-0000000000000000-01" "00-$TRACE-b7ad6b7169203331-01-extra" "garbage"; do
    get /echo/c -H "traceparent: $tp" -H "tracestate: k=v"
    GOT=$(upstream_hdr traceparent)
    if [ "$RESP_STATUS" = 200 ] && [[ $GOT =~ ^00-[0-9a-f]{32}-[0-9a-f]{16}-01$ ]] && [[ $GOT != *"$TRACE"* ]] &&
        [ "$(upstream_hdr tracestate)" = "" ]; then
        ok "a malformed traceparent ($tp) starts a new trace and drops tracestate"
    else
        not_ok "a malformed traceparent ($tp) starts a new trace and drops tracestate" "status $RESP_STATUS, upstream saw '$GOT' / '$(upstream_hdr tracestate)'"
    fi
done

get /echo/c -H "traceparent: 00-$TRACE-$CLIENT_SPAN-01" -H "traceparent: 00-$TRACE-$CLIENT_SPAN-01"
GOT=$(upstream_hdr traceparent)
ok_if '[ "$RESP_STATUS" = 200 ] && [[ $GOT =~ ^00-[0-9a-f]{32}-[0-9a-f]{16}-01$ ]] && [[ $GOT != *"$TRACE"* ]]' \
    "two traceparent headers are invalid together: a new trace, one header upstream" "status $RESP_STATUS, upstream saw '$GOT'"

# ---- a client's unsampled trace is passed on, not exported
NOS=33333333333333333333333333333333
get /echo/d -H "traceparent: 00-$NOS-4444444444444444-00"
like "$(upstream_hdr traceparent)" "^00-$NOS-[0-9a-f]{16}-00$" "an unsampled trace goes upstream unsampled"
AFTER=55555555555555555555555555555555
get /echo/e -H "traceparent: 00-$AFTER-4444444444444444-01"
wait_for 10 has_spans "$AFTER" 2 || not_ok "a later sampled request's spans arrive"
is "$(span_count "$NOS")" 0 "no span of the unsampled trace was exported (spans leave in order)"
is "$(curl -s "http://127.0.0.1:$OT/__ctl/stats" | jq .bad)" 0 "every export was a valid OTLP JSON document"

# ---- the collector down: traffic flows, drops are counted
upstream_stop otlp
codes=""
for i in 1 2 3 4 5; do get "/echo/down$i"; codes+="$RESP_STATUS "; done
is "$codes" "200 200 200 200 200 " "with the collector down, requests are answered"
if wait_metric portico_trace_spans_dropped_total 1; then
    ok "spans that could not be exported are counted as dropped"
else
    not_ok "spans that could not be exported are counted as dropped" "$(curl -s "http://127.0.0.1:$PP/metrics" | grep portico_trace)"
fi
ok_if '(($(metric_sum portico_trace_export_failures_total) >= 1))' "the failed exports are counted"
ok_if '(($(metric_sum portico_trace_spans_exported_total) >= 10))' "the exported spans are counted" \
    "$(metric_sum portico_trace_spans_exported_total)"
portico_stop
is "$PORTICO_STATUS" 0 "portico drains and exits 0 with the collector down"

# ---- bad configuration names the field
cat >"$T/bad.yaml" <<YAML
listen: ["127.0.0.1:$PP"]
tracing:
  otlp: { endpoint: "ftp://collector:4318/v1/traces", timeout: forever }
  sample: 2
YAML
"$PORTICO" check-config -c "$T/bad.yaml" >"$T/out" 2>"$T/err"; rc=$?
is "$rc" 1 "a bad tracing section is refused"
like "$(cat "$T/err")" "tracing\.otlp\.endpoint: .*http://" "the endpoint's message names the field and the schemes"
like "$(cat "$T/err")" "tracing\.otlp\.timeout: " "the timeout's message names the field"
like "$(cat "$T/err")" "tracing\.sample: expected a number from 0 to 1" "the sample's message names the field"
printf 'listen: ["127.0.0.1:%s"]\ntracing: { sample: 0.5 }\n' "$PP" >"$T/bad2.yaml"
"$PORTICO" check-config -c "$T/bad2.yaml" >"$T/out" 2>"$T/err"
like "$(cat "$T/err")" "tracing\.otlp: required" "a tracing section without a collector is refused, naming otlp"

# ---- an https:// collector: spans arrive when its certificate is trusted, none otherwise
OTS=$(free_port)
test_ca && ca_signed otlp || not_ok "the collector's certificate is made"
node "$UPSTREAMS/otlp.mjs" --port "$OTS" --tls "$T/otlp.pem" "$T/otlp.key" >>"$T/otlps.log" 2>&1 &
UP_PID[otlps]=$!
tls_stats() { curl -s -m 5 --cacert "$T/ca.pem" "https://127.0.0.1:$OTS/__ctl/stats"; }
tls_stats_ok() { [ -n "$(tls_stats | jq -r .spans 2>/dev/null)" ]; }
wait_for 10 tls_stats_ok || not_ok "the https collector starts" "$(tail -n 3 "$T/otlps.log")"
sed -e "s|http://127.0.0.1:$OT/v1/traces|https://localhost:$OTS/v1/traces|" "$T/portico.yaml" >"$T/tls.yaml"
tls_spans() { (($(tls_stats | jq -r .spans) >= $1)); }
SSL_CERT_FILE=$T/ca.pem portico_start "$T/tls.yaml" || not_ok "portico starts with an https collector"
get /echo/tls
is "$RESP_STATUS" 200 "a request is answered"
check "its spans reach the https collector, its certificate checked against the trusted CA" wait_for 10 tls_spans 1
portico_stop
N=$(tls_stats | jq -r .posts)
portico_start "$T/tls.yaml" || not_ok "portico starts with an https collector it does not trust"
get /echo/untrusted
is "$RESP_STATUS" 200 "a request is answered"
check "an export to a collector whose certificate is not trusted fails and is counted" \
    wait_metric portico_trace_export_failures_total 1
is "$(tls_stats | jq -r .posts)" "$N" "and the collector received nothing"
portico_stop

done_testing
