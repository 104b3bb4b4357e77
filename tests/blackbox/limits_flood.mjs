// limits_flood.mjs: sends N requests at once over C keep-alive connections and prints what
// came back as JSON: {"statuses":{"200":n,"429":m},"missing":{...},"errors":k}. "missing"
// counts answers that lacked what a policy's answer must carry: the RateLimit fields on
// every answer, and Retry-After on a 429.
//   node limits_flood.mjs --url URL --requests N --connections C [--header 'Name: value']
import http from 'node:http';

const args = process.argv.slice(2);
const opt = { requests: 1000, connections: 100, headers: {} };
for (let i = 0; i < args.length; i += 2) {
    const k = args[i].replace(/^--/, ''), v = args[i + 1];
    if (k === 'header') {
        const c = v.indexOf(':');
        opt.headers[v.slice(0, c).trim()] = v.slice(c + 1).trim();
    } else {
        opt[k] = k === 'url' ? v : Number(v);
    }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: opt.connections });
const out = { statuses: {}, missing: { ratelimit: 0, ratelimit_policy: 0, retry_after: 0 }, errors: 0 };

function one() {
    return new Promise((resolve) => {
        const req = http.get(opt.url, { agent, headers: opt.headers }, (res) => {
            out.statuses[res.statusCode] = (out.statuses[res.statusCode] || 0) + 1;
            if (!res.headers['ratelimit']) out.missing.ratelimit++;
            if (!res.headers['ratelimit-policy']) out.missing.ratelimit_policy++;
            if (res.statusCode === 429 && !/^[1-9][0-9]*$/.test(res.headers['retry-after'] || '')) out.missing.retry_after++;
            res.resume();
            res.on('end', resolve);
            res.on('error', () => { out.errors++; resolve(); });
        });
        req.on('error', () => { out.errors++; resolve(); });
    });
}

await Promise.all(Array.from({ length: opt.requests }, one));
agent.destroy();
console.log(JSON.stringify(out));
