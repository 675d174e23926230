// A reload that waits on Vault does not hold up a SIGTERM: the reload's
// load (and its vault read) runs off the control loop, and the read is
// cancelled when llmnet stops. The vault here is a local responder that
// answers the first read and holds every later one until the test ends.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { assertServes, exited, start, startMock, stopAll, tempDir, waitFor, writeJson } from './lib.mjs';

const TOKEN = 'hvs.reload-token-0123456789';
const SECRET = { data: { data: { MOCK_KEY: 'sk-vault-reload-0123456789' }, metadata: { version: 1 } } };

// Answers reads while `hold` is false; afterwards keeps each request open,
// recording whether llmnet (the client) closed it.
function startSlowVault() {
  const state = { hold: false, reads: 0, held: [] };
  const server = http.createServer((req, res) => {
    state.reads++;
    if (!state.hold) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(SECRET));
      return;
    }
    const held = { res, closedByClient: false };
    req.socket.on('close', () => {
      if (!res.writableEnded) held.closedByClient = true;
    });
    state.held.push(held);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}`, server, state })),
  );
}

describe('reload with a slow vault (item 25d)', () => {
  let vault;
  let mock;

  before(async () => {
    vault = await startSlowVault();
    mock = await startMock();
  });

  after(async () => {
    for (const h of vault.state.held) h.res.destroy();
    await new Promise((r) => vault.server.close(r));
    await stopAll(mock);
  });

  test('SIGTERM during a reload that waits on vault is handled at once and the read is cancelled', async () => {
    const file = writeJson(tempDir(), 'vault-reload.json', {
      secrets: { v: { source: 'vault', address: vault.url, path: 'secret/data/llmnet', 'token-env': 'VAULT_TOKEN' } },
      models: { m: { type: 'external', interface: 'openai-api', url: mock.url, 'api-key': '$secrets.v.MOCK_KEY' } },
      architecture: [{ name: 'bot', layer: 0, model: 'm' }],
    });
    const proc = await start([file, '--port', '0', '--log-level', 'info'], { env: { VAULT_TOKEN: TOKEN } });
    assert.equal(vault.state.reads, 1, 'the first load read the secret');

    vault.state.hold = true;
    proc.child.kill('SIGHUP');
    await waitFor(() => vault.state.held.length === 1, { what: 'the reload reading vault' });
    // the reload is waiting on vault; requests are still served
    await assertServes(proc.url);

    proc.child.kill('SIGTERM');
    const code = await exited(proc);
    assert.equal(code, 0, proc.stderr);
    const held = vault.state.held[0];
    // llmnet went away while vault still held the read: it did not wait for
    // the read to time out (that would have logged "did not answer in time"
    // and refused the reload before the SIGTERM was even seen)
    assert.equal(held.res.writableEnded, false);
    await waitFor(() => held.closedByClient, { what: 'the vault read to be closed by llmnet' });
    assert.doesNotMatch(proc.stderr, /did not answer in time/);
    assert.doesNotMatch(proc.stderr, /reloaded|reload \(SIGHUP\) refused/);
    assert.match(proc.stderr, /SIGTERM: the reload in progress is abandoned/);
    assert.match(proc.stderr, /reload \(SIGHUP\) abandoned: llmnet is stopping/);
    assert.ok(
      proc.stderr.indexOf('SIGTERM: draining') < proc.stderr.indexOf('reload (SIGHUP) abandoned'),
      `the SIGTERM was handled before the reload ended:\n${proc.stderr}`,
    );
  });
});
