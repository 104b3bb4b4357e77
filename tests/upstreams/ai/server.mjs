#!/usr/bin/env node
// server.mjs: one test upstream that speaks every AI provider's wire format, by path.
// No dependencies. Black-box tests start Portico against it.
//
//   POST /v1/chat/completions                        OpenAI, Mistral, OpenAI-compatible (JSON or SSE)
//   POST /openai/deployments/{dep}/chat/completions   Azure OpenAI (api-key header, ?api-version=)
//   POST /v1/embeddings, /openai/deployments/{dep}/embeddings
//   POST /v1/messages, /v1/messages/count_tokens      Anthropic (x-api-key, anthropic-version)
//   POST /v1beta/models/{m}:generateContent | :streamGenerateContent?alt=sse | :batchEmbedContents   Gemini
//   POST /v1beta/models/M:countTokens                 totalTokens = words in the text parts
//   POST /v1/responses/input_tokens                   input_tokens = words in instructions and input texts
//   POST /v1/responses                                OpenAI's Responses API itself (JSON, or typed events
//                                                     with stream: true), answer id resp_mock_<n>
//   POST /model/{modelId}/converse | /converse-stream   AWS Bedrock Converse (SigV4 checked against
//                                                    MOCK_AWS_KEY_ID / MOCK_AWS_SECRET / MOCK_AWS_REGION,
//                                                    and MOCK_AWS_SESSION_TOKEN when set; a wrong
//                                                    signature gets AWS's 403; streams in the AWS
//                                                    event-stream framing)
//   POST /model/{modelId}/invoke                     Bedrock InvokeModel embeddings (signed the same way):
//                                                    Titan {inputText}, Cohere {texts, input_type}
//   POST /token                                      Google OAuth token endpoint: a jwt-bearer grant whose
//                                                    RS256 assertion verifies with MOCK_GCP_PUBKEY (a PEM
//                                                    file) and whose claims hold (iss MOCK_GCP_EMAIL, aud
//                                                    this URL, the cloud-platform scope, exp in the future)
//                                                    gets a token living MOCK_GCP_TOKEN_TTL seconds (3600);
//                                                    so does a refresh_token grant with MOCK_GCP_CLIENT_ID,
//                                                    MOCK_GCP_CLIENT_SECRET and MOCK_GCP_REFRESH_TOKEN
//   GET  /computeMetadata/v1/instance/service-accounts/default/token
//                                                    the GCE metadata server: a token for a GET with
//                                                    Metadata-Flavor: Google (403 without it)
//   POST /v1/projects/P/locations/L/publishers/google/models/M:generateContent | :streamGenerateContent
//   POST /v1/projects/P/locations/L/publishers/google/models/M:predict   Vertex AI embeddings ({instances})
//   POST /v1/projects/P/locations/L/publishers/anthropic/models/M:rawPredict | :streamRawPredict
//                                                    Vertex AI: a live token from /token required (401
//                                                    otherwise); Anthropic bodies must carry
//                                                    anthropic_version vertex-2023-10-16 and no model
//   GET  /v1/models (Bearer or x-api-key), GET /v1beta/models (x-goog-api-key), GET /healthz
//   GET  /_mock/requests                              every request seen (method, path, headers, body), newest last
//   POST /_mock/reset                                 forget them
//
// Knobs, from any of: an "x-mock" header ("status=429,retry_after=3"), the model name after
// "@" ("gpt-4o@status=500&first_byte_ms=200"), or "[mock ...]" in the last user text
// ("[mock events=200 gap_ms=5]"):
//   status=N          answer with that error status, in the provider's own error format
//   retry_after=S     retry-after header (seconds) with the error
//   first_byte_ms=N   wait before the response head
//   events=N          number of text deltas in a stream (default 3)
//   gap_ms=N          delay between stream events (default 0)
//   cut_after=N       close the connection after N stream events (mid-body for JSON answers)
//   tools=1           answer with two parallel tool calls (get_weather Paris / Zürich)
//   signed=1          Gemini: the first of them carries a thoughtSignature (MOCK_SIGNATURE), as
//                     Gemini 3 signs the first call of each step
//   reply=NAME        answer (not streamed) with a canned text instead of "Hello w1 w2": card (a
//                     weather card as JSON), fenced (the same in a ```json fence), nojson (prose),
//                     partial (JSON without temp_c), fix (partial, then card once the request
//                     carries more than two messages: a corrected second try)
//   pad=N             each tool call's arguments also carry "content": N bytes (a file a coding
//                     agent writes), sent whole in one event where the provider does so (Gemini)
//   stream_error=T    Bedrock: after the first text delta, an exception message of type T
//                     (throttlingException, validationException, ...) ends the stream
//   echo=1            the answer's text is the last user text (without the [mock] marker), cut
//                     into `events` pieces of equal length (data masking splits a value across
//                     two events this way); with tools=1 each call's arguments also carry it as
//                     "note", streamed in two fragments cut in the middle of that text
//
// Usage reported: prompt 11 tokens, completion = events (+ 20 with tools).
// Listens on 127.0.0.1:$PORT (default 0 = any free port) and prints "listening PORT".
// MOCK_KEY, when set, is the only key accepted (others get 401).
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { checkSigV4, eventFrame, exceptionFrame } from './aws.mjs';

