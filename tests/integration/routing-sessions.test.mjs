// Routing that follows conversations (issue 11): sessions and pins, turn
// and off modes, what the router reads, the streamed router call with its
// early decision, the reply table, the decision cache, pins shared through
// a real redis-server, and the metrics. Real llmnet, real `llmnet mock` as
// router and handlers, real clients (openai, the Vercel AI SDK, LangChain)
// at their default retry settings. Router calls are counted from the mock's
// log of the requests it received.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import { ChatOpenAI } from '@langchain/openai';
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, tool } from 'ai';
import { z } from 'zod';
import {
  chat,
  clearMock,
  completionBody,
  isRoutingCall,
  mockRequests,
  mockStats,
  request,
  seedConfig,
  sleep,
  startLlmnet,
  startMock,
  stopAll,
  waitFor,
  startRedis,
} from './lib.mjs';

const CREATIVE_MODEL = 'meta-llama/llama-3.3-70b-instruct:free';
const TECH_MODEL = 'qwen/qwen3-coder:free';

// The router answers by keywords in what it reads; a handler calls a tool
// whenever it is offered one.
const RULES = {
  rules: [
    { when: { router: true, contains: 'reply-think-lines' }, route: '<think>\ncreative-handler\n</think>\ntechnical-handler' },
    { when: { router: true, contains: 'reply-think' }, route: '<think>technical-handler? no, a poem</think>creative-handler' },
    { when: { router: true, contains: 'reply-negation' }, route: 'I think creative-handler, not technical-handler' },
    { when: { router: true, contains: 'reply-rather' }, route: 'technical-handler rather than creative-handler' },
    { when: { router: true, contains: 'reply-final-line' }, route: 'The user wants code.\nAnswer: technical-handler' },
    { when: { router: true, contains: 'reply-ambiguous' }, route: 'creative-handler or technical-handler' },
    {
      when: { router: true, contains: 'json-router' },
      raw: JSON.stringify(completionBody('google/gemma-3-27b-it:free', 'technical-handler')),
    },
    // a poem wins over code: the router reads the newest turn first, but the
    // previous exchange too
    { when: { router: true, matches: 'poem|story|haiku' }, route: 'creative-handler' },
    { when: { router: true, matches: 'python|code|bug|weather|linked list' }, route: 'technical-handler' },
    { when: { model: CREATIVE_MODEL, contains: 'explode' }, status: 500, error: 'creative-handler is down' },
    { when: { router: false }, 'tool-call': { name: 'get_weather', arguments: { city: 'Paris' } } },
  ],
};

let mock;
let session; // sticky "session" (the default)
let turn; // sticky "turn"
let off; // sticky "off", decision cache on
let offNoCache; // sticky "off", no decision cache

function config(routing, extra = {}) {
  const cfg = seedConfig(mock.url, extra);
  if (routing) cfg.routing = routing;
  // a pinned handler that fails falls back like any other
  cfg.architecture[1].fallback = 'technical-handler';
  return cfg;
}

before(async () => {
  mock = await startMock(RULES);
  session = await startLlmnet(config(null));
  turn = await startLlmnet(config({ sticky: 'turn' }));
  off = await startLlmnet(config({ sticky: 'off' }));
  offNoCache = await startLlmnet(config({ sticky: 'off', 'decision-cache': false }));
});

after(async () => {
  await stopAll(session, turn, off, offNoCache, mock);
});

async function received() {
  const all = await mockRequests(mock.url);
  return { router: all.filter(isRoutingCall), handlers: all.filter((r) => !isRoutingCall(r)) };
}

const routerHop = (body) => body.llmnet.hops.find((h) => h.role === 'router');
const openai = (gw, headers = {}) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', defaultHeaders: headers });

const FOLLOW_UPS = [
  'Can you add comments to it?',
  'Now make it iterative instead.',
  'Write a short poem about that code.',
  'Thanks! One more: what is its complexity?',
];

