// POST /v1/responses (issue 12 item 1): the Responses door into the same
// pipeline. Real llmnet on the seed topology (router + two handlers), real
// `llmnet mock` as router and handlers, and the real clients at their
// default retries: the openai SDK (responses.create, plain and streamed),
// the Vercel AI SDK's openai(model) (Responses: generateText, streamText,
// a two-step tool loop) and the OpenAI Agents SDK in its default mode
// (Responses). Each through the router and straight to a node.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, streamText, tool as aiTool } from 'ai';
import { Agent, run, setDefaultOpenAIClient, setTracingDisabled, tool } from '@openai/agents';
import { z } from 'zod';
import {
  clearMock,
  isRoutingCall,
  mockRequests,
  request,
  runCli,
  seedConfig,
  startLlmnet,
  startMock,
  startRedis,
  stopAll,
} from './lib.mjs';

const CREATIVE = 'meta-llama/llama-3.3-70b-instruct:free';
const TECH = 'qwen/qwen3-coder:free';
const weatherCall = { name: 'get_weather', arguments: { city: 'Paris' } };

const RULES = {
  rules: [
    // the pin test: a second router call would move the conversation
    { when: { router: true, contains: 'resp-pin' }, route: 'creative-handler', times: 1 },
    { when: { router: true, contains: 'resp-pin' }, route: 'technical-handler' },
    { when: { router: true, contains: 'poem' }, route: 'creative-handler' },
    { when: { router: true }, route: 'technical-handler' },
    { when: { router: false, contains: 'resp-cut' }, 'cut-after': 2, reply: 'alpha beta gamma delta epsilon' },
    // tool loops: the tool is called once per tag, then the model answers
    { when: { router: false, contains: 'resp-stream-tool' }, 'tool-call': weatherCall },
    { when: { router: false, contains: 'resp-ai-tool' }, 'tool-call': weatherCall, times: 1 },
    { when: { router: false, contains: 'resp-ai-tool' }, reply: 'FINAL ai: sunny in Paris' },
    { when: { router: false, contains: 'resp-agent-routed' }, 'tool-call': weatherCall, times: 1 },
    { when: { router: false, contains: 'resp-agent-routed' }, reply: 'FINAL agent routed: sunny in Paris' },
    { when: { router: false, contains: 'resp-agent-node' }, 'tool-call': weatherCall, times: 1 },
    { when: { router: false, contains: 'resp-agent-node' }, reply: 'FINAL agent node: sunny in Paris' },
  ],
};

let mock;
let gw;

before(async () => {
  setTracingDisabled(true);
  mock = await startMock(RULES);
  gw = await startLlmnet(seedConfig(mock.url));
});

after(async () => {
  await stopAll(gw, mock);
});

