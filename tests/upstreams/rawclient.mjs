// rawclient.mjs: a scripted raw-socket HTTP/1.1 client for black-box tests. It sends exactly the
// bytes it is told to (smuggling shapes, pipelined requests, dribbled headers), parses what comes
// back without forgiving anything, and prints one JSON document describing it.
//
//   node rawclient.mjs --port P [--host 127.0.0.1] [--tls --cafile F --servername N --alpn h1,h2]
//                      [--timeout MS] [--head-at 1,3] ACTION...
// Actions, run in order:
//   send:TEXT          write TEXT; escapes \r \n \t \\ \xHH are interpreted
//   sendfile:PATH      write a file's bytes
//   repeat:N:TEXT      write TEXT (escapes interpreted) N times in one write
//   dribble:MS:TEXT    write TEXT one byte every MS milliseconds (stops if the peer closes)
//   idle:MS            send nothing for MS: a stimulus (timeouts, keep-alive), never a way to
//                      wait for the server; "sleep:MS" is an older name for it
//   gate:PATH          wait until the file PATH exists (the test creates it once what the
//                      client must wait for has happened); on --timeout the script stops with
//                      timed_out: true
//   read:N             wait until N responses in all (1xx interim ones included) are parsed;
//                      on --timeout the script stops with timed_out: true
//   close:MS           wait up to MS for the peer to close the connection
//   end                half-close our side (FIN)
// --head-at lists the final (non-1xx) responses, counted from 1, that answer HEAD requests and
// so have no body.
// Output: {connected, alpn, responses: [{status, reason, version, headers: [[n, v]], h: {lower: v},
//          body, body_len, at_ms}], closed, closed_at_ms, error, timed_out, elapsed_ms, leftover}
// at_ms / closed_at_ms count from the moment the connection was established.
import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';

function unescape(s) {
    const out = [];
    for (let i = 0; i < s.length; i++) {
        const c = s[i];
        if (c !== '\\' || i + 1 >= s.length) { out.push(...Buffer.from(c, 'utf8')); continue; }
        const n = s[++i];
        if (n === 'r') out.push(13);
        else if (n === 'n') out.push(10);
        else if (n === 't') out.push(9);
        else if (n === '\\') out.push(92);
        else if (n === 'x') { out.push(parseInt(s.substr(i + 1, 2), 16)); i += 2; }
        else out.push(92, ...Buffer.from(n, 'utf8'));
    }
    return Buffer.from(out);
}

const args = process.argv.slice(2);
const opt = { host: '127.0.0.1', port: 0, tls: false, timeout: 5000, headAt: new Set(), alpn: null };
const actions = [];
for (let i = 0; i < args.length; i++) {
    const a = args[i], v = () => args[++i];
    if (a === '--port') opt.port = Number(v());
    else if (a === '--host') opt.host = v();
    else if (a === '--tls') opt.tls = true;
    else if (a === '--cafile') opt.cafile = v();
    else if (a === '--servername') opt.servername = v();
    else if (a === '--alpn') opt.alpn = v().split(',');
    else if (a === '--timeout') opt.timeout = Number(v());
    else if (a === '--head-at') for (const k of v().split(',')) opt.headAt.add(Number(k));
    else if (a.startsWith('--')) { console.error(`rawclient: unknown option ${a}`); process.exit(64); }
    else actions.push(a);
}
if (!opt.port) { console.error('rawclient: --port is required'); process.exit(64); }

const result = {
    connected: false, alpn: null, responses: [], closed: false, closed_at_ms: null,
    error: null, timed_out: false, elapsed_ms: 0, leftover: '',
};
let t0 = Date.now();
const now = () => Date.now() - t0;
let buf = Buffer.alloc(0);
let finals = 0;
let waiters = [];
const wake = () => { const w = waiters; waiters = []; for (const f of w) f(); };

