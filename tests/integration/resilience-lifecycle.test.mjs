// The process under change: SIGHUP reloads (valid, broken, with a request
// in flight), --watch, and a SIGTERM drain with a slow request in flight.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import {
  assertOpenAIError,
  assertServes,
  chat,
  closedPort,
  connectRaw,
  exited,
  newRequestId,
  startHoldingUpstream,
  startLlmnet,
  stopAll,
  waitFor,
} from './lib.mjs';

// Calls whose last message is "hold me" wait at the upstream until the
// test releases them.
const HOLD = 'hold me';
let up;

before(async () => {
  up = await startHoldingUpstream({ hold: (body) => body.messages?.[body.messages.length - 1]?.content === HOLD });
});

after(async () => {
  await up.stop();
});

// entry (routes only, one target: no call) -> writer -> refiner: the
// refiner's model id says which composition a request ran on, and a
// request slowed at the writer is still in flight when the composition
// changes under it.
function pipeline(refinerModel) {
  return {
    models: { m: { type: 'external', interface: 'openai-api', url: up.url, 'api-key': null } },
    architecture: [
      { name: 'entry', layer: 0, model: 'm', 'output-to': ['writer'] },
      { name: 'writer', layer: 1, model: 'm', 'output-to': ['refiner'], 'extra-options': { model_override: 'writer-model' } },
      { name: 'refiner', layer: 2, model: 'm', 'extra-options': { model_override: refinerModel } },
    ],
  };
}

function rewrite(file, config) {
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
}

async function ask(url, content = 'hello') {
  const rid = newRequestId('reload');
  const res = await chat(url, { messages: [{ role: 'user', content }] }, { 'x-request-id': rid });
  return { res, rid };
}

async function modelsCalled(rid) {
  return up.requests.filter((r) => r.headers['x-request-id'] === rid).map((r) => r.body.model);
}

const count = (text, re) => (text.match(re) || []).length;

describe('SIGHUP reload', () => {
  let gw;
  before(async () => {
    gw = await startLlmnet(pipeline('refiner-v1'), { args: ['--log-level', 'info'] });
  });
  after(async () => {
    await stopAll(gw);
  });

  const reloads = () => count(gw.stderr, /reloaded .*\(SIGHUP\)/g);
  const refusals = () => count(gw.stderr, /reload \(SIGHUP\) refused/g);

  test('a valid changed file: new requests use it', async () => {
    const { res: first, rid: r1 } = await ask(gw.url);
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(await modelsCalled(r1), ['writer-model', 'refiner-v1']);

    const before = reloads();
    rewrite(gw.file, pipeline('refiner-v2'));
    gw.child.kill('SIGHUP');
    await waitFor(() => reloads() > before, { what: 'the reload log line' });

    const { res, rid } = await ask(gw.url);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.model, 'refiner-v2');
    assert.deepEqual(await modelsCalled(rid), ['writer-model', 'refiner-v2']);
    await assertServes(gw.url);
  });

  test('a broken file is refused with a log line naming it; the old composition keeps serving', async () => {
    const before = refusals();
    const good = reloads();
    rewrite(gw.file, '{"models": {"m": {"type": "external", "url": ');
    gw.child.kill('SIGHUP');
    await waitFor(() => refusals() > before, { what: 'the refusal log line' });
    assert.ok(gw.stderr.includes(gw.file), gw.stderr);
    assert.equal(reloads(), good);

    const { res, rid } = await ask(gw.url);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(await modelsCalled(rid), ['writer-model', 'refiner-v2']);

    // a file that parses but does not validate is refused too
    const invalid = pipeline('refiner-v9');
    invalid.architecture[1]['output-to'] = ['no-such-node'];
    rewrite(gw.file, invalid);
    gw.child.kill('SIGHUP');
    await waitFor(() => refusals() > before + 1, { what: 'the second refusal' });
    const { res: again, rid: r2 } = await ask(gw.url);
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(await modelsCalled(r2), ['writer-model', 'refiner-v2']);
    await assertServes(gw.url);
  });

  test('a request in flight across a reload finishes on the composition it started with', async () => {
    const pending = ask(gw.url, HOLD);
    // its writer call is held at the upstream: the request is in flight
    await waitFor(() => up.held() === 1, { what: 'the held writer call' });
    const rid = up.requests[up.requests.length - 1].headers['x-request-id'];
    const before = reloads();
    rewrite(gw.file, pipeline('refiner-v3'));
    gw.child.kill('SIGHUP');
    await waitFor(() => reloads() > before, { what: 'the reload log line' });

    // a new request already runs on the new file
    const { res: fresh, rid: freshRid } = await ask(gw.url);
    assert.equal(fresh.status, 200, fresh.text);
    assert.deepEqual(await modelsCalled(freshRid), ['writer-model', 'refiner-v3']);

    up.release();
    const { res, rid: inFlightRid } = await pending;
    assert.equal(inFlightRid, rid);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.model, 'refiner-v2');
    assert.deepEqual(await modelsCalled(rid), ['writer-model', 'refiner-v2']);
    assert.equal(res.headers.get('x-llmnet-route'), 'entry>writer>refiner');
    await assertServes(gw.url);
  });
});

