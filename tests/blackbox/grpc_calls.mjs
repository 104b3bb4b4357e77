// grpc_calls.mjs: gRPC calls through the gateway with the npm @grpc/grpc-js client, against
// tests/upstreams/grpc/echo.mjs behind it; prints one JSON line per call, for grpc.sh.
//
//   node grpc_calls.mjs HOST:PORT CALL...
//
// Calls: unary, error, server_stream, client_stream, bidi, large, deadline, gateway_deadline,
// gateway_deadline_midway, timeout_passed_on, down, http1. The gateway_deadline ones are sent with node:http2,
// not @grpc/grpc-js: they say grpc-timeout but never cancel the call themselves, so what ends
// them is the gateway (before the answer began, or midway through it).
// Each line is {"call": NAME, "code": gRPC status, "details": ..., and what the call saw}.
// `down` and `http1` send the metadata "x-route: down" / "x-route: http1" so the gateway's
// routes send them to an unreachable upstream and to an HTTP/1.1-only service.
import crypto from 'node:crypto';
import http2 from 'node:http2';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../node/package.json'));
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');
const def = loader.loadSync(path.join(here, '../upstreams/grpc/echo.proto'),
    { keepCase: true, longs: Number, defaults: true });
const Echo = grpc.loadPackageDefinition(def).portico.test.Echo;

const [target, ...calls] = process.argv.slice(2);
const limits = { 'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20 };
const client = new Echo(target, grpc.credentials.createInsecure(), limits);
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
const meta = (route) => {
    const md = new grpc.Metadata();
    if (route) md.set('x-route', route);
    return md;
};
const failed = (e) => ({ code: e.code, details: e.details, trailers: e.metadata ? e.metadata.getMap() : {} });

function unary(req, md = meta(), opts = {}) {
    return new Promise((resolve) => client.Unary(req, md, opts, (e, r) => resolve(e ? failed(e) : { code: 0, reply: r })));
}

const run = {
    async unary() {
        const r = await unary({ text: 'hello' });
        return { code: r.code, text: r.reply?.text };
    },
    async error() {
        const r = await unary({ text: 'x', fail_code: grpc.status.FAILED_PRECONDITION, fail_message: 'not now: 100% é' });
        const bin = r.trailers['x-bin-bin'];
        return { code: r.code, details: r.details, detail: r.trailers['x-detail'], bin: bin ? Buffer.from(bin).toString('hex') : null };
    },
    server_stream() {
        return new Promise((resolve) => {
            const texts = [];
            const call = client.ServerStream({ text: 's', count: 5 });
            call.on('data', (m) => texts.push(m.text));
            call.on('status', (s) => resolve({ code: s.code, texts, count: s.metadata.getMap()['x-count'] ?? null }));
            call.on('error', () => {});
        });
    },
    client_stream() {
        return new Promise((resolve) => {
            const call = client.ClientStream((e, r) => resolve(e ? failed(e) : { code: 0, text: r.text }));
            for (const t of ['a', 'b', 'c']) call.write({ text: t });
            call.end();
        });
    },
    // each message waits for the answer to the one before: a gateway that held the request
    // body back would leave this call hanging
    bidi() {
        return new Promise((resolve) => {
            const got = [];
            const call = client.Bidi();
            const words = ['one', 'two', 'three'];
            call.on('data', (m) => {
                got.push(m.text);
                if (got.length < words.length) call.write({ text: words[got.length] });
                else call.end();
            });
            call.on('status', (s) => resolve({ code: s.code, texts: got }));
            call.on('error', () => {});
            call.write({ text: words[0] });
        });
    },
    // far past every flow-control window both ways (64 KiB default, 256 KiB, 1 MiB)
    async large() {
        const blob = crypto.randomBytes(6 << 20);
        const r = await unary({ text: 'big', blob });
        const up = await new Promise((resolve) => {
            const call = client.ClientStream((e, rep) => resolve(e ? failed(e) : { code: 0, blob: rep.blob }));
            for (let i = 0; i < 4; i++) call.write({ blob: blob.subarray(i << 20, (i + 1) << 20) });
            call.end();
        });
        return {
            code: r.code, same: r.code === 0 && sha(r.reply.blob) === sha(blob),
            stream_code: up.code, stream_same: up.code === 0 && sha(up.blob) === sha(blob.subarray(0, 4 << 20)),
        };
    },
    async deadline() {
        const r = await unary({ text: 'slow', delay_ms: 3000 }, meta(), { deadline: Date.now() + 300 });
        return { code: r.code, details: r.details };
    },
    // `path`: an upstream that never answers (h2_echo.mjs /hold): the deadline is the gateway's
    // alone, not also the upstream's own (a gRPC server reads grpc-timeout too)
    gateway_deadline(path = '/c/hold') {
        const msg = Echo.service.Unary.requestSerialize({ text: 'slow' });
        const frame = Buffer.alloc(5 + msg.length);
        frame.writeUInt32BE(msg.length, 1);
        msg.copy(frame, 5);
        return new Promise((resolve) => {
            const session = http2.connect(`http://${target}`);
            const req = session.request({ ':method': 'POST', ':path': path,
                'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '300m' });
            let fields = {}, body = '', trailersOnly = false;
            req.on('response', (h, flags) => { fields = { ...h }; trailersOnly = (flags & 1) === 1; });
            req.on('trailers', (t) => { fields = { ...fields, ...t }; });
            req.on('data', (d) => { body += d; });
            const done = (r) => { session.close(); resolve(r); };
            req.on('end', () => done({ code: Number(fields['grpc-status']),
                details: decodeURIComponent(fields['grpc-message'] ?? ''), body, trailers_only: trailersOnly }));
            req.on('error', (e) => done({ code: null, details: String(e) }));
            req.end(frame);
        });
    },
    gateway_deadline_midway() { return run.gateway_deadline('/c/hold?head=1'); },
    // grpc-timeout 5S, and the message sent 300 ms after the gateway has the head (its PING
    // answer comes after it read the HEADERS before it): on /m/, a route whose masking policy
    // reads the body whole before the call goes upstream, so at least 300 ms of the deadline
    // are spent when it does. h2_echo.mjs answers with the fields it received.
    timeout_passed_on() {
        return new Promise((resolve) => {
            const session = http2.connect(`http://${target}`);
            const req = session.request({ ':method': 'POST', ':path': '/m/echo',
                'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '5S' });
            let status = 0, body = '';
            req.on('response', (h) => { status = h[':status']; });
            req.on('data', (d) => { body += d; });
            const done = (r) => { session.close(); resolve(r); };
            req.on('end', () => {
                let got = null;
                try { got = JSON.parse(body).headers['grpc-timeout'] ?? null; } catch { /* not the echo's */ }
                done({ code: status, asked: '5S', waited_ms: 300, got });
            });
            req.on('error', (e) => done({ code: null, details: String(e) }));
            session.ping(() => setTimeout(() => req.end(Buffer.from([0, 0, 0, 0, 0])), 300));
        });
    },
    async down() {
        const r = await unary({ text: 'x' }, meta('down'));
        return { code: r.code, details: r.details };
    },
    async http1() {
        const r = await unary({ text: 'x' }, meta('http1'));
        return { code: r.code, details: r.details };
    },
};

for (const name of calls) {
    const out = await run[name]();
    console.log(JSON.stringify({ call: name, ...out }));
}
client.close();
