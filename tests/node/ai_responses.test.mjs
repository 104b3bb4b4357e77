// ai_responses.test.mjs: the official `openai` npm client's Responses API
// (client.responses.create / .stream) against Portico, with OpenAI, Anthropic and Gemini
// providers behind it (the provider test upstream tests/upstreams/ai/server.mjs): text,
// typed stream events and the final response, a function tool round trip, and errors as
// the SDK's own types.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { EXPECTED_CALLS, WEATHER_SCHEMA, startAi } from './ai_harness.mjs';

const GOOD = 'mock-good-key-0001';

let h;
let client;

before(async () => {
  h = await startAi({
    mockKey: GOOD,
    config: (mp) => `providers:
  - { name: oai, type: openai, base_url: "http://127.0.0.1:${mp}/v1", api_key: "${GOOD}" }
  - { name: ant, type: anthropic, base_url: "http://127.0.0.1:${mp}", api_key: "${GOOD}" }
  - { name: gem, type: gemini, base_url: "http://127.0.0.1:${mp}", api_key: "${GOOD}" }
  - { name: ant-limited, type: anthropic, base_url: "http://127.0.0.1:${mp}", api_key: "${GOOD}" }
models:
  - { name: gpt-4o, targets: [{ provider: oai, model: gpt-4o }] }
  - { name: claude, targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
  - { name: gemini, targets: [{ provider: gem, model: gemini-2.5-flash }] }
  - { name: claude-limited, targets: [{ provider: ant-limited, model: claude-sonnet-4-5 }] }
`,
  });
  client = new OpenAI({ apiKey: 'client-key', baseURL: `${h.url}/v1`, maxRetries: 0, timeout: 10000 });
});

after(async () => { if (h) await h.stop(); });

const KINDS = [
  { model: 'gpt-4o', what: 'OpenAI provider' },
  { model: 'claude', what: 'Anthropic provider' },
  { model: 'gemini', what: 'Gemini provider' },
];

const TOOLS = [{ type: 'function', name: 'get_weather', description: 'Weather in a city', parameters: WEATHER_SCHEMA, strict: false }];
const WEATHER_Q = "What's the weather in Paris and Zürich? [mock tools=1]";

/** The function_call items of a response, arguments parsed. */
const callsOf = (r) => r.output.filter((o) => o.type === 'function_call');

// ---- whole responses ---------------------------------------------------------------------------

for (const k of KINDS) {
  test(`responses.create() returns output_text through the ${k.what}`, async () => {
    const r = await client.responses.create({ model: k.model, input: 'Say hello' });
    assert.equal(r.object, 'response');
    assert.match(r.id, /^resp_/);
    assert.equal(r.status, 'completed');
    assert.equal(r.output_text, 'Hello w1 w2');
    const msg = r.output.find((o) => o.type === 'message');
    assert.equal(msg.role, 'assistant');
    assert.deepEqual(msg.content[0].annotations, []);
    assert.equal(r.usage.input_tokens, 11);
    assert.equal(r.usage.output_tokens, 3);
    assert.equal(r.usage.total_tokens, 14);
  });
}

test('instructions and a list of input messages reach the provider as system and turns', async () => {
  await h.mockReset();
  const r = await client.responses.create({
    model: 'gpt-4o',
    instructions: 'Be terse.',
    input: [
      { role: 'user', content: [{ type: 'input_text', text: 'Hi' }] },
      { role: 'assistant', content: [{ type: 'output_text', text: 'Hello.' }] },
      { role: 'user', content: 'Say hello' },
    ],
    max_output_tokens: 50,
    store: true,
  });
  assert.equal(r.output_text, 'Hello w1 w2');
  const [seen] = await h.mockRequests();
  assert.equal(seen.path, '/v1/chat/completions');
  const body = JSON.parse(seen.body);
  assert.deepEqual(body.messages.map((m) => m.role), ['system', 'user', 'assistant', 'user']);
  assert.equal(body.messages[0].content, 'Be terse.');
  assert.equal(body.max_completion_tokens, 50);
  assert.equal(body.store, undefined, 'store is not sent on');
});

