// relay.mjs: an MCP server, built on the official SDK, whose tools ask the client things, for
// the gateway's tests of server-to-client messages.
//   node relay.mjs stdio NAME          over stdio
//   node relay.mjs http NAME PORT      Streamable HTTP at /mcp on 127.0.0.1; prints "listening PORT"
//   node relay.mjs sse NAME PORT       the 2024-11-05 HTTP+SSE transport: GET /sse, POST /messages
// Tools (each answer starts with NAME, so a test sees whose answer it got):
//   sample {text}   sampling/createMessage with text; answers "NAME: <the model's text>"
//   elicit          elicitation/create; answers "NAME: <the action>"
//   roots           roots/list; answers "NAME: <uri,uri>"
//   progress {steps} sends steps notifications/progress under the caller's token; answers "NAME: done"
//   wait            sends one progress notification ("running"), then runs until cancelled
//                   (notifications/cancelled) and counts it
//   cancelled       how many calls were cancelled so far
//   grow            adds the tool "grown" and sends notifications/tools/list_changed
// and the tools of the official conformance suite's fixture contract (test_simple_text,
// test_image_content, test_audio_content, test_embedded_resource, test_multiple_content_types,
// test_tool_with_logging, test_error_handling, test_tool_with_progress, test_sampling,
// test_elicitation), answering as the suite's scenarios describe.
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
const { SSEServerTransport } = require('@modelcontextprotocol/sdk/server/sse.js');
const { ListToolsRequestSchema, CallToolRequestSchema, CreateMessageResultSchema, ElicitResultSchema,
    ListRootsResultSchema, isInitializeRequest } = require('@modelcontextprotocol/sdk/types.js');

const mode = process.argv[2] || 'stdio';
const name = process.argv[3] || 'relay';
const port = Number(process.argv[4] || 0);
const obj = (props = {}) => ({ type: 'object', properties: props });
const text = (t) => ({ content: [{ type: 'text', text: `${name}: ${t}` }] });
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const WAV = 'UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA=';
const plain = (t) => ({ content: [{ type: 'text', text: t }] });
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
// The conformance suite's tools: what each returns, or does first with the call's extra.
const contract = {
    test_simple_text: async () => plain('This is a simple text response for testing.'),
    test_image_content: async () => ({ content: [{ type: 'image', data: PNG, mimeType: 'image/png' }] }),
    test_audio_content: async () => ({ content: [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }] }),
    test_embedded_resource: async () => ({ content: [{ type: 'resource', resource: {
        uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }] }),
    test_multiple_content_types: async () => ({ content: [
        { type: 'text', text: 'Multiple content types test:' },
        { type: 'image', data: PNG, mimeType: 'image/png' },
        { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json',
            text: '{"test":"data","value":123}' } }] }),
    test_tool_with_logging: async (a, extra) => {
        for (const [i, data] of ['Tool execution started', 'Tool processing data', 'Tool execution completed'].entries()) {
            if (i) await pause(50);
            await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data } });
        }
        return plain('Tool with logging executed');
    },
    test_error_handling: async () => ({ isError: true, content: [{ type: 'text',
        text: 'This tool intentionally returns an error for testing' }] }),
    test_tool_with_progress: async (a, extra, req) => {
        const token = req.params._meta?.progressToken;
        for (const [i, progress] of [0, 50, 100].entries()) {
            if (i) await pause(50);
            if (token !== undefined)
                await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, total: 100 } });
        }
        return plain('Tool with progress executed');
    },
    test_sampling: async (a, extra) => {
        const r = await extra.sendRequest({ method: 'sampling/createMessage', params: {
            messages: [{ role: 'user', content: { type: 'text', text: String(a.prompt) } }], maxTokens: 100 } },
        CreateMessageResultSchema);
        return plain(`LLM response: ${r.content.text}`);
    },
    test_elicitation: async (a, extra) => {
        const r = await extra.sendRequest({ method: 'elicitation/create', params: { message: String(a.message),
            requestedSchema: { type: 'object', properties: {
                username: { type: 'string', description: "User's response" },
                email: { type: 'string', description: "User's email address" } }, required: ['username', 'email'] } } },
        ElicitResultSchema);
        return plain(`User response: action: ${r.action}, content: ${JSON.stringify(r.content ?? {})}`);
    },
};
const tools = ['sample', 'elicit', 'roots', 'progress', 'wait', 'cancelled', 'grow', ...Object.keys(contract)]
    .map((t) => ({ name: t, description: t, inputSchema: obj() }));
