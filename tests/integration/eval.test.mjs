// llmnet eval: routing measured on labelled cases. The real binary runs
// the shipped cases (examples/openrouter-pipeline.cases.jsonl) against the
// seed topology with `llmnet mock --rules examples/mock-rules.json` playing
// a keyword router; the text and JSON reports are checked against each
// other and against what the mock received (only router calls: eval never
// calls a handler). Bad cases files, usage errors, --concurrency, a router
// that fails and a router model over its rate limit are covered too.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  ROOT,
  completionBody,
  isRoutingCall,
  mockRequests,
  onRequestBody,
  runCli,
  seedConfig,
  serveLocal,
  startMock,
  stopAll,
  tempDir,
  writeJson,
} from './lib.mjs';

const CASES = path.join(ROOT, 'examples/openrouter-pipeline.cases.jsonl');
const MOCK_RULES = JSON.parse(readFileSync(path.join(ROOT, 'examples/mock-rules.json'), 'utf8'));
const CASE_LINES = readFileSync(CASES, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '');
const dir = tempDir();
const cli = (args) => runCli(args, { unset: ['OPENROUTER_API_KEY_FREE'] });

// A cases file from objects (or raw strings, for bad lines).
function casesFile(name, lines) {
  const file = path.join(dir, name);
  writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return file;
}

// The seed topology on `url`, the router model's endpoint changed by `router`.
function seedOn(url, name, router = {}) {
  const cfg = seedConfig(url);
  Object.assign(cfg.models['router-gemma'], router);
  return writeJson(dir, name, cfg);
}

const sum = (values) => values.reduce((a, b) => a + b, 0);

let mock; // the keyword router of examples/mock-rules.json
let seed;

before(async () => {
  mock = await startMock(MOCK_RULES);
  seed = seedOn(mock.url, 'seed.json');
});

after(async () => {
  await stopAll(mock);
  rmSync(dir, { recursive: true, force: true });
});

