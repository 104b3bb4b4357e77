#!/usr/bin/env bash
# lifecycle_reload_inflight.sh: a proxied request in flight across a SIGHUP reload finishes
# (answered, client gone, or upstream failed) and its access-log line names the route and the
# service it ran on. Those names live in the configuration snapshot the request started on,
# which the reload may free once the request drops its reference: the line must be written
# before that (the sanitizer pass also checks nothing reads the freed snapshot).
# The snapshot loaded at start is never freed, so each case first reloads once: the request
# then runs on a snapshot that a second reload can free. The upstream holds the request
# (hold=ID) until the second reload is logged, so it is certainly in flight across it.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port)
upstream_start echo "$U1" || not_ok "echo upstream starts"
CFG=$T/portico.yaml
LOG=$T/access.log
cat >"$CFG" <<EOF2
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "$LOG"
services:
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
routes:
  - name: echo-route
    match: { path_prefix: "/echo/" }
    service: echo
EOF2

# hup: SIGHUP and wait until the reload is logged.
hup() {
    local n; n=$(log_count 'configuration reloaded' "$T/portico.err")
    kill -HUP "$PORTICO_PID"
    wait_log_count 'configuration reloaded' "$T/portico.err" $((n + 1)) || note "reload not logged"
}
held() { (($(ctl "$U1" "held?id=$1" | jq -r '.held // 0' 2>/dev/null) >= 1)); }
# Only a sanitizer build can see a read of freed memory; elsewhere this check is skipped.
sanitizer_clean() {
    if [ -z "${SANITIZE:-}" ]; then
        skip "$1: no sanitizer report" "not a sanitizer build (SANITIZE is unset)"
    elif grep -q 'Sanitizer' "$T/portico.err"; then
        not_ok "$1: no sanitizer report" "$(grep -A14 'ERROR: .*Sanitizer' "$T/portico.err" | head -30)"
    else
        ok "$1: no sanitizer report"
    fi
}

# run_case NAME ID QUERY END WANT_STATUS: a request to /echo/ID?hold=ID&QUERY in flight across
# a reload; END is "release" (the upstream then answers) or "leave" (the client goes away).
run_case() {
    local name=$1 id=$2 query=$3 end=$4 want=$5
    : >"$T/portico.err"
    portico_start "$CFG" || { not_ok "$name: portico starts"; return; }
    hup
    curl -s -m 20 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PP/echo/$id?hold=$id&$query" >"$T/status" &
    local c=$!; track $c
    wait_for 10 held "$id" || note "$name: the request never reached the upstream"
    hup
    if [ "$end" = leave ]; then
        kill "$c" 2>/dev/null; wait "$c" 2>/dev/null
        ctl "$U1" "release?id=$id" >/dev/null
    else
        ctl "$U1" "release?id=$id" >/dev/null
        wait "$c"
        is "$(cat "$T/status")" "$want" "$name: status"
    fi
    wait_log "\"path\":\"/echo/$id" "$LOG" || note "$name: no access-log line for /echo/$id"
    local line; line=$(grep -F "\"path\":\"/echo/$id" "$LOG" | head -n 1)
    is "$(jq -r '"\(.route) \(.service)"' <<<"$line" 2>/dev/null)" "echo-route echo" \
        "$name: the access-log line names the route and the service the request ran on"
    alive_after "$name"
    sanitizer_clean "$name"
    portico_stop KILL
}

run_case "response completes after a reload" done "" release 200
run_case "client leaves after a reload" gone "" leave ""
run_case "upstream fails after a reload" fails "abort=1" release 502
done_testing
