// ai_openai.test.mjs: the official `openai` npm client against Portico's OpenAI-format AI
// endpoints, with OpenAI (passthrough), Anthropic and Gemini providers behind them (the
// provider test upstream tests/upstreams/ai/server.mjs): chat, streams with usage, parallel
// tool calls streamed and not, embeddings, the model list, and errors as the SDK's own types.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { EXPECTED_CALLS, MOCK_SIGNATURE, MOCK_SIGNATURE_URL, OPENAI_TOOLS, geminiCalls, startAi } from './ai_harness.mjs';

const GOOD = 'mock-good-key-0001';
const LEAKY = 'sk-rejected-key-must-not-leak-4b1d';

let h;
let client;

before(async () => {
  h = await startAi({
    mockKey: GOOD,
    extraEnv: { AI_TEST_GOOD_KEY: GOOD },
    config: (mp) => `providers:
  - { name: oai, type: openai, base_url: "http://127.0.0.1:${mp}/v1", api_keys: ["\${AI_TEST_GOOD_KEY}"] }
  - { name: ant, type: anthropic, base_url: "http://127.0.0.1:${mp}", api_key: "${GOOD}" }
  - { name: gem, type: gemini, base_url: "http://127.0.0.1:${mp}", api_key: "${GOOD}" }
  - { name: locked-out, type: openai, base_url: "http://127.0.0.1:${mp}/v1", api_key: "${LEAKY}" }
models:
  - { name: gpt-4o, targets: [{ provider: oai, model: gpt-4o }] }
  - { name: claude, targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
  - { name: gemini, targets: [{ provider: gem, model: gemini-2.5-flash }] }
  - { name: embed-small, targets: [{ provider: oai, model: text-embedding-3-small }] }
  - { name: gemini-embed, targets: [{ provider: gem, model: gemini-embedding-001 }] }
  - { name: denied, targets: [{ provider: locked-out, model: gpt-4o }] }
`,
  });
  // The client's own key is not checked by Portico (no consumers configured yet).
  client = new OpenAI({ apiKey: 'client-key', baseURL: `${h.url}/v1`, maxRetries: 0, timeout: 10000 });
});

after(async () => { if (h) await h.stop(); });

const user = (text) => [{ role: 'user', content: text }];

// The three provider kinds the same OpenAI client reaches through Portico.
const KINDS = [
  { model: 'gpt-4o', upstream: 'gpt-4o', what: 'OpenAI provider (passthrough)' },
  { model: 'claude', upstream: 'claude-sonnet-4-5', what: 'Anthropic provider (translated)' },
  { model: 'gemini', upstream: 'gemini-2.5-flash', what: 'Gemini provider (translated)' },
];

/** Drains an SDK stream: text, tool calls accumulated by index, finish reason, usage chunks. */
async function drain(stream) {
  const out = { text: '', tools: [], finish: null, usage: [], chunks: 0 };
  for await (const chunk of stream) {
    out.chunks++;
    if (chunk.usage) out.usage.push(chunk.usage);
    for (const c of chunk.choices) {
      if (c.delta?.content) out.text += c.delta.content;
      for (const tc of c.delta?.tool_calls || []) {
        const t = (out.tools[tc.index] ||= { id: '', name: '', arguments: '' });
        if (tc.id) t.id = tc.id;
        if (tc.function?.name) t.name += tc.function.name;
        if (tc.function?.arguments) t.arguments += tc.function.arguments;
      }
      if (c.finish_reason) out.finish = c.finish_reason;
    }
  }
  return out;
}

// ---- chat --------------------------------------------------------------------------------------

for (const k of KINDS) {
  test(`plain chat through the ${k.what}`, async () => {
    const r = await client.chat.completions.create({ model: k.model, messages: user('Say hello') });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].message.content, 'Hello w1 w2');
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.usage.prompt_tokens, 11);
    assert.equal(r.usage.completion_tokens, 3);
    assert.equal(r.usage.total_tokens, 14);
  });
}

test('the upstream gets the configured model name and key, never the client key', async () => {
  await h.mockReset();
  await client.chat.completions.create({ model: 'claude', messages: user('Say hello') });
  const seen = await h.mockRequests();
  assert.equal(seen.length, 1);
  assert.equal(seen[0].path, '/v1/messages');
  assert.equal(seen[0].headers['x-api-key'], GOOD);
  assert.equal(JSON.parse(seen[0].body).model, 'claude-sonnet-4-5');
  assert.ok(!JSON.stringify(seen[0]).includes('client-key'), 'the client key reached the provider');
});

