// modern.mjs: an MCP server of the stateless 2026-07-28 revision, written by hand on the wire
// format (the installed SDK does not know that revision), for the gateway's tests of such
// upstreams.
//   node modern.mjs stdio NAME [RECORD]      over stdio
//   node modern.mjs http NAME PORT [RECORD]  Streamable HTTP at /mcp on 127.0.0.1; prints "listening PORT"
// RECORD, when given, is a file that gets one JSON line per message received:
// {"method","id","meta","headers","requestId"} (headers: HTTP only, the MCP ones; requestId: a
// cancel's).
// As a real modern server it answers server/discover, refuses a request without _meta or
// without its protocol version or client capabilities (-32602), a version it does not speak
// (-32022), initialize (-32022, naming its version), and over HTTP a request whose headers do
// not mirror its body (MCP-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Param-*: -32020);
// GET and DELETE are 405, an unknown method -32601 (HTTP 404). Every result has resultType.
// Tools (two to a page of tools/list; each answer starts with NAME):
//   whoami              "NAME"
//   echo {text}         "NAME: <text>"
//   fail                a result with isError
//   boom                a JSON-RPC error (-32603)
//   progress {steps}    steps notifications/progress under the request's token, then "NAME: done"
//   log                 a notifications/message at the request's log level, if it has one
//   slow                one progress notification, then runs until cancelled (closing the
//                       answer's stream over HTTP, notifications/cancelled over stdio)
//   cancelled           how many calls were cancelled so far
//   region {region, q}  region goes in the header Mcp-Param-Region (x-mcp-header)
//   ask                 an input_required result (an elicitation; -32021 without the capability),
//                       then, sent again with inputResponses, "NAME: <action> <content>"
//   grow                adds the tool "grown" and tells every subscriptions/listen stream
//   last {method}       the record of the newest request of that method before this call
//   die                 the process exits with status 3 (over HTTP: the server closes)
// Resources: modern://readme (text); prompts: greet {who}.
import http from 'node:http';
import fs from 'node:fs';
import readline from 'node:readline';

const VERSION = '2026-07-28';
const mode = process.argv[2] || 'stdio';
const name = process.argv[3] || 'modern';
const port = mode === 'http' ? Number(process.argv[4] || 0) : 0;
const record = mode === 'http' ? process.argv[5] : process.argv[4];
const K = (k) => `io.modelcontextprotocol/${k}`;

const obj = (props = {}, req = []) => ({ type: 'object', properties: props, required: req });
const str = { type: 'string' };
const tools = [
    { name: 'whoami', description: 'Says which server answers', inputSchema: obj() },
    { name: 'echo', description: 'Echoes text', inputSchema: obj({ text: str }, ['text']) },
    { name: 'fail', description: 'A tool error', inputSchema: obj() },
    { name: 'boom', description: 'A protocol error', inputSchema: obj() },
    { name: 'progress', description: 'Reports progress', inputSchema: obj({ steps: { type: 'integer' } }) },
    { name: 'log', description: 'Logs a message', inputSchema: obj() },
    { name: 'slow', description: 'Runs until cancelled', inputSchema: obj() },
    { name: 'cancelled', description: 'Counts cancels', inputSchema: obj() },
    { name: 'region', description: 'A header argument',
      inputSchema: obj({ region: { type: 'string', 'x-mcp-header': 'Region' }, q: str }, ['region']) },
    { name: 'ask', description: 'Needs input', inputSchema: obj() },
    { name: 'grow', description: 'Adds a tool', inputSchema: obj() },
    { name: 'last', description: 'What the server received', inputSchema: obj({ method: str }, ['method']) },
    { name: 'die', description: 'Exits', inputSchema: obj() },
];
const received = [];
let cancels = 0;
const listeners = new Map(); // subscription id -> send(notification)

