// limits_sdk.test.mjs: the official `openai` and `@anthropic-ai/sdk` clients against routes
// under policies: a refusal reaches each SDK as its own RateLimitError (status 429, the
// provider's error type), with the wait readable from Retry-After, and allowed answers
// carry the RateLimit fields. A model-scoped policy refuses in the client's format too, and
// gives back what the route's policy took.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startAi } from './ai_harness.mjs';

const GOOD = 'mock-good-key-0001';
let h, openai, anthropic;

before(async () => {
  h = await startAi({
    mockKey: GOOD,
    config: (mp) => `providers:
  - { name: oai, type: openai, base_url: "http://127.0.0.1:${mp}/v1", api_key: "${GOOD}" }
  - { name: ant, type: anthropic, base_url: "http://127.0.0.1:${mp}", api_key: "${GOOD}" }
models:
  - { name: gpt-4o, targets: [{ provider: oai, model: gpt-4o }] }
  - { name: claude, targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
routes:
  - { name: oai-route, match: { path_prefix: "/o/" }, strip_prefix: true, ai: {} }
  - { name: ant-route, match: { path_prefix: "/a/" }, strip_prefix: true, ai: {} }
policies:
  - name: openai-clients
    applies_to: { route: oai-route }
    rate: { requests: 2, per: 1h }
  - name: claude-calls
    applies_to: { model: claude }
    rate: { requests: 1, per: 1h }
`,
  });
  openai = new OpenAI({ apiKey: 'client-key', baseURL: `${h.url}/o/v1`, maxRetries: 0, timeout: 10000 });
  anthropic = new Anthropic({ apiKey: 'client-key', baseURL: `${h.url}/a`, maxRetries: 0, timeout: 10000 });
});

after(async () => { if (h) await h.stop(); });

const user = (text) => [{ role: 'user', content: text }];
const chat = (model) => openai.chat.completions.create({ model, messages: user('hi') });
const message = () => anthropic.messages.create({ model: 'claude', max_tokens: 32, messages: user('hi') });

/** The error a call rejects with (fails when it resolves). */
async function refusal(p) {
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail('the call was expected to be refused');
}

/** Seconds to wait, as a client reads them from the error's headers. */
function retryAfter(e) {
  const v = typeof e.headers?.get === 'function' ? e.headers.get('retry-after') : e.headers?.['retry-after'];
  return Number(v);
}

test('OpenAI: an allowed answer carries the RateLimit fields', async () => {
  const { data, response } = await openai.chat.completions.create({ model: 'gpt-4o', messages: user('hi') }).withResponse();
  assert.ok(data.choices[0].message.content.length > 0);
  assert.equal(response.headers.get('ratelimit-policy'), '"openai-clients";q=2;w=3600');
  assert.match(response.headers.get('ratelimit'), /^"openai-clients";r=1;t=\d+$/);
});

test('Anthropic: the first call to a model under a policy passes, with the fields', async () => {
  const { data, response } = await anthropic.messages.create({ model: 'claude', max_tokens: 32, messages: user('hi') }).withResponse();
  assert.equal(data.type, 'message');
  assert.equal(response.headers.get('ratelimit-policy'), '"claude-calls";q=1;w=3600');
});

test('Anthropic: a refusal is the SDK\'s RateLimitError with the wait readable', async () => {
  const e = await refusal(message());
  assert.ok(e instanceof Anthropic.RateLimitError, `got ${e?.constructor?.name}: ${e?.message}`);
  assert.equal(e.status, 429);
  assert.equal(e.error?.type, 'error');
  assert.equal(e.error?.error?.type, 'rate_limit_error');
  assert.match(e.error.error.message, /policy 'claude-calls' allows 1 requests per 3600 s/);
  const wait = retryAfter(e);
  assert.ok(wait >= 3599 && wait <= 3600, `retry-after ${wait}`);
});

test('OpenAI: a model-scoped refusal is the SDK\'s RateLimitError and takes nothing from the route', async () => {
  const e = await refusal(chat('claude'));
  assert.ok(e instanceof OpenAI.RateLimitError, `got ${e?.constructor?.name}: ${e?.message}`);
  assert.equal(e.status, 429);
  assert.equal(e.type, 'rate_limit_error');
  assert.equal(e.code, 'rate_limit_exceeded');
  assert.match(e.message, /claude-calls/);
  // the route's window still has its second call
  const { response } = await openai.chat.completions.create({ model: 'gpt-4o', messages: user('hi') }).withResponse();
  assert.match(response.headers.get('ratelimit'), /^"openai-clients";r=0;t=\d+$/);
});

test('OpenAI: the route\'s policy refuses the third call as the SDK\'s RateLimitError', async () => {
  const e = await refusal(chat('gpt-4o'));
  assert.ok(e instanceof OpenAI.RateLimitError, `got ${e?.constructor?.name}: ${e?.message}`);
  assert.equal(e.code, 'rate_limit_exceeded');
  assert.match(e.message, /policy 'openai-clients' allows 2 requests per 3600 s/);
  const wait = retryAfter(e);
  assert.ok(wait >= 1 && wait <= 3600, `retry-after ${wait}`);
  assert.equal(e.headers.get('ratelimit'), `"openai-clients";r=0;t=${wait}`);
  // the access log is written by its own thread: wait for the line
  const logged = /"status":429.*"error":"rate_limited"/;
  for (let i = 0; i < 200 && !logged.test(h.accessLog()); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(h.accessLog(), logged);
});
