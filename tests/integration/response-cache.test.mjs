// The response cache (docs/CONFIG.md "Response cache") with the real llmnet
// and `llmnet mock`, through the openai SDK and the AI SDK at their default
// settings: a plain hit makes no upstream call (not even the router's), a
// streamed request is answered from the cache as a stream, plain after
// streamed and streamed after plain, Cache-Control: no-cache bypasses the
// lookup, only temperature-0 answers are kept, a node may opt out, failures
// are never kept, the in-process cache evicts by bytes, x-llmnet-cache on
// every response, the Responses (plain and streamed) and Anthropic APIs
// through the same cache, streamed tool calls, cut streams, reloads, and two
// processes sharing one redis-server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import Anthropic from '@anthropic-ai/sdk';
import { createOpenAI } from '@ai-sdk/openai';
import { streamText } from 'ai';
import OpenAI from 'openai';

import { writeFileSync } from 'node:fs';

import { chat, endpoint, isAsanBuild, newRequestId, procStatusKiB, request, startLlmnet, startMock, startRedis, stopAll, upstreamCalls, waitFor } from './lib.mjs';

// What one 2 MB streamed answer may add to llmnet's peak memory: the relay's
// buffers and at most one 64 KiB cache entry being assembled, not the answer.
const HUGE_PEAK_MIB = 4; // measured: 0.7 MiB; assembling the whole answer would add 2-4 MiB

const RULES = {
  rules: [
    { when: { router: true, matches: 'python|code' }, route: 'technical' },
    { when: { model: 'broken-model' }, status: 500, error: 'the broken model is down' },
    { when: { contains: 'weather' }, 'tool-call': { name: 'get_weather', arguments: '{"city":"Paris"}' } },
    { when: { contains: 'cut me off' }, 'cut-after': 2 },
  ],
};

// A router over two temperature-0 handlers, plus nodes a request can name
// with "model": one without a temperature, one that opts out, one whose
// upstream fails.
function composition(mockUrl, cache = { ttl: 600 }) {
  // cache null: no "response-cache" at all
  const node = (name, override, extra = {}) => ({
    name,
    layer: 1,
    model: 'm',
    'use-case': `${name} questions`,
    'extra-options': { model_override: override, temperature: 0 },
    ...extra,
  });
  return {
    models: { m: endpoint(mockUrl, { retries: 0 }) },
    architecture: [
      { name: 'router', layer: 0, model: 'm', 'output-to': [1], 'extra-options': { model_override: 'router-model' } },
      node('creative', 'creative-model'),
      node('technical', 'tech-model'),
      { name: 'warm', layer: 2, model: 'm', 'extra-options': { model_override: 'warm-model' } },
      node('optout', 'optout-model', { layer: 2, 'response-cache': false }),
      node('broken', 'broken-model', { layer: 2 }),
      node('hooked', 'hooked-model', { layer: 2, hooks: { pre: [{ function: 'noop' }] } }),
      node('hooked-ok', 'hooked-model', { layer: 2, hooks: { pre: [{ function: 'noop' }] }, 'response-cache': true }),
    ],
    functions: { noop: { type: 'shell', command: '/bin/true' } },
    ...(cache === null ? {} : { 'response-cache': cache }),
  };
}

const unique = (what) => `${what} ${process.pid}-${Math.random().toString(36).slice(2)}`;

