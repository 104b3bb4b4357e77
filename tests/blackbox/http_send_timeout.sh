#!/usr/bin/env bash
# http_send_timeout.sh: a client that stops reading a streamed response is disconnected
# after limits.send_timeout, also when the stream was quiet (nothing queued) the first time
# the send timer fired: the send timer is re-armed while the queue is empty. Otherwise the
# proxy pauses the upstream (which stops its idle timer) and no timer is left: client and
# upstream connections are held forever.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port)
# write_cfg: the configuration with the service on port $U1 (each case has its own upstream).
write_cfg() {
    cat >"$T/portico.yaml" <<EOF2
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "off"
limits: { send_timeout: 500ms }
services:
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
    timeouts: { first_byte: 30s, idle: 30s }
routes:
  - name: echo
    match: { path_prefix: "/echo/" }
    service: echo
EOF2
}
write_cfg
portico_start "$T/portico.yaml" || not_ok "portico starts"

# control: the stream starts at once; the client never reads -> closed after ~send_timeout
R=$(node "$BB_DIR/http_send_timeout.mjs" --gw "$PP" --up "$U1" --quiet-ms 0 --mb 64 --wait-ms 6000)
like "$(jqr '.up_closed_ms // "never"' "$R")" '^[0-9]+$' "client not reading a stream that starts at once is dropped (upstream closed)"

# the stream is quiet for 1.5 s (3 send timeouts) before the bulk: same expectation
U1=$(free_port)
write_cfg
n=$(log_count 'configuration reloaded' "$T/portico.err")
kill -HUP "$PORTICO_PID"
wait_log_count 'configuration reloaded' "$T/portico.err" $((n + 1)) || note "reload to upstream port $U1 not logged"
R=$(node "$BB_DIR/http_send_timeout.mjs" --gw "$PP" --up "$U1" --quiet-ms 1500 --mb 64 --wait-ms 8000)
like "$(jqr '.up_closed_ms // "never"' "$R")" '^[0-9]+$' "client not reading a stream that was quiet first is dropped too (got $R)"
alive_after "stalled readers"
done_testing
