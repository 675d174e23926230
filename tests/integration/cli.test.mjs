// The command line: --version/--help, validate (examples and broken files),
// run with variables and --env-file, --dry-run, bad options, signals.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  ROOT,
  chat,
  newRequestId,
  request,
  runCli,
  seedConfig,
  start,
  startMock,
  stopAll,
  tempDir,
  upstreamCalls,
  writeJson,
} from './lib.mjs';

// Variables the tests set themselves; the user's values must not leak in.
const UNSET = ['OPENROUTER_API_KEY_FREE', 'LLMNET_MOCK_URL', 'LLMNET_TEST_UNSET_VAR', 'LLMNET_TEST_MOCK', 'LLMNET_TEST_KEY'];

function cli(args, env = {}) {
  return runCli(args, { env, unset: UNSET.filter((k) => !(k in env)) });
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// 1-based line and column of the first occurrence of `needle` in `text`.
function positionOf(text, needle, from = 0) {
  const i = text.indexOf(needle, from);
  assert.ok(i >= 0, `${needle} is in the file`);
  const before = text.slice(0, i).split('\n');
  return { line: before.length, col: before[before.length - 1].length + 1 };
}

const dir = tempDir();
const FAKE_KEY = 'sk-or-v1-FAKEKEY0123456789abcd'; // 30 characters, shaped like an OpenRouter key
let mock;

before(async () => {
  mock = await startMock(null);
  assert.equal(FAKE_KEY.length, 30);
});

after(async () => {
  await stopAll(mock);
  rmSync(dir, { recursive: true, force: true });
});

describe('--version and --help', () => {
  test('--version prints the version and exits 0', async () => {
    const r = await cli(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^llmnet \d+\.\d+\.\d+/);
  });

  test('--help prints usage and exits 0', async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /usage/i);
    for (const word of ['validate', 'mock', '--port', '--env-file', '--dry-run']) assert.ok(r.stdout.includes(word), word);
  });

  test('no arguments is a usage error (exit 2)', async () => {
    const r = await cli([]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /usage/i);
  });
});

describe('validate the examples', () => {
  const exampleDir = path.join(ROOT, 'examples');
  const files = readdirSync(exampleDir).filter((f) => f.endsWith('.json'));

  test('the examples directory has compositions', () => {
    assert.ok(files.length >= 5, files.join(', '));
    assert.ok(files.includes('openrouter-pipeline.json'));
  });

  for (const f of files) {
    const file = path.join(exampleDir, f);
    const isRules = /"rules"\s*:/.test(readFileSync(file, 'utf8')) && !/"architecture"\s*:/.test(readFileSync(file, 'utf8'));
    if (isRules) {
      test(`${f} (mock rules) is accepted by llmnet mock`, async () => {
        const m = await start(['mock', '--port', '0', '--rules', file]);
        assert.match(m.url, /^http:\/\/127\.0\.0\.1:\d+$/);
        assert.equal(await m.stop(), 0);
      });
    } else {
      test(`llmnet validate ${f} exits 0 without OPENROUTER_API_KEY_FREE`, async () => {
        const r = await cli(['validate', file]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /valid, 0 errors/);
        assert.doesNotMatch(r.stdout, /: error: /);
      });
    }
  }

  test('validate openrouter-pipeline.json warns about the unset key and notes the inherited endpoint', async () => {
    const file = path.join(exampleDir, 'openrouter-pipeline.json');
    const r = await cli(['validate', file]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /warning: .*OPENROUTER_API_KEY_FREE/);
    assert.match(r.stdout, /technical-handler.*inherit.*router-gemma/);
  });
});