describe('session mode: one router call per conversation', () => {
  test('openai SDK: a 5-turn conversation makes exactly one router call; later turns are pinned', async () => {
    await clearMock(mock.url);
    const client = openai(session);
    const messages = [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'How do I reverse a linked list in Python?' },
    ];
    const decided = [];
    for (let t = 0; t < 5; t++) {
      const res = await client.chat.completions.create({ model: 'llmnet', messages }).withResponse();
      assert.equal(res.response.headers.get('x-llmnet-route'), 'router>technical-handler', `turn ${t + 1}`);
      decided.push(routerHop(res.data).decided);
      messages.push({ role: 'assistant', content: res.data.choices[0].message.content });
      if (t < 4) messages.push({ role: 'user', content: FOLLOW_UPS[t] });
    }
    assert.deepEqual(decided, ['router', 'pin', 'pin', 'pin', 'pin']);
    const { router, handlers } = await received();
    assert.equal(router.length, 1, 'one router call for five turns');
    assert.equal(handlers.length, 5);
    assert.ok(handlers.every((h) => h.body.model === TECH_MODEL));
  });

  test('the Vercel AI SDK: a 5-turn conversation makes exactly one router call', async () => {
    await clearMock(mock.url);
    const model = createOpenAI({ baseURL: `${session.url}/v1`, apiKey: 'unused' }).chat('llmnet');
    const messages = [{ role: 'user', content: 'Write a poem about the sea at night' }];
    for (let t = 0; t < 5; t++) {
      const result = await generateText({ model, messages });
      messages.push({ role: 'assistant', content: result.text });
      if (t < 4) messages.push({ role: 'user', content: FOLLOW_UPS[t] });
    }
    const { router, handlers } = await received();
    assert.equal(router.length, 1);
    assert.equal(handlers.length, 5);
    assert.ok(handlers.every((h) => h.body.model === CREATIVE_MODEL), 'pinned to the first decision');
  });

  test('LangChain: a 5-turn conversation makes exactly one router call', async () => {
    await clearMock(mock.url);
    const llm = new ChatOpenAI({ model: 'llmnet', apiKey: 'unused', configuration: { baseURL: `${session.url}/v1` } });
    const messages = [new HumanMessage('There is a bug in my python code: it loops forever')];
    for (let t = 0; t < 5; t++) {
      const reply = await llm.invoke(messages);
      messages.push(new AIMessage(reply.content));
      if (t < 4) messages.push(new HumanMessage(FOLLOW_UPS[t]));
    }
    const { router, handlers } = await received();
    assert.equal(router.length, 1);
    assert.equal(handlers.length, 5);
    assert.ok(handlers.every((h) => h.body.model === TECH_MODEL));
  });

  const TOOLS = [
    {
      type: 'function',
      function: { name: 'get_weather', description: 'The weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
    },
  ];

  test('openai SDK: a 10-step tool loop makes exactly one router call', async () => {
    await clearMock(mock.url);
    const client = openai(session);
    const messages = [{ role: 'user', content: 'What is the weather in ten cities? Use the tool.' }];
    const decided = [];
    for (let step = 0; step < 10; step++) {
      const res = await client.chat.completions.create({ model: 'llmnet', messages, tools: TOOLS });
      decided.push(routerHop(res).decided);
      const msg = res.choices[0].message;
      assert.ok(msg.tool_calls && msg.tool_calls.length, `step ${step + 1} asks for a tool`);
      messages.push(msg);
      for (const call of msg.tool_calls) messages.push({ role: 'tool', tool_call_id: call.id, content: `sunny, step ${step + 1}` });
    }
    assert.deepEqual(decided, ['router', ...Array(9).fill('pin')]);
    const { router, handlers } = await received();
    assert.equal(router.length, 1, 'one router call for the whole agent loop');
    assert.equal(handlers.length, 10);
  });

  test('the Vercel AI SDK: a 10-step tool loop (stepCountIs(10)) makes exactly one router call', async () => {
    await clearMock(mock.url);
    const model = createOpenAI({ baseURL: `${session.url}/v1`, apiKey: 'unused' }).chat('llmnet');
    let runs = 0;
    const result = await generateText({
      model,
      prompt: 'Check the weather in Paris again and again, please.',
      tools: {
        get_weather: tool({
          description: 'The weather in a city',
          inputSchema: z.object({ city: z.string() }),
          execute: async ({ city }) => `sunny in ${city} (${++runs})`,
        }),
      },
      stopWhen: stepCountIs(10),
    });
    assert.equal(result.steps.length, 10);
    assert.equal(runs, 10);
    const { router, handlers } = await received();
    assert.equal(router.length, 1);
    assert.equal(handlers.length, 10);
  });

  test('LangChain: a 10-step tool loop makes exactly one router call', async () => {
    await clearMock(mock.url);
    const llm = new ChatOpenAI({ model: 'llmnet', apiKey: 'unused', configuration: { baseURL: `${session.url}/v1` } }).bindTools(TOOLS);
    const messages = [new HumanMessage('Weather for a python script, ten cities please')];
    for (let step = 0; step < 10; step++) {
      const reply = await llm.invoke(messages);
      assert.ok(reply.tool_calls.length, `step ${step + 1} asks for a tool`);
      messages.push(reply);
      for (const call of reply.tool_calls) messages.push(new ToolMessage({ content: 'sunny', tool_call_id: call.id }));
    }
    const { router, handlers } = await received();
    assert.equal(router.length, 1);
    assert.equal(handlers.length, 10);
  });
});