async function metric(url, line) {
  const text = (await request(url, '/metrics')).text;
  const m = text.match(new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : 0;
}

describe('response cache', () => {
  let mock;
  let llmnet;
  let client;

  before(async () => {
    mock = await startMock(RULES, ['--chunk-size', '3']);
    llmnet = await startLlmnet(composition(mock.url));
    client = new OpenAI({ baseURL: `${llmnet.url}/v1`, apiKey: 'unused' });
  });

  after(async () => {
    await stopAll(llmnet, mock);
  });

  // One chat completion through the openai SDK with its x-request-id;
  // returns the answer, the response headers and the upstream calls made.
  async function ask(body, headers = {}) {
    const rid = newRequestId('rc');
    const { data, response } = await client.chat.completions
      .create({ model: 'llmnet', ...body }, { headers: { 'x-request-id': rid, ...headers } })
      .withResponse();
    return { data, headers: response.headers, calls: await upstreamCalls(mock.url, rid) };
  }

  async function askStream(body, headers = {}) {
    const rid = newRequestId('rcs');
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'llmnet', ...body, stream: true, stream_options: { include_usage: true } }, { headers: { 'x-request-id': rid, ...headers } })
      .withResponse();
    let text = '';
    let finish = null;
    let usage = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (choice?.delta?.content) text += choice.delta.content;
      if (choice?.finish_reason) finish = choice.finish_reason;
    }
    return { text, finish, usage, chunks, headers: response.headers, calls: await upstreamCalls(mock.url, rid) };
  }

  it('a repeated request is answered from the cache: no upstream call, not even the router', async () => {
    const messages = [{ role: 'user', content: unique('Write a poem about the sea') }];
    const first = await ask({ messages });
    assert.equal(first.headers.get('x-llmnet-cache'), 'miss');
    assert.equal(first.calls.length, 2, 'router and handler');
    const second = await ask({ messages });
    assert.equal(second.headers.get('x-llmnet-cache'), 'hit');
    assert.equal(second.calls.length, 0, 'a hit calls nothing upstream');
    assert.equal(second.data.choices[0].message.content, first.data.choices[0].message.content);
    assert.equal(second.data.choices[0].finish_reason, 'stop');
    assert.notEqual(second.data.id, first.data.id, 'a hit has its own id');
    // the route stays meaningful; the trace says it was a hit and shows the original route
    assert.equal(second.headers.get('x-llmnet-route'), first.headers.get('x-llmnet-route'));
    assert.equal(second.data.llmnet.route, 'router>creative');
    const hop = second.data.llmnet.hops[0];
    assert.equal(hop.role, 'cache');
    assert.equal(hop.cache, 'hit');
    assert.equal(hop.route, 'router>creative');
    assert.ok(hop.hops.some((h) => h.node === 'creative' && h.role === 'answer'));
    // usage as the answer had it, at no cost
    assert.equal(second.data.usage.total_tokens, first.data.usage.total_tokens);
    assert.equal(second.data.usage.cost ?? 0, 0);
    // parameter order does not matter; stream_options and user do not count
    const reordered = await ask({ user: 'someone', messages });
    assert.equal(reordered.headers.get('x-llmnet-cache'), 'hit');
  });

  it('a streamed request is answered from the cache as a stream, and a plain one from a streamed answer', async () => {
    const messages = [{ role: 'user', content: unique('How do I sort a list in python?') }];
    const streamed = await askStream({ messages });
    assert.equal(streamed.headers.get('x-llmnet-cache'), 'miss');
    assert.equal(streamed.calls.length, 2);
    assert.match(streamed.text, /reply to: How do I sort/);
    // the streamed miss was assembled into a completion: a plain request hits it
    const plain = await ask({ messages });
    assert.equal(plain.headers.get('x-llmnet-cache'), 'hit');
    assert.equal(plain.calls.length, 0);
    assert.equal(plain.data.choices[0].message.content, streamed.text);
    assert.equal(plain.data.llmnet.route, 'router>technical');
    assert.equal(plain.data.usage.total_tokens, streamed.usage.total_tokens);
    // and a streamed request is replayed as a stream
    const again = await askStream({ messages });
    assert.equal(again.headers.get('x-llmnet-cache'), 'hit');
    assert.equal(again.headers.get('content-type'), 'text/event-stream');
    assert.equal(again.calls.length, 0);
    assert.equal(again.text, streamed.text);
    assert.equal(again.finish, 'stop');
    assert.ok(again.chunks >= 3, 'role and content, finish, usage');
    assert.equal(again.usage.total_tokens, streamed.usage.total_tokens);
    assert.equal(again.usage.cost ?? 0, 0);
  });

  it('the AI SDK streamText gets a plain answer replayed as a stream', async () => {
    const prompt = unique('Tell me a story about a fox');
    const plain = await ask({ messages: [{ role: 'user', content: prompt }] });
    assert.equal(plain.headers.get('x-llmnet-cache'), 'miss');
    const rid = newRequestId('rc-ai');
    let cacheHeader;
    const provider = createOpenAI({
      baseURL: `${llmnet.url}/v1`,
      apiKey: 'unused',
      headers: { 'x-request-id': rid },
      fetch: async (url, init) => {
        const res = await fetch(url, init);
        cacheHeader = res.headers.get('x-llmnet-cache');
        return res;
      },
    });
    const result = streamText({ model: provider.chat('llmnet'), prompt });
    let text = '';
    for await (const piece of result.textStream) text += piece;
    assert.equal(cacheHeader, 'hit');
    assert.equal(text, plain.data.choices[0].message.content);
    assert.equal(await result.finishReason, 'stop');
    assert.equal((await upstreamCalls(mock.url, rid)).length, 0);
  });

  it('a streamed tool call is kept whole and replayed, plain and streamed', async () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const messages = [{ role: 'user', content: unique('What is the weather in Paris?') }];
    const rid = newRequestId('rc-tool');
    const stream = await client.chat.completions.create(
      { model: 'creative', messages, tools, stream: true },
      { headers: { 'x-request-id': rid } },
    );
    let args = '';
    let name = '';
    let finish = null;
    for await (const chunk of stream) {
      const d = chunk.choices[0]?.delta;
      for (const tc of d?.tool_calls ?? []) {
        name += tc.function?.name ?? '';
        args += tc.function?.arguments ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(name, 'get_weather');
    assert.equal(finish, 'tool_calls');
    const plain = await ask({ model: 'creative', messages, tools });
    assert.equal(plain.headers.get('x-llmnet-cache'), 'hit');
    const call = plain.data.choices[0].message.tool_calls[0];
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), JSON.parse(args));
    assert.equal(plain.data.choices[0].finish_reason, 'tool_calls');
    // the openai SDK's stream helper rebuilds the call from the replayed stream
    const replayed = await client.chat.completions.stream({ model: 'creative', messages, tools });
    const final = await replayed.finalChatCompletion();
    assert.equal(final.choices[0].message.tool_calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(final.choices[0].message.tool_calls[0].function.arguments), JSON.parse(args));
    assert.equal(final.choices[0].finish_reason, 'tool_calls');
  });

  it('a stream the upstream cut is never kept', async () => {
    const messages = [{ role: 'user', content: unique('Please cut me off early') }];
    for (let i = 0; i < 2; i++) {
      const rid = newRequestId('rc-cut');
      const res = await fetch(`${llmnet.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': rid },
        body: JSON.stringify({ model: 'creative', messages, stream: true }),
      });
      assert.equal(res.headers.get('x-llmnet-cache'), 'miss');
      const text = await res.text();
      assert.doesNotMatch(text, /data: \[DONE\]/, 'the stream ended with an error, not [DONE]');
      assert.equal((await upstreamCalls(mock.url, rid)).length, 1, 'the model was asked again');
    }
  });

  it('Cache-Control: no-cache bypasses the lookup', async () => {
    const messages = [{ role: 'user', content: unique('A limerick about cats') }];
    await ask({ messages });
    const bypassed = await ask({ messages }, { 'Cache-Control': 'no-cache' });
    assert.equal(bypassed.headers.get('x-llmnet-cache'), 'bypass');
    // the pipeline ran (the router's decision may come from the decision cache)
    assert.ok(bypassed.calls.some((c) => c.body.model === 'creative-model'), 'the handler was called');
    const hit = await ask({ messages });
    assert.equal(hit.headers.get('x-llmnet-cache'), 'hit');
  });

  it('only answers made at temperature 0 are kept, the node\'s extra-options first', async () => {
    // "warm" sets no temperature: the client's decides
    const messages = [{ role: 'user', content: unique('Some warm words') }];
    for (let i = 0; i < 2; i++) {
      const r = await ask({ model: 'warm', messages });
      assert.equal(r.headers.get('x-llmnet-cache'), 'miss');
      assert.equal(r.calls.length, 1);
    }
    const hot = [{ role: 'user', content: unique('Some hot words') }];
    await ask({ model: 'warm', messages: hot, temperature: 0.7 });
    assert.equal((await ask({ model: 'warm', messages: hot, temperature: 0.7 })).headers.get('x-llmnet-cache'), 'miss');
    const cold = [{ role: 'user', content: unique('Some cold words') }];
    await ask({ model: 'warm', messages: cold, temperature: 0 });
    const hit = await ask({ model: 'warm', messages: cold, temperature: 0 });
    assert.equal(hit.headers.get('x-llmnet-cache'), 'hit');
    assert.equal(hit.calls.length, 0);
    // a client's temperature does not count where the node sets its own
    const overridden = [{ role: 'user', content: unique('Poem, overridden') }];
    await ask({ messages: overridden, temperature: 1.2 });
    assert.equal((await ask({ messages: overridden, temperature: 1.2 })).headers.get('x-llmnet-cache'), 'hit');
  });

  it('a node that says "response-cache": false is never cached', async () => {
    const messages = [{ role: 'user', content: unique('Opted out') }];
    for (let i = 0; i < 2; i++) {
      const r = await ask({ model: 'optout', messages });
      assert.equal(r.headers.get('x-llmnet-cache'), 'miss');
      assert.equal(r.calls.length, 1);
    }
  });

  it('a node that runs hooks is cached only where it says "response-cache": true', async () => {
    const messages = [{ role: 'user', content: unique('Hooked') }];
    for (let i = 0; i < 2; i++) {
      const r = await ask({ model: 'hooked', messages });
      assert.equal(r.headers.get('x-llmnet-cache'), 'miss');
      assert.equal(r.calls.length, 1);
    }
    assert.equal((await ask({ model: 'hooked-ok', messages })).headers.get('x-llmnet-cache'), 'miss');
    const hit = await ask({ model: 'hooked-ok', messages });
    assert.equal(hit.headers.get('x-llmnet-cache'), 'hit');
    assert.equal(hit.calls.length, 0);
  });

  it('failures are never cached', async () => {
    const messages = [{ role: 'user', content: unique('Please fail') }];
    for (let i = 0; i < 2; i++) {
      const rid = newRequestId('rc-fail');
      const res = await chat(llmnet.url, { model: 'broken', messages }, { 'x-request-id': rid });
      assert.ok(res.status >= 500, `status ${res.status}`);
      assert.equal(res.headers.get('x-llmnet-cache'), 'miss');
      assert.equal((await upstreamCalls(mock.url, rid)).length, 1, 'the failing model was asked again');
    }
  });

  it('hits, misses and bypasses are counted, with the bytes held and served', async () => {
    const hits = await metric(llmnet.url, 'llmnet_response_cache_requests_total{result="hit"}');
    const misses = await metric(llmnet.url, 'llmnet_response_cache_requests_total{result="miss"}');
    const served = await metric(llmnet.url, 'llmnet_response_cache_served_bytes_total');
    const messages = [{ role: 'user', content: unique('Count me') }];
    await ask({ messages });
    await ask({ messages });
    await ask({ messages }, { 'Cache-Control': 'no-cache' });
    assert.equal(await metric(llmnet.url, 'llmnet_response_cache_requests_total{result="hit"}'), hits + 1);
    assert.equal(await metric(llmnet.url, 'llmnet_response_cache_requests_total{result="miss"}'), misses + 1);
    assert.ok((await metric(llmnet.url, 'llmnet_response_cache_requests_total{result="bypass"}')) >= 1);
    assert.ok((await metric(llmnet.url, 'llmnet_response_cache_served_bytes_total')) > served);
    assert.ok((await metric(llmnet.url, 'llmnet_response_cache_bytes')) > 0);
  });

  it('a request the pipeline refuses says bypass', async () => {
    const res = await chat(llmnet.url, { messages: [] });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('x-llmnet-cache'), 'bypass');
  });

  it('the Responses API goes through the same cache', async () => {
    const input = unique('Write a poem about rivers');
    const first = await client.responses.create({ model: 'llmnet', input }).withResponse();
    assert.equal(first.response.headers.get('x-llmnet-cache'), 'miss');
    const rid = newRequestId('rc-resp');
    const second = await client.responses.create({ model: 'llmnet', input }, { headers: { 'x-request-id': rid } }).withResponse();
    assert.equal(second.response.headers.get('x-llmnet-cache'), 'hit');
    assert.equal(second.data.output_text, first.data.output_text);
    assert.equal((await upstreamCalls(mock.url, rid)).length, 0);
    // streamed: the stored answer replayed as the Responses API's events
    const srid = newRequestId('rc-resp-s');
    const { data: stream, response } = await client.responses
      .create({ model: 'llmnet', input, stream: true }, { headers: { 'x-request-id': srid } })
      .withResponse();
    assert.equal(response.headers.get('x-llmnet-cache'), 'hit');
    let text = '';
    let completed = false;
    for await (const ev of stream) {
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') completed = true;
    }
    assert.equal(text, first.data.output_text);
    assert.ok(completed);
    assert.equal((await upstreamCalls(mock.url, srid)).length, 0);
  });

  it('the Anthropic Messages API goes through the same cache', async () => {
    const anthropic = new Anthropic({ baseURL: llmnet.url, apiKey: 'unused' });
    const messages = [{ role: 'user', content: unique('A poem about mountains') }];
    const first = await anthropic.messages.create({ model: 'llmnet', max_tokens: 64, temperature: 0, messages }).withResponse();
    assert.equal(first.response.headers.get('x-llmnet-cache'), 'miss');
    const rid = newRequestId('rc-msg');
    const second = await anthropic.messages
      .create({ model: 'llmnet', max_tokens: 64, temperature: 0, messages }, { headers: { 'x-request-id': rid } })
      .withResponse();
    assert.equal(second.response.headers.get('x-llmnet-cache'), 'hit');
    assert.deepEqual(second.data.content, first.data.content);
    assert.equal((await upstreamCalls(mock.url, rid)).length, 0);
  });
});

describe('response cache bounds and sharing', () => {
  let mock;

  before(async () => {
    mock = await startMock(RULES);
  });

  after(async () => {
    await stopAll(mock);
  });

  it('without "response-cache" there is no x-llmnet-cache header and nothing is cached', async () => {
    const llmnet = await startLlmnet(composition(mock.url, null));
    try {
      const body = { messages: [{ role: 'user', content: unique('No cache here') }] };
      for (let i = 0; i < 2; i++) {
        const rid = newRequestId('rc-none');
        const res = await chat(llmnet.url, body, { 'x-request-id': rid });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('x-llmnet-cache'), null);
        const calls = await upstreamCalls(mock.url, rid);
        assert.ok(calls.some((c) => c.body.model === 'creative-model'), 'the handler was called');
      }
    } finally {
      await stopAll(llmnet);
    }
  });

  it('a hit takes nothing from a rate limit: it makes no upstream call', async () => {
    const cfg = {
      models: { limited: endpoint(mock.url, { retries: 0, 'rate-limit': { rpm: 1, 'max-wait': 0 } }) },
      architecture: [{ name: 'bot', layer: 0, model: 'limited', 'extra-options': { model_override: 'limited-model', temperature: 0 } }],
      'response-cache': true,
    };
    const llmnet = await startLlmnet(cfg);
    try {
      // rpm counts in calendar minutes: start early in one
      const second = new Date().getUTCSeconds();
      if (second > 50) await new Promise((r) => setTimeout(r, (61 - second) * 1000));
      const body = { messages: [{ role: 'user', content: unique('Within the limit') }] };
      const first = await chat(llmnet.url, body);
      assert.equal(first.status, 200, first.text);
      for (let i = 0; i < 3; i++) {
        const hit = await chat(llmnet.url, body);
        assert.equal(hit.status, 200, hit.text);
        assert.equal(hit.headers.get('x-llmnet-cache'), 'hit');
      }
      // the one request a minute was spent by the miss
      const other = await chat(llmnet.url, { messages: [{ role: 'user', content: unique('Over the limit') }] });
      assert.equal(other.status, 429, other.text);
      assert.equal(other.headers.get('x-llmnet-cache'), 'miss');
    } finally {
      await stopAll(llmnet);
    }
  });

  it('the in-process cache evicts the least recently used entry when max-bytes is reached', async () => {
    const llmnet = await startLlmnet(composition(mock.url, { 'max-bytes': 8192 }));
    try {
      const body = (i) => ({ model: 'creative', messages: [{ role: 'user', content: `evict ${i} ${'x'.repeat(200)}` }] });
      const status = async (i) => (await chat(llmnet.url, body(i))).headers.get('x-llmnet-cache');
      assert.equal(await status(0), 'miss');
      assert.equal(await status(0), 'hit');
      for (let i = 1; i < 12; i++) assert.equal(await status(i), 'miss');
      const bytes = await metric(llmnet.url, 'llmnet_response_cache_bytes');
      assert.ok(bytes > 0 && bytes <= 8192, `bytes held ${bytes}`);
      assert.equal(await status(11), 'hit', 'the newest entry is held');
      assert.equal(await status(0), 'miss', 'the first entry was evicted');
    } finally {
      await stopAll(llmnet);
    }
  });

  // An upstream streaming a 2 MB answer to a cacheable request: the cache
  // assembles at most LLN_CACHE_MAX_ENTRY (64 KiB) of it and then gives up,
  // so llmnet's peak memory stays bounded and nothing is kept.
  it('a huge streamed answer is relayed whole, not kept, and peak memory stays bounded (VmHWM)', async () => {
    const huge = 'word '.repeat(400000).trim();
    const big = await startMock({ rules: [{ when: { contains: 'huge answer' }, reply: huge }] }, ['--chunk-size', '2000']);
    const llmnet = await startLlmnet(composition(big.url));
    try {
      const client = new OpenAI({ baseURL: `${llmnet.url}/v1`, apiKey: 'unused' });
      const body = { model: 'creative', messages: [{ role: 'user', content: unique('a huge answer please') }] };
      const before = procStatusKiB(llmnet.child.pid, 'VmHWM');
      for (let i = 0; i < 2; i++) {
        const { data: stream, response } = await client.chat.completions.create({ ...body, stream: true }).withResponse();
        let text = '';
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
        assert.equal(text.length, huge.length, 'the whole answer reached the client');
        assert.equal(response.headers.get('x-llmnet-cache'), 'miss', 'an answer over the entry bound is never kept');
      }
      const grown = (procStatusKiB(llmnet.child.pid, 'VmHWM') - before) / 1024;
      console.log(`# two 2 MB streamed answers: llmnet's peak memory grew by ${grown.toFixed(1)} MiB (bound ${HUGE_PEAK_MIB} MiB)`);
      if (!isAsanBuild()) assert.ok(grown < HUGE_PEAK_MIB, `peak grew by ${grown.toFixed(1)} MiB, bound ${HUGE_PEAK_MIB} MiB`);
    } finally {
      await stopAll(llmnet, big);
    }
  });

  it('a reload keeps the entries, and one that changes max-bytes starts an empty cache', async () => {
    const cfg = composition(mock.url, { ttl: 600 });
    const llmnet = await startLlmnet(cfg, { args: ['--log-level', 'info'] });
    try {
      const reloads = () => (llmnet.stderr.match(/reloaded /g) ?? []).length;
      const body = { messages: [{ role: 'user', content: unique('Kept over reloads') }] };
      const status = async () => (await chat(llmnet.url, body)).headers.get('x-llmnet-cache');
      assert.equal(await status(), 'miss');
      assert.equal(await status(), 'hit');
      cfg['response-cache'] = { ttl: 300 };
      writeFileSync(llmnet.file, JSON.stringify(cfg));
      llmnet.child.kill('SIGHUP');
      await waitFor(() => reloads() === 1, { what: 'the first reload' });
      assert.equal(await status(), 'hit', 'the same max-bytes: the entries stay');
      cfg['response-cache'] = { ttl: 300, 'max-bytes': 1048576 };
      writeFileSync(llmnet.file, JSON.stringify(cfg));
      llmnet.child.kill('SIGHUP');
      await waitFor(() => reloads() === 2, { what: 'the second reload' });
      // a new max-bytes: a new, empty cache (once the workers have taken the reload)
      await waitFor(async () => (await status()) === 'miss', { what: 'a miss after the reload' });
      assert.equal(await status(), 'hit');
      delete cfg['response-cache'];
      writeFileSync(llmnet.file, JSON.stringify(cfg));
      llmnet.child.kill('SIGHUP');
      await waitFor(() => reloads() === 3, { what: 'the third reload' });
      await waitFor(async () => (await chat(llmnet.url, body)).headers.get('x-llmnet-cache') === null, {
        what: 'no x-llmnet-cache once the reload turned the cache off',
      });
    } finally {
      await stopAll(llmnet);
    }
  });

  it('two processes share the cache through one redis-server', async () => {
    const redis = await startRedis();
    const cfg = { ...composition(mock.url), server: { store: redis.url } };
    const a = await startLlmnet(cfg);
    const b = await startLlmnet(cfg);
    try {
      const body = { messages: [{ role: 'user', content: unique('A shared poem') }] };
      const first = await chat(a.url, body);
      assert.equal(first.headers.get('x-llmnet-cache'), 'miss');
      // the first process's write is not awaited by its client: give it a moment to land
      await new Promise((r) => setTimeout(r, 200));
      const rid = newRequestId('rc-redis');
      const second = await chat(b.url, body, { 'x-request-id': rid });
      assert.equal(second.headers.get('x-llmnet-cache'), 'hit');
      assert.equal(second.json.choices[0].message.content, first.json.choices[0].message.content);
      assert.equal((await upstreamCalls(mock.url, rid)).length, 0);
      const streamed = await fetch(`${b.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, stream: true }),
      });
      assert.equal(streamed.headers.get('x-llmnet-cache'), 'hit');
      assert.match(await streamed.text(), /data: \[DONE\]/);
    } finally {
      await stopAll(a, b);
      redis.stop();
    }
  });
});