describe('--watch', () => {
  test('a changed file is picked up without a signal; a broken save is refused and the last good one serves', async () => {
    const gw = await startLlmnet(pipeline('watched-v1'), { args: ['--watch'] });
    try {
      const { res: first } = await ask(gw.url);
      assert.equal(first.json.model, 'watched-v1');

      rewrite(gw.file, pipeline('watched-v2'));
      const res = await waitFor(
        async () => {
          const { res } = await ask(gw.url);
          assert.equal(res.status, 200, res.text);
          return res.json.model === 'watched-v2' ? res : null;
        },
        { timeoutMs: 5000, intervalMs: 200, what: '--watch to load the changed file' },
      );
      assert.equal(res.json.model, 'watched-v2');

      rewrite(gw.file, '{"models": ');
      await waitFor(() => /refused/.test(gw.stderr), { what: 'the refusal of the broken save' });
      const { res: after } = await ask(gw.url);
      assert.equal(after.status, 200, after.text);
      assert.equal(after.json.model, 'watched-v2');
      await assertServes(gw.url);
    } finally {
      await stopAll(gw);
    }
  });
});

describe('SIGTERM drain', () => {
  test('a slow request in flight gets its 200, new connections are refused, the exit code is 0', async () => {
    const gw = await startLlmnet(pipeline('drain-refiner'));
    try {
      await assertServes(gw.url);
      const rid = newRequestId('drain');
      const pending = chat(gw.url, { messages: [{ role: 'user', content: HOLD }] }, { 'x-request-id': rid });
      await waitFor(() => up.held() === 1, { what: 'the held call' });

      const code = exited(gw);
      gw.child.kill('SIGTERM');
      // A connection the kernel completed in the listen backlog at the moment
      // the listener closes is reset (ECONNRESET), not refused: that is the
      // kernel's race, not a refusal. Poll until a connect is refused.
      const seen = [];
      const refused = await waitFor(
        async () => {
          try {
            const s = await connectRaw(gw.url);
            s.destroy();
            seen.push('connected');
            return null;
          } catch (e) {
            seen.push(e.code);
            return e.code === 'ECONNREFUSED' ? e.code : null;
          }
        },
        { timeoutMs: 3000, intervalMs: 50, what: 'new connections to be refused' },
      ).catch((e) => assert.fail(`${e.message}; connects saw ${seen.join(', ')}`));
      assert.equal(refused, 'ECONNREFUSED');
      assert.equal(gw.child.exitCode, null, 'still running while a request is in flight');

      up.release();
      const res = await pending;
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.model, 'drain-refiner');
      assert.equal(res.headers.get('connection'), 'close');
      assert.deepEqual(await modelsCalled(rid), ['writer-model', 'drain-refiner']);
      assert.equal(await code, 0, gw.stderr);
    } finally {
      await stopAll(gw);
    }
  });

  test('a drained server is really gone: a request after the exit fails to connect', async () => {
    const gw = await startLlmnet(pipeline('gone-refiner'));
    const url = gw.url;
    assert.equal(await gw.stop(), 0);
    await assert.rejects(chat(url, { messages: [{ role: 'user', content: 'anyone?' }] }));
  });
});

// A reload never breaks the error path either.
describe('errors after reloads', () => {
  test('a reloaded composition whose model is unreachable answers 502, and reloading back recovers', async () => {
    const gw = await startLlmnet(pipeline('recover-v1'), { args: ['--log-level', 'info'] });
    try {
      const broken = pipeline('recover-v2');
      broken.models.m.url = `http://127.0.0.1:${await closedPort()}`; // nothing listens
      broken.models.m.retries = 0;
      let n = count(gw.stderr, /reloaded/g);
      rewrite(gw.file, broken);
      gw.child.kill('SIGHUP');
      await waitFor(() => count(gw.stderr, /reloaded/g) > n, { what: 'the reload' });
      const { res } = await ask(gw.url);
      assertOpenAIError(res, 502);
      assert.match(res.json.error.message, /"writer"/);
      assert.match(res.json.error.message, /cannot connect/);

      n = count(gw.stderr, /reloaded/g);
      rewrite(gw.file, pipeline('recover-v3'));
      gw.child.kill('SIGHUP');
      await waitFor(() => count(gw.stderr, /reloaded/g) > n, { what: 'the reload back' });
      const { res: ok } = await ask(gw.url);
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json.model, 'recover-v3');
      await assertServes(gw.url);
    } finally {
      await stopAll(gw);
    }
  });
});
