// Scale-out (issue 15): two llmnet replicas of one composition sharing a
// real redis-server (server.store), behind a real haproxy that checks
// GET /ready, retries on connection failures and empty responses and
// redispatches to the other replica, upstream a real `llmnet mock`. Under
// load from the openai SDK (default settings, retries included) and raw
// fetch: one replica killed with SIGKILL loses no request haproxy could
// retry (those in flight on it are counted and printed), a SIGTERM with
// server.drain-delay loses none (/ready 503, /health 200 meanwhile); a
// budget is spent exactly once across both; a session pinned through one
// replica is honoured through the other; the decision cache, the response
// cache and stored responses are shared. Ports are chosen at run time; the replicas take
// theirs from LLMNET_PORT and LLMNET_BIND_ADDR, and the composition's
// server settings from $VAR. haproxy is required (scripts/deps.sh test
// installs it): without it the test fails.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';

import {
  exited,
  freePort,
  mockRequests,
  request,
  runCli,
  sleep,
  start,
  startMock,
  startRedis,
  stopAll,
  tempDir,
  waitFor,
  writeJson,
} from './lib.mjs';

const TECH = 'technical-handler';
// haproxy's health checks: every CHECK_MS, down after FALL failures; the
// drain delay is longer than both together, so haproxy stops sending
// before a replica's listener closes.
const CHECK_MS = 200;
const FALL = 2;
const DRAIN_DELAY_S = 1.5;
const BUDGET_RPD = 7;

const RULES = {
  rules: [
    { when: { router: true, matches: 'poem|story' }, route: 'creative-handler' },
    { when: { router: true, matches: 'python|code' }, route: TECH },
    // load requests take a while upstream, so some are in flight when a
    // replica dies
    { when: { router: false, contains: 'load-' }, 'delay-ms': 120 },
  ],
};

// One composition for both replicas: the upstream header says which
// replica made a call (from $LLMNET_REPLICA), so the test can tell which
// requests were in flight on the one it kills.
function composition(mockUrl) {
  const model = (budget) => ({
    type: 'external',
    interface: 'openai-api',
    url: mockUrl,
    'api-key': 'k',
    retries: 0,
    headers: { 'x-llmnet-replica': '$LLMNET_REPLICA' },
    ...(budget ? { budget } : {}),
  });
  return {
    models: { 'router-gemma': model(), 'handler-llama': model(), budgeted: model('shared-day') },
    budgets: { 'shared-day': { rpd: BUDGET_RPD, 'max-wait': 0 } },
    'response-cache': true,
    architecture: [
      { name: 'router', layer: 0, model: 'router-gemma', 'output-to': [1] },
      { name: 'creative-handler', layer: 1, model: 'handler-llama', 'use-case': 'Creative writing, poetry' },
      { name: TECH, layer: 1, model: 'handler-llama', 'use-case': 'Technical questions, coding' },
      { name: 'budgeted-handler', layer: 1, model: 'budgeted', 'use-case': 'Only when asked by name' },
    ],
    server: {
      store: '$LLMNET_STORE',
      workers: '$LLMNET_WORKERS',
      'drain-delay': '${LLMNET_DRAIN_DELAY}',
      'shutdown-grace': '$LLMNET_GRACE',
    },
  };
}

function haproxyConfig(port, replicas) {
  return `# written by tests/integration/scale-out.test.mjs
global
  log stdout format raw local0
  maxconn 2000

defaults
  mode http
  log global
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout check 1s
  # a replica that refuses the connection or dies before answering: try
  # again, on the other replica (the whole request is buffered for it)
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response

frontend gateway
  bind 127.0.0.1:${port}
  http-request capture req.hdr(x-request-id) len 64
  log-format "rid=%[capture.req.hdr(0)] srv=%s retries=%rc status=%ST term=%ts"
  default_backend llmnet

backend llmnet
  balance roundrobin
  option httpchk GET /ready
  http-check expect status 200
  http-response set-header x-served-by %s
  default-server inter ${CHECK_MS}ms fall ${FALL} rise 2
${replicas.map((r) => `  server ${r.name} 127.0.0.1:${r.port} check`).join('\n')}
`;
}

let redis;
let mock;
let lb; // { url, child, log() }
const replicas = {}; // name -> { name, port, proc, url }
let file;

