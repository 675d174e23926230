// Routing through the seed topology (router + creative/technical handlers)
// and the other composition shapes, checked from both sides: what the client
// gets back and what the mock upstream received.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  assertOpenAIError,
  chat,
  isRoutingCall,
  newRequestId,
  seedConfig,
  startLlmnet,
  startCaptureUpstream,
  startMock,
  stopAll,
  upstreamCalls,
} from './lib.mjs';

const ROUTER_MODEL = 'google/gemma-3-27b-it:free';
const CREATIVE_MODEL = 'meta-llama/llama-3.3-70b-instruct:free';
const TECH_MODEL = 'qwen/qwen3-coder:free';

// The two requests of the seed document (/work/shared/seed/openrouter-pipeline.md,
// "Testing the Pipeline"), copied verbatim; only the URL is replaced at run time.
const SEED_CURLS = [
  `curl -X POST http://localhost:8080/v1/chat/completions \\
  -H "Content-Type: application/json" \\
  -d '{"model": "llmnet", "messages": [{"role": "user", "content": "Write a haiku about programming"}]}'`,
  `curl -X POST http://localhost:8080/v1/chat/completions \\
  -H "Content-Type: application/json" \\
  -d '{"model": "llmnet", "messages": [{"role": "user", "content": "How do I reverse a linked list in Python?"}]}'`,
];

const RULES = {
  rules: [
    { when: { router: true, contains: 'nonsense-please' }, route: 'nonsense-xyz' },
    { when: { router: true, contains: 'router-breaks' }, status: 500, error: 'router exploded' },
    {
      when: { router: true, matches: 'python|code|coding|function|bug|linked list|algorithm|api|sql|math' },
      route: 'technical-handler',
    },
    { when: { router: true, contains: 'reply-case' }, route: 'TECHNICAL-HANDLER' },
    { when: { router: true, contains: 'reply-sentence' }, route: 'I would send this to technical-handler, since it is about code.' },
    { when: { router: true, contains: 'reply-quoted' }, route: '  "`technical-handler`".\n' },
    { when: { router: true, contains: 'reply-both' }, route: 'creative-handler or technical-handler' },
    { when: { router: true, contains: 'reply-glued' }, route: 'technical-handler-2' },
    { when: { router: true, contains: 'casual-draft' }, route: 'casual-polisher' },
    { when: { model: TECH_MODEL, contains: 'refine-me' }, reply: 'DRAFT ANSWER 42' },
    { when: { model: 'tool-model' }, 'tool-call': { name: 'get_weather', arguments: { city: 'Paris' } } },
  ],
};

let mock;
let seed; // the seed topology
let seedDefault; // the seed topology with technical-handler marked "default": true
let chatbot; // 1-0-1
let conditional; // rule-based routing, refiner after the long-input handler
let multi; // 1-2-1-1 with a refiner

