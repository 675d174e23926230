// server.store: the state llmnet keeps beside requests, in the process or in
// a real redis-server shared by two llmnet processes (rate limits and
// session pins), its config keys (store, the old name rate-limit-store, $VAR,
// both set), failing open when Redis is down, and POST /v1/llmnet/route, the
// routing decision without a handler call.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';

import {
  assertOpenAIError,
  closedPort,
  isRoutingCall,
  newRequestId,
  runCli,
  seedConfig,
  startLlmnet,
  startMock,
  stopAll,
  tempDir,
  upstreamCalls,
  writeJson,
  readResponse,
  ask,
  awayFromMinuteEdge,
  mockAndRedis,
} from './lib.mjs';

const RULES = {
  rules: [{ when: { router: true, matches: 'python|code|linked list|rust' }, route: 'technical-handler' }],
};

// rpm counts per model key: each test names its own model.
function limited(mockUrl, rpm, server, model = 'limited') {
  return {
    models: { [model]: { type: 'external', url: mockUrl, 'api-key': null, retries: 0, 'rate-limit': { rpm, 'max-wait': 0 } } },
    architecture: [{ name: 'bot', layer: 0, model, 'extra-options': { model_override: 'limited-model' } }],
    server,
  };
}

async function route(url, body, headers = {}) {
  const res = await fetch(`${url}/v1/llmnet/route`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return readResponse(res);
}

describe('server.store in a shared redis-server', () => {
  const shared = mockAndRedis(RULES);

  it('two processes spend one rate-limit budget (one names the URL, the other through $VAR)', async () => {
    const { mock, redis } = shared;
    const a = await startLlmnet(limited(mock.url, 3, { store: redis.url }));
    const b = await startLlmnet(limited(mock.url, 3, { store: '$LLMNET_TEST_STORE' }), {
      env: { LLMNET_TEST_STORE: redis.url },
    });
    await awayFromMinuteEdge();
    try {
      const statuses = [];
      for (const url of [a.url, b.url, a.url, b.url, a.url]) statuses.push((await ask(url)).status);
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    } finally {
      await stopAll(a, b);
    }
  });

  it('the old name rate-limit-store still shares the budget with server.store', async () => {
    const { mock, redis } = shared;
    const a = await startLlmnet(limited(mock.url, 2, { store: redis.url }, 'aliased'));
    const b = await startLlmnet(limited(mock.url, 2, { 'rate-limit-store': redis.url }, 'aliased'));
    await awayFromMinuteEdge();
    try {
      const statuses = [];
      for (const url of [a.url, b.url, b.url]) statuses.push((await ask(url, 'alias')).status);
      assert.deepEqual(statuses, [200, 200, 429]);
    } finally {
      await stopAll(a, b);
    }
  });

  it('a session routed on one process is pinned on the other (no second router call)', async () => {
    const { mock, redis } = shared;
    const cfg = seedConfig(mock.url, { server: { store: redis.url } });
    const a = await startLlmnet(cfg);
    const b = await startLlmnet(cfg);
    try {
      const session = `store-test-${process.pid}-${Date.now()}`;
      const first = [{ role: 'user', content: 'How do I reverse a linked list in Python?' }];
      const idA = newRequestId('pin-a');
      const decided = await route(a.url, { model: 'llmnet', messages: first }, { 'x-session-id': session, 'x-request-id': idA });
      assert.equal(decided.status, 200, decided.text);
      assert.deepEqual(decided.json.route, ['router', 'technical-handler']);
      assert.equal(decided.json.decided, 'router');
      assert.equal(decided.json.session, session);
      assert.equal(typeof decided.json.latency_ms, 'number');
      const callsA = await upstreamCalls(mock.url, idA);
      assert.equal(callsA.length, 1, 'only the router was called');
      assert.ok(isRoutingCall(callsA[0]));

      // The follow-up goes to the other process, through the official SDK.
      const client = new OpenAI({ baseURL: `${b.url}/v1`, apiKey: 'unused' });
      const idB = newRequestId('pin-b');
      const followUp = [...first, { role: 'assistant', content: 'Use a loop.' }, { role: 'user', content: 'Can you add comments to it?' }];
      const { data, response } = await client.chat.completions
        .create({ model: 'llmnet', messages: followUp }, { headers: { 'x-session-id': session, 'x-request-id': idB } })
        .withResponse();
      assert.ok(data.choices[0].message.content.length > 0);
      assert.equal(response.headers.get('x-llmnet-route'), 'router>technical-handler');
      const callsB = await upstreamCalls(mock.url, idB);
      assert.equal(callsB.filter(isRoutingCall).length, 0, 'the pin decided: no router call');
      assert.equal(callsB.length, 1, 'one call: the handler');

      const again = await route(b.url, { messages: followUp }, { 'x-session-id': session });
      assert.equal(again.json.decided, 'pin');
    } finally {
      await stopAll(a, b);
    }
  });
});

describe('server.store when Redis is down', () => {
  let mock;
  before(async () => {
    mock = await startMock(RULES);
  });
  after(() => stopAll(mock));

  it('serves every request (rate limits not counted, no pins) and logs the outage', async () => {
    const port = await closedPort();
    const llmnet = await startLlmnet(limited(mock.url, 1, { store: `redis://127.0.0.1:${port}` }, 'down'));
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await ask(llmnet.url)).status);
      assert.deepEqual(statuses, [200, 200, 200, 200], 'failing open: a broken Redis must not stop traffic');
      assert.match(llmnet.stderr, /store: redis 127\.0\.0\.1:\d+ .*(unreachable|refused|closed)/);
      // rate limited: one warning per interval, not one per request
      assert.ok((llmnet.stderr.match(/store: redis/g) || []).length <= 2, llmnet.stderr);
    } finally {
      await llmnet.stop();
    }
  });

  it('routes without a pin when the pin cannot be read or written', async () => {
    const port = await closedPort();
    const llmnet = await startLlmnet(seedConfig(mock.url, { server: { store: `redis://127.0.0.1:${port}` } }));
    try {
      const body = { messages: [{ role: 'user', content: 'python question' }] };
      for (let i = 0; i < 2; i++) {
        const res = await route(llmnet.url, body, { 'x-session-id': 'down-session' });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json.decided, 'router');
      }
    } finally {
      await llmnet.stop();
    }
  });
});

