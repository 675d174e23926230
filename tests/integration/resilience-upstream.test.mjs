// Fault injection on the upstream side: rate limits, errors, hung and
// reset connections, broken bodies and streams, a dead upstream coming
// back, the circuit breaker, fallbacks and a client hanging up mid-stream.
// Every case checks the exact status and OpenAI error body the client
// gets, and that the gateway still serves the next request.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertHealthy,
  assertOpenAIError,
  assertServes,
  chat,
  endpoint,
  mockRequests,
  mockStats,
  newRequestId,
  overrideNode,
  seedConfig,
  sleep,
  sseEvents,
  startLlmnet,
  startMock,
  stopAll,
  upstreamCalls,
  waitFor,
} from './lib.mjs';

const LONG_REPLY = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
const GOOD_CHUNK = JSON.stringify({
  id: 'up-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'half-sse',
  choices: [{ index: 0, delta: { role: 'assistant', content: 'partial' }, finish_reason: null }],
});

const RULES = {
  rules: [
    { when: { model: 'storm-429' }, status: 429, 'retry-after': 1, error: 'slow down, storm' },
    { when: { model: 'once-429' }, status: 429, error: 'busy for a moment', times: 1 },
    { when: { model: 'far-429' }, status: 429, 'retry-after': 30, error: 'come back in 30 s' },
    { when: { model: 'once-500' }, status: 500, error: 'transient failure', times: 1 },
    { when: { model: 'hung-model' }, 'delay-ms': 5000 },
    { when: { model: 'reset-model' }, reset: true },
    { when: { model: 'trunc-model' }, reset: 30 },
    { when: { model: 'cut-stream' }, 'cut-after': 2, reply: 'alpha beta gamma delta epsilon zeta eta theta' },
    { when: { model: 'bad-json' }, raw: '{"id":"x","object":"chat.completion","choices":[{"message":' },
    { when: { model: 'bad-sse' }, raw: 'data: {this is not json\n\n', 'content-type': 'text/event-stream' },
    { when: { model: 'half-sse' }, raw: `data: ${GOOD_CHUNK}\n\ndata: {garbage\n\n`, 'content-type': 'text/event-stream' },
    { when: { model: 'bad-model' }, status: 500, error: 'bad-model is down' },
    { when: { model: 'primary-model' }, status: 500, error: 'primary is down' },
    { when: { model: 'cb-model' }, status: 500, error: 'outage', times: 2 },
  ],
};

const hello = { messages: [{ role: 'user', content: 'hello' }] };

let mock;
let gw;

before(async () => {
  mock = await startMock(RULES);
  const ep = (extra = {}) => endpoint(mock.url, extra);
  // One endpoint per scenario: retries and circuit breakers are per
  // endpoint, so one scenario's failures cannot open another's circuit.
  gw = await startLlmnet({
    models: {
      good: ep(),
      storm: ep({ retries: 1 }),
      once429: ep(),
      far429: ep({ retries: 2 }),
      once500: ep(),
      firstbyte: ep({ 'first-byte-timeout': 1, retries: 0 }),
      total: ep({ timeout: 1, retries: 0 }),
      reset: ep({ retries: 1 }),
      trunc: ep({ retries: 1 }),
      cut: ep(),
      badjson: ep({ retries: 0 }),
      badsse: ep({ retries: 0 }),
      halfsse: ep({ retries: 0 }),
      overrides: ep({ retries: 0 }),
      prim: ep({ retries: 0 }),
      cb: ep({ retries: 0, 'circuit-breaker': { failures: 2, cooldown: 2 } }),
    },
    architecture: [
      { name: 'chat', layer: 0, model: 'good', 'output-to': ['output'], 'extra-options': { model_override: 'ok-model' } },
      overrideNode('storm-node', 'storm', 'storm-429'),
      overrideNode('once-429-node', 'once429', 'once-429'),
      overrideNode('far-429-node', 'far429', 'far-429'),
      overrideNode('once-500-node', 'once500', 'once-500'),
      overrideNode('first-byte-node', 'firstbyte', 'hung-model'),
      overrideNode('total-timeout-node', 'total', 'hung-model'),
      overrideNode('reset-node', 'reset', 'reset-model'),
      overrideNode('trunc-node', 'trunc', 'trunc-model'),
      overrideNode('cut-node', 'cut', 'cut-stream'),
      overrideNode('bad-json-node', 'badjson', 'bad-json'),
      overrideNode('bad-sse-node', 'badsse', 'bad-sse'),
      overrideNode('half-sse-node', 'halfsse', 'half-sse'),
      overrideNode('override-node', 'overrides', ['bad-model', 'good-model']),
      overrideNode('primary', 'prim', 'primary-model', { fallback: ['backup'] }),
      overrideNode('backup', 'good', 'backup-model'),
      overrideNode('cb-node', 'cb', 'cb-model'),
      { name: 'output', adapter: 'output' },
    ],
    server: { 'request-timeout': 10 },
  });
});

