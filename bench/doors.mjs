// make bench, doors (issue 12 "Speed"): time to the first token of a stream
// through each door. One client, sequential requests over one keep-alive
// connection (Node's http client, as the SDKs use it), the doors taken in
// turn (chat, responses, messages; the order rotates each round), each
// streamed answer read to its end before the next request. A sample is the
// time from sending the request to the first content delta event of that
// API, not to the first byte (the Responses and Anthropic streams open with
// events that carry no text):
//   chat       the first `data:` chunk whose choices[0].delta.content is non-empty
//   responses  the first `response.output_text.delta` event
//   messages   the first `content_block_delta` event with a `text_delta`
//
//   node doors.mjs ttfb BASE_URL N MODEL   prints one JSON line: per door n, p50,
//                                          p90, p99 (µs), errors; and per door the
//                                          median of per-round (door - chat) differences
import http from 'node:http';

const PROMPT = 'benchmark ttfb: say a few words';
const WARMUP = 20; // rounds before the measured ones
const DOORS = {
  chat: {
    path: '/v1/chat/completions',
    body: (model) => ({ model, stream: true, messages: [{ role: 'user', content: PROMPT }] }),
    first: (ev) => {
      const c = ev.data?.choices?.[0]?.delta?.content;
      return typeof c === 'string' && c.length > 0;
    },
  },
  responses: {
    path: '/v1/responses',
    body: (model) => ({ model, stream: true, input: PROMPT }),
    first: (ev) => ev.data?.type === 'response.output_text.delta',
  },
  messages: {
    path: '/v1/messages',
    headers: { 'anthropic-version': '2023-06-01', 'x-api-key': 'mock-key' },
    body: (model) => ({ model, stream: true, max_tokens: 1024, messages: [{ role: 'user', content: PROMPT }] }),
    first: (ev) => ev.data?.type === 'content_block_delta' && ev.data?.delta?.type === 'text_delta',
  },
};
const NAMES = Object.keys(DOORS);

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const now = () => process.hrtime.bigint();

// One streamed request; resolves with the µs to the first content delta
// (null when none came), after the whole answer is read.
function sample(base, name, model) {
  const d = DOORS[name];
  const body = JSON.stringify(d.body(model));
  const url = new URL(d.path, base);
  return new Promise((resolve, reject) => {
    let t = null;
    let buf = '';
    const t0 = now();
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          authorization: 'Bearer mock-key',
          'content-length': Buffer.byteLength(body),
          ...(d.headers || {}),
        },
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          res.on('end', () => reject(new Error(`${name}: HTTP ${res.statusCode}`)));
          return;
        }
        res.setEncoding('utf8');
        res.on('data', (piece) => {
          if (t !== null) return;
          buf += piece;
          let i;
          while (t === null && (i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const line = block.split('\n').find((l) => l.startsWith('data: '));
            if (!line || line === 'data: [DONE]') continue;
            let data;
            try {
              data = JSON.parse(line.slice(6));
            } catch {
              continue;
            }
            if (d.first({ data })) t = Number(now() - t0) / 1000;
          }
        });
        res.on('end', () => resolve(t));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}
const median = (xs) => percentile([...xs].sort((a, b) => a - b), 50);

async function ttfb(base, n, model) {
  const samples = Object.fromEntries(NAMES.map((k) => [k, []]));
  const errors = Object.fromEntries(NAMES.map((k) => [k, 0]));
  const diffs = Object.fromEntries(NAMES.map((k) => [k, []]));
  let firstError = null;
  for (let r = 0; r < WARMUP + n; r++) {
    const round = {};
    for (let j = 0; j < NAMES.length; j++) {
      const name = NAMES[(r + j) % NAMES.length];
      try {
        const t = await sample(base, name, model);
        if (t === null) throw new Error(`${name}: no content delta in the stream`);
        round[name] = t;
      } catch (e) {
        if (r >= WARMUP) errors[name]++;
        firstError ??= e.message;
      }
    }
    if (r < WARMUP) continue;
    for (const name of NAMES) if (round[name] !== undefined) samples[name].push(round[name]);
    if (round.chat !== undefined)
      for (const name of NAMES) if (round[name] !== undefined) diffs[name].push(round[name] - round.chat);
  }
  const out = { n, model };
  for (const name of NAMES) {
    const s = samples[name].sort((a, b) => a - b);
    out[name] = {
      n: s.length,
      p50: percentile(s, 50),
      p90: percentile(s, 90),
      p99: percentile(s, 99),
      diff_p50: name === 'chat' ? 0 : median(diffs[name]),
      errors: errors[name],
    };
  }
  if (firstError) out.first_error = firstError;
  return out;
}

const [mode, base, nArg, model] = process.argv.slice(2);
if (mode !== 'ttfb' || !base) {
  console.error('usage: node doors.mjs ttfb BASE_URL N MODEL');
  process.exit(2);
}
try {
  const out = await ttfb(base, Number(nArg) || 300, model || 'chat');
  console.log(JSON.stringify(out));
} catch (e) {
  console.log(JSON.stringify({ error: e.message }));
} finally {
  agent.destroy();
}