describe('turn and off modes', () => {
  test('turn mode routes each new user turn with the previous exchange; its tool turns follow the pin', async () => {
    await clearMock(mock.url);
    const messages = [{ role: 'user', content: 'How do I reverse a linked list in Python?' }];
    const routes = [];
    const decided = [];
    for (const next of ['Now write a poem about the sea', null]) {
      const res = await chat(turn.url, { messages });
      assert.equal(res.status, 200, res.text);
      routes.push(res.headers.get('x-llmnet-route'));
      decided.push(routerHop(res.json).decided);
      messages.push({ role: 'assistant', content: res.json.choices[0].message.content });
      if (next) messages.push({ role: 'user', content: next });
    }
    assert.deepEqual(routes, ['router>technical-handler', 'router>creative-handler'], 'each user turn routed again');
    // the second turn's router read the new turn first, then the previous exchange
    const { router } = await received();
    assert.equal(router.length, 2);
    const read = router[1].body.messages[1].content;
    assert.ok(read.includes('Now write a poem about the sea'), read);
    assert.ok(read.includes('reverse a linked list'), `the previous exchange is context: ${read}`);
    assert.ok(read.indexOf('Now write a poem') < read.indexOf('reverse a linked list'), `newest first: ${read}`);

    // a tool result continues on the turn's handler without a router call
    await clearMock(mock.url);
    messages.push({ role: 'user', content: 'Now the weather please' });
    const first = await chat(turn.url, { messages, tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }] });
    assert.equal(first.status, 200, first.text);
    assert.equal(routerHop(first.json).decided, 'router');
    const call = first.json.choices[0].message.tool_calls[0];
    messages.push(first.json.choices[0].message, { role: 'tool', tool_call_id: call.id, content: 'sunny' });
    const toolTurn = await chat(turn.url, { messages, tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }] });
    assert.equal(toolTurn.status, 200, toolTurn.text);
    assert.equal(routerHop(toolTurn.json).decided, 'pin');
    assert.equal((await received()).router.length, 1);
  });

  test('off mode routes every request on its own', async () => {
    await clearMock(mock.url);
    const messages = [{ role: 'user', content: 'How do I fix this python bug in my parser?' }];
    const decided = [];
    for (let t = 0; t < 3; t++) {
      const res = await chat(offNoCache.url, { messages });
      assert.equal(res.status, 200, res.text);
      decided.push(routerHop(res.json).decided);
      messages.push({ role: 'assistant', content: res.json.choices[0].message.content });
      messages.push({ role: 'user', content: FOLLOW_UPS[t] });
    }
    assert.deepEqual(decided, ['router', 'router', 'router']);
    assert.equal((await received()).router.length, 3);
  });
});

