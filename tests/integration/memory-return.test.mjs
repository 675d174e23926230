// Item 11: memory returns after large bodies. Each request's memory (its
// parsed body, the upstream bodies built from it, the parsed answers) lives
// in the request's arena, whose large blocks are unmapped when the request
// ends; large heap buffers are mmap-backed. So after a burst of 6 MiB
// requests llmnet's resident size comes back near its idle size. A relayed
// stream's chunks are parsed in a scratch arena reset after every read, so
// a long stream does not pile its chunks up in the request's arena.
//
// Issue 10: a streamed answer's output is bounded per stream, not by the
// stream's length. Chunks relayed in one loop turn are gathered into one
// write; what the kernel takes at once needs no write request; what waits
// (queued, or written with its completion callback pending) is counted, and
// past 256 KiB the upstream is paused until under 64 KiB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { chat, isAsanBuild, procStatusKiB, sleep, startLlmnet, startMock, stopAll } from './lib.mjs';

const BODY_BYTES = 6 * 1024 * 1024; // each request's message content
const REQUESTS = 20;
const CONCURRENCY = 4;
const SLACK_MIB = 32; // RSS allowed above the idle size once the burst is over

const STREAM_WORDS = 100000; // one chunk per word
// Peak RSS allowed above idle during that stream (22 MB of events).
// Measured: under +1 MiB with the output gathered per loop turn and every
// pending write counted for back-pressure; +41 MiB before (one write
// request per event, ~0.4 KiB each, all waiting for completion callbacks
// that run only after curl has read the whole stream, while libuv's queue
// size said 0); +234 MiB when the chunks piled up in the request's arena.
const STREAM_SLACK_MIB = 8;
// A client that stops reading now and then (PAUSES of PAUSE_MS each)
// while the upstream sends as fast as it can: the upstream waits.
const PAUSES = 3;
const PAUSE_MS = 300;

// Runs `body(llmnet)` against an llmnet whose mock streams STREAM_WORDS
// one-word chunks for "long stream", then checks that llmnet's peak RSS
// stayed within STREAM_SLACK_MIB of its size before `body`.
async function withLongStream(t, body) {
  const reply = 'w '.repeat(STREAM_WORDS).trim();
  const mock = await startMock({ rules: [{ when: { contains: 'long stream' }, reply }] }, ['--chunk-size', '1']);
  const llmnet = await startLlmnet(oneHop(mock.url));
  try {
    const pid = llmnet.child.pid;
    if (isAsanBuild()) {
      t.skip('ASan build: freed memory stays in its quarantine');
      return;
    }
    assert.equal((await chat(llmnet.url, { messages: [{ role: 'user', content: 'hi' }] })).status, 200);
    const idle = procStatusKiB(pid, 'VmHWM');
    await body(llmnet);
    const peak = procStatusKiB(pid, 'VmHWM');
    assert.ok(
      peak <= idle + STREAM_SLACK_MIB * 1024,
      `VmHWM during the stream reached ${(peak / 1024).toFixed(1)} MiB; before it ${(idle / 1024).toFixed(1)} MiB ` +
        `(bound: + ${STREAM_SLACK_MIB} MiB)`
    );
  } finally {
    await stopAll(llmnet, mock);
  }
}

const rssKiB = (pid) => procStatusKiB(pid, 'VmRSS');

function oneHop(mockUrl) {
  return {
    models: { mock: { type: 'external', interface: 'openai-api', url: mockUrl, 'api-key': 'k' } },
    architecture: [
      { name: 'chat', layer: 0, model: 'mock', adapter: 'openai-api', 'output-to': ['output'] },
      { name: 'output', adapter: 'output' },
    ],
  };
}


test('RSS returns to near idle after 20 requests with 6 MiB bodies', async (t) => {
  const mock = await startMock(null);
  const llmnet = await startLlmnet(oneHop(mock.url));
  try {
    const pid = llmnet.child.pid;
    if (isAsanBuild()) {
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

test('a stream of 100,000 chunks does not grow the request: peak RSS stays near idle', async (t) => {
  await withLongStream(t, async (llmnet) => {
    const res = await chat(llmnet.url, { stream: true, messages: [{ role: 'user', content: 'a long stream please' }] });
    assert.equal(res.status, 200);
    const events = res.text.split('\n\n').filter((e) => e.startsWith('data: '));
    assert.ok(events.length >= STREAM_WORDS, `only ${events.length} events arrived`);
    assert.equal(events.at(-1), 'data: [DONE]');
  });
});

test('a client reading a 100,000-chunk stream with pauses (openai SDK): the upstream waits, peak RSS stays near idle', async (t) => {
  await withLongStream(t, async (llmnet) => {
    const client = new OpenAI({ baseURL: `${llmnet.url}/v1`, apiKey: 'unused' });
    const stream = await client.chat.completions.create({
      model: 'llmnet',
      stream: true,
      messages: [{ role: 'user', content: 'a long stream please' }],
    });
    let words = 0;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks += 1;
      if ((chunk.choices[0]?.delta?.content ?? '').trim() === 'w') words += 1;
      // stop reading for a while: the socket buffers between us fill up
      if (chunks % Math.floor(STREAM_WORDS / (PAUSES + 1)) === 0 && chunks < STREAM_WORDS) await sleep(PAUSE_MS);
    }
    assert.equal(words, STREAM_WORDS, 'every word arrived');
  });
});