// ---- streams -----------------------------------------------------------------------------------

for (const k of KINDS) {
  test(`responses.stream() yields the typed events and a final response through the ${k.what}`, async () => {
    const stream = client.responses.stream({ model: k.model, input: 'Say hello' });
    const types = [];
    const seqs = [];
    let text = '';
    for await (const ev of stream) {
      types.push(ev.type);
      seqs.push(ev.sequence_number);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
    }
    const final = await stream.finalResponse();
    assert.equal(types[0], 'response.created');
    assert.equal(types[1], 'response.in_progress');
    assert.equal(types.at(-1), 'response.completed');
    for (const t of ['response.output_item.added', 'response.content_part.added', 'response.output_text.done',
      'response.content_part.done', 'response.output_item.done']) assert.ok(types.includes(t), `no ${t} in ${types}`);
    assert.deepEqual(seqs, seqs.map((_, i) => i), 'sequence numbers count from 0 without gaps');
    assert.equal(text, 'Hello w1 w2');
    assert.equal(final.output_text, 'Hello w1 w2');
    assert.equal(final.status, 'completed');
    assert.equal(final.usage.output_tokens, 3);
  });
}

test('create({stream: true}) is an async iterable of the same events', async () => {
  const stream = await client.responses.create({ model: 'claude', input: 'Say hello [mock events=5]', stream: true });
  let text = '';
  let completed = null;
  for await (const ev of stream) {
    if (ev.type === 'response.output_text.delta') text += ev.delta;
    if (ev.type === 'response.completed') completed = ev.response;
  }
  assert.equal(text, 'Hello w1 w2 w3 w4');
  assert.equal(completed.output[0].content[0].text, 'Hello w1 w2 w3 w4');
  assert.equal(completed.usage.output_tokens, 5);
});

// ---- function tools ----------------------------------------------------------------------------

for (const k of KINDS) {
  test(`parallel function calls, streamed, through the ${k.what}`, async () => {
    const stream = client.responses.stream({ model: k.model, input: WEATHER_Q, tools: TOOLS });
    const done = [];
    let deltas = '';
    for await (const ev of stream) {
      if (ev.type === 'response.function_call_arguments.delta') deltas += ev.delta;
      if (ev.type === 'response.function_call_arguments.done') done.push(JSON.parse(ev.arguments));
    }
    const final = await stream.finalResponse();
    assert.deepEqual(done, EXPECTED_CALLS);
    const calls = callsOf(final);
    assert.equal(deltas, calls.map((c) => c.arguments).join(''), 'the deltas add up to the arguments');
    assert.deepEqual(calls.map((c) => JSON.parse(c.arguments)), EXPECTED_CALLS);
    assert.ok(calls.every((c) => c.name === 'get_weather' && c.call_id && c.status === 'completed'));
  });
}

test('a function tool round trip: function_call then function_call_output in the next input', async () => {
  const first = await client.responses.create({ model: 'gpt-4o', input: WEATHER_Q, tools: TOOLS });
  const calls = callsOf(first);
  assert.deepEqual(calls.map((c) => JSON.parse(c.arguments)), EXPECTED_CALLS);
  await h.mockReset();
  const input = [
    { role: 'user', content: "What's the weather in Paris and Zürich?" },
    ...first.output,
    ...calls.map((c, i) => ({ type: 'function_call_output', call_id: c.call_id, output: `${10 + i}°C` })),
  ];
  const second = await client.responses.create({ model: 'gpt-4o', input, tools: TOOLS });
  assert.equal(second.status, 'completed');
  assert.equal(second.output_text, 'Hello w1 w2');
  const body = JSON.parse((await h.mockRequests())[0].body);
  const asst = body.messages.find((m) => m.role === 'assistant' && m.tool_calls);
  assert.deepEqual(asst.tool_calls.map((t) => t.id), calls.map((c) => c.call_id));
  const results = body.messages.filter((m) => m.role === 'tool');
  assert.deepEqual(results.map((m) => [m.tool_call_id, m.content]), calls.map((c, i) => [c.call_id, `${10 + i}°C`]));
});

