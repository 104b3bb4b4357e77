#!/usr/bin/env bash
# proxy_slow_upstream_upload.sh: when the gateway itself pauses the client's upload because
# the upstream reads slowly, the client's body timeout must not fire: the client is not the
# one that stopped (the body timer is stopped while the body is paused). An upstream that
# stops reading for 4 s (the stimulus: twice body_timeout, well under its 30 s idle timeout)
# must not turn a healthy upload into "408 body_timeout" (body_timeout is 2 s here). Over
# HTTP/2 the paused stream keeps its window closed instead, and the same holds.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); U1=$(free_port)
cat >"$T/slow.mjs" <<'EOF2'
import http from 'node:http';
const port = Number(process.argv[2]);
http.createServer((req, res) => {
    let n = 0;
    req.pause();
    const stalled = 4000; // the stimulus: the upstream reads nothing for this long
    setTimeout(() => { req.on('data', (d) => { n += d.length; }); req.resume(); }, stalled);
    req.on('end', () => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(`got ${n}\n`); });
}).listen(port, '127.0.0.1');
EOF2
node "$T/slow.mjs" "$U1" >"$T/slow.log" 2>&1 & track $!
wait_port "$U1" || not_ok "the slow-reading upstream starts" "$(cat "$T/slow.log")"
cat >"$T/portico.yaml" <<EOF2
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "off"
limits: { body_timeout: 2s, max_body_bytes: 64MB }
services:
  - name: slow
    targets: ["http://127.0.0.1:$U1"]
    timeouts: { first_byte: 30s, idle: 30s }
routes:
  - name: slow
    match: { path_prefix: "/up/" }
    service: slow
EOF2
portico_start "$T/portico.yaml" || not_ok "portico starts"
head -c $((32 * 1024 * 1024)) /dev/zero >"$T/body"
http POST "http://127.0.0.1:$PP/up/x" --data-binary @"$T/body" -H 'Content-Type: application/octet-stream'
is "$RESP_STATUS" 200 "an upload the upstream reads slowly completes (got: ${RESP_BODY:0:200})"
http POST "http://127.0.0.1:$PP/up/h2" --http2-prior-knowledge --data-binary @"$T/body" -H 'Content-Type: application/octet-stream'
is "$RESP_STATUS:$RESP_BODY" "200:got $((32 * 1024 * 1024))" "h2c: the same upload over HTTP/2 completes whole"
done_testing
