// WebSocket: ws sink nodes receive each response after it went out (only
// when their `if` holds), and a websocket function works as a hook, both
// against a real WebSocket server (the `ws` package) on loopback.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { WebSocketServer } from 'ws';

import { chat, startLlmnet, startMock } from './lib.mjs';

function startWsServer({ reply } = {}) {
  return new Promise((resolve) => {
    const received = [];
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    wss.on('connection', (sock) => {
      sock.on('message', (data) => {
        received.push(String(data));
        if (reply) sock.send(reply(String(data)));
      });
    });
    const close = () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
    };
    wss.on('listening', () => resolve({ url: `ws://127.0.0.1:${wss.address().port}`, received, close }));
  });
}

async function waitFor(fn) {
  for (let i = 0; i < 100; i++) {
    const v = fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 30));
  }
  return undefined;
}

describe('ws sinks and websocket hooks', () => {
  let mock;
  let sinkServer;
  let hookServer;
  let llmnet;

  before(async () => {
    mock = await startMock(null);
    sinkServer = await startWsServer();
    hookServer = await startWsServer({ reply: (msg) => JSON.stringify({ input: `rewritten: ${JSON.parse(msg).text}` }) });
    llmnet = await startLlmnet({
      models: { m: { type: 'external', url: mock.url, 'api-key': null } },
      functions: {
        rewrite: { type: 'websocket', url: hookServer.url, message: { text: '$INPUT', node: '$NODE' }, 'wait-reply': true, timeout: 5 },
      },
      architecture: [
        {
          name: 'chat',
          layer: 0,
          model: 'm',
          'extra-options': { UseHeaderKeys: ['OutputCustomKey'] },
          hooks: { pre: [{ function: 'rewrite', mode: 'transform', if: '$INPUT contains "rewrite"' }] },
        },
        { name: 'to-ws', adapter: 'ws', url: sinkServer.url, if: '$OutputCustomKey' },
      ],
    });
  });

  after(async () => {
    try {
      await llmnet?.stop();
    } finally {
      await mock?.stop();
      sinkServer?.close();
      hookServer?.close();
    }
  });

  it('sends the response to a sink whose if holds, and not otherwise', async () => {
    const quiet = await chat(llmnet.url, { messages: [{ role: 'user', content: 'no sink for me' }] }, { 'x-request-id': 'ws-quiet' });
    assert.equal(quiet.status, 200);
    const res = await chat(
      llmnet.url,
      { messages: [{ role: 'user', content: 'costs $5 "quoted"' }] },
      { 'x-request-id': 'ws-sink-1', OutputCustomKey: 'yes' },
    );
    assert.equal(res.status, 200, res.text);
    const got = await waitFor(() => sinkServer.received.map((m) => JSON.parse(m)).find((m) => m.request_id === 'ws-sink-1'));
    assert.ok(got, 'the sink received the response');
    assert.deepEqual(got, {
      request_id: 'ws-sink-1',
      route: 'chat',
      model: 'chat',
      content: res.json.choices[0].message.content,
    });
    assert.match(got.content, /costs \$5 "quoted"/, 'text with $ and quotes arrives as it was');
    assert.ok(!sinkServer.received.some((m) => m.includes('ws-quiet')), 'no message when the if is false');
  });

  it('sends a streamed answer to the sink too', async () => {
    const res = await fetch(`${llmnet.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'ws-stream', OutputCustomKey: '1' },
      body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'stream me' }] }),
    });
    const text = await res.text();
    assert.match(text, /data: \[DONE\]/);
    const got = await waitFor(() => sinkServer.received.map((m) => JSON.parse(m)).find((m) => m.request_id === 'ws-stream'));
    assert.ok(got);
    assert.equal(got.content, '[chat] reply to: stream me');
  });

  it('uses a websocket function reply as a transform', async () => {
    const res = await chat(llmnet.url, { messages: [{ role: 'user', content: 'please rewrite "this"' }] });
    assert.equal(res.status, 200, res.text);
    assert.match(res.json.choices[0].message.content, /reply to: rewritten: please rewrite "this"$/);
    const sent = JSON.parse(hookServer.received.at(-1));
    assert.deepEqual(sent, { text: 'please rewrite "this"', node: 'chat' });
  });
});
