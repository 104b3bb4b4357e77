#!/usr/bin/env bash
# Slow and idle clients are cut off: a request head dribbled one byte per 500 ms past
# header_timeout (one deadline from accept, not restarted by the first byte), a body that stalls
# past body_timeout, and an idle keep-alive connection past idle_timeout; a connection that stays
# busy is not cut. The server survives each.
# The upper bounds below are the configured timeout plus a wide margin; no test asserts speed.
# run alone: it checks that timeouts of 2 s fire within a margin.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port)
upstream_start echo "$U1" || not_ok "echo upstream starts"
echo_config "workers: 2
limits: { header_timeout: 2s, idle_timeout: 2s, body_timeout: 2s, drain_timeout: 5s }" >"$T/portico.yaml"
portico_start "$T/portico.yaml" || not_ok "portico starts with the test config"
MARGIN_MS=3000

# closed_within NAME JSON MS: the server closed the connection, at most MS after it opened.
closed_within() {
    local name=$1 R=$2 ms=$3 at
    at=$(jqr '.closed_at_ms // "never"' "$R")
    if [ "$(jqr '.closed' "$R")" = true ] && [[ $at =~ ^[0-9]+$ ]] && ((at <= ms)); then ok "$name"
    else not_ok "$name" "closed: $(jqr '.closed' "$R") at ${at} ms; want closed by $ms ms"; fi
}
# no_response_or NAME JSON STATUS: either nothing was written or exactly one STATUS response.
no_response_or() {
    local name=$1 R=$2 want=$3 got
    got=$(jqr '[.responses[].status] | join(",")' "$R")
    if [ -z "$got" ] || [ "$got" = "$want" ]; then ok "$name"
    else not_ok "$name" "responses: '$got'; want none or $want"; fi
}

# ---------------------------------------------------------------------------- slow-loris head
R=$(raw --timeout 15000 'dribble:500:GET /echo/loris HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa\r\n\r\n' close:8000)
closed_within "slow-loris head (1 byte / 500 ms) is cut off within header_timeout + margin" "$R" $((2000 + MARGIN_MS))
no_response_or "slow-loris: the server writes 408 or nothing" "$R" 408
alive_after "a slow-loris client"

# Several at once do not stall the others.
pids=()
for i in 1 2 3 4 5; do
    raw --timeout 15000 'dribble:500:GET /echo/loris HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa\r\n\r\n' close:8000 >"$T/loris$i.json" &
    pids+=($!); track $!
done
loris_connected() { (($(tcp_conns "$PP") >= 5)); }
wait_for 10 loris_connected || note "only $(tcp_conns "$PP") slow-loris clients connected"
get /echo/during-loris
is "$RESP_STATUS" 200 "a normal request is served while five slow-loris clients dribble"
wait "${pids[@]}"
n=0; for i in 1 2 3 4 5; do [ "$(jqr .closed "$(cat "$T/loris$i.json")")" = true ] && n=$((n + 1)); done
is "$n" 5 "all five slow-loris connections were closed by the server"

# ---------------------------------------------------------------------------- one header deadline
# The first head's deadline runs from accept: a client that waits 1.8 s before its first byte
# and then stalls is cut at header_timeout (2 s), not 2 s after that byte (3.8 s).
before=$(up_count "$U1")
R=$(raw --timeout 15000 idle:1800 'send:GET /echo/late HTTP/1.1\r\nHost: t\r\n' close:8000)
is "$(jqr '[.responses[].status] | join(",")' "$R")" 408 "a head that starts late and stalls gets one 408"
like "$(jqr '.responses[0].body' "$R")" 'within 2000 ms \(limits\.header_timeout\)' "the 408 names the configured header_timeout"
at=$(jqr '.closed_at_ms // 999999' "$R")
if [ "$(jqr .closed "$R")" = true ] && ((at >= 1900 && at <= 3300)); then
    ok "the header deadline counts from accept, not from the first byte"
else
    not_ok "the header deadline counts from accept, not from the first byte" \
        "closed: $(jqr .closed "$R") at $at ms; want 1900..3300 (re-armed at the first byte: ~3800)"
fi

