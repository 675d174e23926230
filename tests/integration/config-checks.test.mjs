// Configuration checks seen from the command line: `llmnet validate`,
// `llmnet run` and `run --dry-run` refuse api keys that substitute to
// nothing, header values with a line break once substituted, fallback
// cycles and extra-options llmnet sets itself, and --dry-run masks an
// api-key whatever characters it holds. And load-time values bound into
// hook functions reach the function byte for byte (templates compiled once).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import OpenAI from 'openai';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import {
  assertServes,
  request,
  runCli,
  startCaptureUpstream,
  startLlmnet,
  startMock,
  stopAll,
  tempDir,
  waitFor,
  writeJson,
} from './lib.mjs';

const VARS = ['LLMNET_API_KEY', 'LLMNET_TEST_HEADER', 'LLMNET_TEST_KEY', 'LLMNET_TEST_HOOK_SECRET'];
const dir = tempDir();
let mock;

function cli(args, env = {}) {
  return runCli(args, { env, unset: VARS.filter((k) => !(k in env)) });
}

function composition(url, extra = {}) {
  return {
    models: { m: { type: 'external', interface: 'openai-api', url, 'api-key': 'upstream-key' } },
    architecture: [{ name: 'chat', layer: 0, model: 'm', 'output-to': ['output'] }, { name: 'output', adapter: 'output' }],
    ...extra,
  };
}

before(async () => {
  mock = await startMock(null);
});

after(async () => {
  await stopAll(mock);
  rmSync(dir, { recursive: true, force: true });
});

describe('api-keys that substitute to nothing (item 12)', () => {
  const cfg = () => composition(mock.url, { server: { 'api-keys': ['$LLMNET_API_KEY'] } });

  test('validate refuses an api key whose variable is set but empty, naming the index and the variable', async () => {
    const file = writeJson(dir, 'empty-key.json', cfg());
    for (const value of ['', '   ']) {
      const r = await cli(['validate', file], { LLMNET_API_KEY: value });
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stdout, /error: server: api-keys\[0\] is (empty|only whitespace) once substituted: \$LLMNET_API_KEY is set but/);
    }
  });

  test('run refuses to start with it, so "Bearer " with an empty token can never authenticate', async () => {
    const file = writeJson(dir, 'empty-key-run.json', cfg());
    const r = await cli(['run', file, '--port', '0'], { LLMNET_API_KEY: '' });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /api-keys\[0\].*\$LLMNET_API_KEY/);
    assert.match(r.stderr, /nothing started/);
  });

  test('with a real key set, an empty bearer token is refused with 401', async () => {
    const gw = await startLlmnet(cfg(), { env: { LLMNET_API_KEY: 'inbound-key-0123' } });
    try {
      for (const auth of ['Bearer ', 'Bearer']) {
        const res = await request(gw.url, '/v1/models', { headers: { authorization: auth } });
        assert.equal(res.status, 401, auth);
      }
      const ok = await request(gw.url, '/v1/models', { headers: { authorization: 'Bearer inbound-key-0123' } });
      assert.equal(ok.status, 200);
    } finally {
      await stopAll(gw);
    }
  });
});

