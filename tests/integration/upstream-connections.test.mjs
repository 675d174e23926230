// llmnet's upstream connections: pooled keep-alive connections the
// provider closes while idle neither spin llmnet nor break the next calls,
// and libcurl's proxy variables are still honoured when set (llmnet skips
// reading them per call only when none is set). The upstream and the proxy
// are tiny HTTP servers in this process; llmnet and the clients are real.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { after, describe, test } from 'node:test';
import { chat, completionBody, onRequestBody, serveLocal, sleep, start, stopAll, tempDir, writeJson } from './lib.mjs';

const PROXY_VARS = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY', 'no_proxy', 'NO_PROXY'];

function composition(url) {
  return {
    models: { m: { type: 'external', interface: 'openai-api', url, 'api-key': 'sk-test' } },
    architecture: [{ name: 'solo', layer: 0, model: 'm', 'extra-options': { model_override: 'solo-model' } }],
  };
}

// llmnet on `config` with the proxy variables removed from its environment
// (then set again from `env`).
function startLlmnet(config, env = {}) {
  const file = writeJson(tempDir(), 'llmnet.json', config);
  return start([file, '--port', '0', '--log-level', 'warn'], { env, unset: PROXY_VARS.filter((k) => !(k in env)) });
}

const say = (content) => ({ model: 'solo', messages: [{ role: 'user', content }] });

// An OpenAI-style upstream answering every call; counts its connections.
// `closeIdleMs`: closes each connection that long after its answer (as a
// provider's keep-alive timeout does), while llmnet holds it in its pool.
function startUpstream({ closeIdleMs = 0 } = {}) {
  const seen = { connections: 0, requests: [] };
  const server = http.createServer((req, res) => {
    onRequestBody(req, (body) => {
      seen.requests.push({ url: req.url, headers: req.headers });
      const text = body.messages?.at(-1)?.content ?? '';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(completionBody('solo-model', `echo ${text}`)));
      if (closeIdleMs) res.on('finish', () => setTimeout(() => req.socket.end(), closeIdleMs));
    });
  });
  server.keepAliveTimeout = 10000;
  server.on('connection', () => seen.connections++);
  return serveLocal(server, { seen });
}

// utime + stime of a process, in clock ticks (100 per second on Linux).
function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

describe('pooled upstream connections', () => {
  const procs = [];
  after(() => stopAll(...procs));

  test('an upstream closing idle keep-alive connections: no spin, and the next calls succeed', async () => {
    const up = await startUpstream({ closeIdleMs: 50 });
    procs.push(up);
    const llmnet = await startLlmnet(composition(up.url));
    procs.push(llmnet);
    for (let i = 0; i < 4; i++) {
      const r = await chat(llmnet.url, say(`round ${i}`));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.choices[0].message.content, `echo round ${i}`);
      await sleep(200); // the upstream closes the pooled connection after 50 ms
    }
    // every round found its pooled connection closed by the upstream
    assert.equal(up.seen.requests.length, 4);
    assert.equal(up.seen.connections, 4);
    // A closed pooled connection is readable for ever: polling it on would
    // burn a core. 1 s of idling must cost next to nothing (a spin is ~100 ticks).
    const before = cpuTicks(llmnet.child.pid);
    await sleep(1000);
    const spent = cpuTicks(llmnet.child.pid) - before;
    assert.ok(spent < 20, `llmnet used ${spent * 10} ms of CPU in 1 s of idling`);
    const r = await chat(llmnet.url, say('after idling'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'echo after idling');
  });

  test('a pooled connection the upstream keeps open serves the next calls', async () => {
    const up = await startUpstream();
    procs.push(up);
    const llmnet = await startLlmnet({ ...composition(up.url), server: { workers: 1 } });
    procs.push(llmnet);
    for (let i = 0; i < 3; i++) {
      const r = await chat(llmnet.url, say(`keep ${i}`));
      assert.equal(r.status, 200, r.text);
      await sleep(50);
    }
    assert.equal(up.seen.requests.length, 3);
    assert.equal(up.seen.connections, 1);
  });
});

describe('proxy variables', () => {
  const procs = [];
  after(() => stopAll(...procs));

  test('http_proxy set: upstream calls go through the proxy', async () => {
    const proxied = [];
    const proxy = http.createServer((req, res) => {
      onRequestBody(req, (body) => {
        proxied.push({ url: req.url, auth: req.headers.authorization });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(completionBody('solo-model', `via proxy: ${body.messages?.at(-1)?.content}`)));
      });
    });
    const p = await serveLocal(proxy);
    procs.push(p);
    // the upstream's host does not resolve: only the proxy can answer for it
    const llmnet = await startLlmnet(composition('http://upstream.invalid:9/v1'), { http_proxy: p.url });
    procs.push(llmnet);
    const r = await chat(llmnet.url, say('hello'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'via proxy: hello');
    assert.equal(proxied.length, 1);
    assert.equal(proxied[0].url, 'http://upstream.invalid:9/v1/chat/completions');
    assert.equal(proxied[0].auth, 'Bearer sk-test');
  });
});
