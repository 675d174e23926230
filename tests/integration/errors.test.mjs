// Error statuses: every failure is an OpenAI-shaped error body with the
// right status, and the server keeps answering afterwards.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertHealthy,
  assertOpenAIError,
  chat,
  closedPort,
  endpoint,
  newRequestId,
  parseResponses,
  rawExchange,
  request,
  sseEvents,
  startLlmnet,
  startMock,
  stopAll,
  upstreamCalls,
} from './lib.mjs';

const RULES = {
  rules: [
    { when: { model: 'fail-500' }, status: 500, error: 'upstream exploded' },
    { when: { model: 'rate-limited' }, status: 429, 'retry-after': 7, error: 'slow down' },
    { when: { model: 'garbage' }, raw: '{not json' },
    { when: { model: 'slow-model' }, 'delay-ms': 3000 },
    { when: { model: 'error-in-200' }, raw: '{"error":{"message":"provider is overloaded","code":502}}' },
    { when: { model: 'cut-stream' }, 'cut-after': 2, reply: 'one two three four five six seven' },
    { when: { model: 'flaky-model' }, status: 503, error: 'warming up', times: 2 },
    { when: { model: 'once-model' }, status: 503, error: 'warming up', times: 1 },
  ],
};

const MAX_BODY = 4096;

let mock;
let gw; // one gateway: the entry answers; other nodes are entered by naming them in "model"
let small; // server.max-body-bytes = MAX_BODY
let keyed; // server.api-keys

before(async () => {
  mock = await startMock(RULES);
  const deadPort = await closedPort();
  const ep = (extra = {}) => endpoint(mock.url, extra);
  // One endpoint per failure kind, so retries and any per-endpoint circuit
  // breaker triggered by one scenario cannot change another's outcome.
  gw = await startLlmnet({
    models: {
      good: ep(),
      m500: ep(),
      m429: ep({ retries: 0 }), // Retry-After 7 would otherwise be waited out
      garbage: ep(),
      slow: ep({ timeout: 1, retries: 0 }),
      dead: { type: 'external', interface: 'openai-api', url: `http://127.0.0.1:${deadPort}`, 'api-key': null },
      err200: ep(),
      cut: ep(),
      fb: ep(),
      allfail: ep(),
      flaky: ep(),
      once: ep({ retries: 0 }),
      m500s: ep(),
      m429s: ep({ retries: 0 }),
      deads: { type: 'external', interface: 'openai-api', url: `http://127.0.0.1:${deadPort}`, 'api-key': null },
    },
    architecture: [
      { name: 'chat', layer: 0, model: 'good', 'output-to': ['output'], 'extra-options': { model_override: 'ok-model' } },
      { name: 'broken-node', layer: 1, model: 'm500', 'extra-options': { model_override: 'fail-500' } },
      { name: 'limited-node', layer: 1, model: 'm429', 'extra-options': { model_override: 'rate-limited' } },
      { name: 'garbage-node', layer: 1, model: 'garbage', 'extra-options': { model_override: 'garbage' } },
      { name: 'dead-node', layer: 1, model: 'dead', 'extra-options': { model_override: 'dead-model' } },
      { name: 'slow-node', layer: 1, model: 'slow', 'extra-options': { model_override: 'slow-model' } },
      { name: 'error-200-node', layer: 1, model: 'err200', 'extra-options': { model_override: 'error-in-200' } },
      { name: 'cut-node', layer: 1, model: 'cut', 'extra-options': { model_override: 'cut-stream' } },
      { name: 'fallback-node', layer: 1, model: 'fb', 'extra-options': { model_override: ['fail-500', 'garbage', 'backup-model'] } },
      { name: 'all-fail-node', layer: 1, model: 'allfail', 'extra-options': { model_override: ['fail-500', 'garbage'] } },
      { name: 'flaky-node', layer: 1, model: 'flaky', 'extra-options': { model_override: 'flaky-model' } },
      { name: 'once-node', layer: 1, model: 'once', 'extra-options': { model_override: 'once-model' } },
      { name: 'broken-stream-node', layer: 1, model: 'm500s', 'extra-options': { model_override: 'fail-500' } },
      { name: 'limited-stream-node', layer: 1, model: 'm429s', 'extra-options': { model_override: 'rate-limited' } },
      { name: 'dead-stream-node', layer: 1, model: 'deads', 'extra-options': { model_override: 'dead-model' } },
      { name: 'output', adapter: 'output' },
    ],
  });
  small = await startLlmnet({
    models: { good: ep() },
    architecture: [{ name: 'chat', layer: 0, model: 'good' }],
    server: { 'max-body-bytes': MAX_BODY },
  });
  keyed = await startLlmnet({
    models: { good: ep() },
    architecture: [{ name: 'chat', layer: 0, model: 'good' }],
    server: { 'api-keys': ['inbound-key-1', 'inbound-key-2'] },
  });
});

