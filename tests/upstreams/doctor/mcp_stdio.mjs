// mcp_stdio.mjs: a small MCP stdio server for the doctor's lab, built on the official SDK.
//   node mcp_stdio.mjs [--noisy]
// --noisy prints a start-up banner on stdout before speaking JSON-RPC, the classic mistake that
// breaks clients (logs belong on stderr).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../node/package.json'));
const { McpServer } = require('@modelcontextprotocol/sdk/server/mcp.js');
const { StdioServerTransport } = require('@modelcontextprotocol/sdk/server/stdio.js');

if (process.argv.includes('--noisy')) console.log('Lab MCP server started on stdio');
console.error('lab stdio server: ready');
const s = new McpServer({ name: 'portico-lab-stdio', version: '1.0.0' });
s.registerTool('ping', { description: 'answers pong' }, async () => ({ content: [{ type: 'text', text: 'pong' }] }));
await s.connect(new StdioServerTransport());