describe('sessions', () => {
  test('x-session-id pins across conversations; without it the fingerprint of the opening does', async () => {
    await clearMock(mock.url);
    const sid = { 'x-session-id': `sess-${process.pid}-a` };
    const poem = await chat(session.url, { messages: [{ role: 'user', content: 'Write a poem about autumn leaves' }] }, sid);
    assert.equal(poem.headers.get('x-llmnet-route'), 'router>creative-handler');
    // another opening, the same session id: the pin holds
    const code = await chat(session.url, { messages: [{ role: 'user', content: 'How do I fix this python bug, session a?' }] }, sid);
    assert.equal(code.headers.get('x-llmnet-route'), 'router>creative-handler');
    assert.equal(routerHop(code.json).decided, 'pin');
    // the same opening without the header: its own fingerprint, routed on its own
    const fresh = await chat(session.url, { messages: [{ role: 'user', content: 'How do I fix this python bug, session a?' }] });
    assert.equal(fresh.headers.get('x-llmnet-route'), 'router>technical-handler');
    assert.equal(routerHop(fresh.json).decided, 'router');
    // tool-call ids and assistant turns do not change the fingerprint
    const followUp = await chat(session.url, {
      messages: [
        { role: 'user', content: 'How do I fix this python bug, session a?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_x1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_x1', content: 'done' },
        { role: 'user', content: 'Now write a poem about it' },
      ],
    });
    assert.equal(followUp.headers.get('x-llmnet-route'), 'router>technical-handler');
    assert.equal(routerHop(followUp.json).decided, 'pin');
    assert.equal((await received()).router.length, 2);
  });

  test('the session id goes upstream as x-session-id on the router call and the handler call', async () => {
    await clearMock(mock.url);
    await chat(offNoCache.url, { messages: [{ role: 'user', content: 'Write a haiku about the sea' }] }, { 'x-session-id': 'client-session-7' });
    const opening = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Write a haiku about rivers' }];
    await chat(offNoCache.url, { messages: opening });
    await chat(offNoCache.url, { messages: [...opening, { role: 'assistant', content: 'Water runs' }, { role: 'user', content: 'Another one' }] });
    const all = await mockRequests(mock.url);
    assert.equal(all.length, 6);
    assert.ok(isRoutingCall(all[0]) && !isRoutingCall(all[1]));
    assert.equal(all[0].headers['x-session-id'], 'client-session-7');
    assert.equal(all[1].headers['x-session-id'], 'client-session-7');
    // no header: the fingerprint, the same on every turn of the conversation
    const fp = all[2].headers['x-session-id'];
    assert.match(fp, /^[0-9a-f]{64}$/);
    assert.deepEqual(all.slice(2).map((r) => r.headers['x-session-id']), [fp, fp, fp, fp]);
  });

  test('an invalid x-session-id is a 400 naming the header and the rule', async () => {
    const res = await chat(session.url, { messages: [{ role: 'user', content: 'hi' }] }, { 'x-session-id': 'x'.repeat(257) });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json.error.type, 'invalid_request_error');
    assert.match(res.json.error.message, /x-session-id/);
    assert.match(res.json.error.message, /1 to 256 printable ASCII/);
    const spaced = await chat(session.url, { messages: [{ role: 'user', content: 'hi' }] }, { 'x-session-id': 'ok-id' });
    assert.equal(spaced.status, 200, spaced.text);
  });

  test('a pin expires after session-ttl idle seconds', async () => {
    const gw = await startLlmnet(config({ 'session-ttl': 1, 'decision-cache': false }));
    try {
      await clearMock(mock.url);
      const messages = [{ role: 'user', content: 'How do I reverse a linked list in Python? (ttl)' }];
      const first = await chat(gw.url, { messages });
      messages.push({ role: 'assistant', content: first.json.choices[0].message.content }, { role: 'user', content: 'And in C?' });
      const soon = await chat(gw.url, { messages });
      assert.equal(routerHop(soon.json).decided, 'pin', 'within the ttl');
      await sleep(2100);
      const late = await chat(gw.url, { messages });
      assert.equal(routerHop(late.json).decided, 'router', 'after the ttl the session is routed again');
      assert.equal((await received()).router.length, 2);
    } finally {
      await stopAll(gw);
    }
  });

  test('a pin naming a node that is no longer a candidate is ignored: the turn is routed anew', async () => {
    const cfg = config(null);
    cfg.architecture[2].if = '$WORD_COUNT >= 3'; // technical-handler: only for three words or more
    cfg.architecture.push({ name: 'general-handler', layer: 1, model: 'handler-llama', 'use-case': 'Anything else' });
    const gw = await startLlmnet(cfg);
    try {
      await clearMock(mock.url);
      const messages = [{ role: 'user', content: 'How do I reverse a linked list in Python? (stale pin)' }];
      const first = await chat(gw.url, { messages });
      assert.equal(first.headers.get('x-llmnet-route'), 'router>technical-handler');
      messages.push({ role: 'assistant', content: 'like so' }, { role: 'user', content: 'Thanks!' });
      const second = await chat(gw.url, { messages });
      assert.equal(second.status, 200, second.text);
      // the router was asked again (its keyword rule still names technical-handler,
      // no longer a candidate, so the default target answers)
      assert.notEqual(routerHop(second.json).decided, 'pin', 'the pin names a node its condition ruled out');
      assert.equal(routerHop(second.json).model, 'google/gemma-3-27b-it:free', 'a router call');
      assert.notEqual(second.headers.get('x-llmnet-route'), 'router>technical-handler');
      assert.equal((await received()).router.length, 2);
    } finally {
      await stopAll(gw);
    }
  });

  test('a pinned handler that fails falls back exactly as an unpinned one', async () => {
    await clearMock(mock.url);
    const messages = [{ role: 'user', content: 'Write a poem about the sea, pinned' }];
    const first = await chat(session.url, { messages });
    assert.equal(first.headers.get('x-llmnet-route'), 'router>creative-handler');
    messages.push({ role: 'assistant', content: 'waves' }, { role: 'user', content: 'explode now, please' });
    const pinned = await chat(session.url, { messages });
    // the same failure in a conversation of its own, routed by the router
    const unpinned = await chat(session.url, { messages: [{ role: 'user', content: 'Write a poem about the sea, then explode' }] });
    assert.equal(routerHop(pinned.json).decided, 'pin');
    assert.equal(routerHop(unpinned.json).decided, 'router');
    assert.equal(pinned.status, 200, pinned.text);
    assert.equal(pinned.status, unpinned.status);
    assert.equal(pinned.headers.get('x-llmnet-route'), unpinned.headers.get('x-llmnet-route'));
    assert.equal(pinned.json.model, TECH_MODEL);
    const fellBack = (body) => body.llmnet.hops.filter((h) => h.fallback).map((h) => h.fallback);
    assert.deepEqual(fellBack(pinned.json), ['technical-handler']);
    assert.deepEqual(fellBack(pinned.json), fellBack(unpinned.json));
  });
});

