#!/usr/bin/env bash
# SIGTERM drains: new connections are refused at once, an in-flight SSE stream (held open by
# the test until then) and a slow request finish, idle keep-alive connections do not hold the exit up, and the process exits 0 as soon as
# the work is done (well before drain_timeout). A stream longer than drain_timeout is cut at the
# deadline and the process still exits 0. A second SIGINT or SIGTERM during the drain exits
# at once with status 1 and says so, cutting the request still in flight.
. "$(dirname "$0")/lib.sh"

U1=$(free_port)
upstream_start echo "$U1" || not_ok "echo upstream starts"
# cfg PORT DRAIN: a config on PORT with drain_timeout DRAIN; the access log goes to
# $T/access-PORT.log.
cfg() {
    cat >"$T/portico-$1.yaml" <<EOF
listen: ["127.0.0.1:$1"]
workers: 2
access_log: "$T/access-$1.log"
limits: { drain_timeout: $2, idle_timeout: 60s }
services:
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
    timeouts: { first_byte: 20s, idle: 20s }
routes:
  - name: echo
    match: { path_prefix: "/echo/" }
    service: echo
EOF
    echo "$T/portico-$1.yaml"
}
# exited_within SECS: waits up to SECS for portico to exit; sets PORTICO_STATUS; true if it did.
exited_within() {
    local i
    for ((i = 0; i < $1 * 20; i++)); do
        kill -0 "$PORTICO_PID" 2>/dev/null || { wait "$PORTICO_PID"; PORTICO_STATUS=$?; return 0; }
        sleep 0.05
    done
    return 1
}
refused() { curl -s -o /dev/null -m 1 "http://127.0.0.1:$PP/healthz"; [ $? = 7 ]; }

# ---------------------------------------------------------------------------- drain completes
PP=$(free_port)
portico_start "$(cfg "$PP" 10s)" || not_ok "portico starts with the test config"

# The stream runs in lockstep and is held after its first event until $T/gate exists, so it is
# certainly in flight when SIGTERM arrives and when new connections are tried.
n0=$(up_count "$U1")
node "$UPSTREAMS/sseclient.mjs" --url "http://127.0.0.1:$PP/echo/sse?sse=6&lockstep=1&id=drain" \
    --ctl "http://127.0.0.1:$U1" --id drain --lockstep --gate "$T/gate" --mark "$T/first-event" --timeout 20000 >"$T/sse.json" &
ssepid=$!; track $ssepid
curl -s -m 20 -o "$T/slow.json" -w '%{http_code}' "http://127.0.0.1:$PP/echo/slow?delay=3000" >"$T/slow.status" &
slowpid=$!; track $slowpid
raw 'send:GET /echo/idle HTTP/1.1\r\nHost: t\r\n\r\n' read:1 close:15000 >"$T/idle.json" &
idlepid=$!; track $idlepid
wait_for 5 test -f "$T/first-event" || note "the SSE stream never delivered its first event"
# All three (stream, slow request, idle connection's request) have reached the upstream.
all_sent() { (($(up_count "$U1") >= n0 + 3)); }
wait_for 10 all_sent || note "not every client's request reached the upstream before SIGTERM"
slow_inflight() { (($(up_stat "$U1" active) >= 2)); }
wait_for 3 slow_inflight || note "the slow request was not in flight at SIGTERM"

t_term=$SECONDS
kill -TERM "$PORTICO_PID"
if wait_for 2 refused; then
    ok "after SIGTERM new connections are refused (within 2 s)"
    sse_done=$(ctl "$U1" 'sse?id=drain' | jq -r .done)
    is "$sse_done" false "new connections were refused while the SSE stream was still in flight"
else
    not_ok "after SIGTERM new connections are refused (within 2 s)" "a connect to 127.0.0.1:$PP did not fail with ECONNREFUSED"
fi
touch "$T/gate"

wait "$ssepid"
S=$(cat "$T/sse.json")
is "$(jqr '[.events[].seq] | join(",")' "$S")" "1,2,3,4,5,6" "the in-flight SSE stream delivers all six events during the drain"
is "$(jqr .complete "$S")" true "the in-flight SSE stream ends cleanly"
wait "$slowpid"
is "$(cat "$T/slow.status")" 200 "a slow request in flight at SIGTERM completes with 200"
is "$(jq -r .path "$T/slow.json" 2>/dev/null)" "/echo/slow" "the slow request's body arrives whole"

