#!/usr/bin/env bash
# The call log: calls through a keyed REST route and a keyed AI route become records in
# data_dir/calls.db with the caller, the service, the route, the status, latencies, bytes and,
# for AI, model, provider, tokens and cost; a 401 and a 404 are logged with their error codes.
# GET /admin/v1/calls filters, pages with cursors, exports NDJSON and CSV, shows a team only its
# own calls, refuses bad input naming the field; records survive a restart; no key or secret is
# ever written to the file.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); AP=$(free_port); U1=$(free_port); MA=$(free_port)
D=$T/data

seed team ml && seed consumer bot ml && seed service echo ml && seed service llm ml || not_ok "the store is seeded"
KA=$(seed key bot)
seed subscribe bot echo active && seed subscribe bot llm active || not_ok "subscriptions are seeded"

upstream_start echo "$U1" || not_ok "echo upstream starts"
ai_mock_start mock "$MA" || not_ok "the provider upstream starts"

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: "off"
data_dir: $D
admin: { listen: "127.0.0.1:$AP" }
call_log: { retention: 30d, max_size: 64MiB }
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
  - { name: cached, targets: [{ provider: ok, model: gpt-4o }], cache: { ttl: 10m } }
routes:
  - name: echo
    match: { path_prefix: "/echo/" }
    service: echo
    auth: key
    key_query: api_key
  - { name: llm, match: { path_prefix: "/v1/" }, ai: {}, auth: key, auth_service: llm }
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts"
wait_for 10 admin_answers || not_ok "the admin API answers"
ADMIN_TOKEN=$(cat "$D/admin-token")

get /echo/a -H "Authorization: Bearer $KA" -H "X-Request-Id: rest-ok"
is "$RESP_STATUS" 200 "a keyed REST call passes"
http POST "http://127.0.0.1:$PP/v1/chat/completions" -H "Authorization: Bearer $KA" -H "X-Request-Id: ai-ok" \
    -H 'content-type: application/json' -d '{"model":"ok-model","messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS" 200 "a keyed AI call passes"
get /echo/a -H "X-Request-Id: no-key"
is "$RESP_STATUS" 401 "a call without a key is refused"
get /nowhere -H "X-Request-Id: lost"
is "$RESP_STATUS" 404 "a call to no route is a 404"
get "/echo/q?api_key=$KA&x=1" -H "X-Request-Id: query-key"
is "$RESP_STATUS" 200 "a key in the query passes"
check "the five calls are committed" wait_metric portico_call_log_records_written_total 5

calls() { api GET "/calls${1:-}"; }
one() { # REQUEST_ID: the record of that call
    calls "?request_id=$1"
    R=$(jqr '.items[0]')
}

one rest-ok
is "$(jqr '[.consumer,.team,.key_prefix,.service,.service_team,.api,.method,.path,.status] | map(tostring) | join(" ")' "$R")" \
    "bot ml ${KA:0:12} echo ml echo GET /echo/a 200" "REST: caller, service, route, method, path, status"
is "$(jqr '.error' "$R")/$(jqr '.model' "$R")/$(jqr '.input_tokens' "$R")" "null/null/null" "REST: no error, no AI figures"
[ "$(jqr '.total_us > 0 and .upstream_us > 0 and .ttfb_us > 0 and .upstream_us <= .total_us and .ttfb_us <= .upstream_us' "$R")" = true ] &&
    ok "REST: total, upstream and first-byte latencies" || not_ok "REST: total, upstream and first-byte latencies" "$R"
[ "$(jqr '.bytes_out > 0 and .bytes_in == 0' "$R")" = true ] && ok "REST: bytes in and out" || not_ok "REST: bytes in and out" "$R"
like "$(jqr '.client' "$R")" '^127\.0\.0\.1:[0-9]+$' "REST: the client address"
like "$(jqr '.time' "$R")" '^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9:.]+Z$' "REST: the time in RFC 3339"

one ai-ok
is "$(jqr '[.consumer,.team,.service,.api,.model,.provider,.status,.input_tokens,.output_tokens,.cached_tokens,.cost_micro_usd] | map(tostring) | join(" ")' "$R")" \
    "bot ml llm llm gpt-4o ok 200 11 3 0 52" "AI: caller, service, route, model, provider, tokens, cost (11 x 2 + 3 x 10 micro-dollars)"
[ "$(jqr '.ttfb_us > 0 and .bytes_in > 0 and .bytes_out > 0' "$R")" = true ] && ok "AI: time to first token, bytes" ||
    not_ok "AI: time to first token, bytes" "$R"