describe('eval on the shipped cases against the mock keyword router', () => {
  let json; // the --format json report, shared by the text test's cross-checks

  test('--format json: one object whose figures add up; only router calls were made', async () => {
    await fetch(`${mock.url}/mock/requests`, { method: 'DELETE' });
    const r = await cli(['eval', seed, CASES, '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    json = JSON.parse(r.stdout); // exactly one object: anything else fails to parse
    assert.ok(CASE_LINES.length >= 60, 'at least 60 labelled cases ship');
    assert.equal(json.cases, CASE_LINES.length);
    const confusion = Object.values(json.confusion).flatMap((row) => Object.values(row));
    assert.equal(sum(confusion), json.cases, 'every case is in the confusion table once');
    const diagonal = sum(Object.entries(json.confusion).map(([expected, row]) => row[expected] ?? 0));
    assert.equal(json.correct, diagonal);
    assert.equal(json.accuracy, json.correct / json.cases);
    assert.equal(json.failures.length, json.cases - json.correct);
    assert.equal(sum(Object.values(json.decided)), json.cases);
    assert.equal(json.decided['no-input'], 1, 'the system-only case is decided without a router call');
    assert.equal(json.decided.router, json.cases - 1);
    const { p50, p95, p99 } = json.latency_ms;
    assert.ok(p50 >= 0 && p50 <= p95 && p95 <= p99, JSON.stringify(json.latency_ms));
    assert.ok(json.tokens > 0, 'the router calls report their tokens');
    const expected = new Map(CASE_LINES.map((l, i) => [i + 1, JSON.parse(l).expect]));
    for (const f of json.failures) {
      assert.equal(f.expect, expected.get(f.line), `failure at line ${f.line} names its label`);
      assert.notEqual(f.chose, f.expect);
      assert.equal(typeof f.decided, 'string');
    }
    // route-only: the router was asked once per routed case, no handler at all
    const calls = await mockRequests(mock.url);
    assert.equal(calls.length, json.decided.router);
    assert.ok(calls.every(isRoutingCall), 'eval never calls a handler');
    // what the keyword router scores on the shipped cases, for the report
    console.log(`# mock keyword router: accuracy ${(json.accuracy * 100).toFixed(1)}% (${json.correct}/${json.cases})`);
  });

  test('text: the accuracy line, the confusion table, latency, tokens, decided and the failures', async () => {
    const r = await cli(['eval', seed, CASES]);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    const acc = out.match(/^accuracy: (\d+\.\d)% \((\d+) of (\d+) correct\)$/m);
    assert.ok(acc, out);
    assert.equal(Number(acc[3]), CASE_LINES.length);
    const lines = out.split('\n');
    const head = lines.findIndex((l) => l.startsWith('confusion (rows: expected, columns: chosen):'));
    assert.ok(head >= 0, out);
    assert.match(lines[head + 1], /^ {2}expected \\ chosen +creative-handler +technical-handler$/);
    const rows = {};
    for (const l of lines.slice(head + 2, head + 4)) {
      const m = l.match(/^ {2}(\S+) +(\d+) +(\d+)$/);
      assert.ok(m, `a confusion row: ${l}`);
      rows[m[1]] = [Number(m[2]), Number(m[3])];
    }
    assert.deepEqual(Object.keys(rows).sort(), ['creative-handler', 'technical-handler']);
    assert.equal(sum([...rows['creative-handler'], ...rows['technical-handler']]), CASE_LINES.length);
    assert.equal(rows['creative-handler'][0] + rows['technical-handler'][1], Number(acc[2]));
    assert.match(out, /^router latency \(ms, \d+ cases the router decided\): p50 [\d.]+, p95 [\d.]+, p99 [\d.]+$/m);
    assert.match(out, /^router tokens: [1-9]\d* \(\d+ router calls\)$/m);
    assert.match(out, /^decided: .*\bno-input 1\b/m);
    const failures = out.match(/^failures \((\d+)\):$/m);
    const wrong = CASE_LINES.length - Number(acc[2]);
    if (wrong) {
      assert.equal(Number(failures[1]), wrong);
      assert.equal((out.match(/^ {2}line \d+: expected \S+, chose \S+ \(decided: \S+\)$/gm) ?? []).length, wrong);
    } else {
      assert.match(out, /^failures: none$/m);
    }
    if (json) assert.equal(Number(acc[2]), json.correct, 'text and JSON agree');
  });
});

describe('eval: bad cases files and usage', () => {
  test('a bad line is an error naming file:line and the fix; no case is run', async () => {
    await fetch(`${mock.url}/mock/requests`, { method: 'DELETE' });
    const file = casesFile('bad.jsonl', [
      { prompt: 'Write a haiku about rain', expect: 'creative-handler' },
      '',
      '{"prompt": "unterminated", "expect": ',
      { prompt: 'hi', messages: [{ role: 'user', content: 'hi' }], expect: 'creative-handler' },
      { messages: [{ content: 'no role' }], expect: 'technical-handler' },
      { prompt: 'hi', expect: 'technical-handler', colour: 'blue' },
      { prompt: 'hi' },
    ]);
    const r = await cli(['eval', seed, file]);
    assert.equal(r.code, 1, r.stdout);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`${file}:3: not valid JSON .*each line is one case, \\{"prompt": "...", "expect": "NODE"\\}`));
    assert.match(r.stderr, new RegExp(`${file}:4: a case has either "messages" or "prompt", not both`));
    assert.match(r.stderr, new RegExp(`${file}:5: messages\\[0\\] needs a "role"`));
    assert.match(r.stderr, new RegExp(`${file}:6: unknown key "colour"`));
    assert.match(r.stderr, new RegExp(`${file}:7: "expect" is missing`));
    assert.ok(!r.stderr.includes(`${file}:1:`), 'good lines are not reported');
    assert.match(r.stderr, /no case was run/);
    assert.equal((await mockRequests(mock.url)).length, 0);
  });

  test('an expected node that does not exist is an error listing the nodes', async () => {
    const file = casesFile('unknown.jsonl', [
      { prompt: 'Write a haiku', expect: 'creative-handler' },
      { prompt: 'Write a sonnet', expect: 'poetry-handler' },
    ]);
    const r = await cli(['eval', seed, file]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /unknown\.jsonl:2: "expect": "poetry-handler" is not a node of .*seed\.json \(its nodes: router, creative-handler, technical-handler\)/,
    );
  });

  test('usage errors exit 2; a broken composition or a missing file exits 1', async () => {
    const ok = casesFile('one.jsonl', [{ prompt: 'hi', expect: 'creative-handler' }]);
    assert.equal((await cli(['eval'])).code, 2);
    assert.equal((await cli(['eval', seed])).code, 2);
    assert.equal((await cli(['eval', seed, ok, 'extra'])).code, 2);
    const fmt = await cli(['eval', seed, ok, '--format', 'yaml']);
    assert.equal(fmt.code, 2);
    assert.match(fmt.stderr, /--format is text or json/);
    for (const n of ['0', '-1', 'four', '257']) {
      const r = await cli(['eval', seed, ok, '--concurrency', n]);
      assert.equal(r.code, 2, n);
      assert.match(r.stderr, /--concurrency needs a number from 1 to 256/);
    }
    const missing = await cli(['eval', seed, path.join(dir, 'nope.jsonl')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.jsonl: cannot read the cases file/);
    const broken = await cli(['eval', path.join(ROOT, 'tests/fixtures/bad-condition.json'), ok]);
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /has errors/);
    const empty = casesFile('empty.jsonl', ['', '  ']);
    const e = await cli(['eval', seed, empty]);
    assert.equal(e.code, 1);
    assert.match(e.stderr, /no cases/);
  });
});

