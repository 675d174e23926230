// The HTTP layer: endpoints other than chat, keep-alive and pipelining,
// HTTP/1.0, framing errors, header limits, concurrency.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import {
  assertHealthy,
  chat,
  newRequestId,
  parseResponses,
  rawSession,
  request,
  startLlmnet,
  startMock,
  stopAll,
  upstreamCalls,
} from './lib.mjs';

let mock;
let gw;

const SLOW_MS = 1000;

before(async () => {
  mock = await startMock({
    rules: [
      { when: { contains: 'take-your-time' }, 'delay-ms': SLOW_MS },
      { when: { contains: 'concurrent-' }, 'delay-ms': 100 },
    ],
  });
  const ep = { type: 'external', interface: 'openai-api', url: mock.url, 'api-key': 'k' };
  gw = await startLlmnet({
    models: { router: ep, handler: ep },
    architecture: [
      { name: 'router', layer: 0, model: 'router', 'output-to': ['answer'] },
      {
        name: 'answer',
        layer: 1,
        model: 'handler',
        'output-to': ['polish', 'output'],
        'use-case': 'answers',
        if: '$WORD_COUNT > 0',
        'extra-options': { model_override: 'answer-model' },
      },
      { name: 'polish', layer: 2, 'use-case': 'polishes', if: '$WORD_COUNT > 100000', 'extra-options': { model_override: 'polish-model' } },
      { name: 'output', adapter: 'output' },
    ],
  });
});

after(async () => {
  await stopAll(gw, mock);
});

function chatRequest(content, { version = '1.1', headers = '' } = {}) {
  const body = JSON.stringify({ messages: [{ role: 'user', content }] });
  return (
    `POST /v1/chat/completions HTTP/${version}\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `${headers}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

const HEALTH = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
const MODELS = 'GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';

describe('endpoints', () => {
  test('GET /v1/models lists "llmnet" and every model node, not output nodes', async () => {
    const res = await request(gw.url, '/v1/models');
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.json.object, 'list');
    const ids = res.json.data.map((m) => m.id);
    assert.deepEqual([...ids].sort(), ['answer', 'llmnet', 'polish', 'router'].sort());
    assert.equal(ids[0], 'llmnet');
    for (const m of res.json.data) {
      assert.equal(m.object, 'model');
      assert.equal(typeof m.created, 'number');
      assert.equal(typeof m.owned_by, 'string');
    }
  });

  test('GET /models (without /v1) works as well', async () => {
    const res = await request(gw.url, '/models');
    assert.equal(res.status, 200);
    assert.ok(res.json.data.some((m) => m.id === 'llmnet'));
  });

  test('GET /health answers {"status":"ok"}', async () => {
    const res = await request(gw.url, '/health');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { status: 'ok' });
  });

  test('a query string does not change the path', async () => {
    const res = await request(gw.url, '/health?probe=1');
    assert.equal(res.status, 200);
  });
});

