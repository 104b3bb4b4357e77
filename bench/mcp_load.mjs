// mcp_load.mjs: the load client of bench/mcp.sh: tools/call with the official MCP SDK client
// against several targets, in rounds with the order rotating; prints one line per round and,
// last, one JSON line per target with the medians.
//   node mcp_load.mjs CONFIG.json
//   { "clients": 8, "calls": 2000, "warmup": 200, "rounds": 5, "round_timeout_s": 60,
//     "targets": [ { "name": "direct-http", "url": "http://127.0.0.1:P/mcp" },
//                  { "name": "direct-stdio", "stdio": ["node", "fixture.mjs", "stdio", "x"] } ] }
// An HTTP target gets `clients` SDK clients, each with its own session; a stdio target one
// child shared by `clients` concurrent callers (as a gateway shares its child). Each round makes
// `calls` calls of echo {text} split over the callers, every call checked; a round that takes
// longer than round_timeout_s, or any failed call, ends the run with an error.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../tests/node/package.json'));
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js');

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const TEXT = 'hello from the bench';
const now = () => Number(process.hrtime.bigint()) / 1e6;

async function open(t) {
  const one = async (transport) => {
    const c = new Client({ name: 'portico-bench', version: '1.0.0' }, { capabilities: {} });
    await c.connect(transport);
    return c;
  };
  if (t.stdio) {
    const c = await one(new StdioClientTransport({ command: t.stdio[0], args: t.stdio.slice(1), stderr: 'ignore' }));
    return Array(cfg.clients).fill(c);
  }
  const out = [];
  for (let i = 0; i < cfg.clients; i++) out.push(await one(new StreamableHTTPClientTransport(new URL(t.url))));
  return out;
}

async function call(c) {
  const r = await c.callTool({ name: 'echo', arguments: { text: TEXT } });
  if (r.isError || r.content?.[0]?.text !== TEXT) throw new Error(`unexpected answer ${JSON.stringify(r)}`);
}

// calls calls spread over the callers; resolves with the sorted latencies (ms) and the wall time.
async function run(t, calls) {
  const lat = [];
  let left = calls;
  const t0 = now();
  const worker = async (c) => {
    while (left > 0) {
      left--;
      const s = now();
      await call(c);
      lat.push(now() - s);
    }
  };
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${t.name}: a round took over ${cfg.round_timeout_s} s`)), cfg.round_timeout_s * 1000);
  });
  try {
    await Promise.race([Promise.all(t.clients.map(worker)), limit]);
  } finally {
    clearTimeout(timer);
  }
  return { lat: lat.sort((a, b) => a - b), wall: now() - t0 };
}

const pct = (s, p) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
const med = (a) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

const targets = cfg.targets;
for (const t of targets) {
  t.clients = await open(t);
  await run(t, cfg.warmup);
  t.res = [];
}
for (let r = 0; r < cfg.rounds; r++) {
  for (let i = 0; i < targets.length; i++) {
    const t = targets[(i + r) % targets.length];
    const { lat, wall } = await run(t, cfg.calls);
    const x = { cps: (lat.length / wall) * 1000, p50: pct(lat, 50), p99: pct(lat, 99), calls: lat.length };
    t.res.push(x);
    console.log(`  round ${r + 1} ${t.name.padEnd(14)} ${x.cps.toFixed(0).padStart(8)} calls/s  p50 ${x.p50.toFixed(3).padStart(8)} ms` +
      `  p99 ${x.p99.toFixed(3).padStart(8)} ms  ${x.calls} calls`);
  }
}
for (const t of targets) {
  console.log('RESULT ' + JSON.stringify({ name: t.name, cps: med(t.res.map((x) => x.cps)),
    p50: med(t.res.map((x) => x.p50)), p99: med(t.res.map((x) => x.p99)) }));
  for (const c of new Set(t.clients)) await c.close().catch(() => {});
}
process.exit(0);
