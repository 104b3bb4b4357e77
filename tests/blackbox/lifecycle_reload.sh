#!/usr/bin/env bash
# SIGHUP reload: a changed route takes effect for new requests (on new and on existing
# connections) in the same process; a bad file keeps the old configuration serving and is
# logged; reloading ten times under load loses no request and breaks no connection.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port)
upstream_start echo "$U1" || not_ok "echo upstream starts"
CFG=$T/portico.yaml
# write_cfg PREFIX TAG: route PREFIX to the echo service, marking responses x-config: TAG.
write_cfg() {
    cat >"$CFG.new" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: "off"
services:
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
routes:
  - name: main
    match: { path_prefix: "$1" }
    service: echo
    response_headers: { add: { x-config: "$2" } }
EOF
    mv "$CFG.new" "$CFG"
}
write_cfg /a/ A
portico_start "$CFG" || not_ok "portico starts with the test config"
pid0=$PORTICO_PID

get /a/x
is "$RESP_STATUS:$(hdr x-config)" "200:A" "before reload: /a/ is routed (config A)"

# ---------------------------------------------------------------------------- a good reload
# A keep-alive connection opened before the reload sends its second request after it. The
# reload waits until the first request has reached the upstream; the second request waits for
# $T/reloaded, created once the new route answers.
n0=$(up_count "$U1")
raw --timeout 10000 'send:GET /a/before HTTP/1.1\r\nHost: t\r\n\r\n' read:1 "gate:$T/reloaded" 'send:GET /b/after HTTP/1.1\r\nHost: t\r\n\r\n' read:2 >"$T/ka.json" &
kapid=$!; track $kapid
first_sent() { (($(up_count "$U1") > n0)); }
wait_for 10 first_sent || note "the keep-alive client's first request never reached the upstream"
write_cfg /b/ B
kill -HUP "$PORTICO_PID"
b_routed() { [ "$(status_of "http://127.0.0.1:$PP/b/x")" = 200 ]; }
check "after SIGHUP the new route /b/ answers (within 5 s)" wait_for 5 b_routed
touch "$T/reloaded"
get /b/x
is "$(hdr x-config)" "B" "after reload: responses carry config B's header"
get /a/x
is "$RESP_STATUS" 404 "after reload: the removed route /a/ is 404"
check "reload keeps the same process running" kill -0 "$pid0"
wait "$kapid"
KA=$(cat "$T/ka.json")
is "$(jqr '[.responses[].status] | join(",")' "$KA")" "200,200" "a keep-alive connection from before the reload survives it"
is "$(jqr '.responses[1].h["x-config"] // "none"' "$KA")" "B" "a new request on that old connection uses the new configuration"

# ---------------------------------------------------------------------------- a bad reload
errlines=$(wc -l <"$T/portico.err" 2>/dev/null || echo 0)
cp "$CFG" "$T/good.yaml"
cat >"$CFG" <<EOF
listen: ["127.0.0.1:$PP"]
services:
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
routes:
  - name: main
    match: { path_prefix: "/c/" }
    service: no-such-service
EOF
kill -HUP "$PORTICO_PID"
# The refusal is asynchronous: wait (bounded) for it to be logged before checking.
reload_logged() { tail -n +$((errlines + 1)) "$T/portico.err" 2>/dev/null | grep -q 'portico\.yaml:[0-9]'; }
wait_for 5 reload_logged
get /b/x
is "$RESP_STATUS:$(hdr x-config)" "200:B" "a bad file on SIGHUP keeps the old configuration serving"
get /c/x
is "$RESP_STATUS" 404 "the bad file's route was not installed"
check "the process is still running after a bad reload" kill -0 "$pid0"
newlog=$(tail -n +$((errlines + 1)) "$T/portico.err" 2>/dev/null)
like "$newlog" 'portico\.yaml:[0-9]+' "the refused reload is logged with the file and line"
like "$newlog" 'no-such-service' "the refused reload's log names the problem"

# Broken YAML as well.
errlines=$(wc -l <"$T/portico.err" 2>/dev/null || echo 0)
printf 'listen: ["127.0.0.1:%s"\nroutes: [\n' "$PP" >"$CFG"
kill -HUP "$PORTICO_PID"
wait_for 5 reload_logged
get /b/x
is "$RESP_STATUS:$(hdr x-config)" "200:B" "malformed YAML on SIGHUP keeps the old configuration serving"

# ---------------------------------------------------------------------------- reload under load
write_cfg /load/ L0
kill -HUP "$PORTICO_PID"
load_routed() { [ "$(status_of "http://127.0.0.1:$PP/load/x")" = 200 ]; }
check "the load route is installed" wait_for 5 load_routed

DUR=5
# Two loops of fresh connections (one curl per request), counting every status.
curl_loop() {
    local end=$((SECONDS + DUR)) n=0
    while ((SECONDS < end && n < 5000)); do
        curl -s -o /dev/null -m 5 -w '%{http_code}\n' "http://127.0.0.1:$PP/load/c$1-$n" || echo "curl-exit-$?"
        n=$((n + 1))
    done
}
curl_loop 1 >"$T/loop1.txt" & l1=$!; track $l1
curl_loop 2 >"$T/loop2.txt" & l2=$!; track $l2
# wrk keeps 8 connections open across every reload.
have_wrk=0
if command -v wrk >/dev/null; then
    have_wrk=1
    wrk -t2 -c8 -d${DUR}s --timeout 4s "http://127.0.0.1:$PP/load/wrk" >"$T/wrk.txt" 2>&1 & w=$!; track $w
fi
# Each reload waits until the previous one is logged and the loops have answered a few more
# requests since, so every reload lands among requests in flight.
served() { cat "$T/loop1.txt" "$T/loop2.txt" 2>/dev/null | wc -l; }
progressed() { (($(served) >= $1)); }
for i in $(seq 1 10); do
    wait_for 5 progressed $(($(served) + 4)) || note "the load loops stalled before reload $i"
    n=$(log_count 'configuration reloaded' "$T/portico.err")
    write_cfg /load/ "L$i"
    kill -HUP "$PORTICO_PID" 2>/dev/null
    wait_log_count 'configuration reloaded' "$T/portico.err" $((n + 1)) || note "reload $i was not logged"
done
wait $l1 $l2
[ "$have_wrk" = 1 ] && wait $w

total=$(cat "$T/loop1.txt" "$T/loop2.txt" | wc -l)
bad=$(cat "$T/loop1.txt" "$T/loop2.txt" | grep -vc '^200$')
if ((total >= 20)); then ok "reload under load: the curl loops sent $total requests"
else not_ok "reload under load: the curl loops sent $total requests" "want at least 20"; fi
is "$bad" 0 "reload under load: no new-connection request failed or got a non-200 ($total sent)"
((bad > 0)) && note "failures: $(cat "$T/loop1.txt" "$T/loop2.txt" | grep -v '^200$' | sort | uniq -c | paste -sd' ')"
if [ "$have_wrk" = 1 ]; then
    reqs=$(awk '/requests in/ { print $1 }' "$T/wrk.txt")
    if [[ ${reqs:-0} =~ ^[0-9]+$ ]] && ((reqs >= 100)); then ok "reload under load: wrk completed $reqs keep-alive requests"
    else not_ok "reload under load: wrk completed at least 100 keep-alive requests" "$(cat "$T/wrk.txt")"; fi
    is "$(grep -E 'Non-2xx|Socket errors' "$T/wrk.txt")" "" "reload under load: wrk saw no non-2xx response and no socket error"
else
    skip "reload under load: wrk keep-alive load" "wrk is not installed"
fi
get /load/x
is "$(hdr x-config)" "L10" "after ten reloads the last configuration is the one serving"
check "ten reloads kept the same process running" kill -0 "$pid0"

alive_after "reloads"
portico_stop
is "$PORTICO_STATUS" 0 "portico exits 0 on SIGTERM after the reloads"
done_testing