let cancelled = 0;
const servers = new Set();

function makeServer() {
    const s = new Server({ name: `relay-${name}`, version: '1.0.0' }, { capabilities: { tools: { listChanged: true }, logging: {} } });
    servers.add(s);
    s.setRequestHandler(ListToolsRequestSchema, async () => ({ tools }));
    s.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
        const a = req.params.arguments || {};
        if (contract[req.params.name]) return contract[req.params.name](a, extra, req);
        switch (req.params.name) {
        case 'sample': {
            const r = await extra.sendRequest({ method: 'sampling/createMessage', params: {
                messages: [{ role: 'user', content: { type: 'text', text: String(a.text) } }], maxTokens: 10 } },
            CreateMessageResultSchema);
            return text(r.content.text);
        }
        case 'elicit': {
            const r = await extra.sendRequest({ method: 'elicitation/create', params: {
                message: `${name} asks`, requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } } } } },
            ElicitResultSchema);
            return text(`${r.action} ${JSON.stringify(r.content ?? {})}`);
        }
        case 'roots': {
            const r = await extra.sendRequest({ method: 'roots/list' }, ListRootsResultSchema);
            return text(r.roots.map((x) => x.uri).join(','));
        }
        case 'progress': {
            const token = req.params._meta?.progressToken;
            for (let i = 1; i <= (Number(a.steps) || 3); i++)
                await extra.sendNotification({ method: 'notifications/progress',
                    params: { progressToken: token, progress: i, total: Number(a.steps) || 3, message: name } });
            return text('done');
        }
        case 'wait':
            await extra.sendNotification({ method: 'notifications/progress',
                params: { progressToken: req.params._meta?.progressToken, progress: 0, message: 'running' } });
            await new Promise((resolve) => {
                const t = setTimeout(resolve, 20000);
                extra.signal.addEventListener('abort', () => { clearTimeout(t); cancelled++; resolve(); });
            });
            return text('waited');
        case 'cancelled': return text(String(cancelled));
        case 'grow':
            if (!tools.some((t) => t.name === 'grown')) tools.push({ name: 'grown', description: 'grown', inputSchema: obj() });
            for (const x of servers) await x.sendToolListChanged().catch(() => {});
            return text('grown');
        default: throw new Error(`Tool ${req.params.name} not found`);
        }
    });
    return s;
}

if (mode === 'stdio') {
    await makeServer().connect(new StdioServerTransport());
} else if (mode === 'sse') {
    const sessions = {};
    const srv = http.createServer(async (req, res) => {
        if (req.method === 'GET' && req.url === '/sse') {
            const t = new SSEServerTransport('/messages', res);
            sessions[t.sessionId] = t;
            res.on('close', () => { delete sessions[t.sessionId]; });
            await makeServer().connect(t);
            return;
        }
        const t = sessions[new URL(req.url, 'http://x').searchParams.get('sessionId')];
        if (req.method !== 'POST' || !t) {
            res.writeHead(404).end();
            return;
        }
        await t.handlePostMessage(req, res, await readJson(req));
    });
    srv.listen(port, '127.0.0.1', () => console.log(`listening ${srv.address().port}`));
} else {
    const sessions = {};
    const srv = http.createServer(async (req, res) => {
        const sid = req.headers['mcp-session-id'];
        let t = sid ? sessions[sid] : undefined;
        const body = req.method === 'POST' ? await readJson(req) : undefined;
        if (!t) {
            if (req.method !== 'POST' || sid || !isInitializeRequest(body)) {
                res.writeHead(sid ? 404 : 400).end();
                return;
            }
            t = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(),
                onsessioninitialized: (id) => { sessions[id] = t; } });
            await makeServer().connect(t);
        }
        return t.handleRequest(req, res, body);
    });
    srv.listen(port, '127.0.0.1', () => console.log(`listening ${srv.address().port}`));
}
