#!/usr/bin/env bash
# Analytics: real calls through keyed routes (two consumers of two teams, successes, upstream
# 5xx, 404s, a policy's 429s, an AI call with tokens and cost) become per-minute, hour and day
# rollups; GET /admin/v1/analytics/series gives exact counts per bucket (checked against the
# call log's own records) and percentiles within the sketch's 1% of the records' latencies;
# /analytics/top ranks names by each metric, with the totals of every call (a call no route
# took included) beside them; a team sees only its own; bad parameters are 400s
# naming the parameter. /metrics counts calls per consumer and team up to
# endpoints.metrics_consumers pairs, the rest as "_other".
. "$(dirname "$0")/lib.sh"

PP=$(free_port); AP=$(free_port); U1=$(free_port); MA=$(free_port)
D=$T/data

seed team ml && seed team ops && seed consumer bot ml && seed consumer app ops && seed service echo ml &&
    seed service llm ml || not_ok "the store is seeded"
KB=$(seed key bot); KA=$(seed key app)
for c in bot app; do seed subscribe $c echo active && seed subscribe $c llm active || not_ok "subscriptions are seeded"; done

upstream_start echo "$U1" || not_ok "echo upstream starts"
ai_mock_start mock "$MA" || not_ok "the provider upstream starts"

cat >"$T/portico.yaml" <<YAML
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: "off"
data_dir: $D
admin: { listen: "127.0.0.1:$AP" }
call_log: { minute_rollups: 1h }
endpoints: { metrics_consumers: 1 }
services:
  - { name: echo, targets: ["http://127.0.0.1:$U1"] }
providers:
  - name: ok
    type: openai
    base_url: "http://127.0.0.1:$MA/v1"
    api_key: provider-secret-key
    prices: { gpt-4o: { input: 2, output: 10 } }
models:
  - { name: ok-model, targets: [{ provider: ok, model: gpt-4o }] }
routes:
  - { name: echo, match: { path_prefix: "/echo/" }, service: echo, auth: key }
  - { name: llm, match: { path_prefix: "/v1/" }, ai: {}, auth: key, auth_service: llm }
policies:
  - { name: app-cap, applies_to: { consumer: app }, rate: { requests: 4, per: 1h } }
YAML
portico_start "$T/portico.yaml" || not_ok "portico starts"
wait_for 10 admin_answers || not_ok "the admin API answers"
ADMIN_TOKEN=$(cat "$D/admin-token")

# bot (ml): 12 successes, 3 upstream 503s, 2 404s from the upstream, 1 AI call
for i in $(seq 12); do get "/echo/ok$i" -H "Authorization: Bearer $KB"; done
for i in 1 2 3; do get "/echo/fail?status=503" -H "Authorization: Bearer $KB"; done
for i in 1 2; do get "/echo/gone?status=404" -H "Authorization: Bearer $KB"; done
http POST "http://127.0.0.1:$PP/v1/chat/completions" -H "Authorization: Bearer $KB" \
    -H 'content-type: application/json' -d '{"model":"ok-model","messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS" 200 "the AI call passes"
# app (ops): 4 pass its policy, 2 more are refused with 429
for i in $(seq 6); do get "/echo/app$i" -H "Authorization: Bearer $KA"; done
is "$RESP_STATUS" 429 "app's policy refuses its calls past 4"
get /nowhere
is "$RESP_STATUS" 404 "a call no route takes is a 404 of the gateway's, with no service"
check "the 25 calls are committed" wait_metric portico_call_log_records_written_total 25

# ---- /metrics: one (consumer, team) pair has its own series, the next counts as _other
get /metrics
is "$(grep -F 'portico_consumer_requests_total{consumer="bot",team="ml"}' <<<"$RESP_BODY" | awk '{ print $2 }')" 18 \
    "/metrics: bot's calls under its consumer and team"
is "$(grep -F 'portico_consumer_requests_total{consumer="_other",team=""}' <<<"$RESP_BODY" | awk '{ print $2 }')" 6 \
    "/metrics: past metrics_consumers pairs, app's calls count as _other"
is "$(grep -c 'portico_consumer_requests_total{consumer="app"' <<<"$RESP_BODY")" 0 "...and app has no series of its own"

series() { api GET "/analytics/series?$1"; }
# rollups are merged every 5 s: wait for the day's total to reach what was sent
day_total() { series "by=$1&name=$2&step=day" >/dev/null; [ "$(jqr '[.points[].requests] | add')" = "$3" ]; }
check "the rollups are written" wait_for 20 day_total service echo 23

# the call log's records of one name, for the expected figures
api GET "/calls?limit=1000"
CALLS=$RESP_BODY

