// mcp_relay.test.mjs: server-to-client messages through the gateway, with the official SDK on
// both sides: two relay fixtures (alpha over stdio, beta over Streamable HTTP), both of which
// number their own requests from 0, so the gateway must give each its own id toward the client.
// A third (gamma) speaks the legacy HTTP+SSE transport. Sampling, elicitation and roots requests reach the client that made the call and its answer
// reaches the server that asked; progress comes back under the client's own token; a client's
// notifications/cancelled stops the call upstream; a tools list change reaches the GET stream;
// a resource update reaches its subscribers alone, on /mcp/<server> and on /mcp; completions on
// /mcp reach the server of the prompt or template; a call stream the server ends early is resumed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema, McpError,
  ResourceUpdatedNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { RELAY, connect, metric, startMcp, textOf, waitMetric } from './mcp_harness.mjs';

let h;
const clients = [];
const CAPS = { sampling: {}, elicitation: {}, roots: { listChanged: true } };

/** A client that answers sampling with "model saw <text>", elicitation with accept, roots with
 * one root named after tag. */
async function open(path, tag = 'c1', caps = CAPS) {
  const c = await connect(`${h.url}${path}`, {}, caps);
  clients.push(c);
  const { client } = c;
  if (caps.sampling) {
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      const t = req.params.messages[0].content.text;
      await new Promise((r) => setTimeout(r, t.includes('late') ? 200 : 0));
      return { role: 'assistant', model: 'm', content: { type: 'text', text: `${tag} saw ${t}` } };
    });
  }
  if (caps.elicitation) client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { ok: true } }));
  if (caps.roots) client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: `file:///${tag}` }] }));
  return client;
}

/** Resolves once client gets notifications/tools/list_changed. */
const got = (client) => new Promise((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve(true)));

before(async () => {
  h = await startMcp({
    http: ['beta', 'gamma:sse'],
    fixture: RELAY,
    config: ({ fixture, node, httpPorts }) => `mcp:
  servers:
    - { name: alpha, command: "${node}", args: ["${fixture}", stdio, alpha] }
    - { name: beta, url: "http://127.0.0.1:${httpPorts.beta}/mcp" }
    - { name: gamma, url: "http://127.0.0.1:${httpPorts.gamma}/sse", transport: sse }
`,
  });
  await h.waitReady(['alpha', 'beta', 'gamma']);
});
after(async () => {
  for (const c of clients) await c.client.close().catch(() => {});
  if (h) await h.stop();
});

test('sampling from two servers that use the same request ids reaches the caller and goes back to each', async () => {
  const c = await open('/mcp');
  const [a, b] = await Promise.all([
    c.callTool({ name: 'alpha__sample', arguments: { text: 'late one' } }),
    c.callTool({ name: 'beta__sample', arguments: { text: 'two' } }),
  ]);
  assert.equal(textOf(a), 'alpha: c1 saw late one');
  assert.equal(textOf(b), 'beta: c1 saw two');
});

test('/mcp/<server>: sampling, elicitation and roots relayed for stdio, HTTP and legacy HTTP+SSE servers', async () => {
  for (const s of ['alpha', 'beta', 'gamma']) {
    const c = await open(`/mcp/${s}`, `t-${s}`);
    assert.equal(textOf(await c.callTool({ name: 'sample', arguments: { text: 'hi' } })), `${s}: t-${s} saw hi`);
    assert.equal(textOf(await c.callTool({ name: 'elicit', arguments: {} })), `${s}: accept {"ok":true}`);
    assert.equal(textOf(await c.callTool({ name: 'roots', arguments: {} })), `${s}: file:///t-${s}`);
  }
});

test('two clients at once: each server request goes to the client whose call it serves', async () => {
  const c1 = await open('/mcp', 'one');
  const c2 = await open('/mcp', 'two');
  const [a, b] = await Promise.all([
    c1.callTool({ name: 'beta__sample', arguments: { text: 'x' } }),
    c2.callTool({ name: 'beta__sample', arguments: { text: 'y' } }),
  ]);
  assert.equal(textOf(a), 'beta: one saw x');
  assert.equal(textOf(b), 'beta: two saw y');
});

test('a client without the capability: the server gets an error, the client a clear failure', async () => {
  const c = await open('/mcp/beta', 'nocaps', {});
  const r = await c.callTool({ name: 'sample', arguments: { text: 'z' } }).catch((e) => e);
  const msg = r instanceof Error ? r.message : textOf(r);
  assert.match(msg, /does not support sampling\/createMessage/);
});

