// Hook results and hook lifetimes: a transform hook's output must be UTF-8
// text (else it is a hook failure under its on_failure policy), and
// detached jobs (observe hooks) belong to the gateway, which ends them when
// it closes: a second SIGTERM exits at once and kills their process groups.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';

import OpenAI from 'openai';

import { assertOpenAIError, chat, exited, startLlmnet, startMock, stopAll, waitFor } from './lib.mjs';

describe('transform hook output must be UTF-8', () => {
  let mock;
  let llmnet;
  before(async () => {
    mock = await startMock(null);
    llmnet = await startLlmnet({
      models: { m: { type: 'external', url: mock.url, 'api-key': null } },
      functions: {
        // printf turns \377 into the byte 0xFF and \000 into a NUL
        latin1: { type: 'shell', command: '/usr/bin/printf', args: ['caf\\351 \\377'] },
        nul: { type: 'shell', command: '/usr/bin/printf', args: ['before\\000after'] },
        fine: { type: 'shell', command: '/usr/bin/printf', args: ['caf\\303\\251 ok'] },
        // JSON whose string holds the escape \u0000: cJSON would end the text there
        escnul: { type: 'shell', command: '/usr/bin/printf', args: ['{"output": "before\\\\u0000after"}'] },
      },
      architecture: [
        { name: 'entry', layer: 0, model: 'm', 'output-to': [1] },
        { name: 'abort-bad', layer: 1, model: 'm', if: '$INPUT contains "abort"', hooks: { pre: [{ function: 'latin1', mode: 'transform', on_failure: 'abort' }] } },
        { name: 'abort-nul', layer: 1, model: 'm', if: '$INPUT contains "nul"', hooks: { post: [{ function: 'nul', mode: 'transform', on_failure: 'abort' }] } },
        { name: 'continue-bad', layer: 1, model: 'm', if: '$INPUT contains "continue"', hooks: { pre: [{ function: 'latin1', mode: 'transform' }] } },
        { name: 'abort-escnul', layer: 1, model: 'm', if: '$INPUT contains "escaped"', hooks: { post: [{ function: 'escnul', mode: 'transform', on_failure: 'abort' }] } },
        { name: 'good', layer: 1, model: 'm', if: '$INPUT contains "good"', hooks: { pre: [{ function: 'fine', mode: 'transform' }] } },
      ],
    });
  });
  after(async () => {
    await stopAll(llmnet, mock);
  });

  it('on_failure abort: invalid UTF-8 from a pre transform is a 422 naming the hook', async () => {
    const res = await chat(llmnet.url, { messages: [{ role: 'user', content: 'abort please' }] });
    assertOpenAIError(res, 422);
    assert.match(res.json.error.message, /node "abort-bad": pre hook 1 \(function "latin1"\) failed: its output is not valid UTF-8/);
  });

  it('on_failure abort: a NUL in a post transform is a 502, not a silently cut answer', async () => {
    const res = await chat(llmnet.url, { messages: [{ role: 'user', content: 'nul please' }] });
    assertOpenAIError(res, 502);
    assert.match(res.json.error.message, /function "nul"\) failed: its output contains a NUL byte/);
  });

  it('on_failure abort: a \\u0000 escape in a JSON transform is a 502, not a silently cut answer', async () => {
    const res = await chat(llmnet.url, { messages: [{ role: 'user', content: 'escaped zero please' }] });
    assertOpenAIError(res, 502);
    assert.match(res.json.error.message, /function "escnul"\) failed: its JSON output is refused at byte \d+/);
  });

  it('on_failure continue: the input stays as it was, through the openai SDK', async () => {
    const client = new OpenAI({ baseURL: `${llmnet.url}/v1`, apiKey: 'unused' });
    const res = await client.chat.completions.create({ model: 'entry', messages: [{ role: 'user', content: 'continue please' }] });
    assert.match(res.choices[0].message.content, /reply to: continue please$/);
    await waitFor(() => /function "latin1"\) failed: its output is not valid UTF-8.*on_failure continue/.test(llmnet.stderr), {
      what: 'the hook failure in the log',
    });
  });

  it('valid UTF-8 still replaces the input', async () => {
    const res = await chat(llmnet.url, { messages: [{ role: 'user', content: 'good please' }] });
    assert.equal(res.status, 200, res.text);
    assert.match(res.json.choices[0].message.content, /reply to: café ok$/);
  });
});

// A process whose command line contains `pattern` is running.
function running(pattern) {
  try {
    execFileSync('pgrep', ['-f', pattern]);
    return true;
  } catch {
    return false;
  }
}

describe('detached hook jobs end with the gateway', () => {
  // unique arguments so pgrep finds only this test's processes
  const SLEEP_ARG = '120.271828';
  let mock;
  let holder;
  const held = [];
  before(async () => {
    mock = await startMock(null);
    // a REST endpoint that never answers: its observer is in flight at shutdown
    holder = http.createServer((req, res) => held.push(res));
    await new Promise((r) => holder.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    for (const res of held) res.destroy();
    holder.closeAllConnections();
    await new Promise((r) => holder.close(r));
    await stopAll(mock);
    // only if the test failed: end the processes it started, by id
    if (running(SLEEP_ARG)) {
      for (const pid of execFileSync('pgrep', ['-f', SLEEP_ARG]).toString().trim().split('\n')) process.kill(Number(pid), 'SIGKILL');
    }
  });

  it('SIGTERM then a second SIGTERM: llmnet exits, the observe hook process group is killed, the REST observer is settled', async () => {
    const llmnet = await startLlmnet({
      models: { m: { type: 'external', url: mock.url, 'api-key': null } },
      functions: {
        // a shell that starts a grandchild: the whole group must go
        slow: { type: 'shell', command: '/bin/sh', args: ['-c', `/bin/sleep ${SLEEP_ARG} & /bin/sleep ${SLEEP_ARG}`], timeout: 300 },
        hang: { type: 'rest', url: `http://127.0.0.1:${holder.address().port}/log`, body: { input: '$INPUT' }, timeout: 300 },
      },
      architecture: [
        {
          name: 'solo',
          layer: 0,
          model: 'm',
          hooks: { pre: [{ function: 'slow' }, { function: 'hang' }] },
        },
      ],
    });
    let exitedAlready = false;
    try {
      const res = await chat(llmnet.url, { messages: [{ role: 'user', content: 'observe me' }] });
      assert.equal(res.status, 200, 'observe hooks do not delay the request');
      await waitFor(() => running(SLEEP_ARG) && held.length > 0, { what: 'the observers to be running' });
      const done = exited(llmnet);
      llmnet.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      if (llmnet.child.exitCode === null) llmnet.child.kill('SIGTERM');
      // generous: the hook would run for 120 s and its timeout is 300 s
      const code = await Promise.race([done, new Promise((r) => setTimeout(() => r('still running'), 30000))]);
      assert.notEqual(code, 'still running', 'llmnet exited after the second SIGTERM');
      exitedAlready = true;
      await waitFor(() => !running(SLEEP_ARG), { what: 'the hook processes to be gone' });
      await waitFor(() => /function "hang"\) failed: cancelled: llmnet is shutting down/.test(llmnet.stderr), {
        what: 'the REST observer settled with the shutdown error',
      });
    } finally {
      if (!exitedAlready) llmnet.child.kill('SIGKILL');
      // sanitizer builds: a leaked observer or call is reported here
      await llmnet.stop();
    }
  });
});