one no-key
is "$(jqr '[.status,.error,.consumer] | map(tostring) | join(" ")' "$R")" "401 key_missing null" "a 401 is logged with its error code"
one lost
is "$(jqr '[.status,.error,.api] | map(tostring) | join(" ")' "$R")" "404 route_not_found null" "a 404 is logged with its error code"
one query-key
is "$(jqr '.path' "$R")" "/echo/q" "a key sent in the query is not in the logged path"

# ---- filters and pages
count() { calls "$1"; jqr '.items | length'; }
is "$(count '')" 5 "every call is listed"
is "$(count '?consumer=bot')" 3 "consumer filter"
is "$(count '?team=ml&service=echo')" 2 "team and service filters"
is "$(count '?api=llm')" 1 "api filter"
is "$(count '?model=gpt-4o')" 1 "model filter"
is "$(count '?status=4xx')" 2 "status class filter"
is "$(count '?status=404')" 1 "exact status filter"
is "$(count '?status=5xx')" 0 "a status class without calls"
NOW=$(date +%s%3N)
is "$(count "?from=$((NOW - 600000))&to=$((NOW + 1000))")" 5 "a time range in Unix milliseconds"
is "$(count "?from=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)")" 0 "a time range in RFC 3339, in the future"
is "$(count "?from=$(date -u -d '-1 hour' +%Y-%m-%dT%H%%3A%M%%3A%S.000%%2B00%%3A00)")" 5 "an RFC 3339 time percent-encoded, with an offset"

calls '?limit=2'
P1=$(jqr '[.items[].request_id] | join(" ")'); C1=$(jqr .next_cursor)
is "$P1" "query-key lost" "page 1: the newest two, newest first"
calls "?limit=2&cursor=$C1"
P2=$(jqr '[.items[].request_id] | join(" ")'); C2=$(jqr .next_cursor)
is "$P2" "no-key ai-ok" "page 2: the next two"
calls "?limit=2&cursor=$C2"
is "$(jqr '[.items[].request_id] | join(" ")')/$(jqr .next_cursor)" "rest-ok/null" "page 3: the last one, no cursor after it"

