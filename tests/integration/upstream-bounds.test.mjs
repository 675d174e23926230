// What llmnet takes from an upstream is bounded and checked: decompressed
// bytes per call and per SSE event, token counts in usage, header values it
// relays (Retry-After), and secrets quoted back in error bodies. The
// upstream here is a tiny scripted HTTP server in this process (and a raw
// TCP one for header bytes node refuses to send); llmnet and the clients
// are real.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import http from 'node:http';
import net from 'node:net';
import zlib from 'node:zlib';
import OpenAI from 'openai';
import { WebSocketServer } from 'ws';
import {
  chat,
  completionBody,
  isAsanBuild,
  onRequestBody,
  procStatusKiB,
  serveLocal,
  sseEvents,
  startLlmnet,
  startMock,
  stopAll,
  waitFor,
} from './lib.mjs';

const KEY = 'sk-test-SECRET-0123456789abcdef';

// Answers each chat call with scripts[last user message](req, res, body).
function startScriptedUpstream(scripts) {
  const requests = [];
  const server = http.createServer((req, res) => {
    onRequestBody(req, (body) => {
      requests.push({ headers: req.headers, body });
      const msgs = Array.isArray(body.messages) ? body.messages : [];
      const text = msgs[msgs.length - 1]?.content ?? '';
      const script = scripts[text] ?? scripts.default;
      script(req, res, body);
    });
  });
  server.on('clientError', () => {});
  return serveLocal(server, { requests });
}

function composition(url) {
  return {
    models: { m: { type: 'external', interface: 'openai-api', url, 'api-key': KEY } },
    architecture: [{ name: 'solo', layer: 0, model: 'm', 'extra-options': { model_override: 'solo-model' } }],
  };
}

// llmnet's peak resident set so far, in bytes (Linux VmHWM).
function peakRss(proc) {
  return procStatusKiB(proc.child.pid, 'VmHWM') * 1024;
}

// A bound for peakRss: `bytes` for a normal build. Under ASan (make
// test-asan) shadow memory and the quarantine of freed blocks add to every
// allocation, so the bound is scaled; it still sits far below what the
// unbounded copies took (gigabytes).
function rssBound(bytes) {
  return isAsanBuild() ? bytes * 3 + 512 * 1024 * 1024 : bytes;
}

const say = (content, extra = {}) => ({ model: 'solo', messages: [{ role: 'user', content }], ...extra });

describe('usage from the upstream is checked', () => {
  let up;
  let gw;
  const hostile = { prompt_tokens: -5, completion_tokens: 1e300, total_tokens: 2.5 };
  before(async () => {
    up = await startScriptedUpstream({
      'hostile usage': (req, res, body) => {
        if (body.stream) {
          res.setHeader('content-type', 'text/event-stream');
          const chunk = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'solo-model' };
          res.write(`data: ${JSON.stringify({ ...chunk, choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: null }] })}\n\n`);
          res.write(`data: ${JSON.stringify({ ...chunk, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
          res.write(`data: ${JSON.stringify({ ...chunk, choices: [], usage: hostile })}\n\n`);
          res.end('data: [DONE]\n\n');
          return;
        }
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(completionBody('solo-model', 'hi', { usage: hostile })));
      },
      default: (req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(completionBody('solo-model', 'fine', { usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } })));
      },
    });
    gw = await startLlmnet(composition(up.url));
  });
  after(async () => {
    await stopAll(gw);
    await up.stop();
  });

  function assertSane(usage) {
    for (const k of ['prompt_tokens', 'completion_tokens', 'total_tokens']) {
      assert.ok(Number.isSafeInteger(usage[k]) && usage[k] >= 0, `${k} is a token count: ${JSON.stringify(usage)}`);
    }
  }

  test('negative, huge and fractional counts are ignored, not relayed or counted', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused' });
    const res = await client.chat.completions.create(say('hostile usage'));
    assertSane(res.usage);
    const stream = await client.chat.completions.create(say('hostile usage', { stream: true, stream_options: { include_usage: true } }));
    let usage;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    assert.ok(usage, 'a usage chunk');
    assertSane(usage);
    const fine = await chat(gw.url, say('normal'));
    assert.equal(fine.json.usage.total_tokens, 7);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    const tokens = metrics.split('\n').filter((l) => l.startsWith('llmnet_tokens_total{'));
    assert.ok(tokens.length > 0, metrics);
    for (const line of tokens) {
      const v = Number(line.split(' ').pop());
      assert.ok(Number.isFinite(v) && v >= 0 && v < 2 ** 53, `a sane counter: ${line}`);
    }
  });
});

// A raw TCP upstream: answers every request on a connection with `head`
// (status line and headers, as bytes) and `body`.
function startRawUpstream(head, body) {
  const server = net.createServer((sock) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = Number(/content-length:\s*(\d+)/i.exec(buf)?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      buf = '';
      sock.write(Buffer.from(`${head}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, 'latin1'));
    });
    sock.on('error', () => {});
  });
  return serveLocal(server);
}

// The raw response head (and body) llmnet sends for one chat request.
function rawChat(url, body) {
  const { hostname, port } = new URL(url);
  const json = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: hostname, port: Number(port) });
    const chunks = [];
    sock.on('connect', () =>
      sock.write(
        `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`,
      ),
    );
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    sock.on('error', reject);
  });
}

