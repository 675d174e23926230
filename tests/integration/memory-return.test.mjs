// Item 11: memory returns after large bodies. Each request's memory (its
// parsed body, the upstream bodies built from it, the parsed answers) lives
// in the request's arena, whose large blocks are unmapped when the request
// ends; large heap buffers are mmap-backed. So after a burst of 6 MiB
// requests llmnet's resident size comes back near its idle size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startMock, startLlmnet, chat, stopAll, sleep } from './lib.mjs';

const BODY_BYTES = 6 * 1024 * 1024; // each request's message content
const REQUESTS = 20;
const CONCURRENCY = 4;
const SLACK_MIB = 32; // RSS allowed above the idle size once the burst is over

function rssKiB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  return Number(m[1]);
}

// ASan keeps freed memory in a quarantine: resident size says nothing there.
function sanitized(pid) {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').includes('libasan');
}

test('RSS returns to near idle after 20 requests with 6 MiB bodies', async (t) => {
  const mock = await startMock(null);
  const llmnet = await startLlmnet({
    models: { mock: { type: 'external', interface: 'openai-api', url: mock.url, 'api-key': 'k' } },
    architecture: [
      { name: 'chat', layer: 0, model: 'mock', adapter: 'openai-api', 'output-to': ['output'] },
      { name: 'output', adapter: 'output' },
    ],
  });
  try {
    const pid = llmnet.child.pid;
    if (sanitized(pid)) {
      t.skip('ASan build: freed memory stays in its quarantine');
      return;
    }
    // one small request first, so the idle size includes warmed-up pools
    assert.equal((await chat(llmnet.url, { messages: [{ role: 'user', content: 'hi' }] })).status, 200);
    const idle = rssKiB(pid);
    const big = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(BODY_BYTES) }] });
    for (let sent = 0; sent < REQUESTS; sent += CONCURRENCY) {
      const batch = [];
      for (let i = 0; i < CONCURRENCY && sent + i < REQUESTS; i++) batch.push(chat(llmnet.url, big));
      for (const res of await Promise.all(batch)) assert.equal(res.status, 200, res.text.slice(0, 300));
    }
    await sleep(300); // the runs are released on the loop turn after their response
    const after = rssKiB(pid);
    const boundKiB = idle + SLACK_MIB * 1024;
    assert.ok(
      after <= boundKiB,
      `VmRSS after the burst is ${(after / 1024).toFixed(1)} MiB; idle was ${(idle / 1024).toFixed(1)} MiB ` +
        `(bound: idle + ${SLACK_MIB} MiB)`
    );
  } finally {
    await stopAll(llmnet, mock);
  }
});
