// Shared helpers for integration tests: start the real llmnet binary and
// `llmnet mock` on loopback ports chosen at run time, and talk to them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';

export const BIN = process.env.LLMNET_BIN ?? path.resolve('build/llmnet');

// 1 when the binary under test was built with AddressSanitizer (make
// test-asan): its quarantine of freed blocks and its shadow memory are
// resident too, so tests that bound llmnet's memory scale or skip those
// bounds. Read once, on first use.
let asanBuild;
export function isAsanBuild() {
  asanBuild ??= readFileSync(BIN).includes('__asan_init');
  return asanBuild;
}

// One field of /proc/PID/status in KiB: VmRSS (resident now) or VmHWM
// (the peak since the process started).
export function procStatusKiB(pid, field) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return Number(m[1]);
}
export const ROOT = process.env.LLMNET_ROOT ?? path.resolve('.');

const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

// Under ASan/UBSan (make test-asan) a memory error or a leak is reported on
// stderr; a process whose stderr carries one fails the test that stops it.
const SANITIZER_REPORT = /ERROR: (Address|Leak)Sanitizer|runtime error: |SUMMARY: UndefinedBehaviorSanitizer/;

function checkSanitizers(what, stderr) {
  const at = stderr.search(SANITIZER_REPORT);
  if (at >= 0) throw new Error(`sanitizer report from ${what}:\n${stderr.slice(Math.max(0, at - 200), at + 4000)}`);
}

// Starts `llmnet ARGS...` and resolves once it prints its listening URL.
// `unset` names variables removed from the child's environment.
export function start(args, { env = {}, unset = [], timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { env: childEnv(env, unset), stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`llmnet ${args.join(' ')} did not start: ${out}${err}`));
    }, timeoutMs);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        const proc = {
          url: m[1],
          child,
          get stderr() {
            return err;
          },
          async stop() {
            if (child.exitCode !== null || child.signalCode !== null) {
              checkSanitizers(`llmnet ${args.join(' ')}`, err);
              return child.exitCode;
            }
            const exited = new Promise((r) => child.once('exit', (code) => r(code)));
            child.kill('SIGTERM');
            const code = await exited;
            children.delete(child);
            checkSanitizers(`llmnet ${args.join(' ')}`, err);
            return code;
          },
        };
        resolve(proc);
      }
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      children.delete(child);
      if (!out.includes('listening on')) reject(new Error(`llmnet ${args.join(' ')} exited ${code}: ${out}${err}`));
    });
  });
}

function childEnv(env, unset) {
  const out = { ...process.env, ...env };
  for (const k of unset) delete out[k];
  return out;
}

// Runs llmnet to completion and returns { code, stdout, stderr }.
export function runCli(args, { env = {}, unset = [] } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { env: childEnv(env, unset) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => {
      try {
        checkSanitizers(`llmnet ${args.join(' ')}`, stderr);
        resolve({ code, stdout, stderr });
      } catch (e) {
        reject(e);
      }
    });
  });
}

// Runs `cmd` from the repository root to its end; resolves with its exit
// code and everything it wrote (a script's whole run, for the bench tests).
export function runCommand(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, ...opts });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export function tempDir() {
  return mkdtempSync(path.join(tmpdir(), 'llmnet-test-'));
}

export function writeJson(dir, name, value) {
  const file = path.join(dir, name);
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return file;
}

// `port` restarts a mock on a port a previous one had (0 = any free port).
export async function startMock(rules, extraArgs = [], { port = 0 } = {}) {
  const args = ['mock', '--port', String(port)];
  if (rules) args.push('--rules', writeJson(tempDir(), 'rules.json', rules));
  return start([...args, ...extraArgs]);
}

// One OpenAI-compatible endpoint for a composition's "models" at `url`
// (api-key 'k'), with `extra` keys such as retries, timeout or
// circuit-breaker.
export function endpoint(url, extra = {}) {
  return { type: 'external', interface: 'openai-api', url, 'api-key': 'k', ...extra };
}

