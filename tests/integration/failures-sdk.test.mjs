// What clients see when upstreams fail (issue 10, items 1-4, 20, 21, 25b),
// with the real SDKs at their DEFAULT retry settings: the official openai
// SDK, LangChain's ChatOpenAI and the Vercel AI SDK. Every client request
// carries its own x-request-id, which llmnet forwards upstream, so the
// mock's log tells how many upstream calls one client request cost (SDK
// retries included: they resend the same header).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import OpenAI from 'openai';
import { ChatOpenAI } from '@langchain/openai';
import { createOpenAI } from '@ai-sdk/openai';
import { APICallError, generateText, streamText } from 'ai';

import {
  chat,
  endpoint,
  isRoutingCall,
  newRequestId,
  overrideNode,
  request,
  seedConfig,
  sleep,
  sseEvents,
  startLlmnet,
  startMock,
  stopAll,
  upstreamCalls,
  waitFor,
} from './lib.mjs';

const refusal = (status, message, param, code) => ({
  status,
  raw: JSON.stringify({ error: { message, type: 'invalid_request_error', param, code } }),
});

const RULES = {
  rules: [
    {
      when: { model: 'bad-tool' },
      ...refusal(
        400,
        "Invalid schema for function 'get_weather': 'object' is not a valid type",
        'tools[0].function.parameters',
        'invalid_function_parameters',
      ),
    },
    { when: { model: 'no-such-model' }, ...refusal(404, 'The model `no-such-model` does not exist', null, 'model_not_found') },
    { when: { model: 'too-large' }, ...refusal(413, 'Request too large for model: 900000 tokens', 'messages', 'request_too_large') },
    { when: { model: 'unprocessable' }, ...refusal(422, "messages[0].content: expected a string", 'messages[0].content', null) },
    { when: { model: 'bad-key' }, status: 401, error: 'Incorrect API key provided' },
    { when: { model: 'no-credit' }, status: 402, error: 'Insufficient credits' },
    { when: { model: 'forbidden' }, status: 403, error: 'This key may not use this model' },
    { when: { model: 'storm-429' }, status: 429, 'retry-after': 1, error: 'rate limited, storm' },
    { when: { model: 'storm-500' }, status: 500, error: 'storm of 500s' },
    { when: { model: 'cb-down' }, status: 500, error: 'cb model down' },
    { when: { model: 'coder-down' }, status: 500, error: 'the coding model is down' },
    { when: { router: true, contains: 'router is down' }, status: 500, error: 'router outage' },
    { when: { router: true, matches: 'python|code' }, route: 'technical-handler' },
    { when: { model: 'cut-stream' }, 'cut-after': 2, reply: 'alpha beta gamma delta epsilon zeta' },
    { when: { model: 'probe-model' }, status: 500, error: 'probe model down', times: 1 },
    { when: { model: 'probe-model' }, 'delay-ms': 4000, times: 1 },
    { when: { model: 'a-down' }, status: 500, error: 'A is down' },
    { when: { model: 'c-down' }, status: 500, error: 'C is down' },
  ],
};

const hello = [{ role: 'user', content: 'hello' }];

let mock;
let gw;

before(async () => {
  mock = await startMock(RULES);
  const ep = (extra = {}) => endpoint(mock.url, extra);
  gw = await startLlmnet({
    models: {
      good: ep(),
      refusals: ep(), // default retries (2): a refusal must not use them
      storm: ep({ retries: 1 }),
      cb: ep({ retries: 0, 'circuit-breaker': { failures: 1, cooldown: 30 } }),
      probe: ep({ retries: 0, 'circuit-breaker': { failures: 1, cooldown: 1 } }),
      flat: ep({ retries: 0 }),
    },
    architecture: [
      { name: 'chat', layer: 0, model: 'good', 'output-to': ['output'], 'extra-options': { model_override: 'ok-model' } },
      overrideNode('bad-tool-node', 'refusals', 'bad-tool'),
      overrideNode('unknown-model-node', 'refusals', 'no-such-model'),
      overrideNode('unknown-then-good', 'refusals', ['no-such-model', 'good-model']),
      overrideNode('too-large-node', 'refusals', 'too-large'),
      overrideNode('unprocessable-node', 'refusals', 'unprocessable'),
      overrideNode('bad-key-node', 'refusals', 'bad-key'),
      overrideNode('no-credit-node', 'refusals', 'no-credit'),
      overrideNode('forbidden-node', 'refusals', 'forbidden'),
      overrideNode('storm-429-node', 'storm', 'storm-429'),
      overrideNode('storm-500-node', 'storm', 'storm-500'),
      overrideNode('cb-node', 'cb', 'cb-down'),
      overrideNode('probe-node', 'probe', 'probe-model'),
      overrideNode('cut-node', 'good', 'cut-stream'),
      // item 21: A fails, its fallback B answers and hands over to C; when C
      // fails, A's next fallback D must not answer for it
      overrideNode('A', 'flat', 'a-down', { fallback: ['B', 'D'] }),
      overrideNode('B', 'good', 'b-model', { 'output-to': ['C'] }),
      { name: 'C', layer: 2, model: 'flat', 'extra-options': { model_override: 'c-down' } },
      overrideNode('D', 'good', 'd-model'),
      { name: 'output', adapter: 'output' },
    ],
    server: { 'request-timeout': 20 },
  });
});