describe('header values from the upstream are checked before llmnet relays them', () => {
  const err = JSON.stringify({ error: { message: 'slow down', type: 'rate_limit' } });
  for (const [what, value] of [
    ['a bare CR', '1\rX-Evil: 1'],
    ['a control byte', '1\x0bX-Evil: 1'],
    ['a non-ASCII byte', '1\xa0X-Evil: 1'],
    ['a number that is not one', '1e300'],
  ]) {
    test(`Retry-After with ${what} is dropped, never copied into the response head`, async () => {
      const up = await startRawUpstream(`HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: ${value}`, err);
      const config = composition(up.url);
      config.models.m.retries = 0;
      const gw = await startLlmnet(config);
      try {
        const raw = await rawChat(gw.url, say('hello'));
        const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
        assert.match(head, /^HTTP\/1\.1 429 /, raw);
        assert.doesNotMatch(head, /X-Evil/i, head);
        assert.doesNotMatch(head, /\r(?!\n)|\0/, JSON.stringify(head));
        // llmnet still tells the client when to come back, in its own words
        const retry = /\r\nRetry-After: ([^\r]*)/i.exec(head);
        if (retry) assert.match(retry[1], /^\d+$/);
      } finally {
        await stopAll(gw);
        await up.stop();
      }
    });
  }

  test('a well-formed Retry-After still reaches the client', async () => {
    const up = await startRawUpstream('HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 7', err);
    const config = composition(up.url);
    config.models.m.retries = 0;
    const gw = await startLlmnet(config);
    try {
      const raw = await rawChat(gw.url, say('hello'));
      assert.match(raw, /\r\nRetry-After: 7\r\n/i, raw);
    } finally {
      await stopAll(gw);
      await up.stop();
    }
  });
});

// `mib` MiB of `line` repeated, brotli-compressed: a few hundred bytes on the
// wire, as many MiB once curl has decompressed it.
function brotliBomb(line, mib) {
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i + line.length <= chunk.length; i += line.length) chunk.write(line, i, 'latin1');
  return new Promise((resolve) => {
    const b = zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } });
    const out = [];
    b.on('data', (d) => out.push(d));
    b.on('end', () => resolve(Buffer.concat(out)));
    let n = 0;
    const write = () => {
      while (n < mib) {
        n++;
        if (!b.write(chunk)) return b.once('drain', write);
      }
      b.end();
    };
    write();
  });
}

