// ws_tunnel.test.mjs: WebSocket through Portico with the npm `ws` client, to a `ws` echo
// upstream (tests/upstreams/ws_echo.mjs): text and binary frames both ways, a 1 MB message,
// many sockets at once, the tunnel ending from either side (gauge back to 0, one access-log
// line with status 101), the idle timeout, `upgrade: false`, an upstream that does not
// switch, a TLS listener (wss) in front of a plain or a TLS upstream, bytes sent right behind
// the head, backpressure both ways, a concurrency slot held for the tunnel's life, a reload
// while a tunnel is open, and a drain that keeps an open tunnel until its deadline.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { ROOT, freePort, startPortico, stopProc } from './ai_harness.mjs';

const ECHO = path.join(ROOT, 'tests/upstreams/ws_echo.mjs');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let dir, procs = [], upPort, tlsUpPort, url, wssUrl, stderr = '', portico, cfgPath, accessPath;

function startEcho(args = []) {
  const proc = spawn(process.execPath, [ECHO, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`ws_echo did not start: ${out}`)), 10000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    });
    proc.stderr.on('data', (d) => { out += d; });
  });
}

function config(port, tlsPort) {
  return `listen: ["127.0.0.1:${port}", { address: "127.0.0.1:${tlsPort}", tls: { cert: "${dir}/cert.pem", key: "${dir}/key.pem" } }]
workers: 1
admin: { enabled: false }
access_log: ${accessPath}
limits: { drain_timeout: 1s }
services:
  - name: ws
    targets: ["http://127.0.0.1:${upPort}"]
  - name: ws-tls
    targets: ["https://127.0.0.1:${tlsUpPort}"]
    tls: { ca_file: "${dir}/cert.pem" }
  - name: ws-quick
    targets: ["http://127.0.0.1:${upPort}"]
    timeouts: { tunnel_idle: 300ms }
policies:
  - name: one-at-a-time
    applies_to: { route: single }
    concurrency: 1
routes:
  - { name: ws, match: { path_prefix: "/ws/" }, service: ws, strip_prefix: true }
  - { name: tls-up, match: { path_prefix: "/tls-up/" }, service: ws-tls, strip_prefix: true }
  - { name: quick, match: { path_prefix: "/quick/" }, service: ws-quick, strip_prefix: true }
  - { name: closed, match: { path_prefix: "/closed/" }, service: ws, strip_prefix: true, upgrade: false }
  - { name: single, match: { path_prefix: "/single/" }, service: ws, strip_prefix: true }
`;
}

async function metric(name, ...labels) {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const base = line.split(/[{ ]/)[0];
    if (base === name && labels.every((l) => line.includes(l))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

async function waitFor(what, fn, ms = 10000) {
  for (let waited = 0; waited < ms; waited += 25) {
    if (await fn()) return;
    await sleep(25);
  }
  assert.fail(`timed out waiting for ${what}`);
}

const accessLines = () => {
  try { return fs.readFileSync(accessPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)); } catch { return []; }
};
const stats = async () => (await fetch(`http://127.0.0.1:${upPort}/__ctl/stats`)).json();

function open(u, opts = {}) {
  const ws = new WebSocket(u, opts);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => reject(Object.assign(new Error(`status ${res.statusCode}`), { status: res.statusCode, body, headers: res.headers })));
    });
  });
}
const nextMessage = (ws) => new Promise((resolve) => ws.once('message', (data, isBinary) => resolve({ data, isBinary })));
const closed = (ws) => new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-ws-'));
  accessPath = path.join(dir, 'access.log');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`,
    '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  upPort = await startEcho();
  tlsUpPort = await startEcho(['--tls-cert', `${dir}/cert.pem`, '--tls-key', `${dir}/key.pem`]);
  const port = await freePort(), tlsPort = await freePort();
  url = `http://127.0.0.1:${port}`;
  wssUrl = `wss://127.0.0.1:${tlsPort}`;
  cfgPath = path.join(dir, 'portico.yaml');
  fs.writeFileSync(cfgPath, config(port, tlsPort));
  portico = await startPortico({ cfg: cfgPath, dir, url, procs, onStderr: (d) => { stderr += d; } });
});

