// Budgets (docs/CONFIG.md "Budgets"): an account's quota shared by every
// models entry that names it, router calls included, counted in the
// process or in a real redis-server shared by two llmnet processes. When a
// budget is spent llmnet answers its own 429 naming the budget, the spent
// limit and when it resets (Retry-After; x-should-retry false for a day's
// limit, so the openai SDK at its default retries asks once), or the
// node's fallback answers; a minute's limit may wait in the budget's queue.
// usd-per-day counts usage.cost (`llmnet mock --cost-per-token`). Bad
// "budgets" and "budget" are refused by validate with the path and the fix.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';

import {
  assertOpenAIError,
  endpoint,
  isRoutingCall,
  mockRequests,
  clearMock,
  runCli,
  seedConfig,
  serveLocal,
  startLlmnet,
  startMock,
  stopAll,
  tempDir,
  waitFor,
  writeJson,
  ask,
  awayFromMinuteEdge,
  mockAndRedis,
} from './lib.mjs';

const RULES = {
  rules: [
    { when: { router: true, matches: 'python|code' }, route: 'technical-handler' },
    { when: { router: true }, route: 'creative-handler' },
  ],
};

async function metric(url, re) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = text.match(re);
  return m ? Number(m[1]) : 0;
}

// The seed topology with both models entries naming one budget.
function seedWithBudget(mockUrl, name, budget, server = {}) {
  const cfg = seedConfig(mockUrl, { budgets: { [name]: budget }, server });
  cfg.models['router-gemma'].budget = name;
  cfg.models['handler-llama'].budget = name;
  return cfg;
}

// One node whose entry names a budget; `fallback`: a second node on an
// entry without one answers when the first cannot.
function single(mockUrl, name, budget, { fallback = false, server = {} } = {}) {
  const cfg = {
    budgets: { [name]: budget },
    models: { free: endpoint(mockUrl, { retries: 0, budget: name }) },
    architecture: [{ name: 'bot', layer: 0, model: 'free', 'extra-options': { model_override: 'free-model' } }],
    server,
  };
  if (fallback) {
    cfg.models.paid = endpoint(mockUrl, { retries: 0 });
    cfg.architecture[0].fallback = ['paid-bot'];
    cfg.architecture.push({ name: 'paid-bot', layer: 0, model: 'paid', 'extra-options': { model_override: 'paid-model' } });
  }
  return cfg;
}

