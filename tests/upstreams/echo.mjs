// echo.mjs: the black-box tests' upstream. An HTTP (or HTTPS) server with no dependencies that
// echoes what it received and plays slow, streaming, chunked, failing or big upstreams on demand.
//
//   node echo.mjs --port P [--name N] [--host 127.0.0.1] [--tls-cert F --tls-key F]
//                 [--keepalive-ms MS] [--health-status 200] [--behave QUERY]
//
// Behaviour is chosen by the query string (the gateway may rewrite the path, never the query):
//   delay=MS        wait before sending the response head (first-byte timeouts, least_conn)
//   hold=ID         wait before the response head until GET /__ctl/release?id=ID (or 30 s):
//                   a request that is certainly in flight for as long as the test needs
//   abort=1         close the connection without any response (after reading the request)
//   reset=1         reset the connection (TCP RST) without any response
//   interim=L       before the response, write the raw interim responses in the comma list L
//                   (100, 102, 103 with a Link header, any other 1xx bare); 101 Switching
//                   Protocols switches the connection: a WebSocket frame follows, no final
//                   response, and the connection stays open until the peer closes it
//                   (counted in stats.switched_closed)
//   status=N        response status (default 200)
//   set=Name:Value  add a response header (repeatable)
//   chunked=1       respond with Transfer-Encoding: chunked, three pieces written separately
//   bytes=N         respond with N bytes of a fixed pattern, streamed with backpressure
//                   (with chunked=1: no Content-Length)
//   sse=N           server-sent events: N events, each "id: k" + "data: {seq,sent_ms,...}"
//     interval=MS   gap between events (default 300)
//     lockstep=1    send event k+1 only after GET /__ctl/sse/next?id=ID (or 10 s pass)
//     id=ID         name of the stream for the control endpoints
//   otherwise       200 JSON: {name, port, method, url, path, query, http_version, headers
//                   (raw [name, value] pairs), body_len, body_sha256, body (first 64 KiB),
//                   conn_id, conn_requests, remote_port, tls_servername (SNI the client sent)}
//
// The query may also come in an "x-echo" request header ("interim=101&status=201"), for
// clients that cannot choose the query (AI providers' fixed paths), or from --behave
// ("status=503", "reset=1"), which this upstream applies to every request: one target of
// several that fails its own way.
//
// Paths handled before the query behaviours:
//   GET /healthz                  the health status set by --health-status or /__ctl/health
//   GET /__ctl/stats              {name, requests, health_requests, connections, open_connections,
//                                  conns_used, active, max_active, switched_closed}
//                                 connections counts every accepted connection (control ones too);
//                                 conns_used only those that carried a counted request
//   GET /__ctl/reset              zero the counters
//   GET /__ctl/health?status=N    set the /healthz status
//   GET /__ctl/sse?id=ID          {sent, done, acked} of a server-sent-event stream
//   GET /__ctl/sse/next?id=ID     release the next event of a lockstep stream
//   GET /__ctl/release?id=ID      release the requests held with hold=ID, now and later:
//                                 {held} (how many were waiting)
//   GET /__ctl/held?id=ID         {held, released}: requests waiting on hold=ID now
// Counters ignore /healthz and /__ctl/ requests, so health probes never disturb balancing counts.
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';
import fs from 'node:fs';

function parseArgs(argv) {
    const o = { port: 0, name: 'echo', host: '127.0.0.1', keepaliveMs: 5000, healthStatus: 200 };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i], v = () => argv[++i];
        if (a === '--port') o.port = Number(v());
        else if (a === '--name') o.name = v();
        else if (a === '--host') o.host = v();
        else if (a === '--tls-cert') o.cert = v();
        else if (a === '--tls-key') o.key = v();
        else if (a === '--keepalive-ms') o.keepaliveMs = Number(v());
        else if (a === '--health-status') o.healthStatus = Number(v());
        else if (a === '--behave') o.behave = v();
        else { console.error(`echo.mjs: unknown argument ${a}`); process.exit(64); }
    }
    if (!o.port) { console.error('echo.mjs: --port is required'); process.exit(64); }
    return o;
}