after(async () => {
  await stopAll(gw, small, keyed, mock);
});

const hello = { messages: [{ role: 'user', content: 'hello' }] };

// A JSON chat request of exactly `size` bytes.
function bodyOfSize(size) {
  const base = JSON.stringify({ messages: [{ role: 'user', content: '' }] });
  const s = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(size - base.length) }] });
  assert.equal(Buffer.byteLength(s), size);
  return s;
}

describe('400 for bad requests', () => {
  const cases = [
    ['an empty body', ''],
    ['truncated JSON', '{"messages": [{"role": "user", "content": "hi"'],
    ['trailing garbage after JSON', '{"messages": [{"role": "user", "content": "hi"}]} xyz'],
    [
      'invalid UTF-8 bytes',
      Buffer.concat([Buffer.from('{"messages": [{"role": "user", "content": "'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}]}')]),
    ],
    ['an array body', '[{"role": "user", "content": "hi"}]'],
    ['a string body', '"hello"'],
    ['a number body', '42'],
    ['a null body', 'null'],
    ['missing messages', { model: 'llmnet' }],
    ['messages not an array', { messages: 'hello' }],
    ['an empty messages array', { messages: [] }],
    ['a message without role', { messages: [{ content: 'hi' }] }],
    ['a message that is not an object', { messages: ['hi'] }],
    ['an unknown role', { messages: [{ role: 'wizard', content: 'hi' }] }],
    ['a non-string model', { model: 42, messages: [{ role: 'user', content: 'hi' }] }],
  ];
  for (const [name, body] of cases) {
    test(name, async () => {
      const res = await chat(gw.url, body);
      assertOpenAIError(res, 400);
      assert.equal(res.json.error.type, 'invalid_request_error');
      assert.ok(res.headers.get('x-request-id'), 'errors carry x-request-id too');
      await assertHealthy(gw.url);
    });
  }

  test('the messages errors say what is wrong', async () => {
    const missing = await chat(gw.url, { model: 'llmnet' });
    assert.match(missing.json.error.message, /messages/);
    const role = await chat(gw.url, { messages: [{ role: 'wizard', content: 'hi' }] });
    assert.match(role.json.error.message, /role/);
  });

  test('no upstream call is made for a rejected request', async () => {
    const rid = newRequestId('rejected');
    const res = await chat(gw.url, { messages: [{ role: 'wizard', content: 'hi' }] }, { 'x-request-id': rid });
    assertOpenAIError(res, 400);
    assert.equal((await upstreamCalls(mock.url, rid)).length, 0);
  });
});

describe('accepted requests', () => {
  test('unknown top-level fields are accepted and passed upstream', async () => {
    const rid = newRequestId('unknown-fields');
    const res = await chat(
      gw.url,
      { ...hello, my_extension: { a: 1 }, provider: { order: ['x'] }, seed: 7 },
      { 'x-request-id': rid },
    );
    assert.equal(res.status, 200, res.text);
    const calls = await upstreamCalls(mock.url, rid);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0].body.my_extension, { a: 1 });
    assert.deepEqual(calls[0].body.provider, { order: ['x'] });
    assert.equal(calls[0].body.seed, 7);
  });

  test('content as an array of parts is accepted', async () => {
    const res = await chat(gw.url, { messages: [{ role: 'user', content: [{ type: 'text', text: 'hello parts' }] }] });
    assert.equal(res.status, 200, res.text);
    assert.ok(res.json.choices[0].message.content.includes('hello parts'));
  });
});

