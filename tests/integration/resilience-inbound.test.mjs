// Fault injection on the client side: a slowloris connection, more chat
// requests in flight or more connections than allowed, missing API keys
// and CORS. Each case checks the exact status and OpenAI error body, and
// that the gateway goes on serving everyone else.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertHealthy,
  assertOpenAIError,
  assertServes,
  chat,
  connectRaw,
  exchangeOn,
  newRequestId,
  parseResponses,
  rawSession,
  request,
  slowRequest,
  startHoldingUpstream,
  startLlmnet,
  startMock,
  stopAll,
  upstreamCalls,
  waitFor,
} from './lib.mjs';

const hello = { messages: [{ role: 'user', content: 'hello' }] };

let mock;

before(async () => {
  mock = await startMock(null);
});

after(async () => {
  await stopAll(mock);
});

function composition(server = {}) {
  return {
    models: { m: { type: 'external', interface: 'openai-api', url: mock.url, 'api-key': 'k' } },
    architecture: [{ name: 'solo', layer: 0, model: 'm', 'extra-options': { model_override: 'solo-model' } }],
    server,
  };
}

function parseOne(text) {
  const { responses } = parseResponses(text);
  assert.ok(responses.length >= 1, `an HTTP response: ${JSON.stringify(text)}`);
  const r = responses[0];
  let json;
  try {
    json = JSON.parse(r.body);
  } catch {
    json = undefined;
  }
  return { ...r, json, text: r.body };
}

describe('slowloris', () => {
  let gw;
  before(async () => {
    gw = await startLlmnet(composition());
  });
  after(async () => {
    await stopAll(gw);
  });

  test('headers dribbled one byte every 500 ms get 408 and are closed; everyone else is served meanwhile', async () => {
    const head =
      'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
      'X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nContent-Length: 60\r\n\r\n';
    const slow = slowRequest(gw.url, head, { intervalMs: 500, maxMs: 15000 });

    // While the slow client dribbles, normal clients are served.
    for (let i = 0; i < 5; i++) {
      const res = await chat(gw.url, { messages: [{ role: 'user', content: `normal ${i}` }] });
      assert.equal(res.status, 200, res.text);
      assert.match(res.json.choices[0].message.content, new RegExp(`normal ${i}`));
      await new Promise((r) => setTimeout(r, 300));
    }

    const got = await slow;
    assert.ok(got.bytesSent < head.length, 'the server gave up before the headers were complete');
    const res = parseOne(got.text);
    assert.equal(res.status, 408, got.text);
    assert.equal(res.headers.connection, 'close');
    assertOpenAIError(res, 408);
    assert.equal(res.json.error.code, 'request_timeout');
    assert.equal(got.closed, true, 'the connection is closed after the 408');
    await assertServes(gw.url);
  });
});

describe('server.max-concurrent', () => {
  let gw;
  let up;
  before(async () => {
    // slow calls are held at the upstream until the test lets them go
    up = await startHoldingUpstream({ hold: (body) => body.messages?.[0]?.content === 'take your time' });
    const config = composition({ 'max-concurrent': 2 });
    config.models.m.url = up.url;
    gw = await startLlmnet(config);
  });
  after(async () => {
    await stopAll(gw);
    await up?.stop();
  });

  test('limit 2, four slow requests at once: exactly two 200, two 503 with Retry-After that never reach the upstream', async () => {
    const rids = [0, 1, 2, 3].map(() => newRequestId('concurrent'));
    const settled = [];
    const all = Promise.all(
      rids.map((rid) =>
        chat(gw.url, { messages: [{ role: 'user', content: 'take your time' }] }, { 'x-request-id': rid }).then((r) => {
          settled.push(r);
          return r;
        }),
      ),
    );
    // two are held upstream, the other two are refused without waiting
    await waitFor(() => up.held() === 2 && settled.length === 2, { what: 'two held calls and two answers' });
    assert.deepEqual(
      settled.map((r) => r.status),
      [503, 503],
    );
    up.release();
    const results = await all;
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status !== 200);
    assert.equal(ok.length, 2, results.map((r) => `${r.status} ${r.text}`).join('\n'));
    assert.equal(refused.length, 2);
    for (const r of ok) assert.equal(r.json.model, 'solo-model');
    for (const r of refused) {
      assertOpenAIError(r, 503);
      assert.equal(r.json.error.type, 'server_error');
      assert.match(r.json.error.message, /max-concurrent/);
      assert.equal(r.headers.get('retry-after'), '1');
    }
    const sent = up.requests.filter((r) => rids.includes(r.headers['x-request-id']));
    assert.equal(sent.length, 2, 'refused requests are not sent upstream');
    // the slots are free again
    await assertServes(gw.url);
    const again = await Promise.all([0, 1].map(() => chat(gw.url, hello)));
    assert.deepEqual(
      again.map((r) => r.status),
      [200, 200],
    );
  });
});

