// Runners: local model servers llmnet starts, watches and stops (models
// "type": "command", "llama-cpp", "ollama", "vllm", "docker"). The command
// runner here is the real `llmnet mock --port $PORT`; the test finds its
// process through /v1/llmnet/stats and checks /proc for what is left.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { BIN, exited, runCli, startLlmnet, startMock, stopAll, tempDir, waitFor, writeJson } from './lib.mjs';

const MOCK_BIN = path.resolve(BIN);

function mockRunner(extra = {}) {
  return { type: 'command', command: [MOCK_BIN, 'mock', '--port', '$PORT'], 'startup-timeout': 20, ...extra };
}

function composition(models, model = 'local') {
  return { models, architecture: [{ name: 'answer', layer: 0, model }] };
}

async function stats(url) {
  const res = await fetch(`${url}/v1/llmnet/stats`);
  return (await res.json()).runners;
}

async function readyRunner(url, name = 'local', { notPid = 0 } = {}) {
  return waitFor(
    async () => {
      const r = (await stats(url)).find((x) => x.name === name);
      return r && r.state === 'ready' && r.pid && r.pid !== notPid ? r : null;
    },
    { timeoutMs: 20000, what: `runner ${name} ready` },
  );
}

const alive = (pid) => existsSync(`/proc/${pid}`) && !/^\S+ \(.*\) Z/.test(safeRead(`/proc/${pid}/stat`));

function safeRead(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

// The live processes whose process group is `pgid`.
function groupMembers(pgid) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const stat = safeRead(`/proc/${d}/stat`);
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields.length > 2 && fields[0] !== 'Z' && Number(fields[2]) === pgid) out.push(Number(d));
  }
  return out;
}

async function ask(url) {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  return client.chat.completions.create({ model: 'answer', messages: [{ role: 'user', content: 'hello runner' }] });
}

const procs = [];
after(async () => {
  await stopAll(...procs);
});

