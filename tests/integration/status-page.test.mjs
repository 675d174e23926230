// The status page (GET /): a self-contained HTML page that, loaded in a real
// browser (Debian's chromium, headless), draws every node of the composition
// with the live counters of GET /v1/llmnet/stats.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { accessSync, constants, rmSync } from 'node:fs';
import { chat, request, seedConfig, startLlmnet, startMock, stopAll, tempDir } from './lib.mjs';

const CHROMIUM = process.env.LLMNET_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--virtual-time-budget=5000',
  '--dump-dom',
];
const API_KEY = 'status-page-key';

// Runs headless chromium on `url` and resolves with the DOM after the page's
// scripts ran (--dump-dom). A missing chromium fails the test, saying how to get it.
function dumpDom(url) {
  try {
    accessSync(CHROMIUM, constants.X_OK);
  } catch {
    assert.fail(
      `${CHROMIUM} is missing: the status-page test loads the page in Debian's chromium package ` +
        '(scripts/deps.sh installs it; or run apt-get install -y chromium)',
    );
  }
  const profile = tempDir();
  return new Promise((resolve, reject) => {
    // its own process group, so a hung browser and its helpers can be killed together
    const child = spawn(CHROMIUM, [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, url], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      reject(new Error(`chromium did not finish within 90 s: ${err.slice(-2000)}`));
    }, 90000);
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${CHROMIUM}: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      rmSync(profile, { recursive: true, force: true });
      if (code !== 0 || !out.includes('</html>')) reject(new Error(`chromium exited ${code}: ${err.slice(-2000)}`));
      else resolve(out);
    });
  });
}

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", nbsp: '\u00a0' };
const decode = (s) => s.replace(/&(amp|lt|gt|quot|#39|nbsp);/g, (_, e) => ENTITIES[e]);

function attrsOf(s) {
  const out = {};
  for (const m of s.matchAll(/([\w:-]+)="([^"]*)"/g)) out[m[1]] = decode(m[2]);
  return out;
}

// What the page shows, read from the serialized DOM: node boxes (their
// text lines, counters and position), arrows, the global figures and the status line.
function readPage(dom) {
  const nodes = {};
  for (const m of dom.matchAll(/<g\b([^>]*)>([\s\S]*?)<\/g>/g)) {
    const attrs = attrsOf(m[1]);
    if (attrs['data-node'] === undefined) continue;
    const counters = {};
    for (const c of m[2].matchAll(/<tspan\b([^>]*)>([^<]*)<\/tspan>/g)) {
      const ca = attrsOf(c[1]);
      if (ca['data-counter']) counters[ca['data-counter']] = { text: decode(c[2]), value: ca['data-value'] };
    }
    const lines = [...m[2].matchAll(/<text\b[^>]*>([\s\S]*?)<\/text>/g)].map((t) => decode(t[1].replace(/<[^>]+>/g, '')));
    const rect = attrsOf((m[2].match(/<rect\b([^>]*)>/) ?? ['', ''])[1]);
    nodes[attrs['data-node']] = { attrs, counters, lines, x: Number(rect.x) };
  }
  const edges = [...dom.matchAll(/data-edge="([^"]*)"/g)].map((m) => decode(m[1]));
  const edgeLabels = {};
  for (const m of dom.matchAll(/data-edge-label="([^"]*)"[^>]*>([^<]*)</g)) edgeLabels[decode(m[1])] = decode(m[2]);
  const globals = {};
  for (const m of dom.matchAll(/data-global="([^"]*)"[^>]*>([^<]*)</g)) globals[m[1]] = decode(m[2]);
  const status = dom.match(/<p\b([^>]*\bid="status"[^>]*)>([\s\S]*?)<\/p>/);
  const columns = [...dom.matchAll(/<text\b[^>]*class="col"[^>]*>([^<]*)<\/text>/g)].map((m) => decode(m[1]));
  // the spend and budget tables: a row per [data-spend] / [data-budget], its cells by data-field
  const rows = { spend: {}, budget: {} };
  for (const m of dom.matchAll(/<tr\b([^>]*)>([\s\S]*?)<\/tr>/g)) {
    const attrs = attrsOf(m[1]);
    const kind = attrs['data-spend'] !== undefined ? 'spend' : attrs['data-budget'] !== undefined ? 'budget' : null;
    if (!kind) continue;
    const cells = {};
    for (const c of m[2].matchAll(/<td\b([^>]*)>([^<]*)<\/td>/g)) {
      const ca = attrsOf(c[1]);
      cells[ca['data-field']] = { text: decode(c[2]), class: ca.class ?? '' };
    }
    rows[kind][attrs[`data-${kind}`]] = cells;
  }
  return {
    nodes,
    edges,
    edgeLabels,
    globals,
    columns,
    rows,
    status: status && { attrs: attrsOf(status[1]), text: decode(status[2]) },
  };
}

// The seed's shape with a condition on one handler, both handlers feeding a
// layer-less output node, and a mock rule that makes one creative request fail.
function composition(mockUrl, extra = {}) {
  const cfg = seedConfig(mockUrl, extra);
  cfg.architecture[1]['output-to'] = ['output'];
  cfg.architecture[2]['output-to'] = ['output'];
  cfg.architecture[2].if = '$WORD_COUNT >= 3';
  cfg.architecture.push({ name: 'output', adapter: 'output' });
  return cfg;
}

const MESSAGES = [
  'Write a poem about the sea and storytelling',
  'Technical question about coding math and science',
  'Write a creative story, please-fail this one',
];

// Every token the mock answers costs this (usage.cost, as OpenRouter reports it).
const COST_PER_TOKEN = 0.000001;

let mock;
let gw;
let locked;
let config;

before(async () => {
  mock = await startMock(
    { rules: [{ when: { contains: 'please-fail', router: false }, status: 400, error: 'refused by the status-page test' }] },
    ['--cost-per-token', String(COST_PER_TOKEN)],
  );
  // one free-tier budget for both entries, and the response cache
  config = composition(mock.url, { budgets: { 'openrouter-free': { rpm: 20, rpd: 50 } }, 'response-cache': { ttl: 600 } });
  for (const m of Object.values(config.models)) m.budget = 'openrouter-free';
  gw = await startLlmnet(config);
  locked = await startLlmnet(composition(mock.url, { server: { 'api-keys': [API_KEY] } }));
});

after(async () => {
  await stopAll(gw, locked, mock);
});

describe('GET /', () => {
  test('is a small self-contained HTML page', async () => {
    const res = await request(gw.url, '/');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(res.text, /^<!doctype html>/i);
    assert.ok(Buffer.byteLength(res.text) < 15 * 1024, `the page is ${Buffer.byteLength(res.text)} bytes; keep it under 15 KB`);
    // no references to other hosts: no absolute URLs, no protocol-relative src/href
    assert.doesNotMatch(res.text, /https?:\/\//i);
    assert.doesNotMatch(res.text, /\b(?:src|href|action)\s*=\s*["']?\/\//i);
    assert.doesNotMatch(res.text, /@import|<script\b[^>]*\bsrc=|<link\b[^>]*\bstylesheet/i);
    assert.ok(res.text.includes('/v1/llmnet/stats'), 'the page reads /v1/llmnet/stats');
  });

  test('is open without an API key, like /health', async () => {
    const page = await request(locked.url, '/');
    assert.equal(page.status, 200);
    const stats = await request(locked.url, '/v1/llmnet/stats');
    assert.equal(stats.status, 401);
  });

  test('other methods get 405 with Allow: GET', async () => {
    const res = await request(gw.url, '/', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 405, res.text);
    assert.equal(res.headers.get('allow'), 'GET');
    assert.ok(res.json && res.json.error, res.text);
  });
});

describe('the page in headless chromium', () => {
  test('draws every node with the counters of /v1/llmnet/stats', async () => {
    const statuses = [];
    for (const content of MESSAGES) {
      const res = await chat(gw.url, { model: 'llmnet', messages: [{ role: 'user', content }] });
      statuses.push(res.status);
    }
    assert.deepEqual(statuses.slice(0, 2), [200, 200]);
    assert.ok(statuses[2] >= 400, `the please-fail request failed: ${statuses[2]}`);

    const dom = await dumpDom(`${gw.url}/`);
    const stats = (await request(gw.url, '/v1/llmnet/stats')).json;
    const page = readPage(dom);

    assert.ok(page.status, 'a #status line');
    assert.match(page.status.text, /^Live/, `status line: ${page.status.text}`);
    assert.notEqual(page.status.attrs.class, 'error');

    const names = config.architecture.map((n) => n.name);
    assert.deepEqual(Object.keys(page.nodes).sort(), [...names].sort(), 'one box per node of the composition');
    for (const name of names) {
      const box = page.nodes[name];
      assert.equal(box.lines[0], name, `the box of ${name} starts with its name`);
      const live = stats.nodes[name];
      for (const key of ['calls', 'errors', 'tokens']) {
        assert.ok(box.counters[key], `${name} shows ${key}`);
        assert.equal(box.counters[key].text, String(live[key]), `${name} ${key}`);
      }
      for (const key of ['p50_ms', 'p99_ms']) {
        const shown = box.counters[key];
        assert.ok(shown, `${name} shows ${key}`);
        if (live[key] === null) {
          assert.equal(shown.text, '–', `${name} ${key} without data`);
        } else {
          assert.equal(shown.value, String(live[key]), `${name} ${key}`);
          assert.match(shown.text, /^\d+(\.\d+)? ms$/, `${name} ${key}: ${shown.text}`);
          // shown rounded: 2 decimals under 1 ms, 1 under 100 ms, whole ms above
          const tolerance = (live[key] < 1 ? 0.01 : live[key] < 100 ? 0.1 : 1) / 2 + 1e-6;
          assert.ok(Math.abs(parseFloat(shown.text) - live[key]) <= tolerance, `${name} ${key}: ${shown.text} vs ${live[key]}`);
        }
      }
    }

    // the figures this test caused: every request went through the router
    const { router, 'creative-handler': creative, 'technical-handler': technical, output } = page.nodes;
    assert.equal(router.counters.calls.text, String(MESSAGES.length));
    assert.equal(creative.counters.calls.text, '2');
    assert.equal(creative.counters.errors.text, '1');
    assert.equal(technical.counters.calls.text, '1');
    assert.equal(technical.counters.errors.text, '0');
    assert.ok(Number(router.counters.tokens.text) > 0);
    assert.equal(router.counters.p50_ms.text.endsWith(' ms'), true);
    assert.equal(output.counters.calls.text, '0');
    assert.equal(output.counters.p50_ms.text, '–');
    assert.match(creative.attrs.class, /\bhas-errors\b/, 'a node with errors is marked');
    assert.doesNotMatch(technical.attrs.class, /\bhas-errors\b/);

    // roles, the entry, model ids, the condition
    assert.equal(router.attrs['data-entry'], 'true');
    assert.match(router.lines[1], /^router · entry/, 'the entry is said in text, not only colour');
    assert.equal(creative.attrs['data-entry'], undefined);
    assert.equal(creative.lines[1], 'answers');
    assert.equal(output.lines[1], 'output');
    assert.equal(router.lines[2], 'google/gemma-3-27b-it:free');
    assert.equal(technical.lines[2], 'qwen/qwen3-coder:free');
    assert.match(technical.lines[1], /if \$WORD_COUNT/);

    // the picture: a column per layer, the output node last, arrows for targets
    assert.deepEqual(page.columns, ['layer 0', 'layer 1', 'outputs']);
    assert.ok(router.x < creative.x && creative.x === technical.x && technical.x < output.x, 'columns by layer');
    assert.deepEqual(page.edges.sort(), [
      'creative-handler>output',
      'router>creative-handler',
      'router>technical-handler',
      'technical-handler>output',
    ]);

    // each edge says how many requests took it and how the choice was made
    assert.deepEqual(page.edgeLabels, {
      'router>creative-handler': '2 · router 2',
      'router>technical-handler': '1 · router 1',
      'creative-handler>output': '1 · single 1',
      'technical-handler>output': '1 · single 1',
    });
    assert.equal(stats.edges['router>creative-handler'].decided.router, 2);
    // the routing node shows how long its choices take; a handler has no such line
    assert.equal(stats.nodes.router.decisions, MESSAGES.length);
    assert.equal(router.counters.decision_p50_ms.value, String(stats.nodes.router.decision_p50_ms));
    assert.match(router.counters.decision_p99_ms.text, /^\d+(\.\d+)? ms$/);
    assert.equal(creative.counters.decision_p50_ms, undefined);

    // spend: a row per node and model id, as /v1/llmnet/stats has them, and the total
    const usd = (v) => '$' + Number(v.toFixed(6));
    assert.ok(stats.spend.models.length >= 3, JSON.stringify(stats.spend));
    assert.deepEqual(Object.keys(page.rows.spend).sort(), stats.spend.models.map((r) => `${r.node}>${r.model}`).sort());
    for (const r of stats.spend.models) {
      const row = page.rows.spend[`${r.node}>${r.model}`];
      assert.equal(row.node.text, r.node);
      assert.equal(row.model.text, r.model);
      assert.equal(row.reported.text, usd(r.reported_usd), `${r.node} reported`);
      assert.equal(row.usd.text, usd(r.usd), `${r.node} total`);
      assert.ok(r.reported_usd > 0, `the mock reported a cost for ${r.node}`);
    }
    assert.ok(page.rows.spend['router>google/gemma-3-27b-it:free'], 'the router calls have their row');
    assert.equal(page.globals.spend, usd(stats.spend.usd));
    // the budget: its use against its limits, and when each window resets
    const [budget] = stats.budgets;
    assert.equal(budget.name, 'openrouter-free');
    const shown = page.rows.budget['openrouter-free'];
    assert.ok(shown, 'a row for the budget');
    assert.ok(budget.requests_today >= 5, `router and handler calls counted: ${budget.requests_today}`);
    assert.equal(shown.minute.text, `${budget.requests_this_minute}/20`);
    assert.equal(shown.day.text, `${budget.requests_today}/50`);
    assert.doesNotMatch(shown.day.class, /spent/, 'not spent yet');
    assert.match(shown.resets.text, /^minute \S.* · day \S/);
    assert.doesNotMatch(shown.resets.text, /–/, 'both reset times shown');
    // the response cache: every request was looked up, none was answered from it
    assert.equal(stats.cache.enabled, true);
    assert.equal(stats.cache.hits, 0);
    assert.equal(stats.cache.misses, MESSAGES.length);
    assert.equal(page.globals.cache, `hit rate 0.0% (0 hits, ${MESSAGES.length} misses, 0 bypassed)`);

    assert.equal(page.globals.entry, 'router');
    assert.equal(page.globals.in_flight, '0');
    assert.match(page.globals.connections, /^\d+$/);
  });

  test('says so when the stats cannot be read, and takes a key from the fragment', async () => {
    const denied = readPage(await dumpDom(`${locked.url}/`));
    assert.ok(denied.status, 'a #status line');
    assert.equal(denied.status.attrs.class, 'error');
    assert.match(denied.status.text, /Cannot load \/v1\/llmnet\/stats \(HTTP 401/);
    assert.match(denied.status.text, /#key=/);
    assert.deepEqual(denied.nodes, {}, 'no boxes without figures');

    const allowed = readPage(await dumpDom(`${locked.url}/#key=${API_KEY}`));
    assert.match(allowed.status.text, /^Live/, `status line: ${allowed.status.text}`);
    assert.deepEqual(Object.keys(allowed.nodes).sort(), config.architecture.map((n) => n.name).sort());
  });
});
