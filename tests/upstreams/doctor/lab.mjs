// lab.mjs: small broken (and healthy) servers for the doctor's lab, on 127.0.0.1.
//   node lab.mjs MODE PORT [ARG]
// MODE http STATUS   plain HTTP/1.1 answering every request with STATUS (default 200)
//      h2c           HTTP/2 without TLS only (prior knowledge); HTTP/1.1 clients get no valid answer
//      silent        accepts connections and never reads or sends a byte (a hung handler: nothing
//                    reads the requests it accepted)
//      https CERT KEY  HTTPS (HTTP/1.1) with the given certificate and key files, answering 200
//      banner TEXT   a server that speaks first: sends TEXT and CRLF on connect (SSH-, 220 ...)
//      mtls CERT KEY [MAXVER]  HTTPS that requires a client certificate signed by CERT (none is
//                    given by the doctor); MAXVER "TLSv1.2" keeps it to TLS 1.2
//      mtls-optional CERT KEY  HTTPS that asks for a client certificate but accepts none
//      h2tls CERT KEY  HTTP/2 over TLS only (no HTTP/1.1 fallback)
//      mongo         answers any HTTP request as mongod does on its driver port (a 200 saying so)
// Prints "listening PORT" when ready; PORT 0 picks a free port.
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import fs from 'node:fs';

const [mode, portArg, arg, arg2] = process.argv.slice(2);
const port = Number(portArg || 0);
let server;
if (mode === 'http') {
    const status = Number(arg || 200);
    server = http.createServer((req, res) => res.writeHead(status, { 'content-type': 'text/plain' }).end(`lab ${status}\n`));
} else if (mode === 'h2c') {
    server = http2.createServer();
    server.on('stream', (stream) => { stream.respond({ ':status': 200 }); stream.end('h2c only\n'); });
} else if (mode === 'silent') {
    const held = [];
    server = net.createServer({ pauseOnConnect: true }, (sock) => { held.push(sock); sock.on('error', () => {}); });
} else if (mode === 'https') {
    server = https.createServer({ cert: fs.readFileSync(arg), key: fs.readFileSync(arg2) },
        (req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('lab tls\n'));
} else if (mode === 'banner') {
    server = net.createServer((sock) => { sock.on('error', () => {}); sock.write(`${arg}\r\n`); });
} else if (mode === 'mtls' || mode === 'mtls-optional') {
    const cert = fs.readFileSync(arg);
    server = https.createServer({ cert, key: fs.readFileSync(arg2), ca: cert, requestCert: true,
        rejectUnauthorized: mode === 'mtls', ...(process.argv[6] ? { maxVersion: process.argv[6] } : {}) },
    (req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('lab mtls\n'));
    server.on('tlsClientError', () => {});
} else if (mode === 'h2tls') {
    server = http2.createSecureServer({ cert: fs.readFileSync(arg), key: fs.readFileSync(arg2) });
    server.on('stream', (stream) => { stream.respond({ ':status': 200 }); stream.end('h2 only\n'); });
    server.on('tlsClientError', () => {});
} else if (mode === 'mongo') {
    const text = 'It looks like you are trying to access MongoDB over HTTP on the native driver port.\r\n';
    server = net.createServer((sock) => {
        sock.on('error', () => {});
        sock.once('data', () => sock.end('HTTP/1.0 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\n' +
            `Content-Length: ${text.length}\r\n\r\n${text}`));
    });
} else {
    console.error(`unknown mode ${mode}`);
    process.exit(64);
}
server.listen(port, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
