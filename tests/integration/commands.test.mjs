// The commands that read a composition without serving it: graph (Mermaid,
// Graphviz, SVG through Graphviz's dot), validate --format json, and explain
// (where a prompt would go, without calling any model).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ROOT, runCli, tempDir, writeJson } from './lib.mjs';

// The user's own key must not change what these commands print.
const UNSET = ['OPENROUTER_API_KEY_FREE'];
const cli = (args, env = {}) => runCli(args, { env, unset: UNSET });

const SEED = path.join(ROOT, 'examples/openrouter-pipeline.json');
const CONDITIONAL = path.join(ROOT, 'examples/conditional-routing.json');
const dir = tempDir();

after(() => rmSync(dir, { recursive: true, force: true }));

// 1-based line and column of the first occurrence of `needle` in `text`.
function positionOf(text, needle) {
  const i = text.indexOf(needle);
  assert.ok(i >= 0, `${needle} is in the file`);
  const before = text.slice(0, i).split('\n');
  return { line: before.length, col: before[before.length - 1].length + 1 };
}

// The line of `text` whose first non-blank characters are `start`.
function lineOf(text, start) {
  const line = text.split('\n').find((l) => l.trimStart().startsWith(start));
  assert.ok(line !== undefined, `a line starts with "${start}" in:\n${text}`);
  return line;
}

