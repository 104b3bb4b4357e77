// mcp_apitools.test.mjs: the official MCP SDK client against /mcp where a REST route with an
// OpenAPI document (mcp.apis) gives one tool per operation beside an MCP server's, and the
// built-in diagnose_connection runs the doctor (answered by mcp.diagnose_deadline when it takes
// longer). Calls reach the echo upstream through the
// gateway's own route: path, query and header parameters and the JSON body where the operation
// puts them; the answer as text and structuredContent; an upstream error as an isError result;
// a keyed route with the caller's key, and refused without it; bad arguments as -32602.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { ROOT, freePort, stopProc } from './ai_harness.mjs';
import { allTools, connect, startMcp } from './mcp_harness.mjs';

const SEED = process.env.STORE_SEED || path.join(path.dirname(path.resolve(ROOT, process.env.PORTICO_BIN || 'build/portico')), 'tests/store_seed');
const OPENAPI = `openapi: 3.0.3
info: { title: Pets, version: "1" }
servers: [{ url: "http://pets.internal/v1" }]
paths:
  /pets/{petId}:
    get:
      operationId: getPet
      summary: One pet
      parameters:
        - { name: petId, in: path, required: true, schema: { type: integer } }
        - { name: status, in: query, schema: { type: integer } }
        - { name: tags, in: query, schema: { type: array, items: { type: string } } }
        - { name: X-Trace, in: header, schema: { type: string } }
  /pets:
    post:
      summary: Add a pet
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: '#/components/schemas/Pet' }
components:
  schemas:
    Pet: { type: object, required: [name], properties: { name: { type: string }, tag: { type: string } } }
`;

let h, echo, key;
before(async () => {
  const echoPort = await freePort();
  echo = spawn(process.execPath, [path.join(ROOT, 'tests/upstreams/echo.mjs'), '--port', String(echoPort)], { stdio: 'ignore' });
  h = await startMcp({
    config: ({ fixture, node, dir }) => {
      fs.writeFileSync(path.join(dir, 'pets.yaml'), OPENAPI);
      const seed = (...a) => execFileSync(SEED, [path.join(dir, 'data'), ...a], { encoding: 'utf8' }).trim();
      seed('team', 'acme'); seed('consumer', 'app', 'acme'); seed('service', 'pets', 'acme');
      key = seed('key', 'app');
      seed('subscribe', 'app', 'pets', 'active');
      return `data_dir: ${path.join(dir, 'data')}
services:
  - { name: pets, targets: ["http://127.0.0.1:${echoPort}"] }
routes:
  - { name: pets-open, match: { path_prefix: /open }, service: pets, rewrite_prefix: /v1 }
  - { name: pets-keyed, match: { path_prefix: /keyed }, service: pets, rewrite_prefix: /v1, auth: key }
mcp:
  diagnose_deadline: 1500ms
  servers:
    - { name: alpha, command: "${node}", args: ["${fixture}", stdio, alpha] }
  apis:
    - { route: pets-open, openapi: pets.yaml, name: pets }
    - { route: pets-keyed, openapi: pets.yaml, name: keyed }
`;
    },
  });
  await h.waitReady(['alpha']);
});
after(async () => {
  if (h) await h.stop();
  if (echo) await stopProc(echo);
});

test('tools/list: one tool per operation beside the servers\' tools, parameters and body in the inputSchema', async () => {
  const { client } = await connect(`${h.url}/mcp`);
  const tools = await allTools(client);
  const names = tools.map((t) => t.name);
  for (const n of ['diagnose_connection', 'pets__getPet', 'pets__post_pets', 'keyed__getPet', 'alpha__whoami'])
    assert.ok(names.includes(n), `${n} in ${names}`);
  const get = tools.find((t) => t.name === 'pets__getPet').inputSchema;
  assert.deepEqual(get.required, ['petId']);
  assert.equal(get.properties.petId.type, 'integer');
  assert.equal(get.properties.tags.type, 'array');
  assert.equal(get.additionalProperties, false);
  const post = tools.find((t) => t.name === 'pets__post_pets');
  assert.deepEqual(post.inputSchema.required, ['body']);
  assert.deepEqual(post.inputSchema.properties.body.required, ['name'], 'the $ref is resolved');
  assert.match(post.description, /Add a pet \(POST \/open\/pets\)/);
  await client.close();
});

test('a call goes through the route: path, query and header parameters where the operation puts them', async () => {
  const { client } = await connect(`${h.url}/mcp`);
  const r = await client.callTool({ name: 'pets__getPet', arguments: { petId: 7, tags: ['a b', 'c'], 'X-Trace': 't-1' } });
  assert.equal(r.isError, false);
  const seen = r.structuredContent;
  assert.equal(seen.path, '/v1/pets/7', 'rewritten by the route as any client request');
  assert.equal(seen.query, 'tags=a%20b&tags=c');
  assert.ok(seen.headers.some(([k, v]) => k === 'X-Trace' && v === 't-1'));
  assert.ok(seen.headers.some(([k]) => k === 'X-Request-Id'), 'the proxy handled it');
  assert.equal(JSON.parse(r.content[0].text).path, '/v1/pets/7');
  await client.close();
});