after(async () => {
  await stopAll(gw, mock);
});

// A chat entering at `node`, tagged with a fresh request id.
async function callNode(url, node, extra = {}, tag = node) {
  const rid = newRequestId(tag);
  const res = await chat(url, { model: node, ...hello, ...extra }, { 'x-request-id': rid });
  return { res, rid };
}

function assertNames(res, node, model) {
  assert.match(res.json.error.message, new RegExp(`"${node}"`), res.text);
  assert.match(res.json.error.message, new RegExp(`"${model}"`), res.text);
}

describe('rate limits (429)', () => {
  test('a 429 storm with Retry-After: 1 and retries 1: two calls, then 429 with Retry-After passed on', async () => {
    const { res, rid } = await callNode(gw.url, 'storm-node');
    assertOpenAIError(res, 429);
    assert.equal(res.json.error.type, 'rate_limit_error');
    assert.equal(res.json.error.code, 'rate_limit_exceeded');
    assertNames(res, 'storm-node', 'storm-429');
    assert.match(res.json.error.message, /slow down, storm/);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.equal(res.headers.get('x-request-id'), rid);
    const calls = await upstreamCalls(mock.url, rid);
    assert.equal(calls.length, 2, 'retries + 1 calls');
    assert.ok(calls.every((c) => c.body.model === 'storm-429'));
    await assertServes(gw.url);
  });

  test('a 429 once, then an answer: 200, and the trace shows the 429 and the wait', async () => {
    const { res, rid } = await callNode(gw.url, 'once-429-node');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.model, 'once-429');
    assert.equal((await upstreamCalls(mock.url, rid)).length, 2);
    const hops = res.json.llmnet.hops;
    assert.equal(hops.length, 2, JSON.stringify(hops));
    assert.equal(hops[0].node, 'once-429-node');
    assert.match(hops[0].error, /429/);
    assert.ok(hops[0].retry_in_ms > 0, JSON.stringify(hops[0]));
    assert.equal(hops[1].error, undefined);
    await assertServes(gw.url);
  });

  test('a Retry-After longer than server.request-timeout is not waited for: 429 at once, one call', async () => {
    const { res, rid } = await callNode(gw.url, 'far-429-node');
    assertOpenAIError(res, 429);
    assertNames(res, 'far-429-node', 'far-429');
    assert.equal(res.headers.get('retry-after'), '30');
    assert.equal((await upstreamCalls(mock.url, rid)).length, 1, 'no retry that would end after the deadline');
    await assertServes(gw.url);
  });
});