# On a kept-alive connection the wait for the next request is idle_timeout; the next head gets
# the whole header_timeout from its first byte (as nginx does).
R=$(raw --timeout 15000 'send:GET /echo/ka1 HTTP/1.1\r\nHost: t\r\n\r\n' read:1 idle:1000 \
    'send:GET /echo/ka2 HTTP/1.1\r\n' close:8000)
is "$(jqr '[.responses[].status] | join(",")' "$R")" "200,408" "keep-alive: the stalled second head gets 408"
resp_at=$(jqr '.responses[0].at_ms // 0' "$R"); at=$(jqr '.closed_at_ms // 0' "$R")
if ((at - resp_at >= 2900)); then ok "keep-alive: the second head had header_timeout from its first byte"
else not_ok "keep-alive: the second head had header_timeout from its first byte" "closed $((at - resp_at)) ms after the first response; want >= 2900"; fi
is "$(($(up_count "$U1") - before))" 1 "only the complete request reached the upstream"

# ---------------------------------------------------------------------------- stalled body
R=$(raw --timeout 15000 'send:POST /echo/stall HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nhello' close:10000)
closed_within "a body that stalls is cut off within body_timeout + margin" "$R" $((2000 + MARGIN_MS))
no_response_or "stalled body: the server writes 408 or nothing" "$R" 408
alive_after "a stalled body"

# ---------------------------------------------------------------------------- idle keep-alive
R=$(raw --timeout 15000 'send:GET /echo/idle HTTP/1.1\r\nHost: t\r\n\r\n' read:1 close:10000)
is "$(jqr '.responses[0].status' "$R")" 200 "idle test: the first request is answered"
at=$(jqr '.closed_at_ms // 999999' "$R"); resp_at=$(jqr '.responses[0].at_ms // 0' "$R")
at=${at:-999999}; resp_at=${resp_at:-0}
if [ "$(jqr .closed "$R")" = true ] && ((at - resp_at <= 2000 + MARGIN_MS)); then
    ok "an idle keep-alive connection is closed within idle_timeout + margin"
else
    not_ok "an idle keep-alive connection is closed within idle_timeout + margin" \
        "closed: $(jqr .closed "$R"), $((at - resp_at)) ms after the response"
fi
is "$(jqr '.responses | length' "$R")" 1 "idle close writes no extra response"
# Its buffers go back 100 ms into the idle time (the timer fires then): that must not
# shorten the idle timeout.
if ((at - resp_at >= 1900)); then ok "the idle connection is not closed before idle_timeout"
else not_ok "the idle connection is not closed before idle_timeout" "closed $((at - resp_at)) ms after the response"; fi

# A request that comes after the connection gave its buffers back (1.5 s idle) is served as
# the first was, and so is one right after it (buffers kept).
R=$(raw --timeout 8000 'send:GET /echo/trim1 HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n\r\n' read:1 idle:1500 \
    'send:GET /echo/trim2 HTTP/1.1\r\nHost: t\r\nX-B: 2\r\n\r\n' read:2 \
    'send:GET /echo/trim3 HTTP/1.1\r\nHost: t\r\nX-C: 3\r\n\r\n' read:3)
is "$(jqr '[.responses[].status] | join(",")' "$R")" "200,200,200" \
    "requests after the idle buffers were given back, and right after, are answered"

# A connection used every 700 ms for 4 s (twice idle_timeout) stays open: activity resets the
# idle timer. The 700 ms pauses are the stimulus (well under the 2 s idle_timeout).
acts=()
for i in 1 2 3 4 5 6; do acts+=("send:GET /echo/busy$i HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n" "read:$i" idle:700); done
R=$(raw --timeout 5000 "${acts[@]}")
is "$(jqr '[.responses[].status] | join(",")' "$R")" "200,200,200,200,200,200" \
    "a connection with a request every 700 ms is kept past idle_timeout"
is "$(jqr '.closed' "$R")" false "the busy connection is still open at the end"

# A connection that never sends a byte is closed too (header_timeout or idle_timeout).
R=$(raw --timeout 15000 close:10000)
closed_within "a connection that sends nothing is closed within the timeout + margin" "$R" $((2000 + MARGIN_MS))
alive_after "the timeouts"

done_testing