const result = (r) => ({ resultType: 'complete', ...r });
const text = (t) => result({ content: [{ type: 'text', text: t }] });
class RpcError extends Error {
    constructor(code, message, status, data) { super(message); this.code = code; this.status = status; this.data = data; }
}
const err = (id, e) => ({ jsonrpc: '2.0', id: id ?? null,
    error: { code: e.code ?? -32603, message: e.message, ...(e.data ? { data: e.data } : {}) } });

function remember(msg, headers) {
    const meta = msg.params?._meta;
    const r = { method: msg.method, id: msg.id, meta, headers, requestId: msg.params?.requestId };
    received.push(r);
    if (received.length > 200) received.shift();
    if (record) fs.appendFileSync(record, JSON.stringify(r) + '\n');
}

// What every request of this revision must carry.
function checkMeta(msg) {
    if (msg.method === 'initialize')
        throw new RpcError(-32022, `this server speaks only ${VERSION}`, 400,
            { supported: [VERSION], requested: msg.params?.protocolVersion });
    const meta = msg.params?._meta;
    if (!meta || typeof meta !== 'object') throw new RpcError(-32602, 'the request has no _meta', 400);
    const v = meta[K('protocolVersion')];
    if (typeof v !== 'string') throw new RpcError(-32602, `_meta lacks ${K('protocolVersion')}`, 400);
    if (typeof meta[K('clientCapabilities')] !== 'object') throw new RpcError(-32602, `_meta lacks ${K('clientCapabilities')}`, 400);
    if (v !== VERSION) throw new RpcError(-32022, `unsupported protocol version ${v}`, 400, { supported: [VERSION], requested: v });
}

const decode = (v) => {
    const m = /^=\?base64\?(.*)\?=$/.exec(v ?? '');
    return m ? Buffer.from(m[1], 'base64').toString('utf8') : v;
};
const mismatch = (what) => { throw new RpcError(-32020, `header mismatch: ${what}`, 400); };

// The HTTP headers must mirror the body.
function checkHeaders(msg, h) {
    if (h['mcp-protocol-version'] !== msg.params._meta[K('protocolVersion')]) mismatch('MCP-Protocol-Version');
    if (h['mcp-method'] !== msg.method) mismatch('Mcp-Method');
    const named = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' }[msg.method];
    if (named && decode(h['mcp-name']) !== msg.params[named]) mismatch('Mcp-Name');
    const tool = msg.method === 'tools/call' && tools.find((t) => t.name === msg.params.name);
    for (const [arg, s] of Object.entries(tool ? tool.inputSchema.properties : {})) {
        const want = msg.params.arguments?.[arg];
        if (s['x-mcp-header'] && want !== undefined && decode(h[`mcp-param-${s['x-mcp-header'].toLowerCase()}`]) !== String(want))
            mismatch(`Mcp-Param-${s['x-mcp-header']}`);
    }
}

const PAGE = 2;
const resources = [{ uri: 'modern://readme', name: 'readme', mimeType: 'text/plain' }];
const prompts = [{ name: 'greet', description: 'Greets', arguments: [{ name: 'who', required: true }] }];

// One request: its result, or a thrown RpcError. ctx.notify sends a notification about it;
// ctx.cancelled is a promise that settles when the client cancels it.
async function handle(msg, ctx) {
    const p = msg.params ?? {};
    const meta = p._meta ?? {};
    switch (msg.method) {
    case 'server/discover':
        return result({ supportedVersions: [VERSION],
            capabilities: { tools: { listChanged: true }, prompts: { listChanged: true },
                            resources: { listChanged: true }, logging: {} },
            instructions: `the ${name} test server`, ttlMs: 0, cacheScope: 'public',
            _meta: { [K('serverInfo')]: { name: `modern-${name}`, version: '1.0.0' } } });
    case 'tools/list': {
        const start = p.cursor ? Number(p.cursor) : 0;
        if (!Number.isInteger(start) || start < 0 || start > tools.length) throw new RpcError(-32602, 'bad cursor', 400);
        const next = start + PAGE < tools.length ? String(start + PAGE) : undefined;
        return result({ tools: tools.slice(start, start + PAGE), ttlMs: 0, cacheScope: 'public',
                        ...(next ? { nextCursor: next } : {}) });
    }
    case 'tools/call': return callTool(p, meta, ctx);
    case 'resources/list': return result({ resources, ttlMs: 0, cacheScope: 'public' });
    case 'resources/templates/list': return result({ resourceTemplates: [], ttlMs: 0, cacheScope: 'public' });
    case 'resources/read':
        if (p.uri !== 'modern://readme') throw new RpcError(-32602, `no resource ${p.uri}`);
        return result({ contents: [{ uri: p.uri, mimeType: 'text/plain', text: `${name} readme` }] });
    case 'prompts/list': return result({ prompts, ttlMs: 0, cacheScope: 'public' });
    case 'prompts/get':
        if (p.name !== 'greet') throw new RpcError(-32602, `no prompt ${p.name}`);
        return result({ messages: [{ role: 'user', content: { type: 'text', text: `${name} greets ${p.arguments?.who}` } }] });
    default:
        throw new RpcError(-32601, `method not found: ${msg.method}`, 404);
    }
}