describe('what the router reads', () => {
  test('no user text (system-only, image-only): no router call, the default target answers', async () => {
    await clearMock(mock.url);
    // (not the session gateway: the failing test above opened creative-handler's circuit there)
    const systemOnly = await chat(turn.url, { messages: [{ role: 'system', content: 'You are a poet.' }] });
    const imageOnly = await chat(turn.url, {
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] }],
    });
    for (const res of [systemOnly, imageOnly]) {
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('x-llmnet-route'), 'router>creative-handler', 'the first candidate is the default');
      assert.equal(routerHop(res.json).decided, 'no-input');
    }
    const { router, handlers } = await received();
    assert.equal(router.length, 0, 'no router call for an empty input');
    assert.equal(handlers.length, 2);
  });

  test('a 225 KB paste: the router reads at most max-input-chars (the routing node may set its own)', async () => {
    const cfg = config(null);
    cfg.architecture[0].routing = { 'max-input-chars': 1000 };
    const gw = await startLlmnet(cfg);
    try {
      await clearMock(mock.url);
      const paste = `Please fix this python bug.\n${'def f(x):\n    return x + 1  # lorem ipsum dolor\n'.repeat(4800)}\nThe end of the paste.`;
      assert.ok(Buffer.byteLength(paste) > 225 * 1024);
      const res = await chat(gw.url, { messages: [{ role: 'user', content: paste }] });
      assert.equal(res.status, 200, res.text);
      const { router } = await received();
      assert.equal(router.length, 1);
      const read = router[0].body.messages[1].content;
      assert.ok([...read].length <= 1000, `the router read ${[...read].length} characters`);
      assert.ok(read.includes('Please fix this python bug'), 'the head is kept');
      assert.ok(read.includes('The end of the paste.'), 'the tail is kept');
      assert.equal(router[0].body.max_tokens, 64, 'a router call asks for at most 64 tokens');
      assert.equal(router[0].body.stream, true, 'the router call is streamed');
    } finally {
      await stopAll(gw);
    }
  });
});

