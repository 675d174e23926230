// The in-process store under a flood of sessions: every distinct
// x-session-id a client sends becomes a pin, so a client can make llmnet
// keep as many pins as it sends ids. server.store-max-mib bounds the store
// (64 MiB by default; 1 MiB here so the flood needs few requests): the
// oldest pins go, the newest stay, and llmnet's peak memory (VmHWM) stays
// within the bound plus what serving the requests takes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { isAsanBuild, procStatusKiB, runCli, seedConfig, startLlmnet, startMock, stopAll, tempDir, writeJson } from './lib.mjs';

const SANITIZED = isAsanBuild();
// ~240 bytes a pin: 30,000 pins unbounded hold ~7 MiB (measured: 100,000
// grew the peak by 22.8 MiB unbounded, by 1.1 MiB with 1 MiB)
const SESSIONS = SANITIZED ? 8000 : 30000; // more than the ~4,400 pins 1 MiB holds
const CONCURRENCY = 32;
const STORE_MIB = 1;
// what the bounded store may add to the peak: its MiB, the request
// buffers of CONCURRENCY requests in flight and allocator slack
const GROWTH_BOUND_MIB = 4;

const body = JSON.stringify({ messages: [{ role: 'user', content: 'Write a haiku about the sea' }] });

async function route(url, session) {
  const res = await fetch(`${url}/v1/llmnet/route`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-session-id': session },
    body,
  });
  assert.equal(res.status, 200);
  return res.json();
}

async function flood(url, from, to) {
  let next = from;
  const worker = async () => {
    while (next < to) await route(url, `s-${next++}`);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

describe('server.store-max-mib under a flood of sessions', () => {
  let mock, gw;
  before(async () => {
    mock = await startMock();
    gw = await startLlmnet(seedConfig(mock.url, { server: { 'store-max-mib': STORE_MIB } }));
  });
  after(async () => {
    await stopAll(gw, mock);
  });

  test(`${SESSIONS} sessions: the oldest pins are dropped, the newest kept, peak memory bounded`, async () => {
    // the first request asks the router; the same text is then a cached decision that pins each session
    assert.equal((await route(gw.url, 's-0')).decided, 'router');
    await flood(gw.url, 1, 1000);
    const before = procStatusKiB(gw.child.pid, 'VmHWM');
    await flood(gw.url, 1000, SESSIONS);
    const growth = procStatusKiB(gw.child.pid, 'VmHWM') - before;

    assert.equal((await route(gw.url, `s-${SESSIONS - 1}`)).decided, 'pin', 'the newest session is still pinned');
    assert.equal((await route(gw.url, 's-1')).decided, 'cache', 'the oldest pin was dropped for the bound');
    if (!SANITIZED)
      assert.ok(growth < GROWTH_BOUND_MIB * 1024, `peak grew ${growth} KiB over ${SESSIONS - 1000} sessions; bound ${GROWTH_BOUND_MIB} MiB`);
  });
});

describe('server.store-max-mib in validate', () => {
  test('out of range is an error; beside a Redis store it is a warning', async () => {
    const dir = tempDir();
    const bad = await runCli(['validate', writeJson(dir, 'bad.json', seedConfig('http://127.0.0.1:9', { server: { 'store-max-mib': 0 } }))]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr + bad.stdout, /store-max-mib.*must be a number from 1 to 65536/);
    const redis = await runCli([
      'validate',
      writeJson(dir, 'redis.json', seedConfig('http://127.0.0.1:9', { server: { store: 'redis://127.0.0.1:6379', 'store-max-mib': 8 } })),
    ]);
    assert.equal(redis.code, 0);
    assert.match(redis.stderr + redis.stdout, /store-max-mib.*bounds only the in-process store/);
  });
});