describe('decompressed upstream bytes are bounded', () => {
  const BOMB_MIB = 512;
  // llmnet's own bounds are 4 MiB per SSE event and 64 MiB per collected
  // body; the rest is the process itself (about 10 MiB idle).
  const RSS_BOUND = 160 * 1024 * 1024;
  let up;
  let gw;
  before(async () => {
    // 64-byte data lines with no blank line between them: one endless event
    const endlessEvent = await brotliBomb(`data: ${'x'.repeat(57)}\n`, BOMB_MIB);
    const hugeBody = await brotliBomb(' '.repeat(64), BOMB_MIB);
    // SSE comment lines only: every line and event is small, the stream never ends
    const endlessComments = await brotliBomb(`: ${'still thinking'.padEnd(61, '.')}\n`, BOMB_MIB);
    up = await startScriptedUpstream({
      'endless event': (req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'br' });
        res.end(endlessEvent);
      },
      'endless comments': (req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'br' });
        res.end(endlessComments);
      },
      'huge body': (req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'br' });
        res.end(hugeBody);
      },
      default: (req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(completionBody('solo-model', 'fine')));
      },
    });
    const config = composition(up.url);
    config.models.m.retries = 0;
    gw = await startLlmnet(config);
  });
  after(async () => {
    await stopAll(gw);
    await up.stop();
  });

  test('a stream whose one event never ends fails with a 502 naming the bound, memory stays bounded', async (t) => {
    const res = await chat(gw.url, say('endless event', { stream: true }));
    if (res.status === 200) {
      // the stream had started: it must end with an error event, not [DONE]
      const events = sseEvents(res.text);
      assert.ok(events.some((e) => e.error), res.text.slice(-500));
      assert.doesNotMatch(res.text, /\[DONE\]/);
    } else {
      assert.equal(res.status, 502, res.text);
      assert.match(res.json.error.message, /node "solo" \(model "solo-model"\).*SSE event larger than 4 MiB/, res.text);
    }
    t.diagnostic(`peak RSS ${peakRss(gw)} bytes`);
    assert.ok(peakRss(gw) < rssBound(RSS_BOUND), `peak RSS ${peakRss(gw)} under ${rssBound(RSS_BOUND)}`);
    assert.equal((await chat(gw.url, say('after'))).status, 200);
  });

  test('a stream that decompresses past 256 MiB (comment lines only) fails with a 502 naming the bound', async () => {
    const res = await chat(gw.url, say('endless comments', { stream: true }));
    assert.equal(res.status, 502, res.text.slice(0, 500));
    assert.match(res.json.error.message, /node "solo" \(model "solo-model" at m\).*stream exceeds 256 MiB decompressed/, res.text);
  });

  test('a collected body that decompresses past 64 MiB fails with a 502, memory stays bounded', async (t) => {
    const res = await chat(gw.url, say('huge body'));
    assert.equal(res.status, 502, res.text);
    assert.match(res.json.error.message, /node "solo" \(model "solo-model" at m\).*exceeds 64 MiB decompressed/, res.text);
    t.diagnostic(`peak RSS ${peakRss(gw)} bytes`);
    assert.ok(peakRss(gw) < rssBound(RSS_BOUND), `peak RSS ${peakRss(gw)} under ${rssBound(RSS_BOUND)}`);
  });
});

describe('a ws sink keeps a bounded copy of a streamed answer', () => {
  const STREAM_MIB = 128;
  const PIECE = `${'x'.repeat(16383)}é`; // 16 KiB + a two-byte character
  const SINK_MAX = 1 << 20;
  // Unbounded, the sink's copies alone (the kept text, its JSON, the
  // message) are 3 x 128 MiB; the relay itself takes 20-100 MiB at peak
  // depending on how fast this process reads.
  const RSS_BOUND = 200 * 1024 * 1024;
  let up;
  let gw;
  let wss;
  const received = [];
  before(async () => {
    up = await startScriptedUpstream({
      default: (req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'solo-model' };
        const event = `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: PIECE }, finish_reason: null }] })}\n\n`;
        let left = Math.ceil((STREAM_MIB << 20) / Buffer.byteLength(PIECE));
        const pump = () => {
          while (left > 0) {
            left--;
            if (!res.write(event)) return res.once('drain', pump);
          }
          res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
          res.end('data: [DONE]\n\n');
        };
        pump();
      },
    });
    wss = await new Promise((resolve) => {
      const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 8 << 20 });
      server.on('connection', (sock) => sock.on('message', (d) => received.push(JSON.parse(String(d)))));
      server.on('listening', () => resolve(server));
    });
    const config = composition(up.url);
    config.architecture.push({ name: 'to-ws', adapter: 'ws', url: `ws://127.0.0.1:${wss.address().port}` });
    gw = await startLlmnet(config);
  });
  after(async () => {
    await stopAll(gw);
    await up.stop();
    for (const c of wss.clients) c.terminate();
    wss.close();
  });

  test(`a ${STREAM_MIB} MiB stream: the client gets it all, the sink 1 MiB marked truncated, memory stays bounded`, async (t) => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'big-stream' },
      body: JSON.stringify(say('stream a lot', { stream: true })),
    });
    assert.equal(res.status, 200);
    let bytes = 0;
    let tail = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
      bytes += chunk.length;
      tail = (tail + decoder.decode(chunk, { stream: true })).slice(-200);
    }
    assert.ok(bytes > STREAM_MIB << 20, `the client got the whole stream (${bytes} bytes)`);
    assert.match(tail, /data: \[DONE\]/);
    const deadline = Date.now() + 20000;
    while (!received.some((m) => m.request_id === 'big-stream') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const got = received.find((m) => m.request_id === 'big-stream');
    assert.ok(got, 'the sink received the answer');
    assert.equal(got.truncated, true);
    const len = Buffer.byteLength(got.content);
    assert.ok(len <= SINK_MAX && len > SINK_MAX - 4, `the sink's copy is cut at 1 MiB (${len} bytes)`);
    assert.ok(PIECE.repeat(Math.ceil(got.content.length / PIECE.length) + 1).startsWith(got.content), 'a prefix of the answer, cut at a character');
    const peak = peakRss(gw);
    t.diagnostic(`peak RSS ${peak} bytes`);
    assert.ok(peak < rssBound(RSS_BOUND), `peak RSS ${peak} under ${rssBound(RSS_BOUND)}`);
  });
});

