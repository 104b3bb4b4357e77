// ai_anthropic.test.mjs: the official `@anthropic-ai/sdk` client against Portico's Anthropic
// Messages endpoints, with Anthropic (passthrough), OpenAI and Gemini providers behind them
// (the provider test upstream tests/upstreams/ai/server.mjs): messages, streams with usage,
// parallel tool calls streamed and not, count_tokens, the model list, and errors as the
// SDK's own types.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { ANTHROPIC_TOOLS, EXPECTED_CALLS, MOCK_SIGNATURE, MOCK_SIGNATURE_URL, geminiCalls, startAi } from './ai_harness.mjs';

const GOOD = 'mock-good-key-0002';
const LEAKY = 'sk-ant-rejected-key-must-not-leak-9e2c';

let h;
let client;

before(async () => {
  h = await startAi({
    mockKey: GOOD,
    config: (mp) => `providers:
  - { name: ant, type: anthropic, base_url: "http://127.0.0.1:${mp}", api_key: "${GOOD}" }
  - { name: oai, type: openai, base_url: "http://127.0.0.1:${mp}/v1", api_key: "${GOOD}" }
  - { name: gem, type: gemini, base_url: "http://127.0.0.1:${mp}", api_key: "${GOOD}" }
  - { name: compat, type: openai_compatible, base_url: "http://127.0.0.1:${mp}/v1", api_key: "${GOOD}" }
  - { name: ant-locked-out, type: anthropic, base_url: "http://127.0.0.1:${mp}", api_key: "${LEAKY}" }
models:
  - { name: claude, targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
  - { name: gpt-4o, targets: [{ provider: oai, model: gpt-4o }] }
  - { name: gemini, targets: [{ provider: gem, model: gemini-2.5-flash }] }
  - { name: denied, targets: [{ provider: ant-locked-out, model: claude-sonnet-4-5 }] }
  - { name: local, targets: [{ provider: compat, model: llama }] }
  - { name: no-counter, targets: [{ provider: oai, model: "gpt-4o@status=404" }] }
`,
  });
  client = new Anthropic({ apiKey: 'client-key', baseURL: h.url, maxRetries: 0, timeout: 10000 });
});

after(async () => { if (h) await h.stop(); });

const user = (text) => [{ role: 'user', content: text }];

const KINDS = [
  { model: 'claude', what: 'Anthropic provider (passthrough)' },
  { model: 'gpt-4o', what: 'OpenAI provider (translated)' },
  { model: 'gemini', what: 'Gemini provider (translated)' },
];

/** Reads a raw event stream: text, tool inputs by block index, stop reason, usage as merged by the SDK rules. */
async function drain(stream) {
  const out = { text: '', blocks: [], stop: null, usage: {}, types: [] };
  for await (const ev of stream) {
    out.types.push(ev.type);
    if (ev.type === 'message_start') Object.assign(out.usage, ev.message.usage);
    if (ev.type === 'content_block_start') out.blocks[ev.index] = { ...ev.content_block, json: '' };
    if (ev.type === 'content_block_delta') {
      if (ev.delta.type === 'text_delta') out.text += ev.delta.text;
      if (ev.delta.type === 'input_json_delta') out.blocks[ev.index].json += ev.delta.partial_json;
    }
    if (ev.type === 'message_delta') {
      out.stop = ev.delta.stop_reason;
      for (const [k, v] of Object.entries(ev.usage)) if (v != null) out.usage[k] = v;
    }
  }
  return out;
}

// ---- messages ----------------------------------------------------------------------------------

for (const k of KINDS) {
  test(`plain message through the ${k.what}`, async () => {
    const m = await client.messages.create({ model: k.model, max_tokens: 100, messages: user('Say hello') });
    assert.equal(m.type, 'message');
    assert.equal(m.role, 'assistant');
    assert.deepEqual(m.content.map((b) => b.type), ['text']);
    assert.equal(m.content[0].text, 'Hello w1 w2');
    assert.equal(m.stop_reason, 'end_turn');
    assert.equal(m.usage.input_tokens, 11);
    assert.equal(m.usage.output_tokens, 3);
  });
}

test('a system prompt reaches an OpenAI provider as the first system message', async () => {
  await h.mockReset();
  await client.messages.create({ model: 'gpt-4o', max_tokens: 50, system: 'Be brief.', messages: user('Say hello') });
  const [req] = await h.mockRequests();
  assert.equal(req.path, '/v1/chat/completions');
  assert.equal(req.headers.authorization, `Bearer ${GOOD}`);
  const body = JSON.parse(req.body);
  assert.equal(body.model, 'gpt-4o');
  assert.equal(body.messages[0].role, 'system');
  assert.equal(body.messages[0].content, 'Be brief.');
  assert.equal(body.messages.at(-1).content, 'Say hello');
});

