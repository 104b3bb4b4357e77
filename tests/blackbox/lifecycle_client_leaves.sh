#!/usr/bin/env bash
# A request that ends early ends once and leaves nothing behind: a client that leaves in the
# middle of a proxied response or of an AI stream, before the upstream answered, or across
# reloads of the configuration, gets exactly one access-log line (with the route and service
# names, which live in the snapshot the request holds), its upstream connection is closed at
# once, the gateway keeps serving, and it exits 0 with no sanitizer report (the sanitizer
# pass turns a use-after-free or a leak on these paths into a failure here).
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port); MA=$(free_port)
LOG=$T/access.log
upstream_start echo "$U1" || not_ok "echo upstream starts"
ai_mock_start ai "$MA" || not_ok "AI provider upstream starts"

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "$LOG"
services:
  - name: echo-svc
    targets: ["http://127.0.0.1:$U1"]
routes:
  - name: echo-route
    match: { path_prefix: "/echo/" }
    service: echo-svc
providers:
  - { name: stream-prov, type: anthropic, base_url: "http://127.0.0.1:$MA", api_key: k }
models:
  - { name: stream-model, targets: [{ provider: stream-prov, model: claude-sonnet-4-5 }] }
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts"

# log_line FIELD VALUE: the first access-log line whose FIELD is VALUE, waited for (empty if none).
log_line() {
    found() { [ -f "$LOG" ] && [ -n "$(jq -c --arg v "$2" "select(.$1 == \$v)" "$LOG" 2>/dev/null)" ]; }
    wait_for 5 found "$@" || return 0
    jq -c --arg v "$2" "select(.$1 == \$v)" "$LOG" | head -n 1
}
lines_for() { jq -c --arg v "$2" "select(.$1 == \$v)" "$LOG" 2>/dev/null | wc -l; }
upstream_idle() { [ "$(up_stat "$U1" active)" = 0 ]; }
reloads() { grep -c 'configuration reloaded' "$T/portico.err" 2>/dev/null; }
# hup: one SIGHUP, waited for until the reload is logged.
hup() {
    local before; before=$(reloads) # not "n": wait_for has a local n, which more() would see
    kill -HUP "$PORTICO_PID"
    more() { (($(reloads) > before)); }
    wait_for 5 more || not_ok "SIGHUP: the reload is logged within 5 s"
}
# sse_start NAME QUERY: a proxied SSE stream on /echo/NAME, in the background; waits for its
# first event. Sets SSE_PID.
sse_start() {
    node "$UPSTREAMS/sseclient.mjs" --url "http://127.0.0.1:$PP/echo/$1?$2&id=$1" --ctl "http://127.0.0.1:$U1" \
        --id "$1" --mark "$T/first-$1" --timeout 30000 >"$T/$1.json" 2>&1 &
    SSE_PID=$!; track $SSE_PID
    wait_for 5 test -f "$T/first-$1" || note "stream $1 never delivered its first event"
}
# ai_stream_start ID: an AI stream (400 events 20 ms apart) in the background; waits for its
# first event. Sets AI_PID.
ai_stream_start() {
    local body
    body=$(jq -nc '{model: "stream-model", stream: true, messages: [{role: "user", content: "go [mock events=400 gap_ms=20]"}]}')
    curl -s -N -m 30 -H 'content-type: application/json' -H "X-Request-Id: $1" -d "$body" \
        "http://127.0.0.1:$PP/v1/chat/completions" >"$T/$1.out" 2>/dev/null &
    AI_PID=$!; track $AI_PID
    first() { grep -qs '^data: ' "$T/$1.out"; }
    wait_for 5 first "$1" || note "AI stream $1 never delivered its first event"
}

# ---------------------------------------------------------------------------- proxied stream
sse_start leave1 "sse=100&interval=100"
kill "$SSE_PID"
l=$(log_line path /echo/leave1)
is "$(jqr .status "$l"):$(jqr .error "$l")" "200:client_closed" "client leaves mid-response: logged as 200 client_closed"
is "$(jqr .route "$l"):$(jqr .service "$l")" "echo-route:echo-svc" "client leaves mid-response: the line names the route and service"
check "client leaves mid-response: the upstream exchange is closed at once" wait_for 5 upstream_idle
sent=$(ctl "$U1" 'sse?id=leave1' | jq -r '.sent // 100')
check "client leaves mid-response: the upstream stopped mid-stream (sent $sent of 100 events)" test "$sent" -lt 100

# ---------------------------------------------------------------------------- before the answer
curl -s -m 30 -o /dev/null "http://127.0.0.1:$PP/echo/early?delay=20000" &
cpid=$!; track $cpid
busy() { [ "$(up_stat "$U1" active)" = 1 ]; }
wait_for 5 busy || note "the delayed request never reached the upstream"
kill "$cpid"
l=$(log_line path /echo/early)
is "$(jqr .status "$l"):$(jqr .error "$l")" "499:client_closed_early" "client leaves before the answer: logged as 499 client_closed_early"
check "client leaves before the answer: the upstream exchange is closed at once" wait_for 5 upstream_idle

# ---------------------------------------------------------------------------- AI stream
ai_stream_start ai-leave1
kill "$AI_PID"
l=$(log_line request_id ai-leave1)
is "$(jqr .status "$l"):$(jqr .error "$l")" "200:client_closed" "client leaves mid-AI-stream: logged as 200 client_closed"
is "$(jqr .service "$l"):$(jqr .ai.provider "$l")" "stream-prov:stream-prov" "client leaves mid-AI-stream: the line names the provider"

# ---------------------------------------------------------------------------- across reloads
# Two reloads while a proxied stream, an AI stream and a stream that runs to its end are in
# flight: the first snapshot they hold is no longer current, the second is freed once nothing
# else holds it. (The snapshot loaded at start is never freed, so one reload comes first.)
hup
sse_start leave2 "sse=100&interval=100"; leave2_pid=$SSE_PID
ai_stream_start ai-leave2
sse_start whole "sse=4&interval=300"; whole_pid=$SSE_PID
hup
hup
kill "$leave2_pid" "$AI_PID"
wait "$whole_pid"
is "$(jq -r '[.events[].seq] | join(",")' "$T/whole.json" 2>/dev/null)" "1,2,3,4" "reload in flight: a stream that runs to its end delivers every event"
l=$(log_line path /echo/leave2)
is "$(jqr .route "$l"):$(jqr .error "$l")" "echo-route:client_closed" "reload in flight, client leaves: logged with the old snapshot's route name"
l=$(log_line request_id ai-leave2)
is "$(jqr .service "$l"):$(jqr .error "$l")" "stream-prov:client_closed" "reload in flight, client leaves an AI stream: logged with the old snapshot's provider"
l=$(log_line path /echo/whole)
is "$(jqr .status "$l"):$(jqr .error "$l"):$(jqr .route "$l")" "200:null:echo-route" "reload in flight: the complete stream is logged as 200 without error"
for p in leave1 early leave2 whole; do
    is "$(lines_for path /echo/$p)" 1 "one access-log line for /echo/$p"
done
for id in ai-leave1 ai-leave2; do
    is "$(lines_for request_id $id)" 1 "one access-log line for $id"
done
alive_after "clients leaving across reloads"

portico_stop TERM
is "$PORTICO_STATUS" 0 "portico exits 0"
if grep -q 'Sanitizer' "$T/portico.err"; then
    not_ok "no sanitizer report" "$(grep -A14 'ERROR: .*Sanitizer' "$T/portico.err" | head -30)"
else
    ok "no sanitizer report"
fi
done_testing
