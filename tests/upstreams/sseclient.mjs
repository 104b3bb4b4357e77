// sseclient.mjs: reads a server-sent-event stream through the gateway one event at a time and,
// after each event, asks the upstream (directly, on its control port) how many events it has sent
// so far. An event relayed as soon as it was sent is seen while the upstream's count still equals
// its own sequence number; an event held back and delivered with later ones is not. No timing is
// compared, only this ordering.
//
//   node sseclient.mjs --url URL --ctl http://127.0.0.1:UPSTREAM --id ID [--lockstep]
//                      [--gate FILE] [--mark FILE] [--timeout MS]
// --lockstep  after reading event k, release event k+1 (the upstream waits for this, up to 10 s)
// --gate      with --lockstep: release event 2 only once FILE exists, so a test can hold the
//             stream in flight for as long as it needs, without relying on timing
// --mark      write FILE when the first event has arrived (for tests that act mid-stream)
// Output: {status, content_type, events: [{seq, recv_ms, upstream_sent_when_read}], complete,
//          error}. complete: the response ended normally after the last event.
import http from 'node:http';
import fs from 'node:fs';

const args = process.argv.slice(2);
const opt = { timeout: 20000, lockstep: false };
for (let i = 0; i < args.length; i++) {
    const a = args[i], v = () => args[++i];
    if (a === '--url') opt.url = v();
    else if (a === '--ctl') opt.ctl = v();
    else if (a === '--id') opt.id = v();
    else if (a === '--lockstep') opt.lockstep = true;
    else if (a === '--mark') opt.mark = v();
    else if (a === '--gate') opt.gate = v();
    else if (a === '--timeout') opt.timeout = Number(v());
    else { console.error(`sseclient: unknown argument ${a}`); process.exit(64); }
}
if (!opt.url || !opt.ctl || !opt.id) { console.error('sseclient: --url, --ctl and --id are required'); process.exit(64); }

const out = { status: null, content_type: null, events: [], complete: false, error: null };
const t0 = Date.now();

function getJson(url) {
    return new Promise((resolve, reject) => {
        http.get(url, { agent: false }, (res) => {
            let s = '';
            res.setEncoding('utf8');
            res.on('data', (d) => { s += d; });
            res.on('end', () => { try { resolve(JSON.parse(s)); } catch (e) { reject(e); } });
        }).on('error', reject);
    });
}

async function run() {
    const res = await new Promise((resolve, reject) => {
        http.get(opt.url, { agent: false, headers: { accept: 'text/event-stream' } }, resolve).on('error', reject);
    });
    out.status = res.statusCode;
    out.content_type = res.headers['content-type'] || null;
    let pending = '';
    const ctl = `${opt.ctl}/__ctl/sse?id=${encodeURIComponent(opt.id)}`;
    const next = `${opt.ctl}/__ctl/sse/next?id=${encodeURIComponent(opt.id)}`;
    res.setEncoding('utf8');
    for await (const chunk of res) {
        pending += chunk;
        let sep;
        while ((sep = pending.indexOf('\n\n')) >= 0) {
            const block = pending.slice(0, sep);
            pending = pending.slice(sep + 2);
            const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
            if (!data) continue;
            const ev = JSON.parse(data);
            const recv_ms = Date.now() - t0;
            const st = await getJson(ctl);
            out.events.push({ seq: ev.seq, recv_ms, upstream_sent_when_read: st.sent });
            if (out.events.length === 1 && opt.mark) fs.writeFileSync(opt.mark, 'first event\n');
            if (opt.lockstep) {
                while (opt.gate && !fs.existsSync(opt.gate)) await new Promise((r) => setTimeout(r, 20));
                await getJson(next);
            }
        }
    }
    out.complete = res.complete && pending.trim() === '';
}

const timer = setTimeout(() => { out.error = out.error || 'timeout'; finish(); }, opt.timeout);
function finish() {
    clearTimeout(timer);
    process.stdout.write(JSON.stringify(out) + '\n');
    process.exit(0);
}
run().catch((e) => { out.error = e.code || String(e); }).finally(finish);
