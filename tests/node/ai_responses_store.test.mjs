// ai_responses_store.test.mjs: the official `openai` npm client against responses Portico keeps
// (`responses:` in the configuration): responses.create({store: true}), responses.retrieve,
// turns chained with previous_response_id against an Anthropic provider (a function tool round
// trip, then a streamed turn), responses.inputItems.list paging through the conversation, and
// responses.delete, then NotFoundError for what is gone.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { WEATHER_SCHEMA, startAi } from './ai_harness.mjs';

const GOOD = 'mock-good-key-0001';

let h;
let client;

before(async () => {
  h = await startAi({
    mockKey: GOOD,
    config: (mp) => `responses: {}
providers:
  - { name: ant, type: anthropic, base_url: "http://127.0.0.1:${mp}", api_key: "${GOOD}" }
models:
  - { name: claude, targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
`,
  });
  client = new OpenAI({ apiKey: 'client-key', baseURL: `${h.url}/v1`, maxRetries: 0, timeout: 10000 });
});

after(async () => { if (h) await h.stop(); });

const TOOLS = [{ type: 'function', name: 'get_weather', description: 'Weather in a city', parameters: WEATHER_SCHEMA, strict: false }];

/** The messages the Anthropic provider got in the last request, as "role:block types". */
async function lastConversation() {
  const seen = await h.mockRequests();
  const body = JSON.parse(seen[seen.length - 1].body);
  return body.messages.map((m) => `${m.role}:${m.content.map((b) => b.type).join('+')}`);
}

test('a kept response is retrieved as it was created', async () => {
  const r = await client.responses.create({ model: 'claude', input: 'Say hello', store: true });
  assert.equal(r.store, true);
  const got = await client.responses.retrieve(r.id);
  assert.deepEqual(got, r);
  assert.equal(got.output_text, 'Hello w1 w2');
});

test('previous_response_id chains a function tool round trip and a streamed turn on an Anthropic model', async () => {
  const first = await client.responses.create({ model: 'claude', input: 'Weather in Paris and Zürich? [mock tools=1]', tools: TOOLS });
  const calls = first.output.filter((o) => o.type === 'function_call');
  assert.equal(calls.length, 2);
  const second = await client.responses.create({
    model: 'claude',
    previous_response_id: first.id,
    tools: TOOLS,
    input: calls.map((c) => ({ type: 'function_call_output', call_id: c.call_id, output: '{"temp_c":21}' })),
  });
  assert.equal(second.previous_response_id, first.id);
  assert.equal(second.output_text, 'Hello w1 w2');
  assert.deepEqual(await lastConversation(), ['user:text', 'assistant:text+tool_use+tool_use', 'user:tool_result+tool_result']);

  const stream = client.responses.stream({ model: 'claude', previous_response_id: second.id, input: 'Thanks!' });
  const final = await stream.finalResponse();
  assert.equal(final.previous_response_id, second.id);
  assert.deepEqual(await lastConversation(),
    ['user:text', 'assistant:text+tool_use+tool_use', 'user:tool_result+tool_result', 'assistant:text', 'user:text']);
  const kept = await client.responses.retrieve(final.id); // a stream is kept once it completed
  assert.equal(kept.output_text, final.output_text);

  // the SDK's pager walks every input item of the last turn, newest first, two per page
  const items = [];
  for await (const it of client.responses.inputItems.list(final.id, { limit: 2 })) items.push(it);
  assert.deepEqual(items.map((i) => i.type),
    ['message', 'message', 'function_call_output', 'function_call_output', 'function_call', 'function_call', 'message', 'message']);
  assert.equal(new Set(items.map((i) => i.id)).size, items.length);
});

test('an unknown previous_response_id is a BadRequestError the SDK reads', async () => {
  await assert.rejects(client.responses.create({ model: 'claude', input: 'hi', previous_response_id: 'resp_nope' }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError);
    assert.equal(e.code, 'previous_response_not_found');
    assert.equal(e.param, 'previous_response_id');
    return true;
  });
});

test('responses.delete removes it: retrieving it then is a NotFoundError', async () => {
  const r = await client.responses.create({ model: 'claude', input: 'Say hello' });
  await client.responses.delete(r.id);
  await assert.rejects(client.responses.retrieve(r.id), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError);
    assert.equal(e.message, `404 Response with id '${r.id}' not found.`);
    return true;
  });
  await assert.rejects(client.responses.delete(r.id), OpenAI.NotFoundError);
});
