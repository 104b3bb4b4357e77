// ai_gemini.test.mjs: Google's official `@google/genai` client pointed at Portico
// (httpOptions.baseUrl), with OpenAI, Anthropic and Gemini providers behind it (the provider
// test upstream tests/upstreams/ai/server.mjs): generateContent, generateContentStream, a
// function-calling round trip, countTokens, embedContent, the model list, and errors raised as
// the SDK's own ApiError with the right status.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiError, GoogleGenAI, Type } from '@google/genai';
import { EXPECTED_CALLS, startAi } from './ai_harness.mjs';

const GOOD = 'mock-good-key-0001';

let h;
let ai;

before(async () => {
  h = await startAi({
    mockKey: GOOD,
    config: (mp) => `providers:
  - { name: oai, type: openai, base_url: "http://127.0.0.1:${mp}/v1", api_key: "${GOOD}" }
  - { name: ant, type: anthropic, base_url: "http://127.0.0.1:${mp}", api_key: "${GOOD}" }
  - { name: gem, type: gemini, base_url: "http://127.0.0.1:${mp}", api_key: "${GOOD}" }
models:
  - { name: gpt-4o, targets: [{ provider: oai, model: gpt-4o }] }
  - { name: claude, targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
  - { name: gemini, targets: [{ provider: gem, model: gemini-2.5-flash }] }
`,
  });
  ai = new GoogleGenAI({ apiKey: 'client-key', httpOptions: { baseUrl: h.url } });
});

after(async () => { if (h) await h.stop(); });

const KINDS = [
  { model: 'gpt-4o', what: 'an OpenAI provider' },
  { model: 'claude', what: 'an Anthropic provider' },
  { model: 'gemini', what: 'a Gemini provider' },
];

const TOOLS = [{
  functionDeclarations: [{
    name: 'get_weather',
    description: 'Weather in a city',
    parameters: { type: Type.OBJECT, properties: { city: { type: Type.STRING } }, required: ['city'] },
  }],
}];
const WEATHER_Q = "What's the weather in Paris and Zürich? [mock tools=1]";

// ---- whole answers -----------------------------------------------------------------------------

for (const k of KINDS) {
  test(`generateContent() through ${k.what}: text, finishReason, usageMetadata`, async () => {
    const r = await ai.models.generateContent({
      model: k.model,
      contents: 'Say hello',
      config: { systemInstruction: 'Be brief.', temperature: 0.2, maxOutputTokens: 64 },
    });
    assert.equal(r.text, 'Hello w1 w2');
    assert.equal(r.candidates[0].finishReason, 'STOP');
    assert.equal(r.usageMetadata.promptTokenCount, 11);
    assert.equal(r.usageMetadata.candidatesTokenCount, 3);
    assert.equal(r.usageMetadata.totalTokenCount, 14);
  });
}

test('the provider gets its own key, never the client\'s', async () => {
  await h.mockReset();
  await ai.models.generateContent({ model: 'gemini', contents: 'Say hello' });
  const [seen] = await h.mockRequests();
  assert.equal(seen.headers['x-goog-api-key'], GOOD);
  assert.ok(!JSON.stringify(seen).includes('client-key'));
});

// ---- streams -----------------------------------------------------------------------------------

for (const k of KINDS) {
  test(`generateContentStream() through ${k.what}: the text in chunks, usage at the end`, async () => {
    const stream = await ai.models.generateContentStream({ model: k.model, contents: 'Say hello [mock events=4]' });
    let text = '';
    let last;
    for await (const chunk of stream) {
      text += chunk.text ?? '';
      last = chunk;
    }
    assert.equal(text, 'Hello w1 w2 w3');
    assert.equal(last.candidates[0].finishReason, 'STOP');
    assert.equal(last.usageMetadata.candidatesTokenCount, 4);
  });
}

// ---- function calling --------------------------------------------------------------------------

