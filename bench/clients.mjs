// make bench: the clients wrk and h2load cannot be: streaming and connection
// holders. Each mode prints one JSON line (and `hold`/`idle` a READY line
// first) for bench/run.sh. Node's own http client with a keep-alive agent,
// as an OpenAI SDK would use it.
//
//   node clients.mjs ttfb  URL SECONDS       sequential streams: time to the first
//                                            `data:` event, p50/p99 in microseconds
//   node clients.mjs relay URL CONC SECONDS  CONC streams in a loop: data events/s
//   node clients.mjs hold  URL N             N streams open at once; READY when every
//                                            one has its first event; SIGTERM aborts all
//   node clients.mjs idle  HOST PORT N       N keep-alive connections, one GET /health
//                                            each, then silent; READY; SIGTERM closes
import http from 'node:http';
import net from 'node:net';

// bench/mock-stream-rules.json answers "benchmark ttfb" with a few words and
// "benchmark stream" with 400: ttfb mode takes the short one.
const streamBody = (prompt) =>
  JSON.stringify({ model: 'llmnet', stream: true, messages: [{ role: 'user', content: prompt }] });
const LONG_BODY = streamBody('benchmark stream: tell me a long story');
const SHORT_BODY = streamBody('benchmark ttfb: say a few words');
const DATA = Buffer.from('data: ');
const DONE = Buffer.from('data: [DONE]');

const now = () => process.hrtime.bigint();
const usSince = (t0) => Number(now() - t0) / 1000;

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}

// Counts SSE `data:` events in a byte stream split at arbitrary points
// (`data: [DONE]` is not a chunk). A marker cut by the end of a read is kept
// and completed by the next one, so each event is counted once.
function eventCounter() {
  let tail = Buffer.alloc(0);
  const c = { chunks: 0, done: false };
  c.feed = (piece) => {
    const buf = tail.length ? Buffer.concat([tail, piece]) : piece;
    let i = 0;
    let n = 0;
    let keepFrom = -1;
    for (;;) {
      const j = buf.indexOf(DATA, i);
      if (j < 0) break;
      const next = j + DATA.length;
      // "data: " at the very end, or "data: [" without room for "[DONE]": undecided
      if (next >= buf.length || (buf[next] === 0x5b && j + DONE.length > buf.length)) {
        keepFrom = j;
        break;
      }
      if (buf[next] === 0x5b && buf.compare(DONE, 0, DONE.length, j, j + DONE.length) === 0)
        c.done = true;
      else n++;
      i = next;
    }
    if (keepFrom >= 0) tail = Buffer.from(buf.subarray(keepFrom));
    else {
      // fewer bytes than the marker: a marker split here is completed next time
      const keep = Math.min(buf.length - i, DATA.length - 1);
      tail = Buffer.from(buf.subarray(buf.length - keep));
    }
    c.chunks += n;
    return n;
  };
  return c;
}

// One streamed chat completion. `hooks.onFirst` runs at the first data
// event, `hooks.onChunks(n)` for every piece that carried n events.
function streamOnce(agent, target, hooks = {}, body = LONG_BODY) {
  return new Promise((resolve) => {
    const t0 = now();
    const r = { status: 0, ttfbUs: 0, chunks: 0, done: false, error: null };
    let settled = false;
    const finish = (err) => {
      if (settled) return;
      settled = true;
      if (err) r.error = err;
      resolve(r);
    };
    const req = http.request(
      target,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          authorization: 'Bearer mock-key',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        r.status = res.statusCode;
        const counter = eventCounter();
        res.on('data', (piece) => {
          const n = counter.feed(piece);
          r.chunks = counter.chunks;
          r.done = counter.done;
          if (n && hooks.onChunks) hooks.onChunks(n);
          if (n && r.ttfbUs === 0) {
            r.ttfbUs = usSince(t0);
            if (hooks.onFirst) hooks.onFirst();
          }
        });
        res.on('end', () => finish(null));
        res.on('error', (e) => finish(e.message));
        res.on('close', () => finish(r.done ? null : 'closed before the end'));
      },
    );
    r.req = req;
    req.on('error', (e) => finish(e.message));
    req.end(body);
  });
}

async function ttfb(url, seconds) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const deadline = Date.now() + seconds * 1000;
  const times = [];
  let errors = 0;
  let chunks = 0;
  // one warm-up request opens the connection (and llmnet's upstream one)
  await streamOnce(agent, url, {}, SHORT_BODY);
  while (Date.now() < deadline) {
    const r = await streamOnce(agent, url, {}, SHORT_BODY);
    if (r.error || r.status !== 200 || !r.done || r.ttfbUs === 0) errors++;
    else {
      times.push(r.ttfbUs);
      chunks += r.chunks;
    }
  }
  times.sort((a, b) => a - b);
  agent.destroy();
  return {
    streams: times.length,
    errors,
    chunks_per_stream: times.length ? Math.round(chunks / times.length) : 0,
    p50_us: Math.round(percentile(times, 50)),
    p99_us: Math.round(percentile(times, 99)),
  };
}