const PORT = Number(process.env.PORT || 0);
const KEY = process.env.MOCK_KEY || '';
const seen = [];
const AWS = { accessKey: process.env.MOCK_AWS_KEY_ID || 'AKIDMOCKEXAMPLE', secret: process.env.MOCK_AWS_SECRET || 'mock/secret/key',
  region: process.env.MOCK_AWS_REGION || 'us-east-1', service: 'bedrock', sessionToken: process.env.MOCK_AWS_SESSION_TOKEN || '' };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function knobs(req, url, body) {
  const k = {};
  const add = (s, sep) => {
    for (const kv of s.split(sep)) {
      const [a, b] = kv.split('=');
      if (a && b !== undefined) k[a.trim()] = b.trim();
    }
  };
  if (req.headers['x-mock']) add(String(req.headers['x-mock']), ',');
  const model = modelOf(url, body);
  if (model.includes('@')) add(model.slice(model.indexOf('@') + 1), '&');
  const text = lastUserText(body);
  const m = /\[mock ([^\]]*)\]/.exec(text);
  if (m) add(m[1], /\s+/);
  return {
    status: Number(k.status || 0),
    retryAfter: k.retry_after,
    firstByte: Number(k.first_byte_ms || 0),
    events: Math.min(Number(k.events || 3), 100000),
    gap: Number(k.gap_ms || 0),
    cutAfter: k.cut_after === undefined ? -1 : Number(k.cut_after),
    tools: k.tools === '1',
    signed: k.signed === '1',
    pad: Math.min(Number(k.pad || 0), 8 << 20),
    reply: k.reply ? replyText(k.reply, body) : undefined,
    streamError: k.stream_error,
    echo: k.echo === '1' ? text.replace(/\[mock [^\]]*\]\s*/, '') : null,
  };
}

const CARD = '{"city":"Paris","temp_c":21.5}';
function replyText(name, body) {
  const n = (body && Array.isArray(body.messages)) ? body.messages.length : 0;
  return { card: CARD, fenced: '```json\n' + CARD + '\n```', nojson: 'It is sunny in Paris.',
    partial: '{"city":"Paris"}', fix: n > 2 ? CARD : '{"city":"Paris"}' }[name] ?? `unknown reply ${name}`;
}

function modelOf(url, body) {
  const b = /^\/model\/([^/]+)\/converse/.exec(url.pathname);
  if (b) return decodeURIComponent(b[1]);
  const g = /\/models\/([^:/]+):/.exec(url.pathname);
  if (g) return decodeURIComponent(g[1]);
  return (body && typeof body.model === 'string') ? body.model : '';
}

function lastUserText(body) {
  if (!body) return '';
  if (typeof body.input === 'string') return body.input;
  const msgs = body.messages || body.contents || (Array.isArray(body.input) ? body.input : []);
  for (let i = msgs.length - 1; i >= 0; i--) {
    const m = msgs[i];
    if (m.role !== 'user') continue;
    const c = m.content ?? m.parts;
    if (typeof c === 'string') return c;
    if (Array.isArray(c)) return c.map((p) => p.text || '').join(' ');
  }
  return '';
}

function keyOf(req, kind) {
  if (kind === 'anthropic') return req.headers['x-api-key'];
  if (kind === 'models') return req.headers['x-api-key'] || keyOf(req, 'openai'); /* OpenAI's or Anthropic's listing */
  if (kind === 'azure') return req.headers['api-key'];
  if (kind === 'gemini') return req.headers['x-goog-api-key'];
  const a = req.headers.authorization || '';
  return a.startsWith('Bearer ') ? a.slice(7) : '';
}

// ---- error bodies, in each provider's own shape ----------------------------------------
function errorBody(kind, status, msg) {
  if (kind === 'anthropic') {
    const type = { 400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error',
      404: 'not_found_error', 429: 'rate_limit_error', 529: 'overloaded_error' }[status] || 'api_error';
    return { type: 'error', error: { type, message: msg } };
  }
  if (kind === 'gemini') {
    const st = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND',
      429: 'RESOURCE_EXHAUSTED', 503: 'UNAVAILABLE' }[status] || 'INTERNAL';
    return { error: { code: status, message: msg, status: st } };
  }
  if (kind === 'mistral') return { object: 'error', message: msg, type: 'mock_error', param: null, code: String(status) };
  return { error: { message: msg, type: status === 429 ? 'rate_limit_error' : 'invalid_request_error', param: null,
    code: status === 401 ? 'invalid_api_key' : null } };
}

