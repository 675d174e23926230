// llmnet explain --messages: a whole conversation explained without calling
// any model: the turn's kind, the session (x-session-id or the fingerprint
// of the opening), what the router would read (the newest turn with the
// previous exchange as context), and what decides a routing step in order:
// rules, a pin or a tool turn on the session's handler, the decision cache,
// the router; no user text goes to the default target with no router call.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { ROOT, runCli, tempDir, writeJson } from './lib.mjs';

const SEED = path.join(ROOT, 'examples/openrouter-pipeline.json');
const dir = tempDir();
const cli = (args) => runCli(args, { unset: ['OPENROUTER_API_KEY_FREE'] });
after(() => rmSync(dir, { recursive: true, force: true }));

const user = (content) => ({ role: 'user', content });
const assistant = (content) => ({ role: 'assistant', content });
const CODING = [
  user('Write a Python function that checks whether a string is a palindrome'),
  assistant('def is_palindrome(s):\n    return s == s[::-1]'),
];
const TOOL_LOOP = [
  { role: 'system', content: 'You are a coding agent.' },
  user('Run my unit tests and tell me which ones fail'),
  { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'run_tests', arguments: '{}' } }] },
  { role: 'tool', tool_call_id: 'call_1', content: 'FAILED tests/test_parser.py::test_empty_input' },
];

// The lines of the block under "   user message:" (what the router reads).
function routerReads(out) {
  const lines = out.split('\n');
  const at = lines.indexOf('   user message:');
  assert.ok(at >= 0, `a user message block in:\n${out}`);
  const block = [];
  for (const l of lines.slice(at + 1)) {
    if (!l.startsWith('     |')) break;
    block.push(l.replace(/^ {5}\| ?/, ''));
  }
  return block;
}