// ---- streams -----------------------------------------------------------------------------------

for (const k of KINDS) {
  test(`stream with include_usage through the ${k.what}: deltas and a usage chunk`, async () => {
    const stream = await client.chat.completions.create({
      model: k.model, messages: user('Count [mock events=6]'), stream: true, stream_options: { include_usage: true },
    });
    const d = await drain(stream);
    assert.equal(d.text, 'Hello w1 w2 w3 w4 w5');
    assert.equal(d.finish, 'stop');
    assert.equal(d.usage.length, 1, 'exactly one chunk carries usage');
    assert.equal(d.usage[0].prompt_tokens, 11);
    assert.equal(d.usage[0].completion_tokens, 6);
    assert.equal(d.usage[0].total_tokens, 17);
  });
}

for (const k of [KINDS[0], KINDS[1]]) {
  test(`stream without include_usage through the ${k.what}: no usage chunk reaches the client`, async () => {
    const stream = await client.chat.completions.create({ model: k.model, messages: user('Say hello'), stream: true });
    const d = await drain(stream);
    assert.equal(d.text, 'Hello w1 w2');
    assert.equal(d.finish, 'stop');
    assert.deepEqual(d.usage, []);
  });
}

test('the SDK stream helper assembles the final completion', async () => {
  const runner = client.chat.completions.stream({
    model: 'claude', messages: user('Count [mock events=4]'), stream_options: { include_usage: true },
  });
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].message.content, 'Hello w1 w2 w3');
  assert.equal(final.choices[0].finish_reason, 'stop');
  assert.equal(final.usage.completion_tokens, 4);
});

// ---- tool calls --------------------------------------------------------------------------------

const ask = { messages: user("What's the weather in Paris and Zürich? [mock tools=1]"), tools: OPENAI_TOOLS };

for (const k of KINDS) {
  test(`two parallel tool calls, whole answer, through the ${k.what}`, async () => {
    const r = await client.chat.completions.create({ model: k.model, ...ask });
    const m = r.choices[0].message;
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    assert.equal(m.tool_calls.length, 2);
    for (const [i, tc] of m.tool_calls.entries()) {
      assert.equal(tc.type, 'function');
      assert.equal(tc.function.name, 'get_weather');
      assert.ok(tc.id.length > 0, 'tool call id');
      assert.deepEqual(JSON.parse(tc.function.arguments), EXPECTED_CALLS[i]);
    }
    assert.notEqual(m.tool_calls[0].id, m.tool_calls[1].id);
    assert.equal(r.usage.completion_tokens, 23);
  });

  test(`two parallel tool calls, streamed, through the ${k.what}`, async () => {
    const stream = await client.chat.completions.create({
      model: k.model, ...ask, stream: true, stream_options: { include_usage: true },
    });
    const d = await drain(stream);
    assert.equal(d.finish, 'tool_calls');
    assert.equal(d.tools.length, 2);
    for (const [i, t] of d.tools.entries()) {
      assert.equal(t.name, 'get_weather');
      assert.ok(t.id.length > 0, 'tool call id');
      assert.deepEqual(JSON.parse(t.arguments), EXPECTED_CALLS[i]);
    }
    assert.notEqual(d.tools[0].id, d.tools[1].id);
    assert.equal(d.usage.length, 1);
    assert.equal(d.usage[0].completion_tokens, 23);
  });
}

test('the SDK stream helper parses streamed tool calls translated from Anthropic', async () => {
  const runner = client.chat.completions.stream({ model: 'claude', ...ask });
  const final = await runner.finalChatCompletion();
  const calls = final.choices[0].message.tool_calls;
  assert.equal(calls.length, 2);
  assert.deepEqual(calls.map((c) => JSON.parse(c.function.arguments)), EXPECTED_CALLS);
});

test('a tool result turn is sent on to the Anthropic provider as tool_use / tool_result blocks', async () => {
  await h.mockReset();
  const r = await client.chat.completions.create({
    model: 'claude',
    tools: OPENAI_TOOLS,
    messages: [
      ...user("What's the weather in Paris?"),
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_a', content: 'sunny' },
    ],
  });
  assert.equal(r.choices[0].message.content, 'Hello w1 w2');
  const [req] = await h.mockRequests();
  const body = JSON.parse(req.body);
  assert.deepEqual(body.messages[1].content, [{ type: 'tool_use', id: 'call_a', name: 'get_weather', input: { city: 'Paris' } }]);
  assert.equal(body.messages[2].role, 'user');
  assert.equal(body.messages[2].content[0].type, 'tool_result');
  assert.equal(body.messages[2].content[0].tool_use_id, 'call_a');
});

