#!/usr/bin/env node
// bedrock_fixtures.mjs: writes the binary upstream_response files (AWS event-stream
// framing) of the Bedrock golden cases under tests/fixtures/ai/, with aws.mjs's encoder.
// Run from the repository root after changing a case's events.
import fs from 'node:fs';
import { eventFrame, exceptionFrame } from './aws.mjs';

const dir = 'tests/fixtures/ai';
const write = (name, frames) => fs.writeFileSync(`${dir}/${name}/upstream_response`, Buffer.concat(frames));

const big = 'x'.repeat(70 * 1024); // one tool-call delta larger than 64 KiB
const toolStream = [
  eventFrame('messageStart', { role: 'assistant' }),
  eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Checking ' }, p: 'abc' }),
  eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Paris.' }, p: 'abcdef' }),
  eventFrame('contentBlockStop', { contentBlockIndex: 0 }),
  eventFrame('contentBlockStart', { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tooluse_a1', name: 'get_weather' } } }),
  eventFrame('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '{"city":' } } }),
  eventFrame('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: `"Paris","note":"${big}"}` } } }),
  eventFrame('contentBlockStop', { contentBlockIndex: 1 }),
  eventFrame('messageStop', { stopReason: 'tool_use' }),
  eventFrame('metadata', { usage: { inputTokens: 40, outputTokens: 30, totalTokens: 170, cacheReadInputTokens: 100 }, metrics: { latencyMs: 9 } }),
];
write('anthropic_to_bedrock_stream', toolStream);

write('openai_to_bedrock_stream_exception', [
  eventFrame('messageStart', { role: 'assistant' }),
  eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hello' } }),
  exceptionFrame('throttlingException', 'Too many requests, please wait before trying again.'),
]);

// the third message's CRC is wrong: the stream is refused from there on
const bad = [eventFrame('messageStart', { role: 'assistant' }),
  eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hello' } }),
  eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: ' world' } })];
bad[2][bad[2].length - 1] ^= 0xff;
write('openai_to_bedrock_stream_bad_crc', bad);