after(async () => {
  await Promise.all(procs.map(stopProc));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('text and binary frames go both ways; the upgrade reaches the upstream intact', async () => {
  const ws = await open(`ws://127.0.0.1:${url.split(':')[2]}/ws/chat?room=1`);
  ws.send('hello through portico');
  const t = await nextMessage(ws);
  assert.equal(t.isBinary, false);
  assert.equal(t.data.toString(), 'hello through portico');
  const bin = Buffer.from([0, 1, 2, 250, 251, 255]);
  ws.send(bin);
  const b = await nextMessage(ws);
  assert.equal(b.isBinary, true);
  assert.deepEqual(Buffer.from(b.data), bin);
  const st = await stats();
  assert.equal(st.last_url, '/chat?room=1');
  assert.match(st.last_headers.connection, /upgrade/i);
  assert.equal(st.last_headers.upgrade, 'websocket');
  assert.ok(st.last_headers['sec-websocket-key'], 'Sec-WebSocket-Key reaches the upstream');
  assert.equal(st.last_headers['sec-websocket-version'], '13');
  assert.equal(st.last_headers['x-forwarded-for'], '127.0.0.1');
  ws.close(1000, 'done');
  assert.equal((await closed(ws)).code, 1000);
});

test('a 1 MB message each way arrives whole', async () => {
  const ws = await open(`${url.replace('http', 'ws')}/ws/big`);
  const big = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 255;
  ws.send(big);
  const m = await nextMessage(ws);
  assert.equal(m.data.length, big.length);
  assert.ok(Buffer.from(m.data).equals(big), 'the echoed megabyte is byte for byte the one sent');
  const text = 'x'.repeat(1024 * 1024 - 3) + 'end';
  ws.send(text);
  assert.equal((await nextMessage(ws)).data.toString(), text);
  ws.close();
  await closed(ws);
});

test('a client that stops reading holds the upstream back (backpressure), and gets every byte later', async () => {
  const ws = await open(`${url.replace('http', 'ws')}/ws/slow-reader`);
  const mib = 1024 * 1024, n = 48;
  let got = 0, messages = 0;
  ws.on('message', (d) => { got += d.length; messages++; });
  const relayed = () => metric('portico_tunnel_bytes_total', 'direction="upstream_to_client"');
  const before = await relayed();
  ws._socket.pause(); // the client reads nothing for now
  ws.send(`flood:${n}`);
  await waitFor('the flood to start', async () => (await stats()).flood_buffered > 0);
  // Portico stops reading the upstream above its mark, so what it takes in stays bounded (its
  // queue plus the kernel's socket buffers) however long the client does not read: an invariant
  // watched over 1.5 s, the time loopback needs to move the whole flood many times over.
  for (let i = 0; i < 60; i++) {
    const taken = (await relayed()) - before;
    assert.ok(taken < 20 * mib, `the gateway took ${taken} bytes the client did not read`);
    await sleep(25);
  }
  assert.ok((await stats()).flood_buffered > 16 * mib, 'the rest of the flood waits in the upstream');
  ws._socket.resume();
  await waitFor('every byte', () => got === n * mib, 30000);
  assert.equal(messages, n);
  ws.close();
  await closed(ws);
});

test('an upstream that stops reading holds the client back (backpressure), and gets every byte later', async () => {
  const ws = await open(`${url.replace('http', 'ws')}/ws/slow-upstream`);
  const mib = 1024 * 1024, n = 48;
  const taken = async () => metric('portico_tunnel_bytes_total', 'route="ws"', 'direction="client_to_upstream"');
  ws.send('stall');
  await waitFor('the upstream to stall', async () => (await stats()).last_url === '/slow-upstream');
  const before = await taken();
  for (let i = 0; i < n; i++) ws.send(Buffer.alloc(mib, i & 255));
  // Portico stops reading the client above its mark: what it takes in stays bounded, and the
  // rest waits in the client (the same invariant as above, watched over 1.5 s).
  for (let i = 0; i < 60; i++) {
    const t = (await taken()) - before;
    assert.ok(t < 20 * mib, `the gateway took ${t} bytes the upstream did not read`);
    await sleep(25);
  }
  assert.ok(ws.bufferedAmount > 16 * mib, 'the rest waits in the client');
  await fetch(`http://127.0.0.1:${upPort}/__ctl/unstall`);
  await waitFor('every byte at the upstream', async () => (await stats()).stalled_bytes >= n * mib, 30000);
  ws.close();
  await closed(ws);
});

test('many sockets at once each get their own echoes', async () => {
  const n = 60;
  const sockets = await Promise.all(Array.from({ length: n }, (_, i) => open(`${url.replace('http', 'ws')}/ws/many/${i}`)));
  await waitFor('60 tunnels active', async () => (await metric('portico_tunnels_active')) === n);
  const answers = await Promise.all(sockets.map(async (ws, i) => {
    const got = [];
    for (let k = 0; k < 5; k++) {
      ws.send(`socket ${i} message ${k}`);
      got.push((await nextMessage(ws)).data.toString());
    }
    return got;
  }));
  answers.forEach((got, i) => assert.deepEqual(got, [0, 1, 2, 3, 4].map((k) => `socket ${i} message ${k}`)));
  await Promise.all(sockets.map((ws) => { ws.close(); return closed(ws); }));
  await waitFor('the gauge back to 0', async () => (await metric('portico_tunnels_active')) === 0);
});

test('a client close ends the tunnel: gauge to 0, one access-log line with 101 and the bytes', async () => {
  const before = await metric('portico_tunnels_total', 'route="ws"');
  const ws = await open(`${url.replace('http', 'ws')}/ws/client-closes`);
  await waitFor('tunnel counted', async () => (await metric('portico_tunnels_active')) === 1);
  assert.equal(await metric('portico_tunnels_total', 'route="ws"'), before + 1);
  ws.send('0123456789');
  await nextMessage(ws);
  ws.close(1000);
  await closed(ws);
  await waitFor('the gauge back to 0', async () => (await metric('portico_tunnels_active')) === 0);
  let line;
  await waitFor('the access-log line', () => (line = accessLines().find((l) => l.path === '/ws/client-closes')));
  assert.equal(line.status, 101);
  assert.equal(line.route, 'ws');
  assert.equal(line.error, null);
  assert.ok(line.bytes_in >= 16 && line.bytes_out >= 12, `bytes counted both ways: ${line.bytes_in} in, ${line.bytes_out} out`);
  assert.ok(line.total_ms > 0);
  assert.equal(accessLines().filter((l) => l.path === '/ws/client-closes').length, 1);
  assert.ok(await metric('portico_tunnel_bytes_total', 'direction="client_to_upstream"') >= line.bytes_in);
});

test('an upstream close ends the tunnel, with or without a close frame', async () => {
  const ws = await open(`${url.replace('http', 'ws')}/ws/upstream-closes`);
  ws.send('bye');
  const c = await closed(ws);
  assert.equal(c.code, 4000);
  assert.equal(c.reason, 'bye');
  const ws2 = await open(`${url.replace('http', 'ws')}/ws/upstream-ends`);
  ws2.send('bye-now');
  assert.equal((await closed(ws2)).code, 1006, 'the TCP end reaches the client');
  await waitFor('the gauge back to 0', async () => (await metric('portico_tunnels_active')) === 0);
  await waitFor('both access-log lines', () =>
    ['/ws/upstream-closes', '/ws/upstream-ends'].every((p) => accessLines().some((l) => l.path === p && l.status === 101)));
  await waitFor('the upstream saw both sockets close', async () => (await stats()).open === 0);
});

test('a tunnel with no byte either way for the idle timeout is closed', async () => {
  const ws = await open(`${url.replace('http', 'ws')}/quick/idle`);
  ws.send('one');
  await nextMessage(ws);
  const c = await closed(ws); // nothing more is sent: the gateway's 300 ms idle timeout ends it
  assert.equal(c.code, 1006);
  let line;
  await waitFor('the access-log line', () => (line = accessLines().find((l) => l.path === '/quick/idle')));
  assert.equal(line.status, 101);
  assert.equal(line.error, 'tunnel_idle_timeout');
  await waitFor('the gauge back to 0', async () => (await metric('portico_tunnels_active')) === 0);
});

test('a busy tunnel outlives its idle timeout', async () => {
  const ws = await open(`${url.replace('http', 'ws')}/quick/busy`);
  const start = Date.now();
  let n = 0;
  while (Date.now() - start < 1000) { // three idle timeouts long, never 300 ms quiet
    ws.send(`ping ${n}`);
    assert.equal((await nextMessage(ws)).data.toString(), `ping ${n++}`);
    await sleep(50);
  }
  assert.equal(ws.readyState, WebSocket.OPEN);
  ws.close();
  await closed(ws);
});

test('upgrade: false refuses with 501 and a JSON error', async () => {
  const err = await open(`${url.replace('http', 'ws')}/closed/x`).then(() => null, (e) => e);
  assert.equal(err.status, 501);
  const body = JSON.parse(err.body);
  assert.equal(body.error.code, 'upgrade_not_supported');
  assert.match(body.error.message, /route 'closed' does not allow protocol upgrades \(upgrade: false\)/);
  assert.match(body.error.message, /websocket/);
});

test('an upstream that does not switch is relayed as it answered, and no tunnel opens', async () => {
  const before = await metric('portico_tunnels_total');
  for (const [p, status, body] of [['/ws/refuse400/x', 400, '{"error":"no websocket here"}'], ['/ws/plain200/x', 200, 'plain answer']]) {
    const err = await open(`${url.replace('http', 'ws')}${p}`).then(() => null, (e) => e);
    assert.equal(err.status, status, p);
    assert.equal(err.body, body, p);
    assert.equal(err.headers.upgrade, undefined, `${p}: no Upgrade header reaches the client`);
    assert.equal(err.headers.connection, 'close', `${p}: the connection closes after a refused upgrade`);
  }
  assert.equal(await metric('portico_tunnels_total'), before);
});

test('wss on a TLS listener, to a plain upstream', async () => {
  const ws = await open(`${wssUrl}/ws/secure`, { ca: fs.readFileSync(`${dir}/cert.pem`) });
  ws.send('over tls');
  assert.equal((await nextMessage(ws)).data.toString(), 'over tls');
  const big = Buffer.alloc(300 * 1024, 9);
  ws.send(big);
  assert.ok(Buffer.from((await nextMessage(ws)).data).equals(big));
  assert.equal((await stats()).last_headers['x-forwarded-proto'], 'https');
  ws.close();
  await closed(ws);
});

test('wss on a TLS listener, to a TLS upstream', async () => {
  const ws = await open(`${wssUrl}/tls-up/both`, { ca: fs.readFileSync(`${dir}/cert.pem`) });
  const big = Buffer.alloc(200 * 1024, 3);
  ws.send('tls both ways');
  assert.equal((await nextMessage(ws)).data.toString(), 'tls both ways');
  ws.send(big);
  assert.ok(Buffer.from((await nextMessage(ws)).data).equals(big));
  ws.close(); // the upstream speaks only TLS: these echoes went through a TLS upstream connection
  await closed(ws);
  await waitFor('the gauge back to 0', async () => (await metric('portico_tunnels_active')) === 0);
});

/** A masked client text frame (RFC 6455 §5.2) holding text, short enough for a 7-bit length. */
function clientFrame(text) {
  const payload = Buffer.from(text);
  const mask = Buffer.from([1, 2, 3, 4]);
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x81;
  out[1] = 0x80 | payload.length;
  mask.copy(out, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i] ^ mask[i % 4];
  return out;
}

test('bytes sent right behind the head (before the 101) reach the upstream', async () => {
  const port = Number(url.split(':')[2]);
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const head = 'GET /ws/early HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
    'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
  let got = Buffer.alloc(0);
  sock.on('data', (d) => { got = Buffer.concat([got, d]); });
  sock.write(Buffer.concat([Buffer.from(head), clientFrame('early bird')])); // one write
  await waitFor('the 101 and the echo', () => got.includes(Buffer.from('early bird')));
  const text = got.toString('latin1');
  assert.match(text, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(text, /\r\nUpgrade: websocket\r\n/i);
  assert.match(text, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
  const frame = got.subarray(got.indexOf('\r\n\r\n') + 4);
  assert.deepEqual([...frame.subarray(0, 2)], [0x81, 10]); // an unmasked text frame of 10 bytes
  assert.equal(frame.subarray(2).toString(), 'early bird');
  sock.destroy();
});

test('a concurrency slot is held for the tunnel\'s life', async () => {
  const base = `${url.replace('http', 'ws')}/single`;
  const first = await open(`${base}/a`);
  const err = await open(`${base}/b`).then(() => null, (e) => e);
  assert.equal(err.status, 429, 'a second tunnel on a route with concurrency 1 is refused while the first is open');
  first.close();
  await closed(first);
  await waitFor('the slot back', async () => (await metric('portico_tunnels_active')) === 0);
  const third = await open(`${base}/c`);
  third.send('after');
  assert.equal((await nextMessage(third)).data.toString(), 'after');
  third.close();
  await closed(third);
});

test('a reload leaves an open tunnel working, and new tunnels open after it', async () => {
  const ws = await open(`${url.replace('http', 'ws')}/ws/across-reload`);
  ws.send('before');
  assert.equal((await nextMessage(ws)).data.toString(), 'before');
  const reloads = (stderr.match(/configuration reloaded/g) || []).length;
  fs.writeFileSync(cfgPath, fs.readFileSync(cfgPath, 'utf8').replace('name: ws-quick', 'name: ws-quick\n    retries: 0'));
  portico.kill('SIGHUP');
  await waitFor('the reload', () => (stderr.match(/configuration reloaded/g) || []).length > reloads);
  ws.send('after');
  assert.equal((await nextMessage(ws)).data.toString(), 'after');
  const ws2 = await open(`${url.replace('http', 'ws')}/ws/after-reload`);
  ws2.send('new');
  assert.equal((await nextMessage(ws2)).data.toString(), 'new');
  ws.close();
  ws2.close();
  await Promise.all([closed(ws), closed(ws2)]);
  await waitFor('the gauge back to 0', async () => (await metric('portico_tunnels_active')) === 0);
});

test('a drain keeps an open tunnel working until the drain deadline closes it', async () => {
  const ws = await open(`${url.replace('http', 'ws')}/ws/drain`);
  const exited = new Promise((resolve) => portico.once('exit', (code) => resolve(code)));
  const gone = closed(ws);
  portico.kill('SIGTERM');
  await waitFor('the drain', () => /draining/.test(stderr));
  ws.send('still here');
  assert.equal((await nextMessage(ws)).data.toString(), 'still here');
  assert.equal((await gone).code, 1006, 'the deadline (limits.drain_timeout: 1s) closes the tunnel');
  assert.equal(await exited, 0);
  const line = accessLines().find((l) => l.path === '/ws/drain');
  assert.equal(line.status, 101);
  assert.equal(line.error, 'drain_deadline');
});

test('no sanitizer report from the whole run', { skip: !process.env.SANITIZE && 'not a sanitizer build (SANITIZE is unset)' }, async () => {
  await waitFor('portico to have exited', () => portico.exitCode !== null);
  assert.doesNotMatch(stderr, /Sanitizer|runtime error/);
});