describe('--dry-run masks api keys (item 14)', () => {
  test('a key containing "$" followed by a letter is masked like any other', async () => {
    const KEY = 'sk-live$ABCdef$$ghi0123456789tail';
    const c = composition(mock.url);
    c.models.m['api-key'] = '$LLMNET_TEST_KEY';
    const file = writeJson(dir, 'dollar-key.json', c);
    const r = await cli(['run', file, '--dry-run'], { LLMNET_TEST_KEY: KEY });
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout + r.stderr;
    for (const piece of [KEY, '$ABCdef', 'def$$ghi', '0123456789']) assert.ok(!out.includes(piece), `--dry-run shows ${piece}:\n${out}`);
    assert.match(r.stdout, /key sk-…tail/);
  });

  test('an unset key variable is named without showing the rest of the key', async () => {
    const c = composition(mock.url);
    c.models.m['api-key'] = 'sk-written-part-$LLMNET_TEST_KEY';
    const file = writeJson(dir, 'unset-key.json', c);
    const r = await cli(['run', file, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /key \$LLMNET_TEST_KEY \(not set\)/);
    assert.ok(!r.stdout.includes('sk-written-part'), r.stdout);
  });
});

describe('header values are checked after substitution (item 16)', () => {
  test('a line break that arrives through a variable is an error naming the model, the function and the header', async () => {
    const c = composition(mock.url, {
      functions: { audit: { type: 'rest', url: `${mock.url}/hook`, headers: { 'X-Audit': '$LLMNET_TEST_HEADER' } } },
    });
    c.models.m.headers = { 'X-Team': 'team-$LLMNET_TEST_HEADER' };
    c.models.m['api-key'] = '$LLMNET_TEST_KEY';
    c.architecture[0].hooks = { pre: [{ function: 'audit' }] };
    const file = writeJson(dir, 'crlf.json', c);
    const env = { LLMNET_TEST_HEADER: 'x\r\nX-Injected: yes', LLMNET_TEST_KEY: 'sk-abcdef0123456789\nX-Evil: 1' };
    const v = await cli(['validate', file], env);
    assert.equal(v.code, 1, v.stdout);
    assert.match(v.stdout, /model "m": header X-Team contains a line break/);
    assert.match(v.stdout, /model "m": api-key contains a line break/);
    assert.match(v.stdout, /function "audit": header X-Audit contains a line break/);
    assert.ok(!v.stdout.includes('X-Injected') && !v.stdout.includes('sk-abcdef'), v.stdout);
    const r = await cli(['run', file, '--port', '0'], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /header X-Team contains a line break/);
  });
});

describe('a NUL from vault is refused (item 16)', () => {
  test('a vault value with \\u0000 is an error naming the secret, not a silently cut key', async () => {
    const body = '{"data":{"data":{"KEY":"sk-before\\u0000after-0123456789"},"metadata":{"version":1}}}';
    const server = http.createServer((req, res) => res.setHeader('content-type', 'application/json').end(body));
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    try {
      const c = composition(mock.url, {
        secrets: {
          v: { source: 'vault', address: `http://127.0.0.1:${server.address().port}`, path: 'secret/data/x', 'token-env': 'LLMNET_TEST_KEY' },
        },
      });
      c.models.m['api-key'] = '$secrets.v.KEY';
      const file = writeJson(dir, 'vault-nul.json', c);
      // validate (a vault failure is a warning there, an error for run)
      const r = await cli(['validate', file], { LLMNET_TEST_KEY: 'hvs.token' });
      assert.match(r.stdout, /warning: secret "v": vault's answer for "secret\/data\/x" holds a NUL character/);
      assert.ok(!r.stdout.includes('sk-before'), r.stdout);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('header values are checked at reload too (item 16)', () => {
  test('a reload whose api-key or hook header holds a line break is refused and the old composition keeps serving', async () => {
    const gw = await startLlmnet(composition(mock.url), { args: ['--log-level', 'info'] });
    try {
      const refusals = () => (gw.stderr.match(/reload \(SIGHUP\) refused/g) ?? []).length;
      const bad = [
        (c) => (c.models.m['api-key'] = 'sk-reload\r\nX-Injected: 1'),
        (c) => {
          c.functions = { audit: { type: 'rest', url: `${mock.url}/hook`, headers: { 'X-Audit': 'a\nX-Injected: 1' } } };
          c.architecture[0].hooks = { pre: [{ function: 'audit' }] };
        },
      ];
      for (const [i, change] of bad.entries()) {
        const c = composition(mock.url);
        change(c);
        writeFileSync(gw.file, JSON.stringify(c));
        gw.child.kill('SIGHUP');
        await waitFor(() => refusals() === i + 1, { what: `reload ${i + 1} refused` });
      }
      assert.match(gw.stderr, /model "m": api-key contains a line break/);
      assert.match(gw.stderr, /function "audit": header X-Audit contains a line break/);
      assert.doesNotMatch(gw.stderr, /reloaded /);
      await assertServes(gw.url);
    } finally {
      await stopAll(gw);
    }
  });
});

describe('fallback cycles (item 21)', () => {
  test('validate names the cycle and the fallback entry that closes it', async () => {
    const c = composition(mock.url);
    c.architecture = [
      { name: 'router', layer: 0, model: 'm', 'output-to': [1] },
      { name: 'a', layer: 1, model: 'm', 'use-case': 'one', fallback: 'b' },
      { name: 'b', layer: 1, model: 'm', 'use-case': 'two', fallback: ['a'] },
    ];
    const file = writeJson(dir, 'fallback-cycle.json', c);
    const r = await cli(['validate', file]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /error: the fallbacks form a cycle: a -> b -> a; .*remove "a" from the "fallback" of node "b"/);
  });
});

describe('extra-options llmnet sets itself (item 24)', () => {
  test('model, stream and messages are errors naming the node, the key and the fix', async () => {
    const c = composition(mock.url);
    c.architecture[0]['extra-options'] = { model: 'gpt-4o', stream: true, messages: [], temperature: 0.1 };
    const file = writeJson(dir, 'reserved.json', c);
    const r = await cli(['validate', file]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /node "chat": extra-options "model" .*"model_override"/);
    assert.match(r.stdout, /node "chat": extra-options "stream" .*remove it/);
    assert.match(r.stdout, /node "chat": extra-options "messages" .*remove it/);
    assert.match(r.stdout, /invalid, 3 errors/);
  });
});

describe('load-time values in hook functions are never expanded again (item 15)', () => {
  test('an environment value with "$INPUT" and "$$" reaches a rest hook exactly, in a header and a JSON body', async () => {
    const SECRET = 'pa$INPUTss$$word"q\\';
    const cap = await startCaptureUpstream({ reply: 'ok' });
    const config = {
      models: { m: { type: 'external', interface: 'openai-api', url: cap.url, 'api-key': 'k' } },
      functions: {
        audit: {
          type: 'rest',
          url: `${cap.url}/hook`,
          headers: { 'X-Secret': '$LLMNET_TEST_HOOK_SECRET' },
          body: { text: '$INPUT', secret: '$LLMNET_TEST_HOOK_SECRET', both: '${LLMNET_TEST_HOOK_SECRET}|$INPUT|$$' },
        },
      },
      architecture: [{ name: 'chat', layer: 0, model: 'm', hooks: { pre: [{ function: 'audit', mode: 'observe' }] } }],
    };
    const gw = await startLlmnet(config, { env: { LLMNET_TEST_HOOK_SECRET: SECRET } });
    try {
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused' });
      const USER = 'user $NODE text $$';
      const res = await client.chat.completions.create({ model: 'llmnet', messages: [{ role: 'user', content: USER }] });
      assert.equal(res.choices[0].message.content, 'ok');
      const hook = await waitFor(() => cap.requests.find((r) => r.path === '/hook'), { what: 'the hook call' });
      assert.equal(hook.headers['x-secret'], SECRET);
      const body = JSON.parse(hook.raw);
      assert.deepEqual(body, { text: USER, secret: SECRET, both: `${SECRET}|${USER}|$` });
    } finally {
      await stopAll(gw);
      await cap.stop();
    }
  });
});