describe('validate broken files', () => {
  test('a syntax error names FILE:LINE:COL', async () => {
    const text = '{\n  "models": {\n    "m": { "url": "http://127.0.0.1:1" ,, }\n  },\n  "architecture": []\n}\n';
    const file = writeJson(dir, 'syntax.json', text);
    const r = await cli(['validate', file]);
    assert.equal(r.code, 1, r.stdout);
    const { line, col } = positionOf(text, ',,');
    assert.match(r.stdout, new RegExp(`^${escapeRe(file)}:${line}:${col + 1}: error: `, 'm'));
  });

  test('an unterminated document names the end position', async () => {
    const text = '{\n  "models": {}\n';
    const file = writeJson(dir, 'eof.json', text);
    const r = await cli(['validate', file]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`^${escapeRe(file)}:\\d+:\\d+: error: `, 'm'));
  });

  test('// and /* */ comments are allowed outside strings, "//" inside a string is text', async () => {
    const text = [
      '// a comment',
      '{',
      '  /* block */ "models": { "m": { "type": "external", "url": "http://127.0.0.1:9" } }, // trailing',
      '  "architecture": [ { "name": "a", "layer": 0, "model": "m" } ]',
      '}',
      '',
    ].join('\n');
    const file = writeJson(dir, 'comments.json', text);
    const r = await cli(['validate', file]);
    assert.equal(r.code, 0, r.stdout);
    const d = await cli(['run', file, '--dry-run']);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /http:\/\/127\.0\.0\.1:9\/v1\/chat\/completions/);
  });

  test('an unknown key is a warning with "did you mean" and its position; exit 0', async () => {
    const cfg = {
      models: { m: { type: 'external', interface: 'openai-api', url: 'http://127.0.0.1:9', api_key: 'x' } },
      architecture: [{ name: 'a', layer: 0, model: 'm', 'extra-options': {}, outputTo: ['output'] }, { name: 'output', adapter: 'output' }],
    };
    const file = writeJson(dir, 'unknown-key.json', cfg);
    const text = readFileSync(file, 'utf8');
    const r = await cli(['validate', file]);
    assert.equal(r.code, 0, r.stdout);
    const p1 = positionOf(text, '"api_key"');
    assert.match(r.stdout, new RegExp(`${escapeRe(file)}:${p1.line}:\\d+: warning: .*api_key.*did you mean "api-key"`));
    const p2 = positionOf(text, '"outputTo"');
    assert.match(r.stdout, new RegExp(`${escapeRe(file)}:${p2.line}:\\d+: warning: .*outputTo.*did you mean "output-to"`));
    assert.match(r.stdout, /valid, 0 errors, 2 warnings/);
  });

  test('a condition that does not parse is an error with its position', async () => {
    const cfg = seedConfig('http://127.0.0.1:9');
    cfg.architecture[1].if = '$WORD_COUNT < ';
    const file = writeJson(dir, 'bad-cond.json', cfg);
    const text = readFileSync(file, 'utf8');
    const r = await cli(['validate', file]);
    assert.equal(r.code, 1, r.stdout);
    const { line } = positionOf(text, '"if"');
    const m = r.stdout.match(new RegExp(`^${escapeRe(file)}:(\\d+):(\\d+): error: (.*)$`, 'm'));
    assert.ok(m, r.stdout);
    assert.equal(Number(m[1]), line);
    assert.match(m[3], /creative-handler/);
    assert.match(m[3], /\$WORD_COUNT </);
    assert.match(m[3], /column \d+/);
  });

  test('conditions with other mistakes are errors too, never silently true', async () => {
    for (const bad of ['$WORD_COUNT >> 3', '($A == "x"', '$A == "unterminated', '$A matches "("', '&& $A', '$A = 1']) {
      const cfg = seedConfig('http://127.0.0.1:9');
      cfg.architecture[1].if = bad;
      const file = writeJson(dir, 'bad-cond-2.json', cfg);
      const r = await cli(['validate', file]);
      assert.equal(r.code, 1, `${bad}: ${r.stdout}`);
      assert.match(r.stdout, /error: .*condition/, bad);
    }
  });

  test('a reference to an undefined model is an error naming it', async () => {
    const cfg = seedConfig('http://127.0.0.1:9');
    cfg.architecture[1].model = 'no-such-model';
    const file = writeJson(dir, 'bad-model.json', cfg);
    const r = await cli(['validate', file]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, new RegExp(`^${escapeRe(file)}:\\d+:\\d+: error: .*no-such-model`, 'm'));
  });

  test('a node naming an undefined model is not also said to have no model', async () => {
    const cfg = seedConfig('http://127.0.0.1:9');
    cfg.architecture[1].model = 'no-such-model';
    const file = writeJson(dir, 'bad-model-2.json', cfg);
    const r = await cli(['validate', file]);
    assert.equal(r.code, 1, r.stdout);
    const about = r.stdout.split('\n').filter((l) => l.includes('"creative-handler"'));
    assert.ok(about.some((l) => /no-such-model/.test(l)), r.stdout);
    assert.ok(!about.some((l) => /has no "model"|inherits/.test(l)), `contradictory note:\n${r.stdout}`);
  });

  test('a cycle is an error naming its nodes', async () => {
    const ep = { type: 'external', interface: 'openai-api', url: 'http://127.0.0.1:9' };
    const cfg = {
      models: { m: ep },
      architecture: [
        { name: 'entry', layer: 0, model: 'm', 'output-to': ['loop-a'] },
        { name: 'loop-a', layer: 1, model: 'm', 'output-to': ['loop-b'] },
        { name: 'loop-b', layer: 2, model: 'm', 'output-to': ['loop-a'] },
      ],
    };
    const file = writeJson(dir, 'cycle.json', cfg);
    const r = await cli(['validate', file]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /error: .*cycle.*loop-a.*loop-b|error: .*cycle.*loop-b.*loop-a/);
  });

  test('several problems in one file are all listed', async () => {
    const text = `{
  "models": {
    "m": { "type": "external", "interface": "openai-api", "url": "http://127.0.0.1:9", "api_key": "x" }
  },
  "architecture": [
    { "name": "a", "layer": 0, "model": "m", "output-to": [1] },
    { "name": "b", "layer": 1, "model": "nope", "if": "$WORD_COUNT <", "output-to": ["c"], "use_case": "x" },
    { "name": "c", "layer": 2, "model": "m", "output-to": ["b", "ghost"] }
  ]
}
`;
    const file = writeJson(dir, 'many.json', text);
    const r = await cli(['validate', file]);
    assert.equal(r.code, 1, r.stdout);
    const lines = r.stdout.split('\n');
    const has = (re) => assert.ok(lines.some((l) => re.test(l)), `${re} in:\n${r.stdout}`);
    has(new RegExp(`^${escapeRe(file)}:3:\\d+: warning: .*api_key.*did you mean "api-key"`));
    has(new RegExp(`^${escapeRe(file)}:7:\\d+: warning: .*use_case.*did you mean "use-case"`));
    has(new RegExp(`^${escapeRe(file)}:7:\\d+: error: .*nope`));
    has(new RegExp(`^${escapeRe(file)}:7:\\d+: error: .*condition.*column \\d+`));
    has(new RegExp(`^${escapeRe(file)}:8:\\d+: error: .*ghost`));
    has(/error: .*cycle/);
    const errors = lines.filter((l) => /: error: /.test(l)).length;
    assert.ok(errors >= 4, r.stdout);
    assert.match(r.stdout, new RegExp(`invalid, ${errors} errors`));
  });

  test('a file that does not exist is an error (exit 1)', async () => {
    const r = await cli(['validate', path.join(dir, 'does-not-exist.json')]);
    assert.equal(r.code, 1);
    assert.match(r.stdout + r.stderr, /does-not-exist\.json/);
  });
});

