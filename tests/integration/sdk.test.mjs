// The official `openai` npm client against llmnet: plain and streamed
// completions, usage, tool calls and system prompts through the pipeline.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import OpenAI from 'openai';

import { clearMock, mockRequests, seedConfig, startLlmnet, startMock } from './lib.mjs';

const run = promisify(execFile);

const rules = {
  rules: [
    { when: { router: true, matches: 'python|code|weather' }, route: 'technical-handler' },
    { when: { contains: 'weather' }, 'tool-call': { name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' } },
    { when: { contains: 'cut me off' }, 'cut-after': 2 },
  ],
};

describe('openai SDK through the seed pipeline', () => {
  let mock;
  let llmnet;
  let client;

  before(async () => {
    mock = await startMock(rules, ['--chunk-size', '2']);
    llmnet = await startLlmnet(seedConfig(mock.url));
    client = new OpenAI({ baseURL: `${llmnet.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });

  after(async () => {
    await llmnet?.stop();
    await mock?.stop();
  });

  it('answers a plain completion', async () => {
    const res = await client.chat.completions.create({
      model: 'llmnet',
      messages: [{ role: 'user', content: 'Write a haiku about programming' }],
    });
    assert.equal(res.object, 'chat.completion');
    assert.match(res.id, /^chatcmpl-/);
    assert.equal(res.model, 'meta-llama/llama-3.3-70b-instruct:free');
    assert.equal(res.choices[0].message.role, 'assistant');
    assert.match(res.choices[0].message.content, /reply to: Write a haiku about programming/);
    assert.equal(res.choices[0].finish_reason, 'stop');
    assert.equal(res.usage.total_tokens, res.usage.prompt_tokens + res.usage.completion_tokens);
    assert.equal(res.llmnet.route, 'router>creative-handler');
  });

  it('streams with for await, one id for the whole stream', async () => {
    const stream = await client.chat.completions.create({
      model: 'llmnet',
      messages: [{ role: 'user', content: 'How do I reverse a linked list in Python?' }],
      stream: true,
    });
    let text = '';
    const ids = new Set();
    let finish;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      ids.add(chunk.id);
      assert.equal(chunk.object, 'chat.completion.chunk');
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.ok(chunks > 3, `several chunks, got ${chunks}`);
    assert.equal(ids.size, 1);
    assert.equal(text, '[qwen/qwen3-coder:free] reply to: How do I reverse a linked list in Python?');
    assert.equal(finish, 'stop');
  });

  it('gives a final usage chunk summed over every hop with include_usage', async () => {
    const plain = await client.chat.completions.create({
      model: 'llmnet',
      messages: [{ role: 'user', content: 'Tell me a story about dragons' }],
    });
    // another conversation (the same one would be pinned: no router call,
    // fewer tokens), with as many words, so the mock counts the same tokens
    const stream = await client.chat.completions.create({
      model: 'llmnet',
      messages: [{ role: 'user', content: 'Tell me a story about goblins' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage;
    let last;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      last = chunk;
    }
    assert.ok(usage, 'a usage chunk');
    assert.equal(last.usage, usage, 'usage comes in the last chunk');
    assert.deepEqual(last.choices, []);
    assert.equal(usage.total_tokens, plain.usage.total_tokens, 'same sum as the non-streamed answer');
    assert.equal(last.llmnet.hops.length, 2);
  });

  it('passes tool calls through, streamed and not', async () => {
    const tools = [
      {
        type: 'function',
        function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
      },
    ];
    const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
    const res = await client.chat.completions.create({ model: 'llmnet', messages, tools });
    const call = res.choices[0].message.tool_calls[0];
    assert.equal(res.choices[0].finish_reason, 'tool_calls');
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris', unit: 'c' });
    assert.match(call.id, /^call_/);

    const stream = await client.chat.completions.create({ model: 'llmnet', messages, tools, stream: true });
    let args = '';
    let name;
    let id;
    let finish;
    for await (const chunk of stream) {
      for (const tc of chunk.choices[0]?.delta?.tool_calls ?? []) {
        assert.equal(tc.index, 0);
        id = tc.id ?? id;
        name = tc.function?.name ?? name;
        args += tc.function?.arguments ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(name, 'get_weather');
    assert.match(id, /^call_/);
    assert.deepEqual(JSON.parse(args), { city: 'Paris', unit: 'c' });
    assert.equal(finish, 'tool_calls');

    const received = await mockRequests(mock.url);
    const handler = received.filter((r) => r.body.tools && r.body.model === 'qwen/qwen3-coder:free');
    assert.ok(handler.length >= 2, 'the handler got the tools');
    assert.deepEqual(handler[0].body.tools, tools);
    const router = received.filter((r) => r.body.messages[0].content.includes('Targets:'));
    assert.ok(router.every((r) => r.body.tools === undefined), 'the router never sees the tools');
  });

  it('delivers a system prompt and the conversation to the handler', async () => {
    await clearMock(mock.url);
    await client.chat.completions.create({
      model: 'llmnet',
      temperature: 0.3,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
        { role: 'user', content: [{ type: 'text', text: 'Write a poem' }, { type: 'text', text: 'about the sea' }] },
      ],
    });
    const received = await mockRequests(mock.url);
    const router = received[0].body;
    // the newest turn first; it is short, so the exchange before it follows
    assert.ok(router.messages[1].content.includes('Write a poem\nabout the sea'), router.messages[1].content);
    const handler = received[1].body;
    assert.equal(handler.messages.length, 4);
    assert.deepEqual(handler.messages[0], { role: 'system', content: 'You are terse.' });
    assert.equal(handler.temperature, 0.3);
    assert.equal(handler.stream, undefined);
  });

  it('ends a stream cut by the upstream with an error, not a clean end', async () => {
    const stream = await client.chat.completions.create({
      model: 'llmnet',
      messages: [{ role: 'user', content: 'please cut me off in the middle of a story' }],
      stream: true,
    });
    let text = '';
    await assert.rejects(async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    }, /before \[DONE\]|stream/i);
    assert.ok(text.length > 0, 'some content arrived before the cut');
    const health = await fetch(`${llmnet.url}/health`);
    assert.equal(health.status, 200);
  });

  it('shows raw SSE to curl -N', async () => {
    const { stdout } = await run('curl', [
      '-sN',
      '-D',
      '-',
      `${llmnet.url}/v1/chat/completions`,
      '-H',
      'Content-Type: application/json',
      '-d',
      JSON.stringify({ model: 'llmnet', stream: true, messages: [{ role: 'user', content: 'Write a poem' }] }),
    ]);
    assert.match(stdout, /content-type: text\/event-stream/i);
    assert.match(stdout, /cache-control: no-cache/i);
    assert.match(stdout, /x-accel-buffering: no/i);
    assert.match(stdout, /x-llmnet-route: router>creative-handler/i);
    const events = stdout.split('\r\n\r\n').slice(1).join('').split('\n\n').filter((e) => e.startsWith('data: '));
    assert.equal(events.at(-1), 'data: [DONE]');
    assert.ok(!stdout.includes('mock keep-alive'), 'upstream comment lines are not relayed');
    for (const e of events.slice(0, -1)) JSON.parse(e.slice(6));
  });
});