function runShell(cmd) {
  return new Promise((resolve) => {
    execFile('sh', ['-c', cmd], { timeout: 15000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

function hopsSum(body, key) {
  return body.llmnet.hops.reduce((s, h) => s + (h.usage ? h.usage[key] : 0), 0);
}

before(async () => {
  mock = await startMock(RULES);
  seed = await startLlmnet(seedConfig(mock.url));

  const withDefault = seedConfig(mock.url);
  withDefault.architecture[2].default = true;
  seedDefault = await startLlmnet(withDefault);

  chatbot = await startLlmnet({
    models: { chatbot: { type: 'external', interface: 'openai-api', url: mock.url, 'api-key': null } },
    architecture: [
      { name: 'chat', layer: 0, model: 'chatbot', adapter: 'openai-api', 'output-to': ['output'] },
      { name: 'output', adapter: 'output' },
    ],
  });

  conditional = await startLlmnet({
    models: {
      router: { type: 'external', interface: 'openai-api', url: mock.url, 'api-key': 'k-router' },
      handler: { type: 'external', interface: 'openai-api', url: mock.url, 'api-key': 'k-handler' },
    },
    architecture: [
      { name: 'router', layer: 0, model: 'router', 'output-to': [1], 'extra-options': { model_override: ROUTER_MODEL } },
      {
        name: 'short-input-handler',
        layer: 1,
        model: 'handler',
        'use-case': 'Quick responses for short, simple inputs under 10 words',
        if: '$WORD_COUNT < 10',
        'output-to': ['output'],
        'extra-options': { model_override: 'short-model' },
      },
      {
        name: 'long-input-handler',
        layer: 1,
        model: 'handler',
        'use-case': 'Detailed responses for longer, complex inputs of 10+ words',
        if: '$WORD_COUNT >= 10',
        'output-to': [2],
        'extra-options': { model_override: 'long-model' },
      },
      {
        name: 'response-refiner',
        layer: 2,
        model: 'handler',
        'use-case': 'Polish and refine long-form responses for clarity',
        'output-to': ['output'],
        'extra-options': { model_override: 'refiner-model' },
      },
      { name: 'output', adapter: 'output' },
    ],
  });

  multi = await startLlmnet({
    models: {
      router: { type: 'external', interface: 'openai-api', url: mock.url, 'api-key': 'k-router' },
      'domain-handler': { type: 'external', interface: 'openai-api', url: mock.url, 'api-key': 'k-domain' },
      refiner: { type: 'external', interface: 'openai-api', url: mock.url, 'api-key': 'k-refiner' },
    },
    architecture: [
      { name: 'router', layer: 0, model: 'router', 'output-to': [1], 'extra-options': { model_override: ROUTER_MODEL } },
      {
        name: 'technical-handler',
        layer: 1,
        model: 'domain-handler',
        'use-case': 'Technical questions, coding, math, science, and debugging',
        'output-to': [2],
        'extra-options': { model_override: TECH_MODEL, temperature: 0.1 },
      },
      {
        name: 'creative-handler',
        layer: 1,
        model: 'domain-handler',
        'use-case': 'Creative writing, storytelling, poetry, and brainstorming',
        'output-to': [2],
        'extra-options': { model_override: CREATIVE_MODEL },
      },
      {
        name: 'response-refiner',
        layer: 2,
        model: 'refiner',
        'use-case': 'Polish and refine the response for clarity and quality',
        'output-to': ['output'],
        'extra-options': {
          model_override: ROUTER_MODEL,
          temperature: 0.2,
          system: 'You polish answers. Keep their meaning; improve clarity.',
          'prompt-template':
            'The user asked:\n{{INITIAL_INPUT}}\n\nA draft answer:\n{{INPUT}}\n\nRewrite the draft so it is clear and correct.',
        },
      },
      { name: 'output', adapter: 'output' },
    ],
  });
  await startMore();
});

let later; // a second routing decision after a handler, made by the pipeline's router model
let urls; // url forms, model headers, per-node system prompts, tools
let lengths; // INPUT_LENGTH, matches, boolean operators

async function startMore() {
  const ep = (key, extra = {}) => ({ type: 'external', interface: 'openai-api', url: mock.url, 'api-key': key, ...extra });
  later = await startLlmnet({
    models: { r: ep('k-r'), h: ep('k-h') },
    architecture: [
      { name: 'router', layer: 0, model: 'r', 'output-to': [1], 'extra-options': { model_override: 'router-model' } },
      { name: 'drafter', layer: 1, model: 'h', 'output-to': [2], 'extra-options': { model_override: 'drafter-model' } },
      { name: 'formal-polisher', layer: 2, model: 'h', 'use-case': 'Rewrite formally', 'extra-options': { model_override: 'formal-model' } },
      { name: 'casual-polisher', layer: 2, model: 'h', 'use-case': 'Rewrite casually', 'extra-options': { model_override: 'casual-model' } },
    ],
  });
  urls = await startLlmnet({
    models: {
      v1: ep('k-v1', { url: `${mock.url}/v1`, headers: { 'HTTP-Referer': 'https://llmnet.example', 'X-Title': 'llmnet tests' } }),
      api: ep('k-api', { url: `${mock.url}/api` }),
      slash: ep('k-slash', { url: `${mock.url}/` }),
    },
    architecture: [
      { name: 'via-v1', layer: 0, model: 'v1', 'extra-options': { model_override: 'm-v1', system: 'You are node via-v1.' } },
      { name: 'via-api', layer: 1, model: 'api', 'extra-options': { model_override: 'm-api' } },
      { name: 'via-slash', layer: 1, model: 'slash', 'extra-options': { model_override: 'm-slash' } },
      { name: 'tools', layer: 1, model: 'api', 'extra-options': { model_override: 'tool-model' } },
    ],
  });
  lengths = await startLlmnet({
    models: { r: ep('k-r'), h: ep('k-h') },
    architecture: [
      { name: 'router', layer: 0, model: 'r', 'output-to': [1] },
      { name: 'urgent', layer: 1, model: 'h', if: '$INITIAL_INPUT matches "^URGENT" || $INITIAL_INPUT contains "asap"' },
      { name: 'tiny', layer: 1, model: 'h', if: '!($INITIAL_INPUT matches "^URGENT" || $INITIAL_INPUT contains "asap") && $INPUT_LENGTH <= 5' },
      { name: 'big', layer: 1, model: 'h', if: "!($INITIAL_INPUT matches '^URGENT' || $INITIAL_INPUT contains 'asap') && $INPUT_LENGTH > 5" },
    ],
  });
}

after(async () => {
  await stopAll(seed, seedDefault, chatbot, conditional, multi, later, urls, lengths, mock);
});

describe('seed topology', () => {
  test('creative question routes to creative-handler with an OpenAI-shaped response', async () => {
    const rid = newRequestId('creative');
    const res = await chat(
      seed.url,
      { model: 'llmnet', messages: [{ role: 'user', content: 'Write a haiku about programming' }] },
      { 'x-request-id': rid },
    );
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('x-llmnet-route'), 'router>creative-handler');
    assert.equal(res.headers.get('x-request-id'), rid);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);

    const b = res.json;
    assert.equal(typeof b.id, 'string');
    assert.ok(b.id.startsWith('chatcmpl-'), `id ${b.id}`);
    assert.equal(b.object, 'chat.completion');
    assert.equal(typeof b.created, 'number');
    assert.ok(Number.isInteger(b.created) && b.created > 1600000000, `created ${b.created}`);
    assert.equal(b.model, CREATIVE_MODEL);
    assert.ok(Array.isArray(b.choices) && b.choices.length >= 1);
    assert.equal(b.choices[0].index, 0);
    assert.equal(b.choices[0].message.role, 'assistant');
    assert.equal(typeof b.choices[0].message.content, 'string');
    assert.ok(b.choices[0].message.content.includes('Write a haiku about programming'));
    assert.equal(b.choices[0].finish_reason, 'stop');

    const u = b.usage;
    assert.equal(typeof u.prompt_tokens, 'number');
    assert.equal(typeof u.completion_tokens, 'number');
    assert.ok(u.prompt_tokens > 0 && u.completion_tokens > 0);
    assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);

    assert.ok(b.llmnet && Array.isArray(b.llmnet.hops), 'llmnet.hops extension');
    assert.equal(b.llmnet.hops.length, 2, JSON.stringify(b.llmnet.hops));
    assert.equal(u.total_tokens, hopsSum(b, 'total_tokens'));
    assert.equal(u.prompt_tokens, hopsSum(b, 'prompt_tokens'));
    assert.equal(u.completion_tokens, hopsSum(b, 'completion_tokens'));

    const calls = await upstreamCalls(mock.url, rid);
    assert.equal(calls.length, 2, JSON.stringify(calls));
    const [routerCall, creativeCall] = calls;
    assert.ok(isRoutingCall(routerCall), 'the first call is the routing prompt');
    assert.ok(routerCall.path.endsWith('/v1/chat/completions'), routerCall.path);
    assert.equal(routerCall.body.model, ROUTER_MODEL);
    assert.equal(routerCall.headers.authorization, 'Bearer test-key-router');
    const sys = routerCall.body.messages[0];
    assert.equal(sys.role, 'system');
    assert.ok(sys.content.includes('Targets:'));
    assert.ok(sys.content.includes('creative-handler'));
    assert.ok(sys.content.includes('Creative writing, storytelling, poetry'));
    assert.ok(sys.content.includes('technical-handler'));
    assert.ok(sys.content.includes('Technical questions, coding, math, science'));
    const last = routerCall.body.messages[routerCall.body.messages.length - 1];
    assert.equal(last.role, 'user');
    assert.equal(last.content, 'Write a haiku about programming');

    assert.ok(!isRoutingCall(creativeCall));
    assert.ok(creativeCall.path.endsWith('/v1/chat/completions'), creativeCall.path);
    assert.equal(creativeCall.body.model, CREATIVE_MODEL);
    assert.equal(creativeCall.headers.authorization, 'Bearer test-key-handler');
    assert.deepEqual(creativeCall.body.messages, [{ role: 'user', content: 'Write a haiku about programming' }]);
  });

  test('technical question routes to technical-handler, which inherits the router endpoint and gets the whole conversation', async () => {
    const rid = newRequestId('technical');
    const messages = [
      { role: 'system', content: 'You are a terse assistant.' },
      { role: 'user', content: 'Hi there' },
      { role: 'assistant', content: 'Hello! What do you need?' },
      { role: 'user', content: 'How do I reverse a linked list in Python?' },
    ];
    const res = await chat(
      seed.url,
      {
        model: 'llmnet',
        messages,
        temperature: 0.3,
        max_tokens: 77,
        user: 'user-1234',
        custom_vendor_field: { nested: [1, 2, 3], flag: true },
      },
      { 'x-request-id': rid },
    );
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('x-llmnet-route'), 'router>technical-handler');
    assert.equal(res.json.model, TECH_MODEL);
    assert.equal(res.json.choices[0].message.role, 'assistant');
    assert.equal(res.json.usage.total_tokens, hopsSum(res.json, 'total_tokens'));

    const calls = await upstreamCalls(mock.url, rid);
    assert.equal(calls.length, 2, JSON.stringify(calls));
    const [routerCall, techCall] = calls;
    assert.ok(isRoutingCall(routerCall));
    const last = routerCall.body.messages[routerCall.body.messages.length - 1];
    assert.equal(last.role, 'user');
    // a short newest turn: the router reads it first, then the exchange before it
    assert.ok(last.content.includes('How do I reverse a linked list in Python?'), last.content);
    assert.ok(last.content.includes('Hello! What do you need?'), last.content);
    assert.ok(
      last.content.indexOf('How do I reverse') < last.content.indexOf('Hello! What do you need?'),
      'newest first: ' + last.content,
    );

    assert.ok(!isRoutingCall(techCall));
    assert.equal(techCall.body.model, TECH_MODEL);
    // no "model" of its own: the router's endpoint and key
    assert.equal(techCall.headers.authorization, 'Bearer test-key-router');
    assert.ok(techCall.path.endsWith('/v1/chat/completions'), techCall.path);
    assert.deepEqual(techCall.body.messages, messages);
    assert.equal(techCall.body.temperature, 0.3);
    assert.equal(techCall.body.max_tokens, 77);
    assert.equal(techCall.body.user, 'user-1234');
    assert.deepEqual(techCall.body.custom_vendor_field, { nested: [1, 2, 3], flag: true });
    assert.notEqual(techCall.body.stream, true);
  });

  test("the seed document's literal curl commands route to creative and technical", async () => {
    const port = new URL(seed.url).port;
    const expected = [
      ['router>creative-handler', CREATIVE_MODEL],
      ['router>technical-handler', TECH_MODEL],
    ];
    for (let i = 0; i < SEED_CURLS.length; i++) {
      const cmd = SEED_CURLS[i].replace('http://localhost:8080', `http://127.0.0.1:${port}`);
      assert.notEqual(cmd, SEED_CURLS[i]);
      const r = await runShell(`${cmd} -sS`);
      assert.equal(r.code, 0, r.stderr);
      const body = JSON.parse(r.stdout);
      assert.equal(body.object, 'chat.completion', r.stdout);
      assert.equal(body.llmnet.route, expected[i][0]);
      assert.equal(body.model, expected[i][1]);
      assert.equal(body.choices[0].finish_reason, 'stop');
    }
    // And the same via the headers curl prints (-i): the route header.
    const cmd = SEED_CURLS[0].replace('http://localhost:8080', `http://127.0.0.1:${port}`);
    const r = await runShell(`${cmd} -sS -i`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^HTTP\/1\.1 200/);
    assert.match(r.stdout, /\r\nx-llmnet-route: router>creative-handler\r\n/i);
    assert.match(r.stdout, /\r\nx-request-id: \S+\r\n/i);
  });

  test('x-request-id: generated when absent, a sane one echoed and sent upstream, an unsafe one replaced', async () => {
    const plain = await chat(seed.url, { messages: [{ role: 'user', content: 'Write a poem about rain' }] });
    assert.equal(plain.status, 200, plain.text);
    const gen = plain.headers.get('x-request-id');
    assert.ok(gen && gen.length >= 8, `generated id ${gen}`);
    assert.ok(plain.json.id.includes(gen), `response id ${plain.json.id} carries the request id ${gen}`);
    const other = await chat(seed.url, { messages: [{ role: 'user', content: 'Write a poem about snow' }] });
    assert.notEqual(other.headers.get('x-request-id'), gen, 'each request gets its own id');

    const rid = newRequestId('echo');
    const res = await chat(seed.url, { messages: [{ role: 'user', content: 'Write a short story' }] }, { 'X-Request-Id': rid });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('x-request-id'), rid);
    assert.equal(res.json.id, `chatcmpl-${rid}`);
    const calls = await upstreamCalls(mock.url, rid);
    assert.equal(calls.length, 2);
    for (const c of calls) assert.equal(c.headers['x-request-id'], rid);

    const unsafe = 'bad id with spaces and "quotes" <script>';
    const bad = await chat(seed.url, { messages: [{ role: 'user', content: 'Write a limerick' }] }, { 'x-request-id': unsafe });
    assert.equal(bad.status, 200, bad.text);
    const got = bad.headers.get('x-request-id');
    assert.ok(got && got.length > 0);
    assert.notEqual(got, unsafe);
    assert.match(got, /^[A-Za-z0-9._:-]+$/);
  });

  test('a request whose "model" names a node enters there without a router call', async () => {
    const rid = newRequestId('direct');
    const res = await chat(
      seed.url,
      { model: 'technical-handler', messages: [{ role: 'user', content: 'Write a haiku about autumn' }] },
      { 'x-request-id': rid },
    );
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('x-llmnet-route'), 'technical-handler');
    assert.equal(res.json.model, TECH_MODEL);
    assert.equal(res.json.llmnet.hops.length, 1);
    const calls = await upstreamCalls(mock.url, rid);
    assert.equal(calls.length, 1, JSON.stringify(calls));
    assert.ok(!isRoutingCall(calls[0]));
    assert.equal(calls[0].body.model, TECH_MODEL);
    assert.equal(calls[0].headers.authorization, 'Bearer test-key-router');
  });

  test('"model": "llmnet" and an unknown model name both mean the whole pipeline', async () => {
    for (const model of ['llmnet', 'gpt-4o-mini']) {
      const rid = newRequestId('pipeline');
      // a conversation of its own each time: the same one would follow its pin
      const res = await chat(seed.url, { model, messages: [{ role: 'user', content: `Fix this python bug (${model})` }] }, { 'x-request-id': rid });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('x-llmnet-route'), 'router>technical-handler');
      const calls = await upstreamCalls(mock.url, rid);
      assert.equal(calls.length, 2);
      assert.ok(isRoutingCall(calls[0]));
    }
  });
});

