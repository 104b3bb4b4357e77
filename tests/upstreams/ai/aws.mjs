// aws.mjs: the two AWS wire pieces the Bedrock mock needs, written from the published
// specifications and independent of Portico's C code: the event-stream framing (encoder)
// and SigV4 (recomputing a request's signature to check it).
import crypto from 'node:crypto';

// ---- event stream ---------------------------------------------------------------------
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();
export function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// One message: headers is an object of string values, payload a Buffer or a string.
export function frame(headers, payload) {
  const hs = [];
  for (const [name, value] of Object.entries(headers)) {
    const n = Buffer.from(name);
    const v = Buffer.from(value);
    const h = Buffer.alloc(1 + n.length + 1 + 2 + v.length);
    h[0] = n.length;
    n.copy(h, 1);
    h[1 + n.length] = 7; // string
    h.writeUInt16BE(v.length, 2 + n.length);
    v.copy(h, 4 + n.length);
    hs.push(h);
  }
  const hbuf = Buffer.concat(hs);
  const p = Buffer.from(payload);
  const total = 12 + hbuf.length + p.length + 4;
  const out = Buffer.alloc(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(hbuf.length, 4);
  out.writeUInt32BE(crc32(out.subarray(0, 8)), 8);
  hbuf.copy(out, 12);
  p.copy(out, 12 + hbuf.length);
  out.writeUInt32BE(crc32(out.subarray(0, total - 4)), total - 4);
  return out;
}

export const eventFrame = (type, body) =>
  frame({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, JSON.stringify(body));
export const exceptionFrame = (type, message) =>
  frame({ ':exception-type': type, ':content-type': 'application/json', ':message-type': 'exception' },
    JSON.stringify({ message }));

// ---- SigV4 ----------------------------------------------------------------------------
const enc = (s, keepSlash) => Array.from(Buffer.from(s, 'utf8')).map((b) => {
  const ch = String.fromCharCode(b);
  if (/[A-Za-z0-9\-_.~]/.test(ch) || (keepSlash && ch === '/')) return ch;
  return '%' + b.toString(16).toUpperCase().padStart(2, '0');
}).join('');
const hmac = (k, s) => crypto.createHmac('sha256', k).update(s).digest();
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');

// Checks req's Authorization against the secret; returns null when it holds, else why not.
// rawPath is the path as sent (with its own %-escapes); every service but S3 encodes it
// once more in the canonical request.
export function checkSigV4(req, rawPath, body, { accessKey, secret, region, service, sessionToken }) {
  const auth = req.headers.authorization || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return 'malformed Authorization header';
  const [, akid, date, reg, svc, signed, sig] = m;
  if (akid !== accessKey) return 'The security token included in the request is invalid.';
  if (reg !== region || svc !== service) return `credential scope ${reg}/${svc} is not ${region}/${service}`;
  const amzDate = req.headers['x-amz-date'] || '';
  if (!amzDate.startsWith(date)) return 'x-amz-date does not match the credential date';
  const names = signed.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) return 'host and x-amz-date must be signed';
  if (sessionToken && (req.headers['x-amz-security-token'] !== sessionToken || !names.includes('x-amz-security-token')))
    return 'The security token included in the request is invalid.';
  const payloadHash = sha(body);
  if (req.headers['x-amz-content-sha256'] && req.headers['x-amz-content-sha256'] !== payloadHash)
    return 'x-amz-content-sha256 does not match the body';
  const [path, query = ''] = rawPath.split('?');
  const cq = query ? query.split('&').map((kv) => kv.split('=')).sort().map(([k, v = '']) => `${k}=${v}`).join('&') : '';
  const ch = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/ +/g, ' ')}\n`).join('');
  const creq = [req.method, enc(path, true), cq, ch, signed, payloadHash].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const sts = ['AWS4-HMAC-SHA256', amzDate, scope, sha(creq)].join('\n');
  let k = hmac('AWS4' + secret, date);
  for (const part of [region, service, 'aws4_request']) k = hmac(k, part);
  const want = hmac(k, sts).toString('hex');
  if (want !== sig) return 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.';
  return null;
}
