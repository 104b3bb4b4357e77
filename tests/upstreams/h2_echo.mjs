// h2_echo.mjs: an HTTP/2-only upstream (node:http2) for the gateway's HTTP/2 upstream tests:
// h2c with prior knowledge, or h2 over TLS (ALPN offers h2 alone) with a certificate.
//
//   node h2_echo.mjs [--port P] [--tls-cert F --tls-key F]    prints "listening P" when ready
//
// Every request is answered 200 with {method, path, authority, scheme, headers, body_len,
// body_sha256} once its body has been read, except:
//   /trailers      the answer carries the trailers "x-trailer: yes" and "x-sum: <body_sha256>",
//                  announced in its head ("trailer: x-trailer, x-sum")
//   /big?n=N       N bytes of 'x' (past the stream windows) with their content-length; a HEAD
//                  gets the length alone
//   /status?s=S    answered S with a small text body
//   /goaway?n=N    held until N streams of the session are open; then GOAWAY naming the
//                  first of them as the last processed, and only that one is answered: the
//                  others must be sent again on another connection (answered at once there:
//                  one GOAWAY per run)
//   /hold          never answered (with ?head=1: a 200 head and "partial\n", then nothing more);
//                  when the client resets the stream, "held stream reset N" is printed on stdout
//                  (N counting them)
// GET /__ctl/stats answers {sessions, streams, goaways}.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http2 from 'node:http2';

let port = 0, cert = null, key = null;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port') port = Number(args[++i]);
    else if (args[i] === '--tls-cert') cert = fs.readFileSync(args[++i]);
    else if (args[i] === '--tls-key') key = fs.readFileSync(args[++i]);
}

const stats = { sessions: 0, streams: 0, goaways: 0 };
let heldResets = 0;
const server = cert ? http2.createSecureServer({ cert, key, allowHTTP1: false }) : http2.createServer();
server.on('session', (s) => {
    stats.sessions++;
    s.held = [];
});

function answer(stream, headers, body) {
    const url = new URL(headers[':path'], 'http://x');
    const sum = crypto.createHash('sha256').update(body).digest('hex');
    if (url.pathname === '/trailers') {
        stream.respond({ ':status': 200, 'content-type': 'text/plain', trailer: 'x-trailer, x-sum' },
            { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-trailer': 'yes', 'x-sum': sum }));
        stream.end('with trailers\n');
        return;
    }
    if (url.pathname === '/big') {
        const n = Number(url.searchParams.get('n'));
        const head = headers[':method'] === 'HEAD';
        stream.respond({ ':status': 200, 'content-type': 'application/octet-stream', 'content-length': n }, { endStream: head });
        if (!head) stream.end(Buffer.alloc(n, 'x'));
        return;
    }
    if (url.pathname === '/hold') {
        stream.on('close', () => { if (stream.rstCode) console.log(`held stream reset ${++heldResets}`); });
        if (url.searchParams.get('head')) {
            stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
            stream.write('partial\n');
        }
        return;
    }
    if (url.pathname === '/status') {
        stream.respond({ ':status': Number(url.searchParams.get('s')), 'content-type': 'text/plain' });
        stream.end('status\n');
        return;
    }
    const plain = {};
    for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':')) plain[k] = v;
    stream.respond({ ':status': 200, 'content-type': 'application/json' });
    stream.end(JSON.stringify({
        method: headers[':method'], path: headers[':path'], authority: headers[':authority'] ?? null,
        scheme: headers[':scheme'], headers: plain, body_len: body.length, body_sha256: sum,
    }));
}

server.on('stream', (stream, headers) => {
    stats.streams++;
    if (headers[':path'] === '/__ctl/stats') {
        stream.respond({ ':status': 200, 'content-type': 'application/json' });
        stream.end(JSON.stringify(stats));
        return;
    }
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('error', () => {});
    stream.on('end', () => {
        const url = new URL(headers[':path'], 'http://x');
        if (url.pathname !== '/goaway' || stats.goaways) return answer(stream, headers, Buffer.concat(chunks));
        const s = stream.session;
        s.held.push(stream);
        if (s.held.length < Number(url.searchParams.get('n'))) return;
        stats.goaways++;
        s.goaway(http2.constants.NGHTTP2_NO_ERROR, s.held[0].id);
        answer(s.held[0], headers, Buffer.alloc(0));
    });
});

server.listen(port, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