// ---- answers ----------------------------------------------------------------------------
const CITIES = ['Paris', 'Zürich'];
const words = (n) => Array.from({ length: n }, (_, i) => (i === 0 ? 'Hello' : ` w${i}`));
// The answer's text deltas: the echoed text in equal pieces, or the words.
const deltas = (k) => {
  if (k.echo === null) return words(k.events);
  const step = Math.ceil(k.echo.length / k.events) || 1;
  return Array.from({ length: k.events }, (_, i) => k.echo.slice(i * step, (i + 1) * step));
};
const usage = (k) => ({ prompt: 11, completion: k.events + (k.tools ? 20 : 0) });
// The arguments of the tool call for city c.
const argsOf = (k, c) => ({ city: c, ...(k.pad ? { content: 'x'.repeat(k.pad) } : {}),
  ...(k.echo !== null ? { note: k.echo } : {}) });
// Where a call's streamed arguments are cut in two: in the middle of the echoed note, else
// after five characters.
const argsCut = (k, args) => (k.echo !== null ? args.indexOf(JSON.stringify(k.echo)) + 1 + (k.echo.length >> 1) : 5);

function openaiWhole(model, k) {
  const u = usage(k);
  const message = { role: 'assistant', content: k.reply ?? deltas(k).join('') };
  if (k.tools) {
    message.tool_calls = CITIES.map((c, i) => ({ id: `call_${i}`, type: 'function',
      function: { name: 'get_weather', arguments: JSON.stringify(argsOf(k, c)) } }));
  }
  return { id: 'chatcmpl-mock', object: 'chat.completion', created: 1732700000, model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: k.tools ? 'tool_calls' : 'stop' }],
    usage: { prompt_tokens: u.prompt, completion_tokens: u.completion, total_tokens: u.prompt + u.completion } };
}

function* openaiStream(model, k, body) {
  const base = { id: 'chatcmpl-mock', object: 'chat.completion.chunk', created: 1732700000, model };
  const chunk = (delta, finish = null) => ({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  yield chunk({ role: 'assistant', content: '' });
  for (const w of deltas(k)) yield chunk({ content: w });
  if (k.tools) {
    for (let i = 0; i < CITIES.length; i++) {
      yield chunk({ tool_calls: [{ index: i, id: `call_${i}`, type: 'function', function: { name: 'get_weather', arguments: '' } }] });
      const args = JSON.stringify(argsOf(k, CITIES[i])), cut = argsCut(k, args);
      yield chunk({ tool_calls: [{ index: i, function: { arguments: args.slice(0, cut) } }] });
      yield chunk({ tool_calls: [{ index: i, function: { arguments: args.slice(cut) } }] });
    }
  }
  const u = usage(k);
  if ((body?.model || '').startsWith('mistral')) {
    // Mistral puts the usage in the last chunk whatever the request says
    yield { ...chunk({}, k.tools ? 'tool_calls' : 'stop'),
      usage: { prompt_tokens: u.prompt, completion_tokens: u.completion, total_tokens: u.prompt + u.completion } };
    yield '[DONE]';
    return;
  }
  yield chunk({}, k.tools ? 'tool_calls' : 'stop');
  if (body && body.stream_options && body.stream_options.include_usage) {
    yield { ...base, choices: [], usage: { prompt_tokens: u.prompt, completion_tokens: u.completion, total_tokens: u.prompt + u.completion } };
  }
  yield '[DONE]';
}

function anthropicWhole(model, k) {
  const u = usage(k);
  const content = [{ type: 'text', text: k.reply ?? deltas(k).join('') }];
  if (k.tools) CITIES.forEach((c, i) => content.push({ type: 'tool_use', id: `toolu_${i}`, name: 'get_weather', input: argsOf(k, c) }));
  return { id: 'msg_mock', type: 'message', role: 'assistant', model, content,
    stop_reason: k.tools ? 'tool_use' : 'end_turn', stop_sequence: null,
    usage: { input_tokens: u.prompt, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: u.completion } };
}

function* anthropicStream(model, k) {
  const u = usage(k);
  yield ['message_start', { type: 'message_start', message: { id: 'msg_mock', type: 'message', role: 'assistant', model,
    content: [], stop_reason: null, stop_sequence: null,
    usage: { input_tokens: u.prompt, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 } } }];
  yield ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }];
  yield ['ping', { type: 'ping' }];
  for (const w of deltas(k)) yield ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: w } }];
  yield ['content_block_stop', { type: 'content_block_stop', index: 0 }];
  if (k.tools) {
    for (let i = 0; i < CITIES.length; i++) {
      const idx = i + 1;
      yield ['content_block_start', { type: 'content_block_start', index: idx, content_block: { type: 'tool_use', id: `toolu_${i}`, name: 'get_weather', input: {} } }];
      const args = JSON.stringify(argsOf(k, CITIES[i])), cut = argsCut(k, args);
      yield ['content_block_delta', { type: 'content_block_delta', index: idx, delta: { type: 'input_json_delta', partial_json: args.slice(0, cut) } }];
      yield ['content_block_delta', { type: 'content_block_delta', index: idx, delta: { type: 'input_json_delta', partial_json: args.slice(cut) } }];
      yield ['content_block_stop', { type: 'content_block_stop', index: idx }];
    }
  }
  yield ['message_delta', { type: 'message_delta', delta: { stop_reason: k.tools ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: u.completion } }];
  yield ['message_stop', { type: 'message_stop' }];
}