describe('server.store in the config', () => {
  const validate = async (server, env = {}) => {
    const file = writeJson(tempDir(), 'llmnet.json', limited('http://127.0.0.1:9/v1', 1, server));
    return runCli(['validate', file], { env });
  };

  it('setting both store and rate-limit-store is an error naming both keys', async () => {
    const r = await validate({ store: 'memory', 'rate-limit-store': 'redis://127.0.0.1:6379' });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const out = r.stdout + r.stderr;
    assert.match(out, /server\.store/);
    assert.match(out, /server\.rate-limit-store/);
  });

  it('accepts either name alone, and $VAR', async () => {
    for (const server of [{ store: 'memory' }, { store: 'redis://u:p@h:1/2' }, { 'rate-limit-store': 'memory' }]) {
      const r = await validate(server);
      assert.equal(r.code, 0, `${JSON.stringify(server)}: ${r.stdout}${r.stderr}`);
    }
    const r = await validate({ store: '$STORE_URL' }, { STORE_URL: 'redis://127.0.0.1:6379' });
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('refuses anything else without echoing it (it may hold a password)', async () => {
    const r = await validate({ store: 'memcached://:hunter2@h:1' });
    assert.equal(r.code, 1);
    const out = r.stdout + r.stderr;
    assert.match(out, /"store" is "memory" or "redis:\/\//);
    assert.doesNotMatch(out, /hunter2/);
    const bad = await validate({ store: '$STORE_URL' }, { STORE_URL: 'mysql://x' });
    assert.equal(bad.code, 1, 'checked after substitution');
  });

  it('a bad Redis URL stops llmnet at start with a message naming server.store', async () => {
    const file = writeJson(tempDir(), 'llmnet.json', limited('http://127.0.0.1:9/v1', 1, { store: 'redis://:pw@h:99999' }));
    const r = await runCli([file, '--port', '0']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /server\.store: bad Redis URL: the port/);
    assert.doesNotMatch(r.stderr + r.stdout, /:pw@/);
  });
});

describe('POST /v1/llmnet/route', () => {
  let mock;
  let llmnet;
  before(async () => {
    mock = await startMock(RULES);
    llmnet = await startLlmnet(seedConfig(mock.url, { server: { 'api-keys': ['route-key'] } }));
  });
  after(() => stopAll(llmnet, mock));
  const auth = { authorization: 'Bearer route-key' };

  it('answers the decision without calling a handler', async () => {
    const id = newRequestId('route');
    const res = await route(
      llmnet.url,
      { model: 'llmnet', stream: true, messages: [{ role: 'user', content: 'How do I reverse a linked list in Python?' }] },
      { ...auth, 'x-request-id': id },
    );
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type'), /application\/json/);
    assert.deepEqual(Object.keys(res.json).sort(), ['decided', 'latency_ms', 'route', 'router_calls', 'router_input', 'session'].sort());
    assert.deepEqual(res.json.route, ['router', 'technical-handler']);
    assert.equal(res.json.decided, 'router');
    assert.match(res.json.router_input, /linked list/);
    assert.ok(res.json.latency_ms >= 0);
    const calls = await upstreamCalls(mock.url, id);
    assert.equal(calls.length, 1);
    assert.ok(isRoutingCall(calls[0]), 'the one upstream call is the router');
  });

  it('the same conversation again is answered by its pin, without any upstream call', async () => {
    const body = { messages: [{ role: 'user', content: 'Some python code please' }] };
    const first = await route(llmnet.url, body, { ...auth, 'x-session-id': 'route-pin' });
    assert.equal(first.json.decided, 'router');
    const id = newRequestId('route-pin');
    const second = await route(llmnet.url, body, { ...auth, 'x-session-id': 'route-pin', 'x-request-id': id });
    assert.equal(second.json.decided, 'pin');
    assert.deepEqual(second.json.route, ['router', 'technical-handler']);
    assert.equal(second.json.session, 'route-pin');
    assert.equal((await upstreamCalls(mock.url, id)).length, 0);
  });

  it('system-only input: no router call, the default target, router_input null or empty', async () => {
    const id = newRequestId('route-none');
    const res = await route(llmnet.url, { messages: [{ role: 'system', content: 'You are terse.' }] }, { ...auth, 'x-request-id': id });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.decided, 'no-input');
    assert.equal((await upstreamCalls(mock.url, id)).length, 0);
  });

  it('bad JSON is a 400 in OpenAI error shape', async () => {
    const res = await route(llmnet.url, '{"messages": [', auth);
    assertOpenAIError(res, 400);
    assert.match(res.json.error.message, /not valid JSON/);
  });

  it('a request the pipeline refuses (no messages) is a 400 in OpenAI error shape', async () => {
    const res = await route(llmnet.url, { model: 'llmnet' }, auth);
    assertOpenAIError(res, 400);
  });

  it('GET is a 405 with Allow: POST', async () => {
    const res = await fetch(`${llmnet.url}/v1/llmnet/route`, { headers: auth });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    const json = await res.json();
    assert.match(json.error.message, /use POST for \/v1\/llmnet\/route/);
  });

  it('needs the API key like chat completions', async () => {
    const res = await route(llmnet.url, { messages: [{ role: 'user', content: 'hi' }] });
    assertOpenAIError(res, 401);
  });

  it('unknown paths name it among the served ones', async () => {
    const res = await fetch(`${llmnet.url}/v1/llmnet/nope`);
    assert.equal(res.status, 404);
    assert.match((await res.json()).error.message, /POST \/v1\/llmnet\/route/);
  });
});
