// POST /v1/embeddings (issue 12, item 3) and the door list of GET /v1/models
// (item 4), with the official openai SDK at its default retry settings:
// embeddings.create through a node name, a models entry with
// "embeddings": true and the default embeddings model; the SDK's default
// base64 encoding decoded by the SDK; upstream failures retried as
// x-should-retry says; tokens in llmnet_tokens_total; config checks through
// `llmnet validate`. The upstream is the real `llmnet mock`, whose vectors
// are a hash of each input, so the test can tell what was passed through.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import OpenAI from 'openai';

import {
  endpoint,
  isAsanBuild,
  mockStats,
  newRequestId,
  procStatusKiB,
  request,
  runCli,
  startLlmnet,
  startMock,
  stopAll,
  tempDir,
  upstreamCalls,
  waitFor,
  writeJson,
} from './lib.mjs';

// What one ~15 MB embeddings answer may add to llmnet's peak memory.
const EMBED_PEAK_MIB = 64;

const RULES = {
  rules: [
    { when: { model: 'emb-down' }, status: 500, error: 'the embedding model is down' },
    { when: { model: 'emb-bad' }, status: 400, error: "'input' is too long for this model" },
    { when: { model: 'emb-slow' }, 'delay-ms': 5000 },
  ],
};

function composition(mockUrl, { withDefault = true } = {}) {
  const emb = (extra) => endpoint(mockUrl, { embeddings: true, ...extra });
  return {
    models: {
      chat: endpoint(mockUrl),
      'emb-main': emb({ 'model-id': 'text-embedding-3-small', 'api-key': 'emb-key', ...(withDefault ? { default: true } : {}) }),
      'emb-plain': emb({}),
      'emb-count': emb({ 'model-id': 'counted-model' }),
      'emb-down': emb({ retries: 1 }),
      'emb-bad': emb({ retries: 1 }),
      'emb-rl': emb({ 'rate-limit': { rpm: 1 } }),
      'emb-slow': emb({}),
    },
    architecture: [
      { name: 'router', layer: 0, model: 'chat', 'output-to': [1] },
      { name: 'writer', layer: 1, model: 'chat', 'use-case': 'writing' },
      { name: 'coder', layer: 1, model: 'chat', 'use-case': 'code', 'extra-options': { model_override: 'qwen/coder' } },
    ],
  };
}

let mock;
let gw;
let noDefault;
let client;

before(async () => {
  mock = await startMock(RULES);
  gw = await startLlmnet(composition(mock.url), { args: ['--log-level', 'info'] });
  noDefault = await startLlmnet(composition(mock.url, { withDefault: false }));
  client = new OpenAI({ apiKey: 'unused', baseURL: `${gw.url}/v1` });
});

after(() => stopAll(gw, noDefault, mock));

// What the mock itself answers for `body`: the vectors llmnet must pass on.
async function direct(body) {
  const res = await request(mock.url, '/v1/embeddings', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ encoding_format: 'float', ...body }),
  });
  assert.equal(res.status, 200, res.text);
  return res.json.data.map((d) => d.embedding);
}

const close = (a, b) => {
  assert.equal(a.length, b.length);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) < 1e-6, `component ${i}: ${x} vs ${b[i]}`));
};

async function lastCall(requestId) {
  const calls = await upstreamCalls(mock.url, requestId);
  assert.equal(calls.length, 1, JSON.stringify(calls));
  return calls[0];
}