describe('secrets an upstream quotes back are scrubbed', () => {
  const ENV_KEY = 'sk-env-KEY-from-the-environment-42';
  const HEADER_TOKEN = 'hdr-token-0123456789';
  const QUERY_KEY = 'query-key-0123456789abcdef';
  let mock;
  let gw;
  let gwJson;
  before(async () => {
    mock = await startMock({
      rules: [
        {
          when: { contains: 'leak the query key' },
          status: 401,
          error: `API key not valid: ${QUERY_KEY}`,
        },
        {
          when: { contains: 'leak the key' },
          status: 401,
          error: `Incorrect API key provided: ${ENV_KEY}. Also rejected: ${HEADER_TOKEN}.`,
        },
      ],
    });
    const config = {
      models: {
        m: {
          type: 'external',
          interface: 'openai-api',
          url: mock.url,
          'api-key': '$TEST_UPSTREAM_KEY',
          headers: { 'X-Api-Token': HEADER_TOKEN },
          retries: 0,
        },
      },
      architecture: [{ name: 'solo', layer: 0, model: 'm', 'extra-options': { model_override: 'solo-model' } }],
    };
    gw = await startLlmnet(config, { env: { TEST_UPSTREAM_KEY: ENV_KEY } });
    gwJson = await startLlmnet(config, { env: { TEST_UPSTREAM_KEY: ENV_KEY }, args: ['--log-format', 'json'] });
  });
  after(async () => {
    await stopAll(gw, gwJson, mock);
  });

  test('a 401 quoting our key: neither the client nor the log sees the key or the header token', async () => {
    for (const proc of [gw, gwJson]) {
      const res = await chat(proc.url, say('please leak the key'));
      assert.ok(res.status >= 400, res.text);
      assert.ok(res.json?.error, res.text);
      assert.ok(!res.text.includes(ENV_KEY), `the client's error has no key: ${res.text}`);
      assert.ok(!res.text.includes(HEADER_TOKEN), `the client's error has no header token: ${res.text}`);
      assert.match(res.text, /\[REDACTED\]/);
      // the request reached the upstream with the real key
      const seen = await (await fetch(`${mock.url}/mock/requests`)).json();
      assert.ok(JSON.stringify(seen).includes(ENV_KEY), 'the upstream got the key');
      // the log line is written before the answer, but this process reads
      // llmnet's stderr pipe on its own schedule
      await waitFor(() => /401/.test(proc.stderr), { what: 'the 401 in the log' });
      assert.ok(!proc.stderr.includes(ENV_KEY), `no key in the log:\n${proc.stderr}`);
      assert.ok(!proc.stderr.includes(HEADER_TOKEN), `no header token in the log:\n${proc.stderr}`);
    }
  });

  test('a key in the model URL\'s query string (?key=...) is scrubbed too', async () => {
    const proc = await startLlmnet({
      models: { q: { type: 'external', interface: 'openai-api', url: `${mock.url}/v1?key=${QUERY_KEY}`, 'api-key': null, retries: 0 } },
      architecture: [{ name: 'solo', layer: 0, model: 'q' }],
    });
    try {
      const res = await chat(proc.url, say('please leak the query key'));
      assert.ok(res.status >= 400, res.text);
      assert.match(res.text, /API key not valid: \[REDACTED\]/, res.text);
      await waitFor(() => /401/.test(proc.stderr), { what: 'the 401 in the log' });
      assert.ok(!proc.stderr.includes(QUERY_KEY), `no key in the log:\n${proc.stderr}`);
    } finally {
      await stopAll(proc);
    }
  });

  test('a mid-stream error event quoting our key reaches the client scrubbed', async () => {
    const up = await startScriptedUpstream({
      default: (req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const chunk = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'solo-model' };
        res.write(`data: ${JSON.stringify({ ...chunk, choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: null }] })}\n\n`);
        res.end(`data: ${JSON.stringify({ error: { message: `key ${KEY} was revoked` } })}\n\n`);
      },
    });
    const proc = await startLlmnet(composition(up.url));
    try {
      const res = await chat(proc.url, say('stream', { stream: true }));
      assert.match(res.text, /revoked/, res.text);
      assert.ok(!res.text.includes(KEY), `no key in the stream: ${res.text}`);
      assert.ok(!proc.stderr.includes(KEY), `no key in the log:\n${proc.stderr}`);
    } finally {
      await stopAll(proc);
      await up.stop();
    }
  });
});