const opt = parseArgs(process.argv.slice(2));
const stats = { requests: 0, health_requests: 0, connections: 0, open_connections: 0, conns_used: 0, active: 0, max_active: 0, switched_closed: 0 };
let healthStatus = opt.healthStatus;
const streams = new Map(); // sse id -> {sent, done, acked, release}
const MAX_ECHO_BODY = 64 * 1024;
const PATTERN = Buffer.alloc(64 * 1024);
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = (i * 7 + 3) % 251;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sendJson(res, status, obj, extra = {}) {
    const body = Buffer.from(JSON.stringify(obj));
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length, ...extra });
    res.end(body);
}

function stream(id) {
    if (!streams.has(id)) streams.set(id, { sent: 0, done: false, acked: 0, release: null });
    return streams.get(id);
}

const holds = new Map(); // hold id -> {held, released, wake: [resolve]}
function hold(id) {
    if (!holds.has(id)) holds.set(id, { held: 0, released: false, wake: [] });
    return holds.get(id);
}

function control(req, res, url) {
    const p = url.pathname;
    if (p === '/__ctl/stats') return sendJson(res, 200, { name: opt.name, ...stats });
    if (p === '/__ctl/reset') {
        for (const k of Object.keys(stats)) if (k !== 'open_connections' && k !== 'active') stats[k] = 0;
        return sendJson(res, 200, { ok: true });
    }
    if (p === '/__ctl/health') {
        healthStatus = Number(url.searchParams.get('status') || 200);
        return sendJson(res, 200, { health_status: healthStatus });
    }
    if (p === '/__ctl/sse') {
        const s = stream(url.searchParams.get('id') || '');
        return sendJson(res, 200, { sent: s.sent, done: s.done, acked: s.acked });
    }
    if (p === '/__ctl/sse/next') {
        const s = stream(url.searchParams.get('id') || '');
        s.acked++;
        if (s.release) { const r = s.release; s.release = null; r(); }
        return sendJson(res, 200, { sent: s.sent, acked: s.acked });
    }
    if (p === '/__ctl/release') {
        const h = hold(url.searchParams.get('id') || '');
        const n = h.held;
        h.released = true;
        for (const w of h.wake.splice(0)) w();
        return sendJson(res, 200, { held: n });
    }
    if (p === '/__ctl/held') {
        const h = hold(url.searchParams.get('id') || '');
        return sendJson(res, 200, { held: h.held, released: h.released });
    }
    return sendJson(res, 404, { error: 'unknown control path' });
}

// Writes n pattern bytes, waiting for 'drain' whenever the socket's buffer is full.
async function writePattern(res, n) {
    let left = n;
    while (left > 0 && !res.destroyed) {
        const piece = left >= PATTERN.length ? PATTERN : PATTERN.subarray(0, left);
        left -= piece.length;
        if (!res.write(piece)) await new Promise((r) => { res.once('drain', r); res.once('close', r); });
    }
    res.end();
}

async function serveSse(req, res, q) {
    const n = Number(q.get('sse')), interval = Number(q.get('interval') || 300);
    const lockstep = q.get('lockstep') === '1', id = q.get('id') || '';
    const s = stream(id);
    s.sent = 0; s.done = false; s.acked = 0;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    for (let k = 1; k <= n && !res.destroyed; k++) {
        if (k > 1) {
            if (lockstep) {
                if (s.acked < k - 1) {
                    await Promise.race([new Promise((r) => { s.release = r; }), sleep(10000)]);
                    s.release = null;
                }
            } else {
                await sleep(interval);
            }
        }
        const data = JSON.stringify({ seq: k, of: n, sent_ms: Date.now(), id });
        s.sent = k; // counted before the write so a fast reader never sees an event "not yet sent"
        res.write(`id: ${k}\nevent: tick\ndata: ${data}\n\n`);
    }
    s.done = true;
    res.end();
}

const REASONS = { 100: 'Continue', 101: 'Switching Protocols', 102: 'Processing', 103: 'Early Hints' };

// Writes raw interim responses; returns true when a 101 switched the connection away from HTTP.
function writeInterim(sock, codes) {
    for (const code of codes.map(Number)) {
        let head = `HTTP/1.1 ${code} ${REASONS[code] || 'Informational'}\r\n`;
        if (code === 103) head += 'Link: </style.css>; rel=preload; as=style\r\n';
        if (code === 101) head += 'Connection: Upgrade\r\nUpgrade: websocket\r\n';
        sock.write(head + '\r\n');
        if (code === 101) {
            sock.write(Buffer.from([0x81, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f])); // a text frame "hello"
            sock.on('close', () => { stats.switched_closed++; });
            return true;
        }
    }
    return false;
}

