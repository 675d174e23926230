// The Anthropic Messages door (issue 12, item 2): POST /v1/messages with the
// official @anthropic-ai/sdk at its default retry settings, against real
// llmnet and real `llmnet mock` upstreams (OpenAI-compatible chat
// completions). messages.create and messages.stream, a tool-use loop
// (tool_use -> tool_result -> answer), the seed pipeline (routed, a
// conversation pinned) and a node named as the model; errors as the SDK's
// error classes with the retries Anthropic's client makes when llmnet says
// x-should-retry; a stream cut by the upstream ends with an error event;
// x-api-key and Bearer keys. Each client counts its own HTTP attempts
// through a fetch wrapper (which drops Retry-After, so the SDK's retries
// wait its short default backoff instead of a rate limit's minute).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';

import {
  endpoint,
  isRoutingCall,
  mockRequests,
  newRequestId,
  overrideNode,
  seedConfig,
  sseEvents,
  startLlmnet,
  startMock,
  stopAll,
  upstreamCalls,
} from './lib.mjs';

const RULES = {
  rules: [
    // past llmnet's 15 s keep-alive interval: pings go out while routing runs
    { when: { router: true, contains: 'slow routing' }, route: 'technical-handler', 'delay-ms': 16000 },
    { when: { router: true, matches: 'poem|story' }, route: 'creative-handler' },
    { when: { router: true, matches: 'python|code|weather|linked list' }, route: 'technical-handler' },
    { when: { model: 'cut-stream' }, 'cut-after': 2, reply: 'alpha beta gamma delta epsilon zeta' },
    { when: { model: 'bad-tool' }, status: 400, raw: JSON.stringify({ error: { message: "Invalid schema for function 'get_weather'", type: 'invalid_request_error', param: 'tools[0]', code: 'invalid_function_parameters' } }) },
    { when: { model: 'storm-429' }, status: 429, 'retry-after': 1, error: 'rate limited, storm' },
    { when: { model: 'storm-500' }, status: 500, error: 'storm of 500s' },
    { when: { router: false, contains: 'tool result above' }, reply: 'It is sunny in Paris.' },
    { when: { router: false }, 'tool-call': { name: 'get_weather', arguments: { city: 'Paris' } } },
  ],
};

const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'The weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

let mock;
let gw; // the seed pipeline plus nodes for the error cases
let keyed; // the same behind server.api-keys

before(async () => {
  mock = await startMock(RULES);
  const cfg = seedConfig(mock.url);
  cfg.models.failing = endpoint(mock.url); // default retries
  cfg.models.limited = { ...endpoint(mock.url), 'rate-limit': { rpm: 1, 'max-wait': 0 } };
  cfg.architecture.push(
    overrideNode('cut-node', 'handler-llama', 'cut-stream'),
    overrideNode('bad-tool-node', 'failing', 'bad-tool'),
    overrideNode('storm-429-node', 'failing', 'storm-429'),
    overrideNode('storm-500-node', 'failing', 'storm-500'),
    overrideNode('limited-node', 'limited', 'limited-model'),
  );
  gw = await startLlmnet(cfg);
  keyed = await startLlmnet(seedConfig(mock.url, { server: { 'api-keys': ['secret-1'] } }));
});

after(async () => {
  await stopAll(gw, keyed, mock);
});

// An SDK client at its default retries; `attempts` counts the HTTP requests
// it made.
function client(server, { headers = {}, ...opts } = {}) {
  const counter = { attempts: 0 };
  const fetchCounted = async (url, init) => {
    counter.attempts += 1;
    const res = await fetch(url, init);
    if (!res.headers.has('retry-after')) return res;
    const h = new Headers(res.headers);
    h.delete('retry-after');
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers: h });
  };
  const c = new Anthropic({ baseURL: server.url, apiKey: 'unused', defaultHeaders: headers, fetch: fetchCounted, ...opts });
  return { c, counter };
}

async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('expected the call to fail');
}

async function routerCalls(rid) {
  return (await upstreamCalls(mock.url, rid)).filter(isRoutingCall).length;
}

