// Vault secrets ("source": "vault"): a KV v2 read over Vault's HTTP API from
// a small Vault-compatible responder in this process; the secret reaches the
// upstream, never the output, and each failure is a clear error.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { chat, mockRequests, runCli, start, startMock, stopAll, tempDir, writeJson } from './lib.mjs';

const TOKEN = 'hvs.test-token-5f3a9c1e7b';
const VALUE = 'sk-vault-0123456789abcdef';
const SECRET = { data: { data: { MOCK_KEY: VALUE, OTHER: 'x' }, metadata: { version: 3 } } };
// variables the tests set themselves; the user's values must not leak in
const UNSET = ['VAULT_TOKEN', 'LLMNET_TEST_VAULT_ADDR'];

function cli(args, env = {}) {
  return runCli(args, { env, unset: UNSET.filter((k) => !(k in env)) });
}

// GET /v1/secret/data/llmnet with the right X-Vault-Token; 403 for another
// token, 404 for another path, as Vault answers.
function startVault() {
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, token: req.headers['x-vault-token'] });
    res.setHeader('content-type', 'application/json');
    if (req.method !== 'GET' || req.url !== '/v1/secret/data/llmnet') {
      res.writeHead(404).end(JSON.stringify({ errors: [] }));
    } else if (req.headers['x-vault-token'] !== TOKEN) {
      res.writeHead(403).end(JSON.stringify({ errors: ['permission denied'] }));
    } else {
      res.writeHead(200).end(JSON.stringify(SECRET));
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}`, server, seen })),
  );
}

// A 1-0-1 chatbot on `mockUrl` whose key comes from the vault secret "v".
function composition(mockUrl, vaultSecret) {
  return {
    secrets: { v: { source: 'vault', path: 'secret/data/llmnet', 'token-env': 'VAULT_TOKEN', ...vaultSecret } },
    models: { m: { type: 'external', interface: 'openai-api', url: mockUrl, 'api-key': '$secrets.v.MOCK_KEY' } },
    architecture: [{ name: 'bot', layer: 0, model: 'm' }],
  };
}

// No long piece of the value either (a masked form such as "sk-…cdef" is fine).
function assertHidden(text, secret, what) {
  for (let i = 0; i + 8 <= secret.length; i++) assert.ok(!text.includes(secret.slice(i, i + 8)), `${what} shows ${secret.slice(i, i + 8)}`);
}

describe('vault secrets', () => {
  let vault;
  let mock;
  let dir;

  before(async () => {
    vault = await startVault();
    mock = await startMock();
    dir = tempDir();
  });

  after(async () => {
    await stopAll(mock);
    await new Promise((r) => vault.server.close(r));
  });

  test('a vault secret is the upstream api-key', async () => {
    const file = writeJson(dir, 'ok.json', composition(mock.url, { address: vault.url, variables: ['MOCK_KEY'] }));
    const proc = await start([file, '--port', '0', '--log-level', 'warn'], { env: { VAULT_TOKEN: TOKEN } });
    try {
      await fetch(`${mock.url}/mock/requests`, { method: 'DELETE' });
      const res = await chat(proc.url, { model: 'llmnet', messages: [{ role: 'user', content: 'hello' }] });
      assert.equal(res.status, 200, res.text);
      const calls = await mockRequests(mock.url);
      assert.ok(calls.length >= 1, 'the upstream was called');
      for (const c of calls) assert.equal(c.headers.authorization, `Bearer ${VALUE}`);
      assert.ok(vault.seen.some((r) => r.url === '/v1/secret/data/llmnet' && r.token === TOKEN));
    } finally {
      await proc.stop();
    }
    assertHidden(proc.stderr, VALUE, 'the log');
  });

  test('without "variables" every key is loaded; address and path take $VARS; token_env is accepted', async () => {
    const cfg = composition(mock.url, { address: '$LLMNET_TEST_VAULT_ADDR/', path: '/secret/data/llmnet' });
    delete cfg.secrets.v['token-env'];
    cfg.secrets.v.token_env = 'VAULT_TOKEN';
    cfg.models.m['api-key'] = '$secrets.v.OTHER';
    const file = writeJson(dir, 'all-keys.json', cfg);
    const r = await cli(['validate', file], { VAULT_TOKEN: TOKEN, LLMNET_TEST_VAULT_ADDR: vault.url });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /warning:|error:/, r.stdout + r.stderr);
  });

  test('validate and run --dry-run never print the value', async () => {
    const file = writeJson(dir, 'show.json', composition(mock.url, { address: vault.url }));
    for (const args of [['validate', file], ['run', file, '--dry-run']]) {
      const r = await cli(args, { VAULT_TOKEN: TOKEN });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assertHidden(r.stdout + r.stderr, VALUE, args.join(' '));
      assertHidden(r.stdout + r.stderr, TOKEN, args.join(' '));
    }
  });

  test('a wrong token: run exits 1 naming the secret and "permission denied", never the token', async () => {
    const wrong = 'hvs.wrong-token-9d8c7b6a5f';
    const file = writeJson(dir, 'denied.json', composition(mock.url, { address: vault.url }));
    const r = await cli(['run', file, '--port', '0'], { VAULT_TOKEN: wrong });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const all = r.stdout + r.stderr;
    assert.match(all, /secret "v".*permission denied/);
    assert.ok(!all.includes(wrong), 'the token is not printed');
    assertHidden(all, wrong, 'the error');
    assert.doesNotMatch(all, /listening on/);
    // validate: the same problem is a warning, exit 0
    const v = await cli(['validate', file], { VAULT_TOKEN: wrong });
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout + v.stderr, /warning: secret "v".*permission denied/);
  });

  test('the token variable unset: an error naming it', async () => {
    const file = writeJson(dir, 'no-token.json', composition(mock.url, { address: vault.url }));
    const r = await cli(['run', file, '--port', '0']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /secret "v".*VAULT_TOKEN is not set/);
  });

  test('a requested variable the secret does not have: an error naming it', async () => {
    const file = writeJson(dir, 'missing.json', composition(mock.url, { address: vault.url, variables: ['MOCK_KEY', 'NOPE_KEY'] }));
    const r = await cli(['run', file, '--port', '0'], { VAULT_TOKEN: TOKEN });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /secret "v": NOPE_KEY is not a key/);
    assertHidden(r.stdout + r.stderr, VALUE, 'the error');
  });

  test('another path: "no secret at PATH"', async () => {
    const file = writeJson(dir, 'nopath.json', composition(mock.url, { address: vault.url, path: 'secret/data/other' }));
    const r = await cli(['run', file, '--port', '0'], { VAULT_TOKEN: TOKEN });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /secret "v": no secret at "secret\/data\/other"/);
  });

  test('an address that is not http(s): an error', async () => {
    const file = writeJson(dir, 'ftp.json', composition(mock.url, { address: 'ftp://127.0.0.1:8200' }));
    const r = await cli(['run', file, '--port', '0'], { VAULT_TOKEN: TOKEN });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /secret "v".*not an http:\/\/ or https:\/\/ URL/);
  });

  test('the vault server down: an error', async () => {
    // a port that was just free: listen, note it, close
    const probe = http.createServer();
    await new Promise((r) => probe.listen(0, '127.0.0.1', r));
    const port = probe.address().port;
    await new Promise((r) => probe.close(r));
    const file = writeJson(dir, 'down.json', composition(mock.url, { address: `http://127.0.0.1:${port}` }));
    const r = await cli(['run', file, '--port', '0'], { VAULT_TOKEN: TOKEN });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /secret "v": cannot reach vault at http:\/\/127\.0\.0\.1:\d+/);
    assert.ok(!(r.stdout + r.stderr).includes(TOKEN));
  });
});