if exited_within 10; then
    ok "portico exits after the drain"
    is "$PORTICO_STATUS" 0 "portico exits 0 after draining"
    if ((SECONDS - t_term < 10)); then ok "the exit comes before drain_timeout (10 s) once the work is done, despite an idle keep-alive connection"
    else not_ok "the exit comes before drain_timeout (10 s) once the work is done, despite an idle keep-alive connection" "took $((SECONDS - t_term)) s"; fi
else
    not_ok "portico exits after the drain" "still running 10 s after the stream ended"
fi
PORTICO_PID=
wait "$idlepid"

# ---------------------------------------------------------------------------- drain deadline
PP=$(free_port)
portico_start "$(cfg "$PP" 2s)" || not_ok "portico starts with drain_timeout 2s"
node "$UPSTREAMS/sseclient.mjs" --url "http://127.0.0.1:$PP/echo/sse?sse=40&interval=500&id=long" \
    --ctl "http://127.0.0.1:$U1" --id long --mark "$T/first-long" --timeout 30000 >"$T/long.json" &
longpid=$!; track $longpid
wait_for 5 test -f "$T/first-long" || note "the long SSE stream never delivered its first event"
# and a request the upstream holds unanswered past the deadline
curl -s -m 30 -o /dev/null "http://127.0.0.1:$PP/echo/held?hold=deadline" &
track $!
held_now() { [ "$(curl -s "http://127.0.0.1:$U1/__ctl/held?id=deadline" | jq -r .held)" = 1 ]; }
wait_for 5 held_now || note "the held request did not reach the upstream"
t_term=$SECONDS
kill -TERM "$PORTICO_PID"
if exited_within 8; then
    ok "a stream longer than drain_timeout does not keep portico alive (exit within 2 s + margin)"
    is "$PORTICO_STATUS" 0 "portico exits 0 when the drain deadline cuts a stream"
else
    not_ok "a stream longer than drain_timeout does not keep portico alive (exit within 2 s + margin)" "still running after 8 s"
fi
PORTICO_PID=
curl -s "http://127.0.0.1:$U1/__ctl/release?id=deadline" >/dev/null
line=$(grep '"/echo/held"' "$T/access-$PP.log" 2>/dev/null)
like "$line" '"status":503,.*"error":"drain_deadline"' "a request unanswered at the drain deadline is logged, as drain_deadline"
wait "$longpid"
L=$(cat "$T/long.json")
is "$(jqr .complete "$L")" false "the stream cut at the deadline is not reported as complete"
n=$(jqr '.events | length' "$L")
if [[ ${n:-0} =~ ^[0-9]+$ ]] && ((n >= 1 && n < 40)); then ok "the long stream was relayed until the deadline ($n events)"
else not_ok "the long stream was relayed until the deadline" "events: ${n:-none}"; fi

# ---------------------------------------------------------------------------- a second signal
# second_signal SIG: a request that takes 20 s is in flight; SIG starts the drain, a second
# SIG must end the process at once (well inside a second) with status 1, saying so.
second_signal() {
    local sig=$1 id=$RANDOM
    PP=$(free_port)
    : >"$T/portico.err"
    portico_start "$(cfg "$PP" 30s)" || not_ok "portico starts for the second $sig"
    curl -s -m 30 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PP/echo/slow?delay=20000&id=$id" >"$T/slow2.status" &
    local cpid=$!; track $cpid
    in_flight() { (($(up_stat "$U1" active) >= 1)); }
    wait_for 5 in_flight || note "the slow request did not reach the upstream"
    kill -"$sig" "$PORTICO_PID"
    draining() { grep -q "SIG$sig received: draining" "$T/portico.err"; }
    wait_for 5 draining || note "the first SIG$sig was not logged"
    local t0
    t0=$(date +%s%N)
    kill -"$sig" "$PORTICO_PID"
    if exited_within 5; then
        local ms=$((($(date +%s%N) - t0) / 1000000))
        if ((ms < 1000)); then ok "a second SIG$sig with a request in flight exits at once (${ms} ms)"
        else not_ok "a second SIG$sig with a request in flight exits at once" "took ${ms} ms"; fi
        is "$PORTICO_STATUS" 1 "a second SIG$sig exits with status 1"
    else
        not_ok "a second SIG$sig with a request in flight exits at once" "still running after 5 s"
    fi
    PORTICO_PID=
    like "$(cat "$T/portico.err")" "second SIG$sig during the drain: exiting now with status 1" "the log says why it exited at once"
    wait "$cpid"
    is "$(cat "$T/slow2.status")" 000 "the request in flight is cut, not answered"
}
second_signal INT
second_signal TERM

done_testing