# ---- exports
api GET "/calls?format=ndjson"
like "$(hdr Content-Type)" '^application/x-ndjson' "NDJSON: its content type"
is "$(jq -c . <<<"$RESP_BODY" 2>/dev/null | wc -l)" 5 "NDJSON: five lines, each valid JSON"
is "$(jq -r 'select(.request_id == "ai-ok") | .cost_micro_usd' <<<"$RESP_BODY")" 52 "NDJSON: the AI record's cost"
api GET "/calls?format=csv&consumer=bot"
like "$(hdr Content-Type)" '^text/csv' "CSV: its content type"
CSV=$(node -e '
    const t = require("fs").readFileSync(0, "utf8"); const rows = []; let row = [], f = "", q = false;
    for (let i = 0; i < t.length; i++) {
        const c = t[i];
        if (q) { if (c === "\"" && t[i + 1] === "\"") { f += c; i++; } else if (c === "\"") q = false; else f += c; }
        else if (c === "\"") q = true; else if (c === ",") { row.push(f); f = ""; }
        else if (c === "\r" && t[i + 1] === "\n") { row.push(f); rows.push(row); row = []; f = ""; i++; }
        else f += c;
    }
    const h = rows.shift(); if (!rows.every((r) => r.length === h.length)) { console.log("ragged"); process.exit(0); }
    const o = rows.map((r) => Object.fromEntries(h.map((k, i) => [k, r[i]])));
    console.log(o.length, o.map((r) => r.request_id + ":" + r.status + ":" + r.consumer).sort().join(" "));
' < "$T/resp.body")
is "$CSV" "3 ai-ok:200:bot query-key:200:bot rest-ok:200:bot" "CSV: a header and three rows that parse"
api GET "/calls?format=ndjson&limit=2"
is "$(jq -c . <<<"$RESP_BODY" | wc -l)/$(has_hdr X-Next-Cursor && echo cursor)" "2/cursor" "a bounded export says where to go on"

# ---- bad input: the admin API's error shape, naming the field
bad() { # QUERY FIELD NAME
    calls "$1"
    is "$RESP_STATUS/$(jqr .error.code)/$(jqr .error.field)" "400/invalid_value/$2" "$3"
}
bad '?limit=0' limit "limit 0 is refused"
bad '?limit=1001' limit "limit above 1000 is refused"
bad '?status=6xx' status "an unknown status class is refused"
bad '?from=yesterday' from "a time that is not RFC 3339 nor milliseconds is refused"
bad '?from=2000&to=1000' to "to before from is refused"
bad '?cursor=zzz' cursor "a cursor this API did not give is refused"
bad '?format=xml' format "an unknown format is refused"
bad '?team=%zz' team "a bad percent escape is refused"
calls '?color=red'
is "$RESP_STATUS/$(jqr .error.code)" "400/invalid_value" "an unknown parameter is refused"
like "$(jqr .error.message)" "color" "...and named"
api POST /calls '{}'
is "$RESP_STATUS/$(jqr .error.code)" "405/method_not_allowed" "POST /calls is not allowed"
api GET /calls "" "pat_notatoken"
is "$RESP_STATUS" 401 "the call log needs a token"

# ---- visibility: a team sees its own consumers' calls and calls to its services, nothing else
PW="correct horse battery staple"
api POST /teams '{"name":"ops"}'
api POST /users "{\"name\":\"opsdev\",\"password\":\"$PW\",\"team\":\"ops\",\"role\":\"developer\"}"
api POST /users "{\"name\":\"mlcon\",\"password\":\"$PW\",\"team\":\"ml\",\"role\":\"consumer\"}"
login() { http POST "http://127.0.0.1:$AP/admin/v1/tokens" --data-binary "{\"user\":\"$1\",\"password\":\"$PW\"}"; jqr .token; }
TOPS=$(login opsdev); TML=$(login mlcon)
api GET /calls "" "$TOPS"
is "$RESP_STATUS/$(jqr '.items | length')" "200/0" "another team sees none of ml's calls"
api GET /calls "" "$TML"
is "$(jqr '[.items[].request_id] | sort | join(" ")')" "ai-ok query-key rest-ok" "ml sees its consumer's calls, not the anonymous ones"

# ---- restart, secrets
portico_stop
is "$PORTICO_STATUS" 0 "portico drains and exits 0"
portico_start "$T/portico.yaml" || not_ok "portico starts again"
wait_for 10 admin_answers || not_ok "the admin API answers again"
is "$(count '')" 5 "the records survive a restart"
get /echo/b -H "Authorization: Bearer $KA" -H "X-Request-Id: after"
check "a call after the restart is logged" wait_metric portico_call_log_records_written_total 1
is "$(count '?request_id=after')" 1 "...and listed"

# ---- AI response-cache hits: cost 0, what the answer cost when made, the cache's say
cached() {
    http POST "http://127.0.0.1:$PP/v1/chat/completions" -H "Authorization: Bearer $KA" -H "X-Request-Id: $1" \
        -H 'content-type: application/json' -d '{"model":"cached","temperature":0,"messages":[{"role":"user","content":"again"}]}'
}
cached cache-miss
cached cache-hit
is "$RESP_STATUS $(hdr x-portico-cache)" "200 hit" "the same deterministic call again is a cache hit"
check "the cached calls are logged" wait_metric portico_call_log_records_written_total 3
one cache-hit
is "$(jqr '[.cache,.cost_micro_usd,.cost_saved_micro_usd,.input_tokens,.model,.provider,.status] | map(tostring) | join(" ")' "$R")" \
    "hit 0 52 0 gpt-4o ok 200" "a cache hit is logged: cache hit, cost 0, the 52 micro-dollars it saved"
one cache-miss
is "$(jqr '[.cache,.cost_micro_usd,.cost_saved_micro_usd,.input_tokens] | map(tostring) | join(" ")' "$R")" \
    "miss 52 null 11" "the miss before it: cache miss, its own cost, nothing saved"
one after
is "$(jqr '[.cache,.cost_saved_micro_usd] | map(tostring) | join(" ")' "$R")" "null null" "a REST call has no cache field"
portico_stop
SECRETS=0
for f in "$D"/calls.db*; do
    for s in "$KA" "$ADMIN_TOKEN" "$TOPS" "$TML" provider-secret-key "$PW"; do
        grep -qaF -- "$s" "$f" && { SECRETS=$((SECRETS + 1)); note "$s found in $f"; }
    done
done
is "$SECRETS" 0 "no key, token, password or provider key in calls.db"
[ "$(stat -c %a "$D/calls.db")" = 640 ] && ok "calls.db is mode 0640" || not_ok "calls.db is mode 0640" "$(stat -c %a "$D/calls.db")"

# ---- turned off: nothing is written, the admin API says so
sed 's/^call_log: .*/call_log: { enabled: false }/' "$T/portico.yaml" >"$T/off.yaml"
BEFORE=$(stat -c %s "$D/calls.db")
portico_start "$T/off.yaml" || not_ok "portico starts with the call log off"
wait_for 10 admin_answers || not_ok "the admin API answers with the call log off"
get /echo/c -H "Authorization: Bearer $KA"
is "$RESP_STATUS" 200 "calls pass with the call log off"
calls
is "$RESP_STATUS/$(jqr .error.code)" "404/not_found" "GET /calls says the call log is off"
like "$(jqr .error.message)" "call_log.enabled" "...naming the setting"
is "$(metric_sum portico_call_log_records_written_total)" 0 "nothing is written with the call log off"
portico_stop
is "$(stat -c %s "$D/calls.db")" "$BEFORE" "calls.db is untouched with the call log off"

# ---- a file of the earlier layout (a row per record, layout 5): the gateway starts at once
# and its writer converts the records into chunks in the background, newest first
mv "$D/calls.db" "$T/calls-chunks.db" && rm -f "$D"/calls.db-*
NOW=$(($(date +%s) * 1000))
sqlite3 "$D/calls.db" <<SQL || not_ok "a file of layout 5 is made"
CREATE TABLE names(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, last_ms INTEGER);
INSERT INTO names VALUES(1, 'bot', $NOW), (2, 'echo', $NOW), (3, 'ml', $NOW);
CREATE TABLE calls(id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, request_id TEXT, team_id INTEGER,
  consumer_id INTEGER, key_prefix_id INTEGER, service_id INTEGER, service_team_id INTEGER, api_id INTEGER,
  model_id INTEGER, provider_id INTEGER, error TEXT, method TEXT, path TEXT, status INTEGER, total_us INTEGER,
  upstream_us INTEGER, ttfb_us INTEGER, bytes_in INTEGER, bytes_out INTEGER, input_tokens INTEGER,
  output_tokens INTEGER, cached_tokens INTEGER, cost_micro_usd INTEGER, client TEXT, trace_id TEXT, masked TEXT,
  request_body TEXT, response_body TEXT, operation TEXT, cache TEXT, cost_saved_micro_usd INTEGER,
  arguments_shape TEXT, arguments TEXT, rid_hash INTEGER);
CREATE INDEX calls_consumer ON calls(consumer_id) WHERE consumer_id IS NOT NULL;
CREATE INDEX calls_request ON calls(rid_hash);
WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 5000)
INSERT INTO calls(id, time_ms, request_id, team_id, consumer_id, service_id, method, path, status, total_us,
                  bytes_in, bytes_out, rid_hash)