// An openai client whose fetch records each response's x-llmnet-route and
// (non-streamed) how the router hop was decided.
function client() {
  const seen = [];
  const recordingFetch = async (url, init) => {
    const res = await fetch(url, init);
    const entry = { status: res.status, route: res.headers.get('x-llmnet-route'), decided: undefined };
    if ((res.headers.get('content-type') ?? '').includes('application/json')) {
      const body = await res.clone().json();
      entry.decided = body?.llmnet?.hops?.find((h) => h.role === 'router')?.decided;
    }
    seen.push(entry);
    return res;
  };
  return { openai: new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', fetch: recordingFetch }), seen };
}

// The AI SDK's provider; openai(model) is its Responses model.
function aiProvider(seen) {
  const recordingFetch = async (url, init) => {
    const res = await fetch(url, init);
    seen.push({ url: String(url), status: res.status, route: res.headers.get('x-llmnet-route') });
    return res;
  };
  return createOpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', fetch: recordingFetch });
}

async function handlerCalls() {
  return (await mockRequests(mock.url)).filter((r) => !isRoutingCall(r));
}

describe('openai SDK responses.create', () => {
  test('plain, routed: a response object with a message item and usage', async () => {
    const { openai, seen } = client();
    const r = await openai.responses.create({ model: 'llmnet', input: 'write a poem about the sea', instructions: 'be brief' });
    assert.equal(r.object, 'response');
    assert.equal(r.status, 'completed');
    assert.match(r.id, /^resp_[0-9a-f]{32}$/);
    assert.equal(r.output_text, `[${CREATIVE}] reply to: write a poem about the sea`);
    assert.equal(r.output[0].type, 'message');
    assert.equal(r.output[0].role, 'assistant');
    assert.equal(r.instructions, 'be brief');
    assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0, JSON.stringify(r.usage));
    assert.equal(seen[0].route, 'router>creative-handler');
  });

  test('plain, straight to a node ("model": "technical-handler")', async () => {
    const { openai, seen } = client();
    const r = await openai.responses.create({ model: 'technical-handler', input: 'hello node' });
    assert.equal(r.output_text, `[${TECH}] reply to: hello node`);
    assert.equal(seen[0].route, 'technical-handler');
  });

  test('streaming, routed: the Responses event sequence, response.completed last', async () => {
    const { openai, seen } = client();
    const stream = await openai.responses.create({ model: 'llmnet', input: 'a poem about rain', stream: true });
    const types = [];
    let text = '';
    let completed;
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') completed = ev.response;
    }
    assert.equal(seen[0].route, 'router>creative-handler');
    assert.deepEqual(types.slice(0, 4), [
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ]);
    assert.deepEqual(types.slice(-4), [
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    assert.equal(text, `[${CREATIVE}] reply to: a poem about rain`);
    assert.equal(completed.output[0].content[0].text, text);
    assert.ok(completed.usage.total_tokens > 0);
  });

  test('streaming, straight to a node, with a function call: arguments deltas and a function_call item', async () => {
    const { openai } = client();
    const stream = await openai.responses.create({
      model: 'technical-handler',
      input: 'resp-stream-tool: weather?',
      stream: true,
      tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }],
    });
    const types = [];
    let args = '';
    let completed;
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'response.function_call_arguments.delta') args += ev.delta;
      if (ev.type === 'response.completed') completed = ev.response;
    }
    assert.ok(types.includes('response.function_call_arguments.done'), types.join());
    assert.deepEqual(JSON.parse(args), { city: 'Paris' });
    assert.equal(completed.output[0].type, 'function_call');
    assert.equal(completed.output[0].name, 'get_weather');
  });
});

describe('previous_response_id', () => {
  test('a known id continues the conversation, pinned to the first turn\'s handler', async () => {
    await clearMock(mock.url);
    const { openai, seen } = client();
    const first = await openai.responses.create({ model: 'llmnet', input: 'resp-pin: tell me about the moon' });
    const second = await openai.responses.create({
      model: 'llmnet',
      input: 'resp-pin: and now about the sun',
      previous_response_id: first.id,
    });
    assert.equal(second.previous_response_id, first.id);
    assert.equal(second.output_text, `[${CREATIVE}] reply to: resp-pin: and now about the sun`);
    assert.deepEqual(
      seen.map((s) => [s.route, s.decided]),
      [
        ['router>creative-handler', 'router'],
        ['router>creative-handler', 'pin'],
      ],
    );
    // the handler got the first turn (question and answer) before the new one
    const calls = await handlerCalls();
    const messages = calls[calls.length - 1].body.messages;
    assert.deepEqual(
      messages.map((m) => m.role),
      ['user', 'assistant', 'user'],
      JSON.stringify(messages),
    );
    assert.equal(messages[1].content, first.output_text);
  });

  test('with server.store in Redis (an asynchronous read), another llmnet continues the response', async () => {
    const redis = await startRedis();
    const a = await startLlmnet(seedConfig(mock.url, { server: { store: redis.url } }));
    const b = await startLlmnet(seedConfig(mock.url, { server: { store: redis.url } }));
    try {
      const on = (proc) => new OpenAI({ baseURL: `${proc.url}/v1`, apiKey: 'unused' });
      const first = await on(a).responses.create({ model: 'technical-handler', input: 'resp-redis: first turn' });
      const second = await on(b).responses.create({
        model: 'technical-handler',
        input: 'resp-redis: second turn',
        previous_response_id: first.id,
      });
      assert.equal(second.output_text, `[${TECH}] reply to: resp-redis: second turn`);
      const calls = await handlerCalls();
      const messages = calls[calls.length - 1].body.messages;
      assert.deepEqual(messages.map((m) => m.content), ['resp-redis: first turn', first.output_text, 'resp-redis: second turn']);
      await assert.rejects(
        on(b).responses.create({ model: 'technical-handler', input: 'x', previous_response_id: 'resp_unknown' }),
        (e) => e.status === 400 && e.code === 'previous_response_not_found',
      );
    } finally {
      await stopAll(a, b);
      redis.stop();
    }
  });

  test('an unknown id is a 400 saying so', async () => {
    const { openai } = client();
    await assert.rejects(
      openai.responses.create({ model: 'llmnet', input: 'hi', previous_response_id: 'resp_0000' }),
      (e) => e.status === 400 && /previous_response_id "resp_0000" is not a response llmnet knows/.test(e.message) &&
        e.code === 'previous_response_not_found' && e.param === 'previous_response_id',
    );
  });
});

