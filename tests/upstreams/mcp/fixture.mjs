// fixture.mjs: an MCP server for the gateway's tests, built on the official SDK.
//   node fixture.mjs stdio NAME          over stdio
//   node fixture.mjs http NAME PORT      Streamable HTTP at /mcp on 127.0.0.1 (sessions); prints "listening PORT"
// Tools (listed FIXTURE_PAGE at a time, default 2, so clients must follow nextCursor):
//   whoami   the server's NAME          echo {text}   the text back        add {a,b}   the sum
//   crash    exits the process mid-call (stdio) or destroys the connection (http)
//   noise    writes a line that is not JSON-RPC to stdout, then answers "quiet" (stdio)
//   slow {ms}  answers after ms
//   shared   present on every fixture (a collision when servers are unprefixed)
//   a_tool_name_long_enough_to_pass_sixty_four_characters_prefixed   (too long once prefixed)
//   pid      the process id (tells a kept child from a new one)
// Prompts: greet {who} (its text names the server), shared_prompt. Resources: fixture://NAME/info
// (its text is NAME) and fixture://shared (on every fixture).
// On start a stdio fixture writes a banner line to stdout (not JSON-RPC) and one to stderr.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { readJson } from './read_json.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../node/package.json'));
const { Server } = require('@modelcontextprotocol/sdk/server/index.js');
const { StdioServerTransport } = require('@modelcontextprotocol/sdk/server/stdio.js');
const { StreamableHTTPServerTransport } = require('@modelcontextprotocol/sdk/server/streamableHttp.js');
const { ListToolsRequestSchema, CallToolRequestSchema, ListPromptsRequestSchema, GetPromptRequestSchema,
    ListResourcesRequestSchema, ReadResourceRequestSchema, McpError, ErrorCode, isInitializeRequest } =
    require('@modelcontextprotocol/sdk/types.js');

const mode = process.argv[2] || 'stdio';
const name = process.argv[3] || 'fixture';
const port = Number(process.argv[4] || 0);
const page = Number(process.env.FIXTURE_PAGE || 2);

const obj = (props = {}) => ({ type: 'object', properties: props });
const tools = [
    { name: 'whoami', description: 'the server name', inputSchema: obj() },
    { name: 'echo', description: 'the text back', inputSchema: obj({ text: { type: 'string' } }) },
    { name: 'add', description: 'a + b', inputSchema: obj({ a: { type: 'number' }, b: { type: 'number' } }) },
    { name: 'crash', description: 'dies mid-call', inputSchema: obj() },
    { name: 'noise', description: 'pollutes stdout', inputSchema: obj() },
    { name: 'slow', description: 'answers after ms', inputSchema: obj({ ms: { type: 'number' } }) },
    { name: 'shared', description: 'on every fixture', inputSchema: obj() },
    { name: 'a_tool_name_long_enough_to_pass_sixty_four_characters_prefixed', description: 'long', inputSchema: obj() },
    { name: 'pid', description: 'the process id', inputSchema: obj() },
];
const text = (t) => ({ content: [{ type: 'text', text: String(t) }] });

function makeServer() {
    const s = new Server({ name: `fixture-${name}`, version: '1.0.0' },
        { capabilities: { tools: {}, prompts: {}, resources: {} } });
    s.setRequestHandler(ListPromptsRequestSchema, async () => ({ prompts: [
        { name: 'greet', description: 'a greeting', arguments: [{ name: 'who', required: true }] },
        { name: 'shared_prompt', description: 'on every fixture' }] }));
    s.setRequestHandler(GetPromptRequestSchema, async (req) => {
        if (!['greet', 'shared_prompt'].includes(req.params.name))
            throw new McpError(ErrorCode.InvalidParams, `Prompt ${req.params.name} not found`);
        const who = req.params.arguments?.who ?? 'you';
        return { messages: [{ role: 'user', content: { type: 'text', text: `hello ${who} from ${name}` } }] };
    });
    const uris = [`fixture://${name}/info`, 'fixture://shared'];
    s.setRequestHandler(ListResourcesRequestSchema, async () => ({
        resources: uris.map((uri) => ({ uri, name: uri, mimeType: 'text/plain' })) }));
    s.setRequestHandler(ReadResourceRequestSchema, async (req) => {
        if (!uris.includes(req.params.uri)) throw new McpError(-32002, `Resource ${req.params.uri} not found`);
        return { contents: [{ uri: req.params.uri, mimeType: 'text/plain', text: name }] };
    });
    s.setRequestHandler(ListToolsRequestSchema, async (req) => {
        const start = req.params?.cursor ? Number(req.params.cursor) : 0;
        if (!Number.isInteger(start) || start < 0 || start > tools.length)
            throw new McpError(ErrorCode.InvalidParams, 'bad cursor');
        const end = Math.min(start + page, tools.length);
        return end < tools.length ? { tools: tools.slice(start, end), nextCursor: String(end) }
                                  : { tools: tools.slice(start, end) };
    });
    s.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
        const a = req.params.arguments || {};
        switch (req.params.name) {
        case 'whoami': return text(name);
        case 'pid': return text(process.pid);
        case 'echo': return text(a.text);
        case 'add': return text(Number(a.a) + Number(a.b));
        case 'shared': return text(`shared from ${name}`);
        case 'a_tool_name_long_enough_to_pass_sixty_four_characters_prefixed': return text('long');
        case 'slow': await new Promise((r) => setTimeout(r, Number(a.ms) || 0)); return text('slow done');
        case 'noise':
            if (mode === 'stdio') process.stdout.write('this line is not JSON-RPC\n');
            return text('quiet');
        case 'crash':
            if (mode === 'stdio') process.exit(3);
            extra.requestInfo?.socket?.destroy?.();
            throw new McpError(ErrorCode.InternalError, 'crashed');
        default: throw new McpError(ErrorCode.InvalidParams, `Tool ${req.params.name} not found`);
        }
    });
    return s;
}

if (mode === 'stdio') {
    process.stdout.write(`fixture ${name} starting (a banner that is not JSON-RPC)\n`);
    process.stderr.write(`fixture ${name}: stderr works\n`);
    await makeServer().connect(new StdioServerTransport());
} else {
    const sessions = {};
    const fail = (res, status, message) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
    };
    const srv = http.createServer(async (req, res) => {
        if (!req.url.startsWith('/mcp')) return fail(res, 404, 'not found');
        const sid = req.headers['mcp-session-id'];
        let t = sid ? sessions[sid] : undefined;
        if (req.method === 'POST') {
            const body = await readJson(req);
            if (!t) {
                if (sid) return fail(res, 404, 'Session not found');
                if (!isInitializeRequest(body)) return fail(res, 400, 'Bad Request: No valid session ID provided');
                t = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(),
                    onsessioninitialized: (id) => { sessions[id] = t; } });
                t.onclose = () => { if (t.sessionId) delete sessions[t.sessionId]; };
                await makeServer().connect(t);
            }
            return t.handleRequest(req, res, body);
        }
        if (!t) return fail(res, sid ? 404 : 400, 'no session');
        return t.handleRequest(req, res);
    });
    srv.listen(port, '127.0.0.1', () => console.log(`listening ${srv.address().port}`));
}
