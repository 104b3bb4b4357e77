// admin_effect.mjs: how long an admin API write takes to reach the gateway. One process, two
// keep-alive connections (one to the admin API, one to the gateway), so no client start-up is
// measured. For each write it takes the time the answer arrived, then calls a keyed route
// over and over until the answer changes (a new key or an approval passes; a revoked key gets
// 401), and records that time and the number of calls it took.
//
//   node admin_effect.mjs GATEWAY_PORT ADMIN_PORT TOKEN COUNT [TAG]
//
// The gateway and the admin API may be two nodes of a cluster (bench/cluster.sh). TAG (default
// none) goes into the names the run creates, so several runs can share one store.
// Prints one line per kind of write: "kind n write_median write_p99 effect_median effect_p99
// effect_max first_call_share total_median total_p99" (milliseconds; effect counts from the
// write's answer, total from its request; the share is of writes whose first call already saw
// the change). The store must hold team "bench", service "up" (approval auto, route /keyed/)
// and service "gated" (approval manual, route /gated/).
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const [gwPort, adminPort, token, countArg, tag = ''] = process.argv.slice(2);
const COUNT = Number(countArg) || 200;
const LIMIT_MS = 5000; // one write whose effect takes longer than this is a failure
const adminAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const gwAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(agent, port, method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const h = { ...headers };
    if (data !== undefined) {
      h['content-type'] = 'application/json';
      h['content-length'] = Buffer.byteLength(data);
    }
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: h, agent }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(parts).toString() }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

async function admin(method, path, body, want) {
  const r = await request(adminAgent, adminPort, method, `/admin/v1${path}`, { authorization: `Bearer ${token}` }, body);
  if (r.status !== want) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
  return JSON.parse(r.body);
}

// Calls ROUTE with KEY until it answers DONE; any answer other than DONE or one of WAITING is
// an error. Returns [milliseconds since t0, calls].
async function until(route, key, done, waiting, t0) {
  for (let calls = 1; ; calls++) {
    const r = await request(gwAgent, gwPort, 'GET', `/${route}/effect`, { authorization: `Bearer ${key}` });
    const dt = performance.now() - t0;
    if (r.status === done) return [dt, calls];
    if (!waiting.includes(r.status)) throw new Error(`/${route}/: ${r.status} ${r.body}`);
    if (dt > LIMIT_MS) throw new Error(`/${route}/: still ${r.status} after ${LIMIT_MS} ms`);
  }
}

// Times one write: WRITE() sends it and resolves on its answer; then the route is called with
// KEY (a function when the key is the write's own answer).
async function measure(acc, write, route, key, done, waiting) {
  const w0 = performance.now();
  await write();
  const t0 = performance.now();
  const k = typeof key === 'function' ? key() : key;
  const [dt, calls] = await until(route, k, done, waiting, t0);
  acc.write.push(t0 - w0);
  acc.effect.push(dt);
  acc.total.push(t0 - w0 + dt);
  if (calls === 1) acc.first++;
}

const q = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
};
function report(kind, acc) {
  const f = (x) => x.toFixed(3);
  console.log([kind, acc.effect.length, f(q(acc.write, 0.5)), f(q(acc.write, 0.99)), f(q(acc.effect, 0.5)),
    f(q(acc.effect, 0.99)), f(q(acc.effect, 1)), (acc.first / acc.effect.length).toFixed(3), f(q(acc.total, 0.5)),
    f(q(acc.total, 0.99))].join(' '));
}
const fresh = () => ({ write: [], effect: [], total: [], first: 0 });

async function main() {
  const effect = `effect${tag}`;
  await admin('POST', '/consumers', { name: effect, team: 'bench' }, 201);
  await admin('POST', '/subscriptions', { consumer: effect, service: 'up' }, 201);

  // A new key: refused (401) until the gateway knows it.
  const created = fresh(), keys = [];
  for (let i = 0; i < COUNT; i++) {
    let k;
    await measure(created, async () => { k = await admin('POST', `/consumers/${effect}/keys`, { label: `e${i}` }, 201); },
      'keyed', () => k.key, 200, [401]);
    keys.push(k);
  }
  report('key-created', created);

  // A revocation: the key passes until the gateway knows it is revoked.
  const revoked = fresh();
  for (const k of keys) {
    await measure(revoked, () => admin('DELETE', `/consumers/${effect}/keys/${k.id}`, undefined, 200),
      'keyed', k.key, 401, [200]);
  }
  report('key-revoked', revoked);

  // An approval: a pending subscription is refused (403) until the gateway knows it is active.
  const approved = fresh();
  for (let i = 0; i < COUNT; i++) {
    const name = `appr${tag}${i}`;
    await admin('POST', '/consumers', { name, team: 'bench' }, 201);
    const k = await admin('POST', `/consumers/${name}/keys`, { label: 'a' }, 201);
    const s = await admin('POST', '/subscriptions', { consumer: name, service: 'gated' }, 201);
    await until('gated', k.key, 403, [401], performance.now());
    await measure(approved, () => admin('POST', `/subscriptions/${s.id}/approve`, undefined, 200),
      'gated', k.key, 200, [403]);
  }
  report('approved', approved);
}

main().then(() => process.exit(0), (e) => {
  console.error(`admin_effect: ${e.message}`);
  process.exit(1);
});