// A signature in the standard base64 alphabet, with '+', '/' and padding.
const MOCK_SIGNATURE = 'bW9jay1zaWduYXR1cmU+Pz8/Pw==';
function geminiCalls(k) {
  return CITIES.map((c, i) => {
    const part = { functionCall: { name: 'get_weather', args: argsOf(k, c) } };
    if (k.signed && i === 0) part.thoughtSignature = MOCK_SIGNATURE;
    return part;
  });
}

function geminiParts(k) {
  const parts = [{ text: deltas(k).join('') }];
  if (k.tools) parts.push(...geminiCalls(k));
  return parts;
}

function geminiUsage(k) {
  const u = usage(k);
  return { promptTokenCount: u.prompt, candidatesTokenCount: u.completion, totalTokenCount: u.prompt + u.completion };
}

function geminiWhole(model, k) {
  return { candidates: [{ content: { parts: geminiParts(k), role: 'model' }, finishReason: 'STOP', index: 0 }],
    usageMetadata: geminiUsage(k), modelVersion: model, responseId: 'gem-mock' };
}

function* geminiStream(model, k) {
  const ws = deltas(k);
  for (let i = 0; i < ws.length; i++) {
    const last = i === ws.length - 1;
    const parts = [{ text: ws[i] }];
    if (last && k.tools) parts.push(...geminiCalls(k));
    const cand = { content: { parts, role: 'model' }, index: 0 };
    if (last) cand.finishReason = 'STOP';
    yield { candidates: [cand], usageMetadata: last ? geminiUsage(k) : { promptTokenCount: 11 }, modelVersion: model, responseId: 'gem-mock' };
  }
}

// OpenAI's Responses API: the whole response, and the typed events of a stream.
let responseCount = 0;
function responsesWhole(model, k, id) {
  const text = deltas(k).join('');
  const u = usage(k);
  return { id, object: 'response', created_at: 0, status: 'completed', model,
    output: [{ type: 'message', id: 'msg_mock', status: 'completed', role: 'assistant',
      content: [{ type: 'output_text', text, annotations: [] }] }],
    usage: { input_tokens: u.prompt, input_tokens_details: { cached_tokens: 0 }, output_tokens: u.completion,
      output_tokens_details: { reasoning_tokens: 0 }, total_tokens: u.prompt + u.completion } };
}

function* responsesStream(model, k, id) {
  const whole = responsesWhole(model, k, id);
  let seq = 0;
  const base = { ...whole, status: 'in_progress', output: [], usage: null };
  yield ['response.created', { type: 'response.created', sequence_number: seq++, response: base }];
  yield ['response.output_item.added', { type: 'response.output_item.added', sequence_number: seq++, output_index: 0,
    item: { type: 'message', id: 'msg_mock', status: 'in_progress', role: 'assistant', content: [] } }];
  const part = { item_id: 'msg_mock', output_index: 0, content_index: 0 };
  yield ['response.content_part.added', { type: 'response.content_part.added', sequence_number: seq++, ...part,
    part: { type: 'output_text', text: '', annotations: [] } }];
  for (const d of deltas(k))
    yield ['response.output_text.delta', { type: 'response.output_text.delta', sequence_number: seq++, ...part, delta: d }];
  const text = whole.output[0].content[0].text;
  yield ['response.output_text.done', { type: 'response.output_text.done', sequence_number: seq++, ...part, text }];
  yield ['response.content_part.done', { type: 'response.content_part.done', sequence_number: seq++, ...part,
    part: whole.output[0].content[0] }];
  yield ['response.output_item.done', { type: 'response.output_item.done', sequence_number: seq++, output_index: 0,
    item: whole.output[0] }];
  yield ['response.completed', { type: 'response.completed', sequence_number: seq++, response: whole }];
}

