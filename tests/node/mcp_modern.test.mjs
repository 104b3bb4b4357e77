// mcp_modern.test.mjs: the official SDK client (a 2025-era client) drives the gateway with
// servers of the stateless 2026-07-28 revision behind it (tests/upstreams/mcp/modern.mjs, ms over
// stdio and mh over Streamable HTTP) beside a 2025-era one (the SDK fixture, old): the
// handshake the gateway stands for, every page of the tools, calls, progress, a server's
// input_required round turned into an elicitation the client answers, cancels, and list
// changes through the servers' subscriptions/listen reaching the client's GET stream.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ElicitRequestSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { ROOT } from './ai_harness.mjs';
import { FIXTURE, allTools, connect, metric, startMcp, textOf, waitMetric } from './mcp_harness.mjs';

const MODERN = path.join(ROOT, 'tests/upstreams/mcp/modern.mjs');
let h;
const clients = [];

/** An SDK client on path that accepts every elicitation with {ok: tag}. */
async function open(p, tag = 'yes', caps = { elicitation: {} }) {
  const c = await connect(`${h.url}${p}`, {}, caps);
  clients.push(c);
  if (caps.elicitation) c.client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { ok: tag } }));
  return c.client;
}

before(async () => {
  h = await startMcp({
    http: ['mh'],
    fixture: MODERN,
    config: ({ fixture, node, httpPorts }) => `mcp:
  servers:
    - { name: ms, command: "${node}", args: ["${fixture}", stdio, ms] }
    - { name: mh, url: "http://127.0.0.1:${httpPorts.mh}/mcp" }
    - { name: old, command: "${node}", args: ["${FIXTURE}", stdio, old] }
`,
  });
  await h.waitReady(['ms', 'mh', 'old']);
});
after(async () => {
  for (const c of clients) await c.client.close().catch(() => {});
  if (h) await h.stop();
});

test('/mcp/<server>: the discover answer stands for initialize, and every page of tools comes', async () => {
  for (const s of ['ms', 'mh']) {
    const c = await open(`/mcp/${s}`);
    assert.equal(c.getServerVersion().name, `modern-${s}`);
    assert.equal(c.getInstructions(), `the ${s} test server`);
    const names = (await allTools(c)).map((t) => t.name);
    assert.ok(names.length >= 13 && names.includes('whoami') && names.includes('die'), names.join(','));
    assert.equal(textOf(await c.callTool({ name: 'echo', arguments: { text: 'hi' } })), `${s}: hi`);
    const r = await c.callTool({ name: 'fail', arguments: {} });
    assert.equal(r.isError, true);
  }
});

test('progress from a modern server comes back under the client\'s own token', async () => {
  const c = await open('/mcp');
  for (const s of ['ms', 'mh']) {
    const seen = [];
    const r = await c.callTool({ name: `${s}__progress`, arguments: { steps: 3 } }, undefined,
      { onprogress: (p) => seen.push(`${p.progress}/${p.total}`) });
    assert.equal(textOf(r), `${s}: done`);
    assert.deepEqual(seen, ['1/3', '2/3', '3/3']);
  }
});

test('an input_required round becomes an elicitation the client answers, and the call goes on', async () => {
  for (const p of ['/mcp', '/mcp/ms', '/mcp/mh']) {
    const c = await open(p, p);
    for (const s of p === '/mcp' ? ['ms', 'mh'] : [p.slice(5)]) {
      const r = await c.callTool({ name: p === '/mcp' ? `${s}__ask` : 'ask', arguments: {} });
      assert.equal(textOf(r), `${s}: accept {"ok":"${p}"}`);
    }
  }
  // a client that cannot answer gets a clear error
  const c = await open('/mcp/mh', 'none', {});
  const r = await c.callTool({ name: 'ask', arguments: {} }).catch((e) => e);
  assert.match(r instanceof Error ? r.message : textOf(r), /needed input the client did not give.*elicitation\/create/);
});

test('/mcp mixes modern and 2025-era servers', async () => {
  const c = await open('/mcp');
  const names = (await c.listTools()).tools.map((t) => t.name);
  for (const n of ['ms__whoami', 'mh__whoami', 'old__whoami']) assert.ok(names.includes(n), n);
  assert.equal(textOf(await c.callTool({ name: 'mh__whoami', arguments: {} })), 'mh');
  assert.equal(textOf(await c.callTool({ name: 'ms__whoami', arguments: {} })), 'ms');
  assert.match(textOf(await c.callTool({ name: 'old__whoami', arguments: {} })), /old/);
});

test('a cancelled call stops on a modern server (stream closed over HTTP, notifications/cancelled over stdio)', async () => {
  for (const s of ['mh', 'ms']) {
    const c = await open(`/mcp/${s}`);
    const count = async () => Number(textOf(await c.callTool({ name: 'cancelled', arguments: {} })).split(': ')[1]);
    const before = await count();
    const ac = new AbortController();
    let running;
    const started = new Promise((r) => { running = r; });
    const p = c.callTool({ name: 'slow', arguments: {} }, undefined, { signal: ac.signal, onprogress: () => running() });
    await started;
    ac.abort('enough');
    await assert.rejects(p);
    let now = before;
    for (let i = 0; i < 100 && now === before; i++) {
      now = await count();
      if (now === before) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(now, before + 1, `${s} saw the cancellation`);
  }
});

test('a modern server\'s list change reaches the clients\' GET streams', async () => {
  for (const s of ['ms', 'mh']) await waitMetric(h.url, `portico_mcp_upstream_streams{server="${s}"}`, 1);
  let streams = await metric(h.url, 'portico_mcp_streams');
  for (const s of ['ms', 'mh']) {
    const one = await open(`/mcp/${s}`);
    const changed = new Promise((resolve) => one.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve(true)));
    await waitMetric(h.url, 'portico_mcp_streams', ++streams);
    assert.equal(textOf(await one.callTool({ name: 'grow', arguments: {} })), `${s}: grown`);
    assert.equal(await changed, true);
    assert.ok((await allTools(one)).some((t) => t.name === 'grown'));
  }
});