describe('connections', () => {
  test('keep-alive: sequential requests reuse one connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const { port } = new URL(gw.url);
    const one = (path, body) =>
      new Promise((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            path,
            method: body ? 'POST' : 'GET',
            agent,
            headers: body ? { 'content-type': 'application/json' } : {},
          },
          (res) => {
            let data = '';
            res.on('data', (d) => (data += d));
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, data, reused: req.reusedSocket }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const results = [];
    results.push(await one('/health'));
    results.push(await one('/v1/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'keep alive one' }] })));
    results.push(await one('/v1/models'));
    results.push(await one('/v1/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'keep alive two' }] })));
    agent.destroy();
    assert.deepEqual(
      results.map((r) => r.status),
      [200, 200, 200, 200],
    );
    assert.deepEqual(
      results.map((r) => r.reused),
      [false, true, true, true],
    );
    for (const r of results) assert.equal(r.headers.connection, 'keep-alive');
    assert.ok(JSON.parse(results[3].data).choices[0].message.content.includes('keep alive two'));
  });

  test('pipelining: two requests written at once get two responses, in order, on the same socket', async () => {
    const s = await rawSession(gw.url, HEALTH + MODELS, { until: 2 });
    const { responses, rest } = parseResponses(s.text);
    assert.equal(responses.length, 2, s.text);
    assert.equal(rest, '');
    assert.equal(responses[0].status, 200);
    assert.deepEqual(JSON.parse(responses[0].body), { status: 'ok' });
    assert.equal(responses[1].status, 200);
    assert.equal(JSON.parse(responses[1].body).object, 'list');
    assert.equal(s.closed, false, 'the connection stays open');
    const again = await rawSession(gw.url, [HEALTH, HEALTH, HEALTH], { until: 3 });
    assert.equal(parseResponses(again.text).responses.length, 3);
  });

  test('pipelining: chat requests and GETs mixed, split across writes at odd places', async () => {
    const all = chatRequest('pipelined alpha') + HEALTH + chatRequest('pipelined beta') + MODELS;
    const pieces = [all.slice(0, 37), all.slice(37, 150), all.slice(150, 400), all.slice(400)];
    const s = await rawSession(gw.url, pieces, { until: 4 });
    const { responses } = parseResponses(s.text);
    assert.equal(responses.length, 4, s.text);
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 200, 200, 200],
    );
    assert.ok(JSON.parse(responses[0].body).choices[0].message.content.includes('pipelined alpha'));
    assert.equal(JSON.parse(responses[1].body).status, 'ok');
    assert.ok(JSON.parse(responses[2].body).choices[0].message.content.includes('pipelined beta'));
    assert.equal(JSON.parse(responses[3].body).object, 'list');
  });

  test('pipelining: a slow chat followed by /health answers the chat first', async () => {
    const s = await rawSession(gw.url, chatRequest('please take-your-time') + HEALTH, { idleMs: SLOW_MS + 2000, until: 2 });
    const { responses } = parseResponses(s.text);
    assert.equal(responses.length, 2, s.text);
    assert.equal(responses[0].status, 200);
    const first = JSON.parse(responses[0].body);
    assert.equal(first.object, 'chat.completion', responses[0].body);
    assert.ok(first.choices[0].message.content.includes('take-your-time'));
    assert.equal(responses[1].status, 200);
    assert.deepEqual(JSON.parse(responses[1].body), { status: 'ok' });
  });

  test('error responses keep the connection: 400, 404, 405 and 401-free paths answered in order on one socket', async () => {
    const bad = '{"messages": [';
    const s = await rawSession(
      gw.url,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${bad.length}\r\n\r\n${bad}` +
        'GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' +
        'GET /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' +
        chatRequest('after the errors') +
        HEALTH,
      { until: 5 },
    );
    const { responses } = parseResponses(s.text);
    assert.deepEqual(
      responses.map((r) => r.status),
      [400, 404, 405, 200, 200],
      s.text,
    );
    for (const r of responses.slice(0, 3)) assert.equal(r.headers.connection, 'keep-alive');
    assert.ok(JSON.parse(responses[3].body).choices[0].message.content.includes('after the errors'));
  });

  test('Connection: close is honoured: one response, then the server closes', async () => {
    const closing = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';
    const s = await rawSession(gw.url, closing + HEALTH, { idleMs: 3000 });
    const { responses } = parseResponses(s.text);
    assert.equal(responses.length, 1, s.text);
    assert.equal(responses[0].status, 200);
    assert.equal(responses[0].headers.connection, 'close');
    assert.equal(s.closed, true, 'the server closed the connection');
  });

  test('Connection: close on a chat request', async () => {
    const s = await rawSession(gw.url, chatRequest('close after me', { headers: 'Connection: close\r\n' }), { idleMs: 3000 });
    const { responses } = parseResponses(s.text);
    assert.equal(responses.length, 1, s.text);
    assert.equal(responses[0].status, 200);
    assert.equal(responses[0].headers.connection, 'close');
    assert.equal(s.closed, true);
  });

  test('HTTP/1.0 requests work and the connection closes after the response', async () => {
    const s = await rawSession(gw.url, 'GET /health HTTP/1.0\r\n\r\n', { idleMs: 3000 });
    const { responses } = parseResponses(s.text);
    assert.equal(responses.length, 1, s.text);
    assert.equal(responses[0].status, 200);
    assert.match(responses[0].version, /^1\.[01]$/);
    assert.equal(s.closed, true);

    const c = await rawSession(gw.url, chatRequest('hello from 1.0', { version: '1.0' }), { idleMs: 3000 });
    const chatRes = parseResponses(c.text).responses;
    assert.equal(chatRes.length, 1, c.text);
    assert.equal(chatRes[0].status, 200);
    assert.ok(JSON.parse(chatRes[0].body).choices[0].message.content.includes('hello from 1.0'));
    assert.equal(c.closed, true);
  });

  test('HTTP/1.0 with Connection: keep-alive keeps the connection', async () => {
    const ka = 'GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n';
    const s = await rawSession(gw.url, ka + ka, { until: 2 });
    const { responses } = parseResponses(s.text);
    assert.equal(responses.length, 2, s.text);
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 200],
    );
  });

  test('a chunked request body is accepted', async () => {
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'chunked hello' }] });
    const a = body.slice(0, 10);
    const b = body.slice(10);
    const s = await rawSession(
      gw.url,
      [
        'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
        `${a.length.toString(16)}\r\n${a}\r\n`,
        `${b.length.toString(16)}\r\n${b}\r\n0\r\n\r\n`,
      ],
      { until: 1 },
    );
    const { responses } = parseResponses(s.text);
    assert.equal(responses.length, 1, s.text);
    assert.equal(responses[0].status, 200, responses[0].body);
    assert.ok(JSON.parse(responses[0].body).choices[0].message.content.includes('chunked hello'));
  });

  test('a client hanging up while its chat is in flight does not disturb the server', async () => {
    const { port } = new URL(gw.url);
    await new Promise((resolve) => {
      const sock = net.connect({ host: '127.0.0.1', port: Number(port) }, () => {
        sock.write(chatRequest('hang up take-your-time'));
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, 100);
      });
      sock.on('error', () => {});
    });
    await assertHealthy(gw.url);
    const res = await chat(gw.url, { messages: [{ role: 'user', content: 'still here?' }] });
    assert.equal(res.status, 200, res.text);
    // and once the mock answers the abandoned request, nothing breaks either
    await new Promise((r) => setTimeout(r, SLOW_MS));
    await assertHealthy(gw.url);
  });

  test('Expect: 100-continue gets 100 Continue and then the answer', async () => {
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'expecting' }] });
    const s = await rawSession(gw.url, [
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`,
      body,
    ], { until: 1 });
    assert.match(s.text, /^HTTP\/1\.1 100 Continue\r\n\r\n/);
    const { responses } = parseResponses(s.text);
    assert.equal(responses.length, 1, s.text);
    assert.equal(responses[0].status, 200);
  });
});

describe('framing errors', () => {
  test('a malformed request line gets 400 and the connection closes', async () => {
    const s = await rawSession(gw.url, 'THIS IS NOT HTTP\r\n\r\n' + HEALTH, { idleMs: 3000 });
    const { responses } = parseResponses(s.text);
    assert.equal(responses.length, 1, s.text);
    assert.equal(responses[0].status, 400);
    const err = JSON.parse(responses[0].body);
    assert.equal(typeof err.error.message, 'string');
    assert.equal(typeof err.error.type, 'string');
    assert.equal(s.closed, true);
    await assertHealthy(gw.url);
  });

  test('a bad HTTP version gets 400', async () => {
    const s = await rawSession(gw.url, 'GET /health HTTP/7.3\r\n\r\n', { idleMs: 3000 });
    const { responses } = parseResponses(s.text);
    assert.equal(responses.length, 1, s.text);
    assert.equal(responses[0].status, 400);
    assert.equal(s.closed, true);
  });

  test('a malformed request after a good one on the same connection: 200, then 400, then close', async () => {
    const s = await rawSession(gw.url, HEALTH + 'GET /health HTTP/1.1\r\nBad Header Line\r\n\r\n' + HEALTH, { idleMs: 3000 });
    const { responses } = parseResponses(s.text);
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 400],
      s.text,
    );
    assert.equal(s.closed, true);
  });

  test('a header section over 16 KB gets 431', async () => {
    const big = `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`;
    const s = await rawSession(gw.url, big, { idleMs: 3000 });
    const { responses } = parseResponses(s.text);
    assert.equal(responses.length, 1, s.text.slice(0, 300));
    assert.equal(responses[0].status, 431);
    assert.equal(typeof JSON.parse(responses[0].body).error.message, 'string');
    assert.equal(s.closed, true);
    await assertHealthy(gw.url);
  });

  test('many small headers adding up to over 16 KB get 431', async () => {
    let headers = '';
    for (let i = 0; i < 100; i++) headers += `X-H${i}: ${'b'.repeat(200)}\r\n`;
    const s = await rawSession(gw.url, `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}\r\n`, { idleMs: 3000 });
    const { responses } = parseResponses(s.text);
    assert.equal(responses.length, 1, s.text.slice(0, 300));
    assert.equal(responses[0].status, 431);
  });

  test('a header section just under the limit is fine', async () => {
    const s = await rawSession(gw.url, `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(12 * 1024)}\r\n\r\n`, { until: 1 });
    const { responses } = parseResponses(s.text);
    assert.equal(responses.length, 1, s.text.slice(0, 300));
    assert.equal(responses[0].status, 200);
  });
});

describe('concurrency', () => {
  test('50 concurrent chat requests all succeed, each with its own answer', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => newRequestId(`conc${i}`));
    const results = await Promise.all(
      ids.map((rid, i) => chat(gw.url, { messages: [{ role: 'user', content: `concurrent-${i} question` }] }, { 'x-request-id': rid })),
    );
    for (let i = 0; i < ids.length; i++) {
      const r = results[i];
      assert.equal(r.status, 200, `request ${i}: ${r.text}`);
      assert.equal(r.headers.get('x-request-id'), ids[i]);
      assert.equal(r.json.id, `chatcmpl-${ids[i]}`);
      assert.ok(r.json.choices[0].message.content.includes(`concurrent-${i} question`), r.json.choices[0].message.content);
      assert.match(r.headers.get('x-llmnet-route'), /^router>answer(>output)?$/);
    }
    const calls = await upstreamCalls(mock.url, ids[17]);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].body.model, 'answer-model');
    await assertHealthy(gw.url);
  });
});