describe('messages.create', () => {
  test('through the seed pipeline: routed, a message with text, usage and end_turn', async () => {
    const rid = newRequestId('anth-create');
    const { c } = client(gw, { headers: { 'x-request-id': rid } });
    const { data, response } = await c.messages
      .create({
        model: 'claude-sonnet-4-5',
        max_tokens: 256,
        system: 'You are terse.',
        messages: [{ role: 'user', content: 'How do I reverse a linked list in Python?' }],
      })
      .withResponse();
    assert.equal(response.headers.get('x-llmnet-route'), 'router>technical-handler');
    assert.equal(data.type, 'message');
    assert.equal(data.role, 'assistant');
    assert.match(data.id, /^msg_/);
    assert.equal(data.model, 'qwen/qwen3-coder:free', 'the model that answered');
    assert.equal(data.content.length, 1);
    assert.equal(data.content[0].type, 'text');
    assert.ok(data.content[0].text.length > 0);
    assert.equal(data.stop_reason, 'end_turn');
    assert.ok(data.usage.input_tokens > 0 && data.usage.output_tokens > 0, JSON.stringify(data.usage));
    const calls = await upstreamCalls(mock.url, rid);
    assert.equal(calls.filter(isRoutingCall).length, 1, 'one router call');
    const answer = calls.find((r) => !isRoutingCall(r));
    assert.deepEqual(answer.body.messages.slice(0, 2), [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'How do I reverse a linked list in Python?' },
    ]);
    assert.equal(answer.body.max_tokens, 256);
  });

  test('a multi-turn conversation is routed once, then pinned', async () => {
    const { c } = client(gw);
    const messages = [{ role: 'user', content: 'Write a short poem about the sea.' }];
    const routes = [];
    const before = (await mockRequests(mock.url)).filter(isRoutingCall).length;
    for (let turn = 0; turn < 3; turn++) {
      const { data, response } = await c.messages.create({ model: 'llmnet', max_tokens: 64, messages }).withResponse();
      routes.push(response.headers.get('x-llmnet-route'));
      messages.push({ role: 'assistant', content: data.content }, { role: 'user', content: `Another verse, please (${turn}).` });
    }
    assert.deepEqual(routes, ['router>creative-handler', 'router>creative-handler', 'router>creative-handler']);
    const after = (await mockRequests(mock.url)).filter(isRoutingCall).length;
    assert.equal(after - before, 1, 'one router call for three turns: later turns are pinned');
  });

  test('straight to a node: model "technical-handler", no router call', async () => {
    const rid = newRequestId('anth-node');
    const { c } = client(gw, { headers: { 'x-request-id': rid } });
    const { data, response } = await c.messages
      .create({ model: 'technical-handler', max_tokens: 64, messages: [{ role: 'user', content: 'hello' }] })
      .withResponse();
    assert.equal(response.headers.get('x-llmnet-route'), 'technical-handler');
    assert.equal(data.content[0].type, 'text');
    assert.equal(await routerCalls(rid), 0);
  });
});

describe('messages.stream', () => {
  test('text events and finalMessage, through the seed pipeline', async () => {
    const { c } = client(gw);
    const stream = c.messages.stream({
      model: 'llmnet',
      max_tokens: 128,
      messages: [{ role: 'user', content: 'Explain this python code: print(1)' }],
    });
    let text = '';
    stream.on('text', (t) => (text += t));
    const final = await stream.finalMessage();
    assert.ok(text.length > 0);
    assert.equal(final.content.length, 1);
    assert.equal(final.content[0].type, 'text');
    assert.equal(final.content[0].text, text);
    assert.equal(final.stop_reason, 'end_turn');
    assert.ok(final.usage.output_tokens > 0, JSON.stringify(final.usage));
  });

  test('straight to a node, raw events in Anthropic order', async () => {
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'anthropic-beta': 'whatever-2025' },
      body: JSON.stringify({ model: 'creative-handler', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /text\/event-stream/);
    const text = await res.text();
    const names = [...text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]).filter((n) => n !== 'ping');
    assert.equal(names[0], 'message_start');
    assert.equal(names[1], 'content_block_start');
    assert.equal(names.at(-3), 'content_block_stop');
    assert.deepEqual(names.slice(-2), ['message_delta', 'message_stop']);
    assert.ok(names.slice(2, -3).every((n) => n === 'content_block_delta'), names.join(','));
    const data = sseEvents(text).filter((e) => e.type !== 'ping');
    assert.equal(data.at(-2).delta.stop_reason, 'end_turn');
  });

  test('while routing runs, ping events keep the stream alive; the SDK reads the stream that follows', async () => {
    const body = { model: 'llmnet', max_tokens: 64, messages: [{ role: 'user', content: 'slow routing, then some python' }] };
    const raw = fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, stream: true }),
    }).then((r) => r.text());
    const viaSdk = client(gw).c.messages.stream(body).finalMessage();
    const [text, final] = await Promise.all([raw, viaSdk]);
    const names = [...text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
    assert.equal(names[0], 'ping', text.slice(0, 300));
    assert.deepEqual(sseEvents(text)[0], { type: 'ping' });
    assert.ok(!text.includes(': keep-alive'), 'no bare SSE comments');
    assert.equal(names.filter((n) => n !== 'ping')[0], 'message_start');
    assert.equal(names.at(-1), 'message_stop');
    assert.equal(final.stop_reason, 'end_turn');
    assert.ok(final.content[0].text.length > 0);
  });
});