// A layer-1 node on endpoint `model` that asks the upstream for the model
// id `override`.
export function overrideNode(name, model, override, extra = {}) {
  return { name, layer: 1, model, 'extra-options': { model_override: override }, ...extra };
}

// A chat.completion answer from `model` saying `content`.
export function completionBody(model, content, { id = 'up-1', usage = { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } } = {}) {
  return {
    id,
    object: 'chat.completion',
    created: 1,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage,
  };
}

// Collects an HTTP request's body, then calls `fn(body, raw)`: the parsed
// JSON object ({} when the text is not one) and the raw text.
export function onRequestBody(req, fn) {
  const chunks = [];
  req.on('data', (d) => chunks.push(d));
  req.on('end', () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    let body = {};
    try {
      body = JSON.parse(raw);
    } catch {
      // fn sees {}
    }
    fn(body !== null && typeof body === 'object' ? body : {}, raw);
  });
}

// Listens on 127.0.0.1 at a port the kernel picks; resolves with
// { url, stop, ...fields }. stop() also drops open connections.
export function serveLocal(server, fields = {}) {
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        stop: () =>
          new Promise((r) => {
            server.close(() => r());
            server.closeAllConnections?.();
          }),
        ...fields,
      }),
    );
  });
}

// A composition of the seed's shape (router + two handlers, one inheriting
// the router's endpoint) pointed at `mockUrl`.
export function seedConfig(mockUrl, extra = {}) {
  return {
    models: {
      'router-gemma': { type: 'external', interface: 'openai-api', url: mockUrl, 'api-key': 'test-key-router' },
      'handler-llama': { type: 'external', interface: 'openai-api', url: mockUrl, 'api-key': 'test-key-handler' },
    },
    architecture: [
      { name: 'router', layer: 0, model: 'router-gemma', 'output-to': [1], 'extra-options': { model_override: 'google/gemma-3-27b-it:free' } },
      {
        name: 'creative-handler',
        layer: 1,
        model: 'handler-llama',
        'use-case': 'Creative writing, storytelling, poetry',
        'extra-options': { model_override: 'meta-llama/llama-3.3-70b-instruct:free' },
      },
      {
        name: 'technical-handler',
        layer: 1,
        'use-case': 'Technical questions, coding, math, science',
        'extra-options': { model_override: 'qwen/qwen3-coder:free' },
      },
    ],
    ...extra,
  };
}

// The returned process also has `file`, the composition it was started
// with (rewrite it and send SIGHUP, or use --watch, to test reloads).
export async function startLlmnet(config, { env = {}, args = [] } = {}) {
  const file = writeJson(tempDir(), 'llmnet.json', config);
  const proc = await start([file, '--port', '0', '--log-level', 'warn', ...args], { env });
  proc.file = file;
  return proc;
}

export async function chat(url, body, headers = {}) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  return readResponse(res);
}

// A fetch response as { status, headers, text, json } (json undefined when
// the body is not JSON).
export async function readResponse(res) {
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export async function mockRequests(mockUrl) {
  const res = await fetch(`${mockUrl}/mock/requests`);
  return res.json();
}

export async function clearMock(mockUrl) {
  await fetch(`${mockUrl}/mock/requests`, { method: 'DELETE' });
}

// Sends raw bytes on one TCP connection and collects everything received
// until the server closes or `idleMs` passes without data.
export function rawExchange(url, payload, { idleMs = 1500 } = {}) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: hostname, port: Number(port) });
    const chunks = [];
    let timer;
    const finish = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(finish, idleMs);
    };
    sock.on('connect', () => {
      for (const p of Array.isArray(payload) ? payload : [payload]) sock.write(p);
      arm();
    });
    sock.on('data', (d) => {
      chunks.push(d);
      arm();
    });
    sock.on('end', finish);
    sock.on('error', (e) => (chunks.length ? finish() : reject(e)));
  });
}