describe('refusals', () => {
  test('a built-in tool is a 400 naming it', async () => {
    const { openai } = client();
    await assert.rejects(
      openai.responses.create({ model: 'llmnet', input: 'search the web', tools: [{ type: 'web_search_preview' }] }),
      (e) => e.status === 400 && /built-in tool "web_search_preview"/.test(e.message) && e.param === 'tools',
    );
  });
});

describe('Vercel AI SDK openai(model) (Responses)', () => {
  test('generateText, routed and straight to a node', async () => {
    const seen = [];
    const openai = aiProvider(seen);
    const routed = await generateText({ model: openai('llmnet'), prompt: 'a poem about snow' });
    assert.equal(routed.text, `[${CREATIVE}] reply to: a poem about snow`);
    const direct = await generateText({ model: openai('technical-handler'), prompt: 'hello ai' });
    assert.equal(direct.text, `[${TECH}] reply to: hello ai`);
    assert.ok(seen.every((s) => s.url.endsWith('/v1/responses')), JSON.stringify(seen));
    assert.deepEqual(seen.map((s) => s.route), ['router>creative-handler', 'technical-handler']);
  });

  test('streamText', async () => {
    const seen = [];
    const openai = aiProvider(seen);
    const result = streamText({ model: openai('llmnet'), prompt: 'a poem about wind' });
    let text = '';
    for await (const piece of result.textStream) text += piece;
    assert.equal(text, `[${CREATIVE}] reply to: a poem about wind`);
    assert.equal((await result.finishReason), 'stop');
    assert.equal(seen[0].route, 'router>creative-handler');
  });

  test('a two-step tool loop (tool call, tool result, answer)', async () => {
    const seen = [];
    const openai = aiProvider(seen);
    const cities = [];
    const result = await generateText({
      model: openai('llmnet'),
      prompt: 'resp-ai-tool: what is the weather in Paris?',
      tools: {
        get_weather: aiTool({
          description: 'The weather in a city',
          inputSchema: z.object({ city: z.string() }),
          execute: async ({ city }) => {
            cities.push(city);
            return `sunny in ${city}`;
          },
        }),
      },
      stopWhen: stepCountIs(3),
    });
    assert.deepEqual(cities, ['Paris']);
    assert.equal(result.steps.length, 2);
    assert.equal(result.text, 'FINAL ai: sunny in Paris');
    assert.deepEqual(seen.map((s) => s.route), ['router>technical-handler', 'router>technical-handler']);
  });
});

describe('cut streams', () => {
  test('an upstream stream cut ends with response.failed and error, never response.completed', async () => {
    const { openai } = client();
    const stream = await openai.responses.create({ model: 'technical-handler', input: 'resp-cut now', stream: true });
    const types = [];
    await assert.rejects(
      (async () => {
        for await (const ev of stream) types.push(ev.type);
      })(),
      (e) => e instanceof OpenAI.APIError && /mid-stream|before \[DONE\]|transfer/.test(e.message),
    );
    assert.ok(types.includes('response.failed'), types.join());
    assert.ok(!types.includes('response.completed'), types.join());
  });

  test('the AI SDK streamText sees the cut as an error', async () => {
    const openai = aiProvider([]);
    const parts = [];
    const result = streamText({ model: openai('technical-handler'), prompt: 'resp-cut again', onError: () => {} });
    for await (const part of result.fullStream) parts.push(part.type);
    assert.ok(parts.includes('error'), parts.join());
    assert.notEqual(await result.finishReason, 'stop');
  });
});