describe('a budget in one process', () => {
  let mock;
  before(async () => {
    mock = await startMock(RULES);
  });
  after(() => stopAll(mock));

  test('two entries and the router calls spend one budget; past it, a 429 naming it that the SDK does not retry', async () => {
    const llmnet = await startLlmnet(seedWithBudget(mock.url, 'openrouter-free', { rpd: 4 }));
    try {
      await clearMock(mock.url);
      // a router call (router-gemma) and a creative-handler call (handler-llama)
      assert.equal((await ask(llmnet.url, 'write a poem about the sea')).status, 200);
      let calls = await mockRequests(mock.url);
      assert.equal(calls.length, 2);
      assert.equal(calls.filter(isRoutingCall).length, 1, 'the router call is one of them');
      // a router call and a technical-handler call: 4 of 4
      assert.equal((await ask(llmnet.url, 'python code to sort a list')).status, 200);
      assert.equal((await mockRequests(mock.url)).length, 4);

      const before = await metric(llmnet.url, /llmnet_requests_total\{[^}]*status="429"[^}]*\} (\d+)/);
      const client = new OpenAI({ baseURL: `${llmnet.url}/v1`, apiKey: 'unused' });
      let err;
      try {
        await client.chat.completions.create({ model: 'llmnet', messages: [{ role: 'user', content: 'a third poem' }] });
      } catch (e) {
        err = e;
      }
      assert.ok(err, 'the request is refused');
      assert.equal(err.status, 429);
      assert.match(err.message, /budget "openrouter-free" \(4 requests per UTC day\) is spent; it resets at 00:00 UTC, in \d+ (h|min|s)/);
      assert.equal(err.headers.get('x-should-retry'), 'false', 'a day limit is not worth a retry');
      const wait = Number(err.headers.get('retry-after'));
      assert.ok(wait > 0 && wait <= 86400, `Retry-After ${wait}`);
      assert.ok(Math.abs(Date.now() / 1000 + wait - Math.ceil(Date.now() / 86400000) * 86400) < 5, 'it resets at midnight UTC');
      assert.equal((await mockRequests(mock.url)).length, 4, 'no upstream call was made');
      const after429 = await metric(llmnet.url, /llmnet_requests_total\{[^}]*status="429"[^}]*\} (\d+)/);
      assert.equal(after429 - before, 1, 'the SDK at its default retries asked once (x-should-retry: false)');
      assert.ok((await metric(llmnet.url, /llmnet_budget_refusals_total\{budget="openrouter-free"\} (\d+)/)) >= 1);
    } finally {
      await llmnet.stop();
    }
  });

  test('a spent budget hands the request to the node\'s fallback', async () => {
    const llmnet = await startLlmnet(single(mock.url, 'fb-free', { rpd: 1 }, { fallback: true }));
    try {
      await clearMock(mock.url);
      const first = await ask(llmnet.url, 'one');
      assert.equal(first.status, 200);
      const second = await ask(llmnet.url, 'two');
      assert.equal(second.status, 200, second.text);
      const calls = await mockRequests(mock.url);
      assert.deepEqual(
        calls.map((c) => c.body.model),
        ['free-model', 'paid-model'],
        'the budgeted entry answered once, then the fallback',
      );
      assert.equal(await metric(llmnet.url, /llmnet_budget_refusals_total\{budget="fb-free"\} (\d+)/), 1);
      assert.equal(await metric(llmnet.url, /llmnet_fallbacks_total\{node="bot",to="paid-bot"\} (\d+)/), 1);
    } finally {
      await llmnet.stop();
    }
  });

  test('a minute limit: 429 with a retry worth making, and a bounded queue', async () => {
    const llmnet = await startLlmnet(single(mock.url, 'per-minute', { rpm: 1, 'max-wait': 0 }));
    await awayFromMinuteEdge(45);
    try {
      assert.equal((await ask(llmnet.url, 'one')).status, 200);
      const second = await ask(llmnet.url, 'two');
      assertOpenAIError(second, 429);
      assert.match(second.json.error.message, /node "bot" \(model "free-model" at free\): budget "per-minute" \(1 request per minute\) is spent; it resets in \d+ s/);
      assert.equal(second.headers.get('x-should-retry'), 'true');
      const wait = Number(second.headers.get('retry-after'));
      assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);
    } finally {
      await llmnet.stop();
    }
    const queued = await startLlmnet(single(mock.url, 'queued', { rpm: 1, queue: 1, 'max-wait': 120 }));
    await awayFromMinuteEdge(45);
    try {
      assert.equal((await ask(queued.url, 'one')).status, 200);
      const controller = new AbortController();
      const waiting = fetch(`${queued.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'queued' }] }),
        signal: controller.signal,
      }).catch((e) => e);
      let waits = 0;
      for (let i = 0; i < 50 && waits < 1; i++) {
        waits = await metric(queued.url, /llmnet_budget_waits_total\{budget="queued"\} (\d+)/);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(waits, 1, 'the second request waits for the budget');
      const third = await ask(queued.url, 'no room');
      assertOpenAIError(third, 429);
      assert.match(third.json.error.message, /budget "queued"/);
      controller.abort();
      assert.equal((await waiting).name, 'AbortError');
    } finally {
      await queued.stop();
    }
  });

  test('embeddings through a budgeted entry count too', async () => {
    const cfg = single(mock.url, 'emb', { rpd: 1 });
    cfg.models.free.embeddings = true;
    const llmnet = await startLlmnet(cfg);
    try {
      const client = new OpenAI({ baseURL: `${llmnet.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      await client.embeddings.create({ model: 'free', input: 'one' });
      await assert.rejects(client.embeddings.create({ model: 'free', input: 'two' }), (e) => {
        assert.equal(e.status, 429);
        assert.match(e.message, /budget "emb" \(1 request per UTC day\) is spent/);
        assert.equal(e.headers.get('x-should-retry'), 'false');
        return true;
      });
      // the chat door shares the same budget
      const chatAfter = await ask(llmnet.url, 'chat after embeddings');
      assertOpenAIError(chatAfter, 429);
    } finally {
      await llmnet.stop();
    }
  });
});

