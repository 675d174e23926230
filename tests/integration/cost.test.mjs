// Cost (docs/CONFIG.md "Cost"): usage.cost read from every hop, the
// router's included, summed into the response's usage.cost (plain and
// streamed), per hop in the trace with its source (reported by the
// upstream, or computed from the models entry's "price"), in the access
// log, in llmnet_cost_usd_total, and a bad "price" refused by validate.
// The upstream is `llmnet mock --cost-per-token`, whose usage.cost is
// (prompt + completion words) times that many dollars, as OpenRouter
// reports it; a mock without it reports no cost.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText } from 'ai';
import OpenAI from 'openai';

import { chat, endpoint, isRoutingCall, newRequestId, runCli, seedConfig, startLlmnet, startMock, tempDir, upstreamCalls, writeJson } from './lib.mjs';

const PER_TOKEN = 0.000002; // $2 per million tokens, prompt and completion alike
const ROUTER_ID = 'google/gemma-3-27b-it:free';
const CREATIVE_ID = 'meta-llama/llama-3.3-70b-instruct:free';
const TECHNICAL_ID = 'qwen/qwen3-coder:free';

const rules = {
  rules: [
    { when: { router: true, matches: 'python|code' }, route: 'technical-handler' },
    { when: { router: true }, route: 'creative-handler' },
    // a handler that answers late: the client goes away first
    { when: { router: false, contains: 'slow please' }, 'delay-ms': 20000 },
    // OpenAI's cached prompt tokens, and costs no upstream should send
    {
      when: { contains: 'cached please' },
      raw: JSON.stringify({
        id: 'up-c',
        object: 'chat.completion',
        created: 1,
        model: TECHNICAL_ID,
        choices: [{ index: 0, message: { role: 'assistant', content: 'from the cache' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 1000, completion_tokens: 10, total_tokens: 1010, prompt_tokens_details: { cached_tokens: 600 } },
      }),
    },
    {
      when: { contains: 'garbage cost' },
      raw: JSON.stringify({
        id: 'up-g',
        object: 'chat.completion',
        created: 1,
        model: TECHNICAL_ID,
        choices: [{ index: 0, message: { role: 'assistant', content: 'priceless' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 4, completion_tokens: 1, total_tokens: 5, cost: '0.5' },
      }),
    },
  ],
};

// A router that names its choice on a line of its own and goes on talking:
// llmnet decides at the newline and cancels the rest, usage included.
const earlyRules = {
  rules: [{ when: { router: true }, reply: 'creative-handler\nbecause it is a poem and poems are creative writing of the kind this handler does' }],
};

function near(actual, expected, what) {
  assert.equal(typeof actual, 'number', `${what}: ${actual} is a number`);
  assert.ok(Math.abs(actual - expected) <= 1e-15 + Math.abs(expected) * 1e-9, `${what}: ${actual}, expected ${expected}`);
}

// Every hop's cost as the mock reports it, checked against its usage; the sum.
function checkReportedHops(hops, roles) {
  assert.deepEqual(
    hops.map((h) => h.role),
    roles,
  );
  let sum = 0;
  for (const h of hops) {
    assert.equal(h.cost_source, 'reported', JSON.stringify(h));
    near(h.cost, (h.usage.prompt_tokens + h.usage.completion_tokens) * PER_TOKEN, `${h.role} hop`);
    sum += h.cost;
  }
  return sum;
}

// A cost on the access log's text line.
function loggedCost(stderr, rid) {
  const line = stderr.split('\n').find((l) => l.includes(` request id=${rid} `));
  assert.ok(line, `a log line for ${rid} in:\n${stderr}`);
  const m = line.match(/ cost=(\S+) /);
  assert.ok(m, line);
  return m[1];
}

async function waitForLog(proc, needle) {
  for (let i = 0; i < 100 && !proc.stderr.includes(needle); i++) await new Promise((r) => setTimeout(r, 20));
}

describe('cost', () => {
  let costMock; // reports usage.cost
  let plainMock; // reports none
  let earlyMock;
  let gw; // seed topology on the reporting mock: every request calls the router
  let priced; // the same topology on the plain mock, with prices
  let both; // a reporting mock and prices: reported wins
  let jsonGw;
  let early;

  const routing = { sticky: 'off', 'decision-cache': false };
  const prices = {
    'router-gemma': { prompt: 0.5, completion: 1.5 },
    'handler-llama': { prompt: 3, completion: 15, 'cached-prompt': 0.75 },
  };
  function withPrices(cfg) {
    for (const [k, p] of Object.entries(prices)) cfg.models[k].price = p;
    return cfg;
  }

  before(async () => {
    costMock = await startMock(rules, ['--cost-per-token', String(PER_TOKEN)]);
    plainMock = await startMock(rules);
    earlyMock = await startMock(earlyRules, ['--cost-per-token', String(PER_TOKEN), '--chunk-interval', '20']);
    gw = await startLlmnet(seedConfig(costMock.url, { routing }), { args: ['--log-level', 'info'] });
    jsonGw = await startLlmnet(seedConfig(costMock.url, { routing }), { args: ['--log-level', 'info', '--log-format', 'json'] });
    priced = await startLlmnet(withPrices(seedConfig(plainMock.url, { routing })), { args: ['--log-level', 'info'] });
    both = await startLlmnet(withPrices(seedConfig(costMock.url, { routing })));
    early = await startLlmnet(seedConfig(earlyMock.url, { routing }));
  });

  after(async () => {
    for (const p of [gw, jsonGw, priced, both, early, costMock, plainMock, earlyMock]) await p?.stop();
  });

  test('the mock reports usage.cost only when asked to', async () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'one two three' }] };
    const withCost = await chat(costMock.url, body);
    near(withCost.json.usage.cost, (withCost.json.usage.prompt_tokens + withCost.json.usage.completion_tokens) * PER_TOKEN, 'mock');
    const without = await chat(plainMock.url, body);
    assert.equal(without.json.usage.cost, undefined);
    assert.equal(without.json.usage.total_tokens, withCost.json.usage.total_tokens);
    for (const bad of ['-1', 'abc', '2', '1e-6x']) {
      const r = await runCli(['mock', '--port', '0', '--cost-per-token', bad]);
      assert.equal(r.code, 2, `--cost-per-token ${bad}`);
      assert.match(r.stderr, /--cost-per-token expects US dollars per token from 0 to 1/);
    }
  });

  test('openai SDK: usage.cost is the router hop plus the handler hop', async () => {
    const rid = newRequestId('cost-plain');
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', defaultHeaders: { 'x-request-id': rid } });
    const res = await client.chat.completions.create({ model: 'llmnet', messages: [{ role: 'user', content: 'a poem about the sea' }] });
    const hops = res.llmnet.hops;
    assert.equal(hops[0].model, ROUTER_ID);
    assert.equal(hops[1].model, CREATIVE_ID);
    const sum = checkReportedHops(hops, ['router', 'answer']);
    assert.ok(hops[0].cost > 0 && hops[1].cost > 0);
    near(res.usage.cost, sum, 'usage.cost');
    assert.equal(res.usage.total_tokens, hops[0].usage.total_tokens + hops[1].usage.total_tokens);
    await waitForLog(gw, `id=${rid} `);
    near(Number(loggedCost(gw.stderr, rid)), sum, 'access log');
  });

  test('openai SDK streamed with include_usage: the final usage chunk has the sum', async () => {
    const rid = newRequestId('cost-stream');
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', defaultHeaders: { 'x-request-id': rid } });
    const stream = await client.chat.completions.create({
      model: 'llmnet',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'how do I sort a list in python' }],
    });
    let text = '';
    let last;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) last = chunk;
    }
    assert.match(text, /reply to: how do I sort/);
    assert.ok(last, 'a usage chunk');
    const hops = last.llmnet.hops;
    assert.equal(hops[1].model, TECHNICAL_ID);
    const sum = checkReportedHops(hops, ['router', 'answer']);
    near(last.usage.cost, sum, 'streamed usage.cost');
    await waitForLog(gw, `id=${rid} `);
    near(Number(loggedCost(gw.stderr, rid)), sum, 'access log');
  });

  test('a stream without include_usage still logs and counts the cost', async () => {
    const rid = newRequestId('cost-nousage');
    const res = await chat(gw.url, { stream: true, messages: [{ role: 'user', content: 'a short story' }] }, { 'x-request-id': rid });
    assert.equal(res.status, 200);
    const events = res.text
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)));
    assert.ok(events.length > 1);
    assert.ok(
      events.every((e) => e.usage === undefined),
      'no usage chunk was asked for',
    );
    await waitForLog(gw, `id=${rid} `);
    assert.ok(Number(loggedCost(gw.stderr, rid)) > 0);
  });

  test('a client that goes away after the router call: the 499 line has what was spent', async () => {
    const rid = newRequestId('cost-abort');
    const ac = new AbortController();
    const pending = fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': rid },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'a poem, slow please' }] }),
      signal: ac.signal,
    }).catch((e) => e);
    // the handler's call reached the mock: the router's call is over
    for (let i = 0; i < 500; i++) {
      const calls = await upstreamCalls(costMock.url, rid);
      if (calls.some((c) => !isRoutingCall(c))) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    ac.abort();
    assert.equal((await pending).name, 'AbortError');
    await waitForLog(gw, `id=${rid} `);
    const line = gw.stderr.split('\n').find((l) => l.includes(` request id=${rid} `));
    assert.match(line, /status=499/);
    assert.ok(Number(loggedCost(gw.stderr, rid)) > 0, line);
  });

  test('computed from the price when the upstream reports no cost', async () => {
    const res = await chat(priced.url, { messages: [{ role: 'user', content: 'a poem about snow' }] });
    assert.equal(res.status, 200, res.text);
    const [router, answer] = res.json.llmnet.hops;
    assert.equal(router.cost_source, 'computed');
    assert.equal(answer.cost_source, 'computed');
    near(router.cost, (router.usage.prompt_tokens * 0.5 + router.usage.completion_tokens * 1.5) / 1e6, 'router');
    near(answer.cost, (answer.usage.prompt_tokens * 3 + answer.usage.completion_tokens * 15) / 1e6, 'handler');
    near(res.json.usage.cost, router.cost + answer.cost, 'usage.cost');
  });

  test('cached prompt tokens are computed at the cached-prompt price', async () => {
    const res = await chat(priced.url, { model: 'creative-handler', messages: [{ role: 'user', content: 'cached please' }] });
    assert.equal(res.status, 200, res.text);
    const [hop] = res.json.llmnet.hops;
    assert.equal(hop.cost_source, 'computed');
    // 400 uncached at $3, 600 cached at $0.75, 10 completion at $15 per million
    near(hop.cost, (400 * 3 + 600 * 0.75 + 10 * 15) / 1e6, 'cached');
    near(res.json.usage.cost, hop.cost, 'usage.cost');
  });

  test('a reported cost wins over the price', async () => {
    const res = await chat(both.url, { messages: [{ role: 'user', content: 'a poem about rain' }] });
    const sum = checkReportedHops(res.json.llmnet.hops, ['router', 'answer']);
    near(res.json.usage.cost, sum, 'usage.cost');
  });

  test('a usage.cost that is not a number is neither trusted nor passed on', async () => {
    const rid = newRequestId('cost-garbage');
    const res = await chat(gw.url, { model: 'technical-handler', messages: [{ role: 'user', content: 'garbage cost' }] }, { 'x-request-id': rid });
    assert.equal(res.status, 200, res.text);
    const [hop] = res.json.llmnet.hops;
    assert.equal(hop.cost, null);
    assert.match(hop.cost_unknown, /usage\.cost/);
    assert.equal(res.json.usage.cost, undefined, 'the upstream\'s "0.5" is not passed on');
    await waitForLog(gw, `id=${rid} `);
    assert.equal(loggedCost(gw.stderr, rid), '-');
    // with a price, the price applies instead
    const computed = await chat(priced.url, { model: 'creative-handler', messages: [{ role: 'user', content: 'garbage cost' }] });
    assert.equal(computed.json.llmnet.hops[0].cost_source, 'computed');
    near(computed.json.usage.cost, (4 * 3 + 1 * 15) / 1e6, 'computed');
  });

  test('an early-decided router call: its cost is unknown, and the trace says the provider bills it', async () => {
    const res = await chat(early.url, { messages: [{ role: 'user', content: 'a poem about the moon' }] });
    assert.equal(res.status, 200, res.text);
    const [router, answer] = res.json.llmnet.hops;
    assert.equal(router.early, true);
    assert.equal(router.cost, null);
    assert.match(router.cost_unknown, /bills it/);
    assert.equal(answer.cost_source, 'reported');
    near(res.json.usage.cost, answer.cost, 'only the handler is known');
  });

  test('the JSON access log has the cost, and each hop its own', async () => {
    const rid = newRequestId('cost-json');
    const res = await chat(jsonGw.url, { messages: [{ role: 'user', content: 'a poem about stars' }] }, { 'x-request-id': rid });
    await waitForLog(jsonGw, rid);
    const rec = jsonGw.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .find((r) => r.msg === 'request' && r.request_id === rid);
    assert.ok(rec, jsonGw.stderr);
    near(rec.cost, res.json.usage.cost, 'logged cost');
    assert.deepEqual(
      rec.hops.map((h) => [h.cost_source, h.cost]),
      res.json.llmnet.hops.map((h) => [h.cost_source, h.cost]),
    );
    // a request that cost nothing known logs null
    const rid2 = newRequestId('cost-json-none');
    await chat(jsonGw.url, { model: 'technical-handler', messages: [{ role: 'user', content: 'garbage cost' }] }, { 'x-request-id': rid2 });
    await waitForLog(jsonGw, rid2);
    const rec2 = jsonGw.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .find((r) => r.msg === 'request' && r.request_id === rid2);
    assert.equal(rec2.cost, null);
  });

  test('/metrics: llmnet_cost_usd_total per node, model id and source', async () => {
    await chat(priced.url, { messages: [{ role: 'user', content: 'a poem about wind' }] });
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const value = (labels) => {
      const line = text.split('\n').find((l) => l.startsWith(`llmnet_cost_usd_total{${labels}} `));
      assert.ok(line, `no series {${labels}} in:\n${text}`);
      return Number(line.split(' ').pop());
    };
    assert.ok(value(`node="router",model="${ROUTER_ID}",source="reported"`) > 0);
    assert.ok(value(`node="creative-handler",model="${CREATIVE_ID}",source="reported"`) > 0);
    assert.ok(value(`node="technical-handler",model="${TECHNICAL_ID}",source="reported"`) > 0);
    assert.match(text, /# TYPE llmnet_cost_usd_total counter/);
    const pricedText = await (await fetch(`${priced.url}/metrics`)).text();
    assert.match(pricedText, new RegExp(`llmnet_cost_usd_total\\{node="router",model="${ROUTER_ID.replace(/[.]/g, '\\.')}",source="computed"\\} [0-9.e-]+`));
  });

  test('the AI SDK at default settings (Responses API): usage.cost in the response body', async () => {
    const openai = createOpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused' });
    const result = await generateText({ model: openai('llmnet'), prompt: 'a poem about leaves' });
    assert.match(result.text, /reply to: a poem about leaves/);
    const body = result.response.body;
    assert.equal(body.object, 'response');
    const sum = checkReportedHops(body.llmnet.hops, ['router', 'answer']);
    near(body.usage.cost, sum, 'usage.cost');
    assert.equal(result.usage.totalTokens, body.usage.total_tokens);
  });

  test('the AI SDK chat model: usage.cost in the chat.completion body', async () => {
    const openai = createOpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused' });
    const result = await generateText({ model: openai.chat('llmnet'), prompt: 'a poem about bark' });
    const body = result.response.body;
    assert.equal(body.object, 'chat.completion');
    near(body.usage.cost, checkReportedHops(body.llmnet.hops, ['router', 'answer']), 'usage.cost');
  });

  test('the AI SDK streamText: response.completed carries the summed cost, and the log has it', async () => {
    const rid = newRequestId('cost-ai-stream');
    const openai = createOpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', headers: { 'x-request-id': rid } });
    const result = streamText({ model: openai('llmnet'), prompt: 'a poem about clouds', includeRawChunks: true });
    let completed;
    for await (const part of result.fullStream) {
      if (part.type === 'raw' && part.rawValue?.type === 'response.completed') completed = part.rawValue.response;
    }
    assert.match(await result.text, /reply to: a poem about clouds/);
    assert.ok(completed, 'a response.completed event');
    assert.ok(completed.usage.cost > 0, JSON.stringify(completed.usage));
    await waitForLog(gw, `id=${rid} `);
    near(Number(loggedCost(gw.stderr, rid)), completed.usage.cost, 'access log');
  });

  test('validate refuses a bad price, naming the model, the key and the fix', async () => {
    const dir = tempDir();
    const cfg = seedConfig('http://127.0.0.1:9');
    cfg.models['handler-llama'].price = { prompt: 0.1, completon: 0.4 };
    const file = writeJson(dir, 'bad-price.json', cfg);
    const r = await runCli(['validate', file]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const out = r.stdout + r.stderr;
    assert.match(out, /model "handler-llama": unknown key "completon" in "price" \(did you mean "completion"\?\)/);
    assert.match(out, /model "handler-llama": "price" needs "completion"/);
    cfg.models['handler-llama'].price = { prompt: -1, completion: 0.4 };
    writeJson(dir, 'bad-price.json', cfg);
    const neg = await runCli(['validate', file]);
    assert.equal(neg.code, 1);
    assert.match(neg.stdout + neg.stderr, /bad-price\.json:\d+:\d+: error: model "handler-llama": price "prompt" must be a number of US dollars per million tokens from 0/);
  });
});

