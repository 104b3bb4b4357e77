// mcp_collision.test.mjs: the official MCP SDK client against /mcp when servers are unprefixed
// (`mcp.prefix: false`): a tool name two servers share is served by the first server in the
// configuration and left out, with a log line, for the other; a prefixed server beside them
// keeps its own names.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { allTools, connect, startMcp, textOf } from './mcp_harness.mjs';

let h;
before(async () => {
  h = await startMcp({
    config: ({ fixture, node }) => `mcp:
  prefix: false
  servers:
    - { name: alpha, command: "${node}", args: ["${fixture}", stdio, alpha] }
    - { name: beta, command: "${node}", args: ["${fixture}", stdio, beta] }
    - { name: omega, command: "${node}", args: ["${fixture}", stdio, omega], prefix: true }
`,
  });
  await h.waitReady(['alpha', 'beta', 'omega']);
});
after(async () => { if (h) await h.stop(); });

test('a name two servers share is served by the first and left out for the other', async () => {
  const { client } = await connect(`${h.url}/mcp`);
  const names = (await allTools(client)).map((t) => t.name);
  assert.equal(names.filter((n) => n === 'shared').length, 1);
  assert.ok(names.includes('omega__shared'));
  assert.ok(names.includes('a_tool_name_long_enough_to_pass_sixty_four_characters_prefixed'));
  assert.equal(textOf(await client.callTool({ name: 'shared', arguments: {} })), 'shared from alpha');
  assert.equal(textOf(await client.callTool({ name: 'omega__whoami', arguments: {} })), 'omega');
  await h.waitLog(/server 'beta': tool 'shared': 'shared' collides with server 'alpha''s; left out/);
  await client.close();
});