# ---- exact counts per bucket, at every step, against the records
per_bucket() { # STEP_MS JQ_SELECT: "start:requests:errors" of the records, per bucket
    jq -r --argjson s "$1" "[.items[] | select($2)] | group_by(.time_ms - .time_ms % \$s) |
        map(\"\(.[0].time_ms - .[0].time_ms % \$s):\(length):\([.[] | select(.status >= 400)] | length)\") | join(\" \")" <<<"$CALLS"
}
points() { jqr '[.points[] | "\(.start_ms):\(.requests):\(.errors.total)"] | join(" ")'; }
for step in minute:60000 hour:3600000 day:86400000; do
    series "by=service&name=echo&step=${step%%:*}"
    is "$(points)" "$(per_bucket "${step#*:}" '.service == "echo"')" "service echo per ${step%%:*}: requests and errors per bucket"
done
series "by=consumer&name=bot&step=minute"
is "$(points)" "$(per_bucket 60000 '.consumer == "bot"')" "consumer bot per minute"
series "by=team&name=ops&step=hour"
is "$(jqr '[.points[] | [.requests, .errors.rate_limited, .errors["4xx"], .errors["5xx"]] | map(tostring) | join("/")] | join(" ")')" \
    "6/2/0/0" "team ops: 6 calls, 2 rate limited, counted apart from other 4xx"
series "by=consumer&name=bot&step=day"
is "$(jqr '.points[0] | [.requests, .errors.total, .errors["4xx"], .errors["5xx"], .errors.rate_limited] | map(tostring) | join("/")')" \
    "18/5/2/3/0" "consumer bot: errors by class"
series "by=model&name=gpt-4o&step=day"
is "$(jqr '.points[0] | [.requests, .input_tokens, .output_tokens, .cost_micro_usd] | map(tostring) | join("/")')" \
    "1/11/3/52" "model gpt-4o: tokens and cost"
series "by=provider&name=ok&step=hour"
is "$(jqr '[.points[].requests] | add')" 1 "provider ok"
series "by=api&name=echo&step=day"
is "$(jqr '[.points[].requests] | add')" 23 "api echo"

# ---- percentiles within the sketch's bound of the records' own latencies
series "by=service&name=echo&step=day"
for q in 50 95 99; do
    got=$(jqr ".points[0].latency_us.p$q")
    want=$(jq -r "[.items[] | select(.service == \"echo\") | .total_us] | sort | .[((length - 1) * $q / 100 | floor)]" <<<"$CALLS")
    ok_q=$(awk -v g="$got" -v w="$want" 'BEGIN { d = g - w; if (d < 0) d = -d; print (d <= 0.01 * w + 1) ? "yes" : "no" }')
    is "$ok_q" yes "p$q of service echo ($got us) is within 1% of the records' ($want us)"
done

# ---- top-N
top() { api GET "/analytics/top?$1"; jqr '[.items[] | "\(.name)=\(.'"$2"')"] | join(" ")'; }
is "$(top 'by=consumer&metric=requests' requests)" "bot=18 app=6" "top consumers by requests"
is "$(top 'by=consumer&metric=errors' errors)" "bot=5 app=2" "top consumers by errors"
is "$(top 'by=consumer&metric=tokens' tokens)" "bot=14 app=0" "top consumers by tokens"
is "$(top 'by=consumer&metric=cost&limit=1' cost_micro_usd)" "bot=52" "top consumer by cost, limit 1"
api GET "/analytics/top?by=consumer&metric=p99"
want=$(jq -r '[.items[] | select(.consumer == "bot") | .total_us] | sort | .[((length - 1) * 99 / 100 | floor)]' <<<"$CALLS")
got=$(jqr '.items[] | select(.name == "bot") | .p99_us')
is "$(awk -v g="$got" -v w="$want" 'BEGIN { d = g - w; if (d < 0) d = -d; print (d <= 0.01 * w + 1) ? "yes" : "no" }')" yes \
    "top by p99: bot's p99 ($got us) within 1% of its records' ($want us)"
is "$(top 'by=service' requests)" "echo=23 llm=1" "top services, metric requests by default"

# ---- totals: every call of the range, not a sum of the listed names
api GET "/analytics/top?by=service&limit=1"
is "$(jqr '[.totals.requests, ([.items[].requests] | add)] | map(tostring) | join("/")')" \
    "$(jq -r '.items | length' <<<"$CALLS")/23" "totals count every call the log holds (the no-route 404 too), not the items'"
is "$(jqr '.totals | [.errors.total, .errors["4xx"], .errors["5xx"], .errors.rate_limited] | map(tostring) | join("/")')" \
    "$(jq -r '[.items[] | select(.status >= 400)] | length' <<<"$CALLS")/3/3/2" "totals' errors by class"
is "$(jqr '.totals | [.input_tokens, .output_tokens, .cost_micro_usd] | map(tostring) | join("/")')" "11/3/52" "totals' tokens and cost"
for q in 50 99; do
    got=$(jqr ".totals.latency_us.p$q")
    want=$(jq -r "[.items[].total_us] | sort | .[((length - 1) * $q / 100 | floor)]" <<<"$CALLS")
    is "$(awk -v g="$got" -v w="$want" 'BEGIN { d = g - w; if (d < 0) d = -d; print (d <= 0.01 * w + 1) ? "yes" : "no" }')" yes \
        "totals' p$q ($got us) is within 1% of every record's ($want us)"
done
is "$(top 'by=model' requests)/$(jqr .totals.requests)" "gpt-4o=1/25" "the totals do not depend on by"

# ---- visibility: a team sees the rows of its callers and its services only
PW="correct horse battery staple"
api POST /users "{\"name\":\"opsdev\",\"password\":\"$PW\",\"team\":\"ops\",\"role\":\"developer\"}"
login() { http POST "http://127.0.0.1:$AP/admin/v1/tokens" --data-binary "{\"user\":\"$1\",\"password\":\"$PW\"}"; jqr .token; }
TOPS=$(login opsdev)
api GET "/analytics/top?by=consumer" "" "$TOPS"
is "$RESP_STATUS/$(jqr '[.items[] | "\(.name)=\(.requests)"] | join(" ")')" "200/app=6" "team ops sees its own consumer only"
is "$(jqr .totals.requests)" 6 "...and the totals of its own calls only"
api GET "/analytics/series?by=service&name=echo&step=day" "" "$TOPS"
is "$(jqr '[.points[].requests] | add')" 6 "...and only its own calls to ml's service"
api GET "/analytics/top?by=model" "" "$TOPS"
is "$RESP_STATUS/$(jqr '.items | length')" "200/0" "...and no model: its consumers made no AI call"

# ---- bad input: 400s naming the parameter
bad() { # PATH_AND_QUERY FIELD NAME
    api GET "/analytics/$1"
    is "$RESP_STATUS/$(jqr .error.code)/$(jqr .error.field)" "400/invalid_value/$2" "$3"
}
bad 'series?name=echo' by "a missing by is refused"
bad 'series?by=colour&name=echo' by "an unknown dimension is refused"
bad 'series?by=service' name "a series without a name is refused"
bad 'series?by=service&name=echo&step=week' step "an unknown step is refused"
bad 'series?by=service&name=echo&from=yesterday' from "a bad from is refused"
bad 'series?by=service&name=echo&from=2000&to=1000' to "to before from is refused"
bad "series?by=service&name=echo&step=minute&from=1000&to=$((1000 + 10001 * 60000))" step "too many points for the step is refused"
bad 'top?by=consumer&metric=speed' metric "an unknown metric is refused"
bad 'top?by=consumer&limit=0' limit "limit 0 is refused"
bad 'top?by=consumer&limit=1001' limit "limit above 1000 is refused"
bad 'top?by=consumer&name=bot' name "a parameter of the other endpoint is refused, named"
bad 'top?by=consumer&colour=red' colour "an unknown parameter is refused, named"
api GET "/analytics/heatmap?by=consumer"
is "$RESP_STATUS/$(jqr .error.code)" "404/not_found" "an unknown analytics resource is a 404"
api POST "/analytics/top?by=consumer" '{}'
is "$RESP_STATUS/$(jqr .error.code)" "405/method_not_allowed" "POST is not allowed"
api GET "/analytics/top?by=consumer" "" "pat_notatoken"
is "$RESP_STATUS" 401 "analytics need a token"

# ---- the rollups survive a restart
portico_stop
is "$PORTICO_STATUS" 0 "portico drains and exits 0"
portico_start "$T/portico.yaml" || not_ok "portico starts again"
wait_for 10 admin_answers || not_ok "the admin API answers again"
series "by=service&name=echo&step=day"
is "$(jqr '[.points[].requests] | add')" 23 "the rollups survive a restart"
portico_stop

# ---- a call log that cannot be opened: one warning, traffic served, the API says so
rm -f "$D"/calls.db* && mkdir "$D/calls.db"
portico_start "$T/portico.yaml" || not_ok "portico starts when calls.db cannot be opened"
wait_for 10 admin_answers || not_ok "the admin API answers without a call log"
get /echo/x -H "Authorization: Bearer $KB"
is "$RESP_STATUS" 200 "calls are served without the call log"
is "$(grep -c '"level":"warn".*call log: .*calls are not logged' "$T/portico.err")" 1 "one warning says the call log is off"
series "by=service&name=echo"
is "$RESP_STATUS/$(jqr .error.code)" "503/unavailable" "the analytics say the file cannot be read"
portico_stop

done_testing