export function assertOpenAIError(res, status) {
  assert.equal(res.status, status, `status ${res.status} body ${res.text}`);
  assert.ok(res.json && res.json.error, `an OpenAI error object: ${res.text}`);
  assert.equal(typeof res.json.error.message, 'string');
  assert.ok(res.json.error.message.length > 0);
  assert.equal(typeof res.json.error.type, 'string');
}

// A fresh x-request-id for one test request: llmnet forwards it upstream as
// X-Request-Id, so it also picks that request's calls out of the mock's log.
let requestSeq = 0;
export function newRequestId(tag = 't') {
  requestSeq += 1;
  return `${tag}-${process.pid}-${requestSeq}`;
}

// The upstream requests the mock received for one client request.
export async function upstreamCalls(mockUrl, requestId) {
  const all = await mockRequests(mockUrl);
  return all.filter((r) => r.headers && r.headers['x-request-id'] === requestId);
}

// An llmnet routing prompt: a system message listing "Targets:".
export function isRoutingCall(r) {
  const msgs = r.body && r.body.messages;
  return (
    Array.isArray(msgs) &&
    msgs.some((m) => (m.role === 'system' || m.role === 'developer') && typeof m.content === 'string' && m.content.includes('Targets:'))
  );
}

export async function stopAll(...procs) {
  for (const p of procs) if (p) await p.stop();
}

// Splits raw bytes received on one connection into HTTP/1.x responses
// (Content-Length or chunked bodies). Whatever cannot be parsed is `rest`.
export function parseResponses(raw) {
  const out = [];
  let pos = 0;
  while (pos < raw.length) {
    const end = raw.indexOf('\r\n\r\n', pos);
    if (end < 0) break;
    const lines = raw.slice(pos, end).split('\r\n');
    const m = lines[0].match(/^HTTP\/(1\.[01]) (\d{3})/);
    if (!m) break;
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const status = Number(m[2]);
    let bodyStart = end + 4;
    if (status === 100) {
      pos = bodyStart;
      continue;
    }
    let body = '';
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (bodyStart + n > raw.length) break;
      body = raw.slice(bodyStart, bodyStart + n);
      pos = bodyStart + n;
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      let p = bodyStart;
      let ok = false;
      for (;;) {
        const le = raw.indexOf('\r\n', p);
        if (le < 0) break;
        const size = parseInt(raw.slice(p, le), 16);
        if (Number.isNaN(size)) break;
        if (size === 0) {
          const fin = raw.indexOf('\r\n', le + 2);
          if (fin < 0) break;
          p = fin + 2;
          ok = true;
          break;
        }
        body += raw.slice(le + 2, le + 2 + size);
        p = le + 2 + size + 2;
      }
      if (!ok) {
        out.push({ version: m[1], status, headers, body, incomplete: true });
        pos = raw.length;
        break;
      }
      pos = p;
    } else {
      body = raw.slice(bodyStart);
      pos = raw.length;
    }
    out.push({ version: m[1], status, headers, body });
  }
  return { responses: out, rest: raw.slice(pos) };
}

// Any method on any path; the body is parsed as JSON when it is JSON.
export async function request(url, pathname, { method = 'GET', headers = {}, body } = {}) {
  return readResponse(await fetch(`${url}${pathname}`, { method, headers, body }));
}

export async function assertHealthy(url) {
  const res = await request(url, '/health');
  assert.equal(res.status, 200, `GET /health after the test: ${res.status} ${res.text}`);
  assert.equal(res.json && res.json.status, 'ok');
}

