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
// and the fixture contract of the official conformance suite (contract.mjs: its tools, resources,
// prompts and completions). Over HTTP it keeps each session's events, so a client can resume a
// stream with Last-Event-ID, and it refuses a Host or Origin that is not loopback.
// With RELAY_RECORD=FILE in its environment it appends a line "INSTANCE METHOD URI" to FILE for
// each resources/subscribe and resources/unsubscribe it gets, INSTANCE naming the process and
// its session ("NAME.PID.N"), so a test sees which of the gateway's sessions asked what.
import http from 'node:http';
import { appendFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { readJson } from './read_json.mjs';
import * as contract from './contract.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../node/package.json'));
const { Server } = require('@modelcontextprotocol/sdk/server/index.js');
const { StdioServerTransport } = require('@modelcontextprotocol/sdk/server/stdio.js');
const { StreamableHTTPServerTransport } = require('@modelcontextprotocol/sdk/server/streamableHttp.js');
const { SSEServerTransport } = require('@modelcontextprotocol/sdk/server/sse.js');
const { ListToolsRequestSchema, CallToolRequestSchema, CreateMessageResultSchema, ElicitResultSchema,
    ListRootsResultSchema, isInitializeRequest, ListResourcesRequestSchema, ListResourceTemplatesRequestSchema,
    ReadResourceRequestSchema, SubscribeRequestSchema, UnsubscribeRequestSchema, ListPromptsRequestSchema,
    GetPromptRequestSchema, CompleteRequestSchema } = require('@modelcontextprotocol/sdk/types.js');

const mode = process.argv[2] || 'stdio';
const name = process.argv[3] || 'relay';
const port = Number(process.argv[4] || 0);
const obj = (props = {}) => ({ type: 'object', properties: props });
const text = (t) => ({ content: [{ type: 'text', text: `${name}: ${t}` }] });
const tools = ['sample', 'elicit', 'roots', 'progress', 'wait', 'cancelled', 'grow']
    .map((t) => ({ name: t, description: t, inputSchema: obj() }));
let cancelled = 0;
const servers = new Set();
let sessions = 0;

// Records what a session was asked about a resource (RELAY_RECORD), then does it.
const recorded = (instance, method, act) => (req) => {
    if (process.env.RELAY_RECORD) appendFileSync(process.env.RELAY_RECORD, `${instance} ${method} ${req.params.uri}\n`);
    return act(req);
};

function makeServer() {
    const instance = `${name}.${process.pid}.${++sessions}`;
    const s = new Server({ name: `relay-${name}`, version: '1.0.0' }, { capabilities: { tools: { listChanged: true }, logging: {},
        resources: { subscribe: true, listChanged: true }, prompts: { listChanged: true }, completions: {} } });
    servers.add(s);
    s.onclose = () => { servers.delete(s); contract.forget(s); };
    s.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [...tools, ...contract.contractTools()] }));
    s.setRequestHandler(ListResourcesRequestSchema, async () => contract.listResources());
    s.setRequestHandler(ListResourceTemplatesRequestSchema, async () => contract.listResourceTemplates());
    s.setRequestHandler(ReadResourceRequestSchema, async (req) => contract.readResource(req));
    s.setRequestHandler(SubscribeRequestSchema, recorded(instance, 'subscribe', async (req) => contract.subscribe(s, req)));
    s.setRequestHandler(UnsubscribeRequestSchema, recorded(instance, 'unsubscribe', async (req) => contract.unsubscribe(s, req)));
    s.setRequestHandler(ListPromptsRequestSchema, async () => contract.listPrompts());
    s.setRequestHandler(GetPromptRequestSchema, async (req, extra) => contract.getPrompt(req, extra));
    s.setRequestHandler(CompleteRequestSchema, async (req) => contract.complete(req));
    s.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
        const a = req.params.arguments || {};
        const answer = contract.callContractTool(req, extra, servers);
        if (answer) return answer;
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

// EventLog: a session's SSE events, kept so that a client can resume a stream after the server
// closed it (Last-Event-ID). Event ids are "<stream>_<n>", so the stream is read off the id.
class EventLog {
    constructor() { this.events = []; }
    async storeEvent(streamId, message) {
        const eventId = `${streamId}_${this.events.length}`;
        this.events.push({ eventId, streamId, message });
        return eventId;
    }
    async getStreamIdForEventId(eventId) {
        return this.events.find((e) => e.eventId === eventId)?.streamId;
    }
    async replayEventsAfter(lastEventId, { send }) {
        const at = this.events.findIndex((e) => e.eventId === lastEventId);
        if (at < 0) return '';
        const { streamId } = this.events[at];
        for (const e of this.events.slice(at + 1))
            if (e.streamId === streamId && Object.keys(e.message).length) await send(e.eventId, e.message);
        return streamId;
    }
}

// loopback(req): the Host, and the Origin when there is one, name this machine (the MCP
// transport's protection against DNS rebinding).
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const hostOf = (h) => { try { return new URL(`http://${h}`).hostname; } catch { return ''; } };
const loopback = (req) => LOOPBACK.has(hostOf(req.headers.host ?? ''))
    && (req.headers.origin === undefined || LOOPBACK.has(hostOf(req.headers.origin.replace(/^[a-z]+:\/\//i, ''))));

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
        if (!loopback(req)) {
            res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null,
                error: { code: -32000, message: 'Forbidden: the Host or Origin is not a loopback address' } }));
            return;
        }
        const sid = req.headers['mcp-session-id'];
        let t = sid ? sessions[sid] : undefined;
        const body = req.method === 'POST' ? await readJson(req) : undefined;
        if (!t) {
            if (req.method !== 'POST' || sid || !isInitializeRequest(body)) {
                res.writeHead(sid ? 404 : 400).end();
                return;
            }
            t = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(),
                eventStore: new EventLog(), retryInterval: 100, onsessioninitialized: (id) => { sessions[id] = t; } });
            t.onclose = () => { delete sessions[t.sessionId]; };
            await makeServer().connect(t);
        }
        return t.handleRequest(req, res, body);
    });
    srv.listen(port, '127.0.0.1', () => console.log(`listening ${srv.address().port}`));
}