describe('embeddings.create with the openai SDK', () => {
  test('a node name: its endpoint and model id; the answer names the model the client asked', async () => {
    const id = newRequestId('emb');
    const res = await client.embeddings.create({ model: 'coder', input: 'hello embeddings' }, { headers: { 'x-request-id': id } });
    assert.equal(res.model, 'coder');
    assert.equal(res.data.length, 1);
    // the SDK asked for base64 (its default) and decoded it to floats
    close(res.data[0].embedding, (await direct({ model: 'qwen/coder', input: 'hello embeddings' }))[0]);
    assert.equal(res.data[0].embedding.length, 8);
    assert.deepEqual(res.usage, { prompt_tokens: 2, total_tokens: 2 });
    const call = await lastCall(id);
    assert.equal(call.path, '/v1/embeddings');
    assert.equal(call.body.model, 'qwen/coder');
    assert.equal(call.body.encoding_format, 'base64');
    assert.equal(call.headers.authorization, 'Bearer k');
  });

  test('a models entry with "embeddings": true: an array of inputs, dimensions, its model-id and key', async () => {
    const id = newRequestId('emb');
    const input = ['first text', 'second text', 'third'];
    const res = await client.embeddings.create({ model: 'emb-main', input, dimensions: 5 }, { headers: { 'x-request-id': id } });
    assert.equal(res.model, 'emb-main');
    assert.deepEqual(
      res.data.map((d) => d.index),
      [0, 1, 2],
    );
    const want = await direct({ model: 'x', input, dimensions: 5 });
    res.data.forEach((d, i) => close(d.embedding, want[i]));
    const call = await lastCall(id);
    assert.equal(call.body.model, 'text-embedding-3-small');
    assert.equal(call.body.dimensions, 5);
    assert.deepEqual(call.body.input, input);
    assert.equal(call.headers.authorization, 'Bearer emb-key');
  });

  test('the access log line names the door, the model entry and the tokens', async () => {
    const id = newRequestId('emblog');
    await client.embeddings.create({ model: 'emb-plain', input: 'three words here' }, { headers: { 'x-request-id': id } });
    await waitFor(() => gw.stderr.includes(`id=${id} `), { what: 'the access log line' });
    const line = gw.stderr.split('\n').find((l) => l.includes(`id=${id} `));
    assert.match(line, /door=embeddings status=200 /);
    assert.match(line, /route=emb-plain tokens=3 /);
  });

  test('an entry without model-id sends the name the client used', async () => {
    const id = newRequestId('emb');
    await client.embeddings.create({ model: 'emb-plain', input: 'x' }, { headers: { 'x-request-id': id } });
    assert.equal((await lastCall(id)).body.model, 'emb-plain');
  });

  test('a model named nowhere goes to the default embeddings model', async () => {
    const id = newRequestId('emb');
    const res = await client.embeddings.create({ model: 'text-embedding-3-large', input: 'default please' }, { headers: { 'x-request-id': id } });
    assert.equal(res.model, 'text-embedding-3-large');
    assert.equal((await lastCall(id)).body.model, 'text-embedding-3-small');
  });

  test('encoding_format float and base64 carry the same vector', async () => {
    const f = await client.embeddings.create({ model: 'emb-plain', input: 'same', encoding_format: 'float' });
    const b = await client.embeddings.create({ model: 'emb-plain', input: 'same', encoding_format: 'base64' });
    assert.equal(typeof b.data[0].embedding, 'string');
    const buf = Buffer.from(b.data[0].embedding, 'base64');
    const floats = Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4));
    close(floats, f.data[0].embedding);
  });

  test('token arrays are passed on', async () => {
    const res = await client.embeddings.create({ model: 'emb-plain', input: [[1, 2, 3], [4, 5]], encoding_format: 'float' });
    assert.equal(res.data.length, 2);
    assert.equal(res.usage.prompt_tokens, 5);
  });

  test('an unknown model is 404 model_not_found naming what is served, not retried', async () => {
    const c = new OpenAI({ apiKey: 'unused', baseURL: `${noDefault.url}/v1` });
    const id = newRequestId('emb');
    await assert.rejects(
      c.embeddings.create({ model: 'text-embedding-3-large', input: 'x' }, { headers: { 'x-request-id': id } }),
      (err) => {
        assert.equal(err.status, 404);
        assert.equal(err.code, 'model_not_found');
        assert.equal(err.param, 'model');
        assert.match(err.message, /text-embedding-3-large/);
        assert.match(err.message, /emb-main/);
        assert.match(err.message, /coder/);
        assert.equal(err.headers.get('x-should-retry'), 'false');
        return true;
      },
    );
    assert.equal((await upstreamCalls(mock.url, id)).length, 0);
  });

  test('an upstream 500: llmnet retries (retries 1), then says x-should-retry: false, so the SDK does not multiply them', async () => {
    const id = newRequestId('emb');
    await assert.rejects(client.embeddings.create({ model: 'emb-down', input: 'x' }, { headers: { 'x-request-id': id } }), (err) => {
      assert.equal(err.status, 502);
      assert.equal(err.headers.get('x-should-retry'), 'false');
      assert.match(err.message, /embeddings model "emb-down" \(model "emb-down" at emb-down\)/);
      assert.match(err.message, /HTTP 500: the embedding model is down \(after 1 retry\)/);
      return true;
    });
    // one SDK attempt (it obeys x-should-retry before its own rules) x 2 llmnet calls
    assert.equal((await upstreamCalls(mock.url, id)).length, 2);
  });

  test("an upstream 400 keeps its status, x-should-retry: false, and nobody retries", async () => {
    const id = newRequestId('emb');
    await assert.rejects(client.embeddings.create({ model: 'emb-bad', input: 'x' }, { headers: { 'x-request-id': id } }), (err) => {
      assert.equal(err.status, 400);
      assert.equal(err.headers.get('x-should-retry'), 'false');
      assert.match(err.message, /too long for this model/);
      return true;
    });
    assert.equal((await upstreamCalls(mock.url, id)).length, 1);
  });

  test('input tokens are counted in llmnet_tokens_total by node and model, direction in; the request under door embeddings', async () => {
    const series = 'llmnet_tokens_total{node="emb-count",model="counted-model",direction="in"}';
    const before = await request(gw.url, '/metrics');
    assert.ok(!before.text.includes(series));
    const res = await client.embeddings.create({ model: 'emb-count', input: ['one two three', 'four five'] });
    assert.equal(res.usage.prompt_tokens, 5);
    const metrics = (await request(gw.url, '/metrics')).text;
    assert.match(metrics, new RegExp(`${series.replace(/[{}]/g, '\\$&')} 5\\n`));
    assert.match(metrics, /llmnet_upstream_calls_total\{node="emb-count",model="counted-model",outcome="ok"\} 1\n/);
    assert.match(metrics, /llmnet_requests_total\{entry="emb-count",status="200",door="embeddings"\} 1\n/);
  });
});