SELECT ($NOW - 600000 + i) << 12, $NOW - 600000 + i, 'old-' || i, 3, 1, 2, 'GET', '/echo/old', 200, 1000, 0, 10, 0 FROM g;
PRAGMA user_version=5;
SQL
L=$(log_lines "$T/portico.err")
portico_start "$T/portico.yaml" || not_ok "portico starts on a file of the earlier layout"
wait_for 10 admin_answers || not_ok "the admin API answers"
like "$(tail -n +$((L + 1)) "$T/portico.err")" "earlier layout \\(5\\) was set aside for conversion" \
    "the start sets the earlier layout aside"
check "the writer says it converts its records in the background" \
    wait_log "5000 records of the file's earlier layout are converted in the background" "$T/portico.err" "$L"
check "the writer converts them" wait_log "the 5000 records of the earlier layout were converted" "$T/portico.err" "$L"
is "$(metric_sum portico_call_log_records_to_convert)" 0 "portico_call_log_records_to_convert is 0 after it"
one old-4321
is "$(jqr '[.consumer,.team,.service,.path,.status,.bytes_out] | map(tostring) | join(" ")' "$R")" \
    "bot ml echo /echo/old 200 10" "a converted record reads as it was written"
get /echo/new -H "Authorization: Bearer $KA" -H "X-Request-Id: after-conversion"
check "a new call is logged after the conversion" wait_metric portico_call_log_records_written_total 1
calls "?consumer=bot&limit=2"
is "$(jqr '[.items[].request_id] | join(" ")')" "after-conversion old-5000" \
    "newest first: the new call, then the newest converted one"
is "$(sqlite3 "$D/calls.db" "SELECT count(*) FROM sqlite_master WHERE name = 'calls_v5'")" 0 "the earlier layout's table is gone"
portico_stop

done_testing
