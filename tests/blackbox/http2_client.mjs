// http2_client.mjs: raw HTTP/2 frames over a plain socket (h2c, prior knowledge) for the
// attacks a stock client will not send, and node:http2 for a session held across a drain.
// Prints one JSON document (raw modes) or JSON lines (held), never judges: the test does.
//
//   node http2_client.mjs MODE --port P [--n N] [--path /x]
// Modes:
//   settings      the server's SETTINGS, as {id: value}
//   rapid-reset   N requests, each reset (RST_STREAM CANCEL) right after its HEADERS
//   continuation  one HEADERS without END_HEADERS, then N CONTINUATION frames
//   hpack-bomb    one header of 4000 bytes put in the HPACK table, then referenced N times
//   ping-flood    N PINGs in one write, none of their ACKs read until the end
//   settings-flood  one SETTINGS frame of N entries, then N SETTINGS frames in one write
//   limit         N requests to PATH at once: which got a response head, which were reset
//   bad-frame     a DATA frame on stream 0 (a connection error, RFC 9113 §6.1)
//   stall-body    POST PATH announcing 1000 body bytes, then none: the answer and the reset
//   held          node:http2: GET PATH and GET PATH2 (--path2) on one session; a line per event
// Raw output: {settings, goaway: {code, last_stream}|null, closed, rst: {id: code}, heads: [ids],
//              statuses: {id: ":status" of the first response head}, error}
import net from 'node:net';
import http2 from 'node:http2';

const args = { n: 10, path: '/', path2: '' };
const mode = process.argv[2];
for (let i = 3; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const port = Number(args.port), n = Number(args.n);

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const T = { DATA: 0, HEADERS: 1, RST: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 };

function frame(type, flags, sid, payload = Buffer.alloc(0)) {
    const h = Buffer.alloc(9);
    h.writeUIntBE(payload.length, 0, 3);
    h[3] = type;
    h[4] = flags;
    h.writeUInt32BE(sid, 5);
    return Buffer.concat([h, payload]);
}

// HPACK integer with an N-bit prefix.
function hint(v, bits, first) {
    const max = (1 << bits) - 1;
    if (v < max) return [first | v];
    const out = [first | max];
    v -= max;
    while (v >= 128) { out.push((v & 127) | 128); v >>= 7; }
    out.push(v);
    return out;
}
function lit(nameIndex, value) { // literal without indexing, indexed name
    const v = Buffer.from(value);
    return Buffer.from([...hint(nameIndex, 4, 0), ...hint(v.length, 7, 0), ...v]);
}
// GET path with :authority; static table: 2 :method GET, 6 :scheme http, 1 :authority, 4 :path.
function requestBlock(path) {
    return Buffer.concat([Buffer.from([0x82, 0x86]), lit(1, `127.0.0.1:${port}`), lit(4, path)]);
}

// The :status of a response head as servers encode it: a static-table index (8..14) or a
// literal whose name is index 8.
function status(b) {
    const table = { 8: '200', 9: '204', 10: '206', 11: '304', 12: '400', 13: '404', 14: '500' };
    if (b[0] & 0x80) return table[b[0] & 0x7f] || `index ${b[0] & 0x7f}`;
    const name = (b[0] & 0x40) ? b[0] & 0x3f : b[0] & 0x0f;
    if (name !== 8) return `unknown ${b[0]}`;
    const v = b.subarray(2, 2 + (b[1] & 0x7f));
    return (b[1] & 0x80) ? huffmanDigits(v) : v.toString();
}
// HPACK Huffman (RFC 7541 Appendix B), digits only: what a status code holds.
function huffmanDigits(v) {
    const codes = { '00000': '0', '00001': '1', '00010': '2', '011001': '3', '011010': '4', '011011': '5',
                    '011100': '6', '011101': '7', '011110': '8', '011111': '9' };
    let bits = '', out = '';
    for (const byte of v) bits += byte.toString(2).padStart(8, '0');
    for (let cur = ''; bits.length; bits = bits.slice(1)) {
        cur += bits[0];
        if (codes[cur]) { out += codes[cur]; cur = ''; }
    }
    return out;
}

function rawSession(onOpen) {
    const out = { settings: {}, goaway: null, closed: false, rst: {}, heads: [], statuses: {}, error: null };
    return new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        let buf = Buffer.alloc(0), done = false;
        const finish = () => { if (!done) { done = true; s.destroy(); resolve(out); } };
        const timer = setTimeout(finish, Number(args.timeout || 5000));
        s.on('connect', () => { s.write(Buffer.concat([PREFACE, frame(T.SETTINGS, 0, 0)])); onOpen(s, out); });
        s.on('data', (d) => {
            buf = Buffer.concat([buf, d]);
            while (buf.length >= 9) {
                const len = buf.readUIntBE(0, 3);
                if (buf.length < 9 + len) break;
                const type = buf[3], flags = buf[4], sid = buf.readUInt32BE(5) & 0x7fffffff;
                const p = buf.subarray(9, 9 + len);
                buf = buf.subarray(9 + len);
                if (type === T.SETTINGS && !(flags & 1)) {
                    for (let i = 0; i + 6 <= p.length; i += 6) out.settings[p.readUInt16BE(i)] = p.readUInt32BE(i + 2);
                    s.write(frame(T.SETTINGS, 1, 0));
                } else if (type === T.GOAWAY) {
                    out.goaway = { last_stream: p.readUInt32BE(0) & 0x7fffffff, code: p.readUInt32BE(4) };
                } else if (type === T.RST) {
                    out.rst[sid] = p.readUInt32BE(0);
                } else if (type === T.HEADERS) {
                    out.heads.push(sid);
                    let off = 0;
                    if (flags & 0x8) off += 1; // padded
                    if (flags & 0x20) off += 5; // priority
                    if (!(sid in out.statuses)) out.statuses[sid] = status(p.subarray(off));
                }
                if (out.onFrame) out.onFrame(type, sid);
            }
        });
        s.on('error', (e) => { out.error = String(e.code || e.message); });
        s.on('close', () => { out.closed = true; clearTimeout(timer); finish(); });
    });
}

