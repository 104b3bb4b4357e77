#!/usr/bin/env bash
# The supervisor: `portico serve` is a parent that holds the listening sockets and runs the
# gateway as its child. A child killed by SIGSEGV is restarted at once and serves again (later
# crashes back off), the cause is logged and the restart counted in /metrics, and a connection made
# while no child runs waits instead of being refused; five crashes within 30 s end the
# supervisor with a message and status 1. A second instance on the same address is refused
# with the holder's pid, unless started on purpose by SIGUSR2 to take over (a binary upgrade,
# without a refused connection). A killed supervisor takes its child along. --no-supervisor runs the
# gateway alone.
. "$(dirname "$0")/lib.sh"
# A SIGSEGV sent from outside is not a memory error: under a sanitizer build let it kill
# the process as it would any other build, instead of the sanitizer reporting and exiting 1.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}handle_segv=0"

U1=$(free_port)
upstream_start echo "$U1" || not_ok "echo upstream starts"
# child_of PID: the one child process of PID (empty when none).
child_of() { pgrep -P "$1" | head -n 1; }
# new_child PID OLD: true once PID has a child other than OLD; sets CHILD.
new_child() { CHILD=$(child_of "$1"); [ -n "$CHILD" ] && [ "$CHILD" != "$2" ]; }
refused_conn() { curl -s -o /dev/null -m 1 "http://127.0.0.1:$1/healthz"; [ $? = 7 ]; }
gone() { ! kill -0 "$1" 2>/dev/null; }
log_has() { grep -q -- "$1" "$T/portico.err" 2>/dev/null; }
metric() { curl -s -m 2 "http://127.0.0.1:$PP/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# ---------------------------------------------------------------------------- restart after a crash
PP=$(free_port)
echo_config "workers: 2" >"$T/a.yaml"
portico_start "$T/a.yaml" || not_ok "portico starts under the supervisor"
wait_for 5 new_child "$PORTICO_PID" "" || not_ok "the supervisor runs a gateway child process"
first=$CHILD
is "$(metric portico_supervisor_restarts_total)" 0 "before any crash, /metrics counts 0 restarts"

# The first crash is restarted at once: the supervisor's own log says with what delay, which
# is what it decided (how long the new child then takes to serve depends on the machine).
kill -SEGV "$first"
if wait_for 5 new_child "$PORTICO_PID" "$first" && wait_for 5 answers_200 "http://127.0.0.1:$PP/healthz"; then
    ok "a child killed by SIGSEGV is replaced by one that serves"
else
    not_ok "a child killed by SIGSEGV is replaced by one that serves" "$(tail -n 5 "$T/portico.err")"
fi
like "$(grep "process $first killed" "$T/portico.err")" "restarting in 0 ms" "the first crash is restarted at once (no back-off)"
second=$CHILD
check "the supervisor itself keeps running" kill -0 "$PORTICO_PID"
get /echo/x
is "$RESP_STATUS" 200 "the restarted child proxies requests"
is "$(metric portico_supervisor_restarts_total)" 1 "/metrics counts the restart"
like "$(grep 'killed by' "$T/portico.err")" "gateway process $first killed by SIGSEGV \\(Segmentation fault\\); (no core dumped|core dumped)[^\"]*; restarting in 0 ms" \
    "the log names the dead process, the signal and the core dump, and says when it restarts"

# The second crash within the window waits 100 ms: a connection made then is queued on the
# socket the supervisor holds and served by the next child, not refused.
kill -SEGV "$second"
wait_for 3 log_has "gateway process $second killed by SIGSEGV" || note "the second crash was not logged"
is "$(status_of "http://127.0.0.1:$PP/healthz")" 200 "a connection made while no child runs is served by the next one, not refused"
wait_for 2 new_child "$PORTICO_PID" "$second"
like "$(grep "process $second killed" "$T/portico.err")" "restarting in 100 ms" "the second restart within 30 s backs off (100 ms)"
is "$(metric portico_supervisor_restarts_total)" 2 "/metrics counts both restarts"

# ---------------------------------------------------------------------------- one instance per address
"$PORTICO" serve -c "$T/a.yaml" >"$T/second.out" 2>"$T/second.err" &
spid=$!; track $spid
exited() { ! kill -0 "$spid" 2>/dev/null; }
if wait_for 5 exited; then
    wait "$spid"; st=$?
    isnt0=$([ "$st" != 0 ] && echo yes || echo "no ($st)")
    is "$isnt0" yes "a second portico on the same address exits with a non-zero status"
else
    not_ok "a second portico on the same address exits with a non-zero status" "still running after 5 s"
    kill -KILL "$spid" 2>/dev/null
fi
like "$(cat "$T/second.err")" "cannot listen on 127\\.0\\.0\\.1:$PP: address in use by pid $PORTICO_PID \\([^)]*portico serve" \
    "the refusal names the address and the pid and command of the running gateway"
check "the first instance still serves after the second was refused" answers_200 "http://127.0.0.1:$PP/healthz"

third=$CHILD
portico_stop TERM
is "$PORTICO_STATUS" 0 "SIGTERM to the supervisor drains the child; the supervisor exits with its status 0"
check "the gateway child is gone with the supervisor" gone "$third"
like "$(grep "SIGTERM received" "$T/portico.err")" '"thread":"main"' "the child logged the forwarded SIGTERM"

# ---------------------------------------------------------------------------- a crash loop
PP=$(free_port)
echo_config "workers: 1" >"$T/b.yaml"
: >"$T/portico.err"
portico_start "$T/b.yaml" || not_ok "portico starts for the crash loop"
prev=
for i in 1 2 3 4 5; do
    if ! wait_for 3 new_child "$PORTICO_PID" "$prev"; then note "no child for crash $i"; break; fi
    prev=$CHILD
    wait_for 3 answers_200 "http://127.0.0.1:$PP/healthz"
    kill -SEGV "$CHILD"
    wait_for 3 log_has "gateway process $CHILD killed by SIGSEGV" || note "crash $i was not logged"
done
sup_gone() { ! kill -0 "$PORTICO_PID" 2>/dev/null; }
if wait_for 5 sup_gone; then
    wait "$PORTICO_PID"; PORTICO_STATUS=$?; PORTICO_PID=
    is "$PORTICO_STATUS" 1 "after five crashes within 30 s the supervisor gives up with status 1"
else
    not_ok "after five crashes within 30 s the supervisor gives up with status 1" "still running"
fi
like "$(tail -n 3 "$T/portico.err")" "5 crashes within 30 s: giving up instead of restarting in a loop" \
    "the crash loop is named in the log"
is "$(grep -c 'gateway process [0-9]* started' "$T/portico.err")" 5 "the supervisor started five processes, no sixth"

# ---------------------------------------------------------------------------- binary upgrade (SIGUSR2)
# The supervisor runs the binary at its path again as a new supervisor that inherits the
# sockets; once the new gateway listens, the old supervisor drains and exits 0. Requests
# sent all along find the address listening.
PP=$(free_port)
echo_config "workers: 1" >"$T/e.yaml"
: >"$T/portico.err"
portico_start "$T/e.yaml" || not_ok "portico starts for the upgrade"
old_sup=$PORTICO_PID
request_loop "http://127.0.0.1:$PP/echo/u" "$T/stop-loop" >"$T/loop.txt" & lpid=$!; track $lpid
looping() { [ -s "$T/loop.txt" ]; }
wait_for 5 looping || note "the request loop did not start"
kill -USR2 "$old_sup"
heir_pid() { HEIR=$(grep -o 'SIGUSR2: started [^"]* as pid [0-9]*' "$T/portico.err" | awk '{ print $NF }'); [ -n "$HEIR" ]; }
wait_for 5 heir_pid && track "$HEIR"
if wait_for 10 gone "$old_sup"; then
    wait "$old_sup"; st=$?; PORTICO_PID=
    is "$st" 0 "after SIGUSR2 the old supervisor hands over, drains and exits 0"
else
    not_ok "after SIGUSR2 the old supervisor hands over, drains and exits 0" "still running"
fi
check "the new supervisor serves on the same address" answers_200 "http://127.0.0.1:$PP/healthz"
check "the new supervisor is the one that took over" kill -0 "${HEIR:-0}"
like "$(cat "$T/portico.err")" "took over the listening sockets from the supervisor pid $old_sup" "the new supervisor logs the takeover"
touch "$T/stop-loop"; wait "$lpid"
is "$(grep -c '^curl-exit-7$' "$T/loop.txt")" 0 "no connection was refused across the upgrade ($(grep -c '^200$' "$T/loop.txt") answered)"
# Known limit: a connection the old gateway accepted an instant before its drain, whose
# request has not arrived yet, is closed as idle by the server's drain (curl: empty reply,
# exit 52); only a refused connection would mean the sockets were not handed over.
others=$(grep -v -e '^200$' -e '^000$' "$T/loop.txt" | sort | uniq -c | paste -sd' ')
[ -n "$others" ] && note "requests not answered across the upgrade: $others"
kill -TERM "${HEIR:-0}" 2>/dev/null
check "the new supervisor stops on SIGTERM" wait_for 10 gone "${HEIR:-0}"

# ---------------------------------------------------------------------------- supervisor killed
PP=$(free_port)
echo_config "workers: 1" >"$T/d.yaml"
portico_start "$T/d.yaml" || not_ok "portico starts again"
wait_for 5 new_child "$PORTICO_PID" "" || note "no child"
orphan=$CHILD
kill -KILL "$PORTICO_PID"; wait "$PORTICO_PID" 2>/dev/null; PORTICO_PID=
track "$orphan"
check "when the supervisor is killed, its gateway child exits too" wait_for 5 gone "$orphan"
check "and the address is free again" wait_for 5 refused_conn "$PP"

# ---------------------------------------------------------------------------- --no-supervisor
PP=$(free_port)
echo_config "workers: 1" >"$T/c.yaml"
(cd "$T" && exec "$PORTICO" serve --no-supervisor -c "$T/c.yaml" >>"$T/nosup.out" 2>>"$T/nosup.err") &
PORTICO_PID=$!
check "--no-supervisor serves" wait_for 5 answers_200 "http://127.0.0.1:$PP/healthz"
is "$(child_of "$PORTICO_PID")" "" "--no-supervisor runs the gateway in the process itself, with no child"
portico_stop TERM
is "$PORTICO_STATUS" 0 "--no-supervisor exits 0 on SIGTERM"

done_testing