// Bedrock Converse: content blocks are {text} / {toolUse}; usage in camelCase.
function bedrockUsage(k) {
  const u = usage(k);
  return { inputTokens: u.prompt, outputTokens: u.completion, totalTokens: u.prompt + u.completion };
}

function bedrockWhole(model, k) {
  const content = [{ text: k.reply ?? deltas(k).join('') }];
  if (k.tools) CITIES.forEach((c, i) => content.push({ toolUse: { toolUseId: `tooluse_${i}`, name: 'get_weather', input: argsOf(k, c) } }));
  return { output: { message: { role: 'assistant', content } }, stopReason: k.tools ? 'tool_use' : 'end_turn',
    usage: bedrockUsage(k), metrics: { latencyMs: 7 } };
}

function* bedrockStream(model, k) {
  yield eventFrame('messageStart', { role: 'assistant' });
  let first = true;
  for (const w of deltas(k)) {
    yield eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: w } });
    if (first && k.streamError) {
      yield exceptionFrame(k.streamError, `mock ${k.streamError}`);
      return;
    }
    first = false;
  }
  yield eventFrame('contentBlockStop', { contentBlockIndex: 0 });
  if (k.tools) {
    for (let i = 0; i < CITIES.length; i++) {
      const idx = i + 1;
      yield eventFrame('contentBlockStart', { contentBlockIndex: idx, start: { toolUse: { toolUseId: `tooluse_${i}`, name: 'get_weather' } } });
      const args = JSON.stringify(argsOf(k, CITIES[i]));
      yield eventFrame('contentBlockDelta', { contentBlockIndex: idx, delta: { toolUse: { input: args.slice(0, 5) } } });
      yield eventFrame('contentBlockDelta', { contentBlockIndex: idx, delta: { toolUse: { input: args.slice(5) } } });
      yield eventFrame('contentBlockStop', { contentBlockIndex: idx });
    }
  }
  yield eventFrame('messageStop', { stopReason: k.tools ? 'tool_use' : 'end_turn' });
  yield eventFrame('metadata', { usage: bedrockUsage(k), metrics: { latencyMs: 7 } });
}

const BEDROCK_ERRORS = { 400: 'ValidationException', 403: 'AccessDeniedException', 404: 'ResourceNotFoundException',
  429: 'ThrottlingException', 500: 'InternalServerException', 503: 'ServiceUnavailableException' };
