// mcp_http.mjs: a small MCP server over HTTP for the doctor's lab, built on the official SDK.
//   node mcp_http.mjs PORT MODE [PATH [CERT KEY]]
// MODE streamable   Streamable HTTP at PATH (default /mcp), sessions, 404 for unknown sessions
//      old-sse      the old HTTP+SSE transport (2024-11-05): GET PATH (default /sse) + POST /messages
//      hosts-only   Streamable HTTP that allows only Host "mcp.example.test" (DNS-rebinding check)
//      hidden-session  Streamable HTTP with sessions whose Mcp-Session-Id header never reaches the
//                   client (as when a proxy or CORS drops it)
//      auth-bare    401 to everything, without WWW-Authenticate
//      auth-prm-broken  401 to PATH naming resource_metadata on this server, which answers 404
//      auth-prm     the same with the metadata document served (RFC 9728)
//      version-refuse  refuses initialize with -32602 "Unsupported protocol version" (no negotiation)
//      version-later   initialize works, then every request carrying MCP-Protocol-Version gets
//                   400 "Unsupported protocol version" (a server or proxy refusing what it negotiated)
//      slash-redirect  Streamable HTTP at PATH (give it with a trailing '/'); PATH without the '/'
//                   answers 307 to it, as Starlette's redirect_slashes does
//      moved-redirect  the same with 301, which clients follow with a GET
// Every other path answers 404. With CERT and KEY it serves HTTPS. Binds 127.0.0.1 only.
// Prints "listening PORT" when ready.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../node/package.json'));
const { McpServer } = require('@modelcontextprotocol/sdk/server/mcp.js');
const { StreamableHTTPServerTransport } = require('@modelcontextprotocol/sdk/server/streamableHttp.js');
const { SSEServerTransport } = require('@modelcontextprotocol/sdk/server/sse.js');
const { isInitializeRequest } = require('@modelcontextprotocol/sdk/types.js');

const port = Number(process.argv[2] || 0);
const mode = process.argv[3] || 'streamable';
const mcpPath = process.argv[4] || (mode === 'old-sse' ? '/sse' : '/mcp');

function makeServer() {
    const s = new McpServer({ name: 'portico-lab-mcp', version: '1.0.0' });
    s.registerTool('ping', { description: 'answers pong' }, async () => ({ content: [{ type: 'text', text: 'pong' }] }));
    s.registerTool('time', { description: 'the server time' },
        async () => ({ content: [{ type: 'text', text: new Date().toISOString() }] }));
    return s;
}

function readJson(req) {
    return new Promise((resolve) => {
        const chunks = [];
        let size = 0;
        req.on('data', (c) => { size += c.length; if (size <= 1 << 20) chunks.push(c); });
        req.on('end', () => {
            try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))); } catch { resolve(undefined); }
        });
    });
}

function jsonError(res, status, message) {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

const streamable = {};   // session id -> transport
const sse = {};          // session id -> SSE transport

async function handleStreamable(req, res) {
    const sid = req.headers['mcp-session-id'];
    let t = sid ? streamable[sid] : undefined;
    if (req.method === 'POST') {
        const body = await readJson(req);
        if (!t) {
            if (sid) return jsonError(res, 404, 'Session not found');
            if (!isInitializeRequest(body)) return jsonError(res, 400, 'Bad Request: No valid session ID provided');
            const opts = { sessionIdGenerator: () => randomUUID(), onsessioninitialized: (id) => { streamable[id] = t; } };
            if (mode === 'hosts-only') {
                opts.enableDnsRebindingProtection = true;
                opts.allowedHosts = ['mcp.example.test'];
            }
            t = new StreamableHTTPServerTransport(opts);
            t.onclose = () => { if (t.sessionId) delete streamable[t.sessionId]; };
            await makeServer().connect(t);
        }
        return t.handleRequest(req, res, body);
    }
    if (req.method === 'GET' || req.method === 'DELETE') {
        if (!t) return jsonError(res, sid ? 404 : 400, sid ? 'Session not found' : 'Bad Request: No valid session ID provided');
        return t.handleRequest(req, res);
    }
    res.writeHead(405, { allow: 'GET, POST, DELETE' }).end();
}

async function handleOldSse(req, res, url) {
    if (req.method === 'GET' && url.pathname === mcpPath) {
        const t = new SSEServerTransport('/messages', res);
        sse[t.sessionId] = t;
        res.on('close', () => delete sse[t.sessionId]);
        await makeServer().connect(t);
        return;
    }
    if (req.method === 'POST' && url.pathname === '/messages') {
        const t = sse[url.searchParams.get('sessionId')];
        if (!t) return jsonError(res, 400, 'session_id is required');
        return t.handlePostMessage(req, res);
    }
    if (url.pathname === mcpPath) { res.writeHead(405, { allow: 'GET' }).end('Method Not Allowed'); return; }
    res.writeHead(404).end('Not Found');
}

const [certFile, keyFile] = process.argv.slice(5);
const handler = (req, res) => {
    const url = new URL(req.url, 'http://lab');
    if (mode === 'auth-bare') { res.writeHead(401, { 'content-type': 'text/plain' }).end('Unauthorized'); return; }
    if (mode === 'auth-prm' || mode === 'auth-prm-broken') {
        const prm = '/.well-known/oauth-protected-resource';
        const self = `http://${req.headers.host}`;
        if (url.pathname === prm && mode === 'auth-prm') {
            res.writeHead(200, { 'content-type': 'application/json' })
                .end(JSON.stringify({ resource: `${self}${mcpPath}`, authorization_servers: [`${self}/auth`] }));
            return;
        }
        if (url.pathname === mcpPath) {
            res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${self}${prm}"` }).end('Unauthorized');
            return;
        }
        res.writeHead(404).end('Not Found');
        return;
    }
    if (mode === 'version-refuse' && url.pathname === mcpPath && req.method === 'POST') {
        readJson(req).then((body) => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ jsonrpc: '2.0', id: body?.id ?? null, error: { code: -32602,
                message: 'Unsupported protocol version', data: { supported: ['2024-11-05', '2025-03-26'],
                    requested: body?.params?.protocolVersion } } }));
        });
        return;
    }
    if (mode === 'hidden-session') {
        const writeHead = res.writeHead.bind(res);
        res.writeHead = (status, ...rest) => {
            res.removeHeader('mcp-session-id');
            const h = rest.find((x) => x && typeof x === 'object');
            if (h) for (const k of Object.keys(h)) if (k.toLowerCase() === 'mcp-session-id') delete h[k];
            return writeHead(status, ...rest);
        };
    }
    const done = (p) => p.catch((e) => { if (!res.headersSent) jsonError(res, 500, String(e)); });
    if (mode === 'old-sse') return done(handleOldSse(req, res, url));
    if (mode === 'version-later' && req.headers['mcp-protocol-version']) {
        jsonError(res, 400, `Bad Request: Unsupported protocol version: ${req.headers['mcp-protocol-version']}`);
        return;
    }
    if ((mode === 'slash-redirect' || mode === 'moved-redirect') && url.pathname + '/' === mcpPath) {
        res.writeHead(mode === 'slash-redirect' ? 307 : 301, { location: mcpPath }).end();
        return;
    }
    if (url.pathname !== mcpPath) { res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found'); return; }
    done(handleStreamable(req, res));
};
const server = certFile
    ? https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) }, handler)
    : http.createServer(handler);
server.listen(port, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