describe('OpenAI Agents SDK, default mode (Responses)', () => {
  function weatherAgent() {
    const calls = [];
    const agent = new Agent({
      name: 'Weather agent',
      instructions: 'Look the weather up with the tool, then answer.',
      tools: [
        tool({
          name: 'get_weather',
          description: 'The weather in a city',
          parameters: z.object({ city: z.string() }),
          execute: async ({ city }) => {
            calls.push(city);
            return `sunny in ${city}`;
          },
        }),
      ],
    });
    return { agent, calls };
  }

  test('an agent with one function tool, routed and straight to a node', async () => {
    const { openai, seen } = client();
    setDefaultOpenAIClient(openai);
    const routed = weatherAgent();
    routed.agent.model = 'llmnet';
    const r1 = await run(routed.agent, 'resp-agent-routed: weather in Paris?');
    assert.equal(r1.finalOutput, 'FINAL agent routed: sunny in Paris');
    assert.deepEqual(routed.calls, ['Paris']);
    const direct = weatherAgent();
    direct.agent.model = 'technical-handler';
    const r2 = await run(direct.agent, 'resp-agent-node: weather in Paris?');
    assert.equal(r2.finalOutput, 'FINAL agent node: sunny in Paris');
    assert.deepEqual(direct.calls, ['Paris']);
    assert.deepEqual(
      seen.map((s) => s.route),
      ['router>technical-handler', 'router>technical-handler', 'technical-handler', 'technical-handler'],
    );
    // the tool loop's second turn was pinned, not routed again
    assert.deepEqual(seen.slice(0, 2).map((s) => s.decided), ['router', 'pin']);
  });
});

describe('the door label', () => {
  test('metrics, the stats JSON and the access log know the Responses door', async () => {
    const { openai } = client();
    await openai.responses.create({ model: 'technical-handler', input: 'count me' });
    const text = (await request(gw.url, '/metrics')).text;
    assert.match(text, /^llmnet_requests_total\{entry="technical-handler",status="200",door="responses"\} \d+$/m);
    assert.match(text, /^llmnet_requests_total\{entry="[^"]+",status="400",door="responses"\} \d+$/m);
    const stats = JSON.parse((await request(gw.url, '/v1/llmnet/stats')).text);
    assert.ok(stats.doors.responses.requests >= 1, JSON.stringify(stats.doors));
    assert.ok(stats.doors.responses.errors >= 1, JSON.stringify(stats.doors));
    // the access log (warn level: the refusals) names the door
    assert.match(gw.stderr, /request id=\S+ door=responses status=400/);
  });
});

describe('server.api-keys on /v1/responses', () => {
  test('the key as Authorization: Bearer or as x-api-key; without it a 401 in OpenAI\'s shape', async () => {
    const locked = await startLlmnet(seedConfig(mock.url, { server: { 'api-keys': ['door-key'] } }));
    try {
      const body = JSON.stringify({ model: 'technical-handler', input: 'locked door' });
      const post = (headers) =>
        fetch(`${locked.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      const none = await post({});
      assert.equal(none.status, 401);
      assert.match((await none.json()).error.message, /missing or unknown API key/);
      assert.equal((await post({ 'x-api-key': 'wrong' })).status, 401);
      const bearer = await new OpenAI({ baseURL: `${locked.url}/v1`, apiKey: 'door-key' }).responses.create({
        model: 'technical-handler',
        input: 'locked door',
      });
      assert.equal(bearer.status, 'completed');
      const xkey = await post({ 'x-api-key': 'door-key' });
      assert.equal(xkey.status, 200);
      assert.equal((await xkey.json()).status, 'completed');
    } finally {
      await stopAll(locked);
    }
  });
});

describe('llmnet explain --door', () => {
  test('says the Responses request is translated before the same pipeline', async () => {
    const r = await runCli(['explain', gw.file, 'write a poem', '--door', 'responses']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^door: responses \(POST \/v1\/responses\): the Responses request is translated into a chat completion request/m);
    assert.match(r.stdout, /then runs through the same pipeline as below/);
    const chat = await runCli(['explain', gw.file, 'write a poem']);
    assert.match(chat.stdout, /^door: chat \(POST \/v1\/chat\/completions\)/m);
    const bad = await runCli(['explain', gw.file, 'hi', '--door', 'fax']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--door fax is not a door; use chat, responses or messages/);
  });
});