// A loopback port nothing listens on (bound, then released).
export function closedPort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Like rawExchange, but also says whether the server closed the connection
// (`closed`) or it was still open after `idleMs` without data. With `until`,
// it stops as soon as that many complete responses have arrived (closed is
// then false unless the server had already closed).
export function rawSession(url, payload, { idleMs = 1500, until = 0 } = {}) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: hostname, port: Number(port) });
    const chunks = [];
    let timer;
    let done = false;
    const finish = (closed, error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed, error });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), idleMs);
    };
    sock.on('connect', () => {
      for (const p of Array.isArray(payload) ? payload : [payload]) sock.write(p);
      arm();
    });
    sock.on('data', (d) => {
      chunks.push(d);
      arm();
      if (until && parseResponses(Buffer.concat(chunks).toString('latin1')).responses.length >= until) finish(false);
    });
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', (e) => (chunks.length ? finish(true, e.code) : reject(e)));
  });
}

// A minimal OpenAI-compatible upstream in this process that keeps the raw
// request bytes (llmnet mock re-serialises what it parsed, which loses
// bytes such as \u0000). Answers every chat request with `reply`.
export function startCaptureUpstream({ reply = 'captured' } = {}) {
  const requests = [];
  const server = http.createServer((req, res) => {
    onRequestBody(req, (body, raw) => {
      requests.push({ method: req.method, path: req.url, headers: req.headers, raw });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(completionBody(body.model ?? 'capture', reply, { id: 'capture-1' })));
    });
  });
  return serveLocal(server, { requests });
}

// ---- fault injection ----

// The mock's counters (GET /mock/stats): chat `requests`, `answered`,
// `aborted` (the client went away first), `resets` (a reset rule dropped
// the connection), `pending`, `streams` {started, completed, aborted, cut}
// and `status` {"200": n, "429": n, ...}.
export async function mockStats(mockUrl) {
  const res = await fetch(`${mockUrl}/mock/stats`);
  assert.equal(res.status, 200);
  return res.json();
}

export async function clearMockStats(mockUrl) {
  await fetch(`${mockUrl}/mock/stats`, { method: 'DELETE' });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Calls `fn` until it returns a truthy value and returns that value; throws
// `what` with the last value once `timeoutMs` passed. Only a bound against
// hangs: tests never assert on how long it took.
export async function waitFor(fn, { timeoutMs = 5000, intervalMs = 100, what = 'condition' } = {}) {
  const until = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await sleep(intervalMs);
  }
}

// Resolves with the exit code (or signal name) once the process has exited.
export function exited(proc) {
  const child = proc.child ?? proc;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? child.signalCode);
  return new Promise((r) => child.once('exit', (code, signal) => r(code ?? signal)));
}

// The server still works: GET /health is 200 and a chat through its entry
// (or `body`) is 200 with a chat.completion.
export async function assertServes(url, body = { messages: [{ role: 'user', content: 'still there?' }] }, headers = {}) {
  await assertHealthy(url);
  const res = await chat(url, body, headers);
  assert.equal(res.status, 200, `a normal chat after the test: ${res.status} ${res.text}`);
  assert.equal(res.json && res.json.object, 'chat.completion');
  return res;
}

// The data: payloads of an event stream, in order; JSON payloads parsed,
// [DONE] as the string '[DONE]', anything else as { unparsed: text }.
export function sseEvents(text) {
  const out = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data = block
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (!data) continue;
    if (data === '[DONE]') {
      out.push(data);
      continue;
    }
    try {
      out.push(JSON.parse(data));
    } catch {
      out.push({ unparsed: data });
    }
  }
  return out;
}

// A connection that holds the first line of a request and sends the rest
// one byte every `intervalMs` (slowloris). Resolves with what the server
// sent and whether it closed the connection, once it closed or `maxMs`
// passed; stops writing as soon as anything arrives.
export function slowRequest(url, text, { intervalMs = 500, maxMs = 15000 } = {}) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const sock = net.connect({ host: hostname, port: Number(port) });
    const chunks = [];
    let pos = 0;
    let done = false;
    let ticker;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearInterval(ticker);
      clearTimeout(limit);
      sock.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed, bytesSent: pos });
    };
    const limit = setTimeout(() => finish(false), maxMs);
    sock.on('connect', () => {
      ticker = setInterval(() => {
        if (chunks.length || pos >= text.length) return;
        sock.write(text[pos++]);
      }, intervalMs);
    });
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
  });
}