describe('router failures fall back', () => {
  test('a router reply naming no candidate goes to the first candidate when none is default', async () => {
    const rid = newRequestId('nonsense');
    const res = await chat(
      seed.url,
      { messages: [{ role: 'user', content: 'How do I sort a python list? nonsense-please' }] },
      { 'x-request-id': rid },
    );
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('x-llmnet-route'), 'router>creative-handler');
    assert.equal(res.json.model, CREATIVE_MODEL);
    const calls = await upstreamCalls(mock.url, rid);
    assert.ok(isRoutingCall(calls[0]));
    assert.equal(calls[calls.length - 1].body.model, CREATIVE_MODEL);
  });

  test('a router reply naming no candidate goes to the "default": true node', async () => {
    const rid = newRequestId('nonsense-default');
    const res = await chat(
      seedDefault.url,
      { messages: [{ role: 'user', content: 'Write a poem about the sea nonsense-please' }] },
      { 'x-request-id': rid },
    );
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('x-llmnet-route'), 'router>technical-handler');
    assert.equal(res.json.model, TECH_MODEL);
    const calls = await upstreamCalls(mock.url, rid);
    assert.ok(isRoutingCall(calls[0]));
    assert.equal(calls[calls.length - 1].body.model, TECH_MODEL);
  });

  test('a router answering 500 falls back (default node, else first) and the request still succeeds', async () => {
    const rid1 = newRequestId('router500-default');
    const res1 = await chat(
      seedDefault.url,
      { messages: [{ role: 'user', content: 'Write a poem router-breaks' }] },
      { 'x-request-id': rid1 },
    );
    assert.equal(res1.status, 200, res1.text);
    assert.equal(res1.headers.get('x-llmnet-route'), 'router>technical-handler');
    assert.equal(res1.json.model, TECH_MODEL);
    assert.equal(res1.json.choices[0].message.role, 'assistant');
    const calls1 = await upstreamCalls(mock.url, rid1);
    assert.ok(calls1.some(isRoutingCall));
    assert.equal(calls1[calls1.length - 1].body.model, TECH_MODEL);

    const rid2 = newRequestId('router500-first');
    const res2 = await chat(
      seed.url,
      { messages: [{ role: 'user', content: 'Explain python decorators router-breaks' }] },
      { 'x-request-id': rid2 },
    );
    assert.equal(res2.status, 200, res2.text);
    assert.equal(res2.headers.get('x-llmnet-route'), 'router>creative-handler');
    assert.equal(res2.json.model, CREATIVE_MODEL);
  });
});