const modes = {
    settings: () => rawSession((s, out) => { out.onFrame = (t) => { if (t === T.SETTINGS) setTimeout(() => s.end(), 50); }; }),
    'rapid-reset': () => rawSession((s) => {
        const parts = [];
        for (let i = 0; i < n; i++) {
            const sid = 2 * i + 1;
            parts.push(frame(T.HEADERS, 0x4 | 0x1, sid, requestBlock(args.path)));
            const code = Buffer.alloc(4); code.writeUInt32BE(8); // CANCEL
            parts.push(frame(T.RST, 0, sid, code));
        }
        s.write(Buffer.concat(parts));
    }),
    continuation: () => rawSession((s) => {
        const parts = [frame(T.HEADERS, 0x1, 1, requestBlock(args.path))];
        for (let i = 0; i < n; i++) parts.push(frame(T.CONTINUATION, 0, 1, lit(16, 'gzip'))); // accept-encoding
        s.write(Buffer.concat(parts));
    }),
    'hpack-bomb': () => rawSession((s) => {
        const name = Buffer.from('x-bomb'), value = Buffer.alloc(4000, 'a');
        const insert = Buffer.from([0x40, ...hint(name.length, 7, 0), ...name, ...hint(value.length, 7, 0), ...value]);
        const refs = Buffer.alloc(n, 0x80 | 62); // indexed: the entry just inserted
        s.write(frame(T.HEADERS, 0x4 | 0x1, 1, Buffer.concat([requestBlock(args.path), insert, refs])));
    }),
    'ping-flood': () => rawSession((s) => {
        s.pause(); // read nothing: the ACKs pile up on the server
        const parts = [];
        for (let i = 0; i < n; i++) parts.push(frame(T.PING, 0, 0, Buffer.alloc(8, i & 255)));
        s.write(Buffer.concat(parts));
        setTimeout(() => s.resume(), 500);
    }),
    'stall-body': () => rawSession((s, out) => {
        const block = Buffer.concat([Buffer.from([0x83, 0x86]), lit(1, `127.0.0.1:${port}`), lit(4, args.path), lit(28, '1000')]);
        s.write(frame(T.HEADERS, 0x4, 1, block)); // no END_STREAM: the body never comes
        out.onFrame = (t, sid) => { if (t === T.RST && sid === 1) setTimeout(() => s.end(), 50); };
    }),
    'settings-flood': () => rawSession((s) => {
        s.pause();
        const entry = Buffer.from([0, 4, 0, 1, 0, 0]); // INITIAL_WINDOW_SIZE 65536
        const big = frame(T.SETTINGS, 0, 0, Buffer.concat(Array(n).fill(entry)));
        s.write(Buffer.concat([big, ...Array(n).fill(frame(T.SETTINGS, 0, 0, entry))]));
        setTimeout(() => s.resume(), 500);
    }),
    'bad-frame': () => rawSession((s) => { s.write(frame(T.DATA, 0, 0, Buffer.from('oops'))); }),
    limit: () => rawSession((s, out) => {
        const parts = [];
        for (let i = 0; i < n; i++) parts.push(frame(T.HEADERS, 0x4 | 0x1, 2 * i + 1, requestBlock(args.path)));
        s.write(Buffer.concat(parts));
        out.onFrame = () => {
            if (out.heads.length + Object.keys(out.rst).length >= n) setTimeout(() => s.end(), 50);
        };
    }),
};

function held() {
    const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('goaway', (code, last) => say({ event: 'goaway', code, last }));
    session.on('close', () => say({ event: 'close' }));
    session.on('error', (e) => say({ event: 'error', error: String(e.code || e.message) }));
    const get = (path, tag) => {
        const req = session.request({ ':path': path });
        let body = '';
        req.on('response', (h) => say({ event: 'head', tag, status: h[':status'] }));
        req.on('data', (d) => { body += d; });
        req.on('end', () => say({ event: 'end', tag, bytes: body.length }));
        req.on('error', (e) => say({ event: 'error', tag, error: String(e.code || e.message) }));
        req.end();
    };
    get(args.path, 'first');
    // the second request goes out only when the test says so (a line on stdin)
    process.stdin.on('data', () => get(args.path2, 'second'));
    process.stdin.on('end', () => session.close());
}

if (mode === 'held') held();
else if (modes[mode]) modes[mode]().then((o) => { delete o.onFrame; console.log(JSON.stringify(o)); });
else { console.error(`unknown mode ${mode}`); process.exit(2); }