// A router upstream that holds every call until `batch` calls are in flight
// (or every case has arrived), then answers them all: eval finishes only if
// it keeps exactly that many cases running, and maxInFlight shows it never
// ran more.
async function startBatchingRouter(batch, total) {
  const held = [];
  const state = { arrived: 0, inFlight: 0, maxInFlight: 0 };
  const server = http.createServer((req, res) => {
    onRequestBody(req, (body) => {
      state.arrived += 1;
      state.inFlight += 1;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      held.push(() => {
        state.inFlight -= 1;
        answerRouter(res, body, 'technical-handler');
      });
      if (held.length === batch || state.arrived === total) for (const answer of held.splice(0)) answer();
    });
  });
  return serveLocal(server, { state });
}

// Answers a router call naming `name`, streamed when it asked for a stream.
function answerRouter(res, body, name) {
  if (!body.stream) {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(completionBody(body.model, name)));
    return;
  }
  res.setHeader('content-type', 'text/event-stream');
  const chunk = (delta, finish, usage) =>
    `data: ${JSON.stringify({
      id: 'r',
      object: 'chat.completion.chunk',
      created: 1,
      model: body.model,
      choices: [{ index: 0, delta, finish_reason: finish }],
      ...(usage ? { usage } : {}),
    })}\n\n`;
  res.write(chunk({ role: 'assistant', content: name }, null));
  res.write(chunk({}, 'stop', { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 }));
  res.end('data: [DONE]\n\n');
}

describe('eval: concurrency', () => {
  for (const [args, batch] of [
    [['--concurrency', '3'], 3],
    [[], 4],
  ]) {
    test(`${args.length ? args.join(' ') : 'the default'}: ${batch} cases at a time, never more`, async () => {
      const total = 9;
      const up = await startBatchingRouter(batch, total);
      try {
        const cfg = seedOn(up.url, `batch-${batch}.json`);
        const file = casesFile(
          `batch-${batch}.jsonl`,
          Array.from({ length: total }, (_, i) => ({ prompt: `Write a Python function number ${i}`, expect: 'technical-handler' })),
        );
        const r = await cli(['eval', cfg, file, '--format', 'json', ...args]);
        assert.equal(r.code, 0, r.stderr);
        const json = JSON.parse(r.stdout);
        assert.equal(json.cases, total);
        assert.equal(json.correct, total);
        assert.equal(json.tokens, total * 12);
        assert.equal(up.state.arrived, total);
        assert.equal(up.state.maxInFlight, batch);
      } finally {
        await up.stop();
      }
    });
  }
});

