// Per-model rate limits: llmnet refuses or queues requests over a model's
// budget instead of spending the provider's quota (two processes sharing a
// budget through a real redis-server: store.test.mjs).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';

import {
  ask,
  assertOpenAIError,
  assertServes,
  awayFromMinuteEdge,
  mockRequests,
  startLlmnet,
  startMock,
  stopAll,
} from './lib.mjs';

function chatbot(mockUrl, rateLimit, server = {}) {
  return {
    models: {
      limited: { type: 'external', url: mockUrl, 'api-key': null, retries: 0, 'rate-limit': rateLimit },
    },
    architecture: [{ name: 'bot', layer: 0, model: 'limited', 'extra-options': { model_override: 'limited-model' } }],
    server,
  };
}

describe('rate limits in one process', () => {
  let mock;
  before(async () => {
    mock = await startMock(null);
  });
  after(() => stopAll(mock));

  it('refuses requests over rpm with 429 and Retry-After, without calling the upstream', async () => {
    const llmnet = await startLlmnet(chatbot(mock.url, { rpm: 2, 'max-wait': 0 }));
    await awayFromMinuteEdge();
    try {
      const before = (await mockRequests(mock.url)).length;
      assert.equal((await ask(llmnet.url)).status, 200);
      assert.equal((await ask(llmnet.url)).status, 200);
      const third = await ask(llmnet.url);
      assertOpenAIError(third, 429);
      assert.match(third.json.error.message, /rate limit/);
      assert.match(third.json.error.message, /rpm 2/);
      const wait = Number(third.headers.get('retry-after'));
      assert.ok(wait >= 1 && wait <= 60, `Retry-After ${third.headers.get('retry-after')}`);
      assert.equal((await mockRequests(mock.url)).length - before, 2, 'the refused request never reached the upstream');
      const metrics = await (await fetch(`${llmnet.url}/metrics`)).text();
      assert.match(metrics, /llmnet_rate_limit_refusals_total\{model="limited"\} 1/);
      await assert.rejects(assertServes(llmnet.url), 'the budget is spent for chat, but the server is up');
      assert.equal((await fetch(`${llmnet.url}/health`)).status, 200);
    } finally {
      await llmnet.stop();
    }
  });

  it('holds requests in a bounded queue and refuses past it', async () => {
    const llmnet = await startLlmnet(chatbot(mock.url, { rpm: 1, queue: 1, 'max-wait': 120 }));
    await awayFromMinuteEdge();
    try {
      assert.equal((await ask(llmnet.url)).status, 200);
      const controller = new AbortController();
      const waiting = fetch(`${llmnet.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'queued' }] }),
        signal: controller.signal,
      }).catch((e) => e);
      let metrics = '';
      for (let i = 0; i < 50 && !/rate_limit_waits_total\{model="limited"\} 1/.test(metrics); i++) {
        metrics = await (await fetch(`${llmnet.url}/metrics`)).text();
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.match(metrics, /llmnet_rate_limit_waits_total\{model="limited"\} 1/, 'the second request waits');
      const third = await ask(llmnet.url, 'no room');
      assertOpenAIError(third, 429);
      controller.abort();
      assert.equal((await waiting).name, 'AbortError');
      assert.equal((await fetch(`${llmnet.url}/health`)).status, 200);
    } finally {
      await llmnet.stop();
    }
  });
});

// Rate limits shared by two processes through Redis: store.test.mjs.
