// limits_sdk.test.mjs: the official `openai` and `@anthropic-ai/sdk` clients against routes
// under policies: a refusal reaches each SDK as its own RateLimitError (status 429, the
// provider's error type), with the wait readable from Retry-After, and allowed answers
// carry the RateLimit fields. A model-scoped policy refuses in the client's format too, and
// gives back what the route's policy took. A tokens-per-minute refusal and a spent budget
// reach both SDKs as their RateLimitError too, with messages naming the window or budget.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startAi } from './ai_harness.mjs';

const GOOD = 'mock-good-key-0001';
let h, openai, anthropic, free;

before(async () => {
  h = await startAi({
    mockKey: GOOD,
    config: (mp) => `providers:
  - { name: oai, type: openai, base_url: "http://127.0.0.1:${mp}/v1", api_key: "${GOOD}" }
  - { name: ant, type: anthropic, base_url: "http://127.0.0.1:${mp}", api_key: "${GOOD}" }
  - name: oai-dear
    type: openai
    base_url: "http://127.0.0.1:${mp}/v1"
    api_key: "${GOOD}"
    prices: { gpt-4o: { input: 300, output: 1000 } }
  - name: ant-dear
    type: anthropic
    base_url: "http://127.0.0.1:${mp}"
    api_key: "${GOOD}"
    prices: { claude-sonnet-4-5: { input: 300, output: 1000 } }
models:
  - { name: gpt-4o, targets: [{ provider: oai, model: gpt-4o }] }
  - { name: claude, targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
  - { name: tok-gpt, targets: [{ provider: oai, model: gpt-4o }] }
  - { name: tok-claude, targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
  - { name: spend-gpt, targets: [{ provider: oai-dear, model: gpt-4o }] }
  - { name: spend-claude, targets: [{ provider: ant-dear, model: claude-sonnet-4-5 }] }
routes:
  - { name: oai-route, match: { path_prefix: "/o/" }, strip_prefix: true, ai: {} }
  - { name: ant-route, match: { path_prefix: "/a/" }, strip_prefix: true, ai: {} }
  - { name: free-route, match: { path_prefix: "/f/" }, strip_prefix: true, ai: {} }
policies:
  - name: openai-clients
    applies_to: { route: oai-route }
    rate: { requests: 2, per: 1h }
  - name: claude-calls
    applies_to: { model: claude }
    rate: { requests: 1, per: 1h }
  - name: gpt-tokens
    applies_to: { model: tok-gpt }
    tokens: { per_minute: 500 }
  - name: claude-tokens
    applies_to: { model: tok-claude }
    tokens: { per_minute: 500 }
  - name: gpt-budget
    applies_to: { model: spend-gpt }
    budget: { usd_per_day: 0.005 }
  - name: claude-budget
    applies_to: { model: spend-claude }
    budget: { usd_per_month: 0.005 }
`,
  });
  openai = new OpenAI({ apiKey: 'client-key', baseURL: `${h.url}/o/v1`, maxRetries: 0, timeout: 10000 });
  free = new OpenAI({ apiKey: 'client-key', baseURL: `${h.url}/f/v1`, maxRetries: 0, timeout: 10000 });
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

// The test upstream answers "[mock events=300]" with 300 tokens (+ 11 of prompt).
const BIG = 'hello [mock events=300]';

test('OpenAI: a tokens-per-minute refusal is the SDK\'s RateLimitError', async () => {
  await free.chat.completions.create({ model: 'tok-gpt', max_tokens: 400, messages: user(BIG) });
  // 311 of 500 used: about 405 more do not fit
  const e = await refusal(free.chat.completions.create({ model: 'tok-gpt', max_tokens: 400, messages: user(BIG) }));
  assert.ok(e instanceof OpenAI.RateLimitError, `got ${e?.constructor?.name}: ${e?.message}`);
  assert.equal(e.code, 'rate_limit_exceeded');
  assert.match(e.message, /policy 'gpt-tokens' allows 500 tokens per minute/);
  const wait = retryAfter(e);
  assert.ok(wait >= 1 && wait <= 60, `retry-after ${wait}`);
  assert.equal(e.headers.get('ratelimit'), `"gpt-tokens/tokens";r=0;t=${wait}`);
});

test('Anthropic: a tokens-per-minute refusal is the SDK\'s RateLimitError', async () => {
  await anthropic.messages.create({ model: 'tok-claude', max_tokens: 400, messages: user(BIG) });
  const e = await refusal(anthropic.messages.create({ model: 'tok-claude', max_tokens: 400, messages: user(BIG) }));
  assert.ok(e instanceof Anthropic.RateLimitError, `got ${e?.constructor?.name}: ${e?.message}`);
  assert.equal(e.error?.error?.type, 'rate_limit_error');
  assert.match(e.error.error.message, /policy 'claude-tokens' allows 500 tokens per minute/);
  assert.ok(retryAfter(e) >= 1);
});

test('OpenAI: a spent budget is the SDK\'s RateLimitError naming the budget', async () => {
  // 11 x $300 + 3 x $1,000 per million tokens: $0.0063, past the $0.005 a day
  await free.chat.completions.create({ model: 'spend-gpt', messages: user('hi') });
  const e = await refusal(free.chat.completions.create({ model: 'spend-gpt', messages: user('hi') }));
  assert.ok(e instanceof OpenAI.RateLimitError, `got ${e?.constructor?.name}: ${e?.message}`);
  assert.match(e.message, /^429 budget usd_per_day of policy 'gpt-budget' is spent: \$0\.006300 of \$0\.005000 this day/);
  assert.ok(retryAfter(e) >= 1 && retryAfter(e) <= 86400);
});

test('Anthropic: a spent streamed budget is the SDK\'s RateLimitError naming the budget', async () => {
  const stream = anthropic.messages.stream({ model: 'spend-claude', max_tokens: 32, messages: user('hi') });
  const final = await stream.finalMessage();
  assert.equal(final.type, 'message');
  const e = await refusal(anthropic.messages.create({ model: 'spend-claude', max_tokens: 32, messages: user('hi') }));
  assert.ok(e instanceof Anthropic.RateLimitError, `got ${e?.constructor?.name}: ${e?.message}`);
  assert.match(e.error.error.message, /^budget usd_per_month of policy 'claude-budget' is spent/);
});
