// mcp_workers.test.mjs: MCP sessions on a gateway with two workers, with the official SDK client
// over a fetch that opens a new connection for every request, so a client's messages land on
// either worker: its answers to a server's sampling, elicitation and roots requests and its
// notifications/cancelled reach the worker whose call they are about (portico_mcp_handoffs_total
// counts those that had to be handed over, and the test goes on until some were); and the GET
// stream's numbered events, replayed after a reconnect that names the last one seen
// (Last-Event-ID); and clients of the legacy HTTP+SSE transport (2024-11-05), whose answers all
// come on the stream one worker holds while their POSTs reach either.
import assert from 'node:assert/strict';
import http from 'node:http';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { RELAY, startMcp, textOf } from './mcp_harness.mjs';

let h;
const clients = [];
const agent = new http.Agent({ keepAlive: false });

/** fetch over a new connection each time (the worker that accepts it is the kernel's choice). */
function freshFetch(url, init = {}) {
  return new Promise((resolve, reject) => {
    const headers = {};
    new Headers(init.headers).forEach((v, k) => { headers[k] = v; });
    const req = http.request(String(url), { method: init.method || 'GET', headers, agent }, (res) => {
      const rh = new Headers();
      for (const [k, v] of Object.entries(res.headers)) rh.set(k, Array.isArray(v) ? v.join(', ') : v);
      const empty = [204, 304].includes(res.statusCode);
      if (empty) res.resume();
      resolve(new Response(empty ? null : Readable.toWeb(res), { status: res.statusCode, headers: rh }));
    });
    req.on('error', reject);
    init.signal?.addEventListener('abort', () => req.destroy(new Error('aborted')));
    req.end(init.body);
  });
}

async function open(path, tag, Transport = StreamableHTTPClientTransport) {
  const client = new Client({ name: 'workers-test', version: '1.0.0' },
    { capabilities: { sampling: {}, elicitation: {}, roots: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async (req) =>
    ({ role: 'assistant', model: 'm', content: { type: 'text', text: `${tag} saw ${req.params.messages[0].content.text}` } }));
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { ok: true } }));
  client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: `file:///${tag}` }] }));
  await client.connect(new Transport(new URL(`${h.url}${path}`), { fetch: freshFetch }));
  clients.push(client);
  return client;
}

async function handoffs() {
  const m = /^portico_mcp_handoffs_total (\d+)/m.exec(await (await fetch(`${h.url}/metrics`)).text());
  return m ? Number(m[1]) : 0;
}

before(async () => {
  h = await startMcp({
    workers: 2,
    http: ['beta'],
    fixture: RELAY,
    config: ({ fixture, node, httpPorts }) => `mcp:
  servers:
    - { name: alpha, command: "${node}", args: ["${fixture}", stdio, alpha], timeout: 15s }
    - { name: beta, url: "http://127.0.0.1:${httpPorts.beta}/mcp", timeout: 15s }
`,
  });
  await h.waitReady(['alpha', 'beta']);
});
after(async () => {
  for (const c of clients) await c.close().catch(() => {});
  if (h) await h.stop();
});

test('answers to sampling, elicitation and roots reach the server that asked, whichever worker takes them', { timeout: 60000 }, async () => {
  const one = { '/mcp': await open('/mcp', 'agg'), '/mcp/alpha': await open('/mcp/alpha', 'a'), '/mcp/beta': await open('/mcp/beta', 'b') };
  const start = await handoffs();
  let rounds = 0;
  for (; rounds < 60 && (rounds < 6 || await handoffs() - start < 4); rounds++) {
    for (const [path, c] of Object.entries(one)) {
      const server = path === '/mcp' ? (rounds % 2 ? 'alpha' : 'beta') : path.slice(5);
      const tool = (t) => (path === '/mcp' ? `${server}__${t}` : t);
      const tag = path === '/mcp' ? 'agg' : path.slice(5, 6);
      assert.equal(textOf(await c.callTool({ name: tool('sample'), arguments: { text: `r${rounds}` } })), `${server}: ${tag} saw r${rounds}`);
      assert.equal(textOf(await c.callTool({ name: tool('elicit'), arguments: {} })), `${server}: accept {"ok":true}`);
      assert.equal(textOf(await c.callTool({ name: tool('roots'), arguments: {} })), `${server}: file:///${tag}`);
    }
  }
  assert.ok(await handoffs() - start >= 4, `answers were handed to the other worker (${rounds} rounds)`);
});