describe('run', () => {
  function varConfig() {
    return {
      models: {
        main: { type: 'external', interface: 'openai-api', url: '$LLMNET_TEST_MOCK', 'api-key': '${LLMNET_TEST_UNSET_VAR}' },
      },
      architecture: [{ name: 'chat', layer: 0, model: 'main', 'extra-options': { model_override: 'var-model' } }],
    };
  }

  test('an unset $VAR exits 1 naming the model and the variable', async () => {
    const file = writeJson(dir, 'vars.json', varConfig());
    const r = await cli(['run', file, '--port', '0'], { LLMNET_TEST_MOCK: mock.url });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /"main"/);
    assert.match(r.stderr, /LLMNET_TEST_UNSET_VAR/);
    assert.doesNotMatch(r.stdout, /listening on/);
  });

  test('--env-file supplies the variable, and the value is what goes upstream', async () => {
    const file = writeJson(dir, 'vars.json', varConfig());
    const envFile = path.join(dir, 'test.env');
    writeFileSync(envFile, `# comment\nLLMNET_TEST_UNSET_VAR="${FAKE_KEY}"\nexport LLMNET_TEST_MOCK=${mock.url}\n`);
    const proc = await start(['run', file, '--port', '0', '--env-file', envFile, '--log-level', 'warn'], { unset: UNSET });
    try {
      const rid = newRequestId('envfile');
      const res = await chat(proc.url, { messages: [{ role: 'user', content: 'hi' }] }, { 'x-request-id': rid });
      assert.equal(res.status, 200, res.text);
      const calls = await upstreamCalls(mock.url, rid);
      assert.equal(calls.length, 1);
      assert.equal(calls[0].headers.authorization, `Bearer ${FAKE_KEY}`);
      assert.equal(calls[0].body.model, 'var-model');
    } finally {
      await proc.stop();
    }
  });

  test('$secrets.NAME.VAR takes a secret from the environment or an env-file', async () => {
    const envFile = path.join(dir, 'secret.env');
    writeFileSync(envFile, `LLMNET_TEST_FILE_KEY=file-${FAKE_KEY}\n`);
    const cfg = {
      secrets: {
        fromenv: { source: 'env', variable: 'LLMNET_TEST_KEY' },
        fromfile: { source: 'env-file', path: envFile, variables: ['LLMNET_TEST_FILE_KEY'] },
      },
      models: {
        a: { type: 'external', interface: 'openai-api', url: mock.url, 'api-key': '$secrets.fromenv.LLMNET_TEST_KEY' },
        b: { type: 'external', interface: 'openai-api', url: mock.url, 'api-key': '${secrets.fromfile.LLMNET_TEST_FILE_KEY}' },
      },
      architecture: [
        { name: 'node-a', layer: 0, model: 'a' },
        { name: 'node-b', layer: 1, model: 'b' },
      ],
    };
    const file = writeJson(dir, 'secrets.json', cfg);
    const proc = await start([file, '--port', '0', '--log-level', 'warn'], { env: { LLMNET_TEST_KEY: FAKE_KEY }, unset: ['LLMNET_TEST_FILE_KEY'] });
    try {
      for (const [node, auth] of [
        ['node-a', `Bearer ${FAKE_KEY}`],
        ['node-b', `Bearer file-${FAKE_KEY}`],
      ]) {
        const rid = newRequestId('secret');
        const res = await chat(proc.url, { model: node, messages: [{ role: 'user', content: 'hi' }] }, { 'x-request-id': rid });
        assert.equal(res.status, 200, res.text);
        const calls = await upstreamCalls(mock.url, rid);
        assert.equal(calls[0].headers.authorization, auth);
      }
      // request content is never substituted
      const rid = newRequestId('secret-content');
      const text = 'show me $secrets.fromenv.LLMNET_TEST_KEY and ${LLMNET_TEST_KEY}';
      const res = await chat(proc.url, { messages: [{ role: 'user', content: text }] }, { 'x-request-id': rid });
      assert.equal(res.status, 200, res.text);
      assert.ok(!res.text.includes(FAKE_KEY));
      const calls = await upstreamCalls(mock.url, rid);
      assert.equal(calls[0].body.messages[0].content, text);
    } finally {
      await proc.stop();
    }
    const missing = await cli(['run', file, '--port', '0']);
    assert.equal(missing.code, 1, missing.stdout + missing.stderr);
    assert.match(missing.stderr, /LLMNET_TEST_KEY/);
  });

  test('--env-file naming a missing file is an error', async () => {
    const file = writeJson(dir, 'vars.json', varConfig());
    const r = await cli(['run', file, '--port', '0', '--env-file', path.join(dir, 'nope.env')], {
      LLMNET_TEST_MOCK: mock.url,
    });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /nope\.env/);
  });

  test('--dry-run prints the resolved graph with the inherited endpoint, never the key', async () => {
    const file = path.join(ROOT, 'examples', 'openrouter-pipeline.json');
    const r = await cli(['run', file, '--dry-run'], { OPENROUTER_API_KEY_FREE: FAKE_KEY });
    assert.equal(r.code, 0, r.stderr);
    for (const name of ['router', 'creative-handler', 'technical-handler', 'router-gemma', 'handler-llama']) {
      assert.ok(r.stdout.includes(name), name);
    }
    for (const model of ['google/gemma-3-27b-it:free', 'meta-llama/llama-3.3-70b-instruct:free', 'qwen/qwen3-coder:free']) {
      assert.ok(r.stdout.includes(model), model);
    }
    assert.match(r.stdout, /technical-handler[\s\S]*inherited from router/);
    assert.match(r.stdout, /^store {4}memory \(this process\)$/m);
    assert.match(r.stdout, /^ {6}routing {2}sticky session, session-ttl 1800s, max-input-chars 8000, decision-cache 600s x 10000$/m);
    const all = r.stdout + r.stderr;
    assert.ok(!all.includes(FAKE_KEY), 'the key value is not printed');
    // no long piece of the key either (a masked form such as "sk-…cdef" is fine)
    for (let i = 0; i + 8 <= FAKE_KEY.length; i++) assert.ok(!all.includes(FAKE_KEY.slice(i, i + 8)), FAKE_KEY.slice(i, i + 8));
    assert.doesNotMatch(r.stdout, /listening on/);
  });

  test('validate never prints the key either', async () => {
    const cfg = seedConfig('http://127.0.0.1:9');
    cfg.models['router-gemma']['api-key'] = '$LLMNET_TEST_KEY';
    cfg.models['handler-llama']['api-key'] = FAKE_KEY;
    cfg.architecture[1].if = '$WORD_COUNT <'; // an error, so problems get printed
    const file = writeJson(dir, 'key-validate.json', cfg);
    const r = await cli(['validate', file], { LLMNET_TEST_KEY: FAKE_KEY });
    assert.equal(r.code, 1);
    assert.ok(!(r.stdout + r.stderr).includes(FAKE_KEY));
  });

  test('a $secrets value used in a url or a header never shows in validate or --dry-run output', async () => {
    const cfg = {
      secrets: { s: { source: 'env', variable: 'LLMNET_TEST_KEY' } },
      models: {
        r: {
          type: 'external',
          interface: 'openai-api',
          url: 'http://127.0.0.1:9/v1?key=$secrets.s.LLMNET_TEST_KEY',
          'api-key': '$secrets.s.LLMNET_TEST_KEY',
          headers: { 'x-api-key': '$secrets.s.LLMNET_TEST_KEY' },
        },
      },
      architecture: [
        { name: 'router', layer: 0, model: 'r', 'output-to': [1] },
        { name: 'a', layer: 1, 'use-case': 'first' },
        { name: 'b', layer: 1, 'use-case': 'second' },
      ],
    };
    const file = writeJson(dir, 'secret-url.json', cfg);
    const v = await cli(['validate', file], { LLMNET_TEST_KEY: FAKE_KEY });
    assert.equal(v.code, 0, v.stdout);
    assert.ok(!(v.stdout + v.stderr).includes(FAKE_KEY), `validate printed the secret:\n${v.stdout}`);
    const d = await cli(['run', file, '--dry-run'], { LLMNET_TEST_KEY: FAKE_KEY });
    assert.equal(d.code, 0, d.stderr);
    assert.ok(!(d.stdout + d.stderr).includes(FAKE_KEY), `--dry-run printed the secret:\n${d.stdout}${d.stderr}`);
  });

  test('the key never shows up in debug logs, also when the upstream fails', async () => {
    const cfg = seedConfig(mock.url);
    cfg.models['router-gemma']['api-key'] = '$LLMNET_TEST_KEY';
    cfg.models['handler-llama'] = { type: 'external', interface: 'openai-api', url: 'http://127.0.0.1:9', 'api-key': '$LLMNET_TEST_KEY' };
    const file = writeJson(dir, 'key-logs.json', cfg);
    const proc = await start([file, '--port', '0', '--log-level', 'debug'], { env: { LLMNET_TEST_KEY: FAKE_KEY } });
    try {
      const ok = await chat(proc.url, { model: 'technical-handler', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(ok.status, 200, ok.text);
      const bad = await chat(proc.url, { model: 'creative-handler', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(bad.status, 502, bad.text);
      assert.ok(!bad.text.includes(FAKE_KEY));
    } finally {
      await proc.stop();
    }
    assert.ok(proc.stderr.length > 0, 'debug logging wrote something');
    assert.ok(!proc.stderr.includes(FAKE_KEY), 'the key is not in the logs');
  });

  test('`llmnet CONFIG` and `llmnet run CONFIG` both serve', async () => {
    const file = writeJson(dir, 'both.json', seedConfig(mock.url));
    for (const args of [[file], ['run', file]]) {
      const proc = await start([...args, '--port', '0', '--log-level', 'warn']);
      try {
        assert.match(proc.url, /^http:\/\/127\.0\.0\.1:\d+$/);
        const h = await request(proc.url, '/health');
        assert.equal(h.status, 200);
        const res = await chat(proc.url, { messages: [{ role: 'user', content: 'Write a poem' }] });
        assert.equal(res.status, 200, res.text);
      } finally {
        assert.equal(await proc.stop(), 0);
      }
    }
  });

  test('the entry node bind-port is used, --port overrides it', async () => {
    const cfg = seedConfig(mock.url);
    cfg.architecture[0]['bind-port'] = '1';
    cfg.architecture[0]['bind-addr'] = '127.0.0.1';
    const file = writeJson(dir, 'bind.json', cfg);
    const r = await cli(['run', file, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /http:\/\/127\.0\.0\.1:1\b/);
    const r2 = await cli(['run', file, '--dry-run', '--port', '4567']);
    assert.match(r2.stdout, /http:\/\/127\.0\.0\.1:4567\b/);
  });

  test('bad --port values exit 2', async () => {
    const file = writeJson(dir, 'port.json', seedConfig(mock.url));
    for (const port of ['abc', '-1', '65536', '80x', '']) {
      const r = await cli(['run', file, '--port', port]);
      assert.equal(r.code, 2, `--port ${JSON.stringify(port)}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /port/);
    }
  });

  test('an unknown option exits 2', async () => {
    const file = writeJson(dir, 'opt.json', seedConfig(mock.url));
    const r = await cli(['run', file, '--frobnicate']);
    assert.equal(r.code, 2);
  });

  test('SIGTERM stops the server with exit 0', async () => {
    const file = writeJson(dir, 'sig.json', seedConfig(mock.url));
    const proc = await start([file, '--port', '0', '--log-level', 'warn']);
    const h = await request(proc.url, '/health');
    assert.equal(h.status, 200);
    const code = await proc.stop();
    assert.equal(code, 0);
    assert.equal(proc.child.signalCode, null, 'it exited by itself, not by the signal');
    await assert.rejects(request(proc.url, '/health'));
  });

  test('SIGTERM drains: chat requests in flight are answered, then it exits 0', async () => {
    const slowMock = await startMock({ rules: [{ when: { contains: 'slow' }, 'delay-ms': 3000 }] });
    const file = writeJson(dir, 'sig3.json', seedConfig(slowMock.url));
    const proc = await start([file, '--port', '0', '--log-level', 'warn']);
    try {
      const pending = [];
      for (let i = 0; i < 4; i++) {
        pending.push(chat(proc.url, { model: 'creative-handler', messages: [{ role: 'user', content: 'slow one' }] }).catch(() => null));
      }
      pending.push(chat(proc.url, { messages: [{ role: 'user', content: 'slow two' }], stream: true }).catch(() => null));
      // wait until the upstream has all of them, then stop
      for (let tries = 0; tries < 100; tries++) {
        const got = await (await fetch(`${slowMock.url}/mock/requests`)).json();
        if (got.length >= 5) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const code = await proc.stop();
      assert.equal(code, 0, proc.stderr);
      assert.equal(proc.child.signalCode, null);
      const results = await Promise.all(pending);
      for (const r of results) {
        assert.ok(r, 'every request in flight got an answer');
        assert.equal(r.status, 200, r.text);
      }
      await assert.rejects(request(proc.url, '/health'), 'no new connections after the drain');
    } finally {
      await stopAll(proc, slowMock);
    }
  });

  test('SIGTERM with a client connection open still exits 0', async () => {
    const file = writeJson(dir, 'sig2.json', seedConfig(mock.url));
    const proc = await start([file, '--port', '0', '--log-level', 'warn']);
    const agent = new http.Agent({ keepAlive: true });
    const { port } = new URL(proc.url);
    await new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/health', agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject);
    });
    const code = await proc.stop();
    agent.destroy();
    assert.equal(code, 0);
  });
});