describe('server.max-connections', () => {
  let gw;
  before(async () => {
    gw = await startLlmnet(composition({ 'max-connections': 3 }));
  });
  after(async () => {
    await stopAll(gw);
  });

  test('limit 3: the 4th concurrent connection gets 503 and is closed; a freed slot is served again', async () => {
    const health = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    const socks = [];
    try {
      for (let i = 0; i < 3; i++) {
        const s = await connectRaw(gw.url);
        socks.push(s);
        const r = await exchangeOn(s, health);
        assert.equal(r.status, 200, `connection ${i + 1}`);
        assert.equal(r.headers.connection, 'keep-alive');
      }
      const fourth = await rawSession(gw.url, health, { idleMs: 3000 });
      const res = parseOne(fourth.text);
      assertOpenAIError(res, 503);
      assert.equal(res.headers.connection, 'close');
      assert.match(res.json.error.message, /too many open connections/);
      assert.equal(fourth.closed, true);

      // the three kept connections still work
      for (const s of socks) assert.equal((await exchangeOn(s, health)).status, 200);

      socks.pop().destroy();
      const next = await waitFor(
        async () => {
          const r = await rawSession(gw.url, health, { idleMs: 3000, until: 1 });
          const p = parseResponses(r.text).responses[0];
          return p && p.status === 200 ? p : null;
        },
        { what: 'a freed connection slot' },
      );
      assert.equal(next.body, '{"status":"ok"}');
    } finally {
      for (const s of socks) s.destroy();
    }
    await waitFor(async () => (await request(gw.url, '/health').catch(() => ({ status: 0 }))).status === 200, {
      what: 'every slot to be free',
    });
    await assertServes(gw.url);
  });
});

describe('server.api-keys', () => {
  let gw;
  before(async () => {
    gw = await startLlmnet(composition({ 'api-keys': ['resilience-key'] }));
  });
  after(async () => {
    await stopAll(gw);
  });

  test('401 without a key and with a wrong one, OpenAI-shaped, not sent upstream', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-key' }, { authorization: 'resilience-key' }]) {
      const rid = newRequestId('nokey');
      const res = await chat(gw.url, hello, { ...headers, 'x-request-id': rid });
      assertOpenAIError(res, 401);
      assert.equal(res.json.error.type, 'authentication_error');
      assert.equal(res.json.error.code, 'invalid_api_key');
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      assert.equal((await upstreamCalls(mock.url, rid)).length, 0);
    }
  });

  test('200 with the right key; /health needs none', async () => {
    const res = await chat(gw.url, hello, { authorization: 'Bearer resilience-key' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.model, 'solo-model');
    await assertHealthy(gw.url);
    await assertServes(gw.url, hello, { authorization: 'Bearer resilience-key' });
  });
});

describe('server.cors', () => {
  let gw;
  before(async () => {
    gw = await startLlmnet(composition({ cors: { 'allow-origins': ['https://app.example'] } }));
  });
  after(async () => {
    await stopAll(gw);
  });

  const preflight = (origin) =>
    request(gw.url, '/v1/chat/completions', {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, authorization',
      },
    });

  test('a preflight from an allowed origin: 204 with Allow-Origin, -Methods and -Headers', async () => {
    const res = await preflight('https://app.example');
    assert.equal(res.status, 204);
    assert.equal(res.text, '');
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(res.headers.get('access-control-allow-methods'), /\bPOST\b/);
    const allowed = res.headers.get('access-control-allow-headers').toLowerCase();
    assert.match(allowed, /content-type/);
    assert.match(allowed, /authorization/);
    assert.match(res.headers.get('vary') ?? '', /origin/i);
  });

  test('a POST from the allowed origin gets Access-Control-Allow-Origin; errors do too', async () => {
    const res = await chat(gw.url, hello, { origin: 'https://app.example' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example');
    const bad = await chat(gw.url, '{"messages": [', { origin: 'https://app.example' });
    assertOpenAIError(bad, 400);
    assert.equal(bad.headers.get('access-control-allow-origin'), 'https://app.example');
  });

  test('another origin gets no Access-Control-Allow-Origin, on the preflight or the POST', async () => {
    const pre = await preflight('https://evil.example');
    assert.equal(pre.headers.get('access-control-allow-origin'), null);
    const res = await chat(gw.url, hello, { origin: 'https://evil.example' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    const none = await chat(gw.url, hello);
    assert.equal(none.headers.get('access-control-allow-origin'), null);
    await assertServes(gw.url);
  });
});