test('the JSON body of a POST operation', async () => {
  const { client } = await connect(`${h.url}/mcp`);
  const r = await client.callTool({ name: 'pets__post_pets', arguments: { body: { name: 'rex', tag: 'dog' } } });
  assert.equal(r.structuredContent.method, 'POST');
  assert.deepEqual(JSON.parse(r.structuredContent.body), { name: 'rex', tag: 'dog' });
  assert.ok(r.structuredContent.headers.some(([k, v]) => k === 'Content-Type' && v === 'application/json'));
  await client.close();
});

test('an upstream error status is an isError result that says the status', async () => {
  const { client } = await connect(`${h.url}/mcp`);
  const r = await client.callTool({ name: 'pets__getPet', arguments: { petId: 1, status: 503 } });
  assert.equal(r.isError, true);
  assert.match(r.content[0].text, /^HTTP 503: /);
  await client.close();
});

test('bad arguments are -32602: a missing path parameter, an unknown argument, an object in a query', async () => {
  const { client } = await connect(`${h.url}/mcp`);
  for (const args of [{}, { petId: 1, color: 'red' }, { petId: 1, status: { a: 1 } }])
    await assert.rejects(client.callTool({ name: 'pets__getPet', arguments: args }), (e) => e.code === -32602);
  await client.close();
});

test('a keyed route: the caller\'s key is carried and checked by the route', async () => {
  const anon = (await connect(`${h.url}/mcp`)).client;
  const refused = await anon.callTool({ name: 'keyed__getPet', arguments: { petId: 2 } });
  assert.equal(refused.isError, true);
  assert.match(refused.content[0].text, /^HTTP 401: /);
  await anon.close();
  const { client } = await connect(`${h.url}/mcp`, { Authorization: `Bearer ${key}` });
  const r = await client.callTool({ name: 'keyed__getPet', arguments: { petId: 2 } });
  assert.equal(r.isError, false);
  assert.equal(r.structuredContent.path, '/v1/pets/2');
  assert.ok(!r.structuredContent.headers.some(([k]) => k.toLowerCase() === 'authorization'), 'the key is not sent upstream');
  await client.close();
});

test('diagnose_connection: the doctor\'s report as structuredContent and text; bad arguments -32602', async () => {
  const { client } = await connect(`${h.url}/mcp`);
  const port = new URL(h.url).port;
  const r = await client.callTool({ name: 'diagnose_connection', arguments: { target: `127.0.0.1:${port}`, timeout_ms: 1000 } });
  assert.equal(r.isError, false);
  assert.equal(r.structuredContent.verdict, 'healthy');
  assert.ok(r.structuredContent.checks.length > 3);
  assert.match(r.content[0].text, new RegExp(`127.0.0.1:${port}: healthy`));
  const closed = await freePort();
  const down = await client.callTool({ name: 'diagnose_connection', arguments: { target: `127.0.0.1:${closed}`, timeout_ms: 300 } });
  assert.equal(down.structuredContent.verdict, 'failure');
  assert.ok(down.structuredContent.root_cause.summary);
  for (const args of [{}, { target: 7 }, { target: 'x:1', timeout_ms: 5 }, { target: 'x:1', depth: 2 }, { target: 'a:b:c:d' }])
    await assert.rejects(client.callTool({ name: 'diagnose_connection', arguments: args }), (e) => e.code === -32602, JSON.stringify(args));
  await client.close();
});

test('diagnose_connection answers by mcp.diagnose_deadline when the doctor takes longer', async () => {
  // A server that accepts and never says a word: each probe waits its whole timeout_ms, so the
  // doctor takes a few times 3 s, longer than the 1.5 s deadline.
  const held = [];
  const silent = net.createServer((s) => held.push(s));
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  const { client } = await connect(`${h.url}/mcp`);
  try {
    const target = `mcp+http://127.0.0.1:${silent.address().port}/mcp`;
    const r = await client.callTool({ name: 'diagnose_connection', arguments: { target, timeout_ms: 3000 } });
    assert.equal(r.isError, true);
    assert.equal(r.content[0].text, `the diagnosis of '${target}' did not finish within 1500 ms (mcp.diagnose_deadline)`);
    const port = new URL(h.url).port; // the gateway goes on answering, the doctor's thread still running
    const ok = await client.callTool({ name: 'diagnose_connection', arguments: { target: `127.0.0.1:${port}`, timeout_ms: 1000 } });
    assert.equal(ok.structuredContent.verdict, 'healthy');
  } finally {
    await client.close();
    for (const s of held) s.destroy();
    silent.close();
  }
});