// ---- streams -----------------------------------------------------------------------------------

for (const k of KINDS) {
  test(`raw event stream through the ${k.what}: deltas, stop reason and usage`, async () => {
    const stream = await client.messages.create({ model: k.model, max_tokens: 100, messages: user('Count [mock events=6]'), stream: true });
    const d = await drain(stream);
    assert.equal(d.types[0], 'message_start');
    assert.equal(d.types.at(-1), 'message_stop');
    assert.equal(d.text, 'Hello w1 w2 w3 w4 w5');
    assert.equal(d.stop, 'end_turn');
    assert.equal(d.usage.input_tokens, 11);
    assert.equal(d.usage.output_tokens, 6);
  });

  test(`messages.stream() helper through the ${k.what}: text events and the final message`, async () => {
    const s = client.messages.stream({ model: k.model, max_tokens: 100, messages: user('Count [mock events=4]') });
    let text = '';
    s.on('text', (t) => { text += t; });
    const m = await s.finalMessage();
    assert.equal(text, 'Hello w1 w2 w3');
    assert.equal(m.content[0].text, 'Hello w1 w2 w3');
    assert.equal(m.stop_reason, 'end_turn');
    assert.equal(m.usage.input_tokens, 11);
    assert.equal(m.usage.output_tokens, 4);
  });
}

// ---- tool calls --------------------------------------------------------------------------------

const ask = { max_tokens: 200, tools: ANTHROPIC_TOOLS, messages: user("What's the weather in Paris and Zürich? [mock tools=1]") };

/** The tool_use blocks of a final message, checked against the two expected calls. */
function checkToolUse(content) {
  const uses = content.filter((b) => b.type === 'tool_use');
  assert.equal(uses.length, 2);
  for (const [i, b] of uses.entries()) {
    assert.equal(b.name, 'get_weather');
    assert.ok(b.id.length > 0, 'tool_use id');
    assert.deepEqual(b.input, EXPECTED_CALLS[i]);
  }
  assert.notEqual(uses[0].id, uses[1].id);
}

for (const k of KINDS) {
  test(`two parallel tool_use blocks, whole answer, through the ${k.what}`, async () => {
    const m = await client.messages.create({ model: k.model, ...ask });
    assert.equal(m.stop_reason, 'tool_use');
    assert.equal(m.content[0].type, 'text');
    checkToolUse(m.content);
    assert.equal(m.usage.output_tokens, 23);
  });

  test(`two parallel tool_use blocks, streamed, through the ${k.what}`, async () => {
    const stream = await client.messages.create({ model: k.model, ...ask, stream: true });
    const d = await drain(stream);
    assert.equal(d.stop, 'tool_use');
    const uses = d.blocks.filter((b) => b && b.type === 'tool_use');
    assert.equal(uses.length, 2);
    assert.deepEqual(uses.map((b) => JSON.parse(b.json)), EXPECTED_CALLS);
    assert.deepEqual(uses.map((b) => b.name), ['get_weather', 'get_weather']);
    assert.equal(d.usage.output_tokens, 23);

    const final = await client.messages.stream({ model: k.model, ...ask }).finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    checkToolUse(final.content);
  });
}

test('a Gemini-signed tool_use goes back to Gemini with its signature', async () => {
  const m = await client.messages.create({
    model: 'gemini', max_tokens: 100, tools: ANTHROPIC_TOOLS, messages: user("What's the weather in Paris and Zürich? [mock tools=1 signed=1]"),
  });
  const uses = m.content.filter((b) => b.type === 'tool_use');
  assert.equal(uses.length, 2);
  assert.match(uses[0].id, /^[a-zA-Z0-9_-]+$/); // Anthropic's own pattern for tool_use ids
  assert.ok(uses[0].id.endsWith(`__sig__${MOCK_SIGNATURE_URL}`), uses[0].id);
  await h.mockReset();
  await client.messages.create({
    model: 'gemini', max_tokens: 100, tools: ANTHROPIC_TOOLS,
    messages: [...user("What's the weather?"), { role: 'assistant', content: m.content },
      { role: 'user', content: uses.map((u) => ({ type: 'tool_result', tool_use_id: u.id, content: 'sunny' })) }],
  });
  const [req] = await h.mockRequests();
  const calls = geminiCalls(req.body);
  assert.equal(calls.length, 2);
  assert.deepEqual(Buffer.from(calls[0].thoughtSignature, 'base64'), Buffer.from(MOCK_SIGNATURE, 'base64'));
  assert.equal(calls[1].thoughtSignature, undefined);
});