describe('a budget shared through a redis-server', () => {
  const shared = mockAndRedis(RULES);

  test('two processes spend exactly one budget', async () => {
    const { mock, redis } = shared;
    const cfg = single(mock.url, 'two-procs', { rpd: 3 }, { server: { store: redis.url } });
    const a = await startLlmnet(cfg);
    const b = await startLlmnet(cfg);
    try {
      await clearMock(mock.url);
      const statuses = [];
      for (const url of [a.url, b.url, a.url, b.url, a.url, b.url]) statuses.push((await ask(url, 'hello')).status);
      assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429]);
      assert.equal((await mockRequests(mock.url)).length, 3, 'exactly the budget reached the upstream');
      // concurrent requests through both processes: none passes the spent budget
      const more = await Promise.all([a.url, b.url, a.url, b.url].map((u) => ask(u, 'again')));
      assert.ok(more.every((r) => r.status === 429));
      assert.equal((await mockRequests(mock.url)).length, 3);
    } finally {
      await stopAll(a, b);
    }
  });

  test('usd-per-day: each call\'s usage.cost is spent; a call is refused once the day\'s spend reaches the limit', async () => {
    const { mock, redis } = shared;
    // a routing prompt is a few hundred words: about $0.003 a request
    const costly = await startMock(RULES, ['--cost-per-token', '0.00001']);
    const limit = 0.02;
    const cfg = seedWithBudget(costly.url, 'dollars', { 'usd-per-day': limit }, { store: redis.url });
    const a = await startLlmnet(cfg);
    const b = await startLlmnet(cfg);
    try {
      let spent = 0;
      let most = 0;
      let refused;
      let answered = 0;
      for (let i = 0; i < 40 && !refused; i++) {
        const r = await ask(i % 2 ? b.url : a.url, `a short poem number ${i}`);
        if (r.status === 200) {
          assert.ok(spent < limit, `a request was let through at $${spent} of $${limit}`);
          const cost = r.json.usage.cost;
          assert.ok(cost > 0, 'the mock reports a cost (router and handler hops)');
          spent += cost;
          most = Math.max(most, cost);
          answered++;
        } else {
          refused = r;
        }
      }
      assert.ok(refused, 'the budget ran out');
      assertOpenAIError(refused, 429);
      assert.ok(answered >= 2, `${answered} requests were answered first`);
      assert.match(refused.json.error.message, /budget "dollars" \(\$0\.02 per UTC day\) is spent; it resets at 00:00 UTC/);
      assert.equal(refused.headers.get('x-should-retry'), 'false');
      // the shared spend (nano-dollars) is what the answers reported, plus
      // at most the router call of the refused request; it reached the limit
      const day = Math.floor(Date.now() / 86400000);
      const stored = Number(await redisGet(redis.port, `llmnet:budget:dollars:usd:${day}`)) / 1e9;
      assert.ok(stored >= limit, `refused at $${stored} of $${limit}`);
      assert.ok(stored >= spent - 1e-8 && stored <= spent + most, `stored $${stored}, answers said $${spent}`);
    } finally {
      await stopAll(a, b, costly);
    }
  });
});

// A provider's key endpoint (OpenRouter's GET /api/v1/key) on loopback:
// answers `state.usage` as data.usage_daily and records what it was asked.
async function keyEndpoint(state) {
  const asked = [];
  const server = http.createServer((req, res) => {
    asked.push({ method: req.method, url: req.url, auth: req.headers.authorization });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        data: {
          label: 'sk-or-v1-abc...xyz',
          limit: null,
          limit_remaining: state.left,
          usage: 12.5,
          usage_daily: state.usage,
          is_free_tier: true,
          rate_limit: { requests: -1, interval: '10s' },
        },
      }),
    );
  });
  return serveLocal(server, { asked });
}

