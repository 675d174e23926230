// The inbound request's protocol edges (issue 10): GET /v1/models/{id}
// answered like OpenAI's, HEAD responses without a body on a kept-alive
// connection, llhttp in strict mode (bytes after chunk data are refused),
// and raw control characters or NUL inside JSON strings refused with a 400
// naming the byte offset instead of silently cutting the message.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  assertHealthy,
  assertOpenAIError,
  chat,
  parseResponses,
  rawSession,
  request,
  startCaptureUpstream,
  startLlmnet,
  stopAll,
} from './lib.mjs';

let upstream;
let gw;

before(async () => {
  upstream = await startCaptureUpstream({ reply: 'fine' });
  const ep = { type: 'external', interface: 'openai-api', url: upstream.url, 'api-key': 'k' };
  gw = await startLlmnet({
    models: { main: ep },
    architecture: [{ name: 'answer', layer: 0, model: 'main' }],
  });
});

after(async () => {
  await stopAll(gw);
  await upstream.stop();
});

describe('GET /v1/models/{id}', () => {
  test('a served model answers as an OpenAI model object', async () => {
    for (const id of ['llmnet', 'answer']) {
      const res = await request(gw.url, `/v1/models/${id}`);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.object, 'model');
      assert.equal(res.json.id, id);
      assert.equal(typeof res.json.created, 'number');
      assert.equal(res.json.owned_by, 'llmnet');
    }
  });

  test('the openai SDK retrieves a model and gets NotFoundError with model_not_found for an unknown one', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused' });
    const m = await client.models.retrieve('answer');
    assert.equal(m.id, 'answer');
    assert.equal(m.object, 'model');
    await assert.rejects(client.models.retrieve('no-such-model'), (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError, `${e.constructor.name}: ${e.message}`);
      assert.equal(e.code, 'model_not_found');
      assert.equal(e.type, 'invalid_request_error');
      assert.match(e.message, /no-such-model/);
      return true;
    });
  });

  test('an unknown id is a 404 in OpenAI\'s error shape', async () => {
    const res = await request(gw.url, '/v1/models/gpt-nothing');
    assertOpenAIError(res, 404);
    assert.equal(res.json.error.code, 'model_not_found');
    assert.equal(res.json.error.param, 'model');
    assert.equal(res.headers.get('x-should-retry'), 'false', 'like every error, it says a retry cannot help');
    const long = await request(gw.url, `/v1/models/${'%41'.repeat(300)}`);
    assertOpenAIError(long, 404);
    const bad = await request(gw.url, '/v1/models/%00x');
    assertOpenAIError(bad, 404);
    assert.equal(bad.json.error.code, 'model_not_found');
  });
});

describe('HEAD', () => {
  test('a HEAD response carries no body, so the next response on the connection is intact', async () => {
    const s = await rawSession(gw.url, 'HEAD / HTTP/1.1\r\nHost: x\r\n\r\nHEAD /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n', {
      idleMs: 1000,
    });
    const heads = s.text.split('\r\n\r\n');
    assert.match(heads[0], /^HTTP\/1\.1 200 /, s.text);
    assert.match(heads[0], /content-length: \d+/i);
    // the second response starts right after the first head: no body between
    assert.match(heads[1], /^HTTP\/1\.1 200 /, `bytes after the HEAD response's head: ${JSON.stringify(heads[1].slice(0, 80))}`);
    assert.match(heads[2], /^HTTP\/1\.1 200 /, `bytes after the second HEAD response: ${JSON.stringify(heads[2].slice(0, 80))}`);
    assert.equal(heads[3], '{"status":"ok"}');
  });
});

describe('strict HTTP parsing', () => {
  test('bytes other than CRLF after chunk data are a framing error (400 and close)', async () => {
    const s = await rawSession(gw.url, 'POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY0\r\n\r\n', { idleMs: 1500 });
    const { responses } = parseResponses(s.text);
    assert.equal(responses.length, 1, s.text);
    assert.equal(responses[0].status, 400, s.text);
    assert.match(responses[0].body, /malformed HTTP request/);
    assert.ok(s.closed, 'the connection is closed after a framing error');
  });

  test('a well-formed chunked body is still read', async () => {
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'chunked' }] });
    const s = await rawSession(
      gw.url,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
      { until: 1, idleMs: 3000 },
    );
    const { responses } = parseResponses(s.text);
    assert.equal(responses[0]?.status, 200, s.text);
  });
});

describe('control characters in the JSON body', () => {
  const cases = [
    ['a raw NUL byte', 'before\u0000after', /NUL/],
    ['a raw newline', 'line\nbreak', /control character/],
    ['a raw unit separator', 'x\u001fy', /control character/],
  ];
  for (const [what, content, message] of cases) {
    test(`${what} inside a string is a 400 naming the byte offset, and nothing reaches the upstream`, async () => {
      const before = upstream.requests.length;
      const prefix = '{"messages":[{"role":"user","content":"';
      const raw = `${prefix}${content}"}]}`;
      const offset = prefix.length + content.search(/[\u0000-\u001f]/);
      const res = await chat(gw.url, raw);
      assertOpenAIError(res, 400);
      assert.equal(res.json.error.type, 'invalid_request_error');
      assert.match(res.json.error.message, message);
      assert.match(res.json.error.message, new RegExp(`byte ${offset}\\b`), res.json.error.message);
      assert.equal(upstream.requests.length, before, 'the request was not forwarded');
    });
  }

  test('a control byte between tokens and the escape \\u0000 are refused too', async () => {
    let res = await chat(gw.url, '{"messages":\u0001[{"role":"user","content":"x"}]}');
    assertOpenAIError(res, 400);
    assert.match(res.json.error.message, /byte 12\b/);
    res = await chat(gw.url, '{"messages":[{"role":"user","content":"a\\u0000b"}]}');
    assertOpenAIError(res, 400);
    assert.match(res.json.error.message, /NUL/);
  });

  test('invalid UTF-8 is a 400 with its offset', async () => {
    const body = Buffer.concat([Buffer.from('{"messages":[{"role":"user","content":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}')]);
    const res = await chat(gw.url, new Uint8Array(body));
    assertOpenAIError(res, 400);
    assert.match(res.json.error.message, /UTF-8 \(byte 39\)/);
  });

  test('escaped control characters are valid JSON and are forwarded', async () => {
    const res = await chat(gw.url, { messages: [{ role: 'user', content: 'tab\there\nnewline \u0001' }] });
    assert.equal(res.status, 200, res.text);
    const last = upstream.requests.at(-1);
    assert.match(last.raw, /tab\\there\\nnewline \\u0001/);
    await assertHealthy(gw.url);
  });
});