describe('upstream errors', () => {
  test('a 500 once, then an answer: 200, and llmnet.hops shows the failed attempt', async () => {
    const { res, rid } = await callNode(gw.url, 'once-500-node');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.model, 'once-500');
    assert.equal(res.json.object, 'chat.completion');
    assert.equal((await upstreamCalls(mock.url, rid)).length, 2);
    const hops = res.json.llmnet.hops;
    assert.equal(hops.length, 2, JSON.stringify(hops));
    assert.deepEqual(
      hops.map((h) => [h.node, h.model]),
      [
        ['once-500-node', 'once-500'],
        ['once-500-node', 'once-500'],
      ],
    );
    assert.match(hops[0].error, /HTTP 500/);
    assert.match(hops[0].error, /transient failure/);
    assert.ok(hops[0].retry_in_ms > 0);
    assert.equal(hops[1].role, 'answer');
    assert.equal(hops[1].error, undefined);
    await assertServes(gw.url);
  });

  test('a connection dropped before any response: retried, then 502 naming node and model', async () => {
    const before = (await mockStats(mock.url)).resets;
    const { res, rid } = await callNode(gw.url, 'reset-node');
    assertOpenAIError(res, 502);
    assert.equal(res.json.error.type, 'upstream_error');
    assertNames(res, 'reset-node', 'reset-model');
    // llmnet made one retry (retries 1) and logged it ...
    const retries = gw.stderr.split('\n').filter((l) => l.includes(rid) && /retry \d of \d/.test(l));
    assert.equal(retries.length, 1, gw.stderr);
    assert.match(retries[0], /retry 1 of 1/);
    // ... and each of its two attempts reached the mock and was dropped.
    // curl itself re-sends once on a fresh connection when a reused
    // keep-alive connection dies before any response byte (the stale
    // connection race), so an attempt may show up as two calls.
    const calls = (await upstreamCalls(mock.url, rid)).length;
    assert.ok(calls >= 2 && calls <= 4, `upstream calls: ${calls}`);
    assert.equal((await mockStats(mock.url)).resets - before, calls);
    await assertServes(gw.url);
  });

  test('a connection dropped in the middle of the response body: 502', async () => {
    const { res, rid } = await callNode(gw.url, 'trunc-node');
    assertOpenAIError(res, 502);
    assertNames(res, 'trunc-node', 'trunc-model');
    assert.equal((await upstreamCalls(mock.url, rid)).length, 2);
    await assertServes(gw.url);
  });

  test('a 200 whose body is malformed JSON: 502', async () => {
    const { res, rid } = await callNode(gw.url, 'bad-json-node');
    assertOpenAIError(res, 502);
    assertNames(res, 'bad-json-node', 'bad-json');
    assert.match(res.json.error.message, /not a chat completion/);
    assert.equal((await upstreamCalls(mock.url, rid)).length, 1);
    await assertServes(gw.url);
  });
});

describe('timeouts', () => {
  test('hung upstream with first-byte-timeout 1: 504 naming node and model; the upstream call is abandoned', async () => {
    const before = await mockStats(mock.url);
    const { res, rid } = await callNode(gw.url, 'first-byte-node');
    assertOpenAIError(res, 504);
    assert.equal(res.json.error.type, 'timeout_error');
    assertNames(res, 'first-byte-node', 'hung-model');
    assert.equal((await upstreamCalls(mock.url, rid)).length, 1);
    // llmnet hung up on the upstream: the mock saw its client go away
    // before the 5 s answer was due.
    await waitFor(async () => (await mockStats(mock.url)).aborted > before.aborted, { what: 'the mock to see the call abandoned' });
    await assertServes(gw.url);
  });

  test('the first-byte timeout message says which limit expired', async () => {
    const { res } = await callNode(gw.url, 'first-byte-node');
    assertOpenAIError(res, 504);
    // the model's total timeout is the default 120 s: a message claiming
    // the upstream "did not answer within 120 s" after one second is wrong
    assert.doesNotMatch(res.json.error.message, /120/, res.text);
    assert.match(res.json.error.message, /first.byte/i, res.text);
    await assertServes(gw.url);
  });

  test('hung upstream with timeout 1: 504 naming node and model and the 1 s limit', async () => {
    const { res, rid } = await callNode(gw.url, 'total-timeout-node');
    assertOpenAIError(res, 504);
    assert.equal(res.json.error.type, 'timeout_error');
    assertNames(res, 'total-timeout-node', 'hung-model');
    assert.match(res.json.error.message, /\b1 s\b/);
    assert.equal((await upstreamCalls(mock.url, rid)).length, 1);
    await assertServes(gw.url);
  });

  test('server.request-timeout bounds the whole request: 504 naming the node it was at', async () => {
    const small = await startLlmnet({
      models: { m: { type: 'external', interface: 'openai-api', url: mock.url, 'api-key': null } },
      architecture: [
        { name: 'chat', layer: 0, model: 'm', 'output-to': ['output'], 'extra-options': { model_override: 'ok-model' } },
        { name: 'slow-node', layer: 1, model: 'm', 'extra-options': { model_override: 'hung-model' } },
        { name: 'output', adapter: 'output' },
      ],
      server: { 'request-timeout': 1 },
    });
    try {
      const { res } = await callNode(small.url, 'slow-node');
      assertOpenAIError(res, 504);
      assert.match(res.json.error.message, /request-timeout/);
      assert.match(res.json.error.message, /"slow-node"/);
      await assertServes(small.url);
    } finally {
      await small.stop();
    }
  });
});