async function startReplica(name, port) {
  const proc = await start([file, '--log-level', 'info'], {
    env: {
      LLMNET_PORT: String(port),
      LLMNET_BIND_ADDR: '127.0.0.1',
      LLMNET_REPLICA: name,
      LLMNET_STORE: redis.url,
      LLMNET_WORKERS: '2',
      LLMNET_DRAIN_DELAY: String(DRAIN_DELAY_S),
      LLMNET_GRACE: '10',
    },
  });
  assert.equal(proc.url, `http://127.0.0.1:${port}`, 'LLMNET_PORT and LLMNET_BIND_ADDR chose the address');
  replicas[name] = { name, port, proc, url: proc.url };
  return replicas[name];
}

async function startHaproxy(replicaList) {
  const which = spawnSync('haproxy', ['-v']);
  assert.ok(!which.error, 'haproxy is not installed: scripts/deps.sh test installs it (Debian package haproxy)');
  const port = await freePort();
  const dir = tempDir();
  const cfg = path.join(dir, 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig(port, replicaList));
  const check = spawnSync('haproxy', ['-c', '-f', cfg], { encoding: 'utf8' });
  assert.equal(check.status, 0, `haproxy -c: ${check.stdout}${check.stderr}`);
  const child = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  process.on('exit', () => child.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      try {
        return (await fetch(`${url}/ready`)).status === 200;
      } catch {
        return false;
      }
    },
    { what: `haproxy on ${url}` },
  );
  return { url, child, log: () => out };
}

// haproxy's log lines since `from` (an offset in its output), by request id.
function haproxyLog(from) {
  const byId = new Map();
  for (const line of lb.log().slice(from).split('\n')) {
    const m = line.match(/rid=(\S*) srv=(\S+) retries=(\+?\d+) status=(-?\d+) term=(\S+)/);
    if (m && m[1] !== '-') byId.set(m[1], { srv: m[2], retries: m[3], status: Number(m[4]), term: m[5] });
  }
  return byId;
}