describe('the router call', () => {
  const table = [
    ['reply-think', 'router>creative-handler', 'router', 'a reasoning block is dropped'],
    ['reply-think-lines', 'router>technical-handler', 'router', 'a name on a line inside a reasoning block does not decide early'],
    ['reply-negation', 'router>creative-handler', 'router', 'a mention after "not" is ignored'],
    ['reply-rather', 'router>technical-handler', 'router', 'a mention after "rather than" is ignored'],
    ['reply-final-line', 'router>technical-handler', 'router', 'the final answer line decides'],
    ['reply-ambiguous', 'router>technical-handler', 'ambiguous', 'two names and nothing picking one: the default target'],
    ['json-router', 'router>technical-handler', 'router', 'an upstream answering JSON instead of an event stream'],
  ];
  let withDefault;
  before(async () => {
    const cfg = config({ sticky: 'off', 'decision-cache': false });
    cfg.architecture[2].default = true;
    withDefault = await startLlmnet(cfg);
  });
  after(async () => {
    await stopAll(withDefault);
  });
  for (const [tag, route, decided, what] of table) {
    test(`router replies: ${what} (${tag})`, async () => {
      const res = await chat(withDefault.url, { messages: [{ role: 'user', content: `Please handle this ${tag} request` }] });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('x-llmnet-route'), route);
      const hop = routerHop(res.json);
      assert.equal(hop.decided, decided);
      if (decided === 'ambiguous') assert.equal(hop.reason, 'ambiguous router reply');
    });
  }

  test('max_tokens 64 unless the router node sets max_tokens or max_completion_tokens', async () => {
    for (const [options, expect] of [
      [{ max_tokens: 500 }, { max_tokens: 500 }],
      [{ max_completion_tokens: 300 }, { max_tokens: undefined, max_completion_tokens: 300 }],
    ]) {
      const cfg = config({ sticky: 'off', 'decision-cache': false });
      Object.assign(cfg.architecture[0]['extra-options'], options);
      const gw = await startLlmnet(cfg);
      try {
        await clearMock(mock.url);
        const res = await chat(gw.url, { messages: [{ role: 'user', content: 'Write a poem about tokens' }] });
        assert.equal(res.status, 200, res.text);
        const { router } = await received();
        for (const [k, v] of Object.entries(expect)) assert.equal(router[0].body[k], v, `${k} with ${JSON.stringify(options)}`);
      } finally {
        await stopAll(gw);
      }
    }
  });

  test('early decision: a name on the first line cancels the rest of a slow router reply', async () => {
    const explanation = Array.from({ length: 60 }, (_, i) => `reason${i}`).join(' ');
    const slow = await startMock({ rules: [{ when: { router: true }, route: `creative-handler\nbecause ${explanation}` }] }, ['--chunk-interval', '200']);
    const cfg = config({ sticky: 'off', 'decision-cache': false });
    cfg.models['router-gemma'].url = slow.url;
    // two router calls a minute: a cancelled call still counts as one
    cfg.models['router-gemma']['rate-limit'] = { rpm: 2, 'max-wait': 0 };
    cfg.architecture[2].model = 'handler-llama';
    const gw = await startLlmnet(cfg);
    try {
      const res = await chat(gw.url, { messages: [{ role: 'user', content: 'Anything at all' }] });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('x-llmnet-route'), 'router>creative-handler');
      const hop = routerHop(res.json);
      assert.equal(hop.decided, 'router');
      assert.equal(hop.early, true, 'the trace says the decision was early');
      // the router's stream was cut by llmnet, not read to its end
      await waitFor(async () => (await mockStats(slow.url)).streams.aborted === 1, { what: 'the router stream aborted' });
      const stats = await mockStats(slow.url);
      assert.equal(stats.streams.completed, 0, JSON.stringify(stats));
      assert.equal(stats.requests, 1);
      const second = await chat(gw.url, { messages: [{ role: 'user', content: 'Anything else' }] });
      assert.equal(routerHop(second.json).early, true);
      // the third router call would be the third in the minute: refused by
      // llmnet's own rate limit, so routing falls back to the default target
      const third = await chat(gw.url, { messages: [{ role: 'user', content: 'A third thing' }] });
      assert.equal(third.status, 200, third.text);
      const refused = routerHop(third.json);
      assert.equal(refused.decided, 'default');
      assert.equal(refused.reason, 'router_failed');
      assert.match(refused.error, /rate limit/);
      assert.equal((await mockStats(slow.url)).requests, 2, 'the early-cancelled calls counted against rpm 2');
    } finally {
      await stopAll(gw, slow);
    }
  });

  test('the decision cache: the same routing input in another conversation reuses the decision', async () => {
    await clearMock(mock.url);
    const body = { messages: [{ role: 'user', content: 'How do I reverse a linked list in Python? (cache)' }] };
    const a = await chat(off.url, body, { 'x-session-id': 'cache-a' });
    const b = await chat(off.url, body, { 'x-session-id': 'cache-b' });
    assert.equal(routerHop(a.json).decided, 'router');
    assert.equal(routerHop(b.json).decided, 'cache');
    assert.equal(b.headers.get('x-llmnet-route'), 'router>technical-handler');
    // normalised: case and runs of white space do not matter
    const c = await chat(off.url, { messages: [{ role: 'user', content: '  how do I   REVERSE a linked list in python? (cache)' }] });
    assert.equal(routerHop(c.json).decided, 'cache');
    assert.equal((await received()).router.length, 1);
    // "decision-cache": false: every one asks the router
    await clearMock(mock.url);
    await chat(offNoCache.url, body, { 'x-session-id': 'cache-c' });
    const d = await chat(offNoCache.url, body, { 'x-session-id': 'cache-d' });
    assert.equal(routerHop(d.json).decided, 'router');
    assert.equal((await received()).router.length, 2);
  });
});