async function callTool(p, meta, ctx) {
    const a = p.arguments ?? {};
    const token = meta.progressToken;
    switch (p.name) {
    case 'whoami': return text(name);
    case 'echo': return text(`${name}: ${a.text}`);
    case 'fail': return result({ content: [{ type: 'text', text: `${name}: it failed` }], isError: true });
    case 'boom': throw new RpcError(-32603, `${name}: boom`);
    case 'progress':
        for (let i = 1; i <= (a.steps ?? 3); i++)
            if (token !== undefined) ctx.notify('notifications/progress', { progressToken: token, progress: i, total: a.steps ?? 3 });
        return text(`${name}: done`);
    case 'log':
        if (meta[K('logLevel')]) ctx.notify('notifications/message', { level: 'info', logger: name, data: `${name} logs` });
        return text(`${name}: logged at ${meta[K('logLevel')] ?? 'no level'}`);
    case 'slow':
        if (token !== undefined) ctx.notify('notifications/progress', { progressToken: token, progress: 0, message: 'running' });
        await ctx.cancelled;
        cancels++;
        return null;
    case 'cancelled': return text(`${name}: ${cancels}`);
    case 'region': return text(`${name}: ${a.region}`);
    case 'ask': {
        // A multi round-trip request: asks the client to confirm, then answers with what it said.
        const said = p.inputResponses?.confirm;
        if (said) {
            if (p.requestState !== 'opaque') throw new RpcError(-32602, 'requestState was not echoed');
            return text(`${name}: ${said.action} ${JSON.stringify(said.content ?? null)}`);
        }
        if (!meta[K('clientCapabilities')]?.elicitation)
            throw new RpcError(-32021, 'this tool needs the elicitation capability', 400,
                { requiredCapabilities: { elicitation: {} } });
        return { resultType: 'input_required', requestState: 'opaque',
                 inputRequests: { confirm: { method: 'elicitation/create',
                     params: { mode: 'form', message: 'Go on?', requestedSchema: obj({ ok: { type: 'boolean' } }) } } } };
    }
    case 'grow':
        if (!tools.some((t) => t.name === 'grown')) tools.push({ name: 'grown', description: 'Grown', inputSchema: obj() });
        for (const send of listeners.values()) send('notifications/tools/list_changed', {});
        return text(`${name}: grown`);
    case 'last': {
        const r = received.slice(0, -1).reverse().find((x) => x.method === a.method);
        return result({ content: [{ type: 'text', text: JSON.stringify(r ?? null) }], structuredContent: { record: r ?? null } });
    }
    case 'die':
        setImmediate(() => process.exit(3));
        return text(`${name}: dying`);
    default: throw new RpcError(-32602, `unknown tool ${p.name}`);
    }
}