// Parses as many complete responses as buf holds. A response without Content-Length or chunked
// framing runs to the close, so it is only complete once the peer has closed.
function parse() {
    for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const lines = head.split('\r\n');
        const m = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(lines[0]);
        if (!m) { result.error = result.error || `bad status line: ${JSON.stringify(lines[0])}`; return; }
        const headers = [], h = {};
        for (const l of lines.slice(1)) {
            const c = l.indexOf(':');
            const name = c < 0 ? l : l.slice(0, c), value = c < 0 ? '' : l.slice(c + 1).trim();
            headers.push([name, value]);
            h[name.toLowerCase()] = value;
        }
        const status = Number(m[2]);
        const interim = status >= 100 && status < 200;
        const isHead = !interim && opt.headAt.has(finals + 1);
        let body = Buffer.alloc(0), consumed = end + 4;
        if (interim || isHead || status === 204 || status === 304) {
            // no body
        } else if (/chunked/i.test(h['transfer-encoding'] || '')) {
            const parts = [];
            let p = consumed, complete = false;
            for (;;) {
                const le = buf.indexOf('\r\n', p);
                if (le < 0) break;
                const size = parseInt(buf.subarray(p, le).toString('latin1').split(';')[0], 16);
                if (Number.isNaN(size)) { result.error = 'bad chunk size from server'; return; }
                if (size === 0) {
                    // last chunk: optional trailer lines, then an empty line
                    if (buf.length < le + 4) break;
                    if (buf[le + 2] === 13 && buf[le + 3] === 10) p = le + 4;
                    else {
                        const te = buf.indexOf('\r\n\r\n', le + 2);
                        if (te < 0) break;
                        p = te + 4;
                    }
                    complete = true;
                    break;
                }
                if (buf.length < le + 2 + size + 2) break;
                parts.push(buf.subarray(le + 2, le + 2 + size));
                p = le + 2 + size + 2;
            }
            if (!complete) return;
            body = Buffer.concat(parts);
            consumed = p;
        } else if (h['content-length'] !== undefined) {
            const n = Number(h['content-length']);
            if (buf.length < consumed + n) return;
            body = buf.subarray(consumed, consumed + n);
            consumed += n;
        } else {
            if (!result.closed) return;
            body = buf.subarray(consumed);
            consumed = buf.length;
        }
        if (!interim) finals++;
        result.responses.push({
            status, reason: m[3] || '', version: m[1], headers, h,
            body: body.toString('utf8'), body_len: body.length, at_ms: now(),
        });
        buf = buf.subarray(consumed);
    }
}

function connect() {
    return new Promise((resolve) => {
        const onErr = (e) => { result.error = e.code || String(e); resolve(null); };
        let sock;
        if (opt.tls) {
            const o = { host: opt.host, port: opt.port, servername: opt.servername };
            if (opt.cafile) o.ca = fs.readFileSync(opt.cafile);
            if (opt.alpn) o.ALPNProtocols = opt.alpn;
            sock = tls.connect(o, () => { result.alpn = sock.alpnProtocol || null; resolve(sock); });
        } else {
            sock = net.connect({ host: opt.host, port: opt.port }, () => resolve(sock));
        }
        sock.once('error', onErr);
    });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Waits until cond() holds or ms pass; true if it holds. cond is checked on every socket
// event, and also every pollMs when given (for conditions outside the socket, like a file).
async function until(cond, ms, pollMs = 0) {
    const deadline = Date.now() + ms;
    while (!cond()) {
        const left = deadline - Date.now();
        if (left <= 0) return false;
        await Promise.race([new Promise((r) => waiters.push(r)), sleep(pollMs ? Math.min(pollMs, left) : left)]);
    }
    return true;
}

async function main() {
    const sock = await connect();
    if (!sock) return;
    t0 = Date.now();
    result.connected = true;
    sock.on('data', (d) => { buf = Buffer.concat([buf, d]); parse(); wake(); });
    sock.on('end', () => { if (!result.closed) { result.closed = true; result.closed_at_ms = now(); } parse(); wake(); });
    sock.on('close', () => { if (!result.closed) { result.closed = true; result.closed_at_ms = now(); } parse(); wake(); });
    sock.on('error', (e) => { result.error = result.error || e.code || String(e); wake(); });
    const write = (b) => { if (!sock.destroyed && sock.writable) sock.write(b); };
    for (const a of actions) {
        const c = a.indexOf(':');
        const verb = c < 0 ? a : a.slice(0, c), rest = c < 0 ? '' : a.slice(c + 1);
        if (verb === 'send') write(unescape(rest));
        else if (verb === 'sendfile') write(fs.readFileSync(rest));
        else if (verb === 'repeat') {
            const c2 = rest.indexOf(':');
            write(Buffer.concat(Array(Number(rest.slice(0, c2))).fill(unescape(rest.slice(c2 + 1)))));
        } else if (verb === 'dribble') {
            const c2 = rest.indexOf(':');
            const ms = Number(rest.slice(0, c2)), bytes = unescape(rest.slice(c2 + 1));
            for (let i = 0; i < bytes.length && !result.closed; i++) {
                write(bytes.subarray(i, i + 1));
                await until(() => result.closed, ms);
            }
        } else if (verb === 'idle' || verb === 'sleep') await sleep(Number(rest));
        else if (verb === 'gate') {
            if (!(await until(() => fs.existsSync(rest) || result.closed, opt.timeout, 20)) || !fs.existsSync(rest)) {
                if (!result.closed) result.timed_out = true;
                break;
            }
        }
        else if (verb === 'read') {
            const n = Number(rest);
            if (!(await until(() => result.responses.length >= n || result.closed, opt.timeout)) ||
                result.responses.length < n) {
                if (!result.closed) result.timed_out = true;
                break;
            }
        } else if (verb === 'close') await until(() => result.closed, Number(rest));
        else if (verb === 'end') sock.end();
        else { result.error = `unknown action ${verb}`; break; }
    }
    result.leftover = buf.toString('latin1').slice(0, 2000);
    sock.destroy();
}

main().then(() => {
    result.elapsed_ms = now();
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(0);
});