describe('route-only runs (POST /v1/llmnet/route)', () => {
  const route = (gw, body, headers = {}) =>
    request(gw.url, '/v1/llmnet/route', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  test('the decision without any handler call: route, decided, router_input, session, router_calls', async () => {
    await clearMock(mock.url);
    const messages = [{ role: 'user', content: 'How do I reverse a linked list in Python? (route-only)' }];
    const first = await route(session, { messages });
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(first.json.route, ['router', 'technical-handler']);
    assert.equal(first.json.decided, 'router');
    assert.equal(first.json.router_calls, 1);
    assert.ok(first.json.router_input.includes('reverse a linked list'), first.json.router_input);
    assert.match(first.json.session, /^[0-9a-f]{64}$/);
    assert.equal(typeof first.json.latency_ms, 'number');
    const { router, handlers } = await received();
    assert.equal(router.length, 1);
    assert.equal(handlers.length, 0, 'no handler is called');
    // the next turn of that conversation follows the pin
    messages.push({ role: 'assistant', content: 'like so' }, { role: 'user', content: 'Now a poem about it' });
    const next = await route(session, { messages });
    assert.deepEqual(next.json.route, ['router', 'technical-handler']);
    assert.equal(next.json.decided, 'pin');
    assert.equal(next.json.router_calls, 0);
    assert.equal(next.json.session, first.json.session);
  });

  test('no user text, a model naming a node and an x-session-id', async () => {
    await clearMock(mock.url);
    const empty = await route(session, { messages: [{ role: 'system', content: 'Be brief.' }] });
    assert.deepEqual(empty.json.route, ['router', 'creative-handler']);
    assert.equal(empty.json.decided, 'no-input');
    assert.equal(empty.json.session, null);
    const named = await route(session, { model: 'technical-handler', messages: [{ role: 'user', content: 'Write a poem' }] });
    assert.deepEqual(named.json.route, ['technical-handler']);
    assert.equal(named.json.decided, 'model');
    assert.equal(named.json.router_calls, 0);
    const given = await route(session, { messages: [{ role: 'user', content: 'Write a haiku (route-only)' }] }, { 'x-session-id': 'route-only-1' });
    assert.equal(given.json.session, 'route-only-1');
    assert.equal(given.json.decided, 'router');
    assert.equal((await mockRequests(mock.url)).length, 1, 'only the one router call');
  });
});

describe('metrics', () => {
  test('decisions by decided, router calls avoided and the decision latency histogram', async () => {
    const res = await request(session.url, '/metrics');
    assert.equal(res.status, 200);
    const text = res.text;
    for (const decided of ['router', 'pin']) {
      assert.match(text, new RegExp(`llmnet_routing_decisions_total\\{from="router",to="[a-z-]+",decided="${decided}"\\} \\d+`), decided);
    }
    assert.match(text, /llmnet_router_calls_avoided_total\{node="router",reason="pin"\} \d+/);
    assert.match(text, /llmnet_routing_decision_duration_seconds_bucket\{node="router",decided="pin",le="0.0001"\} \d+/);
    assert.match(text, /llmnet_routing_decision_duration_seconds_count\{node="router",decided="router"\} \d+/);
    const cache = (await request(off.url, '/metrics')).text;
    assert.match(cache, /llmnet_router_calls_avoided_total\{node="router",reason="cache"\} \d+/);
    const turnMetrics = (await request(turn.url, '/metrics')).text;
    assert.match(turnMetrics, /llmnet_routing_decisions_total\{from="router",to="creative-handler",decided="no-input"\} 2/);
    assert.match(turnMetrics, /llmnet_router_calls_avoided_total\{node="router",reason="no-input"\} 2/);
  });
});

// ---- pins shared through Redis ----


describe('pins in Redis', () => {
  test('two llmnet processes share pins and decisions through one redis-server', async () => {
    const redis = await startRedis();
    const store = { store: `redis://127.0.0.1:${redis.port}` };
    const a = await startLlmnet(config(null, { server: store }));
    const b = await startLlmnet(config(null, { server: store }));
    try {
      await clearMock(mock.url);
      const messages = [{ role: 'user', content: 'How do I reverse a linked list in Python? (redis)' }];
      const first = await chat(a.url, { messages });
      assert.equal(routerHop(first.json).decided, 'router');
      // Nobody waits for a pin's write (route_flow.c remember()): on a process
      // whose Redis connection is still coming up it can land after the client
      // has a's answer. Shared means: once a wrote them, b reads them.
      const stored = (pattern) =>
        spawnSync('redis-cli', ['-p', String(redis.port), '--scan', '--pattern', pattern]).stdout.toString().trim() !== '';
      await waitFor(() => stored('llmnet:pin:*') && stored('llmnet:route:*'), { what: "a's pin and decision in Redis" });
      messages.push({ role: 'assistant', content: 'like this' }, { role: 'user', content: 'Now a poem about it' });
      const second = await chat(b.url, { messages });
      assert.equal(second.status, 200, second.text);
      assert.equal(routerHop(second.json).decided, 'pin', 'the other process sees the pin');
      assert.equal(second.headers.get('x-llmnet-route'), 'router>technical-handler');
      // the decision cache is shared too
      const other = await chat(b.url, { messages: [messages[0]] }, { 'x-session-id': 'redis-other' });
      assert.equal(routerHop(other.json).decided, 'cache');
      assert.equal((await received()).router.length, 1);
      // a Redis that goes away: routing goes on as if nothing were pinned
      redis.stop();
      const down = await chat(a.url, { messages: [{ role: 'user', content: 'Write a poem about the sea (redis down)' }] });
      assert.equal(down.status, 200, down.text);
      assert.equal(routerHop(down.json).decided, 'router');
    } finally {
      redis.stop();
      await stopAll(a, b);
    }
  });
});
