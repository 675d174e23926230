// Metrics and logs: /metrics parses with Prometheus's own promtool after
// real traffic, labels stay bounded, and the access log says what happened
// without leaking message content or keys.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';

import { chat, seedConfig, startLlmnet, startMock } from './lib.mjs';

const rules = {
  rules: [
    { when: { router: true, matches: 'python|code' }, route: 'technical-handler' },
    { when: { contains: 'fail please' }, status: 500, error: 'scripted failure' },
  ],
};

function series(text, name) {
  return text.split('\n').filter((l) => l.startsWith(name));
}

describe('metrics and logs', () => {
  let mock;
  let llmnet;
  let jsonLlmnet;
  const secretText = 'my very private question about python';

  before(async () => {
    mock = await startMock(rules);
    const cfg = seedConfig(mock.url);
    cfg.models['router-gemma'].retries = 0;
    llmnet = await startLlmnet(cfg, { args: ['--log-level', 'info'] });
    jsonLlmnet = await startLlmnet(cfg, { args: ['--log-level', 'info', '--log-format', 'json', '--log-content'] });
    for (const url of [llmnet.url, jsonLlmnet.url]) {
      await chat(url, { messages: [{ role: 'user', content: 'Write a haiku' }] }, { 'x-request-id': 'obs-req-1' });
      await chat(url, { messages: [{ role: 'user', content: secretText }] });
      await chat(url, { model: 'technical-handler', messages: [{ role: 'user', content: 'fail please' }] });
      await chat(url, { stream: true, messages: [{ role: 'user', content: 'Write a poem' }] });
    }
  });

  after(async () => {
    await llmnet?.stop();
    await jsonLlmnet?.stop();
    await mock?.stop();
  });

  it('exposes metrics that promtool accepts', async () => {
    const res = await fetch(`${llmnet.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /text\/plain/);
    const text = await res.text();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text });
    assert.equal(check.error, undefined, 'promtool is installed (Debian prometheus package)');
    assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
  });

  it('counts requests, upstream calls, routing, tokens and errors with bounded labels', async () => {
    const text = await (await fetch(`${llmnet.url}/metrics`)).text();
    assert.ok(series(text, 'llmnet_requests_total{entry="router",status="200",door="chat"} 3').length === 1, text);
    assert.ok(series(text, 'llmnet_requests_total{entry="technical-handler",status="502",door="chat"} 1').length === 1);
    assert.ok(series(text, 'llmnet_upstream_calls_total{node="technical-handler",model="qwen/qwen3-coder:free",outcome="5xx"}').length === 1);
    assert.ok(series(text, 'llmnet_routing_decisions_total{from="router",to="technical-handler",decided="router"} 1').length === 1);
    assert.ok(series(text, 'llmnet_tokens_total{node="creative-handler"').length >= 2);
    assert.ok(series(text, 'llmnet_upstream_duration_seconds_bucket{node="router",le="+Inf"}').length === 1);
    assert.ok(!text.includes('obs-req-1'), 'no request ids in labels');
    assert.ok(!text.includes('private question'), 'no user text in labels');
  });

  it('writes one text log line per request, without content', () => {
    const lines = llmnet.stderr.split('\n').filter((l) => / info  request | warn  request /.test(l));
    assert.equal(lines.length, 4, llmnet.stderr);
    const first = lines.find((l) => l.includes('id=obs-req-1'));
    assert.ok(first, 'the client request id is logged');
    assert.match(first, /status=200/);
    assert.match(first, /route=router>creative-handler/);
    assert.match(first, /router:google\/gemma-3-27b-it:free,creative-handler:meta-llama\/llama-3.3-70b-instruct:free/);
    assert.ok(lines.some((l) => / warn  request .*status=502/.test(l)), 'errors are logged at warn');
    assert.ok(!llmnet.stderr.includes('private question'), 'no message content without --log-content');
    assert.ok(!llmnet.stderr.includes('test-key-'), 'no keys in logs');
  });

  it('writes JSON log lines, with content only when --log-content is set', () => {
    const records = jsonLlmnet.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    const requests = records.filter((r) => r.msg === 'request');
    assert.equal(requests.length, 4);
    const ok = requests.find((r) => r.request_id === 'obs-req-1');
    assert.equal(ok.status, 200);
    assert.equal(ok.route, 'router>creative-handler');
    assert.equal(typeof ok.latency_ms, 'number');
    assert.equal(ok.hops.length, 2);
    assert.equal(ok.hops[1].model, 'meta-llama/llama-3.3-70b-instruct:free');
    assert.ok(requests.some((r) => r.input === secretText), '--log-content logs the user text');
    assert.ok(requests.some((r) => r.stream === true && r.status === 200));
    assert.ok(!jsonLlmnet.stderr.includes('test-key-'), 'no keys in logs');
  });
});