describe('broken streams', () => {
  test('reset mid-stream (cut-after): content, then an OpenAI error event (no choices), no [DONE]', async () => {
    const { res, rid } = await callNode(gw.url, 'cut-node', { stream: true });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    const events = sseEvents(res.text);
    assert.ok(!events.includes('[DONE]'), `a broken stream must not end with [DONE]: ${res.text}`);
    assert.ok(events.every((e) => !e.unparsed), res.text);
    const content = events.map((e) => e.choices?.[0]?.delta?.content ?? '').join('');
    assert.equal(content, 'alpha beta', 'the two chunks sent before the cut are relayed');
    const last = events[events.length - 1];
    assert.deepEqual(Object.keys(last), ['error'], 'the last event is an error and nothing else');
    assert.equal(last.error.type, 'upstream_error');
    assert.match(last.error.message, /"cut-node"/);
    assert.match(last.error.message, /"cut-stream"/);
    const finishes = events.filter((e) => e.choices?.[0]?.finish_reason);
    assert.equal(finishes.length, 0, 'no event claims the answer finished');
    assert.equal((await upstreamCalls(mock.url, rid)).length, 1, 'a stream that sent bytes is never retried');
    await assertServes(gw.url);
  });

  test('an event stream that is garbage from its first event: 502 error, no stream', async () => {
    const { res } = await callNode(gw.url, 'bad-sse-node', { stream: true });
    assertOpenAIError(res, 502);
    assertNames(res, 'bad-sse-node', 'bad-sse');
    assert.match(res.json.error.message, /not JSON/);
    await assertServes(gw.url);
  });

  test('an event stream that turns to garbage after a good event: the stream ends with an error event', async () => {
    const { res } = await callNode(gw.url, 'half-sse-node', { stream: true });
    assert.equal(res.status, 200, res.text);
    const events = sseEvents(res.text);
    assert.ok(!events.includes('[DONE]'), res.text);
    assert.equal(events[0].choices[0].delta.content, 'partial');
    const last = events[events.length - 1];
    assert.equal(last.choices, undefined, res.text);
    assert.match(last.error.message, /"half-sse-node"/);
    assert.match(last.error.message, /not JSON/);
    await assertServes(gw.url);
  });
});

