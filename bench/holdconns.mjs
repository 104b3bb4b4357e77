// holdconns.mjs: opens N keep-alive client connections to a server on loopback, makes one
// request on each (so each is a used, idle keep-alive connection), holds them all open while the
// caller measures the server, and closes them on SIGTERM or when --hold-secs pass. Source addresses rotate over 127.0.0.10-13 so the ephemeral port range is
// never the limit.
//
//   node holdconns.mjs --port P [--count 10000] [--path /healthz] [--batch 200]
//                      [--connect-secs 60] [--hold-secs 120]
// Prints "held N failed F" once every connection has answered (or failed), then waits.
import net from 'node:net';

const o = { port: 0, count: 10000, path: '/healthz', batch: 200, connectSecs: 60, holdSecs: 120 };
const a = process.argv.slice(2);
for (let i = 0; i < a.length; i++) {
    const v = () => a[++i];
    if (a[i] === '--port') o.port = Number(v());
    else if (a[i] === '--count') o.count = Number(v());
    else if (a[i] === '--path') o.path = v();
    else if (a[i] === '--batch') o.batch = Number(v());
    else if (a[i] === '--connect-secs') o.connectSecs = Number(v());
    else if (a[i] === '--hold-secs') o.holdSecs = Number(v());
    else { console.error(`holdconns: unknown argument ${a[i]}`); process.exit(64); }
}
if (!o.port) { console.error('holdconns: --port is required'); process.exit(64); }

const socks = [];
let held = 0, failed = 0;
const req = Buffer.from(`GET ${o.path} HTTP/1.1\r\nHost: bench\r\n\r\n`);

// Opens one connection, sends the request, resolves once the response head (and a short body)
// has arrived; the socket then stays open and idle.
function one(i) {
    return new Promise((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port: o.port, localAddress: `127.0.0.${10 + (i % 4)}` });
        let got = '', done = false, isHeld = false;
        const finish = (okk) => { if (done) return; done = true; isHeld = okk; okk ? held++ : failed++; resolve(); };
        s.setTimeout(o.connectSecs * 1000, () => { if (!done) { finish(false); s.destroy(); } });
        s.on('connect', () => s.write(req));
        s.on('data', (d) => { got += d.toString('latin1'); if (/^HTTP\/1\.1 200/.test(got) && got.includes('\r\n\r\n')) { s.setTimeout(0); finish(true); } });
        s.on('error', () => finish(false));
        // a held connection the server closes early no longer counts as held
        s.on('close', () => { if (isHeld && !closing) { held--; isHeld = false; } finish(false); });
        socks.push(s);
    });
}

let closing = false;
for (let i = 0; i < o.count; i += o.batch) {
    const batch = [];
    for (let j = i; j < Math.min(i + o.batch, o.count); j++) batch.push(one(j));
    await Promise.all(batch);
}
console.log(`held ${held} failed ${failed}`);

const stop = () => { closing = true; for (const s of socks) s.destroy(); process.exit(0); };
setTimeout(stop, o.holdSecs * 1000);
process.on('SIGTERM', stop);
