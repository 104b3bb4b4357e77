// ai_harness.mjs: starts the AI provider test upstream and Portico for the SDK tests of the
// AI endpoints (ai_*.test.mjs), on loopback ports nothing else uses, and stops both.
//
//   const h = await startAi({ mockKey, config: (mockPort) => 'providers: ...\nmodels: ...' });
//   h.url            http://127.0.0.1:PORT (Portico)
//   h.mockUrl        http://127.0.0.1:PORT (the upstream)
//   h.mockRequests() what the upstream received, oldest first
//   h.errorLog()     Portico's stderr so far
//   await h.stop()   stops both (SIGTERM, SIGKILL after 3 s) and removes the temp dir
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = process.env.PORTICO_ROOT || path.resolve(HERE, '..', '..');
const BIN = path.resolve(ROOT, process.env.PORTICO_BIN || 'build/portico');
const MOCK = path.join(ROOT, 'tests/upstreams/ai/server.mjs');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Sends SIGTERM, waits up to 3 s for the exit, then SIGKILL. */
export function stopProc(p) {
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => { p.kill('SIGKILL'); }, 3000);
    p.once('exit', () => { clearTimeout(t); resolve(); });
    p.kill('SIGTERM');
  });
}

/** Starts the mock upstream on a free port; resolves with { proc, port } once it listens. */
function startMock(env) {
  const proc = spawn(process.execPath, [MOCK], { env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`mock upstream did not start: ${out}`)); }, 10000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) { clearTimeout(t); resolve({ proc, port: Number(m[1]) }); }
    });
    proc.stderr.on('data', (d) => { out += d; });
    proc.once('exit', (c) => { clearTimeout(t); reject(new Error(`mock upstream exited (${c}): ${out}`)); });
  });
}

/**
 * Starts the mock upstream (MOCK_KEY = mockKey when given) and Portico with
 * `listen`, one worker, an access log in the temp dir and the YAML that config(mockPort)
 * returns. extraEnv reaches Portico (for ${ENV} keys).
 */
export async function startAi({ mockKey, config, extraEnv = {} }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-ai-'));
  const procs = [];
  let stderr = '';
  const h = {
    dir,
    async stop() {
      await Promise.all(procs.map(stopProc));
      fs.rmSync(dir, { recursive: true, force: true });
    },
    errorLog: () => stderr,
    accessLog: () => {
      try { return fs.readFileSync(path.join(dir, 'access.log'), 'utf8'); } catch { return ''; }
    },
  };
  try {
    const mock = await startMock(mockKey ? { MOCK_KEY: mockKey } : {});
    procs.push(mock.proc);
    h.mockUrl = `http://127.0.0.1:${mock.port}`;
    h.mockRequests = async () => (await fetch(`${h.mockUrl}/_mock/requests`)).json();
    h.mockReset = async () => { await fetch(`${h.mockUrl}/_mock/reset`, { method: 'POST' }); };

    const port = await freePort();
    h.url = `http://127.0.0.1:${port}`;
    const cfg = path.join(dir, 'portico.yaml');
    // No admin API here: these tests do not use it, and several runs must not contend for its port.
    fs.writeFileSync(cfg, `listen: ["127.0.0.1:${port}"]\nworkers: 1\nadmin: { enabled: false }\naccess_log: ${path.join(dir, 'access.log')}\n${config(mock.port)}`);
    await startPortico({ cfg, dir, url: h.url, env: extraEnv, procs, onStderr: (d) => { stderr += d; } });
    return h;
  } catch (e) {
    await h.stop();
    throw e;
  }
}

/**
 * Starts `portico serve -c cfg` in dir (env added to the environment), pushes it onto procs,
 * hands its stderr to onStderr, and resolves once url answers /healthz (10 s at most).
 */
export async function startPortico({ cfg, dir, url, env = {}, procs, onStderr }) {
  if (!fs.existsSync(BIN)) throw new Error(`portico binary missing: ${BIN} (run make)`);
  const p = spawn(BIN, ['serve', '-c', cfg], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  procs.push(p);
  let stderr = '';
  p.stderr.on('data', (d) => { stderr += d; onStderr(d); });
  for (let i = 0; i < 200; i++) {
    if (p.exitCode !== null) throw new Error(`portico exited with ${p.exitCode}: ${stderr}`);
    try {
      const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status === 200) return p;
    } catch { /* not listening yet */ }
    await sleep(50);
  }
  throw new Error(`portico did not answer /healthz within 10 s: ${stderr}`);
}

/** The get_weather tool, in each client format. */
export const WEATHER_SCHEMA = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
export const OPENAI_TOOLS = [{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: WEATHER_SCHEMA } }];
export const ANTHROPIC_TOOLS = [{ name: 'get_weather', description: 'Weather in a city', input_schema: WEATHER_SCHEMA }];
/** What the upstream answers with tools=1: two parallel calls, in this order. */
export const EXPECTED_CALLS = [{ city: 'Paris' }, { city: 'Zürich' }];
// The thoughtSignature the provider upstream puts on Gemini's first call with "[mock signed=1]"
// (tests/upstreams/ai/server.mjs), and the same bytes in base64url without padding, as they
// travel inside a tool call id.
export const MOCK_SIGNATURE = 'bW9jay1zaWduYXR1cmU+Pz8/Pw==';
export const MOCK_SIGNATURE_URL = 'bW9jay1zaWduYXR1cmU-Pz8_Pw';
/** The functionCall parts of the model turn of a Gemini request body, in order. */
export function geminiCalls(body) {
  return JSON.parse(body).contents.filter((c) => c.role === 'model').flatMap((c) => c.parts.filter((p) => p.functionCall));
}