after(async () => {
  await stopAll(gw, mock);
});

// The SDK clients, each sending `rid` as x-request-id on every attempt.
const openaiClient = (url, rid) => new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', defaultHeaders: { 'x-request-id': rid } });
const langchain = (url, rid, model, extra = {}) =>
  new ChatOpenAI({ model, apiKey: 'unused', configuration: { baseURL: `${url}/v1`, defaultHeaders: { 'x-request-id': rid } }, ...extra });
const aiModel = (url, rid, model) =>
  createOpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', headers: { 'x-request-id': rid } }).chat(model);

async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('expected the call to fail');
}

async function callNode(nodeName, extra = {}) {
  const rid = newRequestId(nodeName);
  const res = await chat(gw.url, { model: nodeName, messages: hello, ...extra }, { 'x-request-id': rid });
  return { res, rid };
}

async function metric(url, line) {
  const res = await request(url, '/metrics');
  return res.text.split('\n').find((l) => l.startsWith(line));
}

describe('item 1: upstream refusals keep their meaning', () => {
  for (const [nodeName, status, param, code, text] of [
    ['bad-tool-node', 400, 'tools[0].function.parameters', 'invalid_function_parameters', /Invalid schema for function 'get_weather'/],
    ['unknown-model-node', 404, null, 'model_not_found', /The model `no-such-model` does not exist/],
    ['too-large-node', 413, 'messages', 'request_too_large', /Request too large for model/],
    ['unprocessable-node', 422, 'messages[0].content', null, /expected a string/],
  ]) {
    test(`an upstream ${status} reaches the client as ${status} with its message, param and code, after one call`, async () => {
      const { res, rid } = await callNode(nodeName);
      assert.equal(res.status, status, res.text);
      assert.equal(res.headers.get('x-should-retry'), 'false');
      assert.equal(res.json.error.param, param);
      assert.equal(res.json.error.code, code);
      assert.match(res.json.error.message, text);
      assert.match(res.json.error.message, new RegExp(`node "${nodeName}"`), 'says which node');
      assert.equal((await upstreamCalls(mock.url, rid)).length, 1, 'not retried by llmnet');
    });
  }

  test('a 404 for one model id moves on to the next model id (it describes the model, not the request)', async () => {
    const { res, rid } = await callNode('unknown-then-good');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual((await upstreamCalls(mock.url, rid)).map((c) => c.body.model), ['no-such-model', 'good-model']);
  });

  for (const [nodeName, upstream, said, code] of [
    ['bad-key-node', 401, /the provider rejected llmnet's key/, 'upstream_auth_failed'],
    ['no-credit-node', 402, /out of credits/, 'upstream_out_of_credits'],
    ['forbidden-node', 403, /forbids llmnet's key/, 'upstream_forbidden'],
  ]) {
    test(`an upstream ${upstream} (llmnet's own account) is a 502 that says so and is not retryable`, async () => {
      const { res, rid } = await callNode(nodeName);
      assert.equal(res.status, 502, res.text);
      assert.equal(res.headers.get('x-should-retry'), 'false');
      assert.equal(res.json.error.code, code);
      assert.match(res.json.error.message, said);
      assert.match(res.json.error.message, new RegExp(`node "${nodeName}"`));
      assert.match(res.json.error.message, /model "refusals"|at refusals/);
      assert.equal((await upstreamCalls(mock.url, rid)).length, 1);
    });
  }

  test('the openai SDK (default retries) gets BadRequestError 400 with param and code, after one upstream call', async () => {
    const rid = newRequestId('openai-400');
    const err = await rejection(openaiClient(gw.url, rid).chat.completions.create({ model: 'bad-tool-node', messages: hello }));
    assert.ok(err instanceof OpenAI.BadRequestError, `${err?.constructor?.name}: ${err}`);
    assert.equal(err.status, 400);
    assert.equal(err.param, 'tools[0].function.parameters');
    assert.equal(err.code, 'invalid_function_parameters');
    assert.equal((await upstreamCalls(mock.url, rid)).length, 1);
  });

  test('a streamed request gets the same 400 before any event (openai SDK, stream: true)', async () => {
    const rid = newRequestId('openai-400-stream');
    const err = await rejection(
      openaiClient(gw.url, rid).chat.completions.create({ model: 'bad-tool-node', messages: hello, stream: true }),
    );
    assert.ok(err instanceof OpenAI.BadRequestError, `${err?.constructor?.name}: ${err}`);
    assert.equal(err.param, 'tools[0].function.parameters');
    assert.equal((await upstreamCalls(mock.url, rid)).length, 1);
  });

  test('LangChain ChatOpenAI (default retries) gets a 400 BadRequestError after one upstream call', async () => {
    const rid = newRequestId('langchain-400');
    const err = await rejection(langchain(gw.url, rid, 'bad-tool-node').invoke('hello'));
    assert.equal(err.status, 400, `${err?.constructor?.name}: ${err}`);
    assert.equal(err.constructor.name, 'BadRequestError');
    assert.equal((await upstreamCalls(mock.url, rid)).length, 1);
  });

  test('the AI SDK generateText (default retries) gets a non-retryable APICallError 400 after one upstream call', async () => {
    const rid = newRequestId('aisdk-400');
    const err = await rejection(generateText({ model: aiModel(gw.url, rid, 'bad-tool-node'), prompt: 'hello' }));
    assert.ok(APICallError.isInstance(err), `${err?.constructor?.name}: ${err}`);
    assert.equal(err.statusCode, 400);
    assert.equal(err.isRetryable, false);
    assert.equal((await upstreamCalls(mock.url, rid)).length, 1);
  });
});

describe('item 2: retries do not multiply (x-should-retry)', () => {
  test('a 429 storm: llmnet retries once (retries 1), the openai SDK adds no call of its own', async () => {
    const rid = newRequestId('openai-429');
    const err = await rejection(openaiClient(gw.url, rid).chat.completions.create({ model: 'storm-429-node', messages: hello }));
    assert.ok(err instanceof OpenAI.RateLimitError, String(err));
    assert.equal(err.headers.get('x-should-retry'), 'false');
    assert.equal((await upstreamCalls(mock.url, rid)).length, 2, "llmnet's own 2 attempts, no more");
  });

  test('a 500 storm: llmnet retries once, the openai SDK adds no call of its own', async () => {
    const rid = newRequestId('openai-500');
    const err = await rejection(openaiClient(gw.url, rid).chat.completions.create({ model: 'storm-500-node', messages: hello }));
    assert.equal(err.status, 502, String(err));
    assert.equal((await upstreamCalls(mock.url, rid)).length, 2);
  });

  test('an open circuit is 503 with x-should-retry: false', async () => {
    const first = await callNode('cb-node');
    assert.equal(first.res.status, 502, first.res.text);
    assert.equal(first.res.headers.get('x-should-retry'), 'false');
    const second = await callNode('cb-node');
    assert.equal(second.res.status, 503, second.res.text);
    assert.match(second.res.json.error.message, /circuit is open/);
    assert.equal(second.res.headers.get('x-should-retry'), 'false');
    assert.equal((await upstreamCalls(mock.url, second.rid)).length, 0);
  });

  test("llmnet's own errors say whether to retry: a bad request and an unknown path do not", async () => {
    const bad = await chat(gw.url, { messages: 'nope' });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('x-should-retry'), 'false');
    const lost = await request(gw.url, '/v1/nowhere');
    assert.equal(lost.status, 404);
    assert.equal(lost.headers.get('x-should-retry'), 'false');
  });

  test('max-concurrent: 503 with x-should-retry: true', async () => {
    let release;
    const gate = new Promise((r) => (release = r));
    const slow = http.createServer(async (req, res) => {
      req.resume();
      await gate;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] }));
    });
    await new Promise((r) => slow.listen(0, '127.0.0.1', r));
    const small = await startLlmnet({
      models: { m: { type: 'external', interface: 'openai-api', url: `http://127.0.0.1:${slow.address().port}`, 'api-key': null } },
      architecture: [{ name: 'chat', layer: 0, model: 'm' }],
      server: { 'max-concurrent': 1 },
    });
    try {
      const first = chat(small.url, { messages: hello });
      await waitFor(async () => (await metric(small.url, 'llmnet_in_flight'))?.endsWith(' 1'), { what: 'one request in flight' });
      const refused = await chat(small.url, { messages: hello });
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.headers.get('x-should-retry'), 'true');
      release();
      assert.equal((await first).status, 200);
    } finally {
      release();
      await small.stop();
      slow.closeAllConnections();
      slow.close();
    }
  });
});