// Gemini 3 refuses a turn that gives a signed call back without its signature.
test('a Gemini-signed tool call goes back to Gemini signed, with extra_content kept or only the id', async () => {
  const r = await client.chat.completions.create({
    model: 'gemini', tools: OPENAI_TOOLS, messages: user("What's the weather in Paris and Zürich? [mock tools=1 signed=1]"),
  });
  const m = r.choices[0].message;
  assert.equal(m.tool_calls[0].extra_content?.google?.thought_signature, MOCK_SIGNATURE);
  assert.ok(m.tool_calls[0].id.endsWith(`__sig__${MOCK_SIGNATURE_URL}`), m.tool_calls[0].id);
  assert.equal(m.tool_calls[1].extra_content, undefined);
  assert.ok(!m.tool_calls[1].id.includes('__sig__'));
  const results = m.tool_calls.map((tc) => ({ role: 'tool', tool_call_id: tc.id, content: 'sunny' }));
  // as the SDK returned it, and rebuilt from id/type/function only (as many frameworks do)
  const rebuilt = { role: 'assistant', content: null, tool_calls: m.tool_calls.map(({ id, type, function: f }) => ({ id, type, function: f })) };
  for (const [what, assistant, want] of [['whole message', m, MOCK_SIGNATURE], ['rebuilt', rebuilt, MOCK_SIGNATURE_URL]]) {
    await h.mockReset();
    await client.chat.completions.create({ model: 'gemini', tools: OPENAI_TOOLS, messages: [...user("What's the weather?"), assistant, ...results] });
    const [req] = await h.mockRequests();
    const calls = geminiCalls(req.body);
    assert.equal(calls.length, 2, what);
    assert.equal(calls[0].thoughtSignature, want, what);
    assert.equal(calls[1].thoughtSignature, undefined, what);
    assert.deepEqual(Buffer.from(calls[0].thoughtSignature, 'base64'), Buffer.from(MOCK_SIGNATURE, 'base64'), what);
  }
});

test('a streamed Gemini-signed tool call carries its signature in the id', async () => {
  const stream = await client.chat.completions.create({
    model: 'gemini', stream: true, tools: OPENAI_TOOLS, messages: user("What's the weather in Paris and Zürich? [mock tools=1 signed=1]"),
  });
  const d = await drain(stream);
  assert.equal(d.tools.length, 2);
  assert.ok(d.tools[0].id.endsWith(`__sig__${MOCK_SIGNATURE_URL}`), d.tools[0].id);
  assert.ok(!d.tools[1].id.includes('__sig__'));
});

test('the same signed ids reach an Anthropic provider bare', async () => {
  await h.mockReset();
  const id = `call_x__sig__${MOCK_SIGNATURE_URL}`;
  await client.chat.completions.create({
    model: 'claude', tools: OPENAI_TOOLS,
    messages: [...user('Weather?'), { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: id, content: 'sunny' }],
  });
  const [req] = await h.mockRequests();
  const body = JSON.parse(req.body);
  assert.equal(body.messages[1].content[0].id, 'call_x');
  assert.equal(body.messages[2].content[0].tool_use_id, 'call_x');
});

test('a PDF file part reaches an Anthropic provider as a document block', async () => {
  await h.mockReset();
  const pdf = Buffer.from('%PDF-1.4 test').toString('base64');
  const r = await client.chat.completions.create({
    model: 'claude',
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Summarise.' }, { type: 'file', file: { filename: 'r.pdf', file_data: `data:application/pdf;base64,${pdf}` } }] }],
  });
  assert.equal(r.choices[0].message.content, 'Hello w1 w2');
  const [req] = await h.mockRequests();
  const doc = JSON.parse(req.body).messages[0].content[1];
  assert.deepEqual(doc, { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf }, title: 'r.pdf' });
});

// ---- embeddings --------------------------------------------------------------------------------

