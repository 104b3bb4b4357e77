// mcp_gateway.test.mjs: the official MCP SDK client (Client + StreamableHTTPClientTransport)
// against Portico's MCP endpoints, with two stdio fixture servers (alpha, beta) and one
// Streamable HTTP fixture (gamma) built on the official SDK: one upstream relayed on
// /mcp/<server>, all of them aggregated on /mcp, a server that crashes mid-call, a server that
// pollutes stdout, and the collision of unprefixed names.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { allTools, connect, startMcp, textOf } from './mcp_harness.mjs';

const FIXTURE_TOOLS = ['whoami', 'echo', 'add', 'crash', 'noise', 'slow', 'shared',
  'a_tool_name_long_enough_to_pass_sixty_four_characters_prefixed', 'pid'];

/** The error a promise rejects with (fails when it resolves). */
async function rejection(p) {
  try { await p; } catch (e) { return e; }
  assert.fail('expected a rejection');
}

let h;
const clients = [];
const open = async (path) => { const c = await connect(`${h.url}${path}`); clients.push(c); return c.client; };

before(async () => {
  h = await startMcp({
    http: ['gamma'],
    config: ({ fixture, node, httpPorts }) => `mcp:
  servers:
    - { name: alpha, command: "${node}", args: ["${fixture}", stdio, alpha] }
    - { name: beta, command: "${node}", args: ["${fixture}", stdio, beta], timeout: 2s }
    - { name: gamma, url: "http://127.0.0.1:${httpPorts.gamma}/mcp" }
`,
  });
  await h.waitReady(['alpha', 'beta', 'gamma']);
});
after(async () => {
  for (const c of clients) await c.client.close().catch(() => {});
  if (h) await h.stop();
});

test('/mcp/<stdio server>: the server\'s own initialize answer, every tool page, a call', async () => {
  const c = await open('/mcp/alpha');
  assert.equal(c.getServerVersion().name, 'fixture-alpha');
  const names = (await allTools(c)).map((t) => t.name);
  assert.deepEqual(names, FIXTURE_TOOLS);
  assert.equal(textOf(await c.callTool({ name: 'add', arguments: { a: 2, b: 40 } })), '42');
  assert.equal(textOf(await c.callTool({ name: 'whoami', arguments: {} })), 'alpha');
});

test('/mcp/<HTTP server>: relayed the same way', async () => {
  const c = await open('/mcp/gamma');
  assert.equal(c.getServerVersion().name, 'fixture-gamma');
  assert.equal((await allTools(c)).length, FIXTURE_TOOLS.length);
  assert.equal(textOf(await c.callTool({ name: 'echo', arguments: { text: 'über' } })), 'über');
});

test('/mcp/<server>: the upstream\'s own errors come back as they are', async () => {
  const c = await open('/mcp/alpha');
  const e = await rejection(c.callTool({ name: 'no_such_tool', arguments: {} }));
  assert.ok(e instanceof McpError, String(e));
  assert.equal(e.code, -32602);
  assert.match(e.message, /no_such_tool not found/);
});