describe('item 3 and 25b: a failed stream reads as failed in every SDK', () => {
  test('raw: the last event is an error object alone, no [DONE]', async () => {
    const { res } = await callNode('cut-node', { stream: true });
    assert.equal(res.status, 200);
    const events = sseEvents(res.text);
    assert.ok(!events.includes('[DONE]'), res.text);
    const last = events[events.length - 1];
    assert.deepEqual(Object.keys(last), ['error'], res.text);
    assert.equal(last.error.type, 'upstream_error');
  });

  test('25b: a stream that fails mid-way is counted and logged with 502, not 200', async () => {
    const { res, rid } = await callNode('cut-node', { stream: true });
    assert.equal(res.status, 200);
    const line = await metric(gw.url, 'llmnet_requests_total{entry="cut-node",status="502",door="chat"}');
    assert.ok(line, 'the failed stream is counted with status 502');
    assert.ok(!(await metric(gw.url, 'llmnet_requests_total{entry="cut-node",status="200",door="chat"}')), 'and not as 200');
    await waitFor(() => gw.stderr.split('\n').find((l) => l.includes(`id=${rid}`)), { what: 'the access log line' });
    const logged = gw.stderr.split('\n').find((l) => l.includes(`id=${rid}`));
    assert.match(logged, /status=502/);
  });

  test('the AI SDK streamText (openai.chat) reports an error, not finishReason "other"', async () => {
    const rid = newRequestId('aisdk-stream');
    const errors = [];
    const result = streamText({ model: aiModel(gw.url, rid, 'cut-node'), prompt: 'hello', onError: ({ error }) => errors.push(error) });
    let text = '';
    const parts = [];
    for await (const part of result.fullStream) {
      parts.push(part.type);
      if (part.type === 'text-delta') text += part.text;
    }
    assert.equal(text, 'alpha beta');
    assert.ok(parts.includes('error'), `an error part: ${parts.join(',')}`);
    assert.notEqual(await result.finishReason, 'other');
    assert.equal(await result.finishReason, 'error');
  });

  test('the openai SDK stream throws an APIError', async () => {
    const rid = newRequestId('openai-stream');
    const stream = await openaiClient(gw.url, rid).chat.completions.create({ model: 'cut-node', messages: hello, stream: true });
    let text = '';
    const err = await rejection(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      })(),
    );
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.match(err.message, /"cut-node"/);
    assert.equal(text, 'alpha beta');
  });

  test('LangChain ChatOpenAI .stream() throws', async () => {
    const rid = newRequestId('langchain-stream');
    const model = langchain(gw.url, rid, 'cut-node', { maxRetries: 0 });
    let text = '';
    const err = await rejection(
      (async () => {
        for await (const chunk of await model.stream('hello')) text += chunk.content;
      })(),
    );
    assert.match(String(err?.message ?? err), /cut-node|upstream/);
    assert.equal(text, 'alpha beta');
  });
});

