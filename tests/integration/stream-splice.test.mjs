// Streamed events are relayed by splicing when they are ordinary (our id,
// object, created and the upstream's model first, the upstream's other
// members copied as bytes) and through a parsed tree otherwise. Either way
// the client must see the same thing: every event valid JSON with the same
// members, in the same order, and the same values as the tree path gives.
// The upstream here is a scripted HTTP server in this process sending
// events written to hit both paths (whitespace, escapes, braces in strings,
// members to drop, escaped keys, numbers a double changes, trailing bytes,
// raw control characters); llmnet and the client are real.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import http from 'node:http';
import OpenAI from 'openai';
import { onRequestBody, serveLocal, sseEvents, startLlmnet, stopAll } from './lib.mjs';

const choice = (content) => `[{"index":0,"delta":{"content":${JSON.stringify(content)}},"finish_reason":null}]`;

// [raw event, what the client must read besides id/object/created]
const EVENTS = [
  // the first event names the stream's model
  [
    `{"id":"up-1","object":"chat.completion.chunk","created":1,"model":"up-model","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
    { model: 'up-model', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
  ],
  // ordinary, spliced: whitespace, escapes and braces in strings, members to drop
  [
    ` { "id" : "up-1", "choices" : [ { "index" : 0, "delta" : { "content" : "}{\\" \\u00e9 \\ud83d\\ude00 ]\\n" } , "finish_reason" : null } ] ,\t` +
      ` "model":"up-model", "system_fingerprint":"fp", "created": 1, "llmnet": {"x":1}, "extra": [1.5, -2e-3, 10, true, null, {"a":"b}"}], "object":"x" } `,
    {
      model: 'up-model',
      choices: [{ index: 0, delta: { content: '}{" \u00e9 \u{1f600} ]\n' }, finish_reason: null }],
      system_fingerprint: 'fp',
      extra: [1.5, -0.002, 10, true, null, { a: 'b}' }],
    },
  ],
  // an escaped key: the tree reads it as "model"
  [`{"mod\\u0065l":"escaped-model","choices":${choice('e')}}`, { model: 'escaped-model', choices: JSON.parse(choice('e')) }],
  // numbers a double changes: -0, 1.0 and an overflow read as 0, 1 and null
  [
    `{"model":"up-model","choices":${choice('n')},"n":[-0,1.0,1e400,12345678901234567890]}`,
    { model: 'up-model', choices: JSON.parse(choice('n')), n: [0, 1, null, 12345678901234567000] },
  ],
  // bytes after the object, which the tree path ignores
  [`{"model":"up-model","choices":${choice('t')}} trailing`, { model: 'up-model', choices: JSON.parse(choice('t')) }],
  // a raw tab in a string, which the tree path prints escaped
  [`{"model":"up-model","choices":[{"index":0,"delta":{"content":"a\tb"},"finish_reason":null}]}`, { model: 'up-model', choices: JSON.parse(choice('a\tb')) }],
  // an empty first choice object, many members, a key twice in the choice
  [
    `{"model":"up-model","a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"choices":[{}]}`,
    { model: 'up-model', a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, choices: [{}] },
  ],
  [
    `{"model":"up-model","choices":[{"index":0,"delta":{"content":"d"},"delta":{"content":"d2"},"finish_reason":null}]}`,
    { model: 'up-model', choices: [{ index: 0, delta: { content: 'd2' }, finish_reason: null }] },
  ],
];

const LAST = `{"id":"up-1","model":"up-model","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`;
const USAGE = `{"id":"up-1","model":"up-model","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}`;

describe('stream splice', () => {
  let upstream, llmnet, client;

  before(async () => {
    const server = http.createServer((req, res) => {
      onRequestBody(req, () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const [raw] of EVENTS) res.write(`data: ${raw}\n\n`);
        res.write(`data: ${LAST}\n\ndata: ${USAGE}\n\ndata: [DONE]\n\n`);
        res.end();
      });
    });
    upstream = await serveLocal(server);
    llmnet = await startLlmnet({
      models: { m: { type: 'external', interface: 'openai-api', url: upstream.url, 'api-key': 'k' } },
      architecture: [{ name: 'solo', layer: 0, model: 'm' }],
    });
    client = new OpenAI({ baseURL: `${llmnet.url}/v1`, apiKey: 'unused' });
  });

  after(async () => {
    await stopAll(llmnet);
    await upstream?.stop();
  });

  test('every event reads as the tree path would print it, members in order', async () => {
    const res = await fetch(`${llmnet.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'solo', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    const events = sseEvents(text);
    assert.equal(events.length, EVENTS.length + 3, text);
    const head = events[0];
    assert.match(head.id, /^chatcmpl-./);
    assert.equal(head.object, 'chat.completion.chunk');
    assert.equal(typeof head.created, 'number');
    for (let i = 0; i < EVENTS.length; i++) {
      const got = events[i];
      assert.ok(!got.unparsed, `event ${i} is not JSON: ${got.unparsed}`);
      const want = { id: head.id, object: 'chat.completion.chunk', created: head.created, ...EVENTS[i][1] };
      assert.deepEqual(got, want, `event ${i}`);
      assert.deepEqual(Object.keys(got), Object.keys(want), `event ${i}'s members in order`);
    }
    const last = events[EVENTS.length];
    assert.equal(last.choices[0].finish_reason, 'stop');
    assert.equal(last.llmnet.route, 'solo');
    const usage = events[EVENTS.length + 1];
    assert.deepEqual(usage.choices, []);
    assert.equal(usage.usage.total_tokens, 7);
    assert.equal(events[EVENTS.length + 2], '[DONE]');
    // the same bytes for every data line: no raw control character, no trailing bytes
    for (const line of text.split('\n').filter((l) => l.startsWith('data: {'))) assert.doesNotThrow(() => JSON.parse(line.slice(6)));
  });

  test('an SDK reads the spliced stream whole', async () => {
    const stream = await client.chat.completions.create({ model: 'solo', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    let content = '';
    let id;
    for await (const chunk of stream) {
      id ??= chunk.id;
      assert.equal(chunk.id, id);
      content += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.equal(content, '}{" \u00e9 \u{1f600} ]\nenta\tbd2');
  });
});
