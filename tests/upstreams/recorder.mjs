// recorder.mjs: a raw-socket HTTP/1.1 upstream for black-box tests that appends every byte it
// receives, on every connection, to a file before it answers anything, so a test can prove that
// a refused request never reached the upstream (the file did not grow) and see exactly what a
// served one carried. It answers each complete request (Content-Length or chunked body) with
// 200 and a JSON body {n, request_line, headers: [[name, value]], body}, n counting from 1.
//
//   node recorder.mjs --port P --out FILE [--host 127.0.0.1] [--tls CERT KEY]
// Prints "listening P" on stdout once it accepts connections. With --tls it speaks HTTPS and
// records the decrypted bytes; a client that fails the handshake leaves the file as it was.
import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';

const opt = { host: '127.0.0.1', port: 0, out: '', tls: null };
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port') opt.port = Number(args[++i]);
    else if (args[i] === '--out') opt.out = args[++i];
    else if (args[i] === '--host') opt.host = args[++i];
    else if (args[i] === '--tls') opt.tls = { cert: fs.readFileSync(args[++i]), key: fs.readFileSync(args[++i]) };
    else { console.error(`recorder: unknown argument ${args[i]}`); process.exit(64); }
}
if (!opt.port || !opt.out) { console.error('recorder: --port and --out are required'); process.exit(64); }
fs.writeFileSync(opt.out, '');

let served = 0;

// The body of a chunked message starting at p: {end, body} once complete, null until then.
function chunkedBody(buf, p) {
    const parts = [];
    for (;;) {
        const le = buf.indexOf('\r\n', p);
        if (le < 0) return null;
        const size = parseInt(buf.subarray(p, le).toString('latin1').split(';')[0], 16);
        if (Number.isNaN(size)) return { end: buf.length, body: Buffer.concat(parts) }; // take it all
        if (size === 0) {
            const te = buf.indexOf('\r\n\r\n', le); // after the trailers, if any
            return te < 0 ? null : { end: te + 4, body: Buffer.concat(parts) };
        }
        if (buf.length < le + 2 + size + 2) return null;
        parts.push(buf.subarray(le + 2, le + 2 + size));
        p = le + 2 + size + 2;
    }
}

// One complete request at the start of buf: {end, line, headers, body}, or null.
function nextRequest(buf) {
    const he = buf.indexOf('\r\n\r\n');
    if (he < 0) return null;
    const lines = buf.subarray(0, he).toString('latin1').split('\r\n');
    const headers = lines.slice(1).map((l) => {
        const c = l.indexOf(':');
        return [l.slice(0, c), l.slice(c + 1).trim()];
    });
    const get = (n) => headers.find(([k]) => k.toLowerCase() === n)?.[1];
    let end = he + 4, body = Buffer.alloc(0);
    if (/chunked/i.test(get('transfer-encoding') || '')) {
        const c = chunkedBody(buf, end);
        if (!c) return null;
        end = c.end;
        body = c.body;
    } else if (get('content-length') !== undefined) {
        const n = Number(get('content-length'));
        if (buf.length < end + n) return null;
        body = buf.subarray(end, end + n);
        end += n;
    }
    return { end, line: lines[0], headers, body: body.toString('latin1') };
}

const serve = (sock) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
        fs.appendFileSync(opt.out, d); // on disk before any answer leaves
        buf = Buffer.concat([buf, d]);
        for (let r; (r = nextRequest(buf));) {
            buf = buf.subarray(r.end);
            const body = JSON.stringify({ n: ++served, request_line: r.line, headers: r.headers, body: r.body });
            sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
        }
    });
    sock.on('error', () => {});
};
const server = opt.tls ? tls.createServer(opt.tls, serve) : net.createServer(serve);
server.on('tlsClientError', () => {});
server.listen(opt.port, opt.host, () => console.log(`listening ${opt.port}`));
