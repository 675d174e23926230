// The OpenAI Agents SDK (@openai/agents) through llmnet: an agent's tool
// loop is one conversation, so it costs one router call however many model
// turns it takes (issue: "a 10-step tool loop is 10 router calls"). Real
// llmnet on the seed's topology (router + two handlers), real `llmnet mock`
// as router and handlers, the real Agents SDK at its default settings
// (maxTurns, retries) on its Chat Completions model; only tracing is off, so
// nothing leaves the machine. Router calls are counted from the mock's log.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Agent, OpenAIChatCompletionsModel, run, setTracingDisabled, tool } from '@openai/agents';
import { z } from 'zod';
import { clearMock, isRoutingCall, mockRequests, request, seedConfig, startLlmnet, startMock, stopAll } from './lib.mjs';

const CREATIVE_MODEL = 'meta-llama/llama-3.3-70b-instruct:free';
const TECH_MODEL = 'qwen/qwen3-coder:free';

// The Agents SDK's default maxTurns is 10: nine tool calls and the answer
// are ten model calls, the 10-step loop, within the default.
const TOOL_STEPS = 9;

const weatherCall = { name: 'get_weather', arguments: { city: 'Paris' } };

// Each run is told apart by a tag in its user message (the last user
// message stays the same through a tool loop). The router answers a run's
// first routing call with one handler and any later one with the other, so
// a second router call inside a run would also move it to another handler.
// A handler calls the tool `times` times, then answers.
function runRules(tag, first, later, steps, answer) {
  return [
    { when: { router: true, contains: tag }, route: first, times: 1 },
    { when: { router: true, contains: tag }, route: later },
    { when: { router: false, contains: tag }, 'tool-call': weatherCall, times: steps },
    { when: { router: false, contains: tag }, reply: answer },
  ];
}