describe('item 21: the fallback cursor belongs to one node visit', () => {
  test("A fails, its fallback B answers, then C fails: 502 for C, not A's next fallback D", async () => {
    const { res, rid } = await callNode('A');
    assert.equal(res.status, 502, res.text);
    assert.match(res.json.error.message, /node "C"/);
    const models = (await upstreamCalls(mock.url, rid)).map((c) => c.body.model);
    assert.deepEqual(models, ['a-down', 'b-model', 'c-down']);
  });
});

describe('item 20: a cancelled half-open probe does not keep the circuit open', () => {
  test('the probe call is cancelled by the client; the next request probes and gets through', async () => {
    const opened = await callNode('probe-node');
    assert.equal(opened.res.status, 502, opened.res.text);
    // the cooldown (1 s) passes; the next call is the probe, and it hangs
    await sleep(1200);
    const rid = newRequestId('probe');
    const ctrl = new AbortController();
    const pending = fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': rid },
      body: JSON.stringify({ model: 'probe-node', messages: hello }),
      signal: ctrl.signal,
    }).catch(() => null);
    await waitFor(async () => (await upstreamCalls(mock.url, rid)).length === 1, { what: 'the probe call upstream' });
    ctrl.abort();
    await pending;
    await waitFor(async () => {
      const { res } = await callNode('probe-node');
      return res.status === 200 ? res : null;
    }, { timeoutMs: 8000, what: 'the circuit to let a new probe through' });
  });
});