async function explain(messages, ...args) {
  const file = writeJson(dir, `m-${Math.random().toString(36).slice(2)}.json`, messages);
  const r = await cli(['explain', args[0] ?? SEED, '--messages', file, ...args.slice(1)]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

describe('explain --messages', () => {
  test('a follow-up: the router reads the short newest turn with the previous exchange', async () => {
    const out = await explain([...CODING, user('Can you add comments to it?')]);
    assert.ok(out.includes('request: 3 messages (user, assistant, user)\n'), out);
    assert.ok(out.includes('last user message "Can you add comments to it?" (6 words, 27 characters)\n'), out);
    assert.ok(out.includes('turn: a new user turn'), out);
    const reads = routerReads(out);
    assert.ok(reads.includes('Can you add comments to it?'), reads.join('\n'));
    assert.ok(
      reads.some((l) => l.includes('Write a Python function that checks whether a string is a palindrome')),
      `the previous exchange is context:\n${reads.join('\n')}`,
    );
    assert.ok(reads.indexOf('Can you add comments to it?') < reads.findIndex((l) => l.includes('palindrome')), 'newest first');
    assert.ok(out.includes('     1. rules: the targets\' conditions (above) leave 2 candidates, so no rule decides\n'), out);
    assert.ok(out.includes('     2. pin: a pin decides if this session has one (sticky: session); it lives 1800 s idle\n'), out);
    assert.match(out, /^ {5}3\. cache: the same routing input decided in the last 600 s reuses that decision \(key [0-9a-f]{16}\.\.\.\)$/m);
    assert.ok(out.includes('     4. else the router model, as below'), out);
    assert.ok(out.includes('max_tokens 64'), out);
    assert.ok(out.includes('router model: needed'), out);
  });

  test('a tool turn: it continues on the session\'s handler; the router would read the human turn', async () => {
    const out = await explain({ messages: TOOL_LOOP }, SEED, '--header', 'x-session-id: agent-42');
    assert.ok(out.includes('request: 4 messages (system, user, assistant, tool)\n'), out);
    assert.ok(out.includes('turn: a tool result (the newest message is a tool\'s): the agent loop goes on\n'), out);
    assert.ok(out.includes('session: x-session-id "agent-42" (from --header)\n'), out);
    assert.ok(out.includes('header x-session-id: names the session\n'), out);
    assert.ok(
      out.includes(
        "     2. pin: a tool turn continues on the session's handler (sticky: session): a pin decides if this session has one, without a router call; else it is routed as below\n",
      ),
      out,
    );
    const reads = routerReads(out);
    assert.ok(reads.includes('Run my unit tests and tell me which ones fail'), reads.join('\n'));
    assert.ok(!reads.some((l) => l.includes('FAILED tests/')), 'a tool result is not the human turn');
  });

  test('the session is the fingerprint of the opening: later turns and tool-call ids do not change it', async () => {
    const fingerprint = (out) => out.match(/^session: fingerprint ([0-9a-f]{64}) /m)?.[1];
    const a = fingerprint(await explain(TOOL_LOOP));
    const longer = [...TOOL_LOOP, assistant('One test fails.'), user('Fix it')];
    longer[2] = { ...longer[2], tool_calls: [{ ...longer[2].tool_calls[0], id: 'call_other' }] };
    const b = fingerprint(await explain(longer));
    const other = fingerprint(await explain([TOOL_LOOP[0], user('Write me a poem')]));
    assert.ok(a && b && other);
    assert.equal(a, b);
    assert.notEqual(a, other);
  });

  test('no user text: the default target answers, no router call', async () => {
    const out = await explain([{ role: 'system', content: 'You are helpful.' }]);
    assert.ok(out.includes('turn: no conversation turn (only system or developer messages)\n'), out);
    assert.ok(out.includes('session: none (no user message and no x-session-id)\n'), out);
    assert.ok(
      out.includes(
        '   2 candidates left, but no user text: the default target answers, no router call (decided: no-input): creative-handler (the first candidate)\n',
      ),
      out,
    );
    assert.ok(out.includes('route: router > creative-handler\n'), out);
    assert.ok(out.includes('router model: not needed\n'), out);
    assert.ok(!out.includes('system prompt:'), out);
  });

  test('routing settings: sticky turn, sticky off, no decision cache', async () => {
    const withRouting = (routing) => {
      const cfg = { ...JSON.parse(JSON.stringify(SEED_CFG)), routing };
      return writeJson(dir, `routing-${Math.random().toString(36).slice(2)}.json`, cfg);
    };
    const long = user('Please now write a second function that returns the longest palindromic substring of a given string, efficiently');
    const turn = await explain([...CODING, long], withRouting({ sticky: 'turn', 'decision-cache': false }));
    assert.ok(turn.includes('2. pin: none for a new user turn (sticky: turn)'), turn);
    assert.ok(turn.includes('3. cache: off ("decision-cache": false)'), turn);
    assert.ok(routerReads(turn).some((l) => l.includes('checks whether a string is a palindrome')), 'turn mode: the previous exchange is read');
    const tool = await explain(TOOL_LOOP, withRouting({ sticky: 'turn' }));
    assert.ok(tool.includes("2. pin: a tool turn continues on the session's handler (sticky: turn)"), tool);
    const off = await explain(TOOL_LOOP, withRouting({ sticky: 'off' }));
    assert.ok(off.includes('2. pin: none (sticky: off): every request is routed on its own'), off);
    assert.match(off, /4\. else the router model, as below; its choice is remembered in the decision cache\n/);
  });

  test('PROMPT and --prompt still work; bad input is an error naming the file and the fix', async () => {
    const a = await cli(['explain', SEED, 'Write a haiku about programming']);
    const b = await cli(['explain', SEED, '--prompt', 'Write a haiku about programming']);
    assert.equal(a.code, 0);
    assert.equal(b.stdout, a.stdout);
    assert.ok(a.stdout.includes('request: last user message "Write a haiku about programming"'), a.stdout);
    const file = writeJson(dir, 'one.json', [user('hi')]);
    for (const args of [[SEED], [SEED, 'hi', '--messages', file], [SEED, '--prompt', 'x', '--messages', file], [SEED, 'a', 'b']]) {
      const r = await cli(['explain', ...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /--messages FILE\.json/);
    }
    for (const [name, text, why] of [
      ['notjson.json', '[{"role": "user",', /not valid JSON/],
      ['empty.json', '[]', /not a non-empty array/],
      ['nomessages.json', '{"prompt": "hi"}', /no "messages"/],
      ['norole.json', '[{"content": "hi"}]', /messages\[0\] has no "role"/],
    ]) {
      const f = writeJson(dir, name, text);
      const r = await cli(['explain', SEED, '--messages', f]);
      assert.equal(r.code, 1, name);
      assert.match(r.stderr, why);
      assert.ok(r.stderr.includes(f), 'names the file');
      assert.match(r.stderr, /give an OpenAI messages array/);
    }
    const missing = await cli(['explain', SEED, '--messages', path.join(dir, 'nope.json')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read the messages file/);
  });
});

const SEED_CFG = {
  models: {
    'router-gemma': { type: 'external', interface: 'openai-api', url: 'https://openrouter.ai/api', 'api-key': 'k' },
    'handler-llama': { type: 'external', interface: 'openai-api', url: 'https://openrouter.ai/api', 'api-key': 'k' },
  },
  architecture: [
    { name: 'router', layer: 0, model: 'router-gemma', 'output-to': [1] },
    { name: 'creative-handler', layer: 1, model: 'handler-llama', 'use-case': 'Creative writing, storytelling, poetry' },
    { name: 'technical-handler', layer: 1, 'use-case': 'Technical questions, coding, math, science' },
  ],
};