describe('other topologies', () => {
  test('a 1-0-1 chatbot calls its model once', async () => {
    const rid = newRequestId('chatbot');
    const messages = [
      { role: 'system', content: 'Be nice.' },
      { role: 'user', content: 'Write a haiku about programming' },
    ];
    const res = await chat(chatbot.url, { model: 'llmnet', messages, temperature: 0.5 }, { 'x-request-id': rid });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('x-llmnet-route'), /^chat(>output)?$/);
    assert.equal(res.json.object, 'chat.completion');
    assert.equal(res.json.choices[0].message.role, 'assistant');
    assert.ok(res.json.choices[0].message.content.includes('Write a haiku about programming'));
    const calls = await upstreamCalls(mock.url, rid);
    assert.equal(calls.length, 1, JSON.stringify(calls));
    assert.ok(!isRoutingCall(calls[0]));
    // no model_override: the node's name is its model id
    assert.equal(calls[0].body.model, 'chat');
    assert.equal(res.json.model, 'chat');
    assert.deepEqual(calls[0].body.messages, messages);
    assert.equal(calls[0].body.temperature, 0.5);
    assert.equal(calls[0].headers.authorization, undefined, 'api-key null sends no Authorization');
  });

  test('conditional routing: a short input goes to the short handler without a router call', async () => {
    const rid = newRequestId('cond-short');
    const res = await chat(conditional.url, { messages: [{ role: 'user', content: 'What is two plus two?' }] }, { 'x-request-id': rid });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('x-llmnet-route'), /^router>short-input-handler(>output)?$/);
    assert.equal(res.json.model, 'short-model');
    const calls = await upstreamCalls(mock.url, rid);
    assert.equal(calls.length, 1, JSON.stringify(calls));
    assert.ok(!calls.some(isRoutingCall), 'no routing prompt was sent');
    assert.equal(calls[0].body.model, 'short-model');
    assert.equal(calls[0].headers.authorization, 'Bearer k-handler');
  });

  test('conditional routing: a long input goes to the long handler and on to the refiner without a router call', async () => {
    const rid = newRequestId('cond-long');
    const text = 'Please explain in detail how the TCP three way handshake works and why it exists';
    assert.ok(text.split(/\s+/).length >= 10);
    const res = await chat(conditional.url, { messages: [{ role: 'user', content: text }] }, { 'x-request-id': rid });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('x-llmnet-route'), /^router>long-input-handler>response-refiner(>output)?$/);
    assert.equal(res.json.model, 'refiner-model');
    const calls = await upstreamCalls(mock.url, rid);
    assert.ok(!calls.some(isRoutingCall), 'no routing prompt was sent');
    assert.deepEqual(
      calls.map((c) => c.body.model),
      ['long-model', 'refiner-model'],
    );
    // the refiner (no prompt-template) gets the long handler's answer as the user message
    const draft = `[long-model] reply to: ${text}`;
    const refMsgs = calls[1].body.messages;
    assert.equal(refMsgs[refMsgs.length - 1].role, 'user');
    assert.equal(refMsgs[refMsgs.length - 1].content, draft);
    assert.equal(res.json.usage.total_tokens, hopsSum(res.json, 'total_tokens'));
    assert.equal(res.json.llmnet.hops.length, 2);
  });

  test('conditional routing: exactly 10 words is long (>= 10), 9 words is short', async () => {
    const ten = 'one two three four five six seven eight nine ten';
    const nine = 'one two three four five six seven eight nine';
    const r10 = await chat(conditional.url, { messages: [{ role: 'user', content: ten }] });
    assert.equal(r10.status, 200, r10.text);
    assert.match(r10.headers.get('x-llmnet-route'), /^router>long-input-handler>/);
    const r9 = await chat(conditional.url, { messages: [{ role: 'user', content: nine }] });
    assert.equal(r9.status, 200, r9.text);
    assert.match(r9.headers.get('x-llmnet-route'), /^router>short-input-handler/);
  });

  test('multi-layer: the refiner gets the handler answer through its prompt-template, after its system prompt', async () => {
    const rid = newRequestId('multi');
    const question = 'Write a python function to merge two sorted lists refine-me';
    const res = await chat(
      multi.url,
      {
        model: 'llmnet',
        messages: [
          { role: 'system', content: 'Client system prompt.' },
          { role: 'user', content: question },
        ],
        temperature: 0.9,
        top_p: 0.5,
      },
      { 'x-request-id': rid },
    );
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('x-llmnet-route'), /^router>technical-handler>response-refiner(>output)?$/);
    assert.equal(res.json.model, ROUTER_MODEL);

    const calls = await upstreamCalls(mock.url, rid);
    assert.equal(calls.length, 3, JSON.stringify(calls.map((c) => c.body.model)));
    const [routerCall, techCall, refCall] = calls;
    assert.ok(isRoutingCall(routerCall));
    assert.equal(routerCall.headers.authorization, 'Bearer k-router');

    assert.equal(techCall.body.model, TECH_MODEL);
    assert.equal(techCall.headers.authorization, 'Bearer k-domain');
    assert.equal(techCall.body.temperature, 0.1, "extra-options temperature overrides the client's");
    assert.equal(techCall.body.top_p, 0.5);
    assert.deepEqual(techCall.body.messages, [
      { role: 'system', content: 'Client system prompt.' },
      { role: 'user', content: question },
    ]);

    assert.ok(!isRoutingCall(refCall), 'one candidate in layer 2: no routing prompt');
    assert.equal(refCall.body.model, ROUTER_MODEL);
    assert.equal(refCall.headers.authorization, 'Bearer k-refiner');
    assert.equal(refCall.body.temperature, 0.2);
    assert.equal(refCall.body['prompt-template'], undefined, 'llmnet options are not sent upstream');
    assert.equal(refCall.body.system, undefined, 'llmnet options are not sent upstream');
    const msgs = refCall.body.messages;
    assert.equal(msgs[0].role, 'system');
    assert.equal(msgs[0].content, 'You polish answers. Keep their meaning; improve clarity.');
    assert.equal(msgs[msgs.length - 1].role, 'user');
    assert.equal(
      msgs[msgs.length - 1].content,
      `The user asked:\n${question}\n\nA draft answer:\nDRAFT ANSWER 42\n\nRewrite the draft so it is clear and correct.`,
    );
    assert.equal(msgs.length, 2, JSON.stringify(msgs));

    const content = res.json.choices[0].message.content;
    assert.ok(content.startsWith(`[${ROUTER_MODEL}] reply to: The user asked:`), content);
    assert.equal(res.json.llmnet.hops.length, 3);
    assert.equal(res.json.usage.total_tokens, hopsSum(res.json, 'total_tokens'));
    assert.equal(res.json.usage.total_tokens, res.json.usage.prompt_tokens + res.json.usage.completion_tokens);
  });

  test('user content is not expanded as a variable or secret anywhere in the pipeline', async () => {
    const rid = newRequestId('nosubst');
    const question = 'Explain python: what does $HOME and ${PATH} and {{INITIAL_INPUT}} mean? refine-me';
    const res = await chat(multi.url, { messages: [{ role: 'user', content: question }] }, { 'x-request-id': rid });
    assert.equal(res.status, 200, res.text);
    const calls = await upstreamCalls(mock.url, rid);
    assert.equal(calls[1].body.messages[0].content, question);
    const refUser = calls[2].body.messages[calls[2].body.messages.length - 1].content;
    assert.ok(refUser.includes(question), refUser);
    assert.ok(!refUser.includes(process.env.HOME ?? '/root/'), refUser);
  });
});