describe('the embeddings endpoint over plain HTTP', () => {
  const post = (body, url = gw.url) =>
    request(url, '/v1/embeddings', { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  test('bad input is a 400 in OpenAI shape naming the field', async () => {
    for (const [body, param] of [
      ['{"model":"emb-plain"}', 'input'],
      ['{"model":"emb-plain","input":5}', 'input'],
      ['{"model":"emb-plain","input":[]}', 'input'],
      ['{"model":"emb-plain","input":["a",3]}', 'input'],
      ['{"input":"a"}', 'model'],
      ['{"model":"emb-plain","input":"a","encoding_format":"hex"}', 'encoding_format'],
      ['{"model":"emb-plain","input":"a","dimensions":0}', 'dimensions'],
      ['not json', null],
    ]) {
      const res = await post(body);
      assert.equal(res.status, 400, body);
      assert.equal(res.json.error.type, 'invalid_request_error');
      assert.equal(res.json.error.param, param, body);
      assert.equal(res.headers.get('x-should-retry'), 'false');
    }
  });

  test('more than 2048 inputs is a 400', async () => {
    const res = await post(JSON.stringify({ model: 'emb-plain', input: Array.from({ length: 2049 }, () => 'a') }));
    assert.equal(res.status, 400);
    assert.match(res.json.error.message, /2048/);
  });

  test("the endpoint's rate limit: llmnet's own 429 with Retry-After and x-should-retry: true", async () => {
    const first = await post('{"model":"emb-rl","input":"a"}');
    assert.equal(first.status, 200, first.text);
    const id = newRequestId('emb');
    const res = await request(gw.url, '/v1/embeddings', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': id },
      body: '{"model":"emb-rl","input":"a"}',
    });
    assert.equal(res.status, 429);
    assert.equal(res.json.error.code, 'rate_limit_exceeded');
    assert.match(res.json.error.message, /rpm 1/);
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    assert.equal(res.headers.get('x-should-retry'), 'true');
    assert.equal((await upstreamCalls(mock.url, id)).length, 0);
  });

  test('a client that goes away mid-call: the upstream call is cancelled, llmnet serves on', async () => {
    const id = newRequestId('emb');
    const ac = new AbortController();
    const pending = fetch(`${gw.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': id },
      body: '{"model":"emb-slow","input":"a"}',
      signal: ac.signal,
    }).catch((e) => e);
    await waitFor(async () => (await upstreamCalls(mock.url, id)).length === 1, { what: 'the upstream call' });
    const abortedBefore = (await mockStats(mock.url)).aborted;
    ac.abort();
    assert.equal((await pending).name, 'AbortError');
    await waitFor(async () => (await mockStats(mock.url)).aborted > abortedBefore, { what: 'the mock to see the cancel' });
    await waitFor(() => gw.stderr.includes(`id=${id} door=embeddings status=499`), { what: 'the 499 log line' });
    assert.equal((await post('{"model":"emb-plain","input":"a"}')).status, 200);
  });

  test('GET is 405 with Allow: POST; /embeddings without /v1 works', async () => {
    const res = await request(gw.url, '/v1/embeddings');
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    const short = await request(gw.url, '/embeddings', { method: 'POST', body: '{"model":"emb-plain","input":"a"}' });
    assert.equal(short.status, 200);
  });

  test('server.api-keys guards the endpoint', async () => {
    const keyed = await startLlmnet({ ...composition(mock.url), server: { 'api-keys': ['embed-inbound-key'] } });
    try {
      const body = '{"model":"emb-plain","input":"a"}';
      const refused = await request(keyed.url, '/v1/embeddings', { method: 'POST', body });
      assert.equal(refused.status, 401);
      const ok = await request(keyed.url, '/v1/embeddings', { method: 'POST', body, headers: { authorization: 'Bearer embed-inbound-key' } });
      assert.equal(ok.status, 200);
    } finally {
      await keyed.stop();
    }
  });

  test('the server bound max-body-bytes applies', async () => {
    const small = await startLlmnet({ ...composition(mock.url), server: { 'max-body-bytes': 1024 } });
    try {
      const res = await post(JSON.stringify({ model: 'emb-plain', input: 'x'.repeat(4096) }), small.url);
      assert.equal(res.status, 413);
    } finally {
      await small.stop();
    }
  });
});

describe('a large embeddings answer', () => {
  // 2048 inputs x 1024 floats: ~15 MB of JSON. llmnet keeps the upstream's
  // bytes and one rewritten copy, never a cJSON tree of them (which is
  // ~10x the text: 2M nodes).
  test('peak memory stays within the bound (VmHWM)', async () => {
    const big = await startLlmnet(composition(mock.url));
    try {
      const input = Array.from({ length: 2048 }, (_, i) => `text ${i}`);
      const body = JSON.stringify({ model: 'emb-plain', input, dimensions: 1024, encoding_format: 'float' });
      const before = procStatusKiB(big.child.pid, 'VmHWM');
      const res = await request(big.url, '/v1/embeddings', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(res.status, 200);
      assert.equal(res.json.data.length, 2048);
      assert.equal(res.json.data[2047].embedding.length, 1024);
      assert.equal(res.json.model, 'emb-plain');
      const grown = (procStatusKiB(big.child.pid, 'VmHWM') - before) / 1024;
      if (!isAsanBuild()) assert.ok(grown < EMBED_PEAK_MIB, `peak grew by ${grown.toFixed(1)} MiB, bound ${EMBED_PEAK_MIB} MiB`);
    } finally {
      await big.stop();
    }
  });
});

describe('GET /v1/models lists what each door accepts', () => {
  test('llmnet is the pipeline, nodes are nodes, embeddings entries are embeddings', async () => {
    const res = await request(gw.url, '/v1/models');
    assert.equal(res.status, 200);
    const by = Object.fromEntries(res.json.data.map((m) => [m.id, m]));
    const chatDoors = ['/v1/chat/completions', '/v1/responses', '/v1/messages'];
    assert.deepEqual(by.llmnet.llmnet, { kind: 'pipeline', endpoints: chatDoors });
    assert.deepEqual(by.coder.llmnet, { kind: 'node', endpoints: chatDoors });
    assert.deepEqual(by['emb-main'].llmnet, { kind: 'embeddings', default: true, endpoints: ['/v1/embeddings'] });
    assert.deepEqual(by['emb-plain'].llmnet, { kind: 'embeddings', endpoints: ['/v1/embeddings'] });
    assert.equal(by.chat, undefined, 'a chat models entry is reached through its nodes');
    const one = await request(gw.url, '/v1/models/emb-plain');
    assert.equal(one.status, 200);
    assert.equal(one.json.llmnet.kind, 'embeddings');
  });

  test('the SDK lists them', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.ok(ids.includes('emb-main') && ids.includes('llmnet') && ids.includes('writer'));
  });
});

describe('llmnet validate: embeddings models', () => {
  const dir = tempDir();
  const validate = (models, architecture = [{ name: 'a', layer: 0, model: 'chat' }]) =>
    runCli(['validate', writeJson(dir, `c-${Math.random().toString(36).slice(2)}.json`, { models, architecture })]);
  const chat = endpoint('http://127.0.0.1:9');

  test('a valid embeddings entry', async () => {
    const r = await validate({ chat, e: { ...chat, embeddings: true, default: true, 'model-id': 'text-embedding-3-small' } });
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /valid, 0 errors, 0 warnings/);
  });

  test('"embeddings" must be a boolean', async () => {
    const r = await validate({ chat, e: { ...chat, embeddings: 'yes' } });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /error: model "e": "embeddings" must be true or false/);
  });

  test('"default" without "embeddings": true, and two defaults, are errors', async () => {
    let r = await validate({ chat, e: { ...chat, default: true } });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /model "e": "default": true .* no "embeddings": true/);
    r = await validate({ chat, e1: { ...chat, embeddings: true, default: true }, e2: { ...chat, embeddings: true, default: true } });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /models "e1" and "e2" are both the default embeddings model/);
  });

  test('--dry-run shows the embeddings URL, the default and the model id sent', async () => {
    const file = writeJson(dir, 'dry.json', composition('http://127.0.0.1:9'));
    const r = await runCli([file, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /POST \/v1\/embeddings/);
    assert.match(r.stdout, /emb-main +http:\/\/127\.0\.0\.1:9\/v1\/embeddings .*embeddings \(default\), sends text-embedding-3-small/);
    assert.match(r.stdout, /emb-plain +\S+\/v1\/embeddings .*embeddings, sends the request's model/);
  });

  test('a chat node on an embeddings model is a warning', async () => {
    const r = await validate({ e: { ...chat, embeddings: true } }, [{ name: 'a', layer: 0, model: 'e' }]);
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /warning: node "a" uses model "e", which has "embeddings": true/);
  });
});
