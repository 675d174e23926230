// make bench, routing scenarios: the clients bench/routing.sh runs against
// llmnet with the seed topology (examples/offline-demo.json) and `llmnet
// mock`. Each mode prints one JSON line. Router calls are counted where they
// land: in the mock's log of requests (GET /mock/requests), a request being a
// router call when its system prompt is llmnet's routing prompt (the
// "Targets:" list the mock itself recognises).
//
//   node routing.mjs compose VARIANT OUT.json   the seed topology with the routing
//        settings of VARIANT: session (as shipped), turn, off (every request routed,
//        no decision cache: llmnet before issue 11), cache (no pins, decision cache)
//   node routing.mjs conv URL MOCK_URL          a 5-turn conversation and a 10-step
//        tool loop, each once with x-session-id and once by fingerprint
//   node routing.mjs mixed URL MOCK_URL         the mixed workload (see MIX below)
//   node routing.mjs early URL N                N times each: time to route with the
//        name on the router reply's first line / on its last line
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const now = () => process.hrtime.bigint();
const msSince = (t0) => Number(now() - t0) / 1e6;
// one nonce per process run: conversations of two runs never share a pin
const NONCE = `${process.pid}-${Date.now().toString(36)}`;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// ------------------------------------------------------------------ compose
// The seed topology as shipped (its comments are whole lines), with a
// top-level "routing" object for the variant.
const VARIANTS = {
  session: null, // the defaults: sticky session, decision cache on
  turn: { sticky: 'turn' },
  off: { sticky: 'off', 'decision-cache': false },
  cache: { sticky: 'off' },
};
function compose(variant, out) {
  if (!(variant in VARIANTS)) throw new Error(`compose: unknown variant ${variant}`);
  const text = fs
    .readFileSync(path.join(ROOT, 'examples/offline-demo.json'), 'utf8')
    .split('\n')
    .filter((l) => !/^\s*\/\//.test(l))
    .join('\n');
  const cfg = JSON.parse(text);
  if (VARIANTS[variant]) cfg.routing = VARIANTS[variant];
  fs.writeFileSync(out, JSON.stringify(cfg, null, 2) + '\n');
  return { variant, routing: cfg.routing || 'defaults' };
}

// ------------------------------------------------------------------ HTTP
async function post(url, body, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer mock-key', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* reported below */
  }
  if (res.status !== 200 || !json)
    throw new Error(`POST ${url}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return { json, headers: res.headers };
}

// How the response's first routing decision was made: the llmnet trace's
// hop that carries "decided" (or a top-level "decided").
function decidedOf(r) {
  const ext = r.json.llmnet || {};
  if (typeof ext.decided === 'string') return ext.decided;
  for (const h of ext.hops || []) if (h && typeof h.decided === 'string') return h.decided;
  return 'none';
}

const isRouterCall = (entry) => {
  const msgs = (entry.body && entry.body.messages) || [];
  return msgs.some(
    (m) => m && m.role === 'system' && typeof m.content === 'string' && /(^|\n)Targets:\n/.test(m.content),
  );
};
async function mockLog(mockUrl) {
  const res = await fetch(`${mockUrl}/mock/requests`);
  return res.json();
}
async function mockClear(mockUrl) {
  await fetch(`${mockUrl}/mock/requests`, { method: 'DELETE' });
}
// Runs fn, then counts what reached the mock meanwhile.
async function counted(mockUrl, fn) {
  await mockClear(mockUrl);
  const out = await fn();
  const log = await mockLog(mockUrl);
  out.upstream_calls = log.length;
  out.router_calls = log.filter(isRouterCall).length;
  return out;
}

// ------------------------------------------------------------------ conversations
const SYSTEM = (tag) => `You are a helpful assistant. (bench ${NONCE} ${tag})`;

// A conversation of user turns; each assistant answer goes back into the history.
async function conversation(url, opening, followUps, tag, headers) {
  const messages = [
    { role: 'system', content: SYSTEM(tag) },
    { role: 'user', content: opening },
  ];
  const decided = [];
  const routes = [];
  for (let turn = 0; ; turn++) {
    const r = await post(`${url}/v1/chat/completions`, { model: 'llmnet', messages }, headers);
    decided.push(decidedOf(r));
    routes.push(r.headers.get('x-llmnet-route'));
    messages.push({ role: 'assistant', content: r.json.choices[0].message.content ?? '' });
    if (turn >= followUps.length) break;
    messages.push({ role: 'user', content: followUps[turn] });
  }
  return { requests: followUps.length + 1, decided, routes };
}

const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'run_tests',
      description: 'Runs the test suite under a path',
      parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
    },
  },
];
// An agent loop: the handler answers with a tool call, the client runs the
// tool and sends the result; `steps` requests in all, the first a user turn.
async function toolLoop(url, task, steps, tag, headers) {
  const messages = [
    { role: 'system', content: SYSTEM(tag) },
    { role: 'user', content: task },
  ];
  const decided = [];
  const routes = [];
  let toolCalls = 0;
  for (let step = 0; step < steps; step++) {
    const r = await post(`${url}/v1/chat/completions`, { model: 'llmnet', messages, tools: TOOLS }, headers);
    decided.push(decidedOf(r));
    routes.push(r.headers.get('x-llmnet-route'));
    const msg = r.json.choices[0].message;
    let calls = msg.tool_calls;
    if (calls && calls.length) toolCalls++;
    else calls = [{ id: `call_bench_${step}`, type: 'function', function: { name: 'run_tests', arguments: '{}' } }];
    messages.push({ role: 'assistant', content: msg.content ?? null, tool_calls: calls });
    for (const c of calls)
      messages.push({ role: 'tool', tool_call_id: c.id, content: `step ${step + 1}: 12 passed, ${steps - step - 1} failing` });
  }
  return { requests: steps, decided, routes, tool_calls_answered: toolCalls };
}

const HAIKU_FOLLOW_UPS = [
  'Now make it about debugging',
  'Make the last line funnier',
  'Give it a title',
  'Thanks! One more, about coffee',
];
const BUG_TASK = 'Fix the failing test in my python project: run the tests until they pass';
// Each scenario opens with its own text: the decision cache, keyed by what
// the router reads, would otherwise answer the second one (measured apart).
const AUTUMN = 'Write a short poem about autumn leaves';
const FLAKY_TASK = 'Make the flaky integration test green: run the tests after each change';

async function conv(url, mockUrl) {
  const out = {};
  const sid = (t) => ({ 'x-session-id': `bench-${NONCE}-${t}` });
  out.conversation_header = await counted(mockUrl, () =>
    conversation(url, 'Write a haiku about programming', HAIKU_FOLLOW_UPS, 'conv-h', sid('conv')),
  );
  out.conversation_fingerprint = await counted(mockUrl, () =>
    conversation(url, AUTUMN, HAIKU_FOLLOW_UPS, 'conv-f', {}),
  );
  out.tool_loop_header = await counted(mockUrl, () => toolLoop(url, BUG_TASK, 10, 'tool-h', sid('tool')));
  out.tool_loop_fingerprint = await counted(mockUrl, () => toolLoop(url, FLAKY_TASK, 10, 'tool-f', {}));
  return out;
}

// ------------------------------------------------------------------ the mixed workload
// What one user's day on a chat assistant with an agent might look like:
// single questions, short conversations with follow-ups, and tool loops.
// (Texts of their own: none is an opening the conv scenarios used.)
const SINGLES = [
  'How do I reverse a linked list in Python?',
  'Write a limerick about a cat who learns to code',
  'What is the derivative of x^3 * sin(x)? Show the math',
  'Tell me a bedtime story about a lighthouse keeper',
  'Explain the difference between TCP and UDP for a sql api server',
  'Suggest a name for my bakery',
  'Why does my function return None instead of a list?',
  'Compose a short poem for my mother\'s birthday',
  'What is the time complexity of quicksort, as an algorithm?',
  'Describe a sunset over the mountains in three sentences',
];
const CONVERSATIONS = [
  ['Write a haiku about the ocean', 'Now make it about a storm', 'Make the last line sadder', 'Give it a title', 'One more, about rain'],
  ['How do I read a CSV file in Python?', 'And skip the header?', 'What if it is tab separated?', 'Now write the rows to sqlite', 'Add error handling'],
  ['Write the opening of a fantasy story about a dragon', 'Continue', 'Make the dragon friendlier', 'Add a twist', 'Write the ending'],
  ['My SQL query is slow: SELECT * FROM orders WHERE user_id = 5', 'There is no index', 'How do I check the plan?', 'It says Seq Scan', 'Thanks'],
  ['Plan a poem cycle about the four seasons', 'Start with spring', 'Now summer', 'Autumn please', 'And winter'],
];
const TOOL_TASKS = [
  'Find why the build fails on the CI and fix the code until the tests pass',
  'Refactor the api client code and run the tests after each change',
];
const MIX = {
  single_prompts: SINGLES.length,
  conversations: `${CONVERSATIONS.length} x ${CONVERSATIONS[0].length} turns`,
  tool_loops: `${TOOL_TASKS.length} x 10 steps`,
};

async function mixed(url, mockUrl) {
  return counted(mockUrl, async () => {
    const decided = {};
    let requests = 0;
    const tally = (r) => {
      requests += r.requests;
      for (const d of r.decided) decided[d] = (decided[d] || 0) + 1;
    };
    // interleaved, as several users' traffic would be
    for (let i = 0; i < SINGLES.length; i++) {
      tally(await conversation(url, SINGLES[i], [], `single-${i}`, {}));
      if (i < CONVERSATIONS.length) {
        const [first, ...rest] = CONVERSATIONS[i];
        tally(await conversation(url, first, rest, `conv-${i}`, {}));
      }
      if (i < TOOL_TASKS.length) tally(await toolLoop(url, TOOL_TASKS[i], 10, `tool-${i}`, {}));
    }
    return { mix: MIX, requests, decided };
  });
}

// ------------------------------------------------------------------ early decision
// Time to route, seen by the client: POST /v1/llmnet/route (no handler is
// called) when the gateway has it, else a whole chat completion (the
// handler's mock answers at once).
async function routeOnce(url, prompt) {
  const body = { model: 'llmnet', messages: [{ role: 'user', content: `${prompt} (${NONCE} ${Math.random()})` }] };
  const t0 = now();
  let res = await fetch(`${url}/v1/llmnet/route`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  let via = 'route';
  if (res.status === 404) {
    await res.text();
    via = 'chat';
    res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }
  const text = await res.text();
  const ms = msSince(t0);
  if (res.status !== 200) throw new Error(`early: HTTP ${res.status}: ${text.slice(0, 300)}`);
  const j = JSON.parse(text);
  const decided = j.decided || decidedOf({ json: j });
  const route = Array.isArray(j.route) ? j.route.join('>') : (j.llmnet && j.llmnet.route) || '';
  return { ms, server_ms: typeof j.latency_ms === 'number' ? j.latency_ms : null, decided, route, via };
}

async function early(url, n) {
  const runs = { early: [], late: [] };
  // one of each first, not counted: connections open
  await routeOnce(url, 'benchmark early: a short poem about the sea at night');
  await routeOnce(url, 'benchmark late: a short poem about the sea at night');
  for (let i = 0; i < n; i++) {
    runs.early.push(await routeOnce(url, 'benchmark early: a short poem about the sea at night'));
    runs.late.push(await routeOnce(url, 'benchmark late: a short poem about the sea at night'));
  }
  const sum = (rs) => ({
    samples: rs.length,
    p50_ms: median(rs.map((r) => r.ms)),
    server_p50_ms: rs.every((r) => r.server_ms !== null) ? median(rs.map((r) => r.server_ms)) : null,
    decided: [...new Set(rs.map((r) => r.decided))].join(','),
    routes: [...new Set(rs.map((r) => r.route))].join(','),
    via: rs[0] ? rs[0].via : 'none',
  });
  const e = sum(runs.early);
  const l = sum(runs.late);
  return { early: e, late: l, ratio: e.p50_ms > 0 ? l.p50_ms / e.p50_ms : null };
}

// ------------------------------------------------------------------ main
const [mode, ...args] = process.argv.slice(2);
let out;
try {
  if (mode === 'compose') out = compose(args[0], args[1]);
  else if (mode === 'conv') out = await conv(args[0], args[1]);
  else if (mode === 'mixed') out = await mixed(args[0], args[1]);
  else if (mode === 'early') out = await early(args[0], Number(args[1] || 5));
  else {
    process.stderr.write('usage: node routing.mjs compose|conv|mixed|early ...\n');
    process.exit(2);
  }
} catch (e) {
  process.stdout.write(JSON.stringify({ error: String(e.message || e) }) + '\n');
  process.exit(1);
}
process.stdout.write(JSON.stringify(out) + '\n');
