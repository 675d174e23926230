// The "routing" settings and node name rules seen from the command line:
// `llmnet validate` accepts the top-level and per-node "routing" objects,
// names the place and the fix of every wrong key, type or bound, warns
// about "routing" on a node that does not route, refuses node names that
// differ only in case or hold a newline, ':' or '>', and `llmnet run`
// does not start with such a file. The shipped examples still validate.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { BIN, ROOT, runCli, seedConfig, tempDir, writeJson } from './lib.mjs';

const dir = tempDir();
const UPSTREAM = 'http://127.0.0.1:9/v1';

after(() => rmSync(dir, { recursive: true, force: true }));

function seed({ routing, routerRouting, handlerRouting } = {}) {
  const cfg = seedConfig(UPSTREAM, routing === undefined ? {} : { routing });
  if (routerRouting !== undefined) cfg.architecture[0].routing = routerRouting;
  if (handlerRouting !== undefined) cfg.architecture[1].routing = handlerRouting;
  return cfg;
}

// `llmnet run` expected to refuse the file: a gateway that starts anyway
// is stopped and the test fails instead of waiting for ctest's timeout.
function runRefused(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`llmnet ${args.join(' ')} started instead of refusing the file:\n${stderr}`));
    }, 15000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let n = 0;
async function validate(cfg, args = []) {
  const file = writeJson(dir, `c${n++}.json`, cfg);
  const r = await runCli(['validate', file, ...args]);
  return { ...r, file };
}

describe('routing settings', () => {
  test('a full top-level "routing" and a router\'s own one validate without a word', async () => {
    const r = await validate(
      seed({
        routing: { sticky: 'turn', 'session-ttl': 900, 'max-input-chars': 4000, 'decision-cache': { ttl: 60, 'max-entries': 500 } },
        routerRouting: { sticky: 'session', 'decision-cache': false },
      }),
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /routing/);
    for (const sticky of ['session', 'turn', 'off']) {
      const s = await validate(seed({ routing: { sticky, 'decision-cache': true } }));
      assert.equal(s.code, 0, s.stdout);
    }
  });

  const bad = [
    [{ stickey: 'turn' }, /routing: unknown key "stickey"; did you mean "sticky"\?/],
    [{ sticky: 'always' }, /routing: "sticky" is "session" \(a session keeps its handler\), "turn" .* or "off"/],
    [{ 'session-ttl': '30m' }, /routing: "session-ttl" must be a whole number of seconds from 1 to 2592000/],
    [{ 'max-input-chars': 50 }, /routing: "max-input-chars" must be a whole number of characters from 200 to 200000/],
    [{ 'decision-cache': 'on' }, /routing: "decision-cache" is false \(no cache\), true, or \{"ttl": 600, "max-entries": 10000\}/],
    [{ 'decision-cache': { ttl: 60, entries: 5 } }, /routing\.decision-cache: unknown key "entries"/],
    [{ 'decision-cache': { 'max-entries': -1 } }, /routing\.decision-cache: "max-entries" must be a whole number/],
  ];
  for (const [routing, message] of bad) {
    test(`validate refuses "routing": ${JSON.stringify(routing)}, naming the place and the fix`, async () => {
      const r = await validate(seed({ routing }));
      assert.equal(r.code, 1, r.stdout);
      const line = r.stdout.split('\n').find((l) => message.test(l));
      assert.ok(line, `no line matches ${message}:\n${r.stdout}`);
      assert.match(line, /^.*c\d+\.json:\d+:\d+: error: /);
    });
  }

  test('"routing" must be an object, at the top and on a node', async () => {
    const top = await validate(seed({ routing: 'session' }));
    assert.equal(top.code, 1);
    assert.match(top.stdout, /error: routing must be an object, e\.g\. \{"sticky": "session"/);
    const node = await validate(seed({ routerRouting: ['turn'] }));
    assert.equal(node.code, 1);
    assert.match(node.stdout, /error: node "router": routing must be an object/);
  });

  test('a node\'s "routing" errors name the node', async () => {
    const r = await validate(seed({ routerRouting: { sticky: 'maybe' } }));
    assert.equal(r.code, 1);
    assert.match(r.stdout, /error: node "router": routing: "sticky" is "session"/);
  });

  test('"routing" on a node that does not route is a warning, and the file is valid', async () => {
    const r = await validate(seed({ handlerRouting: { sticky: 'off' } }));
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /warning: node "creative-handler" does not route .* so its "routing" has no effect; move it to the node that routes, or to the top-level "routing"/);
  });

  test('--format json carries the same errors', async () => {
    const r = await validate(seed({ routing: { sticky: 1 } }), ['--format', 'json']);
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout);
    assert.equal(out.valid, false);
    const d = out.diagnostics.find((x) => /"sticky" is "session"/.test(x.message));
    assert.ok(d, r.stdout);
    assert.equal(d.severity, 'error');
    assert.ok(d.line > 0 && d.column > 0);
  });

  test('run does not start with a wrong "routing"', async () => {
    const file = writeJson(dir, 'bad-run.json', seed({ routing: { sticky: 'sometimes' } }));
    const r = await runRefused(['run', file, '--port', '0']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /"sticky" is "session"/);
  });
});

describe('node names', () => {
  const named = (a, b) => {
    const cfg = seed();
    cfg.architecture[1].name = a;
    cfg.architecture[2].name = b;
    return cfg;
  };

  test('names that differ only in case are refused', async () => {
    const r = await validate(named('Handler', 'handler'));
    assert.equal(r.code, 1);
    assert.match(r.stdout, /error: node name "handler" differs from "Handler" \(entry 1\) only in case; .* rename one of them/);
  });

  for (const [name, message] of [
    ['creative\nhandler', /node name "creative\.\.\." contains a control character \(\\x0a, e\.g\. a newline\)/],
    ['creative:handler', /node name "creative:handler" contains ':', which breaks the routing prompt/],
    ['creative->handler', /node name "creative->handler" contains '>'/],
  ]) {
    test(`a name holding ${JSON.stringify(name)} is refused`, async () => {
      const r = await validate(named(name, 'technical-handler'));
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stdout, message);
    });
  }

  test('names with spaces, dots and parentheses are fine', async () => {
    const r = await validate(named('gpt-4.1 (fast)', 'technical handler'));
    assert.equal(r.code, 0, r.stdout);
  });
});

test('every composition in examples/ still validates', async () => {
  const examples = path.join(ROOT, 'examples');
  const files = readdirSync(examples).filter((f) => f.endsWith('.json'));
  let checked = 0;
  for (const f of files) {
    const text = readFileSync(path.join(examples, f), 'utf8');
    if (!/"architecture"/.test(text)) continue; // mock rules, not a composition
    const r = await runCli(['validate', path.join(examples, f)]);
    assert.equal(r.code, 0, `${f}:\n${r.stdout}`);
    checked++;
  }
  assert.ok(checked >= 5, `only ${checked} compositions found`);
});