for (const k of KINDS) {
  test(`a function-calling round trip through ${k.what}`, async () => {
    const user = { role: 'user', parts: [{ text: WEATHER_Q }] };
    const first = await ai.models.generateContent({ model: k.model, contents: [user], config: { tools: TOOLS } });
    const calls = first.functionCalls;
    assert.equal(calls.length, 2);
    assert.deepEqual(calls.map((c) => c.args), EXPECTED_CALLS);
    assert.ok(calls.every((c) => c.name === 'get_weather'));
    await h.mockReset();
    const answers = {
      role: 'user',
      parts: calls.map((c, i) => ({ functionResponse: { id: c.id, name: c.name, response: { temp_c: 20 + i } } })),
    };
    const second = await ai.models.generateContent({
      model: k.model,
      contents: [{ role: 'user', parts: [{ text: "What's the weather in Paris and Zürich?" }] }, first.candidates[0].content, answers],
      config: { tools: TOOLS },
    });
    assert.equal(second.text, 'Hello w1 w2');
    const [seen] = await h.mockRequests();
    const body = JSON.parse(seen.body);
    if (k.model === 'gpt-4o') {
      const ids = body.messages.find((m) => m.tool_calls).tool_calls.map((c) => c.id);
      assert.deepEqual(body.messages.filter((m) => m.role === 'tool').map((m) => m.tool_call_id), ids);
      assert.deepEqual(body.messages.filter((m) => m.role === 'tool').map((m) => JSON.parse(m.content).temp_c), [20, 21]);
    } else if (k.model === 'claude') {
      const uses = body.messages.find((m) => m.role === 'assistant').content.filter((b) => b.type === 'tool_use');
      const results = body.messages.at(-1).content.filter((b) => b.type === 'tool_result');
      assert.deepEqual(results.map((b) => b.tool_use_id), uses.map((b) => b.id));
    } else {
      assert.equal(body.contents.at(-1).parts.filter((p) => p.functionResponse).length, 2);
    }
  });
}

test('streamed function calls arrive whole, with their args', async () => {
  const stream = await ai.models.generateContentStream({ model: 'claude', contents: WEATHER_Q, config: { tools: TOOLS } });
  const calls = [];
  for await (const chunk of stream) calls.push(...(chunk.functionCalls ?? []));
  assert.deepEqual(calls.map((c) => c.args), EXPECTED_CALLS);
});

// ---- countTokens, models -------------------------------------------------------------------------

test('countTokens() on a Gemini provider is its own count', async () => {
  const r = await ai.models.countTokens({ model: 'gemini', contents: 'one two three' });
  assert.equal(r.totalTokens, 3);
});

test('countTokens() on another provider answers totalTokens too', async () => {
  const r = await ai.models.countTokens({ model: 'claude', contents: 'one two three' });
  assert.ok(Number.isInteger(r.totalTokens) && r.totalTokens > 0);
});

test('models.list() and models.get() name the configured models', async () => {
  const names = [];
  for await (const m of await ai.models.list()) names.push(m.name);
  assert.deepEqual(names, ['models/gpt-4o', 'models/claude', 'models/gemini']);
  const m = await ai.models.get({ model: 'claude' });
  assert.equal(m.name, 'models/claude');
});

test('embedContent() through an OpenAI and a Gemini provider', async () => {
  for (const model of ['gpt-4o', 'gemini']) {
    const r = await ai.models.embedContent({ model, contents: ['one', 'two'], config: { outputDimensionality: 3 } });
    assert.deepEqual(r.embeddings.map((e) => e.values), [[0, 0.5, -0.25], [1, 0.5, -0.25]]);
  }
});

// ---- errors ----------------------------------------------------------------------------------------

test('an unknown model is the SDK\'s ApiError with status 404', async () => {
  await assert.rejects(ai.models.generateContent({ model: 'nope', contents: 'hi' }), (e) => {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.status, 404);
    assert.equal(JSON.parse(e.message).error.status, 'NOT_FOUND');
    return true;
  });
});

test('a refused request is ApiError 400 naming the field', async () => {
  await assert.rejects(ai.models.generateContent({ model: 'gpt-4o', contents: 'hi', config: { candidateCount: 2 } }), (e) => {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.status, 400);
    assert.match(JSON.parse(e.message).error.message, /candidateCount/);
    return true;
  });
});

test('a rate-limited provider is ApiError 429 RESOURCE_EXHAUSTED, streamed or not', async () => {
  for (const stream of [false, true]) {
    const call = stream
      ? (async () => { for await (const _ of await ai.models.generateContentStream({ model: 'claude', contents: 'hi [mock status=429]' })) { /* none */ } })()
      : ai.models.generateContent({ model: 'gpt-4o', contents: 'hi [mock status=429]' });
    await assert.rejects(call, (e) => {
      assert.ok(e instanceof ApiError, String(e));
      assert.equal(e.status, 429);
      assert.equal(JSON.parse(e.message).error.status, 'RESOURCE_EXHAUSTED');
      return true;
    });
  }
});