describe('reading the router reply', () => {
  const cases = [
    ['reply-case', 'router>technical-handler', 'a case-insensitive exact name'],
    ['reply-sentence', 'router>technical-handler', 'a name inside a sentence'],
    ['reply-quoted', 'router>technical-handler', 'a name in quotes, backticks and a full stop'],
    ['reply-both', 'router>creative-handler', 'two names and nothing picking one: ambiguous, the default target'],
    ['reply-glued', 'router>creative-handler', 'no whole-token name: the first candidate'],
  ];
  for (const [tag, route, what] of cases) {
    test(`${what} (${tag})`, async () => {
      const res = await chat(seed.url, { messages: [{ role: 'user', content: `Write a poem about rain ${tag}` }] });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('x-llmnet-route'), route);
    });
  }
});

describe('more of the request flow', () => {
  test("a choice after a handler is made by the pipeline's router model, from the handler's output", async () => {
    const rid = newRequestId('later');
    const text = 'Draft a note to the team casual-draft';
    const res = await chat(later.url, { messages: [{ role: 'user', content: text }] }, { 'x-request-id': rid });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('x-llmnet-route'), 'router>drafter>casual-polisher');
    const calls = await upstreamCalls(mock.url, rid);
    assert.deepEqual(
      calls.map((c) => [isRoutingCall(c), c.body.model]),
      [
        [false, 'drafter-model'],
        [true, 'router-model'],
        [false, 'casual-model'],
      ],
    );
    const routing = calls[1];
    assert.equal(routing.headers.authorization, 'Bearer k-r');
    const sys = routing.body.messages[0].content;
    assert.ok(sys.includes('formal-polisher') && sys.includes('Rewrite formally'), sys);
    assert.ok(sys.includes('casual-polisher') && sys.includes('Rewrite casually'), sys);
    assert.ok(!sys.includes('drafter'), 'only the candidates are listed');
    const draft = `[drafter-model] reply to: ${text}`;
    assert.equal(routing.body.messages[routing.body.messages.length - 1].content, draft);
    assert.equal(calls[2].body.messages[calls[2].body.messages.length - 1].content, draft);
    assert.equal(res.json.llmnet.hops.length, 3);
  });

  test('url forms: /v1 is not doubled, other paths get /v1 appended; model headers are sent', async () => {
    const expect = [
      ['via-v1', '/v1/chat/completions', 'Bearer k-v1'],
      ['via-api', '/api/v1/chat/completions', 'Bearer k-api'],
      ['via-slash', '/v1/chat/completions', 'Bearer k-slash'],
    ];
    for (const [node, p, auth] of expect) {
      const rid = newRequestId(node);
      const res = await chat(urls.url, { model: node, messages: [{ role: 'user', content: 'hello' }] }, { 'x-request-id': rid });
      assert.equal(res.status, 200, res.text);
      const calls = await upstreamCalls(mock.url, rid);
      assert.equal(calls.length, 1);
      assert.equal(calls[0].path, p, node);
      assert.equal(calls[0].headers.authorization, auth);
      if (node === 'via-v1') {
        assert.equal(calls[0].headers['http-referer'], 'https://llmnet.example');
        assert.equal(calls[0].headers['x-title'], 'llmnet tests');
      } else {
        assert.equal(calls[0].headers['x-title'], undefined);
      }
    }
  });

  test("a handler's own system prompt comes before the client's conversation", async () => {
    const rid = newRequestId('sys');
    const messages = [
      { role: 'system', content: 'Client rules.' },
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'ok' },
      { role: 'user', content: 'second' },
    ];
    const res = await chat(urls.url, { messages }, { 'x-request-id': rid });
    assert.equal(res.status, 200, res.text);
    const calls = await upstreamCalls(mock.url, rid);
    assert.deepEqual(calls[0].body.messages, [{ role: 'system', content: 'You are node via-v1.' }, ...messages]);
  });

  test('client tools are passed to the handler and a tool call comes back', async () => {
    const rid = newRequestId('tools');
    const tools = [
      {
        type: 'function',
        function: { name: 'get_weather', description: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
      },
    ];
    const res = await chat(
      urls.url,
      { model: 'tools', messages: [{ role: 'user', content: 'weather in Paris?' }], tools, tool_choice: 'auto' },
      { 'x-request-id': rid },
    );
    assert.equal(res.status, 200, res.text);
    const calls = await upstreamCalls(mock.url, rid);
    assert.deepEqual(calls[0].body.tools, tools);
    assert.equal(calls[0].body.tool_choice, 'auto');
    const choice = res.json.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.role, 'assistant');
    assert.equal(choice.message.tool_calls.length, 1);
    assert.equal(choice.message.tool_calls[0].type, 'function');
    assert.equal(choice.message.tool_calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(choice.message.tool_calls[0].function.arguments), { city: 'Paris' });
    assert.equal(res.json.model, 'tool-model');
  });

  test('INPUT_LENGTH counts characters, not bytes; matches, contains, ! and || work', async () => {
    const cases = [
      ['ééééé', 'router>tiny'],
      ['日本語です', 'router>tiny'],
      ['abcdef', 'router>big'],
      ['éééééé', 'router>big'],
      ['URGENT fix it', 'router>urgent'],
      ['please do it asap', 'router>urgent'],
      ['urgent', 'router>big'],
    ];
    for (const [text, route] of cases) {
      const rid = newRequestId('len');
      const res = await chat(lengths.url, { messages: [{ role: 'user', content: text }] }, { 'x-request-id': rid });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('x-llmnet-route'), route, text);
      const calls = await upstreamCalls(mock.url, rid);
      assert.ok(!calls.some(isRoutingCall), `${text}: decided without a router call`);
    }
  });
});