describe('404 and 405', () => {
  test('an unknown path is 404', async () => {
    for (const [method, p] of [
      ['GET', '/nope'],
      ['POST', '/v1/completions'],
      ['GET', '/v2/models'],
    ]) {
      const res = await request(gw.url, p, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
      assertOpenAIError(res, 404);
    }
    await assertHealthy(gw.url);
  });

  test('GET /v1/chat/completions is 405 with Allow: POST', async () => {
    const res = await request(gw.url, '/v1/chat/completions');
    assertOpenAIError(res, 405);
    assert.match(res.headers.get('allow') ?? '', /POST/);
    await assertHealthy(gw.url);
  });

  test('POST /v1/models is 405 with Allow: GET', async () => {
    const res = await request(gw.url, '/v1/models', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assertOpenAIError(res, 405);
    assert.match(res.headers.get('allow') ?? '', /GET/);
    await assertHealthy(gw.url);
  });
});

describe('413', () => {
  test('a 10 MB body announced by Content-Length is refused with 413 before it is sent', async () => {
    const size = 10 * 1024 * 1024;
    const raw = await rawExchange(
      gw.url,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`,
    );
    const { responses } = parseResponses(raw);
    assert.equal(responses.length, 1, raw);
    assert.equal(responses[0].status, 413);
    const err = JSON.parse(responses[0].body);
    assert.equal(typeof err.error.message, 'string');
    assert.equal(typeof err.error.type, 'string');
    await assertHealthy(gw.url);
  });

  test('a client uploading a 10 MB body reads the 413 (fetch)', async () => {
    const big = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(10 * 1024 * 1024) }] });
    let res;
    let error;
    try {
      res = await chat(gw.url, big);
    } catch (e) {
      error = e;
    }
    assert.equal(error, undefined, `fetch failed instead of reading the 413: ${error && (error.cause?.code ?? error.message)}`);
    assertOpenAIError(res, 413);
    await assertHealthy(gw.url);
  });

  test('server.max-body-bytes: a body of exactly the limit passes, one byte more is 413', async () => {
    const ok = await chat(small.url, bodyOfSize(MAX_BODY));
    assert.equal(ok.status, 200, ok.text);
    const over = await chat(small.url, bodyOfSize(MAX_BODY + 1));
    assertOpenAIError(over, 413);
    await assertHealthy(small.url);
  });

  test('server.max-body-bytes applies to a chunked body too', async () => {
    const body = bodyOfSize(MAX_BODY + 500);
    const half = Math.floor(body.length / 2);
    const chunked =
      `${half.toString(16)}\r\n${body.slice(0, half)}\r\n` + `${(body.length - half).toString(16)}\r\n${body.slice(half)}\r\n0\r\n\r\n`;
    const raw = await rawExchange(small.url, [
      'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
      chunked,
    ]);
    const { responses } = parseResponses(raw);
    assert.ok(responses.length >= 1, raw);
    assert.equal(responses[0].status, 413, raw);
    await assertHealthy(small.url);
  });
});

describe('upstream failures', () => {
  test('502 when the handler upstream answers 500; the message names the node and the model', async () => {
    const res = await chat(gw.url, { model: 'broken-node', ...hello });
    assertOpenAIError(res, 502);
    assert.match(res.json.error.message, /broken-node/);
    assert.match(res.json.error.message, /fail-500/);
    assert.ok(res.headers.get('x-request-id'));
    await assertHealthy(gw.url);
  });

  test('429 from the upstream is passed on with its Retry-After', async () => {
    const res = await chat(gw.url, { model: 'limited-node', ...hello });
    assertOpenAIError(res, 429);
    assert.equal(res.json.error.type, 'rate_limit_error');
    assert.equal(res.headers.get('retry-after'), '7');
    await assertHealthy(gw.url);
  });

  test('502 when the upstream body is not JSON', async () => {
    const res = await chat(gw.url, { model: 'garbage-node', ...hello });
    assertOpenAIError(res, 502);
    assert.match(res.json.error.message, /garbage-node/);
    await assertHealthy(gw.url);
  });

  test("502 when the upstream answers 200 with an error object; the upstream's message is passed on", async () => {
    const res = await chat(gw.url, { model: 'error-200-node', ...hello });
    assertOpenAIError(res, 502);
    assert.match(res.json.error.message, /error-200-node/);
    assert.match(res.json.error.message, /provider is overloaded/);
    await assertHealthy(gw.url);
  });

  test('502 when the upstream port is closed (connection refused)', async () => {
    const res = await chat(gw.url, { model: 'dead-node', ...hello });
    assertOpenAIError(res, 502);
    assert.match(res.json.error.message, /dead-node/);
    await assertHealthy(gw.url);
  });

  test('504 when the model does not answer within its timeout; the message names the node', async () => {
    const res = await chat(gw.url, { model: 'slow-node', ...hello });
    assertOpenAIError(res, 504);
    assert.match(res.json.error.message, /slow-node/);
    await assertHealthy(gw.url);
  });

  test('model_override as an array: models are tried in order until one answers', async () => {
    const rid = newRequestId('fallback');
    const res = await chat(gw.url, { model: 'fallback-node', ...hello }, { 'x-request-id': rid });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.model, 'backup-model');
    const models = (await upstreamCalls(mock.url, rid)).map((c) => c.body.model);
    assert.deepEqual([...new Set(models)], ['fail-500', 'garbage', 'backup-model']);
    assert.equal(models[models.length - 1], 'backup-model');
  });

  test('model_override as an array: when every model fails the error is a 502 naming the node', async () => {
    const res = await chat(gw.url, { model: 'all-fail-node', ...hello });
    assertOpenAIError(res, 502);
    assert.match(res.json.error.message, /all-fail-node/);
    await assertHealthy(gw.url);
  });

  test('retries: a 503 twice and then an answer succeeds with the default of 2 retries', async () => {
    const rid = newRequestId('flaky');
    const res = await chat(gw.url, { model: 'flaky-node', ...hello }, { 'x-request-id': rid });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.model, 'flaky-model');
    const calls = await upstreamCalls(mock.url, rid);
    assert.equal(calls.length, 3);
  });

  test('retries: 0 means one attempt; a 503 then fails the request', async () => {
    const rid = newRequestId('once');
    const res = await chat(gw.url, { model: 'once-node', ...hello }, { 'x-request-id': rid });
    assert.ok(res.status === 502 || res.status === 503, `status ${res.status}: ${res.text}`);
    assertOpenAIError(res, res.status);
    assert.match(res.json.error.message, /once-node/);
    assert.equal((await upstreamCalls(mock.url, rid)).length, 1);
  });

  test('the good path still works after all of that', async () => {
    const res = await chat(gw.url, hello);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.model, 'ok-model');
  });
});

describe('server.api-keys', () => {
  test('401 without a bearer token', async () => {
    const res = await chat(keyed.url, hello);
    assertOpenAIError(res, 401);
    assert.equal(res.json.error.type, 'authentication_error');
  });

  test('401 with a wrong bearer token (also a prefix or extension of a right one)', async () => {
    for (const key of ['wrong', 'inbound-key', 'inbound-key-12', 'INBOUND-KEY-1', '']) {
      const res = await chat(keyed.url, hello, { authorization: `Bearer ${key}` });
      assertOpenAIError(res, 401);
    }
    const basic = await chat(keyed.url, hello, { authorization: 'Basic aW5ib3VuZC1rZXktMQ==' });
    assertOpenAIError(basic, 401);
  });

  test('200 with either configured key', async () => {
    for (const key of ['inbound-key-1', 'inbound-key-2']) {
      const res = await chat(keyed.url, hello, { authorization: `Bearer ${key}` });
      assert.equal(res.status, 200, res.text);
    }
  });

  test('the inbound key is not forwarded upstream', async () => {
    const rid = newRequestId('keyed');
    const res = await chat(keyed.url, hello, { authorization: 'Bearer inbound-key-1', 'x-request-id': rid });
    assert.equal(res.status, 200, res.text);
    const calls = await upstreamCalls(mock.url, rid);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].headers.authorization, 'Bearer k');
  });

  test('/v1/models needs the key too; /health does not', async () => {
    assertOpenAIError(await request(keyed.url, '/v1/models'), 401);
    const ok = await request(keyed.url, '/v1/models', { headers: { authorization: 'Bearer inbound-key-2' } });
    assert.equal(ok.status, 200);
    await assertHealthy(keyed.url);
  });
});

describe('stream', () => {
  test('"stream": true is either a real event stream or a clear error, never a 200 with an error inside', async () => {
    const rid = newRequestId('stream');
    const res = await chat(gw.url, { ...hello, stream: true, stream_options: { include_usage: true } }, { 'x-request-id': rid });
    if (res.status === 200) {
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.equal(res.headers.get('x-request-id'), rid);
      assert.ok(!/"error"/.test(res.text), res.text);
      const events = sseEvents(res.text);
      assert.equal(events[events.length - 1], '[DONE]');
      const chunks = events.slice(0, -1);
      assert.ok(chunks.length >= 2);
      for (const c of chunks) {
        assert.equal(c.object, 'chat.completion.chunk');
        assert.equal(c.id, `chatcmpl-${rid}`);
        assert.equal(c.model, 'ok-model');
      }
      const content = chunks.map((c) => (c.choices[0] && c.choices[0].delta.content) || '').join('');
      const plain = await chat(gw.url, hello);
      assert.equal(content, plain.json.choices[0].message.content);
      const finish = chunks.filter((c) => c.choices[0] && c.choices[0].finish_reason);
      assert.equal(finish.length, 1);
      assert.equal(finish[0].choices[0].finish_reason, 'stop');
      const usage = chunks.filter((c) => c.usage);
      assert.equal(usage.length, 1, 'include_usage: one usage chunk');
      assert.equal(usage[0].usage.total_tokens, usage[0].usage.prompt_tokens + usage[0].usage.completion_tokens);
      assert.equal(usage[0].usage.total_tokens, plain.json.usage.total_tokens);
      const calls = await upstreamCalls(mock.url, rid);
      assert.equal(calls[0].body.stream, true);
    } else {
      assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
      assertOpenAIError(res, res.status);
      assert.match(res.json.error.message, /stream/);
    }
    await assertHealthy(gw.url);
  });

  test('"stream": true with a failing upstream is an error status, not a 200 stream', async () => {
    for (const [node, status] of [
      ['broken-stream-node', 502],
      ['limited-stream-node', 429],
      ['dead-stream-node', 502],
    ]) {
      const res = await chat(gw.url, { model: node, ...hello, stream: true });
      assertOpenAIError(res, status);
      assert.match(res.json.error.message, new RegExp(node));
    }
    await assertHealthy(gw.url);
  });

  test('"stream": true with an upstream stream cut short: the client can tell it is incomplete', async () => {
    const res = await chat(gw.url, { model: 'cut-node', ...hello, stream: true });
    if (res.status === 200) {
      const events = sseEvents(res.text);
      const clean = events[events.length - 1] === '[DONE]' && !events.some((e) => e !== '[DONE]' && e.error);
      assert.ok(!clean, `a cut stream must not look complete: ${res.text}`);
      const finishes = events.filter((e) => e !== '[DONE]' && e.choices && e.choices[0] && e.choices[0].finish_reason === 'stop');
      assert.equal(finishes.length, 0, 'no finish_reason "stop" for a cut stream');
    } else {
      assertOpenAIError(res, 502);
    }
    await assertHealthy(gw.url);
  });

  test('"stream" that is not a boolean is a 400', async () => {
    const res = await chat(gw.url, { ...hello, stream: 'yes' });
    assertOpenAIError(res, 400);
  });
  test('"stream": false is an ordinary completion', async () => {
    const res = await chat(gw.url, { ...hello, stream: false });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.object, 'chat.completion');
  });
});