test('the same round trip reaches Anthropic as tool_use and tool_result blocks', async () => {
  const first = await client.responses.create({ model: 'claude', input: WEATHER_Q, tools: TOOLS });
  const calls = callsOf(first);
  await h.mockReset();
  await client.responses.create({
    model: 'claude',
    tools: TOOLS,
    input: [{ role: 'user', content: 'Weather?' }, ...first.output,
      ...calls.map((c) => ({ type: 'function_call_output', call_id: c.call_id, output: 'sunny' }))],
  });
  const body = JSON.parse((await h.mockRequests())[0].body);
  const uses = body.messages[1].content.filter((b) => b.type === 'tool_use');
  assert.deepEqual(uses.map((u) => u.input), EXPECTED_CALLS);
  const results = body.messages[2].content.filter((b) => b.type === 'tool_result');
  assert.deepEqual(results.map((r) => r.tool_use_id), calls.map((c) => c.call_id));
});

// ---- errors ------------------------------------------------------------------------------------

test('an unknown model is an openai.NotFoundError', async () => {
  await assert.rejects(client.responses.create({ model: 'no-such-model', input: 'hi' }), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.status, 404);
    assert.equal(e.code, 'model_not_found');
    return true;
  });
});

test('previous_response_id and server-side tools reach an OpenAI provider as they are', async () => {
  const r = await client.responses.create({ model: 'gpt-4o', input: 'and then?', previous_response_id: 'resp_1',
    tools: [{ type: 'web_search' }] });
  assert.match(r.id, /^resp_mock_/);
  assert.equal(r.output_text, 'Hello w1 w2');
  const events = [];
  const s = client.responses.stream({ model: 'gpt-4o', input: 'and then?', previous_response_id: r.id });
  for await (const ev of s) events.push(ev.type);
  const final = await s.finalResponse();
  assert.equal(final.output_text, 'Hello w1 w2');
  assert.equal(events.at(-1), 'response.completed');
});

test('previous_response_id with no OpenAI target is a BadRequestError saying why', async () => {
  await assert.rejects(client.responses.create({ model: 'claude', input: 'and then?', previous_response_id: 'resp_1' }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.param, 'previous_response_id');
    assert.match(e.message, /no target of this model is an OpenAI provider/);
    return true;
  });
});

test('a mistyped input item is a BadRequestError naming its path', async () => {
  await assert.rejects(client.responses.create({ model: 'gpt-4o', input: [{ type: 'function_call_output', output: 'x' }] }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.param, 'input[0].call_id');
    return true;
  });
});

test('retrieving or deleting a stored response is a NotFoundError: none are kept without responses:', async () => {
  for (const call of [() => client.responses.retrieve('resp_abc'), () => client.responses.delete('resp_abc')]) {
    await assert.rejects(call(), (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError, `got ${e?.constructor?.name}: ${e?.message}`);
      assert.equal(e.message, "404 Response with id 'resp_abc' not found.");
      return true;
    });
  }
});

// Its own provider: the key that got the 429 cools down, and other tests use the others.
test('a 429 from the provider is an openai.RateLimitError', async () => {
  await assert.rejects(client.responses.create({ model: 'claude-limited', input: 'hi [mock status=429 retry_after=1]' }), (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError, `got ${e?.constructor?.name}: ${e?.message}`);
    return true;
  });
});

// ---- counting ----------------------------------------------------------------------------------

test('responses.inputTokens.count() uses the provider counter, or the local estimate', async () => {
  await h.mockReset();
  const oai = await client.responses.inputTokens.count({ model: 'gpt-4o', instructions: 'Be terse.', input: 'one two three' });
  assert.equal(oai.object, 'response.input_tokens');
  assert.equal(oai.input_tokens, 5, "the test upstream's count: words in instructions and input");
  assert.equal((await h.mockRequests())[0].path, '/v1/responses/input_tokens');
  const ant = await client.responses.inputTokens.count({ model: 'claude', input: 'one two three' });
  assert.equal(ant.object, 'response.input_tokens');
  assert.ok(ant.input_tokens > 0, 'the local estimate for a provider without a counter for this format');
});
