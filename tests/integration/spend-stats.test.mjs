// Seeing what requests cost (issue 13, "Seeing it"): GET /v1/llmnet/stats
// reports spend per node and model id (usage.cost as reported, or computed
// from a models entry's "price"), each budget's use against its limits with
// its reset times, and the response cache's hits, misses and bypasses;
// `llmnet explain` names the budgets a request would draw from and whether
// the response cache is looked up; `llmnet run --dry-run` shows prices,
// budgets and the response-cache settings. Real llmnet against a local
// upstream that reports usage.cost (and one that reports none).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  chat,
  completionBody,
  endpoint,
  isRoutingCall,
  onRequestBody,
  request,
  runCli,
  serveLocal,
  startLlmnet,
  stopAll,
  writeJson,
  tempDir,
} from './lib.mjs';

const ROUTER_COST = 0.0005;
const HANDLER_COST = 0.002;
// the priced upstream reports 1000 prompt and 500 completion tokens, no cost
const PRICE = { prompt: 2, completion: 4 }; // US dollars per million tokens
const COMPUTED_COST = (1000 * PRICE.prompt + 500 * PRICE.completion) / 1e6;
const LIMITS = { rpm: 100, rpd: 1000, 'usd-per-day': 5 };

// An upstream that reports usage.cost, as OpenRouter does: a routing call
// picks technical-handler for text about code, else creative-handler.
function startCostly() {
  const calls = [];
  const server = http.createServer((req, res) => {
    onRequestBody(req, (body) => {
      const routing = isRoutingCall({ body });
      calls.push({ routing, model: body.model });
      const text = JSON.stringify((body.messages ?? []).at(-1) ?? {}); // the router reads it last
      const content = routing ? (/code/i.test(text) ? 'technical-handler' : 'creative-handler') : 'an answer';
      const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, cost: routing ? ROUTER_COST : HANDLER_COST };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(completionBody(body.model, content, { usage })));
    });
  });
  return serveLocal(server, { calls });
}

// An upstream that reports tokens but no cost: llmnet computes it from "price".
function startPriced() {
  const server = http.createServer((req, res) => {
    onRequestBody(req, (body) => {
      const usage = { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(completionBody(body.model, 'a computed answer', { usage })));
    });
  });
  return serveLocal(server);
}

function composition(costlyUrl, pricedUrl) {
  return {
    models: {
      'router-m': endpoint(costlyUrl, { budget: 'shared' }),
      'handler-m': endpoint(costlyUrl, { budget: 'shared' }),
      'priced-m': endpoint(pricedUrl, { price: PRICE }),
    },
    budgets: { shared: LIMITS },
    'response-cache': { ttl: 600 },
    // every request is routed on its own: the router calls are easy to count
    routing: { sticky: 'off', 'decision-cache': false },
    architecture: [
      { name: 'router', layer: 0, model: 'router-m', 'output-to': [1], 'extra-options': { model_override: 'up/router-1' } },
      { name: 'creative-handler', layer: 1, model: 'handler-m', 'use-case': 'Poems', 'extra-options': { model_override: 'up/handler-1' } },
      { name: 'technical-handler', layer: 1, model: 'priced-m', 'use-case': 'Code', 'extra-options': { model_override: 'up/priced-1' } },
    ],
  };
}

const close = (a, b) => Math.abs(a - b) < 1e-9;
const rowOf = (stats, node, model) => stats.spend.models.find((r) => r.node === node && r.model === model);

let costly;
let priced;
let gw;
let config;
const answers = [];

before(async () => {
  costly = await startCostly();
  priced = await startPriced();
  config = composition(costly.url, priced.url);
  gw = await startLlmnet(config);
  const poem = { model: 'llmnet', temperature: 0, messages: [{ role: 'user', content: 'Write a poem about the sea' }] };
  const code = { model: 'llmnet', temperature: 0, messages: [{ role: 'user', content: 'Fix my code please' }] };
  // a miss, a hit of the same request, a bypass of it, then another miss
  for (const [body, headers] of [[poem], [poem], [poem, { 'cache-control': 'no-cache' }], [code]]) {
    const res = await chat(gw.url, body, headers);
    assert.equal(res.status, 200, res.text);
    answers.push({ cache: res.headers.get('x-llmnet-cache'), cost: res.json.usage?.cost });
  }
});