async function relay(url, conc, seconds) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
  const t0 = now();
  let chunks = 0;
  let streams = 0;
  let errors = 0;
  let stopped = false;
  const statuses = {};
  const inFlight = new Set();
  const hooks = { onChunks: (n) => { if (!stopped) chunks += n; } };
  const worker = async () => {
    while (!stopped) {
      const p = streamOnce(agent, url, hooks);
      inFlight.add(p);
      const r = await p;
      inFlight.delete(p);
      if (stopped) break;
      statuses[r.status] = (statuses[r.status] || 0) + 1;
      if (r.error || r.status !== 200 || !r.done) errors++;
      else streams++;
    }
  };
  const workers = Array.from({ length: conc }, worker);
  await new Promise((res) => setTimeout(res, seconds * 1000));
  // the events that arrived within the window count, in-flight streams end here
  stopped = true;
  const elapsedUs = usSince(t0);
  agent.destroy();
  await Promise.race([Promise.all(workers), new Promise((res) => setTimeout(res, 2000))]);
  return {
    streams,
    errors,
    statuses,
    chunks,
    seconds: Number((elapsedUs / 1e6).toFixed(3)),
    chunks_per_s: Math.round(chunks / (elapsedUs / 1e6)),
  };
}

async function hold(url, n) {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  let ready = 0;
  let ended = 0;
  let failed = 0;
  let readyPrinted = false;
  let holding = true;
  const printReady = () => {
    if (readyPrinted) return;
    readyPrinted = true;
    process.stdout.write(`READY ${ready}\n`);
  };
  const hooks = {
    onFirst: () => {
      ready++;
      if (ready === n) printReady();
    },
  };
  for (let i = 0; i < n; i++) {
    streamOnce(agent, url, hooks).then((r) => {
      if (!holding) return;
      // a stream that ends (or fails) while held: it should still be running
      if (r.error || r.status !== 200) failed++;
      else ended++;
    });
  }
  setTimeout(printReady, 60000).unref();
  await new Promise((res) => process.once('SIGTERM', res));
  printReady();
  holding = false;
  agent.destroy();
  return { opened: n, ready, ended_early: ended, failed_early: failed };
}

async function idle(host, port, n) {
  const socks = [];
  let ok = 0;
  let failed = 0;
  let closedEarly = 0;
  let holding = true;
  const openOne = () =>
    new Promise((resolve) => {
      const s = net.connect({ host, port });
      let got = '';
      let answered = false;
      s.setNoDelay(true);
      s.on('connect', () => s.write(`GET /health HTTP/1.1\r\nHost: ${host}\r\n\r\n`));
      s.on('data', (d) => {
        got += d.toString('latin1');
        if (!answered && got.includes('\r\n\r\n')) {
          answered = true;
          if (/^HTTP\/1\.1 200/.test(got)) ok++;
          else failed++;
          resolve();
        }
      });
      s.on('error', () => {
        if (!answered) {
          answered = true;
          failed++;
          resolve();
        }
      });
      s.on('close', () => {
        if (holding && answered) closedEarly++;
        if (!answered) {
          answered = true;
          failed++;
          resolve();
        }
      });
      socks.push(s);
    });
  // a few hundred connects in flight at a time, so the listen backlog holds
  const batch = 200;
  for (let i = 0; i < n; i += batch) {
    const wave = [];
    for (let j = i; j < Math.min(n, i + batch); j++) wave.push(openOne());
    await Promise.all(wave);
  }
  process.stdout.write(`READY ${ok}\n`);
  await new Promise((res) => process.once('SIGTERM', res));
  const stillOpen = socks.filter((s) => !s.destroyed).length;
  holding = false;
  for (const s of socks) s.destroy();
  return { requested: n, ok, failed, closed_by_server: closedEarly, open_at_end: stillOpen };
}

const [mode, ...args] = process.argv.slice(2);
let out;
if (mode === 'ttfb') out = await ttfb(args[0], Number(args[1]));
else if (mode === 'relay') out = await relay(args[0], Number(args[1]), Number(args[2]));
else if (mode === 'hold') out = await hold(args[0], Number(args[1]));
else if (mode === 'idle') out = await idle(args[0], Number(args[1]), Number(args[2]));
else {
  process.stderr.write('usage: node clients.mjs ttfb|relay|hold|idle ...\n');
  process.exit(2);
}
process.stdout.write(JSON.stringify(out) + '\n');
process.exit(0);