test('passthrough to the OpenAI provider', async () => {
  const r = await client.embeddings.create({ model: 'embed-small', input: ['one', 'two'], encoding_format: 'float' });
  assert.equal(r.data.length, 2);
  assert.deepEqual(r.data.map((e) => e.index), [0, 1]);
  assert.deepEqual(r.data[0].embedding, [0, 0.5, -0.25]);
  assert.deepEqual(r.data[1].embedding, [1, 0.5, -0.25]);
  assert.equal(r.usage.prompt_tokens, 8);
});

test('translated to Gemini, in the SDK default base64 encoding', async () => {
  const r = await client.embeddings.create({ model: 'gemini-embed', input: ['one', 'two', 'three'] });
  assert.equal(r.data.length, 3);
  for (const [i, e] of r.data.entries()) {
    assert.equal(e.index, i);
    assert.deepEqual(e.embedding, [i, 0.5, -0.25]);
  }
});

// ---- models ------------------------------------------------------------------------------------

test('client.models.list() lists the configured public model names', async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    assert.equal(m.object, 'model');
    ids.push(m.id);
  }
  assert.deepEqual(ids.sort(), ['claude', 'denied', 'embed-small', 'gemini', 'gemini-embed', 'gpt-4o']);
});

test('client.models.retrieve() returns one configured model, and an unknown one is a NotFoundError', async () => {
  const m = await client.models.retrieve('claude');
  assert.equal(m.id, 'claude');
  assert.equal(m.object, 'model');
  assert.equal(m.owned_by, 'ant');
  await assert.rejects(client.models.retrieve('no-such-model'), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.code, 'model_not_found');
    return true;
  });
});

// ---- errors ------------------------------------------------------------------------------------

test('an unknown model is an openai.NotFoundError with status 404', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages: user('hi') }), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.status, 404);
    assert.equal(e.code, 'model_not_found');
    assert.match(e.message, /no-such-model/);
    return true;
  });
});

test('an unknown model asked for as a stream is a NotFoundError too', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages: user('hi'), stream: true }), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.status, 404);
    return true;
  });
});

test('a missing messages field is an openai.BadRequestError naming the field', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'gpt-4o' }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.status, 400);
    assert.equal(e.type, 'invalid_request_error');
    assert.match(e.message, /messages/);
    return true;
  });
});

// A passthrough body is checked only at the top level (the provider checks the rest), so
// the mistyped content is sent to a model that needs translation.
test('a mistyped field is a BadRequestError naming its path', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 42 }] }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.param, 'messages[0].content');
    assert.match(e.message, /messages\[0\]\.content/);
    return true;
  });
});

for (const k of [KINDS[0], KINDS[1]]) {
  test(`a 400 from the ${k.what} is a BadRequestError, not retried`, async () => {
    await h.mockReset();
    await assert.rejects(client.chat.completions.create({ model: k.model, messages: user('hi [mock status=400]') }), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
      assert.equal(e.status, 400);
      assert.match(e.message, /mock status 400/);
      return true;
    });
    assert.equal((await h.mockRequests()).length, 1);
  });
}

test('invalid JSON is a 400 in the OpenAI error format', async () => {
  const r = await fetch(`${h.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":' });
  assert.equal(r.status, 400);
  const b = await r.json();
  assert.equal(b.error.type, 'invalid_request_error');
  assert.equal(typeof b.error.message, 'string');
});

test('an upstream 401 is a 502 (InternalServerError) naming the provider, never the key', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'denied', messages: user('hi') }), (e) => {
    assert.ok(e instanceof OpenAI.InternalServerError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.status, 502);
    assert.equal(e.code, 'upstream_auth_failed');
    assert.match(e.message, /locked-out/);
    assert.ok(!e.message.includes(LEAKY), 'the key is in the message');
    assert.ok(!JSON.stringify(e.error).includes(LEAKY), 'the key is in the error body');
    return true;
  });
  // the whole response, headers included, never carries the key
  const r = await fetch(`${h.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'denied', messages: user('hi') }),
  });
  const raw = [...r.headers].map(([k, v]) => `${k}: ${v}`).join('\n') + '\n\n' + await r.text();
  assert.equal(r.status, 502);
  assert.ok(!raw.includes(LEAKY), `the key is in the response:\n${raw}`);
  assert.ok(!raw.includes(LEAKY.slice(3, 20)), 'part of the key is in the response');
  assert.ok(!h.errorLog().includes(LEAKY), 'the key is in the error log');
});