function bedrockError(res, status, msg, extra = {}) {
  const type = BEDROCK_ERRORS[status] || 'InternalServerException';
  return sendJson(res, status, { message: msg }, { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`, ...extra });
}

// InvokeModel for embeddings: Amazon Titan takes one inputText, Cohere a batch of texts with an
// input_type; each vector is [i, 0.5, -0.25].
function bedrockEmbed(res, model, body) {
  if (model.includes('cohere.')) {
    if (!Array.isArray(body.texts) || !['search_document', 'search_query', 'classification', 'clustering'].includes(body.input_type))
      return bedrockError(res, 400, 'texts and input_type are required');
    return sendJson(res, 200, { id: 'emb-1', response_type: 'embeddings_floats', texts: body.texts,
      embeddings: body.texts.map((_, i) => [i, 0.5, -0.25]) });
  }
  if (typeof body.inputText !== 'string' || body.texts !== undefined) return bedrockError(res, 400, 'inputText is required');
  return sendJson(res, 200, { embedding: [0, 0.5, -0.25], inputTextTokenCount: 5 });
}

async function handleBedrock(req, res, raw, url, r) {
  const why = checkSigV4(req, req.url, raw, AWS);
  if (why) return sendJson(res, 403, { message: why }, { 'x-amzn-errortype': 'InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/' });
  let body = null;
  try { body = JSON.parse(raw); } catch { return bedrockError(res, 400, 'Malformed input request'); }
  const k = knobs(req, url, body);
  if (k.firstByte) await sleep(k.firstByte);
  if (k.status) return bedrockError(res, k.status, `mock status ${k.status}`, k.retryAfter ? { 'retry-after': k.retryAfter } : {});
  if (r.op === 'embed') return bedrockEmbed(res, r.model, body);
  if (!Array.isArray(body.messages) || body.model !== undefined) return bedrockError(res, 400, 'messages is required; model belongs in the path');
  const model = r.model.split('@')[0];
  if (!r.stream) return sendJson(res, 200, bedrockWhole(model, k));
  return stream(res, k, bedrockStream(model, k), (f) => f, 'application/vnd.amazon.eventstream');
}

// ---- Vertex AI (chat; :predict embeddings of Google's models: each vector [i, 0.5, -0.25], 3 tokens) -----------------------------------------------------------------------------
const GCP = { email: process.env.MOCK_GCP_EMAIL || '', ttl: Number(process.env.MOCK_GCP_TOKEN_TTL || 3600),
  client: process.env.MOCK_GCP_CLIENT_ID || '', secret: process.env.MOCK_GCP_CLIENT_SECRET || '',
  refresh: process.env.MOCK_GCP_REFRESH_TOKEN || '',
  pub: process.env.MOCK_GCP_PUBKEY ? crypto.createPublicKey(fs.readFileSync(process.env.MOCK_GCP_PUBKEY)) : null };
const tokens = new Map(); // token -> expiry (ms)
let tokensIssued = 0;

function issueToken(res) {
  const token = `ya29.mock-${++tokensIssued}-${crypto.randomBytes(6).toString('hex')}`;
  tokens.set(token, Date.now() + GCP.ttl * 1000);
  return sendJson(res, 200, { access_token: token, expires_in: GCP.ttl, token_type: 'Bearer' });
}

// The authorized-user grant (what gcloud's application default credentials use).
function refreshGrant(res, form, bad) {
  if (!GCP.refresh) return bad('no refresh token is configured');
  if (form.get('client_id') !== GCP.client || form.get('client_secret') !== GCP.secret)
    return sendJson(res, 401, { error: 'invalid_client', error_description: 'The OAuth client was not found.' });
  if (form.get('refresh_token') !== GCP.refresh) return bad('Token has been expired or revoked.');
  return issueToken(res);
}

function metadataToken(req, res) {
  if (req.headers['metadata-flavor'] !== 'Google')
    return sendJson(res, 403, { error: 'Missing required header: Metadata-Flavor' });
  return issueToken(res);
}

function tokenGrant(req, res, raw) {
  const form = new URLSearchParams(raw.toString('utf8'));
  const bad = (why) => sendJson(res, 400, { error: 'invalid_grant', error_description: why });
  if (form.get('grant_type') === 'refresh_token') return refreshGrant(res, form, bad);
  if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return bad('unsupported grant_type');
  const parts = (form.get('assertion') || '').split('.');
  if (parts.length !== 3 || !GCP.pub) return bad('malformed assertion');
  const [h, c, sig] = parts;
  const header = JSON.parse(Buffer.from(h, 'base64url').toString());
  if (header.alg !== 'RS256') return bad('alg must be RS256');
  if (!crypto.verify('RSA-SHA256', Buffer.from(`${h}.${c}`), GCP.pub, Buffer.from(sig, 'base64url'))) return bad('Invalid JWT Signature.');
  const claims = JSON.parse(Buffer.from(c, 'base64url').toString());
  const now = Date.now() / 1000;
  if (claims.iss !== GCP.email) return bad(`iss ${claims.iss} is not the service account`);
  if (claims.aud !== `http://${req.headers.host}/token`) return bad(`aud ${claims.aud} is not this token endpoint`);
  if (!String(claims.scope || '').split(' ').includes('https://www.googleapis.com/auth/cloud-platform')) return bad('scope');
  if (!(claims.exp > now) || !(claims.iat <= now + 60) || claims.exp - claims.iat > 3600) return bad('Invalid JWT: Token must be a short-lived token');
  return issueToken(res);
}

async function handleVertex(req, res, raw, url, r) {
  const auth = req.headers.authorization || '';
  const exp = tokens.get(auth.startsWith('Bearer ') ? auth.slice(7) : '');
  const kind = r.publisher === 'anthropic' ? 'anthropic' : 'gemini';
  if (!exp || exp <= Date.now()) {
    return sendJson(res, 401, errorBody(kind, 401, exp ? 'Request had invalid authentication credentials: the token expired.' : 'Request had invalid authentication credentials.'));
  }
  let body = null;
  try { body = JSON.parse(raw); } catch { return sendJson(res, 400, errorBody(kind, 400, 'body is not JSON')); }
  const k = knobs(req, url, body);
  if (k.status) return sendJson(res, k.status, errorBody(kind, k.status, `mock status ${k.status}`), k.retryAfter ? { 'retry-after': k.retryAfter } : {});
  if (r.op === 'embed') {
    if (!Array.isArray(body.instances) || body.instances.some((i) => typeof i.content !== 'string'))
      return sendJson(res, 400, errorBody(kind, 400, 'instances[].content is required'));
    return sendJson(res, 200, { predictions: body.instances.map((_, i) => ({ embeddings: { values: [i, 0.5, -0.25],
      statistics: { token_count: 3, truncated: false } } })) });
  }
  if (kind === 'anthropic') {
    if (body.anthropic_version !== 'vertex-2023-10-16' || body.model !== undefined)
      return sendJson(res, 400, errorBody(kind, 400, 'anthropic_version vertex-2023-10-16 is required and model must not be in the body'));
    if (!r.stream) return sendJson(res, 200, anthropicWhole(r.model, k));
    return stream(res, k, anthropicStream(r.model, k), sseNamed);
  }
  if (!r.stream) return sendJson(res, 200, geminiWhole(r.model, k));
  return stream(res, k, geminiStream(r.model, k), sseCrlf);
}

// ---- serving ------------------------------------------------------------------------------
function route(method, url) {
  const p = url.pathname;
  if (method === 'GET' && p === '/healthz') return { kind: 'health' };
  if (method === 'GET' && p === '/v1/models') return { kind: 'models', op: 'models' };
  if (method === 'GET' && p === '/v1beta/models') return { kind: 'gemini', op: 'models' };
  if (method === 'GET' && p === '/_mock/requests') return { kind: 'mock', op: 'list' };
  if (method === 'POST' && p === '/_mock/reset') return { kind: 'mock', op: 'reset' };
  if (method === 'GET' && p === '/_mock/tokens') return { kind: 'mock', op: 'tokens' };
  if (method === 'GET' && p === '/computeMetadata/v1/instance/service-accounts/default/token') return { kind: 'metadata' };
  if (method !== 'POST') return null;
  if (p === '/v1/chat/completions') return { kind: 'openai', op: 'chat' };
  if (p === '/v1/embeddings') return { kind: 'openai', op: 'embed' };
  if (p === '/v1/responses/input_tokens') return { kind: 'openai', op: 'count' };
  if (p === '/v1/responses') return { kind: 'openai', op: 'responses' };
  let m = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/.exec(p);
  if (m) return { kind: 'azure', op: m[2] === 'embeddings' ? 'embed' : 'chat', deployment: m[1] };
  if (p === '/v1/messages') return { kind: 'anthropic', op: 'chat' };
  if (p === '/v1/messages/count_tokens') return { kind: 'anthropic', op: 'count' };
  if (p === '/token') return { kind: 'token', op: 'token' };
  m = /^\/v1\/projects\/[^/]+\/locations\/[^/]+\/publishers\/(google|anthropic)\/models\/([^:/]+):(generateContent|streamGenerateContent|rawPredict|streamRawPredict)$/.exec(p);
  if (m) return { kind: 'vertex', op: 'chat', publisher: m[1], model: m[2], stream: m[3].startsWith('stream') };
  m = /^\/model\/([^/]+)\/(converse|converse-stream|invoke)$/.exec(p);
  if (m) return { kind: 'bedrock', op: m[2] === 'invoke' ? 'embed' : 'chat', stream: m[2] === 'converse-stream', model: decodeURIComponent(m[1]) };
  m = /^\/v1\/projects\/[^/]+\/locations\/[^/]+\/publishers\/google\/models\/([^:/]+):predict$/.exec(p);
  if (m) return { kind: 'vertex', op: 'embed', publisher: 'google', model: m[1] };
  m = /^\/v1beta\/models\/([^:/]+):(generateContent|streamGenerateContent|batchEmbedContents|countTokens)$/.exec(p);
  if (m) {
    const op = { batchEmbedContents: 'embed', countTokens: 'count' }[m[2]] || 'chat';
    return { kind: 'gemini', op, stream: m[2] === 'streamGenerateContent', model: m[1] };
  }
  return null;
}

function sendJson(res, status, obj, extra = {}) {
  const s = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s), ...extra });
  res.end(s);
}