// subscriptions/listen: acknowledges what it honors, then sends list changes until closed.
function listen(msg, write) {
    const id = msg.id;
    const want = msg.params?.notifications ?? {};
    const honored = {};
    for (const k of ['toolsListChanged', 'promptsListChanged', 'resourcesListChanged']) if (want[k]) honored[k] = true;
    const send = (method, params) => write({ jsonrpc: '2.0', method,
        params: { ...params, _meta: { [K('subscriptionId')]: id } } });
    send('notifications/subscriptions/acknowledged', { notifications: honored });
    if (honored.toolsListChanged) listeners.set(id, (m, p) => m === 'notifications/tools/list_changed' && send(m, p));
    return () => listeners.delete(id);
}

const MCP_HEADERS = /^(mcp-|accept$|content-type$)/;

function serveHttp() {
    const server = http.createServer(async (req, res) => {
        if (req.url !== '/mcp') { res.writeHead(404).end(); return; }
        if (req.method !== 'POST') { res.writeHead(405, { Allow: 'POST' }).end(); return; }
        const body = await new Promise((resolve) => {
            const chunks = [];
            req.on('data', (c) => chunks.push(c));
            req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        });
        let msg;
        try { msg = JSON.parse(body); } catch {
            res.writeHead(400, { 'Content-Type': 'application/json' }).end(JSON.stringify(err(null, { code: -32700, message: 'not JSON' })));
            return;
        }
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => MCP_HEADERS.test(k)));
        remember(msg, headers);
        const json = (status, m) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(m));
        if (msg.id === undefined) { res.writeHead(202).end(); return; }
        try {
            checkMeta(msg);
            checkHeaders(msg, req.headers);
        } catch (e) { json(e.status ?? 400, err(msg.id, e)); return; }
        let stream = false;
        const sse = (m) => {
            if (!stream) {
                res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' });
                stream = true;
            }
            res.write(`event: message\ndata: ${JSON.stringify(m)}\n\n`);
        };
        let onCancel;
        const cancelled = new Promise((resolve) => { onCancel = resolve; });
        res.on('close', () => { if (!res.writableFinished) onCancel(); });
        if (msg.method === 'subscriptions/listen') {
            const stop = listen(msg, sse);
            res.on('close', stop);
            return;
        }
        try {
            const r = await handle(msg, { notify: (method, params) => sse({ jsonrpc: '2.0', method, params }), cancelled });
            if (r === null) return; // cancelled: the stream is closed already
            const answer = { jsonrpc: '2.0', id: msg.id, result: r };
            if (stream) { sse(answer); res.end(); } else json(200, answer);
        } catch (e) {
            if (stream) { sse(err(msg.id, e)); res.end(); } else json(e.status ?? 200, err(msg.id, e));
        }
    });
    server.listen(port, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
}

function serveStdio() {
    const write = (m) => process.stdout.write(JSON.stringify(m) + '\n');
    const inflight = new Map(); // request id -> cancel()
    const rl = readline.createInterface({ input: process.stdin });
    rl.on('close', () => process.exit(0));
    rl.on('line', async (line) => {
        let msg;
        try { msg = JSON.parse(line); } catch { write(err(null, { code: -32700, message: 'not JSON' })); return; }
        remember(msg);
        if (msg.method === 'notifications/cancelled') {
            inflight.get(msg.params?.requestId)?.();
            return;
        }
        if (msg.id === undefined || msg.method === undefined) return;
        try { checkMeta(msg); } catch (e) { write(err(msg.id, e)); return; }
        let onCancel;
        const cancelled = new Promise((resolve) => { onCancel = resolve; });
        if (msg.method === 'subscriptions/listen') {
            const stop = listen(msg, write);
            inflight.set(msg.id, stop);
            return;
        }
        inflight.set(msg.id, onCancel);
        try {
            const r = await handle(msg, { notify: (method, params) => write({ jsonrpc: '2.0', method, params }), cancelled });
            if (r !== null) write({ jsonrpc: '2.0', id: msg.id, result: r });
        } catch (e) { write(err(msg.id, e)); } finally { inflight.delete(msg.id); }
    });
}

if (mode === 'http') serveHttp();
else serveStdio();