describe('fallbacks', () => {
  test('model_override ["bad-model", "good-model"]: bad-model answers 500, good-model answers 200', async () => {
    const { res, rid } = await callNode(gw.url, 'override-node');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.model, 'good-model');
    assert.match(res.json.choices[0].message.content, /^\[good-model\] reply to: hello/);
    assert.deepEqual(
      (await upstreamCalls(mock.url, rid)).map((c) => c.body.model),
      ['bad-model', 'good-model'],
    );
    const hops = res.json.llmnet.hops;
    assert.equal(hops[0].model, 'bad-model');
    assert.match(hops[0].error, /bad-model is down/);
    assert.equal(hops[hops.length - 1].model, 'good-model');
    await assertServes(gw.url);
  });

  test('node "fallback": ["backup"]: when the node fails, backup answers and the route shows it', async () => {
    const { res, rid } = await callNode(gw.url, 'primary');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.model, 'backup-model');
    assert.equal(res.headers.get('x-llmnet-route'), 'primary>backup');
    assert.equal(res.json.llmnet.route, 'primary>backup');
    const calls = await upstreamCalls(mock.url, rid);
    assert.deepEqual(
      calls.map((c) => c.body.model),
      ['primary-model', 'backup-model'],
    );
    // the backup gets the same input
    assert.deepEqual(calls[1].body.messages, calls[0].body.messages);
    const hops = res.json.llmnet.hops;
    assert.equal(hops[0].node, 'primary');
    assert.equal(hops[0].fallback, 'backup');
    assert.equal(hops[hops.length - 1].node, 'backup');
    await assertServes(gw.url);
  });
});

describe('circuit breaker', () => {
  test('failures 2, cooldown 2: two failures open it, the third fails fast with 503, a probe after the cooldown closes it', async () => {
    const cbCalls = async () => (await mockRequests(mock.url)).filter((r) => r.body && r.body.model === 'cb-model').length;
    for (let i = 0; i < 2; i++) {
      const { res } = await callNode(gw.url, 'cb-node');
      assertOpenAIError(res, 502);
      assertNames(res, 'cb-node', 'cb-model');
      assert.match(res.json.error.message, /outage/);
    }
    assert.equal(await cbCalls(), 2);

    const { res: open } = await callNode(gw.url, 'cb-node');
    assertOpenAIError(open, 503);
    assertNames(open, 'cb-node', 'cb-model');
    assert.match(open.json.error.message, /circuit is open/);
    const retryAfter = Number(open.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 2, `Retry-After ${open.headers.get('retry-after')}`);
    assert.equal(await cbCalls(), 2, 'an open circuit does not reach the upstream');

    // Other endpoints are not affected.
    await assertServes(gw.url);

    // After the cooldown one probe goes through; the rule is spent, so it
    // succeeds and closes the circuit.
    const probe = await waitFor(
      async () => {
        const { res } = await callNode(gw.url, 'cb-node');
        return res.status === 503 ? null : res;
      },
      { timeoutMs: 10000, intervalMs: 250, what: 'the circuit to let a probe through' },
    );
    assert.equal(probe.status, 200, probe.text);
    assert.equal(probe.json.model, 'cb-model');
    assert.equal(await cbCalls(), 3);
    const { res: closed } = await callNode(gw.url, 'cb-node');
    assert.equal(closed.status, 200, closed.text);
    assert.equal(await cbCalls(), 4);
    await assertServes(gw.url);
  });
});

describe('an upstream killed and restarted', () => {
  test('SIGKILLed upstream: 502 (connection refused) after the retries; restarted on the same port: 200', async () => {
    let up = await startMock(null);
    const port = new URL(up.url).port;
    const gw2 = await startLlmnet({
      models: { m: { type: 'external', interface: 'openai-api', url: up.url, 'api-key': null } },
      architecture: [{ name: 'solo', layer: 0, model: 'm', 'extra-options': { model_override: 'solo-model' } }],
    });
    try {
      assert.equal((await chat(gw2.url, hello)).status, 200);
      const gone = new Promise((r) => up.child.once('exit', r));
      up.child.kill('SIGKILL');
      await gone;

      const rid = newRequestId('killed');
      const res = await chat(gw2.url, hello, { 'x-request-id': rid });
      assertOpenAIError(res, 502);
      assert.equal(res.json.error.type, 'upstream_error');
      assertNames(res, 'solo', 'solo-model');
      assert.match(res.json.error.message, /cannot connect/);
      // both retries (the default 2) were made and logged
      const retries = gw2.stderr.split('\n').filter((l) => l.includes(rid) && /retry \d of 2/.test(l));
      assert.equal(retries.length, 2, gw2.stderr);
      await assertHealthy(gw2.url);

      up = await startMock(null, [], { port });
      assert.equal(up.url, `http://127.0.0.1:${port}`);
      const back = await chat(gw2.url, hello);
      assert.equal(back.status, 200, back.text);
      assert.equal(back.json.model, 'solo-model');
      assert.equal((await mockRequests(up.url)).length, 1);
      await assertServes(gw2.url);
    } finally {
      await stopAll(gw2, up);
    }
  });
});

