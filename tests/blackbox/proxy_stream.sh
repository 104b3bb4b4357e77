#!/usr/bin/env bash
# Streaming: server-sent events reach the client one by one (each event is read before the
# upstream has sent the next), and big bodies pass through both ways intact without the
# gateway's peak memory growing with the body (nothing is buffered whole), also when the client
# reads slowly (backpressure).
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port)
upstream_start echo "$U1" || not_ok "echo upstream starts"
echo_config "workers: 1
limits: { max_body_bytes: 64MB }" "    timeouts: { first_byte: 15s, idle: 15s }" >"$T/portico.yaml"
portico_start "$T/portico.yaml" || not_ok "portico starts with the test config"
SSE="node $UPSTREAMS/sseclient.mjs --ctl http://127.0.0.1:$U1"

# ---------------------------------------------------------------------------- SSE
# Lockstep: the upstream sends event k+1 only after the client has read event k, so a gateway
# that holds events back never delivers the second one.
R=$($SSE --url "http://127.0.0.1:$PP/echo/sse?sse=5&lockstep=1&id=lock" --id lock --lockstep --timeout 30000)
is "$(jqr .status "$R")" 200 "SSE: 200 through the gateway"
like "$(jqr .content_type "$R")" '^text/event-stream' "SSE: Content-Type text/event-stream passes through"
is "$(jqr '[.events[].seq] | join(",")' "$R")" "1,2,3,4,5" "SSE lockstep: each event reaches the client before the next is sent"
is "$(jqr .complete "$R")" true "SSE lockstep: the stream ends cleanly after the last event"

# Timed: 5 events 300 ms apart; after reading event k the client asks the upstream how many it
# has sent. Relayed event by event, that count is still k.
R=$($SSE --url "http://127.0.0.1:$PP/echo/sse?sse=5&interval=300&id=timed" --id timed --timeout 30000)
is "$(jqr '[.events[].seq] | join(",")' "$R")" "1,2,3,4,5" "SSE timed: all five events arrive in order"
is "$(jqr '[.events[] | (.seq == .upstream_sent_when_read)] | all' "$R")" true \
    "SSE timed: every event is read before the upstream sends the next"
[ "$(jqr '[.events[] | (.seq == .upstream_sent_when_read)] | all' "$R")" = true ] || note "events: $(jqr -c .events "$R")"
is "$(jqr .complete "$R")" true "SSE timed: the stream ends cleanly"

# Two streams at once on one worker interleave instead of queueing.
$SSE --url "http://127.0.0.1:$PP/echo/sse?sse=4&interval=300&id=par1" --id par1 --timeout 30000 >"$T/par1.json" &
p1=$!; track $p1
$SSE --url "http://127.0.0.1:$PP/echo/sse?sse=4&interval=300&id=par2" --id par2 --timeout 30000 >"$T/par2.json" &
p2=$!; track $p2
wait $p1 $p2
both=$(jq -s '[.[] | .events | map(.seq == .upstream_sent_when_read) | all] | all' "$T/par1.json" "$T/par2.json" 2>/dev/null)
is "$both" true "SSE: two concurrent streams are both relayed event by event"

# ---------------------------------------------------------------------------- big bodies
hwm_before=$(rss_kb "$PORTICO_PID" VmHWM)
note "portico VmHWM before big bodies: ${hwm_before} kB"

# sha_of URL [curl args]: sha256 of the body; the status goes to $T/sha.status.
sha_of() {
    local url=$1; shift
    curl -s -m 60 -D "$T/sha.headers" "$@" "$url" | sha256sum | cut -d' ' -f1
    awk 'NR == 1 { print $2 }' "$T/sha.headers" >"$T/sha.status"
}
N=$((50 * 1024 * 1024))
direct=$(sha_of "http://127.0.0.1:$U1/direct?bytes=$N")
[ "$(cat "$T/sha.status")" = 200 ] || not_ok "the upstream serves 50 MB directly" "status $(cat "$T/sha.status")"
via=$(sha_of "http://127.0.0.1:$PP/echo/big?bytes=$N")
is "$(cat "$T/sha.status")" 200 "50 MB response: 200"
is "$via" "$direct" "50 MB response passes through byte for byte (sha256)"

via=$(sha_of "http://127.0.0.1:$PP/echo/big?bytes=$N&chunked=1")
is "$(cat "$T/sha.status"):$via" "200:$direct" "50 MB chunked response passes through byte for byte (sha256)"

head -c $((20 * 1024 * 1024)) /dev/urandom >"$T/up20.bin"
want=$(sha256sum "$T/up20.bin" | cut -d' ' -f1)
http POST "http://127.0.0.1:$PP/echo/upload" --data-binary @"$T/up20.bin" -H 'Content-Type: application/octet-stream'
is "$RESP_STATUS" 200 "20 MB upload: 200"
is "$(jqr .body_sha256)/$(jqr .body_len)" "$want/$((20 * 1024 * 1024))" "20 MB upload arrives byte for byte (sha256, length)"
http POST "http://127.0.0.1:$PP/echo/upload-chunked" --data-binary @"$T/up20.bin" -H 'Transfer-Encoding: chunked'
is "$(jqr .body_sha256)/$(jqr .body_len)" "$want/$((20 * 1024 * 1024))" "20 MB chunked upload arrives byte for byte"

# A client reading at 8 MB/s: the gateway must stop reading the upstream, not buffer 30 MB.
M=$((30 * 1024 * 1024))
direct=$(sha_of "http://127.0.0.1:$U1/direct?bytes=$M")
via=$(sha_of "http://127.0.0.1:$PP/echo/slowreader?bytes=$M" --limit-rate 8M)
is "$(cat "$T/sha.status"):$via" "200:$direct" "30 MB response to a slow reader passes through intact"

hwm_after=$(rss_kb "$PORTICO_PID" VmHWM)
note "portico VmHWM after big bodies: ${hwm_after} kB"
if [ -n "${SANITIZE:-}" ]; then
    # ASan keeps freed memory in quarantine by design: peak RSS says nothing about buffering there.
    skip "peak RSS grew by less than 16 MB over 50 MB down, 20 MB up and a slow reader" "not measurable under SANITIZE=$SANITIZE"
elif [ -n "$hwm_before" ] && [ -n "$hwm_after" ] && ((hwm_after - hwm_before < 16384)); then
    ok "peak RSS grew by less than 16 MB over 50 MB down, 20 MB up and a slow reader ($((hwm_after - hwm_before)) kB)"
else
    not_ok "peak RSS grew by less than 16 MB over 50 MB down, 20 MB up and a slow reader" "VmHWM ${hwm_before:-?} -> ${hwm_after:-?} kB"
fi

alive_after "streaming"
done_testing
