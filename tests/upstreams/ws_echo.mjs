// ws_echo.mjs: a WebSocket echo upstream (the npm `ws` server) for the tunnel tests.
//
//   node ws_echo.mjs [--port P] [--tls-cert F --tls-key F]
//                                      prints "listening P" once it accepts connections
//                                      (HTTPS, so wss behind the gateway, with a certificate)
//
// Upgrade requests, by path:
//   /refuse400/...   answered 400 with a small JSON body, no switch
//   /plain200/...    answered 200 as if Upgrade were not there (a server that ignores it)
//   /greet/...       switched; the server sends the text "welcome" at once
//   anything else    switched
// Every message is echoed as it came (text as text, binary as binary). The text "bye" makes
// the server close the socket (close frame 4000 "bye", then the TCP close); "bye-now" makes
// it end the TCP stream without a close frame; "flood:N" makes it send N binary messages of
// 1 MiB at once (what the socket cannot take waits in the server, as bufferedAmount);
// "stall" makes it stop reading that socket until "/__ctl/unstall" (then it counts what it
// received after the stall in stalled_bytes).
// Plain HTTP: GET /healthz answers 200; GET /__ctl/stats answers
//   {open, accepted, closed, refused, plain, last_headers: {...}, last_url, flood_buffered}
// where flood_buffered is the bytes the last flooding socket still holds unsent (-1 before one)
// where last_headers are the headers of the last upgrade request received (lowercase names).
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../node/package.json'));
const { WebSocketServer } = require('ws');

let port = 0, cert = null, key = null;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port') port = Number(args[++i]);
    else if (args[i] === '--tls-cert') cert = fs.readFileSync(args[++i]);
    else if (args[i] === '--tls-key') key = fs.readFileSync(args[++i]);
}

const stats = { open: 0, accepted: 0, closed: 0, refused: 0, plain: 0, last_headers: {}, last_url: '', stalled_bytes: 0 };
let flooding = null, stalled = null;
const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });

const handler = (req, res) => {
    if (req.url === '/__ctl/unstall') {
        if (stalled) stalled._socket.resume();
        res.end('ok');
        return;
    }
    if (req.url === '/__ctl/stats') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ...stats, flood_buffered: flooding ? flooding.bufferedAmount : -1 }));
        return;
    }
    req.resume();
    res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'text/plain' });
    res.end(req.url === '/healthz' ? 'ok' : 'not found');
};
const server = cert ? https.createServer({ cert, key }, handler) : http.createServer(handler);

server.on('upgrade', (req, sock, head) => {
    stats.last_headers = Object.fromEntries(Object.entries(req.headers));
    stats.last_url = req.url;
    if (req.url.startsWith('/refuse400/')) {
        stats.refused++;
        const body = '{"error":"no websocket here"}';
        sock.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        return;
    }
    if (req.url.startsWith('/plain200/')) {
        stats.plain++;
        const body = 'plain answer';
        sock.end(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        return;
    }
    wss.handleUpgrade(req, sock, head, (ws) => {
        stats.accepted++;
        stats.open++;
        ws.on('close', () => { stats.open--; stats.closed++; });
        ws.on('error', () => {});
        ws.on('message', (data, isBinary) => {
            if (!isBinary && data.toString() === 'bye') return ws.close(4000, 'bye');
            if (!isBinary && data.toString() === 'bye-now') return ws._socket.end();
            if (stalled === ws) stats.stalled_bytes += data.length;
            if (!isBinary && data.toString() === 'stall') {
                stalled = ws;
                ws._socket.pause();
                return;
            }
            const flood = !isBinary && /^flood:(\d+)$/.exec(data.toString());
            if (flood) {
                flooding = ws;
                for (let i = 0; i < Number(flood[1]); i++) ws.send(Buffer.alloc(1024 * 1024, i & 255));
                return;
            }
            ws.send(data, { binary: isBinary });
        });
        if (req.url.startsWith('/greet/')) ws.send('welcome');
    });
});

server.listen(port, '127.0.0.1', () => {
    console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