describe('a budget synced with the provider', () => {
  let mock;
  before(async () => {
    mock = await startMock(RULES);
  });
  after(() => stopAll(mock));

  test('the provider\'s usage_daily, read at start and every few seconds, is spent from the budget', async () => {
    const state = { usage: 0.01, left: null };
    const provider = await keyEndpoint(state);
    const cfg = single(mock.url, 'synced', {
      'usd-per-day': 0.05,
      sync: { url: `${provider.url}/api/v1/key`, 'api-key': '$LLMNET_TEST_SYNC_KEY', every: 1 },
    });
    const llmnet = await startLlmnet(cfg, { env: { LLMNET_TEST_SYNC_KEY: 'sk-sync-test' } });
    try {
      await waitFor(() => provider.asked.length >= 1, { what: 'the read at start' });
      assert.deepEqual(provider.asked[0], { method: 'GET', url: '/api/v1/key', auth: 'Bearer sk-sync-test' });
      // $0.01 of $0.05: calls go through (the mock reports no cost)
      assert.equal((await ask(llmnet.url, 'one')).status, 200);
      // other programs on the key spent the rest: the next read says so
      state.usage = 0.06;
      const refused = await waitFor(
        async () => {
          const r = await ask(llmnet.url, 'again');
          return r.status === 429 ? r : null;
        },
        { what: 'the budget spent by the provider\'s figure' },
      );
      assert.match(refused.json.error.message, /budget "synced" \(\$0\.05 per UTC day\) is spent/);
      assert.ok(provider.asked.length >= 2, 'read again after `every`');
      // the figure only raises the count: a lower one later does not refill the budget
      state.usage = 0;
      const n = provider.asked.length;
      await waitFor(() => provider.asked.length > n + 1, { what: 'two more reads' });
      assertOpenAIError(await ask(llmnet.url, 'still spent'), 429);
    } finally {
      await stopAll(llmnet, provider);
    }
  });

  test('a provider that fails or answers something else leaves the budget as llmnet counted it', async () => {
    const asked = [];
    const server = http.createServer((req, res) => {
      asked.push(req.url);
      res.writeHead(req.url === '/broken' ? 500 : 200, { 'content-type': 'application/json' });
      res.end(req.url === '/broken' ? '{}' : '{"data": {"usage_daily": "lots"}}');
    });
    const provider = await serveLocal(server);
    const cfg = {
      budgets: {
        a: { rpd: 2, sync: { url: `${provider.url}/broken`, every: 1 } },
        b: { rpd: 2, sync: { url: `${provider.url}/odd`, every: 1 } },
      },
      models: { free: endpoint(mock.url, { retries: 0, budget: 'a' }), other: endpoint(mock.url, { retries: 0, budget: 'b' }) },
      architecture: [{ name: 'bot', layer: 0, model: 'free' }],
    };
    const llmnet = await startLlmnet(cfg);
    try {
      await waitFor(() => asked.includes('/broken') && asked.includes('/odd'), { what: 'both reads' });
      await waitFor(() => /budget "a": the sync url answered/.test(llmnet.stderr) && /budget "b": the sync url's answer has no data\.usage_daily/.test(llmnet.stderr), {
        what: 'a warning for each',
      });
      assert.equal((await ask(llmnet.url, 'one')).status, 200);
      assert.equal((await ask(llmnet.url, 'two')).status, 200);
      assertOpenAIError(await ask(llmnet.url, 'three'), 429);
    } finally {
      await stopAll(llmnet, provider);
    }
  });

  test('validate checks "sync"', async () => {
    const dir = tempDir();
    const bad = [
      [{ url: 'ftp://x' }, /the sync "url" must start with http:\/\/ or https:\/\//],
      [{ 'api-key': 'k' }, /"sync" needs a "url"/],
      [{ url: 'http://127.0.0.1:9/k', every: 0 }, /sync "every" must be a number of seconds from 1 to 86400/],
      ['yes', /"sync" must be an object such as/],
    ];
    for (const [sync, re] of bad) {
      const r = await runCli(['validate', writeJson(dir, 'sync.json', single('http://127.0.0.1:9', 's', { rpd: 1, sync }))]);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stdout, re);
    }
  });
});