test('/mcp: the gateway answers initialize and merges every upstream\'s tools under prefixes', async () => {
  const c = await open('/mcp');
  assert.equal(c.getServerVersion().name, 'portico');
  assert.ok(c.getServerCapabilities().tools);
  const names = (await allTools(c)).map((t) => t.name);
  const expected = ['alpha', 'beta', 'gamma'].flatMap((s) => FIXTURE_TOOLS.filter((t) => !t.startsWith('a_tool')).map((t) => `${s}__${t}`));
  assert.deepEqual(names, ['diagnose_connection', ...expected],
    'the built-in tool, then every page of every upstream, the over-64-character names left out');
  assert.ok(names.every((n) => n.length <= 64));
  await h.waitLog(/entry left out of \/mcp: server 'alpha': tool 'a_tool_name.*longer than 64 characters/);
});

test('/mcp: tools/call is routed by prefix to stdio and HTTP upstreams', async () => {
  const c = await open('/mcp');
  assert.equal(textOf(await c.callTool({ name: 'beta__whoami', arguments: {} })), 'beta');
  assert.equal(textOf(await c.callTool({ name: 'gamma__add', arguments: { a: 1, b: 2 } })), '3');
  const e = await rejection(c.callTool({ name: 'delta__whoami', arguments: {} }));
  assert.ok(e instanceof McpError);
  assert.equal(e.code, -32602);
  assert.match(e.message, /unknown tool 'delta__whoami'/);
});

test('/mcp: a method the gateway does not serve is -32601', async () => {
  const c = await open('/mcp');
  const e = await rejection(c.setLoggingLevel('info'));
  assert.ok(e instanceof McpError);
  assert.equal(e.code, -32601);
});

test('/mcp: prompts are merged under prefixes and prompts/get is routed', async () => {
  const c = await open('/mcp');
  const names = (await c.listPrompts()).prompts.map((p) => p.name);
  assert.deepEqual(names, ['alpha', 'beta', 'gamma'].flatMap((s) => [`${s}__greet`, `${s}__shared_prompt`]));
  const r = await c.getPrompt({ name: 'gamma__greet', arguments: { who: 'ana' } });
  assert.equal(r.messages[0].content.text, 'hello ana from gamma');
  const e = await rejection(c.getPrompt({ name: 'alpha__nope' }));
  assert.ok(e instanceof McpError);
  assert.equal(e.code, -32602);
});

test('/mcp: resources keep their URIs, a URI two servers share goes to the first, reads are routed', async () => {
  const c = await open('/mcp');
  const uris = (await c.listResources()).resources.map((r) => r.uri);
  assert.deepEqual(uris, ['fixture://alpha/info', 'fixture://shared', 'fixture://beta/info', 'fixture://gamma/info']);
  assert.equal((await c.readResource({ uri: 'fixture://beta/info' })).contents[0].text, 'beta');
  assert.equal((await c.readResource({ uri: 'fixture://shared' })).contents[0].text, 'alpha');
  const e = await rejection(c.readResource({ uri: 'fixture://nobody' }));
  assert.ok(e instanceof McpError);
  assert.equal(e.code, -32002);
  assert.match(e.message, /unknown resource 'fixture:\/\/nobody'/);
});

test('a stdout line that is not JSON-RPC is logged and skipped; the call still answers', async () => {
  const c = await open('/mcp');
  assert.equal(textOf(await c.callTool({ name: 'alpha__noise', arguments: {} })), 'quiet');
  await h.waitLog(/MCP server 'alpha' wrote a line to stdout that is not a JSON-RPC message \(skipped\): this line is not JSON-RPC/);
  await h.waitLog(/MCP server 'alpha' stderr: fixture alpha: stderr works/);
});

test('a call past the server\'s timeout fails with a clear error, and the server keeps serving', async () => {
  const c = await open('/mcp');
  const e = await rejection(c.callTool({ name: 'beta__slow', arguments: { ms: 4000 } }));
  assert.ok(e instanceof McpError, String(e));
  assert.equal(e.code, -32000);
  assert.match(e.message, /MCP server 'beta' did not answer within 2000 ms/);
  assert.equal(textOf(await c.callTool({ name: 'beta__whoami', arguments: {} })), 'beta');
});

test('a server that exits mid-call: the call fails clearly, others keep answering, it restarts', async () => {
  const c = await open('/mcp');
  const e = await rejection(c.callTool({ name: 'beta__crash', arguments: {} }));
  assert.ok(e instanceof McpError, String(e));
  assert.equal(e.code, -32000);
  assert.match(e.message, /MCP server 'beta' exited with status 3 before answering; it is being restarted/);
  assert.equal(textOf(await c.callTool({ name: 'alpha__whoami', arguments: {} })), 'alpha');
  assert.equal(textOf(await c.callTool({ name: 'gamma__whoami', arguments: {} })), 'gamma');
  await h.waitLog(/MCP server 'beta' exited with status 3; restarting it/);
  await h.waitReady(['beta']);
  assert.equal(textOf(await c.callTool({ name: 'beta__whoami', arguments: {} })), 'beta');
  const metrics = await (await fetch(`${h.url}/metrics`)).text();
  assert.match(metrics, /portico_mcp_upstream_exits_total\{server="beta"\} [1-9]/);
  assert.match(metrics, /portico_mcp_upstream_ready\{server="beta"\} 1/);
  assert.match(metrics, /portico_mcp_bad_lines_total\{server="alpha"\} [1-9]/);
});

test('a session ended with DELETE is gone', async () => {
  const { client, transport } = await connect(`${h.url}/mcp/gamma`);
  const sid = transport.sessionId;
  assert.match(sid, /^[0-9a-f]{32}$/);
  await transport.terminateSession();
  const r = await fetch(`${h.url}/mcp/gamma`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sid },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  assert.equal(r.status, 404);
  assert.equal((await r.json()).error.code, -32600);
  await client.close();
});