test('a PDF document block reaches Gemini as inlineData', async () => {
  await h.mockReset();
  const pdf = Buffer.from('%PDF-1.4 test').toString('base64');
  const m = await client.messages.create({
    model: 'gemini', max_tokens: 100,
    messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf } }, { type: 'text', text: 'Summarise.' }] }],
  });
  assert.equal(m.content[0].type, 'text');
  const [req] = await h.mockRequests();
  assert.deepEqual(JSON.parse(req.body).contents[0].parts[0], { inlineData: { mimeType: 'application/pdf', data: pdf } });
});

test('a tool_result turn reaches an OpenAI provider as a tool message', async () => {
  await h.mockReset();
  const m = await client.messages.create({
    model: 'gpt-4o', max_tokens: 100, tools: ANTHROPIC_TOOLS,
    messages: [
      ...user("What's the weather in Paris?"),
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: { city: 'Paris' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_a', content: 'sunny' }] },
    ],
  });
  assert.equal(m.content[0].text, 'Hello w1 w2');
  const [req] = await h.mockRequests();
  const body = JSON.parse(req.body);
  const call = body.messages[1].tool_calls[0];
  assert.equal(call.id, 'toolu_a');
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
  assert.equal(body.messages[2].role, 'tool');
  assert.equal(body.messages[2].tool_call_id, 'toolu_a');
  assert.equal(body.messages[2].content, 'sunny');
});

// ---- count_tokens ------------------------------------------------------------------------------

test('messages.countTokens is forwarded to an Anthropic provider', async () => {
  await h.mockReset();
  const r = await client.messages.countTokens({ model: 'claude', messages: user('Hello there') });
  assert.equal(r.input_tokens, 11); // what the upstream answered
  const [req] = await h.mockRequests();
  assert.equal(req.path, '/v1/messages/count_tokens');
  assert.equal(JSON.parse(req.body).model, 'claude-sonnet-4-5');
});

test("messages.countTokens for a Gemini model is Gemini's own countTokens, system prompt included", async () => {
  await h.mockReset();
  const r = await client.messages.countTokens({ model: 'gemini', system: 'Be brief.', messages: user('Hello there, how are you') });
  assert.equal(r.input_tokens, 7); // the upstream counts words: 5 in the message, 2 in the system prompt
  const [req] = await h.mockRequests();
  assert.equal(req.path, '/v1beta/models/gemini-2.5-flash:countTokens');
  const body = JSON.parse(req.body);
  assert.equal(body.generateContentRequest.model, 'models/gemini-2.5-flash');
  assert.equal(body.generateContentRequest.systemInstruction.parts[0].text, 'Be brief.');
});

test("messages.countTokens for an OpenAI model is OpenAI's input token counter, in Responses format", async () => {
  await h.mockReset();
  const r = await client.messages.countTokens({
    model: 'gpt-4o', system: 'Be brief.', tools: ANTHROPIC_TOOLS,
    messages: [...user('Hello there'), { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: { city: 'Paris' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_a', content: 'sunny and warm' }] }],
  });
  assert.equal(r.input_tokens, 7); // the upstream counts words: 2 + 2 (system) + 3 (tool output)
  const [req] = await h.mockRequests();
  assert.equal(req.path, '/v1/responses/input_tokens');
  const body = JSON.parse(req.body);
  assert.equal(body.model, 'gpt-4o');
  assert.equal(body.instructions, 'Be brief.');
  assert.deepEqual(body.input, [
    { role: 'user', content: [{ type: 'input_text', text: 'Hello there' }] },
    { type: 'function_call', call_id: 'toolu_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
    { type: 'function_call_output', call_id: 'toolu_a', output: 'sunny and warm' },
  ]);
  assert.deepEqual(body.tools, [{ type: 'function', name: 'get_weather', description: 'Weather in a city', parameters: ANTHROPIC_TOOLS[0].input_schema, strict: false }]);
});

test('messages.countTokens for a provider without a counter is a local estimate, no upstream call', async () => {
  await h.mockReset();
  const r = await client.messages.countTokens({ model: 'local', messages: user('Hello there') });
  // ceil(11 text bytes / 4) + 4 for the message + 3 for the reply (docs/AI.md)
  assert.equal(r.input_tokens, 10);
  assert.equal((await h.mockRequests()).length, 0);
});

test('messages.countTokens falls back to the local estimate when the counter fails', async () => {
  await h.mockReset();
  const r = await client.messages.countTokens({ model: 'no-counter', messages: user('Hello there') });
  assert.equal(r.input_tokens, 10);
  const [req] = await h.mockRequests();
  assert.equal(req.path, '/v1/responses/input_tokens'); // asked, answered 404
});

// ---- models ------------------------------------------------------------------------------------

test('client.models.list() lists the configured public model names in Anthropic\'s shape', async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    assert.equal(m.type, 'model');
    assert.equal(typeof m.display_name, 'string');
    ids.push(m.id);
  }
  assert.deepEqual(ids.sort(), ['claude', 'denied', 'gemini', 'gpt-4o', 'local', 'no-counter']);
});

test('client.models.retrieve() returns one configured model, and an unknown one is a NotFoundError', async () => {
  const m = await client.models.retrieve('gpt-4o');
  assert.equal(m.type, 'model');
  assert.equal(m.id, 'gpt-4o');
  assert.equal(m.display_name, 'gpt-4o');
  await assert.rejects(client.models.retrieve('no-such-model'), (e) => {
    assert.ok(e instanceof Anthropic.NotFoundError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.status, 404);
    return true;
  });
});

// ---- errors ------------------------------------------------------------------------------------

test('an unknown model is an Anthropic.NotFoundError with status 404', async () => {
  await assert.rejects(client.messages.create({ model: 'no-such-model', max_tokens: 10, messages: user('hi') }), (e) => {
    assert.ok(e instanceof Anthropic.NotFoundError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.status, 404);
    assert.equal(e.error.type, 'error');
    assert.equal(e.error.error.type, 'not_found_error');
    assert.match(e.message, /no-such-model/);
    return true;
  });
});

test('an unknown model in a stream is a NotFoundError too', async () => {
  await assert.rejects(client.messages.create({ model: 'no-such-model', max_tokens: 10, messages: user('hi'), stream: true }), (e) => {
    assert.ok(e instanceof Anthropic.NotFoundError, `got ${e?.constructor?.name}: ${e?.message}`);
    return true;
  });
});

test('a missing messages field is an Anthropic.BadRequestError', async () => {
  await assert.rejects(client.messages.create({ model: 'claude', max_tokens: 10 }), (e) => {
    assert.ok(e instanceof Anthropic.BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.status, 400);
    assert.equal(e.error.type, 'error');
    assert.equal(e.error.error.type, 'invalid_request_error');
    assert.match(e.message, /messages/);
    return true;
  });
});

test('a missing max_tokens is a BadRequestError naming it', async () => {
  await assert.rejects(client.messages.create({ model: 'gpt-4o', messages: user('hi') }), (e) => {
    assert.ok(e instanceof Anthropic.BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.match(e.message, /max_tokens/);
    return true;
  });
});

test('a 400 from a translated provider is a BadRequestError in the Anthropic format', async () => {
  await assert.rejects(client.messages.create({ model: 'gpt-4o', max_tokens: 10, messages: user('hi [mock status=400]') }), (e) => {
    assert.ok(e instanceof Anthropic.BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.error.error.type, 'invalid_request_error');
    return true;
  });
});

test('an upstream 401 is a 502 (InternalServerError) naming the provider, never the key', async () => {
  await assert.rejects(client.messages.create({ model: 'denied', max_tokens: 10, messages: user('hi') }), (e) => {
    assert.ok(e instanceof Anthropic.InternalServerError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.status, 502);
    assert.equal(e.error.type, 'error');
    assert.equal(e.error.error.type, 'api_error');
    assert.match(e.message, /ant-locked-out/);
    assert.ok(!e.message.includes(LEAKY), 'the key is in the message');
    assert.ok(!JSON.stringify(e.error).includes(LEAKY), 'the key is in the error body');
    return true;
  });
  const r = await fetch(`${h.url}/v1/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'denied', max_tokens: 10, messages: user('hi') }),
  });
  const raw = [...r.headers].map(([k, v]) => `${k}: ${v}`).join('\n') + '\n\n' + await r.text();
  assert.equal(r.status, 502);
  assert.ok(!raw.includes(LEAKY), `the key is in the response:\n${raw}`);
  assert.ok(!raw.includes(LEAKY.slice(7, 24)), 'part of the key is in the response');
  assert.ok(!h.errorLog().includes(LEAKY), 'the key is in the error log');
});