describe('eval: a router that fails or is over its budget', () => {
  test('a router answering 500: every case falls to the default and is listed with the error', async () => {
    const failing = await startMock({ rules: [{ when: { router: true }, status: 500, error: 'router exploded' }] });
    try {
      const cfg = seedOn(failing.url, 'failing.json', { retries: 0 });
      const file = casesFile('three.jsonl', [
        { prompt: 'Write a haiku about rain', expect: 'creative-handler' },
        { prompt: 'How do I reverse a linked list in Python?', expect: 'technical-handler' },
        { prompt: 'Solve 3x + 7 = 22', expect: 'technical-handler' },
      ]);
      const r = await cli(['eval', cfg, file, '--format', 'json']);
      assert.equal(r.code, 0, 'eval ran: the accuracy is information');
      const json = JSON.parse(r.stdout);
      assert.equal(json.correct, 0, 'a failed router call is a failure even where the default was expected');
      assert.equal(json.failures.length, 3);
      assert.deepEqual(json.decided, { default: 3 });
      for (const f of json.failures) {
        assert.equal(f.decided, 'default');
        assert.equal(f.chose, 'creative-handler');
        assert.match(f.error, /500|router exploded/);
      }
      assert.deepEqual(json.latency_ms, { p50: null, p95: null, p99: null });
      const text = await cli(['eval', cfg, file]);
      assert.equal(text.code, 0);
      assert.match(text.stdout, /^ {2}line 2: expected technical-handler, chose creative-handler \(decided: default\)$/m);
      assert.match(text.stdout, /^ {4}error: ".*(500|router exploded).*"$/m);
      assert.match(text.stdout, /^router latency: no case was decided by the router$/m);
    } finally {
      await failing.stop();
    }
  });

  test('a case the gateway would refuse (400) is a failure in the (error) column, with its error', async () => {
    const file = casesFile('refused.jsonl', [
      { messages: [{ role: 'user', content: 42 }], expect: 'technical-handler' },
      { prompt: 'Write Python code to parse JSON', expect: 'technical-handler' },
    ]);
    const r = await cli(['eval', seed, file, '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.deepEqual(json.confusion, { 'technical-handler': { 'technical-handler': 1, '(error)': 1 } });
    assert.equal(json.failures.length, 1);
    assert.equal(json.failures[0].line, 1);
    assert.equal(json.failures[0].chose, null);
    assert.match(json.failures[0].error, /content/);
    const text = await cli(['eval', seed, file]);
    assert.match(text.stdout, /^ {2}expected \\ chosen +technical-handler +\(error\)$/m);
    assert.match(text.stdout, /^ {2}line 1: expected technical-handler, chose nothing \(decided: \(none\)\)$/m);
  });

  test('a router model over its rate limit: refused cases are failures with their error', async () => {
    const cfg = seedOn(mock.url, 'limited.json', { retries: 0, 'rate-limit': { rpd: 2, 'max-wait': 0 } });
    const file = casesFile(
      'limited.jsonl',
      Array.from({ length: 4 }, (_, i) => ({ prompt: `Write Python code for task ${i}`, expect: 'technical-handler' })),
    );
    const r = await cli(['eval', cfg, file, '--format', 'json', '--concurrency', '1']);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.equal(json.correct, 2, 'the day budget lets two router calls through');
    assert.deepEqual(
      json.failures.map((f) => f.line),
      [3, 4],
    );
    for (const f of json.failures) assert.match(f.error, /rate|budget|429/i);
  });
});