const RULES = {
  rules: [
    ...runRules('agents-fp', 'technical-handler', 'creative-handler', TOOL_STEPS, 'FINAL fp: sunny in Paris'),
    ...runRules('agents-stream', 'technical-handler', 'creative-handler', TOOL_STEPS, 'FINAL stream: sunny in Paris'),
    // x-session-id: the second conversation's text alone would be routed to
    // technical-handler, but the session is pinned to creative-handler
    ...runRules('agents-sid-1', 'creative-handler', 'technical-handler', 4, 'FINAL sid 1: sunny in Paris'),
    ...runRules('agents-sid-2', 'technical-handler', 'technical-handler', 4, 'FINAL sid 2: sunny in Paris'),
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

// An OpenAI client on llmnet whose fetch records, for every response, the
// x-llmnet-route header and (non-streamed) how the router hop was decided.
function client(headers = {}) {
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
  const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', defaultHeaders: headers, fetch: recordingFetch });
  return { openai, seen };
}

function weatherAgent(openai) {
  const calls = [];
  const agent = new Agent({
    name: 'Weather agent',
    instructions: 'Look the weather up with the tool until you are sure, then answer.',
    model: new OpenAIChatCompletionsModel(openai, 'llmnet'),
    tools: [
      tool({
        name: 'get_weather',
        description: 'The weather in a city',
        parameters: z.object({ city: z.string() }),
        execute: async ({ city }) => {
          calls.push(city);
          return `sunny in ${city} (${calls.length})`;
        },
      }),
    ],
  });
  return { agent, calls };
}

// llmnet's own count of routing decisions by how they were decided
// (llmnet_routing_decisions_total summed over targets): the check that also
// holds for streamed responses, which carry no trace.
async function decisions() {
  const text = (await request(gw.url, '/metrics')).text;
  const out = {};
  for (const m of text.matchAll(/^llmnet_routing_decisions_total\{from="router",to="[^"]+",decided="([^"]+)"\} (\d+)$/gm)) {
    out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
  }
  return out;
}

function delta(before, after) {
  const out = {};
  for (const k of Object.keys(after)) if (after[k] !== (before[k] ?? 0)) out[k] = after[k] - (before[k] ?? 0);
  return out;
}

async function received() {
  const all = await mockRequests(mock.url);
  return { router: all.filter(isRoutingCall), handlers: all.filter((r) => !isRoutingCall(r)) };
}

describe('OpenAI Agents SDK tool loops through llmnet', () => {
  test('a 10-turn agent run (9 tool calls, then the answer) makes exactly one router call', async () => {
    await clearMock(mock.url);
    const { openai, seen } = client();
    const { agent, calls } = weatherAgent(openai);
    const before = await decisions();
    const result = await run(agent, 'agents-fp: what is the weather in Paris? Check it with the tool.');

    assert.equal(result.finalOutput, 'FINAL fp: sunny in Paris');
    assert.equal(calls.length, TOOL_STEPS, 'the agent ran the tool on every tool turn');
    assert.equal(seen.length, TOOL_STEPS + 1, 'one model call per turn');
    assert.ok(seen.every((s) => s.status === 200), JSON.stringify(seen));
    const { router, handlers } = await received();
    assert.equal(router.length, 1, `one router call for the whole agent run, not ${router.length}`);
    assert.equal(handlers.length, TOOL_STEPS + 1);
    assert.deepEqual(
      seen.map((s) => s.decided),
      ['router', ...Array(TOOL_STEPS).fill('pin')],
      'the tool-result turns follow the pin',
    );
    assert.deepEqual(
      seen.map((s) => s.route),
      Array(TOOL_STEPS + 1).fill('router>technical-handler'),
    );
    assert.deepEqual(delta(before, await decisions()), { router: 1, pin: TOOL_STEPS });
    assert.deepEqual(
      handlers.map((h) => h.body.model),
      Array(TOOL_STEPS + 1).fill(TECH_MODEL),
      'every handler call went to the handler the router chose',
    );
    // the tool results reached the handler: the last call carries all of them
    const last = handlers.at(-1).body.messages;
    assert.equal(last.filter((m) => m.role === 'tool').length, TOOL_STEPS);
    // the session is the conversation's fingerprint, the same on every call
    const fp = router[0].headers['x-session-id'];
    assert.match(fp, /^[0-9a-f]{64}$/);
    assert.ok(handlers.every((h) => h.headers['x-session-id'] === fp));
  });

  test('a streamed agent run (run(..., { stream: true })) makes exactly one router call', async () => {
    await clearMock(mock.url);
    const { openai, seen } = client();
    const { agent, calls } = weatherAgent(openai);
    const before = await decisions();
    const result = await run(agent, 'agents-stream: the weather in Paris, please, checked with the tool.', { stream: true });
    let text = '';
    for await (const chunk of result.toTextStream()) text += chunk;
    await result.completed;

    assert.equal(result.finalOutput, 'FINAL stream: sunny in Paris');
    assert.equal(text, 'FINAL stream: sunny in Paris');
    assert.equal(calls.length, TOOL_STEPS);
    const { router, handlers } = await received();
    assert.equal(router.length, 1, `one router call for the whole streamed run, not ${router.length}`);
    assert.equal(handlers.length, TOOL_STEPS + 1);
    assert.deepEqual(delta(before, await decisions()), { router: 1, pin: TOOL_STEPS }, 'the tool-result turns follow the pin');
    assert.deepEqual(
      seen.map((s) => s.route),
      Array(TOOL_STEPS + 1).fill('router>technical-handler'),
    );
    assert.ok(handlers.every((h) => h.body.stream === true));
    assert.ok(handlers.every((h) => h.body.model === TECH_MODEL));
  });

  test('x-session-id as a default header of the OpenAI client pins two agent runs to one handler', async () => {
    await clearMock(mock.url);
    const sid = `agents-sdk-${process.pid}`;
    const { openai, seen } = client({ 'x-session-id': sid });
    const { agent, calls } = weatherAgent(openai);

    const first = await run(agent, 'agents-sid-1: is it raining in Paris? Use the tool.');
    assert.equal(first.finalOutput, 'FINAL sid 1: sunny in Paris');
    // another conversation in the same session: no router call, the pin holds
    // (the router would have sent this one to technical-handler)
    const second = await run(agent, 'agents-sid-2: and is it windy there? Use the tool.');
    assert.equal(second.finalOutput, 'FINAL sid 2: sunny in Paris');

    assert.equal(calls.length, 8);
    const { router, handlers } = await received();
    assert.equal(router.length, 1, `one router call for both runs of the session, not ${router.length}`);
    assert.equal(handlers.length, 10);
    assert.deepEqual(
      seen.map((s) => s.decided),
      ['router', ...Array(9).fill('pin')],
    );
    assert.deepEqual(
      seen.map((s) => s.route),
      Array(10).fill('router>creative-handler'),
    );
    assert.ok(handlers.every((h) => h.body.model === CREATIVE_MODEL));
    assert.ok([...router, ...handlers].every((r) => r.headers['x-session-id'] === sid), 'the session id goes upstream');
  });
});