describe('tool use', () => {
  test('messages.create: tool_use -> tool_result -> answer', async () => {
    const rid = newRequestId('anth-tools');
    const { c } = client(gw, { headers: { 'x-request-id': rid } });
    const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
    const first = await c.messages.create({ model: 'llmnet', max_tokens: 256, tools: [WEATHER_TOOL], messages });
    assert.equal(first.stop_reason, 'tool_use');
    const use = first.content.find((b) => b.type === 'tool_use');
    assert.ok(use, JSON.stringify(first.content));
    assert.equal(use.name, 'get_weather');
    assert.deepEqual(use.input, { city: 'Paris' });
    messages.push(
      { role: 'assistant', content: first.content },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: use.id, content: [{ type: 'text', text: 'sunny, 24C' }] },
          { type: 'text', text: 'Answer from the tool result above.' },
        ],
      },
    );
    const second = await c.messages.create({ model: 'llmnet', max_tokens: 256, tools: [WEATHER_TOOL], messages });
    assert.equal(second.stop_reason, 'end_turn');
    assert.equal(second.content[0].text, 'It is sunny in Paris.');
    // what the handler got: the tool call and its result as chat messages
    const last = (await upstreamCalls(mock.url, rid)).filter((r) => !isRoutingCall(r)).at(-1).body;
    const call = last.messages.find((m) => m.role === 'assistant');
    assert.equal(call.tool_calls[0].id, use.id);
    assert.deepEqual(JSON.parse(call.tool_calls[0].function.arguments), { city: 'Paris' });
    assert.deepEqual(
      last.messages.find((m) => m.role === 'tool'),
      { role: 'tool', tool_call_id: use.id, content: 'sunny, 24C' },
    );
    assert.equal(last.tools[0].function.name, 'get_weather');
    assert.deepEqual(last.tools[0].function.parameters, WEATHER_TOOL.input_schema);
  });

  test('messages.stream: a tool_use block with its input, then the answer; straight to a node', async () => {
    const { c } = client(gw);
    const messages = [{ role: 'user', content: 'Weather in Paris?' }];
    const first = await c.messages
      .stream({ model: 'technical-handler', max_tokens: 256, tools: [WEATHER_TOOL], tool_choice: { type: 'any' }, messages })
      .finalMessage();
    assert.equal(first.stop_reason, 'tool_use');
    const use = first.content.find((b) => b.type === 'tool_use');
    assert.deepEqual(use.input, { city: 'Paris' });
    messages.push(
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'sunny' }, { type: 'text', text: 'Use the tool result above.' }] },
    );
    const second = await c.messages.stream({ model: 'technical-handler', max_tokens: 256, tools: [WEATHER_TOOL], messages }).finalMessage();
    assert.equal(second.stop_reason, 'end_turn');
    assert.equal(second.content[0].text, 'It is sunny in Paris.');
  });
});

