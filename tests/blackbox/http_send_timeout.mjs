// http_send_timeout.mjs: an upstream and a client in one process, for http_send_timeout.sh.
// The upstream answers the head at once, stays quiet for --quiet-ms (the stimulus: a stream
// with nothing queued when the send timer first fires), then streams --mb MiB with
// backpressure. The client sends one GET through the gateway and then never reads. Prints
// JSON as soon as the gateway closes the upstream connection (it must, once the client has not
// read for send_timeout), or after --wait-ms if it never does (up_closed_ms is then null).
//   node http_send_timeout.mjs --gw PORT --up PORT --quiet-ms MS --mb N --wait-ms MS
import http from 'node:http';
import net from 'node:net';

const a = {};
for (let i = 2; i < process.argv.length; i += 2) a[process.argv[i].slice(2)] = Number(process.argv[i + 1]);
const t0 = Date.now();
let upClosedAt = null, written = 0, streamStartedAt = null;
const chunk = Buffer.alloc(64 * 1024, 0x61);
function report() {
    console.log(JSON.stringify({ up_closed_ms: upClosedAt, stream_started_ms: streamStartedAt, upstream_wrote: written }));
    process.exit(0);
}

const up = http.createServer(async (req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.flushHeaders();
    res.setMaxListeners(0);
    res.on('close', () => { upClosedAt = Date.now() - t0; report(); });
    await new Promise((r) => setTimeout(r, a['quiet-ms']));
    streamStartedAt = Date.now() - t0;
    const total = a.mb * 1024 * 1024;
    while (written < total && !res.destroyed) {
        written += chunk.length;
        if (!res.write(chunk)) await new Promise((r) => { res.once('drain', r); res.once('close', r); });
    }
    if (!res.destroyed) res.end();
});
up.listen(a.up, '127.0.0.1', () => {
    const c = net.connect(a.gw, '127.0.0.1', () => {
        c.write('GET /echo/stream HTTP/1.1\r\nHost: t\r\n\r\n');
        c.pause(); // never read
    });
    c.on('error', () => {});
    setTimeout(report, a['wait-ms']); // the bound on waiting for the close, not a pause
});