describe('graph', () => {
  test('mermaid (the default) of the seed pipeline: layers, roles, models, inherited endpoint', async () => {
    const r = await cli(['graph', SEED]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const m = r.stdout;
    assert.match(m, /^%% llmnet graph of .*openrouter-pipeline\.json\nflowchart LR\n/);
    assert.match(m, /subgraph layer0\["layer 0"\]\n\s+n0\{\{"router<br\/>router, entry<br\/>model: router-gemma<br\/>id: google\/gemma-3-27b-it:free"\}\}\n\s+end/);
    assert.match(m, /subgraph layer1\["layer 1"\]/);
    assert.match(m, /n1\["creative-handler<br\/>answers \(terminal\)<br\/>model: handler-llama<br\/>id: meta-llama\/llama-3\.3-70b-instruct:free<br\/>use-case: Creative writing,/);
    assert.match(m, /n2\["technical-handler<br\/>answers \(terminal\)<br\/>model: router-gemma \(inherited from router\)<br\/>id: qwen\/qwen3-coder:free/);
    assert.match(m, /\n {2}n0 --> n1\n {2}n0 --> n2\n/);
    assert.equal(await cli(['graph', SEED, '--format', 'mermaid']).then((x) => x.stdout), m);
  });

  test('mermaid of conditional routing: conditions on the edges, escaped', async () => {
    const r = await cli(['graph', CONDITIONAL, '--format', 'mermaid']);
    assert.equal(r.code, 0, r.stderr);
    const m = r.stdout;
    for (const name of ['router', 'short-input-handler', 'long-input-handler', 'response-refiner']) assert.ok(m.includes(`"${name}<br/>`), name);
    assert.match(m, /n4\(\["output"\]\)/);
    assert.ok(m.includes('n0 -->|"if $WORD_COUNT #lt; 10"| n1'), m);
    assert.ok(m.includes('n0 -->|"if $WORD_COUNT #gt;= 10"| n2'), m);
    assert.ok(m.includes('n1 --> n4'));
    assert.ok(m.includes('n2 --> n3'));
    assert.ok(m.includes('n3 --> n4'));
    assert.ok(!/[<>](?!br\/>)/.test(m.replace(/<br\/>/g, '').replace(/-->|-\.->/g, '')), 'no raw < or > in labels');
  });

  test('dot of conditional routing: clusters, shapes, edge labels', async () => {
    const r = await cli(['graph', CONDITIONAL, '--format', 'dot']);
    assert.equal(r.code, 0, r.stderr);
    const d = r.stdout;
    assert.match(d, /digraph llmnet \{\n\s+rankdir=LR;/);
    for (const layer of [0, 1, 2]) assert.ok(d.includes(`subgraph cluster_layer${layer} {`), `layer ${layer}`);
    assert.match(d, /n0 \[label="router\\nrouter, entry\\nmodel: router\\nid: google\/gemma-3-27b-it:free", shape=hexagon, penwidth=2\];/);
    assert.ok(d.includes('n0 -> n1 [label="if $WORD_COUNT < 10"];'), d);
    assert.ok(d.includes('n0 -> n2 [label="if $WORD_COUNT >= 10"];'), d);
    assert.ok(d.includes('\\nif $WORD_COUNT < 10", shape=box'), 'the node carries its condition too');
    assert.ok(d.includes('n2 -> n3;'));
    assert.ok(d.trimEnd().endsWith('}'));
  });

  test('default targets, fallbacks, ws sinks and awkward characters', async () => {
    const file = writeJson(dir, 'tricky.json', {
      models: { m: { type: 'external', url: 'http://localhost:1' } },
      architecture: [
        { name: 'entry', layer: 0, model: 'm', 'output-to': [1] },
        { name: 'a', layer: 1, model: 'm', 'use-case': 'Say "hi" <b> | x', if: '$INPUT contains "|"', fallback: 'b' },
        { name: 'b', layer: 1, default: true, 'extra-options': { model_override: ['one/id', 'two/id'] } },
        { name: 'tap', adapter: 'ws', url: 'ws://localhost:9/x', if: '$NODE == "a"' },
      ],
    });
    const m = (await cli(['graph', file])).stdout;
    assert.ok(m.includes('n0 -->|"if $INPUT contains #quot;#124;#quot;"| n1'), m);
    assert.ok(m.includes('n0 -->|"default"| n2'), m);
    assert.ok(m.includes('n1 -.->|"fallback"| n2'), m);
    assert.ok(m.includes('use-case: Say #quot;hi#quot; #lt;b#gt; #124; x'), m);
    assert.ok(m.includes('ids: one/id,<br/>then two/id'), m);
    assert.ok(m.includes('subgraph sinks["ws sinks"]'), m);
    assert.ok(m.includes('n3[/"tap<br/>ws sink: gets each response<br/>url: ws://localhost:9/x<br/>if $NODE == #quot;a#quot;"/]'), m);
    const d = (await cli(['graph', file, '--format', 'dot'])).stdout;
    assert.ok(d.includes('n1 -> n2 [label="fallback", style=dashed];'), d);
    assert.ok(d.includes('use-case: Say \\"hi\\" <b> | x'), d);
    assert.ok(d.includes('n0 -> n1 [label="if $INPUT contains \\"|\\""];'), d);
  });

  test('--format svg renders through Graphviz', async () => {
    const r = await cli(['graph', CONDITIONAL, '--format', 'svg']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes('<svg'), r.stdout.slice(0, 300));
    assert.ok(r.stdout.trimEnd().endsWith('</svg>'));
    assert.ok(r.stdout.includes('if $WORD_COUNT &lt; 10'), 'labels escaped as XML by dot');
    assert.ok(r.stdout.includes('short&#45;input&#45;handler'), 'dot writes - as &#45;');
  });

  test('--format svg without dot on PATH: a clear error, exit 1', async () => {
    const r = await cli(['graph', CONDITIONAL, '--format', 'svg'], { PATH: path.join(dir, 'no-such-dir') });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /needs Graphviz's "dot" program, which is not on PATH \(Debian: apt-get install graphviz\)/);
  });

  test('a broken composition: diagnostics, exit 1, no picture', async () => {
    const r = await cli(['graph', path.join(ROOT, 'tests/fixtures/bad-condition.json')]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /bad-condition\.json:11:9: error: node "b": condition/);
  });

  test('bad usage: exit 2', async () => {
    assert.equal((await cli(['graph', SEED, '--format', 'png'])).code, 2);
    assert.equal((await cli(['graph'])).code, 2);
    assert.equal((await cli(['graph', SEED, SEED])).code, 2);
  });

  test('needs no secret: variables that are not set do not matter', async () => {
    const r = await cli(['graph', SEED]);
    assert.equal(r.code, 0);
    assert.ok(!r.stdout.includes('OPENROUTER_API_KEY_FREE'));
  });
});

describe('validate --format json', () => {
  test('a valid file: valid, counts, warnings with their place', async () => {
    const r = await cli(['validate', SEED, '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.file, SEED);
    assert.equal(j.valid, true);
    assert.equal(j.errors, 0);
    assert.equal(j.warnings, j.diagnostics.length);
    const inherited = j.diagnostics.find((d) => d.message.includes('inherits model "router-gemma"'));
    assert.ok(inherited, r.stdout);
    assert.equal(inherited.severity, 'warning');
    const text = readFileSync(SEED, 'utf8');
    const at = positionOf(text, '{\n      "name": "technical-handler"');
    assert.deepEqual([inherited.line, inherited.column], [at.line, at.col]);
    for (const d of j.diagnostics) assert.deepEqual(Object.keys(d), ['severity', 'line', 'column', 'message']);
  });

  test('a broken file: invalid, the error at its line and column, exit 1', async () => {
    const text = [
      '{',
      '  "models": { "m": { "type": "external", "url": "http://localhost:1" } },',
      '  "architecture": [',
      '    { "name": "a", "layer": 0, "model": "m", "output-to": ["nowhere"] },',
      '    { "name": "b", "layer": 1, "model": "m", "if": "$WORD_COUNT <" }',
      '  ]',
      '}',
    ].join('\n');
    const file = writeJson(dir, 'broken.json', text);
    const r = await cli(['validate', '--format', 'json', file]);
    assert.equal(r.code, 1);
    const j = JSON.parse(r.stdout);
    assert.equal(j.valid, false);
    assert.equal(j.errors, 2);
    const cond = j.diagnostics.find((d) => d.message.includes('does not parse'));
    assert.equal(cond.severity, 'error');
    const at = positionOf(text, '"if"');
    assert.deepEqual([cond.line, cond.column], [at.line, at.col]);
    assert.ok(j.diagnostics.some((d) => d.message.includes('"nowhere", which is not a node')));
  });

  test('a file that cannot be read: line and column are null', async () => {
    const r = await cli(['validate', path.join(dir, 'missing.json'), '--format', 'json']);
    assert.equal(r.code, 1);
    const j = JSON.parse(r.stdout);
    assert.equal(j.valid, false);
    assert.equal(j.diagnostics[0].line, null);
    assert.equal(j.diagnostics[0].column, null);
  });

  test('a syntax error has its place', async () => {
    const r = await cli(['validate', path.join(ROOT, 'tests/fixtures/bad-syntax.json'), '--format', 'json']);
    assert.equal(r.code, 1);
    const d = JSON.parse(r.stdout).diagnostics[0];
    assert.deepEqual([d.severity, d.line, d.column], ['error', 7, 5]);
  });

  test('text stays the default; an unknown format is a usage error', async () => {
    const r = await cli(['validate', SEED, '--format', 'text']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /openrouter-pipeline\.json: valid, 0 errors, \d+ warnings/);
    assert.equal((await cli(['validate', SEED, '--format', 'yaml'])).code, 2);
    assert.equal((await cli(['run', SEED, '--format', 'json'])).code, 2);
  });
});

describe('explain', () => {
  test('conditional routing, 3 words: the short handler only, no router call', async () => {
    const r = await cli(['explain', CONDITIONAL, 'hello there friend']);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, /last user message "hello there friend" \(3 words, 18 characters\)/);
    const short = lineOf(out, 'short-input-handler ');
    assert.match(short, /\bholds\b/);
    assert.match(short, /if \$WORD_COUNT < 10 {2}\(WORD_COUNT=3\)/);
    const long = lineOf(out, 'long-input-handler ');
    assert.match(long, /does not hold/);
    assert.match(long, /WORD_COUNT=3/);
    assert.ok(out.includes('one candidate left: go to short-input-handler without a model call'));
    assert.ok(out.includes('route: router > short-input-handler > output\n'));
    assert.ok(out.includes('router model: not needed\n'));
    assert.ok(!out.includes('system prompt'));
  });

  test('conditional routing, 12 words: the long handler, then the refiner', async () => {
    const r = await cli(['explain', CONDITIONAL, 'one two three four five six seven eight nine ten eleven twelve']);
    assert.equal(r.code, 0);
    assert.match(lineOf(r.stdout, 'long-input-handler '), /holds {2}.*WORD_COUNT=12/);
    assert.ok(r.stdout.includes('route: router > long-input-handler > response-refiner > output\n'), r.stdout);
    assert.ok(r.stdout.includes("response-refiner (layer 2): answers with model handler as google/gemma-3-27b-it:free; it receives long-input-handler's answer"));
  });

  test('the seed pipeline: the router is needed; its prompt lists both handlers', async () => {
    const r = await cli(['explain', SEED, 'Write a haiku about programming']);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.ok(out.includes('2 candidates left: the router model chooses'), out);
    assert.ok(out.includes('model router-gemma as google/gemma-3-27b-it:free, temperature 0'), out);
    const prompt = out
      .split('\n')
      .filter((l) => l.startsWith('     |'))
      .map((l) => l.replace(/^ {5}\| ?/, ''));
    assert.ok(prompt.includes('Targets:'), out);
    assert.ok(prompt.includes('- creative-handler: Creative writing, storytelling, poetry'), out);
    assert.ok(prompt.includes('- technical-handler: Technical questions, coding, math, science'), out);
    assert.ok(out.includes('   user message:\n     | Write a haiku about programming\n'), out);
    assert.ok(out.includes('- creative-handler (layer 1): answers with model handler-llama'), out);
    assert.ok(out.includes('- technical-handler (layer 1): answers with model router-gemma (inherited from router)'), out);
    assert.ok(out.includes('router model: needed'), out);
  });

  test('--header feeds UseHeaderKeys variables', async () => {
    const file = writeJson(dir, 'headers.json', {
      models: { m: { type: 'external', url: 'http://localhost:1' } },
      architecture: [
        { name: 'entry', layer: 0, model: 'm', 'output-to': [1], 'extra-options': { UseHeaderKeys: ['X_TIER'] } },
        { name: 'gold', layer: 1, model: 'm', if: '$X_TIER == "gold"' },
        { name: 'basic', layer: 1, model: 'm', if: '$X_TIER != "gold"' },
      ],
    });
    const r = await cli(['explain', file, 'hi', '--header', 'x_tier: gold', '--header', 'Other: 1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(lineOf(r.stdout, 'gold '), /holds +if \$X_TIER == "gold" {2}\(X_TIER="gold"\)/);
    assert.match(lineOf(r.stdout, 'basic '), /does not hold/);
    assert.ok(r.stdout.includes("header Other: not in any node's UseHeaderKeys"), r.stdout);
    assert.ok(r.stdout.includes('route: entry > gold\n'), r.stdout);
    const bad = await cli(['explain', file, 'hi', '--header', 'no colon']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Name: value/);
  });

  test('bad usage and broken files', async () => {
    assert.equal((await cli(['explain', SEED])).code, 2);
    assert.equal((await cli(['explain'])).code, 2);
    const r = await cli(['explain', path.join(ROOT, 'tests/fixtures/bad-condition.json'), 'hi']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: node "b"/);
  });
});