// Load through haproxy until stop(): `sdk` clients (openai, default
// retries; a fetch wrapper only counts attempts) and `raw` fetch loops
// (no retry at all). Every request has its own x-request-id.
function startLoad(tag, { sdk = 3, raw = 3 } = {}) {
  const results = [];
  const attempts = new Map(); // id -> statuses of the SDK's attempts
  let running = true;
  let n = 0;
  const countingFetch = async (url, init) => {
    const id = new Headers(init?.headers).get('x-request-id');
    const list = attempts.get(id) ?? [];
    attempts.set(id, list);
    try {
      const res = await fetch(url, init);
      list.push(res.status);
      return res;
    } catch (e) {
      list.push(`error: ${e.message}`);
      throw e;
    }
  };
  const client = new OpenAI({ baseURL: `${lb.url}/v1`, apiKey: 'unused', fetch: countingFetch });
  const body = (id) => ({ model: TECH, messages: [{ role: 'user', content: `load-${id} how do I sort a list?` }] });
  async function sdkLoop() {
    while (running) {
      const id = `${tag}-s${n++}`;
      try {
        const { data, response } = await client.chat.completions.create(body(id), { headers: { 'x-request-id': id } }).withResponse();
        results.push({ id, kind: 'sdk', status: 200, ok: data.object === 'chat.completion', servedBy: response.headers.get('x-served-by') });
      } catch (e) {
        results.push({ id, kind: 'sdk', status: e.status ?? 0, ok: false, error: e.message });
      }
    }
  }
  async function rawLoop() {
    while (running) {
      const id = `${tag}-r${n++}`;
      try {
        const res = await fetch(`${lb.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': id },
          body: JSON.stringify(body(id)),
        });
        const json = await res.json().catch(() => undefined);
        results.push({ id, kind: 'raw', status: res.status, ok: res.status === 200 && json?.object === 'chat.completion', servedBy: res.headers.get('x-served-by') });
      } catch (e) {
        results.push({ id, kind: 'raw', status: 0, ok: false, error: e.message });
      }
    }
  }
  const loops = [...Array.from({ length: sdk }, sdkLoop), ...Array.from({ length: raw }, rawLoop)];
  return {
    results,
    attempts,
    async stop() {
      running = false;
      await Promise.all(loops);
      return results;
    },
  };
}

before(async () => {
  redis = await startRedis();
  mock = await startMock(RULES);
  file = writeJson(tempDir(), 'llmnet.json', composition(mock.url));
  const [pa, pb] = [await freePort(), await freePort()];
  await startReplica('a', pa);
  await startReplica('b', pb);
  lb = await startHaproxy([replicas.a, replicas.b]);
});

after(async () => {
  lb?.child.kill('SIGTERM');
  if (lb) await exited(lb.child);
  await stopAll(replicas.a?.proc, replicas.b?.proc, mock);
  redis?.stop();
});

const ask = (url, content, headers = {}, extra = {}) =>
  request(url, '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ messages: [{ role: 'user', content }], ...extra }),
  });

describe('configuration from the environment', () => {
  test('--port and --bind-addr win over LLMNET_PORT and LLMNET_BIND_ADDR, which win over the file', async () => {
    const env = { LLMNET_REPLICA: 'x', LLMNET_STORE: redis.url, LLMNET_WORKERS: '1', LLMNET_DRAIN_DELAY: '0', LLMNET_GRACE: '1' };
    const fromEnv = await runCli([file, '--dry-run'], { env: { ...env, LLMNET_PORT: '9123', LLMNET_BIND_ADDR: '127.0.0.9' } });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.match(fromEnv.stdout, /http:\/\/127\.0\.0\.9:9123/);
    const fromCli = await runCli([file, '--dry-run', '--port', '9124', '--bind-addr', '127.0.0.8'], {
      env: { ...env, LLMNET_PORT: '9123', LLMNET_BIND_ADDR: '127.0.0.9' },
    });
    assert.match(fromCli.stdout, /http:\/\/127\.0\.0\.8:9124/);
    const bad = await runCli([file], { env: { ...env, LLMNET_PORT: 'http' } });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /LLMNET_PORT is "http"; it must be a port number from 0 to 65535/);
    const notNumber = await runCli([file], { env: { ...env, LLMNET_WORKERS: 'four' } });
    assert.equal(notNumber.code, 1);
    assert.match(notNumber.stderr, /"workers" is not a number once substituted \(\$LLMNET_WORKERS does not hold one\)/);
  });
});

describe('state shared through server.store (Redis)', () => {
  test('a session pinned through replica A is honoured through replica B', async () => {
    const session = { 'x-session-id': `pin-${Date.now()}` };
    const first = await ask(replicas.a.url, 'write a short poem about the sea', session);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.headers.get('x-llmnet-route'), 'router>creative-handler');
    assert.equal(first.json.llmnet.hops.find((h) => h.role === 'router').decided, 'router');
    // unpinned, this turn would go to the technical handler
    const second = await ask(replicas.b.url, 'now some python code please', session);
    assert.equal(second.status, 200, second.text);
    assert.equal(second.headers.get('x-llmnet-route'), 'router>creative-handler', 'B honours the pin A made');
    assert.equal(second.json.llmnet.hops.find((h) => h.role === 'router').decided, 'pin');
    const fresh = await ask(replicas.b.url, 'now some python code please', { 'x-session-id': `other-${Date.now()}` });
    assert.equal(fresh.headers.get('x-llmnet-route'), `router>${TECH}`, 'without the pin B routes it elsewhere');
  });

  test('a routing decision cached through replica A is reused through replica B', async () => {
    const text = `a story about lighthouse number ${Date.now()}`;
    const first = await ask(replicas.a.url, text, { 'x-session-id': `dc-a-${Date.now()}` });
    assert.equal(first.json.llmnet.hops.find((h) => h.role === 'router').decided, 'router');
    const again = await ask(replicas.b.url, text, { 'x-session-id': `dc-b-${Date.now()}` });
    assert.equal(again.headers.get('x-llmnet-route'), 'router>creative-handler');
    assert.equal(again.json.llmnet.hops.find((h) => h.role === 'router').decided, 'cache');
  });

  test(`an rpd budget of ${BUDGET_RPD} is spent exactly once across both replicas`, async () => {
    const urls = Array.from({ length: 2 * BUDGET_RPD }, (_, i) => (i % 2 ? replicas.b.url : replicas.a.url));
    const answers = await Promise.all(urls.map((u, i) => ask(u, `budget question ${i}`, {}, { model: 'budgeted-handler' })));
    const ok = answers.filter((r) => r.status === 200);
    const refused = answers.filter((r) => r.status === 429);
    assert.equal(ok.length, BUDGET_RPD, answers.map((r) => `${r.status} ${r.text.slice(0, 200)}`).join('\n'));
    assert.equal(refused.length, BUDGET_RPD);
    for (const r of refused) {
      assert.match(r.json.error.message, /budget "shared-day" \(7 requests per UTC day\) is spent/);
      assert.equal(r.headers.get('x-should-retry'), 'false');
    }
    // both replicas answered and refused: neither had a budget of its own
    const servedBy = (side) => answers.filter((r, i) => (i % 2 ? 'b' : 'a') === side && r.status === 200).length;
    assert.equal(servedBy('a') + servedBy('b'), BUDGET_RPD);
    const calls = (await mockRequests(mock.url)).filter((r) => r.headers['x-llmnet-replica'] && /budget question/.test(JSON.stringify(r.body)));
    assert.equal(calls.length, BUDGET_RPD, 'exactly the budget reached the upstream');
  });

  test('the response cache and stored responses are shared', async () => {
    const text = `cache me ${Date.now()}`;
    const made = await ask(replicas.a.url, text, {}, { model: TECH, temperature: 0 });
    assert.equal(made.headers.get('x-llmnet-cache'), 'miss');
    const hit = await ask(replicas.b.url, text, {}, { model: TECH, temperature: 0 });
    assert.equal(hit.headers.get('x-llmnet-cache'), 'hit', 'B answers from the entry A stored');
    assert.equal(hit.json.choices[0].message.content, made.json.choices[0].message.content);

    const a = new OpenAI({ baseURL: `${replicas.a.url}/v1`, apiKey: 'unused' });
    const b = new OpenAI({ baseURL: `${replicas.b.url}/v1`, apiKey: 'unused' });
    const one = await a.responses.create({ model: TECH, input: 'remember the word kumquat' });
    const two = await b.responses.create({ model: TECH, input: 'which word?', previous_response_id: one.id });
    assert.equal(two.previous_response_id, one.id);
    // B sent the conversation A stored upstream (a response B did not know
    // would be a 400 previous_response_not_found)
    const call = (await mockRequests(mock.url)).find((r) => JSON.stringify(r.body).includes('which word?'));
    assert.equal(call.headers['x-llmnet-replica'], 'b');
    assert.ok(
      call.body.messages.some((m) => JSON.stringify(m.content).includes('remember the word kumquat')),
      JSON.stringify(call.body.messages),
    );
  });
});

describe('replicas dying and draining under load through haproxy', () => {
  test('SIGKILL of one replica: no request haproxy could retry fails; those in flight on it are counted', async () => {
    const logFrom = lb.log().length;
    const load = startLoad('kill');
    await waitFor(() => load.results.filter((r) => r.servedBy === 'a').length >= 5, { what: 'load on replica a' });
    replicas.a.proc.child.kill('SIGKILL');
    await exited(replicas.a.proc);
    // load goes on while haproxy's checks mark a down, and after
    const atKill = load.results.length;
    await waitFor(() => load.results.length >= atKill + 20, { what: 'load after the kill' });
    await sleep(CHECK_MS * (FALL + 3));
    const results = await load.stop();

    // which requests had reached the upstream through a: in flight on a
    // when it died unless a answered them
    const calls = await mockRequests(mock.url);
    const viaA = new Set(calls.filter((r) => r.headers['x-llmnet-replica'] === 'a').map((r) => r.headers['x-request-id']));
    const answeredByA = new Set(results.filter((r) => r.servedBy === 'a').map((r) => r.id));
    const inFlight = results.filter((r) => viaA.has(r.id) && !answeredByA.has(r.id));
    const log = haproxyLog(logFrom);
    const retried = [...log.entries()].filter(([, l]) => l.retries !== '0');
    const failed = results.filter((r) => !r.ok);
    const sdkRetried = [...load.attempts.entries()].filter(([, s]) => s.length > 1);
    console.log(
      `SIGKILL of replica a under load: ${results.length} requests, ${inFlight.length} in flight on a when it died ` +
        `(${inFlight.map((r) => `${r.id} -> ${r.ok ? `200 from ${r.servedBy}` : `failed ${r.status}`}`).join(', ') || 'none'}); ` +
        `haproxy retried ${retried.length} (${retried.map(([id, l]) => `${id} ${l.retries} ${l.term} -> ${l.srv}`).join(', ') || 'none'}); ` +
        `the SDK retried ${sdkRetried.length} (haproxy's retry-on empty-response replays a request a replica died ` +
        `holding before the client sees an error, so the SDK's own retries are left for a 502 when a had begun ` +
        `to answer); ${failed.length} failed` +
        (failed.length ? `: ${failed.map((r) => `${r.id} ${r.kind} ${r.status} ${r.error ?? ''}`).join('; ')}` : ''),
    );
    assert.ok(results.length > 20, `the load ran (${results.length} requests)`);
    assert.ok(results.some((r) => r.ok && r.servedBy === 'b' && !viaA.has(r.id)), 'b served the load');
    assert.ok(inFlight.length + retried.length > 0, 'the kill hit requests on their way to a');
    // only a request already sent to a when it died may fail: haproxy
    // retried the others (connection refused) on b
    for (const r of failed) assert.ok(viaA.has(r.id), `${r.id} failed without being in flight on a: ${r.status} ${r.error}`);
    // one a died holding is replayed by haproxy on b (retry-on
    // empty-response) unless a had begun to answer; the SDK would retry
    // haproxy's 502 then, so with it nothing is lost at all
    for (const r of inFlight) {
      const l = log.get(r.id);
      if (r.ok) assert.equal(r.servedBy, 'b', `${r.id} in flight on a: ${JSON.stringify(r)}`);
      else assert.equal(r.kind, 'raw', `the SDK lost ${r.id}: ${JSON.stringify(r)} ${JSON.stringify(l)}`);
      if (r.ok && r.kind === 'raw') assert.notEqual(l?.retries, '0', `haproxy retried ${r.id}: ${JSON.stringify(l)}`);
    }
    assert.deepEqual(
      failed.filter((r) => r.kind === 'sdk'),
      [],
      'the SDK at its default retries lost nothing',
    );

    // a replaced replica on the same port is taken back once ready
    await startReplica('a', replicas.a.port);
    await waitFor(
      async () => {
        const res = await ask(lb.url, 'are you back?', {}, { model: TECH });
        return res.headers.get('x-served-by') === 'a';
      },
      { what: 'haproxy sending to the restarted replica a', timeoutMs: 10000 },
    );
  });

  test('SIGTERM with server.drain-delay: /ready 503 at once, /health 200, no request lost', async () => {
    const b = replicas.b;
    const load = startLoad('term');
    await waitFor(() => load.results.filter((r) => r.servedBy === 'b').length >= 5, { what: 'load on replica b' });
    b.proc.child.kill('SIGTERM');
    // readiness fails at once, liveness holds, and b still serves during
    // the delay (a load balancer is still sending it requests)
    const ready = await waitFor(
      async () => {
        const res = await request(b.url, '/ready');
        return res.status === 503 && res;
      },
      { what: '/ready 503 on b after SIGTERM' },
    );
    assert.equal(ready.json.status, 'draining');
    assert.match(ready.json.message, /SIGTERM/);
    const health = await request(b.url, '/health');
    assert.equal(health.status, 200);
    assert.equal(health.json.status, 'ok');
    const during = await ask(b.url, 'served while draining?', {}, { model: TECH });
    assert.equal(during.status, 200, 'b still serves during the drain delay');
    assert.equal(during.headers.get('connection'), 'close');
    const code = await exited(b.proc);
    assert.equal(code, 0, b.proc.stderr);
    await sleep(CHECK_MS * 2);
    const results = await load.stop();
    const failed = results.filter((r) => !r.ok);
    const servedByB = results.filter((r) => r.servedBy === 'b').length;
    console.log(`SIGTERM of replica b under load: ${results.length} requests, ${servedByB} answered by b, ${failed.length} failed`);
    assert.deepEqual(failed, [], 'no request was lost');
    assert.ok(results.some((r) => r.servedBy === 'a'), 'a took the load');
    assert.match(b.proc.stderr, /SIGTERM: GET \/ready answers 503; still serving for server.drain-delay \(1.5 s\)/);
    assert.match(b.proc.stderr, /server.drain-delay over: draining the requests in flight/);
    // /ready on the replica still running
    const ok = await request(replicas.a.url, '/ready');
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json, { status: 'ready' });
    const post = await request(replicas.a.url, '/ready', { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET');
  });
});