describe('a command runner serving llmnet mock', () => {
  test('requests routed to it succeed; a killed runner is restarted; SIGTERM leaves no child', async () => {
    const llmnet = await startLlmnet(composition({ local: mockRunner() }), { args: ['--log-level', 'info'] });
    procs.push(llmnet);
    const first = await readyRunner(llmnet.url);
    assert.equal(first.type, 'command');
    assert.equal(first.restarts, 0);
    assert.ok(first.port > 0);
    const answer = await ask(llmnet.url);
    assert.match(answer.choices[0].message.content, /hello runner/);

    process.kill(first.pid, 'SIGKILL');
    const second = await readyRunner(llmnet.url, 'local', { notPid: first.pid });
    assert.ok(second.restarts >= 1, JSON.stringify(second));
    assert.equal(second.last_exit, 'signal 9');
    const again = await ask(llmnet.url);
    assert.match(again.choices[0].message.content, /hello runner/);
    const metrics = await (await fetch(`${llmnet.url}/metrics`)).text();
    assert.match(metrics, /llmnet_runner_state\{runner="local",state="ready"\} 1/);
    assert.match(metrics, /llmnet_runner_restarts_total\{runner="local"\} [1-9]/);
    assert.match(llmnet.stderr, /runner local: llmnet mock listening on/);

    assert.equal(await llmnet.stop(), 0);
    assert.equal(alive(second.pid), false, 'the runner outlived llmnet');
    assert.deepEqual(groupMembers(second.pid), []);
  });

  test('a calling request waits for a runner that is still starting', async () => {
    const llmnet = await startLlmnet(composition({ local: mockRunner() }));
    procs.push(llmnet);
    const answer = await ask(llmnet.url); // sent at once, while it may still be starting
    assert.match(answer.choices[0].message.content, /hello runner/);
    await llmnet.stop();
  });

  test('SIGKILL to llmnet leaves no child (death signal)', async () => {
    const llmnet = await startLlmnet(composition({ local: mockRunner() }));
    procs.push(llmnet);
    const r = await readyRunner(llmnet.url);
    llmnet.child.kill('SIGKILL');
    await exited(llmnet);
    await waitFor(() => !alive(r.pid) && groupMembers(r.pid).length === 0, { what: 'the runner to die with llmnet' });
  });

  test('a reload that removes the entry stops the runner', async () => {
    const mock = await startMock();
    procs.push(mock);
    const llmnet = await startLlmnet(composition({ local: mockRunner() }));
    procs.push(llmnet);
    const r = await readyRunner(llmnet.url);
    writeFileSync(
      llmnet.file,
      JSON.stringify(composition({ remote: { type: 'external', url: `${mock.url}/v1` } }, 'remote')),
    );
    llmnet.child.kill('SIGHUP');
    await waitFor(async () => (await stats(llmnet.url)).length === 0, { what: 'the runner to leave the stats' });
    await waitFor(() => !alive(r.pid), { what: 'the runner process to end' });
    assert.deepEqual(groupMembers(r.pid), []);
    await waitFor(
      async () => /llmnet_runner_state\{runner="local",state="ready"\} 0/.test(await (await fetch(`${llmnet.url}/metrics`)).text()),
      { what: 'the removed runner to leave the ready state in the metrics' },
    );
    const answer = await ask(llmnet.url);
    assert.ok(answer.choices[0].message.content.length > 0);
    await llmnet.stop();
  });

  test('a reload that changes the entry restarts it; one that keeps it keeps the process', async () => {
    const llmnet = await startLlmnet(composition({ local: mockRunner() }));
    procs.push(llmnet);
    const r = await readyRunner(llmnet.url);
    const config = composition({ local: mockRunner() });
    config.architecture[0]['extra-options'] = { temperature: 0 }; // the node changes, the runner does not
    writeFileSync(llmnet.file, JSON.stringify(config));
    llmnet.child.kill('SIGHUP');
    await waitFor(async () => {
      const res = await fetch(`${llmnet.url}/metrics`);
      return /llmnet_config_reloads_total\{result="ok"\} 1/.test(await res.text());
    }, { what: 'the first reload' });
    assert.equal((await readyRunner(llmnet.url)).pid, r.pid);
    writeFileSync(llmnet.file, JSON.stringify(composition({ local: mockRunner({ 'startup-timeout': 30 }) })));
    llmnet.child.kill('SIGHUP');
    const changed = await readyRunner(llmnet.url, 'local', { notPid: r.pid });
    assert.equal(changed.restarts, 0); // a new runner, not a restart of the old one
    await waitFor(() => !alive(r.pid), { what: 'the old runner to end' });
    const answer = await ask(llmnet.url);
    assert.match(answer.choices[0].message.content, /hello runner/);
    await llmnet.stop();
  });

  test('one that never becomes healthy is reported failed with the reason', async () => {
    const llmnet = await startLlmnet(
      composition({ local: { type: 'command', command: ['sleep', '1000'], 'startup-timeout': 1 } }),
    );
    procs.push(llmnet);
    const r = await waitFor(
      async () => (await stats(llmnet.url)).find((x) => x.state === 'failed' && x.error),
      { timeoutMs: 10000, what: 'the runner to fail' },
    );
    assert.match(r.error, /not healthy within 1 s/);
    assert.match(r.error, /startup-timeout/);
    assert.match(llmnet.stderr, /runner local: not healthy within 1 s/);
    const health = await (await fetch(`${llmnet.url}/health`)).json();
    assert.deepEqual(health.runners_starting, ['local']);
    const client = new OpenAI({ baseURL: `${llmnet.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    await assert.rejects(
      client.chat.completions.create({ model: 'answer', messages: [{ role: 'user', content: 'x' }] }),
      (e) => e.status >= 500 && /runner/.test(e.message),
    );
    await llmnet.stop();
    await waitFor(() => execFileSync('ps', ['-eo', 'args']).toString().split('\n').every((l) => l !== 'sleep 1000'), {
      what: 'sleep 1000 to end',
    });
  });
});

describe('clear errors', () => {
  test('a program that does not exist: a warning at validate, an error naming it at run', async () => {
    const file = writeJson(
      tempDir(),
      'c.json',
      composition({ local: { type: 'command', command: ['llmnet-no-such-program', '--port', '$PORT'] } }),
    );
    const v = await runCli(['validate', file]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /warning: .*model "local": the program "llmnet-no-such-program" is not found in PATH/);
    const run = await runCli([file, '--port', '0']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /error: .*the program "llmnet-no-such-program" is not found in PATH; check the path/);
    assert.match(run.stderr, /nothing started/);
  });

  test('a missing llama-cpp model file is named, with how to get one; a url on a runner is an error', async () => {
    const file = writeJson(
      tempDir(),
      'c.json',
      composition({ local: { type: 'llama-cpp', model: '/nonexistent/router.gguf' } }),
    );
    const v = await runCli(['validate', file]);
    assert.equal(v.code, 0, v.stdout);
    assert.match(v.stdout, /the model file "\/nonexistent\/router.gguf" does not exist.*never downloads/);
    const bad = writeJson(tempDir(), 'c.json', composition({ local: mockRunner({ url: 'http://127.0.0.1:1/v1' }) }));
    const vb = await runCli(['validate', bad]);
    assert.equal(vb.code, 1);
    assert.match(vb.stdout, /model "local": a runner \(type "command"\) has no "url"/);
  });
});

describe('presets: the command line they would run', () => {
  test('llama-cpp, ollama, vllm and docker fill command and health; each is overridable', async () => {
    const file = writeJson(tempDir(), 'c.json', {
      models: {
        router: { type: 'llama-cpp', model: '/models/qwen2.5-1.5b-instruct-q4_k_m.gguf', args: ['-c', '4096'] },
        oll: { type: 'ollama', model: 'qwen2.5:1.5b' },
        big: { type: 'vllm', model: 'Qwen/Qwen2.5-7B-Instruct' },
        box: { type: 'docker', engine: 'podman', image: 'localhost/llmnet:test', args: ['mock', '--port', '8080'] },
        mine: { type: 'llama-cpp', model: '/m.gguf', command: ['/opt/llama/llama-server', '-m', '$MODEL', '--port', '$PORT'], health: '/v1/models' },
      },
      architecture: [{ name: 'answer', layer: 0, model: 'router' }],
    });
    const v = await runCli(['validate', file]);
    assert.equal(v.code, 0, v.stdout);
    const lines = v.stdout.split('\n');
    const line = (name) => lines.find((l) => l.startsWith(`runner ${name} `));
    assert.equal(
      line('router'),
      'runner router (llama-cpp): llama-server -m $MODEL --host 127.0.0.1 --port $PORT -c 4096 (health /health, $MODEL /models/qwen2.5-1.5b-instruct-q4_k_m.gguf)',
    );
    assert.equal(line('oll'), 'runner oll (ollama): OLLAMA_HOST=127.0.0.1:$PORT ollama serve (health /api/version, $MODEL qwen2.5:1.5b)');
    assert.equal(
      line('big'),
      'runner big (vllm): vllm serve $MODEL --host 127.0.0.1 --port $PORT (health /health, $MODEL Qwen/Qwen2.5-7B-Instruct)',
    );
    assert.equal(
      line('box'),
      'runner box (docker): podman run --rm --name llmnet-box --label llmnet.runner=llmnet-box -p 127.0.0.1:$PORT:8080 localhost/llmnet:test mock --port 8080 (health /health)',
    );
    assert.equal(line('mine'), 'runner mine (llama-cpp): /opt/llama/llama-server -m $MODEL --port $PORT (health /v1/models, $MODEL /m.gguf)');
  });
});

// A container engine that can run containers here, or why not.
function engineOrReason() {
  for (const engine of ['podman', 'docker']) {
    const info = spawnSync(engine, ['info'], { encoding: 'utf8' });
    if (info.error || info.status !== 0) continue;
    return { engine };
  }
  return { reason: 'neither podman nor docker can reach a container engine here' };
}

describe('a docker runner', () => {
  test('runs a locally built image of llmnet mock and removes the container on stop', async (t) => {
    const found = engineOrReason();
    if (!found.engine) {
      console.log(`# docker runner test skipped: ${found.reason}`);
      t.skip(found.reason);
      return;
    }
    const { engine } = found;
    // the image: the llmnet binary and the libraries it links, on a base that is already here
    const base = spawnSync(engine, ['image', 'exists', 'docker.io/library/debian:bookworm-slim']);
    const hasBase =
      engine === 'podman'
        ? base.status === 0
        : spawnSync(engine, ['image', 'inspect', 'debian:bookworm-slim']).status === 0;
    if (!hasBase) {
      const why = `no debian:bookworm-slim image is present for ${engine} (the test never pulls)`;
      console.log(`# docker runner test skipped: ${why}`);
      t.skip(why);
      return;
    }
    const dir = tempDir();
    mkdirSync(path.join(dir, 'lib'));
    copyFileSync(MOCK_BIN, path.join(dir, 'llmnet'));
    const libs = execFileSync('ldd', [MOCK_BIN]).toString().matchAll(/=> (\/\S+)/g);
    for (const [, lib] of libs) copyFileSync(lib, path.join(dir, 'lib', path.basename(lib)));
    writeFileSync(
      path.join(dir, 'Dockerfile'),
      'FROM debian:bookworm-slim\nCOPY lib/ /opt/llmnet/lib/\nCOPY llmnet /usr/bin/llmnet\n' +
        'ENV LD_LIBRARY_PATH=/opt/llmnet/lib\nENTRYPOINT ["/usr/bin/llmnet"]\n',
    );
    const image = 'localhost/llmnet-runner-test:latest';
    const built = spawnSync(engine, ['build', '-q', '-t', image, dir], { encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    const probe = spawnSync(engine, ['run', '--rm', image, '--version'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      const why = `${engine} cannot run containers here: ${(probe.stderr || '').trim().split('\n').pop()}`;
      console.log(`# docker runner test skipped: ${why}`);
      t.skip(why);
      return;
    }
    const llmnet = await startLlmnet(
      composition({
        local: {
          type: 'docker',
          engine,
          image,
          args: ['mock', '--bind-addr', '0.0.0.0', '--port', '8080'],
          'startup-timeout': 60,
        },
      }),
    );
    procs.push(llmnet);
    const r = await readyRunner(llmnet.url);
    assert.equal(r.container, 'llmnet-local');
    const answer = await ask(llmnet.url);
    assert.match(answer.choices[0].message.content, /hello runner/);
    await llmnet.stop();
    const left = spawnSync(engine, ['ps', '-aq', '--filter', 'label=llmnet.runner=llmnet-local'], { encoding: 'utf8' });
    assert.equal(left.stdout.trim(), '', 'the container is still there');
  });
});
