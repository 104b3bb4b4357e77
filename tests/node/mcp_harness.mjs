// mcp_harness.mjs: starts the MCP fixture servers and Portico in front of them for the MCP
// gateway tests, and the official SDK client that talks to Portico.
//
//   const h = await startMcp({ http: ['gamma'], config: ({ fixture, httpPorts }) => 'mcp: ...' });
//   h.url, h.errorLog(), await h.waitReady(['alpha', ...]), await h.stop()
//   const c = await connect(`${h.url}/mcp`, { headers })   an SDK Client, connected
//   await metric(h.url, 'portico_mcp_streams'), await waitMetric(h.url, sample, n)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ROOT, freePort, startPortico, stopProc } from './ai_harness.mjs';

export const FIXTURE = path.join(ROOT, 'tests/upstreams/mcp/fixture.mjs');
export const RELAY = path.join(ROOT, 'tests/upstreams/mcp/relay.mjs');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts the fixture over Streamable HTTP; resolves with { proc, port } once it listens. */
function startHttpFixture(name, script, mode = 'http') {
  const proc = spawn(process.execPath, [script, mode, name, '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`fixture ${name} did not start: ${out}`)); }, 10000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) { clearTimeout(t); resolve({ proc, port: Number(m[1]) }); }
    });
    proc.stderr.on('data', (d) => { out += d; });
    proc.once('exit', (c) => { clearTimeout(t); reject(new Error(`fixture ${name} exited (${c}): ${out}`)); });
  });
}

/** Starts HTTP fixtures named in http (the script fixture, FIXTURE by default; "name:sse" for
 * the legacy HTTP+SSE transport), then Portico on the YAML config() returns (after
 * listen, workers (1 unless given) and admin lines). */
export async function startMcp({ http = [], config, listen = '127.0.0.1', fixture = FIXTURE, workers = 1 }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-mcp-'));
  const procs = [];
  let stderr = '';
  const h = {
    dir,
    errorLog: () => stderr,
    async stop() {
      await Promise.all(procs.map(stopProc));
      fs.rmSync(dir, { recursive: true, force: true });
    },
    async ready() {
      const r = await fetch(`${h.url}/readyz`);
      return (await r.json()).mcp || {};
    },
    /** Waits until /readyz says every named server is up (the handshakes are done). */
    async waitReady(names, ms = 15000) {
      for (let waited = 0; waited < ms; waited += 50) {
        const st = await h.ready();
        if (names.every((n) => st[n] === 'up')) return;
        await sleep(50);
      }
      throw new Error(`MCP servers not up: ${JSON.stringify(await h.ready())}\n${stderr}`);
    },
    /** Waits until the error log has a line matching re. */
    async waitLog(re, ms = 10000) {
      for (let waited = 0; waited < ms; waited += 50) {
        if (re.test(stderr)) return;
        await sleep(50);
      }
      throw new Error(`no log line matches ${re}:\n${stderr}`);
    },
  };
  try {
    const httpPorts = {};
    for (const entry of http) {
      const [name, mode] = entry.split(':');
      const f = await startHttpFixture(name, fixture, mode);
      procs.push(f.proc);
      httpPorts[name] = f.port;
    }
    const port = await freePort();
    h.port = port;
    h.url = `http://127.0.0.1:${port}`;
    const cfg = path.join(dir, 'portico.yaml');
    fs.writeFileSync(cfg, `listen: ["${listen}:${port}"]\nworkers: ${workers}\nadmin: { enabled: false }\naccess_log: "off"\n` +
      config({ fixture, node: process.execPath, httpPorts, dir }));
    await startPortico({ cfg, dir, url: h.url, procs, onStderr: (d) => { stderr += d; } });
    return h;
  } catch (e) {
    await h.stop();
    throw e;
  }
}

/** An official SDK client connected to url (initialize done). */
export async function connect(url, headers = {}, capabilities = {}) {
  const client = new Client({ name: 'portico-test', version: '1.0.0' }, { capabilities });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  await client.connect(transport);
  return { client, transport };
}

/** Every tool of a client, following nextCursor. */
export async function allTools(client) {
  const out = [];
  let cursor;
  for (let i = 0; i < 100; i++) {
    const r = await client.listTools(cursor ? { cursor } : {});
    out.push(...r.tools);
    cursor = r.nextCursor;
    if (!cursor) return out;
  }
  throw new Error('tools/list did not end');
}

/** A gauge's value on baseUrl's /metrics (a sample's name and labels as /metrics writes
 * them, e.g. 'portico_mcp_upstream_streams{server="beta"}'), 0 when absent. */
export async function metric(baseUrl, sample) {
  const esc = sample.replace(/[{}"]/g, (c) => `\\${c}`);
  const m = new RegExp(`^${esc} (\\d+)`, 'm').exec(await (await fetch(`${baseUrl}/metrics`)).text());
  return m ? Number(m[1]) : 0;
}

/** Waits until the gauge reaches n (5 s at most). */
export async function waitMetric(baseUrl, sample, n) {
  for (let i = 0; i < 200; i++) {
    if (await metric(baseUrl, sample) >= n) return;
    await sleep(25);
  }
  throw new Error(`${sample} did not reach ${n}`);
}

/** The text of a tools/call result. */
export const textOf = (r) => r.content.map((c) => c.text).join('');
