#!/usr/bin/env bash
# The access log: one JSON object per line per request, with request_id, route, service, target,
# status, bytes_in, bytes_out, upstream_ms and total_ms, for proxied requests and gateway errors alike.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port); DEAD=$(free_port)
upstream_start echo "$U1" || not_ok "echo upstream starts"
LOG=$T/access.log
cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: $LOG
services:
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
  - name: down
    targets: ["http://127.0.0.1:$DEAD"]
    retries: 0
routes:
  - name: echo-route
    match: { path_prefix: "/echo/" }
    service: echo
  - name: down-route
    match: { path_prefix: "/down/" }
    service: down
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts with the test config"

for i in 1 2 3; do get "/echo/g$i" -H "X-Request-Id: al-get-$i"; done
http POST "http://127.0.0.1:$PP/echo/p" -H 'X-Request-Id: al-post' -d 'hello'
get /nothing -H 'X-Request-Id: al-404'
get /down/x -H 'X-Request-Id: al-502'
# A path holding what a JSON string must escape: quotes and backslashes.
EVIL_PATH='/echo/q"u\o\\te"}{'
get "$EVIL_PATH" --globoff --path-as-is -H 'X-Request-Id: al-evil'

lines_for() { [ -f "$LOG" ] && grep -c "\"$1\"" "$LOG" 2>/dev/null || echo 0; }
has_all() { local id; for id in al-get-1 al-get-2 al-get-3 al-post al-404 al-502 al-evil; do [ "$(lines_for "$id")" -ge 1 ] || return 1; done; }
check "access log: lines for all seven requests appear (within 5 s)" wait_for 5 has_all

# Every line in the file is a JSON object.
badlines=0
if [ -f "$LOG" ]; then
    while IFS= read -r l; do jq -e 'type == "object"' >/dev/null 2>&1 <<<"$l" || badlines=$((badlines + 1)); done <"$LOG"
fi
is "$badlines" 0 "access log: every line is one JSON object"

# line ID: the one log line with .request_id == ID (empty if not exactly one).
line() {
    [ -f "$LOG" ] || return 0
    jq -c --arg id "$1" 'select(.request_id == $id)' "$LOG" 2>/dev/null | awk 'NR == 1 { l = $0 } END { if (NR == 1) print l }'
}
for id in al-get-1 al-get-2 al-get-3 al-post al-404 al-502; do
    is "$(jq -c --arg id "$id" 'select(.request_id == $id)' "$LOG" 2>/dev/null | wc -l)" 1 "access log: exactly one line for request $id"
done

L=$(line al-get-2)
is "$(jqr '.route' "$L")" "echo-route" "access log: route name"
is "$(jqr '.service' "$L")" "echo" "access log: service name"
like "$(jqr '.target' "$L")" "127\.0\.0\.1:$U1" "access log: target address"
is "$(jqr '.status' "$L")" 200 "access log: status"
is "$(jqr '.bytes_out | type' "$L")" "number" "access log: bytes_out is a number"
like "$(jqr '.bytes_out' "$L")" '^[1-9][0-9]*$' "access log: bytes_out counts the response body"
is "$(jqr '.upstream_ms | type' "$L")" "number" "access log: upstream_ms is a number"
is "$(jqr '.total_ms | type' "$L")" "number" "access log: total_ms is a number"
is "$(jqr '.total_ms >= .upstream_ms' "$L")" true "access log: total_ms includes upstream_ms"
like "$(jqr '.time // .ts // .timestamp' "$L")" '^20[0-9]{2}-[01][0-9]-[0-3][0-9]T' "access log: an ISO 8601 time"

L=$(line al-post)
is "$(jqr '.status' "$L")/$(jqr '.route' "$L")" "200/echo-route" "access log: the POST is logged with its route and status"

L=$(line al-404)
is "$(jqr '.status' "$L")" 404 "access log: the no-route 404 is logged"
if [ "$(jqr '.service' "$L")" != "echo" ] && [ "$(jqr '.service' "$L")" != "down" ]; then ok "access log: the 404 names no service"
else not_ok "access log: the 404 names no service" "line: $L"; fi

L=$(line al-evil)
is "$(jqr '.path' "$L")" "$EVIL_PATH" "access log: a path with quotes and backslashes comes back intact from the JSON"
is "$(jqr '.route' "$L")" "echo-route" "access log: the members after an escaped path are intact"

L=$(line al-502)
is "$(jqr '.status' "$L")/$(jqr '.service' "$L")" "502/down" "access log: the 502 is logged with its service"

alive_after "access logging"
done_testing