describe('a client that disconnects mid-stream', () => {
  test('the upstream stream is cancelled, not read to its end, and llmnet still serves', async () => {
    const slow = await startMock({ rules: [{ when: { contains: 'long story' }, reply: LONG_REPLY }] }, ['--chunk-interval', '100']);
    const gw3 = await startLlmnet({
      models: { m: { type: 'external', interface: 'openai-api', url: slow.url, 'api-key': null } },
      architecture: [{ name: 'solo', layer: 0, model: 'm' }],
    });
    try {
      const ac = new AbortController();
      const res = await fetch(`${gw3.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'tell me a long story' }], stream: true }),
        signal: ac.signal,
      });
      assert.equal(res.status, 200);
      const reader = res.body.getReader();
      let got = '';
      while (!/word0/.test(got)) {
        const { value, done } = await reader.read();
        assert.ok(!done, 'the stream ended before its first content chunk');
        got += Buffer.from(value).toString();
      }
      ac.abort();
      await reader.cancel().catch(() => {});

      const stats = await waitFor(
        async () => {
          const s = await mockStats(slow.url);
          return s.streams.aborted >= 1 ? s : null;
        },
        { timeoutMs: 8000, what: 'the mock to see its stream aborted' },
      );
      assert.equal(stats.streams.started, 1);
      assert.equal(stats.streams.aborted, 1);
      assert.equal(stats.streams.completed, 0);
      assert.equal(stats.pending, 0);
      // and it stays that way: nothing reads the rest of the story
      await sleep(300);
      assert.equal((await mockStats(slow.url)).streams.completed, 0);

      await assertServes(gw3.url, { messages: [{ role: 'user', content: 'short one' }] });
    } finally {
      await stopAll(gw3, slow);
    }
  });
});

describe('tried as a new user', () => {
  test('the seed topology against a mock that answers 429 to every third call: 9 requests, all 200', async () => {
    const flaky = await startMock({ rules: [{ every: 3, status: 429, 'retry-after': 1, error: 'rate limited (every third)' }] });
    // every request routed on its own (no pins, no decision cache), so each is router + handler
    const seed = await startLlmnet(seedConfig(flaky.url, { routing: { sticky: 'off', 'decision-cache': false } }));
    try {
      const prompts = ['Write a haiku about programming', 'How do I reverse a linked list in Python?', 'Tell me a story'];
      for (let i = 0; i < 9; i++) {
        const res = await chat(seed.url, { model: 'llmnet', messages: [{ role: 'user', content: prompts[i % 3] }] });
        assert.equal(res.status, 200, `request ${i + 1}: ${res.status} ${res.text}`);
        assert.equal(res.json.object, 'chat.completion');
        assert.match(res.headers.get('x-llmnet-route'), /^router>(creative|technical)-handler$/);
      }
      const stats = await mockStats(flaky.url);
      // 9 requests x (router + handler) = 18 calls that succeed; every
      // third call overall got a 429 and was retried: calls 3, 6 ... 24
      // are the 8 429s, and call 26 is the 18th success.
      assert.equal(stats.status['429'], 8, JSON.stringify(stats));
      assert.equal(stats.status['200'], 18, JSON.stringify(stats));
      assert.equal(stats.requests, 26);
      assert.equal(stats.answered, 26);
      await assertServes(seed.url);
    } finally {
      await stopAll(seed, flaky);
    }
  });
});