test('progress comes back under the client\'s own token, from every server', async () => {
  const c = await open('/mcp');
  for (const s of ['alpha', 'beta', 'gamma']) {
    const seen = [];
    const r = await c.callTool({ name: `${s}__progress`, arguments: { steps: 3 } }, undefined,
      { onprogress: (p) => seen.push(`${p.message}:${p.progress}/${p.total}`) });
    assert.equal(textOf(r), `${s}: done`);
    assert.deepEqual(seen, [`${s}:1/3`, `${s}:2/3`, `${s}:3/3`]);
  }
});

test('notifications/cancelled from the client stops the call on the server, under the server\'s id', async () => {
  for (const path of ['/mcp', '/mcp/alpha', '/mcp/beta', '/mcp/gamma']) {
    const c = await open(path);
    const server = path === '/mcp' ? 'alpha' : path.slice(5);
    const tool = (t) => (path === '/mcp' ? `alpha__${t}` : t);
    const before = Number(textOf(await c.callTool({ name: tool('cancelled'), arguments: {} })).split(': ')[1]);
    const ac = new AbortController();
    let running;
    const started = new Promise((r) => { running = r; });
    const p = c.callTool({ name: tool('wait'), arguments: {} }, undefined, { signal: ac.signal, onprogress: () => running() });
    await started; // the server runs the call: it said so with a progress notification
    ac.abort('enough');
    await assert.rejects(p);
    let now = before;
    for (let i = 0; i < 100 && now === before; i++) {
      now = Number(textOf(await c.callTool({ name: tool('cancelled'), arguments: {} })).split(': ')[1]);
      if (now === before) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(now, before + 1, `${server} saw the cancellation through ${path}`);
  }
});

test('a client that disconnects mid-call cancels it on an HTTP server too', async () => {
  const { client, transport } = await connect(`${h.url}/mcp/beta`, {}, CAPS);
  clients.push({ client });
  const count = async () => Number(textOf(await client.callTool({ name: 'cancelled', arguments: {} })).split(': ')[1]);
  const before = await count();
  const ac = new AbortController();
  const r = await fetch(`${h.url}/mcp/beta`, { method: 'POST', signal: ac.signal,
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': transport.sessionId },
    body: JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'wait', arguments: {}, _meta: { progressToken: 't' } } }) });
  assert.match(r.headers.get('content-type'), /text\/event-stream/);
  const reader = r.body.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  assert.match(first, /"progressToken":"t"/, 'the progress event, under the client\'s token');
  ac.abort();
  let now = before;
  for (let i = 0; i < 100 && now === before; i++) {
    now = await count();
    if (now === before) await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(now, before + 1);
});

test('a tools list change of a stdio, an HTTP and a legacy server reaches the GET streams of /mcp and /mcp/<server>', async () => {
  // the SDK opens its GET stream after initialize: count the gateway's open ones around each open
  let streams = await metric(h.url, 'portico_mcp_streams');
  const agg = await open('/mcp');
  await waitMetric(h.url, 'portico_mcp_streams', ++streams);
  // an HTTP server sends it on the gateway's own GET stream to it: wait until that is open
  await waitMetric(h.url, 'portico_mcp_upstream_streams{server="beta"}', 1);
  for (const s of ['alpha', 'beta', 'gamma']) {
    const one = await open(`/mcp/${s}`);
    const pa = got(agg);
    const po = got(one);
    await waitMetric(h.url, 'portico_mcp_streams', ++streams);
    assert.equal(textOf(await one.callTool({ name: 'grow', arguments: {} })), `${s}: grown`);
    assert.equal(await pa, true);
    assert.equal(await po, true);
    assert.ok((await agg.listTools()).tools.some((t) => t.name === `${s}__grown`));
  }
});

test('a resource update reaches the clients that subscribed to it and no other, from stdio and HTTP servers', async () => {
  const W = 'test://watched-resource';
  await waitMetric(h.url, 'portico_mcp_upstream_streams{server="beta"}', 1);
  for (const s of ['alpha', 'beta']) {
    const seen = [];
    let streams = await metric(h.url, 'portico_mcp_streams');
    const [a, b, n] = await Promise.all(['a', 'b', 'n'].map(async (tag) => {
      const c = await open(`/mcp/${s}`, tag);
      c.setNotificationHandler(ResourceUpdatedNotificationSchema, (m) => seen.push(`${tag} ${m.params.uri}`));
      return c;
    }));
    await waitMetric(h.url, 'portico_mcp_streams', streams += 3);
    // a tools list change after the update reaches every stream: once each client has it, each
    // has had whatever update was meant for it (a stream keeps the order its events came in)
    const barrier = async () => {
      const all = Promise.all([a, b, n].map(got));
      await n.callTool({ name: 'grow', arguments: {} });
      await all;
    };
    await a.subscribeResource({ uri: W });
    await b.subscribeResource({ uri: W });
    await a.callTool({ name: 'test_touch_watched', arguments: {} });
    await barrier();
    assert.deepEqual(seen.sort(), [`a ${W}`, `b ${W}`], `${s}: both subscribers, not the third client`);
    await a.unsubscribeResource({ uri: W });
    await b.callTool({ name: 'test_touch_watched', arguments: {} });
    await barrier();
    assert.deepEqual(seen.sort(), [`a ${W}`, `b ${W}`, `b ${W}`], `${s}: b still gets them once a stopped`);
  }
});

