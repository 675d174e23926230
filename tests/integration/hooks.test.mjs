// Hooks and functions: examples/hooks.json against the mock (a shell
// validator, a REST logger, a shell transform), injection attempts that
// must stay literal text, a timeout that kills the child, failure modes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import OpenAI from 'openai';

import { ROOT, assertOpenAIError, chat, runCli, start, startLlmnet, startMock, tempDir, writeJson } from './lib.mjs';

const sink = async (mockUrl) => (await fetch(`${mockUrl}/mock/sink`)).json();

describe('examples/hooks.json', () => {
  let mock;
  let llmnet;
  before(async () => {
    mock = await startMock(null);
    llmnet = await start([path.join(ROOT, 'examples/hooks.json'), '--port', '0', '--log-level', 'warn'], {
      env: { LLMNET_MOCK_URL: mock.url },
    });
  });
  after(async () => {
    await llmnet?.stop();
    await mock?.stop();
  });

  it('runs the validator, the REST logger and the transform', async () => {
    const res = await chat(llmnet.url, { messages: [{ role: 'user', content: 'tell me about owls' }] }, { 'x-request-id': 'hooks-1' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.choices[0].message.content, '[MOCK-MODEL] REPLY TO: TELL ME ABOUT OWLS');
    let logged;
    for (let i = 0; i < 50 && !logged; i++) {
      logged = (await sink(mock.url)).find((e) => e.body?.request_id === 'hooks-1');
      if (!logged) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(logged, 'the observe hook posted to the sink');
    assert.deepEqual(logged.body, { request_id: 'hooks-1', node: 'chat', words: '4', text: 'tell me about owls' });
  });

  it('refuses what the validator refuses, naming the hook and function', async () => {
    const res = await chat(llmnet.url, { messages: [{ role: 'user', content: 'my password is hunter2' }] });
    assertOpenAIError(res, 422);
    assert.match(res.json.error.message, /pre hook 1 \(function "no-passwords"\) failed: exited with status 1/);
    const health = await fetch(`${llmnet.url}/health`);
    assert.equal(health.status, 200);
  });

  it('keeps user text literal in argv, JSON bodies and variables', async () => {
    const marker = path.join(tempDir(), 'pwned');
    const evil = `a; rm -rf ${marker} \`touch ${marker}\` $(touch ${marker}) "quoted" 'single'\nnew line $secrets.x.y $REQUEST_ID \\ end`;
    const res = await chat(llmnet.url, { messages: [{ role: 'user', content: evil }] }, { 'x-request-id': 'hooks-evil' });
    assert.equal(res.status, 200, res.text);
    let logged;
    for (let i = 0; i < 50 && !logged; i++) {
      logged = (await sink(mock.url)).find((e) => e.body?.request_id === 'hooks-evil');
      if (!logged) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(logged);
    assert.equal(logged.body.text, evil, 'the REST body carries the text byte for byte, nothing expanded');
    assert.equal(existsSync(marker), false, 'nothing in the text was run');
  });

  it('streams through a transform post hook (that hop is buffered)', async () => {
    const client = new OpenAI({ baseURL: `${llmnet.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'llmnet',
      stream: true,
      messages: [{ role: 'user', content: 'hello there' }],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.equal(text, '[MOCK-MODEL] REPLY TO: HELLO THERE');
  });
});

describe('hook failure modes', () => {
  let mock;
  let llmnet;
  let dir;
  before(async () => {
    mock = await startMock(null);
    dir = tempDir();
    const cfg = {
      models: { m: { type: 'external', url: mock.url, 'api-key': null } },
      functions: {
        hang: { type: 'shell', command: '/bin/sleep', args: ['31.4159'], timeout: 0.5 },
        fails: { type: 'shell', command: '/bin/false' },
        down: { type: 'rest', url: 'http://127.0.0.1:9/nothing', timeout: 1 },
        echo: { type: 'shell', command: '/bin/echo', args: ['changed by $NODE for $$5'] },
      },
      architecture: [
        {
          name: 'entry',
          layer: 0,
          model: 'm',
          'output-to': [1],
        },
        { name: 'abort-on-timeout', layer: 1, model: 'm', if: '$INPUT contains "hang"', hooks: { pre: [{ function: 'hang', mode: 'transform', on_failure: 'abort' }] } },
        { name: 'continue-on-failure', layer: 1, model: 'm', if: '$INPUT contains "fail"', hooks: { pre: [{ function: 'fails', mode: 'transform' }, { function: 'down', mode: 'transform' }] } },
        {
          name: 'rewrites',
          layer: 1,
          model: 'm',
          if: '$INPUT contains "rewrite"',
          hooks: {
            pre: [
              { function: 'echo', mode: 'transform', if: '$WORD_COUNT > 100' },
              { function: 'echo', mode: 'transform' },
            ],
          },
        },
      ],
    };
    llmnet = await startLlmnet(cfg);
  });
  after(async () => {
    await llmnet?.stop();
    await mock?.stop();
  });

  it('kills a hook that times out, with its children, and aborts with a clear error', async () => {
    const res = await chat(llmnet.url, { messages: [{ role: 'user', content: 'hang please' }] });
    assertOpenAIError(res, 422);
    assert.match(res.json.error.message, /function "hang"\) failed: timed out/);
    let alive = true;
    for (let i = 0; i < 20 && alive; i++) {
      try {
        execFileSync('pgrep', ['-f', 'sleep 31.4159']);
        await new Promise((r) => setTimeout(r, 50));
      } catch {
        alive = false;
      }
    }
    assert.equal(alive, false, 'the timed-out child was killed');
  });

  it('goes on after failing hooks with on_failure continue', async () => {
    const res = await chat(llmnet.url, { messages: [{ role: 'user', content: 'fail twice' }] });
    assert.equal(res.status, 200, res.text);
    assert.match(res.json.choices[0].message.content, /reply to: fail twice/);
  });

  it('replaces the input with a transform result, and skips hooks whose if is false', async () => {
    const res = await chat(llmnet.url, { messages: [{ role: 'user', content: 'rewrite this' }] });
    assert.equal(res.status, 200, res.text);
    assert.match(res.json.choices[0].message.content, /reply to: changed by rewrites for \$5$/);
    const metrics = await (await fetch(`${llmnet.url}/metrics`)).text();
    assert.match(metrics, /llmnet_hook_runs_total\{node="rewrites",function="echo",outcome="skipped"\} 1/);
    assert.match(metrics, /llmnet_hook_runs_total\{node="rewrites",function="echo",outcome="ok"\} 1/);
    assert.match(metrics, /llmnet_hook_runs_total\{node="abort-on-timeout",function="hang",outcome="failed"\}/);
  });
});

describe('validate reports hook mistakes', () => {
  it('names unknown functions and the unsupported grpc type', async () => {
    const file = writeJson(tempDir(), 'bad-hooks.json', {
      models: { m: { type: 'external', url: 'http://127.0.0.1:1', 'api-key': null } },
      functions: { ws: { type: 'websocket', url: 'ws://127.0.0.1:1' }, g: { type: 'grpc', address: '127.0.0.1:1' } },
      architecture: [{ name: 'a', layer: 0, model: 'm', hooks: { pre: [{ function: 'nope', 'on-failure': 'abort' }] } }],
    });
    const { code, stdout } = await runCli(['validate', file]);
    assert.equal(code, 1);
    assert.match(stdout, /hook function "nope" is not defined/);
    assert.match(stdout, /grpc function type is not supported/);
    assert.match(stdout, /unknown key "on-failure" is ignored; did you mean "on_failure"\?/);
  });
});