async function handle(req, res) {
    const url = new URL(req.url, 'http://upstream.invalid');
    if (url.pathname.startsWith('/__ctl/')) return control(req, res, url);
    if (url.pathname === '/healthz') {
        stats.health_requests++;
        req.resume();
        return sendJson(res, healthStatus, { status: healthStatus, name: opt.name });
    }
    stats.requests++;
    stats.active++;
    stats.max_active = Math.max(stats.max_active, stats.active);
    res.on('close', () => { stats.active--; });
    const conn = req.socket;
    conn.requests = (conn.requests || 0) + 1;
    if (conn.requests === 1) stats.conns_used++;

    const hash = crypto.createHash('sha256');
    const kept = [];
    let len = 0;
    for await (const chunk of req) {
        hash.update(chunk);
        if (len < MAX_ECHO_BODY) kept.push(chunk.subarray(0, MAX_ECHO_BODY - len));
        len += chunk.length;
    }
    const q = url.searchParams;
    for (const [k, v] of new URLSearchParams(String(req.headers['x-echo'] || ''))) q.append(k, v);
    for (const [k, v] of new URLSearchParams(opt.behave || '')) q.append(k, v);
    const delay = Number(q.get('delay') || 0);
    if (delay > 0) await sleep(delay);
    if (q.has('hold')) {
        const h = hold(q.get('hold'));
        if (!h.released) {
            h.held++;
            await Promise.race([new Promise((r) => h.wake.push(r)), sleep(30000)]);
            h.held--;
        }
    }
    if (res.destroyed) return;
    if (q.get('abort') === '1') return req.socket.destroy();
    if (q.get('reset') === '1') return req.socket.resetAndDestroy();
    if (q.has('interim') && writeInterim(req.socket, q.get('interim').split(','))) return;

    const status = Number(q.get('status') || 200);
    for (const sv of q.getAll('set')) {
        const i = sv.indexOf(':');
        if (i > 0) res.setHeader(sv.slice(0, i).trim(), sv.slice(i + 1).trim());
    }
    res.setHeader('x-upstream-name', opt.name);
    if (!res.hasHeader('server')) res.setHeader('server', 'echo-upstream');

    if (q.has('sse')) return serveSse(req, res, q);
    if (q.has('bytes')) {
        const n = Number(q.get('bytes'));
        res.statusCode = status;
        res.setHeader('content-type', 'application/octet-stream');
        if (q.get('chunked') !== '1') res.setHeader('content-length', n);
        return writePattern(res, n);
    }
    if (q.get('chunked') === '1') {
        res.writeHead(status, { 'content-type': 'text/plain' });
        for (const piece of ['part1 ', 'part2 ', 'part3']) {
            res.write(piece);
            await sleep(20);
        }
        return res.end();
    }
    const headers = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
    sendJson(res, status, {
        name: opt.name,
        port: opt.port,
        method: req.method,
        url: req.url,
        path: url.pathname,
        query: url.search.replace(/^\?/, ''),
        http_version: req.httpVersion,
        headers,
        body_len: len,
        body_sha256: hash.digest('hex'),
        body: Buffer.concat(kept).toString('utf8'),
        conn_id: conn.connId,
        conn_requests: conn.requests,
        remote_port: conn.remotePort,
        tls_servername: conn.servername || null,
    });
}

const onRequest = (req, res) => {
    handle(req, res).catch((e) => {
        if (!res.headersSent) sendJson(res, 500, { error: String(e) });
        else res.destroy();
    });
};
const server = opt.cert
    ? https.createServer({ cert: fs.readFileSync(opt.cert), key: fs.readFileSync(opt.key) }, onRequest)
    : http.createServer(onRequest);
server.keepAliveTimeout = opt.keepaliveMs;
server.headersTimeout = Math.max(opt.keepaliveMs + 1000, 10000);
server.requestTimeout = 0;
const onConn = (sock) => {
    stats.connections++;
    stats.open_connections++;
    sock.connId = stats.connections;
    sock.on('close', () => { stats.open_connections--; });
};
server.on(opt.cert ? 'secureConnection' : 'connection', onConn);
server.listen(opt.port, opt.host, () => {
    console.log(`echo ${opt.name} listening on ${opt.host}:${opt.port}${opt.cert ? ' (tls)' : ''}`);
});
const stop = () => { server.close(); server.closeAllConnections?.(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