async function stream(res, k, events, frame, type = 'text/event-stream') {
  res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache' });
  let n = 0;
  for (const ev of events) {
    if (k.cutAfter >= 0 && n >= k.cutAfter) {
      // flush what was written, then close without the final chunk: a cut stream
      res.socket.end();
      return;
    }
    if (n > 0 && k.gap) await sleep(k.gap);
    res.write(frame(ev));
    n++;
  }
  res.end();
}

const sseData = (d) => `data: ${typeof d === 'string' ? d : JSON.stringify(d)}\n\n`;
const sseNamed = ([name, d]) => `event: ${name}\ndata: ${JSON.stringify(d)}\n\n`;
const sseCrlf = (d) => `data: ${JSON.stringify(d)}\r\n\r\n`;

async function handle(req, res, raw) {
  const url = new URL(req.url, 'http://mock');
  const r = route(req.method, url);
  let body = null;
  try { body = raw.length ? JSON.parse(raw) : null; } catch { body = null; }
  if (r && r.kind !== 'mock') {
    seen.push({ method: req.method, path: req.url, headers: req.headers, body: raw.toString('utf8') });
    if (seen.length > 1000) seen.shift();
  }
  if (!r) return sendJson(res, 404, { error: { message: `no route for ${req.method} ${url.pathname}` } });
  if (r.kind === 'health') return sendJson(res, 200, { ok: true });
  if (r.kind === 'mock') {
    if (r.op === 'reset') seen.length = 0;
    return sendJson(res, 200, r.op === 'list' ? seen : r.op === 'tokens' ? { issued: tokensIssued } : { ok: true });
  }
  if (r.kind === 'bedrock') return handleBedrock(req, res, raw, url, r);
  if (r.kind === 'token') return tokenGrant(req, res, raw);
  if (r.kind === 'metadata') return metadataToken(req, res);
  if (r.kind === 'vertex') return handleVertex(req, res, raw, url, r);
  const kind = r.kind === 'openai' && (body?.model || '').startsWith('mistral') ? 'mistral' : r.kind;
  const key = keyOf(req, r.kind);
  if (!key || (KEY && key !== KEY)) return sendJson(res, 401, errorBody(kind, 401, 'invalid api key'));
  if (r.op === 'models') return sendJson(res, 200, { object: 'list', data: [{ id: 'mock-model', object: 'model', created: 0, owned_by: 'mock' }] });
  const k = knobs(req, url, body);
  if (k.firstByte) await sleep(k.firstByte);

  if (r.kind === 'anthropic' && !req.headers['anthropic-version']) return sendJson(res, 400, errorBody(kind, 400, 'anthropic-version header is required'));
  if (r.kind === 'azure' && !url.searchParams.get('api-version')) return sendJson(res, 404, errorBody(kind, 404, 'Resource not found'));
  if (!body && r.op !== 'count') return sendJson(res, 400, errorBody(kind, 400, 'body is not JSON'));
  if (k.status) {
    const extra = k.retryAfter ? { 'retry-after': k.retryAfter } : {};
    return sendJson(res, k.status, errorBody(kind, k.status, `mock status ${k.status}`), extra);
  }
  const model = (r.deployment || r.model || body.model || 'mock').split('@')[0];

  if (r.op === 'count' && r.kind === 'gemini') {
    // one token per word of every text part (contents and system instruction)
    const g = body.generateContentRequest || body;
    const texts = [...(g.contents || []), g.systemInstruction || { parts: [] }].flatMap((c) => c.parts.map((x) => x.text || ''));
    const n = texts.join(' ').split(/\s+/).filter(Boolean).length;
    return sendJson(res, 200, { totalTokens: n, promptTokensDetails: [{ modality: 'TEXT', tokenCount: n }] });
  }
  if (r.op === 'count' && r.kind === 'openai') {
    // one token per word of the instructions and of every text in the input items
    const texts = [body.instructions || ''];
    for (const it of body.input || []) {
      if (typeof it.content === 'string') texts.push(it.content);
      for (const c of Array.isArray(it.content) ? it.content : []) texts.push(c.text || '');
      if (typeof it.output === 'string') texts.push(it.output);
    }
    const n = texts.join(' ').split(/\s+/).filter(Boolean).length;
    return sendJson(res, 200, { object: 'response.input_tokens', input_tokens: n });
  }
  if (r.op === 'count') return sendJson(res, 200, { input_tokens: 11 });
  if (r.op === 'embed') {
    if (r.kind === 'gemini') {
      const n = (body.requests || []).length;
      return sendJson(res, 200, { embeddings: Array.from({ length: n }, (_, i) => ({ values: [i, 0.5, -0.25] })) });
    }
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    return sendJson(res, 200, { object: 'list', model,
      data: inputs.map((_, i) => ({ object: 'embedding', index: i, embedding: [i, 0.5, -0.25] })),
      usage: { prompt_tokens: 4 * inputs.length, total_tokens: 4 * inputs.length } });
  }
  if (r.op === 'responses') {
    const id = `resp_mock_${++responseCount}`;
    if (body.stream === true) return stream(res, k, responsesStream(model, k, id), sseNamed);
    return sendJson(res, 200, responsesWhole(model, k, id));
  }
  const wantStream = r.kind === 'gemini' ? r.stream : body.stream === true;
  if (!wantStream) {
    const whole = r.kind === 'anthropic' ? anthropicWhole(model, k) : r.kind === 'gemini' ? geminiWhole(model, k) : openaiWhole(model, k);
    if (k.cutAfter >= 0) {
      const s = JSON.stringify(whole);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
      res.write(s.slice(0, s.length >> 1));
      res.socket.end();
      return;
    }
    return sendJson(res, 200, whole);
  }
  if (r.kind === 'anthropic') return stream(res, k, anthropicStream(model, k), sseNamed);
  if (r.kind === 'gemini') return stream(res, k, geminiStream(model, k), sseCrlf);
  return stream(res, k, openaiStream(model, k, body), sseData);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    handle(req, res, Buffer.concat(chunks)).catch((e) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: String(e) } });
      else res.destroy();
    });
  });
});
server.keepAliveTimeout = 60000;
server.listen(PORT, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