test('/mcp completes a prompt\'s argument and a resource template\'s at the server that lists them; an unknown ref is -32602', async () => {
  const c = await open('/mcp', 'cc');
  const caps = c.getServerCapabilities();
  assert.deepEqual(caps.completions, {}, 'the upstreams have completions, so /mcp says it has');
  assert.equal(caps.resources.subscribe, true, '...and subscriptions');
  const arg = (name, value) => ({ name, value });
  const values = async (ref, a) => (await c.complete({ ref, argument: a })).completion.values;
  assert.deepEqual(await values({ type: 'ref/prompt', name: 'alpha__test_prompt_with_arguments' }, arg('arg1', 'par')),
    ['paris', 'park', 'party']);
  assert.deepEqual(await values({ type: 'ref/prompt', name: 'beta__test_prompt_with_arguments' }, arg('arg2', 'b')), ['beta']);
  assert.deepEqual(await values({ type: 'ref/resource', uri: 'test://template/{id}/data' }, arg('id', '1')), ['1', '123']);
  const refused = (what) => (e) => e.code === -32602 && e.message.includes(`no server of /mcp lists ${what}`);
  await assert.rejects(c.complete({ ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' }, argument: arg('arg1', '') }),
    refused("the prompt 'test_prompt_with_arguments'"), 'an unprefixed name of a prefixed server is no prompt of /mcp');
  await assert.rejects(c.complete({ ref: { type: 'ref/prompt', name: 'zeta__x' }, argument: arg('a', '') }),
    refused("the prompt 'zeta__x'"));
  await assert.rejects(c.complete({ ref: { type: 'ref/resource', uri: 'test://nobody/{x}' }, argument: arg('x', '') }),
    refused("the resource or resource template 'test://nobody/{x}'"));
});

test('a /mcp client that subscribes to a resource gets its updates, another /mcp client none, until it unsubscribes', async () => {
  const W = 'test://watched-resource'; // alpha's: the first server keeps a URI both list
  const seen = [];
  let streams = await metric(h.url, 'portico_mcp_streams');
  const [a, n] = await Promise.all(['a', 'n'].map(async (tag) => {
    const c = await open('/mcp', tag);
    c.setNotificationHandler(ResourceUpdatedNotificationSchema, (m) => seen.push(`${tag} ${m.params.uri}`));
    return c;
  }));
  await waitMetric(h.url, 'portico_mcp_streams', streams += 2);
  // a tools list change after the update reaches both streams: once each has it, each has had
  // whatever update was meant for it
  const barrier = async () => {
    const all = Promise.all([a, n].map(got));
    await n.callTool({ name: 'alpha__grow', arguments: {} });
    await all;
  };
  await a.subscribeResource({ uri: W });
  await n.callTool({ name: 'alpha__test_touch_watched', arguments: {} });
  await barrier();
  assert.deepEqual(seen, [`a ${W}`], 'the subscriber alone');
  await a.unsubscribeResource({ uri: W });
  await n.callTool({ name: 'alpha__test_touch_watched', arguments: {} });
  await barrier();
  assert.deepEqual(seen, [`a ${W}`], 'nothing more once it unsubscribed');
  await assert.rejects(a.subscribeResource({ uri: 'test://nobody-lists-it' }),
    (e) => e.code === -32002 && e.message.includes("unknown resource 'test://nobody-lists-it'"));
});

test('an HTTP server that ends a call\'s stream before answering: the gateway resumes it with Last-Event-ID', async () => {
  const client = await open('/mcp/beta');
  const r = await client.callTool({ name: 'test_reconnection', arguments: {} });
  assert.equal(textOf(r), 'Reconnection test completed successfully (its stream was closed first)');
});

test('bad input: a response to nothing and a GET for an unknown session are JSON-RPC errors', async () => {
  const init = await fetch(`${h.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }) });
  const sid = init.headers.get('mcp-session-id');
  await init.text();
  const r = await fetch(`${h.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', 'mcp-session-id': sid },
    body: JSON.stringify({ jsonrpc: '2.0', id: 77, result: {} }) });
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error.code, -32600);
  const g = await fetch(`${h.url}/mcp`, { headers: { accept: 'text/event-stream', 'mcp-session-id': 'f'.repeat(32) } });
  assert.equal(g.status, 404);
  assert.equal((await g.json()).error.code, -32600);
  const g2 = await fetch(`${h.url}/mcp`, { headers: { accept: 'application/json', 'mcp-session-id': sid } });
  assert.equal(g2.status, 406);
});