describe('content integrity and streaming', () => {
  test('message text reaches the upstream byte for byte (emoji, line separators, quotes, control characters)', async () => {
    const upstream = await startCaptureUpstream();
    const gw = await startLlmnet({
      models: { m: { type: 'external', interface: 'openai-api', url: upstream.url, 'api-key': null } },
      architecture: [{ name: 'chat', layer: 0, model: 'm' }],
    });
    try {
      const text = 'emoji:😀 sep:\u2028\u2029 quote:"\\ tab:\t ctrl:\u0001\u001f del:\u007f cjk:日本 bom:\ufeff end';
      const res = await chat(gw.url, { messages: [{ role: 'user', content: text }], extra_field: 'x\u0001y' });
      assert.equal(res.status, 200, res.text);
      assert.equal(upstream.requests.length, 1);
      const sent = JSON.parse(upstream.requests[0].raw);
      assert.equal(sent.messages[0].content, text);
      assert.equal(sent.extra_field, 'x\u0001y');
    } finally {
      await stopAll(gw, upstream);
    }
  });

  test('a NUL character is forwarded intact or refused with a 400, never silently cut', async () => {
    const upstream = await startCaptureUpstream();
    const gw = await startLlmnet({
      models: { m: { type: 'external', interface: 'openai-api', url: upstream.url, 'api-key': null } },
      architecture: [{ name: 'chat', layer: 0, model: 'm' }],
    });
    try {
      const text = 'before\u0000after';
      const res = await chat(gw.url, { messages: [{ role: 'user', content: text }] });
      if (res.status === 200) {
        assert.equal(upstream.requests.length, 1);
        assert.equal(JSON.parse(upstream.requests[0].raw).messages[0].content, text);
      } else {
        assertOpenAIError(res, 400);
        assert.match(res.json.error.message, /NUL|\\u0000/);
        assert.equal(upstream.requests.length, 0);
      }
    } finally {
      await stopAll(gw, upstream);
    }
  });

  test('a streamed request through the seed topology: the router and the handler both stream', async () => {
    const rid = newRequestId('stream-seed');
    const text = 'How do I reverse a linked list in Python, streamed?';
    const res = await chat(seed.url, { messages: [{ role: 'user', content: text }], stream: true }, { 'x-request-id': rid });
    if (res.status !== 200) {
      // a build without streaming must say so clearly
      assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${res.text}`);
      assert.match(res.json.error.message, /stream/);
      return;
    }
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(res.headers.get('x-llmnet-route'), 'router>technical-handler');
    assert.equal(res.headers.get('x-request-id'), rid);
    const events = res.text
      .split(/\n\n/)
      .map((b) => b.trim())
      .filter((b) => b.startsWith('data:'))
      .map((b) => b.slice(5).trim());
    assert.equal(events[events.length - 1], '[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.model, TECH_MODEL);
    }
    const content = chunks.map((c) => (c.choices[0] && c.choices[0].delta.content) || '').join('');
    assert.equal(content, `[${TECH_MODEL}] reply to: ${text}`);
    const calls = await upstreamCalls(mock.url, rid);
    assert.equal(calls.length, 2);
    assert.ok(isRoutingCall(calls[0]));
    // the router call streams too, so a name on its first line decides early
    assert.equal(calls[0].body.stream, true, 'the routing call is streamed');
    assert.equal(calls[1].body.stream, true);
    assert.equal(calls[1].body.model, TECH_MODEL);
  });
});
