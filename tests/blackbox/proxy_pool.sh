#!/usr/bin/env bash
# Upstream keep-alive pooling: sequential requests reuse upstream connections; a pooled
# connection the upstream has since closed (its keep-alive timeout) is never used for a request
# the client then loses; an upstream "Connection: close" is honoured.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port); U2=$(free_port)
upstream_start pooled "$U1" || not_ok "upstream pooled starts"
upstream_start shortlived "$U2" --keepalive-ms 300 || not_ok "upstream shortlived starts"
cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "off"
services:
  - name: pooled
    targets: ["http://127.0.0.1:$U1"]
  - name: shortlived
    targets: ["http://127.0.0.1:$U2"]
    retries: 1
routes:
  - name: pooled
    match: { path_prefix: "/pooled/" }
    service: pooled
  - name: shortlived
    match: { path_prefix: "/short/" }
    service: shortlived
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts with the test config"

# 20 requests, each on its own client connection (a new curl each time).
bad=0
for i in $(seq 1 20); do [ "$(status_of "http://127.0.0.1:$PP/pooled/r$i")" = 200 ] || bad=$((bad + 1)); done
is "$bad" 0 "pool: 20 sequential requests answer 200"
conns=$(up_stat "$U1" conns_used)
if [ -n "$conns" ] && [ "$conns" -ge 1 ] && [ "$conns" -le 2 ]; then ok "pool: 20 sequential requests used at most 2 upstream connections (one worker)"
else not_ok "pool: 20 sequential requests used at most 2 upstream connections (one worker)" "upstream saw $conns connections"; fi

get /pooled/last
like "$(jqr .conn_requests)" '^([2-9]|[1-9][0-9]+)$' "pool: the upstream connection carried several requests"

# Stale pooled connection: the upstream closes idle connections after 300 ms.
# Each request below waits until the upstream has closed the connection the previous one left
# in the pool (only the stats request's own connection is then open at the upstream).
upstream_idle_closed() { (($(up_stat "$U2" open_connections) == 1)); }
get /short/one
is "$RESP_STATUS" 200 "stale pool: first request answers 200"
bad=0
for i in 1 2 3; do
    wait_for 10 upstream_idle_closed || note "the upstream never closed its idle connection"
    get /short/after-idle-$i
    [ "$RESP_STATUS" = 200 ] || bad=$((bad + 1))
done
is "$bad" 0 "stale pool: requests after the upstream closed its idle connections all answer 200"

# Upstream answers with Connection: close; the next request must still work.
get '/pooled/x?set=connection:close'
is "$RESP_STATUS" 200 "upstream Connection: close: the response is delivered"
conns_before=$(up_stat "$U1" conns_used)
get /pooled/after-close
is "$RESP_STATUS" 200 "upstream Connection: close: the next request answers 200"
is "$(( $(up_stat "$U1" conns_used) - conns_before ))" 1 "upstream Connection: close: a new upstream connection was opened"
R=$(raw 'send:GET /pooled/y?set=connection:close HTTP/1.1\r\nHost: t\r\n\r\n' read:1 'send:GET /pooled/z HTTP/1.1\r\nHost: t\r\n\r\n' read:2)
is "$(jqr '[.responses[].status] | join(",")' "$R")" "200,200" "upstream Connection: close does not close the client's keep-alive connection"

alive_after "pooling"
done_testing
