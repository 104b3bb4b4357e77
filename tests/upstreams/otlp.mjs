// otlp.mjs: a local OTLP/HTTP trace receiver for the black-box tests. No dependencies.
// Stores every ExportTraceServiceRequest posted as JSON and hands the spans back.
//
//   node otlp.mjs --port P [--tls CERT KEY]     (--tls: every endpoint over HTTPS)
//
//   POST /v1/traces        must be Content-Type application/json; the body is parsed and kept
//                          (400 when it is not JSON or has no resourceSpans array)
//   GET  /__ctl/spans      [{service, scope, traceId, spanId, parentSpanId, name, kind,
//                            startTimeUnixNano, endTimeUnixNano, attributes: {key: value}, status}]
//                          attribute values unwrapped (stringValue, intValue as a number...)
//   GET  /__ctl/stats      {posts, spans, bad}
//   GET  /__ctl/status?code=N   answer later posts with N (default 200)
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

let port = 0, tls = null;
for (let i = 2; i < process.argv.length; i++) {
    if (process.argv[i] === '--port') port = Number(process.argv[++i]);
    else if (process.argv[i] === '--tls') tls = { cert: fs.readFileSync(process.argv[++i]), key: fs.readFileSync(process.argv[++i]) };
}

const spans = [];
const stats = { posts: 0, spans: 0, bad: 0 };
let answer = 200;

function unwrap(v) {
    if (!v || typeof v !== 'object') return null;
    if ('stringValue' in v) return v.stringValue;
    if ('intValue' in v) return Number(v.intValue);
    if ('doubleValue' in v) return v.doubleValue;
    if ('boolValue' in v) return v.boolValue;
    return v;
}

function take(doc) {
    if (!doc || !Array.isArray(doc.resourceSpans)) return false;
    for (const rs of doc.resourceSpans) {
        const res = {};
        for (const a of rs.resource?.attributes || []) res[a.key] = unwrap(a.value);
        for (const ss of rs.scopeSpans || []) {
            for (const s of ss.spans || []) {
                const attributes = {};
                for (const a of s.attributes || []) attributes[a.key] = unwrap(a.value);
                spans.push({ service: res['service.name'], scope: ss.scope?.name, traceId: s.traceId, spanId: s.spanId,
                             parentSpanId: s.parentSpanId || '', name: s.name, kind: s.kind,
                             startTimeUnixNano: s.startTimeUnixNano, endTimeUnixNano: s.endTimeUnixNano,
                             attributes, status: s.status });
                stats.spans++;
            }
        }
    }
    return true;
}

const send = (res, code, obj) => {
    const body = JSON.stringify(obj);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
};

const handler = (req, res) => {
    const url = new URL(req.url, 'http://x');
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
        if (req.method === 'GET' && url.pathname === '/__ctl/spans') return send(res, 200, spans);
        if (req.method === 'GET' && url.pathname === '/__ctl/stats') return send(res, 200, stats);
        if (req.method === 'GET' && url.pathname === '/__ctl/status') {
            answer = Number(url.searchParams.get('code') || 200);
            return send(res, 200, { answer });
        }
        if (req.method !== 'POST' || url.pathname !== '/v1/traces') return send(res, 404, { error: 'not found' });
        stats.posts++;
        let doc = null;
        try {
            if (!String(req.headers['content-type'] || '').startsWith('application/json')) throw new Error('type');
            doc = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
            stats.bad++;
            return send(res, 400, { error: 'expected a JSON ExportTraceServiceRequest' });
        }
        if (answer !== 200) return send(res, answer, { error: 'told to fail' });
        if (!take(doc)) {
            stats.bad++;
            return send(res, 400, { error: 'no resourceSpans' });
        }
        send(res, 200, { partialSuccess: {} });
    });
};
(tls ? https.createServer(tls, handler) : http.createServer(handler)).listen(port, '127.0.0.1', function () { console.log(`listening ${this.address().port}`); });