// Opens a TCP connection and resolves once it is connected (or rejects).
export function connectRaw(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: hostname, port: Number(port) });
    sock.once('connect', () => resolve(sock));
    sock.once('error', reject);
  });
}

// Writes `payload` on an open socket and resolves with the first complete
// HTTP response read back (the socket stays open unless the server closes it).
export function exchangeOn(sock, payload, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    let raw = '';
    const onData = (d) => {
      raw += d.toString('latin1');
      const { responses } = parseResponses(raw);
      if (responses.length) {
        cleanup();
        resolve(responses[0]);
      }
    };
    const onEnd = () => {
      cleanup();
      const { responses } = parseResponses(raw);
      if (responses.length) resolve(responses[0]);
      else reject(new Error(`connection closed without a response: ${JSON.stringify(raw)}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no response within ${timeoutMs} ms: ${JSON.stringify(raw)}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('close', onEnd);
    };
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.on('close', onEnd);
    sock.write(payload);
  });
}

// An OpenAI-compatible upstream in this process whose answers the test
// releases: requests for which `hold(body)` is true wait until release()
// (so "in flight" is a state, not a race); the others are answered at
// once. Every answer is a chat.completion from body.model saying
// "[model] reply to: <last user text>". `requests` keeps
// { headers, body } in arrival order.
export async function startHoldingUpstream({ hold = () => false } = {}) {
  const requests = [];
  const held = [];
  const server = http.createServer((req, res) => {
    onRequestBody(req, (body) => {
      requests.push({ headers: req.headers, body });
      const msgs = Array.isArray(body.messages) ? body.messages : [];
      const user = [...msgs].reverse().find((m) => m.role === 'user');
      const model = body.model ?? 'holding';
      const answer = () => {
        const content = `[${model}] reply to: ${user?.content ?? ''}`;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(completionBody(model, content, { id: `held-${requests.length}` })));
      };
      if (hold(body)) held.push(answer);
      else answer();
    });
  });
  const up = await serveLocal(server, {
    requests,
    held: () => held.length,
    release() {
      for (const answer of held.splice(0)) answer();
    },
  });
  const stop = up.stop;
  up.stop = () => {
    up.release();
    return stop();
  };
  return up;
}

// A free loopback port (it may be taken again before it is used: callers
// start a server on it at once).
export function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// A real redis-server on a port chosen at run time, without persistence:
// { port, url, stop }.
export async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await new Promise((resolve, reject) => {
    child.on('error', () => reject(new Error('redis-server is not installed (scripts/deps.sh installs it)')));
    child.stdout.on('data', (d) => {
      if (String(d).includes('Ready to accept connections')) resolve();
    });
    setTimeout(() => reject(new Error('redis-server did not start')), 10000);
  });
  return { port, url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

// A `llmnet mock` with `rules` and a redis-server for the tests of the
// describe block this is called in: started before them, stopped after.
// Read { mock, redis } from the returned object inside a test.
export function mockAndRedis(rules) {
  const shared = {};
  before(async () => {
    shared.mock = await startMock(rules);
    shared.redis = await startRedis();
  });
  after(async () => {
    await stopAll(shared.mock);
    shared.redis?.stop();
  });
  return shared;
}

// A chat completion asking one user message (`text`).
export const ask = (url, text = 'hello') => chat(url, { messages: [{ role: 'user', content: text }] });

// rpm limits count in calendar minutes: a test that straddled a minute
// boundary would see its budget refilled midway, so it waits for the next
// minute when this one is past `latestSecond`.
export async function awayFromMinuteEdge(latestSecond = 50) {
  const second = new Date().getUTCSeconds();
  if (second > latestSecond) await sleep((61 - second) * 1000);
}