// GET over the Redis protocol on a plain socket (RESP), for one key.
async function redisGet(port, key) {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let data = '';
    sock.on('connect', () => sock.write(`*2\r\n$3\r\nGET\r\n$${Buffer.byteLength(key)}\r\n${key}\r\n`));
    sock.on('data', (d) => {
      data += d;
      const m = data.match(/^\$(-?\d+)\r\n/);
      if (m && m[1] === '-1') {
        sock.destroy();
        resolve(null);
      } else if (m && data.length >= m[0].length + Number(m[1]) + 2) {
        sock.destroy();
        resolve(data.slice(m[0].length, m[0].length + Number(m[1])));
      }
    });
    sock.on('error', reject);
  });
}

describe('validate', () => {
  const dir = tempDir();
  const cli = (cfg, name) => runCli(['validate', writeJson(dir, name, cfg)]);

  test('a well-formed budget named by two entries is valid', async () => {
    const r = await cli(seedWithBudget('http://127.0.0.1:9', 'ok', { rpm: 20, rpd: 50, 'usd-per-day': 1.5, queue: 10, 'max-wait': 5 }), 'ok.json');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /valid, 0 errors/);
  });

  test('an unknown budget name lists the declared ones', async () => {
    const cfg = seedWithBudget('http://127.0.0.1:9', 'free', { rpd: 50 });
    cfg.budgets.paid = { 'usd-per-day': 5 };
    cfg.models['handler-llama'].budget = 'fre';
    const r = await cli(cfg, 'unknown.json');
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /error: model "handler-llama": budget "fre" is not declared in the top-level "budgets"; it declares "free" or "paid"/);
  });

  test('a budget without "budgets" says how to declare it', async () => {
    const cfg = seedConfig('http://127.0.0.1:9');
    cfg.models['router-gemma'].budget = 'free';
    const r = await cli(cfg, 'none.json');
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /budget "free" is not declared: add it to the top-level "budgets"/);
  });

  test('wrong types and ranges name the key and the fix', async () => {
    const cases = [
      [{ rpd: -1 }, /budget "b": "rpd" must be a whole number from 0 to 1e\+09/],
      [{ rpm: 2.5 }, /budget "b": "rpm" must be a whole number/],
      [{ 'usd-per-day': 'five' }, /budget "b": "usd-per-day" must be a number from 0 to/],
      [{ 'max-wait': 100000 }, /"max-wait" must be a number from 0 to 86400 \(seconds/],
      ['fast', /budget "b" must be an object such as/],
    ];
    for (const [budget, re] of cases) {
      const cfg = seedWithBudget('http://127.0.0.1:9', 'b', budget);
      const r = await cli(cfg, 'bad.json');
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stdout, re);
    }
    const cfg = seedConfig('http://127.0.0.1:9', { budgets: { 'no spaces please': { rpd: 1 } } });
    const r = await cli(cfg, 'name.json');
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /budget name "no spaces please" must be 1 to 64 letters, digits/);
    const typed = seedConfig('http://127.0.0.1:9', { budgets: { b: { rpd: 1 } } });
    typed.models['router-gemma'].budget = 3;
    const t = await cli(typed, 'typed.json');
    assert.equal(t.code, 1, t.stdout);
    assert.match(t.stdout, /model "router-gemma": "budget" must be the name of one of the top-level "budgets"/);
  });

  test('a budget without limits is a warning', async () => {
    const r = await cli(seedWithBudget('http://127.0.0.1:9', 'counting', {}), 'nolimit.json');
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /warning: budget "counting" has no limit/);
  });
});