after(async () => {
  await stopAll(gw);
  await costly?.stop();
  await priced?.stop();
});

describe('GET /v1/llmnet/stats: spend', () => {
  test('dollars per node and model id, reported and computed, and their total', async () => {
    const stats = (await request(gw.url, '/v1/llmnet/stats')).json;
    const { spend } = stats;
    assert.ok(spend, 'a "spend" object');
    // two routed poems (the hit called nothing) and one routed code request
    const router = rowOf(stats, 'router', 'up/router-1');
    assert.ok(router, JSON.stringify(spend.models));
    assert.ok(close(router.reported_usd, 3 * ROUTER_COST), `router: ${router.reported_usd}`);
    assert.equal(router.computed_usd, 0);
    const creative = rowOf(stats, 'creative-handler', 'up/handler-1');
    assert.ok(close(creative.usd, 2 * HANDLER_COST), `creative-handler: ${creative.usd}`);
    const technical = rowOf(stats, 'technical-handler', 'up/priced-1');
    assert.ok(technical, JSON.stringify(spend.models));
    assert.ok(close(technical.computed_usd, COMPUTED_COST), `computed from the price: ${technical.computed_usd}`);
    assert.equal(technical.reported_usd, 0);
    assert.equal(spend.models.length, 3);
    const total = 3 * ROUTER_COST + 2 * HANDLER_COST + COMPUTED_COST;
    assert.ok(close(spend.usd, total), `total ${spend.usd} vs ${total}`);
    assert.ok(close(spend.reported_usd + spend.computed_usd, spend.usd));
    // what the responses said they cost adds up to the same
    const said = answers.reduce((sum, a) => sum + (a.cost ?? 0), 0);
    assert.ok(close(said, total), `responses' usage.cost ${said} vs ${total}`);
  });

  test('Prometheus counts the same dollars', async () => {
    const text = (await request(gw.url, '/metrics')).text;
    const m = text.match(/^llmnet_cost_usd_total\{node="technical-handler",model="up\/priced-1",source="computed"\} (\S+)$/m);
    assert.ok(m, 'a computed series for technical-handler');
    assert.ok(close(Number(m[1]), COMPUTED_COST));
  });
});

describe('GET /v1/llmnet/stats: budgets', () => {
  test("each budget's limits, its use by every entry naming it, and when it resets", async () => {
    const before = Date.now();
    const { budgets } = (await request(gw.url, '/v1/llmnet/stats')).json;
    assert.equal(budgets.length, 1, JSON.stringify(budgets));
    const [b] = budgets;
    assert.equal(b.name, 'shared');
    assert.equal(b.rpm, LIMITS.rpm);
    assert.equal(b.rpd, LIMITS.rpd);
    assert.equal(b.usd_per_day, LIMITS['usd-per-day']);
    // three router calls and two creative-handler calls (router-m and
    // handler-m name it); the hit called nothing, priced-m names no budget
    assert.equal(b.requests_today, 5);
    assert.ok(b.requests_this_minute <= 5, `this minute: ${b.requests_this_minute}`);
    assert.ok(close(b.usd_today, 3 * ROUTER_COST + 2 * HANDLER_COST), `dollars today: ${b.usd_today}`);
    assert.equal(b.waiting, 0);
    assert.ok(b.minute_resets_at > before - 1000 && b.minute_resets_at % 60000 === 0, `minute resets ${b.minute_resets_at}`);
    assert.ok(b.day_resets_at >= b.minute_resets_at && b.day_resets_at % 86400000 === 0, `day resets ${b.day_resets_at}`);
  });
});