test('notifications/cancelled reaches the worker that runs the call', { timeout: 60000 }, async () => {
  const c = await open('/mcp/beta', 'cancel');
  const count = async () => Number(textOf(await c.callTool({ name: 'cancelled', arguments: {} })).split(': ')[1]);
  let crossed = 0;
  for (let i = 0; i < 30 && !crossed; i++) {
    const before = await count();
    const handed = await handoffs();
    const ac = new AbortController();
    let running;
    const started = new Promise((r) => { running = r; });
    const p = c.callTool({ name: 'wait', arguments: {} }, undefined, { signal: ac.signal, onprogress: () => running() });
    await started;
    ac.abort('enough');
    await assert.rejects(p);
    let now = before;
    for (let j = 0; j < 100 && now === before; j++) {
      now = await count();
      if (now === before) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(now, before + 1, `round ${i}: the server saw the cancellation`);
    crossed = await handoffs() - handed;
  }
  assert.ok(crossed > 0, 'a cancel was handed to the other worker');
});

/** Reads an event stream until it has an event whose data matches re; resolves with the text read. */
async function readUntil(reader, re, seen = '') {
  const dec = new TextDecoder();
  while (!re.test(seen)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended before ${re}: ${seen}`);
    seen += dec.decode(value);
  }
  return seen;
}

test('the GET stream: numbered events, and those missed while disconnected replayed after Last-Event-ID', { timeout: 60000 }, async () => {
  const hdr = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const init = await freshFetch(`${h.url}/mcp`, { method: 'POST', headers: hdr,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }) });
  const sid = init.headers.get('mcp-session-id');
  await init.text();
  const grow = async (id) => {
    const r = await freshFetch(`${h.url}/mcp`, { method: 'POST', headers: { ...hdr, 'mcp-session-id': sid },
      body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'alpha__grow', arguments: {} } }) });
    assert.match(await r.text(), /alpha: grown/);
  };
  const listen = (last) => freshFetch(`${h.url}/mcp`, { signal: ac.signal,
    headers: { accept: 'text/event-stream', 'mcp-session-id': sid, ...(last ? { 'last-event-id': last } : {}) } });
  let ac = new AbortController();
  const g = await listen();
  assert.equal(g.status, 200);
  const reader = g.body.getReader();
  assert.match(await readUntil(reader, /^id: g0\n/m), /^id: g0\ndata: \n\n/, 'a priming event first');
  await grow(2);
  assert.match(await readUntil(reader, /tools\/list_changed/), /id: g1\nevent: message\ndata: \{"jsonrpc":"2.0","method":"notifications\/tools\/list_changed"\}/);
  ac.abort(); // the client goes away mid-stream
  await reader.closed.catch(() => {});
  await grow(3); // a stdio server sends its notification before its answer: kept by now
  await grow(4);
  ac = new AbortController();
  const again = await listen('g1');
  assert.equal(again.status, 200);
  const text = await readUntil(again.body.getReader(), /id: g3\n[^]*list_changed/);
  assert.match(text, /^id: g1\ndata: \n\nid: g2\nevent: message\ndata: .*list_changed.*\n\nid: g3\n/);
  ac.abort();
  for (const bad of ['g9', 'zzz', 'g']) {
    ac = new AbortController();
    const r = await listen(bad);
    assert.equal(r.status, 400, bad);
    const body = await r.json();
    assert.equal(body.error.code, -32600);
    assert.match(body.error.message, /Last-Event-ID names no event/);
  }
  ac = new AbortController();
  const open = (await listen('g3')).body.getReader();
  await readUntil(open, /^id: g3\n/m);
  const ended = await freshFetch(`${h.url}/mcp`, { method: 'DELETE', headers: { 'mcp-session-id': sid } });
  assert.equal(ended.status, 200);
  while (!(await open.read()).done); // the session's end ends its stream, on whichever worker holds it
  assert.equal((await listen('g1')).status, 404);
});

test('legacy HTTP+SSE clients on /mcp and /mcp/<server>: lists, calls and server requests over the stream', { timeout: 60000 }, async () => {
  for (const path of ['/mcp', '/mcp/alpha', '/mcp/beta']) {
    const c = await open(path, 'old', SSEClientTransport);
    const tool = (t) => (path === '/mcp' ? `beta__${t}` : t);
    const server = path === '/mcp' ? 'beta' : path.slice(5);
    assert.ok((await c.listTools()).tools.some((t) => t.name === tool('sample')), path);
    for (let i = 0; i < 4; i++) {
      assert.equal(textOf(await c.callTool({ name: tool('sample'), arguments: { text: `s${i}` } })), `${server}: old saw s${i}`);
      assert.equal(textOf(await c.callTool({ name: tool('roots'), arguments: {} })), `${server}: file:///old`);
    }
    const e = await c.callTool({ name: tool('nosuch'), arguments: {} }).catch((x) => x);
    assert.ok(e instanceof Error || e.isError, 'an error comes back on the stream too');
  }
  // by hand: a GET without a session is the old transport's stream, whose first event names the endpoint
  const ac = new AbortController();
  const g = await freshFetch(`${h.url}/mcp/beta`, { headers: { accept: 'text/event-stream' }, signal: ac.signal });
  assert.equal(g.status, 200);
  const reader = g.body.getReader();
  const first = await readUntil(reader, /\n\n/);
  const m = /^event: endpoint\ndata: (\/mcp\/beta\?sessionId=[0-9a-f]{32})\n\n$/.exec(first);
  assert.ok(m, first);
  const post = (body) => freshFetch(`${h.url}${m[1]}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const init = await post({ jsonrpc: '2.0', id: 7, method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'old', version: '1' } } });
  assert.equal(init.status, 202);
  assert.match(await readUntil(reader, /"id":7/, first), /event: message\ndata: \{"jsonrpc":"2.0","id":7,"result":\{.*"protocolVersion":"2024-11-05"/);
  const bad = await post({ jsonrpc: '2.0', id: 8 });
  assert.equal(bad.status, 400, 'a message that is not one is refused on the POST itself');
  ac.abort(); // the stream was the session
  let gone = 0;
  for (let i = 0; i < 100 && gone !== 404; i++) {
    gone = (await post({ jsonrpc: '2.0', id: 9, method: 'ping' })).status;
    if (gone !== 404) await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(gone, 404, 'its session ended with the stream');
  // a POST to an endpoint no stream holds is 404
  const r = await freshFetch(`${h.url}/mcp?sessionId=00000000000000000000000000000000`, { method: 'POST',
    headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) });
  assert.equal(r.status, 404);
  assert.equal((await r.json()).error.code, -32600);
});