describe('cost of embeddings', () => {
  let costMock;
  let plainMock;
  let gw;

  before(async () => {
    costMock = await startMock(null, ['--cost-per-token', String(PER_TOKEN)]);
    plainMock = await startMock(null);
    gw = await startLlmnet(
      {
        models: {
          chat: endpoint(plainMock.url),
          'emb-reported': endpoint(costMock.url, { embeddings: true }),
          'emb-priced': endpoint(plainMock.url, { embeddings: true, price: { prompt: 0.02, completion: 0 } }),
          'emb-free': endpoint(plainMock.url, { embeddings: true }),
        },
        architecture: [{ name: 'bot', layer: 0, model: 'chat' }],
      },
      { args: ['--log-level', 'info'] },
    );
  });

  after(async () => {
    for (const p of [gw, costMock, plainMock]) await p?.stop();
  });

  test('reported, computed from the price, or unknown: in the access log and /metrics', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused' });
    const input = 'four words of text';
    const ids = {};
    for (const model of ['emb-reported', 'emb-priced', 'emb-free']) {
      ids[model] = newRequestId(`cost-${model}`);
      const res = await client.embeddings.create({ model, input }, { headers: { 'x-request-id': ids[model] } });
      assert.equal(res.data.length, 1);
      assert.equal(res.usage.prompt_tokens, 4);
    }
    for (const id of Object.values(ids)) await waitForLog(gw, `id=${id} `);
    near(Number(loggedCost(gw.stderr, ids['emb-reported'])), 4 * PER_TOKEN, 'reported');
    near(Number(loggedCost(gw.stderr, ids['emb-priced'])), (4 * 0.02) / 1e6, 'computed');
    assert.equal(loggedCost(gw.stderr, ids['emb-free']), '-');
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(text, /llmnet_cost_usd_total\{node="emb-reported",model="emb-reported",source="reported"\} /);
    assert.match(text, /llmnet_cost_usd_total\{node="emb-priced",model="emb-priced",source="computed"\} /);
    assert.ok(!text.includes('node="emb-free",model="emb-free",source='), 'no cost series for an unknown cost');
  });
});
