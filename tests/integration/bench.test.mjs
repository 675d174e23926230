// wp-bench: `make demo` and the routing scenarios of `make bench`
// (bench/routing.mjs) against the real llmnet and the real `llmnet mock`:
// the demo's follow-up turn is pinned (no router call), a conversation and a
// tool loop make one router call each in sticky session mode, the mixed
// workload makes one router call per conversation (and one per request with
// routing off), and the early-decision scenario routes both replies. Counts
// only: no timing is asserted.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { BIN, ROOT, runCommand, start, stopAll, tempDir } from './lib.mjs';

const ROUTING_MJS = path.join(ROOT, 'bench/routing.mjs');
const RULES = path.join(ROOT, 'bench/mock-routing-rules.json');

const run = runCommand;

async function routingMjs(...args) {
  const r = await run(process.execPath, [ROUTING_MJS, ...args]);
  assert.equal(r.code, 0, `routing.mjs ${args[0]}: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

// The seed topology in one routing mode, against a mock with the bench's rules.
async function seed(variant, mockArgs = []) {
  const mock = await start(['mock', '--port', '0', '--rules', RULES, ...mockArgs]);
  const file = path.join(tempDir(), `seed-${variant}.json`);
  await routingMjs('compose', variant, file);
  const gw = await start([file, '--port', '0', '--log-level', 'warn'], { env: { LLMNET_MOCK_URL: mock.url } });
  return { mock, gw };
}

test('make demo: the follow-up turn is answered by the pinned handler without a router call', async () => {
  const r = await run('sh', [path.join(ROOT, 'scripts/demo.sh'), BIN]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const turns = r.stdout.split('\n> ').slice(1);
  assert.equal(turns.length, 3, r.stdout);
  assert.match(turns[0], /route: +router>creative-handler/);
  assert.match(turns[0], /decided: router \(1 router call\)/);
  assert.match(turns[1], /route: +router>technical-handler/);
  // "debugging" alone would go to technical-handler: the pin keeps the conversation's handler
  assert.match(turns[2], /route: +router>creative-handler/);
  assert.match(turns[2], /decided: pin \(no router call\)/);
  assert.match(turns[2], /summed over 1 upstream call\)/);
});

test('bench: a 5-turn conversation and a 10-step tool loop make one router call each (sticky session)', async () => {
  const { mock, gw } = await seed('session');
  try {
    const out = await routingMjs('conv', gw.url, mock.url);
    for (const k of ['conversation_header', 'conversation_fingerprint', 'tool_loop_header', 'tool_loop_fingerprint']) {
      assert.equal(out[k].router_calls, 1, `${k}: ${JSON.stringify(out[k])}`);
      assert.equal(out[k].upstream_calls, out[k].requests + 1, k);
      assert.equal(out[k].decided[0], 'router', k);
      assert.ok(out[k].decided.slice(1).every((d) => d === 'pin'), `${k}: ${out[k].decided}`);
    }
    assert.equal(out.conversation_header.requests, 5);
    assert.equal(out.tool_loop_header.requests, 10);
    // the handler really answered with tool calls: a tool loop, not plain turns
    assert.equal(out.tool_loop_header.tool_calls_answered, 10);
  } finally {
    await stopAll(gw, mock);
  }
});

test('bench: the mixed workload makes one router call per conversation, and one per request with routing off', async () => {
  for (const [variant, routerCalls] of [
    ['session', 17], // 10 single prompts + 5 conversations + 2 tool loops
    ['off', 55], // every user request
  ]) {
    const { mock, gw } = await seed(variant);
    try {
      const out = await routingMjs('mixed', gw.url, mock.url);
      assert.equal(out.requests, 55, variant);
      assert.equal(out.router_calls, routerCalls, `${variant}: ${JSON.stringify(out)}`);
      assert.equal(out.upstream_calls, 55 + routerCalls, variant);
    } finally {
      await stopAll(gw, mock);
    }
  }
});

test('bench: the early-decision scenario routes the name-first and the name-last reply alike', async () => {
  const { mock, gw } = await seed('off', ['--chunk-interval', '2']);
  try {
    const out = await routingMjs('early', gw.url, '1');
    for (const k of ['early', 'late']) {
      assert.equal(out[k].via, 'route', k);
      assert.equal(out[k].decided, 'router', k);
      assert.equal(out[k].routes, 'router>creative-handler', k);
    }
  } finally {
    await stopAll(gw, mock);
  }
});

// bench/doors.mjs (the doors' time to first token in `make bench`) finds the
// first content delta in each door's stream: chat, Responses and Anthropic
// through the real llmnet, straight to the node "chat". Counts only.
test('bench: doors.mjs finds the first content delta of every door', async () => {
  const mock = await start(['mock', '--port', '0', '--rules', path.join(ROOT, 'bench/mock-stream-rules.json')]);
  const gw = await start([path.join(ROOT, 'bench/one-hop.json'), '--port', '0', '--log-level', 'warn'], {
    env: { LLMNET_MOCK_URL: mock.url },
  });
  try {
    const r = await run(process.execPath, [path.join(ROOT, 'bench/doors.mjs'), 'ttfb', gw.url, '5', 'chat']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop());
    assert.equal(out.first_error, undefined, r.stdout);
    for (const door of ['chat', 'responses', 'messages']) {
      assert.equal(out[door].n, 5, `${door}: ${r.stdout}`);
      assert.equal(out[door].errors, 0, `${door}: ${r.stdout}`);
      assert.ok(out[door].p50 > 0, `${door}: ${r.stdout}`);
    }
  } finally {
    await stopAll(gw, mock);
  }
});