describe('errors: the SDK error classes and retries', () => {
  test("llmnet's own 400 (max_tokens missing): BadRequestError, invalid_request_error, not retried", async () => {
    const { c, counter } = client(gw);
    const err = await rejection(c.messages.create({ model: 'llmnet', messages: [{ role: 'user', content: 'hi' }] }));
    assert.ok(err instanceof Anthropic.BadRequestError, `${err?.constructor?.name}: ${err}`);
    assert.equal(err.error.type, 'error');
    assert.equal(err.error.error.type, 'invalid_request_error');
    assert.match(err.error.error.message, /max_tokens/);
    assert.equal(err.headers.get('x-should-retry'), 'false', 'every error says whether a retry helps');
    assert.equal(counter.attempts, 1);
  });

  test('an upstream 400 passes as BadRequestError after one upstream call', async () => {
    const rid = newRequestId('anth-400');
    const { c, counter } = client(gw, { headers: { 'x-request-id': rid } });
    const err = await rejection(c.messages.create({ model: 'bad-tool-node', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }));
    assert.ok(err instanceof Anthropic.BadRequestError, `${err?.constructor?.name}: ${err}`);
    assert.match(err.error.error.message, /Invalid schema for function 'get_weather'/);
    assert.equal(err.headers.get('x-should-retry'), 'false');
    assert.equal(counter.attempts, 1);
    assert.equal((await upstreamCalls(mock.url, rid)).length, 1);
  });

  test('a 429 storm: RateLimitError (rate_limit_error); x-should-retry false keeps the SDK from retrying', async () => {
    const rid = newRequestId('anth-429');
    const { c, counter } = client(gw, { headers: { 'x-request-id': rid } });
    const err = await rejection(c.messages.create({ model: 'storm-429-node', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }));
    assert.ok(err instanceof Anthropic.RateLimitError, `${err?.constructor?.name}: ${err}`);
    assert.equal(err.error.error.type, 'rate_limit_error');
    assert.equal(counter.attempts, 1, 'the SDK would retry a 429 twice without x-should-retry: false');
    assert.equal((await upstreamCalls(mock.url, rid)).length, 3, "llmnet's own attempts (retries: 2, the default)");
  });

  test('a 500 storm: a 502 InternalServerError (api_error), not retried by the SDK', async () => {
    const { c, counter } = client(gw);
    const err = await rejection(c.messages.create({ model: 'storm-500-node', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }));
    assert.ok(err instanceof Anthropic.InternalServerError, `${err?.constructor?.name}: ${err}`);
    assert.equal(err.status, 502);
    assert.equal(err.error.error.type, 'api_error');
    assert.match(err.error.error.message, /node "storm-500-node"/);
    assert.equal(counter.attempts, 1);
  });

  test("llmnet's own rate limit (x-should-retry: true): the SDK retries twice, then RateLimitError", async () => {
    const second = new Date().getUTCSeconds();
    if (second > 50) await new Promise((r) => setTimeout(r, (61 - second) * 1000)); // one rpm window
    const { c, counter } = client(gw);
    const ask = () => c.messages.create({ model: 'limited-node', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
    await ask(); // spends the budget of 1 rpm
    counter.attempts = 0;
    const err = await rejection(ask());
    assert.ok(err instanceof Anthropic.RateLimitError, `${err?.constructor?.name}: ${err}`);
    assert.equal(err.headers.get('x-should-retry'), 'true');
    assert.equal(counter.attempts, 3, 'the first try and the SDK default of 2 retries');
  });

  test('count_tokens is a clear 404 (NotFoundError) naming the paths llmnet serves', async () => {
    const { c, counter } = client(gw);
    const err = await rejection(c.messages.countTokens({ model: 'llmnet', messages: [{ role: 'user', content: 'hi' }] }));
    assert.ok(err instanceof Anthropic.NotFoundError, `${err?.constructor?.name}: ${err}`);
    assert.match(err.message, /unknown path \/v1\/messages\/count_tokens; llmnet serves .*POST \/v1\/messages/);
    assert.equal(counter.attempts, 1);
  });

  test('a stream cut by the upstream ends with an error event: the SDK throws, no message_stop', async () => {
    const { c } = client(gw);
    const stream = c.messages.stream({ model: 'cut-node', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    stream.on('text', (t) => (text += t));
    const err = await rejection(stream.finalMessage());
    assert.ok(err instanceof Anthropic.APIError, `${err?.constructor?.name}: ${err}`);
    assert.equal(err.error.error.type, 'api_error');
    assert.match(err.error.error.message, /node "cut-node"/);
    assert.ok(text.length > 0, 'the text before the cut arrived');

    const raw = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'cut-node', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const body = await raw.text();
    const names = [...body.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
    assert.equal(names.at(-1), 'error', body);
    assert.ok(!names.includes('message_stop'), body);
    assert.ok(!names.includes('message_delta'), body);
  });
});

describe('keys: x-api-key and Authorization with server.api-keys', () => {
  test('the SDK apiKey (x-api-key) and authToken (Bearer) pass; a wrong key is AuthenticationError', async () => {
    const ask = (c) => c.messages.create({ model: 'technical-handler', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
    const viaApiKey = client(keyed, { apiKey: 'secret-1' });
    assert.equal((await ask(viaApiKey.c)).type, 'message');
    const viaToken = client(keyed, { apiKey: null, authToken: 'secret-1' });
    assert.equal((await ask(viaToken.c)).type, 'message');
    const wrong = client(keyed, { apiKey: 'secret-2' });
    const err = await rejection(ask(wrong.c));
    assert.ok(err instanceof Anthropic.AuthenticationError, `${err?.constructor?.name}: ${err}`);
    assert.equal(err.error.error.type, 'authentication_error');
    assert.match(err.error.error.message, /x-api-key/);
    assert.equal(wrong.counter.attempts, 1);
  });
});

describe('the door label', () => {
  test('metrics count /v1/messages requests under door="messages", refusals included', async () => {
    const { c } = client(gw);
    await c.messages.create({ model: 'technical-handler', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
    await rejection(c.messages.create({ model: 'technical-handler', messages: [{ role: 'user', content: 'hi' }] }));
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(text, /^llmnet_requests_total\{entry="technical-handler",status="200",door="messages"\} \d+$/m);
    assert.match(text, /^llmnet_requests_total\{entry="[^"]+",status="400",door="messages"\} \d+$/m);
  });
});