describe('item 4: one model outage does not take the router down (seed pipeline)', () => {
  let seed;
  before(async () => {
    const cfg = seedConfig(mock.url);
    cfg.architecture[2]['extra-options'].model_override = 'coder-down';
    // enough retries that one request's failures alone reach the breaker's
    // threshold (5 in a row) before the router's next success resets it
    cfg.models['router-gemma'].retries = 5;
    seed = await startLlmnet(cfg);
  });
  after(async () => {
    await seed?.stop();
  });

  test("a burst of 500s from technical-handler (same endpoint as the router) leaves the router's breaker closed", async () => {
    const burst = await chat(seed.url, { messages: [{ role: 'user', content: 'fix my python code' }] });
    assert.equal(burst.status, 503, burst.text);
    assert.match(burst.json.error.message, /"coder-down".*circuit is open/);
    const rid = newRequestId('after-burst');
    const res = await chat(seed.url, { messages: [{ role: 'user', content: 'Write a poem about rain' }] }, { 'x-request-id': rid });
    assert.equal(res.status, 200, res.text);
    const routerHop = res.json.llmnet.hops.find((h) => h.role === 'router');
    assert.equal(routerHop.decided, 'router', JSON.stringify(res.json.llmnet.hops));
    assert.ok((await upstreamCalls(mock.url, rid)).some(isRoutingCall), 'the router model was asked');
    // the coding model's own circuit is open: it fails fast, without a call
    const rid2 = newRequestId('coder-open');
    const open = await chat(seed.url, { messages: [{ role: 'user', content: 'more python code' }] }, { 'x-request-id': rid2 });
    assert.equal(open.status, 503, open.text);
    assert.match(open.json.error.message, /technical-handler/);
    assert.deepEqual((await upstreamCalls(mock.url, rid2)).filter((c) => !isRoutingCall(c)), []);
  });

  test('a failed routing goes to the default target, says so in the trace and counts it', async () => {
    const res = await chat(seed.url, { messages: [{ role: 'user', content: 'the router is down today' }] });
    assert.equal(res.status, 200, res.text);
    const hop = res.json.llmnet.hops.find((h) => h.decided === 'default');
    assert.ok(hop, JSON.stringify(res.json.llmnet.hops));
    assert.equal(hop.reason, 'router_failed');
    assert.equal(hop.chose, 'creative-handler');
    const line = await metric(seed.url, 'llmnet_route_fallbacks_total{node="router",reason="router_failed"}');
    assert.ok(line && / 1$/.test(line), String(line));
  });
});

describe('item 3: shutdown-grace running out ends open streams with an error event', () => {
  test('a stream still open when the grace ends gets an error event and a complete chunked body', async () => {
    const stalled = [];
    const upstream = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const chunk = { id: 'u', object: 'chat.completion.chunk', created: 1, model: 'stall', choices: [{ index: 0, delta: { role: 'assistant', content: 'first words' }, finish_reason: null }] };
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        stalled.push(res); // and nothing more: the stream stays open
      });
    });
    await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
    const gwStall = await startLlmnet({
      models: { m: { type: 'external', interface: 'openai-api', url: `http://127.0.0.1:${upstream.address().port}`, 'api-key': null } },
      architecture: [{ name: 'chat', layer: 0, model: 'm' }],
      server: { 'shutdown-grace': 1, 'request-timeout': 60 },
    });
    try {
      const res = await fetch(`${gwStall.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages: hello, stream: true }),
      });
      assert.equal(res.status, 200);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (!text.includes('first words')) {
        const { value, done } = await reader.read();
        assert.ok(!done, text);
        text += decoder.decode(value, { stream: true });
      }
      gwStall.child.kill('SIGTERM');
      // the rest of the body, read to its end: a cut chunked body rejects here
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      const events = sseEvents(text);
      assert.ok(!events.includes('[DONE]'), text);
      const last = events[events.length - 1];
      assert.deepEqual(Object.keys(last), ['error'], text);
      assert.match(last.error.message, /shutdown-grace/);
    } finally {
      for (const r of stalled) r.destroy();
      await gwStall.stop();
      upstream.closeAllConnections();
      upstream.close();
    }
  });
});
