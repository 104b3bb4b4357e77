// mcp_auth.test.mjs: the official MCP SDK client against /mcp with `mcp.auth: key`: with a
// subscribed consumer key in the transport's headers it lists and calls tools; without one,
// or with a key whose consumer is not subscribed, connecting fails with the gateway's 401 / 403.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT } from './ai_harness.mjs';
import { allTools, connect, startMcp, textOf } from './mcp_harness.mjs';

const SEED = process.env.STORE_SEED || path.join(path.dirname(path.resolve(ROOT, process.env.PORTICO_BIN || 'build/portico')), 'tests/store_seed');
let h, good, stranger;

before(async () => {
  h = await startMcp({
    config: ({ fixture, node, dir }) => {
      const seed = (...a) => execFileSync(SEED, [path.join(dir, 'data'), ...a], { encoding: 'utf8' }).trim();
      seed('team', 'acme'); seed('consumer', 'app', 'acme'); seed('consumer', 'other', 'acme'); seed('service', 'mcp', 'acme');
      good = seed('key', 'app');
      stranger = seed('key', 'other');
      seed('subscribe', 'app', 'mcp', 'active');
      return `data_dir: ${path.join(dir, 'data')}
mcp:
  auth: key
  servers:
    - { name: alpha, command: "${node}", args: ["${fixture}", stdio, alpha] }
`;
    },
  });
  await h.waitReady(['alpha']);
});
after(async () => { if (h) await h.stop(); });

test('a subscribed key in the transport headers lists and calls tools', async () => {
  const { client } = await connect(`${h.url}/mcp`, { Authorization: `Bearer ${good}` });
  assert.ok((await allTools(client)).some((t) => t.name === 'alpha__whoami'));
  assert.equal(textOf(await client.callTool({ name: 'alpha__whoami', arguments: {} })), 'alpha');
  await client.close();
});

test('no key: connecting fails with 401', async () => {
  await assert.rejects(connect(`${h.url}/mcp`), (e) => /401/.test(String(e?.message ?? e)));
});

test('a key without a subscription to mcp: connecting fails with 403', async () => {
  await assert.rejects(connect(`${h.url}/mcp`, { 'x-api-key': stranger }), (e) => /403/.test(String(e?.message ?? e)));
});