describe('GET /v1/llmnet/stats: the response cache', () => {
  test('hits, misses, bypasses and the hit rate', async () => {
    assert.deepEqual(
      answers.map((a) => a.cache),
      ['miss', 'hit', 'bypass', 'miss'],
    );
    const { cache } = (await request(gw.url, '/v1/llmnet/stats')).json;
    assert.equal(cache.enabled, true);
    assert.equal(cache.ttl_s, 600);
    assert.equal(cache.hits, 1);
    assert.equal(cache.misses, 2);
    assert.equal(cache.bypass, 1);
    assert.ok(close(cache.hit_rate, 1 / 3), `hit rate ${cache.hit_rate}`);
    // two answers are held in the process (the bypass replaced the first), and the hit served one
    assert.ok(cache.bytes > 0, `bytes held: ${cache.bytes}`);
    assert.ok(cache.served_bytes > 0, `bytes served: ${cache.served_bytes}`);
    assert.ok(cache.max_bytes >= cache.bytes, `max_bytes ${cache.max_bytes}`);
  });
});

describe('llmnet explain and --dry-run', () => {
  let file;
  before(() => {
    file = writeJson(tempDir(), 'llmnet.json', composition('http://127.0.0.1:9', 'http://127.0.0.1:9'));
  });

  test('explain names the budget each call draws from, the router call included', async () => {
    const r = await runCli(['explain', file, 'Write a poem about the sea']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^budgets: each model call counts against its models entry's "budget"/m);
    assert.match(r.stdout, /^ {3}the router call \(node router, model router-m\): budget shared \(100\/min, 1000\/day, \$5\/day\)$/m);
    assert.match(r.stdout, /^ {3}creative-handler, if the router chooses it \(model handler-m\): budget shared /m);
    assert.match(r.stdout, /^ {3}technical-handler, if the router chooses it \(model priced-m\): no budget$/m);
    assert.match(r.stdout, /^ {3}this request draws from shared: 1 or 2 calls, as the router chooses$/m);
    assert.match(r.stdout, /429 with Retry-After, naming the budget/);
  });

  test('explain says whether the response cache is looked up', async () => {
    const looked = await runCli(['explain', file, 'Write a poem']);
    assert.match(looked.stdout, /^response cache: looked up first, before any router call .*ttl 600 s/m);
    assert.match(looked.stdout, /draws no budget/);
    const bypassed = await runCli(['explain', file, 'Write a poem', '--header', 'Cache-Control: no-cache']);
    assert.match(bypassed.stdout, /^response cache: bypassed: the request says Cache-Control: no-cache/m);
    const off = writeJson(tempDir(), 'off.json', { ...composition('http://127.0.0.1:9', 'http://127.0.0.1:9'), 'response-cache': undefined });
    const r = await runCli(['explain', off, 'Write a poem']);
    assert.match(r.stdout, /^response cache: off \(no top-level "response-cache"\)/m);
  });

  test('--dry-run shows prices, budgets and the response cache', async () => {
    const r = await runCli(['run', file, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /price \$2 prompt, \$4 completion per million tokens/);
    assert.match(r.stdout, /^ {2}shared +100\/min 1000\/day \$5\/day, queue 100, max-wait 30s {2}\(models router-m, handler-m\)$/m);
    assert.match(r.stdout, /^response cache {2}ttl 600s, max-bytes 67108864, answers at temperature 0 only$/m);
    // a budget that reads the provider's figure says so, without its URL or key
    const cfg = composition('http://127.0.0.1:9', 'http://127.0.0.1:9');
    cfg.budgets.shared.sync = { url: 'http://127.0.0.1:9/api/v1/key', 'api-key': 'sk-secret-sync', every: 120 };
    const synced = await runCli(['run', writeJson(tempDir(), 'sync.json', cfg), '--dry-run']);
    assert.equal(synced.code, 0, synced.stderr);
    assert.match(synced.stdout, /max-wait 30s, sync with the provider every 120s {2}\(models/);
    assert.doesNotMatch(synced.stdout, /sk-secret-sync|api\/v1\/key/);
  });
});
