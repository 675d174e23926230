// make bench: turns the "key value" lines bench/run.sh collected into the
// markdown report (tables, ratios, targets met / not met) on stdout.
//   node report.mjs RESULTS_FILE
//   node report.mjs --routing RESULTS_FILE   only the routing section
//                                           (bench/routing.sh run alone)
//   node report.mjs --doors RESULTS_FILE     only the doors section
//                                           (bench/doors.sh run alone)
import fs from 'node:fs';

const routingOnly = process.argv[2] === '--routing';
const doorsOnly = process.argv[2] === '--doors';
const raw = fs.readFileSync(process.argv[routingOnly || doorsOnly ? 3 : 2], 'utf8');
const R = new Map();
for (const line of raw.split('\n')) {
  const sp = line.indexOf(' ');
  if (sp > 0) R.set(line.slice(0, sp), line.slice(sp + 1));
}
const has = (k) => R.has(k) && R.get(k) !== '';
const num = (k) => (has(k) && Number.isFinite(Number(R.get(k))) ? Number(R.get(k)) : null);
const json = (k) => {
  try {
    return has(k) ? JSON.parse(R.get(k)) : null;
  } catch {
    return null;
  }
};
const str = (k) => (has(k) ? R.get(k).replace(/_/g, ' ') : 'unknown');

// ------------------------------------------------------------------ formats
const NA = 'n/a';
const ok = (v) => v !== null && v !== undefined && Number.isFinite(v);
const grp = (n) => Math.round(n).toLocaleString('en-US');
const f1 = (n) => (ok(n) ? n.toFixed(1) : NA);
const f2 = (n) => (ok(n) ? n.toFixed(2) : NA);
const us = (n) => {
  if (!ok(n)) return NA;
  if (Math.abs(n) >= 10000) return `${(n / 1000).toFixed(2)} ms`;
  return `${grp(n)} µs`;
};
const plusUs = (n) => (ok(n) ? (n >= 0 ? '+' : '−') + us(Math.abs(n)) : NA);
const cpuUs = (n) => (ok(n) ? `${n < 10 ? n.toFixed(2) : n.toFixed(1)} µs` : NA);
const mib = (kb) => (ok(kb) ? `${(kb / 1024).toFixed(1)} MiB` : NA);
const ratio = (a, b) => (ok(a) && ok(b) && b > 0 ? a / b : null);
const x = (r) => (ok(r) ? `${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}×` : NA);
const rate = (n) => (ok(n) ? grp(n) : NA);
const met = (cond) => (cond === null ? 'not measured' : cond ? '**met**' : '**not met**');

function table(head, rows) {
  const out = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) out.push(`| ${r.join(' | ')} |`);
  return out.join('\n');
}

const S = num('bench.seconds');
const CONC = num('bench.conc');
const H2 = num('bench.h2conc');
const IDLE = num('bench.idle_conns');
const HELD = num('bench.held_streams');
const portkeyOk = num('portkey.ok') === 1;
const notes = [];

// ------------------------------------------------------------------ non-streaming (wrk)
const TARGETS = [
  ['direct', 'direct to the mock'],
  ['one', 'llmnet 1-hop'],
  ['two', 'llmnet 2-hop (router)'],
  ['portkey', 'Portkey gateway'],
  ['oneB', 'llmnet 1-hop, to the BASE mock'],
];
const baseOk = num('base.ok') === 1;
const baseRev = R.get('base.rev') || 'bd81caa';
const baseWhy = () => (has('base.error') ? str('base.error') : 'unknown reason');
function wrk(lat, c, t) {
  const k = `ns.${lat}.c${c}.${t}`;
  if (!has(`${k}.requests`)) return null;
  const requests = num(`${k}.requests`);
  const secs = num(`${k}.duration_us`) / 1e6;
  const errors =
    num(`${k}.err_connect`) + num(`${k}.err_read`) + num(`${k}.err_write`) + num(`${k}.err_timeout`);
  const non2xx = num(`${k}.err_status`);
  const served = t === 'one' || t === 'two' || t === 'oneB' ? num(`${k}.gw_served`) : requests;
  const mockCalls = num(`${k}.mock_calls`);
  return {
    requests,
    rps: requests / secs,
    p50: num(`${k}.p50_us`),
    p99: num(`${k}.p99_us`),
    errors,
    non2xx,
    llmnetNon200: num(`${k}.gw_non200`),
    gwCpu: has(`${k}.gw_cpu_ns`) && served ? num(`${k}.gw_cpu_ns`) / 1000 / served : null,
    gwCpuTicks: has(`${k}.gw_cpu_ticks_ns`) && served ? num(`${k}.gw_cpu_ticks_ns`) / 1000 / served : null,
    mockCpu: mockCalls ? num(`${k}.mock_cpu_ns`) / 1000 / mockCalls : null,
    callsPerReq: requests ? mockCalls / requests : null,
  };
}
function wrkTable(lat, c) {
  const d = wrk(lat, c, 'direct');
  const pk = wrk(lat, c, 'portkey');
  const rows = [];
  for (const [t, name] of TARGETS) {
    const w = wrk(lat, c, t);
    if (t === 'oneB' && c !== CONC) continue;
    if (!w) {
      const why = (t === 'portkey' && !portkeyOk) || (t === 'oneB' && !baseOk) ? 'not run' : NA;
      rows.push([name, ...Array(12).fill(why)]);
      continue;
    }
    const isGw = t !== 'direct';
    const isLlmnet = t === 'one' || t === 'two' || t === 'oneB';
    const errs = w.errors + w.non2xx;
    if (errs) notes.push(`${name}, mock ${lat} ms, c${c}: ${w.non2xx} non-2xx responses, ${w.errors} socket errors/timeouts (wrk).`);
    // schedstat (ns) against /proc/PID/stat utime+stime (10 ms ticks)
    const k = `ns.${lat}.c${c}.${t}`;
    const a = num(`${k}.gw_cpu_ns`);
    const b = num(`${k}.gw_cpu_ticks_ns`);
    if (a !== null && b !== null && Math.abs(a - b) > 20e6 + 0.1 * Math.max(a, b))
      notes.push(`${name}, mock ${lat} ms, c${c}: CPU time from schedstat (${(a / 1e6).toFixed(0)} ms) and from /proc/PID/stat (${(b / 1e6).toFixed(0)} ms) disagree.`);
    rows.push([
      name,
      rate(w.rps),
      us(w.p50),
      us(w.p99),
      isGw && d ? plusUs(w.p50 - d.p50) : '—',
      isGw && d ? plusUs(w.p99 - d.p99) : '—',
      isGw ? cpuUs(w.gwCpu) : '—',
      cpuUs(w.mockCpu),
      isGw ? x(ratio(w.gwCpu, w.mockCpu)) : '—',
      ok(w.callsPerReq) ? w.callsPerReq.toFixed(2) : NA,
      errs ? `**${grp(errs)}**` : '0',
      isGw && d ? x(ratio(w.rps, d.rps)) : '—',
      isLlmnet && pk ? x(ratio(w.rps, pk.rps)) : '—',
    ]);
  }
  return table(
    [
      'path',
      'req/s',
      'p50',
      'p99',
      'added p50',
      'added p99',
      'gateway CPU/req',
      'mock CPU/call',
      'gateway CPU ÷ mock CPU',
      'mock calls/req',
      'errors + non-2xx',
      'req/s ÷ direct',
      'req/s ÷ Portkey',
    ],
    rows,
  );
}

// The 2-hop path makes two upstream calls: its added latency includes a
// second call's worth of upstream time. Its own share: p50 - 2 x direct p50.
function twoHopNote(lat, c) {
  const d = wrk(lat, c, 'direct');
  const t = wrk(lat, c, 'two');
  if (!d || !t) return '';
  return (
    `The 2-hop path makes two upstream calls per request, so its added latency includes one more ` +
    `upstream round trip; without it (p50 − 2 × direct p50) llmnet's share is ${plusUs(t.p50 - 2 * d.p50)}.`
  );
}

// ------------------------------------------------------------------ h2load
function h2(t) {
  const k = `h2.${t}`;
  if (!has(`${k}.rps`)) return null;
  const done = num(`${k}.done`);
  const succeeded = num(`${k}.succeeded`);
  return {
    rps: num(`${k}.rps`),
    done,
    succeeded,
    failed: (num(`${k}.failed`) || 0) + (num(`${k}.errored`) || 0) + (num(`${k}.timeout`) || 0),
    non2xx: (num(`${k}.s4xx`) || 0) + (num(`${k}.s5xx`) || 0),
    gwCpu: has(`${k}.gw_cpu_ns`) && done ? num(`${k}.gw_cpu_ns`) / 1000 / done : null,
    mockCpu: num(`${k}.mock_calls`) ? num(`${k}.mock_cpu_ns`) / 1000 / num(`${k}.mock_calls`) : null,
  };
}
function h2Table() {
  const d = h2('direct');
  const pk = h2('portkey');
  const rows = [];
  for (const [t, name] of TARGETS) {
    if (t === 'oneB') continue;
    const h = h2(t);
    if (!h) {
      rows.push([name, ...Array(7).fill(t === 'portkey' && !portkeyOk ? 'not run' : NA)]);
      continue;
    }
    if (h.failed || h.non2xx) notes.push(`${name}, h2load -c${H2}: ${h.failed} failed/errored/timed out, ${h.non2xx} non-2xx.`);
    rows.push([
      name,
      rate(h.rps),
      grp(h.succeeded),
      h.failed ? `**${grp(h.failed)}**` : '0',
      h.non2xx ? `**${grp(h.non2xx)}**` : '0',
      t === 'direct' ? '—' : cpuUs(h.gwCpu),
      t === 'direct' ? '—' : x(ratio(h.rps, d && d.rps)),
      (t === 'one' || t === 'two') && pk ? x(ratio(h.rps, pk.rps)) : '—',
    ]);
  }
  return table(
    ['path', 'req/s', 'succeeded', 'failed', 'non-2xx', 'gateway CPU/req', 'req/s ÷ direct', 'req/s ÷ Portkey'],
    rows,
  );
}

// ------------------------------------------------------------------ streaming
function streamTable() {
  const td = json('st.ttfb.direct');
  const t1 = json('st.ttfb.one');
  const rd = json('st.relay.direct');
  const r1 = json('st.relay.one');
  const rows = [];
  rows.push([
    'time to first byte (first `data:` event), p50',
    td ? us(td.p50_us) : NA,
    t1 ? us(t1.p50_us) : NA,
    td && t1 ? plusUs(t1.p50_us - td.p50_us) : NA,
  ]);
  rows.push([
    'time to first byte, p99',
    td ? us(td.p99_us) : NA,
    t1 ? us(t1.p99_us) : NA,
    td && t1 ? plusUs(t1.p99_us - td.p99_us) : NA,
  ]);
  rows.push([
    'sequential streams sampled (errors)',
    td ? `${grp(td.streams)} (${td.errors})` : NA,
    t1 ? `${grp(t1.streams)} (${t1.errors})` : NA,
    '',
  ]);
  rows.push([
    `chunks/s relayed, ${CONC} concurrent streams`,
    rd ? rate(rd.chunks_per_s) : NA,
    r1 ? rate(r1.chunks_per_s) : NA,
    rd && r1 ? `${x(ratio(r1.chunks_per_s, rd.chunks_per_s))} of direct` : NA,
  ]);
  rows.push([
    'streams completed (errors)',
    rd ? `${grp(rd.streams)} (${rd.errors})` : NA,
    r1 ? `${grp(r1.streams)} (${r1.errors})` : NA,
    '',
  ]);
  const gwNs = num('st.relay.one.gw_cpu_ns');
  const mockDirectNs = num('st.relay.direct.mock_cpu_ns');
  const mockOneNs = num('st.relay.one.mock_cpu_ns');
  rows.push([
    'CPU per chunk: llmnet / the mock',
    rd && mockDirectNs !== null ? `— / ${cpuUs(mockDirectNs / 1000 / rd.chunks)}` : NA,
    r1 && gwNs !== null ? `${cpuUs(gwNs / 1000 / r1.chunks)} / ${cpuUs(mockOneNs / 1000 / r1.chunks)}` : NA,
    r1 && gwNs !== null ? `llmnet ${x(ratio(gwNs, mockOneNs))} the mock` : '',
  ]);
  for (const [n, v] of [
    ['direct', td],
    ['llmnet', t1],
    ['direct relay', rd],
    ['llmnet relay', r1],
  ])
    if (v && v.errors) notes.push(`streaming (${n}): ${v.errors} streams failed or ended without [DONE].`);
  return table(['streaming', 'direct to the mock', 'through llmnet 1-hop', 'added / ratio'], rows);
}

// ------------------------------------------------------------------ memory
// the 10,000-connection instance's size before them: after its first proxied
// request when measured (so libcurl's start is not counted per connection)
const memBase = () => (ok(num('mem.first_kb')) ? num('mem.first_kb') : num('mem.idle_kb'));
// (RSS with the held streams - that process's idle RSS) / streams, KiB
function perStreamKb() {
  const st = num('mem.streams_kb');
  const idle2 = num('mem.idle2_kb');
  if (!ok(st) || !ok(idle2)) return null;
  return (st - idle2) / (num('streams.ready') || HELD);
}
function memTable() {
  const idle = num('mem.idle_kb');
  const idle2 = num('mem.idle2_kb');
  const k10 = num('mem.idle10k_kb');
  const st = num('mem.streams_kb');
  const idleReady = num('idle.ready');
  const streamsReady = num('streams.ready');
  const rows = [];
  rows.push([
    'llmnet idle (fresh process, 1-hop composition)',
    mib(idle),
    '',
    '',
    `anonymous ${mib(num('mem.idle_anon_kb'))}, file-backed (libraries) ${mib(num('mem.idle_file_kb'))}; PSS ${mib(num('mem.idle_pss_kb'))}, private ${mib(num('mem.idle_private_kb'))}`,
  ]);
  const first = num('mem.first_kb');
  rows.push([
    'the same llmnet after its first proxied request',
    mib(first),
    ok(first) && ok(idle) ? `+${mib(first - idle)}` : NA,
    '',
    `anonymous ${mib(num('mem.first_anon_kb'))}: what the first upstream call starts (libcurl, its pools)`,
  ]);
  if (ok(k10))
    rows.push([
      `with ${grp(IDLE)} idle keep-alive connections`,
      mib(k10),
      `+${mib(k10 - memBase())}`,
      `${((k10 - memBase()) / (idleReady || IDLE)).toFixed(1)} KiB`,
      `${grp(idleReady || 0)} connections answered GET /health, then sent nothing (extra: over the size after the first proxied request)`,
    ]);
  else rows.push([`with ${grp(IDLE)} idle keep-alive connections`, 'not measured', '', '', `ulimit -n was ${str('machine.fd_limit')}`]);
  if (ok(num('mem.idle10k_after_kb')))
    rows.push(['after those connections closed', mib(num('mem.idle10k_after_kb')), `+${mib(num('mem.idle10k_after_kb') - memBase())}`, '', 'freed memory the allocator kept']);
  rows.push([
    `with ${grp(HELD)} concurrent streams in progress`,
    mib(st),
    ok(st) && ok(idle2) ? `+${mib(st - idle2)}` : NA,
    ok(st) && ok(idle2) ? `${((st - idle2) / (streamsReady || HELD)).toFixed(1)} KiB` : NA,
    `another fresh llmnet (idle ${mib(idle2)}); ${grp(streamsReady || 0)} streams had their first chunk`,
  ]);
  rows.push([
    'llmnet 1-hop after every non-streaming run (peak)',
    `${mib(num('mem.one0_after_kb'))} (${mib(num('mem.one0_hwm_kb'))})`,
    '',
    '',
    `${str('fd.one0_after')} descriptors open after the runs: ${str('conns.one0_upstream')} pooled upstream connections to the mock, ${str('conns.one0_after')} client connection (the /metrics request)`,
  ]);
  if (has('mem.portkey_idle_kb'))
    rows.push([
      'Portkey gateway (peer) idle / after its runs',
      `${mib(num('mem.portkey_idle_kb'))} / ${mib(num('mem.portkey_after_kb'))}`,
      '',
      '',
      'node process',
    ]);
  rows.push(['llmnet mock idle (for scale)', mib(num('mem.mock_idle_kb')), '', '', '']);
  return table(['resident size (VmRSS)', 'RSS', 'extra', 'per connection', 'notes'], rows);
}

// ------------------------------------------------------------------ health checks
function checks() {
  const out = [];
  const idleC = json('idle.client');
  if (idleC) {
    out.push(
      `- ${grp(IDLE)} idle connections: ${grp(idleC.ok)} answered, ${idleC.failed} failed, ` +
        `${idleC.closed_by_server} closed by llmnet while held; llmnet's descriptors ` +
        `${str('fd.idle10k_before')} before, ${str('fd.idle10k_held')} while held, ${str('fd.idle10k_after')} after.`,
    );
    if (idleC.failed || idleC.closed_by_server)
      notes.push(`idle connections: ${idleC.failed} failed, ${idleC.closed_by_server} closed by llmnet while held.`);
    if (num('fd.idle10k_after') > num('fd.idle10k_before'))
      notes.push(`idle connections: llmnet kept ${num('fd.idle10k_after') - num('fd.idle10k_before')} more descriptors after the clients closed.`);
  }
  const stC = json('streams.client');
  if (stC) {
    out.push(
      `- ${grp(HELD)} concurrent streams: ${grp(stC.ready)} had their first chunk, ${stC.ended_early} ended and ` +
        `${stC.failed_early} failed while held; after the client dropped them the mock saw ` +
        `${str('streams.upstream_aborted')} upstream streams aborted by llmnet; llmnet's descriptors ` +
        `${str('fd.streams_before')} before, ${str('fd.streams_held')} while held, ${str('fd.streams_after')} after; ` +
        `${str('streams.in_flight_after')} requests in flight after.`,
    );
    if (stC.ready < HELD || stC.failed_early)
      notes.push(`concurrent streams: only ${stC.ready} of ${HELD} started, ${stC.failed_early} failed.`);
    if (num('streams.upstream_aborted') !== HELD)
      notes.push(`concurrent streams: the mock saw ${str('streams.upstream_aborted')} of ${HELD} upstream streams aborted when the clients left.`);
    if (num('fd.streams_after') > num('fd.streams_before'))
      notes.push(`concurrent streams: llmnet kept ${num('fd.streams_after') - num('fd.streams_before')} more descriptors after the streams ended.`);
  }
  let gone = 0;
  for (const n of ['one0', 'two0', 'one50', 'two50', 'oneS', 'mem1', 'mem2', 'oneB0', 'oneB50']) gone += num(`gone.${n}`) || 0;
  out.push(
    `- llmnet logged ${grp(gone)} requests as 499 (the client went away): wrk and h2load stop with ` +
      `requests in flight at the end of each run, the relay client drops its streams at the deadline ` +
      `and the memory test drops its ${grp(HELD)} streams; expected, not counted as errors.`,
  );
  if (num('cpu.idle_ns_per_s') !== null)
    out.push(`- llmnet's CPU use while idle: ${cpuUs(num('cpu.idle_ns_per_s') / 1000)} per second.`);
  for (const n of ['one0', 'two0', 'one50', 'two50', 'oneS', 'mem1', 'mem2', 'oneB0', 'oneB50']) {
    if (num(`crash.${n}`) === 1) notes.push(`llmnet instance ${n} was no longer running at the end.`);
    if (num(`log.${n}`) > 0)
      notes.push(`llmnet instance ${n} logged ${num(`log.${n}`)} warnings/errors during the run, e.g. \`${R.get(`logline.${n}`) || ''}\`.`);
  }
  for (const lat of [0, 50])
    for (const c of [CONC, 1])
      for (const t of ['one', 'two', 'oneB']) {
        const w = wrk(lat, c, t);
        if (w && w.llmnetNon200) notes.push(`llmnet ${t}-hop, mock ${lat} ms, c${c}: llmnet counted ${w.llmnetNon200} non-200 answers in /metrics.`);
      }
  return out.join('\n');
}

// ------------------------------------------------------------------ targets
function targets() {
  const rows = [];
  for (const lat of [50, 0]) {
    const w = wrk(lat, CONC, 'one');
    const r = w ? ratio(w.gwCpu, w.mockCpu) : null;
    rows.push([
      `llmnet CPU per 1-hop request ≤ 2× the mock's per-request CPU (mock ${lat} ms, wrk -c${CONC})`,
      w ? `${cpuUs(w.gwCpu)} vs ${cpuUs(w.mockCpu)} = ${x(r)}` : NA,
      met(ok(r) ? r <= 2 : null),
    ]);
  }
  {
    const d = wrk(50, CONC, 'direct');
    const w = wrk(50, CONC, 'one');
    const a = d && w ? w.p50 - d.p50 : null;
    rows.push([
      `added p50 latency < 100 µs at moderate load (1-hop, mock 50 ms, wrk -c${CONC}, ~${w ? grp(w.rps) : '?'} req/s)`,
      plusUs(a),
      met(ok(a) ? a < 100 : null),
    ]);
    const d0 = wrk(0, 1, 'direct');
    const w0 = wrk(0, 1, 'one');
    const a0 = d0 && w0 ? w0.p50 - d0.p50 : null;
    rows.push([`(for reference) added p50 at low load (1-hop, mock 0 ms, wrk -c1)`, plusUs(a0), met(ok(a0) ? a0 < 100 : null)]);
  }
  {
    const w = wrk(0, CONC, 'one');
    const p = wrk(0, CONC, 'portkey');
    const r = w && p ? ratio(w.rps, p.rps) : null;
    rows.push([
      `≥ 10× Portkey's throughput (1-hop, mock 0 ms, wrk -c${CONC})`,
      w && p ? `${rate(w.rps)} vs ${rate(p.rps)} req/s = ${x(r)}` : 'Portkey not measured',
      met(ok(r) ? r >= 10 : null),
    ]);
    const h = h2('one');
    const hp = h2('portkey');
    const rh = h && hp ? ratio(h.rps, hp.rps) : null;
    rows.push([
      `≥ 10× Portkey's throughput (1-hop, mock 0 ms, h2load --h1 -c${H2})`,
      h && hp ? `${rate(h.rps)} vs ${rate(hp.rps)} req/s = ${x(rh)}` : 'Portkey not measured',
      met(ok(rh) ? rh >= 10 : null),
    ]);
  }
  const idle = num('mem.idle_kb');
  rows.push(['idle RSS < 10 MiB', mib(idle), met(ok(idle) ? idle < 10 * 1024 : null)]);
  const k10 = num('mem.idle10k_kb');
  rows.push([
    `${grp(IDLE)} idle connections < 100 MiB extra`,
    ok(k10) ? `+${mib(k10 - memBase())}` : 'not measured',
    met(ok(k10) ? k10 - memBase() < 100 * 1024 : null),
  ]);
  return table(['target', 'measured', 'status'], rows);
}


// ------------------------------------------------------------------ issue 17: the proxy at the physical limit
const I17_CPU_0 = 2.5; // CPU per 1-hop request ≤ 2.5× the mock's at the 0 ms mock
const I17_CPU_50 = 2; // and ≤ 2× at the 50 ms mock
const I17_CHUNK = 2; // streaming CPU per chunk ≤ 2× the mock's
const I17_RELAY = 0.7; // relay rate ≥ 0.7× direct
const I17_TTFB_US = 150; // added time to first byte < 150 µs
const I17_SYSCALLS = 8; // system calls per proxied request ≤ 8
const I17_IDLE_KB = 10 * 1024; // idle RSS < 10 MiB
function sc(who, c) {
  const k = `sc.${who}.c${c}`;
  const n = num(`${k}.requests`);
  const total = num(`${k}.total`);
  const t = json(`${k}.table`);
  if (!n || !ok(total) || !t) return null;
  return { n, perReq: total / n, table: t };
}
const scWhy = () => (has('sc.unavailable') ? str('sc.unavailable') : 'not measured');
function syscallSection() {
  const out = ['### System calls per request (`bench/syscalls.sh`, strace -c)', ''];
  const cols = [
    ['llmnet', 1],
    ['llmnet', 16],
    ['mock', 1],
    ['mock', 16],
  ].map(([w, c]) => [w, c, sc(w, c)]);
  if (!cols.some(([, , v]) => v)) {
    out.push(`Not measured: ${scWhy()}.`);
    return out.join('\n');
  }
  out.push(
    `A fresh llmnet 1-hop (\`bench/one-hop.json\`, ${has('sc.workers') ? `${R.get('sc.workers')} workers` : 'its default workers'}) ` +
      `in front of a fresh \`llmnet mock\` (0 ms); after ${grp(1000)} warm-up requests, \`strace -f -c\` attached to every ` +
      `thread counts the system calls made while \`h2load --h1\` sends ${grp(num('sc.n') || 0)} requests; each count is ` +
      'divided by the requests that succeeded. The mock is measured the same way (h2load straight to it). strace slows ' +
      'the process: this runs apart from every CPU measurement. In parentheses: calls that failed (`connect` ' +
      'EINPROGRESS is the normal start of a non-blocking connect; `epoll_ctl` EEXIST is an interest change on a ' +
      'socket already registered).',
  );
  out.push('');
  const names = new Set();
  for (const [, , v] of cols) if (v) for (const n of Object.keys(v.table)) names.add(n);
  // the calls that matter per request first: by llmnet -c1's count, then the rest
  const weight = (n) => cols.reduce((a, [, , v]) => a + (v && v.table[n] ? v.table[n][0] / v.n : 0), 0);
  const rows = [...names]
    .filter((n) => weight(n) >= 0.005)
    .sort((a, b) => weight(b) - weight(a))
    .map((n) => [
      `\`${n}\``,
      ...cols.map(([, , v]) => {
        if (!v) return NA;
        const e = v.table[n];
        if (!e) return '0';
        return `${f2(e[0] / v.n)}${e[1] ? ` (${f2(e[1] / v.n)})` : ''}`;
      }),
    ]);
  rows.push(['**total**', ...cols.map(([, , v]) => (v ? `**${f2(v.perReq)}**` : NA))]);
  out.push(table(['system call, per request', 'llmnet -c1', 'llmnet -c16', 'mock -c1', 'mock -c16'], rows));
  out.push('');
  out.push('Calls below 0.005 per request (start-up, new connections) are left out of the rows, not of the totals.');
  return out.join('\n');
}
// the median of a callgrind count's rounds (KEY.r1, KEY.r2, ...)
function cg(key) {
  const xs = [];
  for (let r = 1; has(`${key}.r${r}`); r++) xs.push(num(`${key}.r${r}`));
  return median(xs);
}
function cgRatio(a, b) {
  const x1 = cg(a);
  const x2 = cg(b);
  return ok(x1) && ok(x2) ? `${grp(x1)} vs ${grp(x2)} at the BASE = ${x(x1 / x2)}` : ok(x1) ? `${grp(x1)} (the BASE: not measured)` : null;
}
function cgWhy() {
  if (num('cg.mode') === 0) return 'not measured (BENCH_CALLGRIND=0)';
  if (has('cg.unavailable')) return `not measured: ${str('cg.unavailable')}`;
  return 'not measured (callgrind failed: see the run\'s log)';
}
function targets17() {
  const rows = [];
  const base = baseOk ? `BASE (${baseRev})` : `BASE (${baseRev}) not built: ${baseWhy()}`;
  for (const [lat, lim] of [
    [0, I17_CPU_0],
    [50, I17_CPU_50],
  ]) {
    const w = wrk(lat, CONC, 'one');
    const r = w ? ratio(w.gwCpu, w.mockCpu) : null;
    rows.push([
      `CPU per 1-hop request ≤ ${lim}× the mock's per call (mock ${lat} ms, wrk -c${CONC})`,
      w ? `${cpuUs(w.gwCpu)} ÷ ${cpuUs(w.mockCpu)} = ${x(r)}` : NA,
      met(ok(r) ? r <= lim : null),
    ]);
    const b = wrk(lat, CONC, 'oneB');
    const rb = b ? ratio(b.gwCpu, b.mockCpu) : null;
    rows.push([
      `… against the ${baseOk ? `BASE (${baseRev})` : 'BASE'} mock, its own run (mock ${lat} ms, wrk -c${CONC})`,
      b ? `${cpuUs(b.gwCpu)} ÷ ${cpuUs(b.mockCpu)} = ${x(rb)}` : baseOk ? NA : base,
      met(ok(rb) ? rb <= lim : null),
    ]);
  }
  const rd = json('st.relay.direct');
  const r1 = json('st.relay.one');
  const gwNs = num('st.relay.one.gw_cpu_ns');
  const mNs = num('st.relay.one.mock_cpu_ns');
  const rc = ratio(gwNs, mNs);
  rows.push([
    `streaming CPU per relayed chunk ≤ ${I17_CHUNK}× the mock's (${CONC} streams)`,
    r1 && ok(rc) ? `${cpuUs(gwNs / 1000 / r1.chunks)} ÷ ${cpuUs(mNs / 1000 / r1.chunks)} = ${x(rc)}` : NA,
    met(ok(rc) ? rc <= I17_CHUNK : null),
  ]);
  const rr = rd && r1 ? ratio(r1.chunks_per_s, rd.chunks_per_s) : null;
  rows.push([
    `relay rate ≥ ${I17_RELAY}× direct (chunks/s, ${CONC} streams)`,
    ok(rr) ? `${rate(r1.chunks_per_s)} ÷ ${rate(rd.chunks_per_s)} = ${x(rr)}` : NA,
    met(ok(rr) ? rr >= I17_RELAY : null),
  ]);
  const td = json('st.ttfb.direct');
  const t1 = json('st.ttfb.one');
  const tt = td && t1 ? t1.p50_us - td.p50_us : null;
  rows.push([`added time to first byte < ${I17_TTFB_US} µs (p50, sequential streams)`, plusUs(tt), met(ok(tt) ? tt < I17_TTFB_US : null)]);
  for (const c of [1, 16]) {
    const l = sc('llmnet', c);
    const m = sc('mock', c);
    rows.push([
      `system calls per proxied request ≤ ${I17_SYSCALLS} (strace -c, h2load -c${c})`,
      l ? `${f2(l.perReq)} (the mock: ${m ? f2(m.perReq) : NA} per call)` : scWhy(),
      met(l ? l.perReq <= I17_SYSCALLS : null),
    ]);
  }
  const idle = num('mem.idle_kb');
  const first = num('mem.first_kb');
  rows.push([
    'idle RSS < 10 MiB (a fresh llmnet, 1-hop)',
    `${mib(idle)}; after the first proxied request ${mib(first)}`,
    met(ok(idle) ? idle < I17_IDLE_KB : null),
  ]);
  const ps = perStreamKb();
  rows.push([
    `memory per open stream: (RSS with ${grp(HELD)} streams − idle RSS) ÷ streams`,
    ok(ps) ? `${ps.toFixed(1)} KiB` : NA,
    ok(ps) ? 'reported' : 'not measured',
  ]);
  const c1 = cgRatio('cg.one', 'cg.base.one');
  rows.push([
    `instructions per 1-hop request (callgrind, \`bench/callgrind.sh\`${(num("cg.rounds") || 1) > 1 ? `, median of ${num("cg.rounds")} alternated rounds` : ""}) against the BASE (${baseRev})`,
    c1 || cgWhy(),
    c1 ? 'reported' : 'not measured',
  ]);
  if (num('cg.mode') === 2) {
    const c2 = cgRatio('cg.two', 'cg.base.two');
    rows.push(['instructions per 2-hop request (`CG_COMPOSITION=bench/two-hop.json`)', c2 || cgWhy(), c2 ? 'reported' : 'not measured']);
  }
  const covered = ['rt', 'dr', 'ca'].map((k) => (has(`${k}.failed`) ? (num(`${k}.failed`) === 1 ? 'failed' : 'ran') : 'not run'));
  rows.push([
    'no regression of the routing, doors and cache paths',
    `routing ${covered[0]}, doors ${covered[1]}, cache ${covered[2]}: compare their sections with a run at the BASE`,
    covered.every((c) => c === 'ran') ? 'see below' : '**not measured**',
  ]);
  return table(['target (issue 17)', 'measured', 'status'], rows);
}

// ------------------------------------------------------------------ routing (bench/routing.sh)
const FREE_PER_DAY = 50; // OpenRouter's free tier, per account
const FREE_PER_MIN = 20;
const CREDITS_PER_DAY = 1000;
const median = (xs) => {
  const s = xs.filter(ok).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
function latPath(name) {
  const rounds = [];
  for (let r = 1; has(`rt.lat.${name}.r${r}.requests`); r++) {
    const k = `rt.lat.${name}.r${r}`;
    const served = num(`${k}.gw_served`);
    rounds.push({
      p50: num(`${k}.p50_us`),
      p99: num(`${k}.p99_us`),
      rps: num(`${k}.requests`) / (num(`${k}.duration_us`) / 1e6),
      cpu: served ? num(`${k}.gw_cpu_ns`) / 1000 / served : null,
      callsPerReq: num(`${k}.requests`) ? num(`${k}.mock_calls`) / num(`${k}.requests`) : null,
      errors:
        num(`${k}.err_connect`) + num(`${k}.err_read`) + num(`${k}.err_write`) + num(`${k}.err_timeout`) + num(`${k}.err_status`),
    });
  }
  if (!rounds.length) return null;
  return {
    rounds,
    p50: median(rounds.map((x) => x.p50)),
    p99: median(rounds.map((x) => x.p99)),
    cpu: median(rounds.map((x) => x.cpu)),
    callsPerReq: median(rounds.map((x) => x.callsPerReq)),
    errors: rounds.reduce((a, x) => a + x.errors, 0),
  };
}
// per round: the path's p50 minus the 1-hop p50 of the same round; the median of those
function addedP50(name) {
  const one = latPath('one');
  const p = latPath(name);
  if (!one || !p) return null;
  const d = [];
  for (let i = 0; i < Math.min(one.rounds.length, p.rounds.length); i++) d.push(p.rounds[i].p50 - one.rounds[i].p50);
  return median(d);
}
function freeTier(upstreamPerReq) {
  if (!ok(upstreamPerReq) || upstreamPerReq <= 0) return [NA, NA, NA];
  return [
    grp(Math.floor(FREE_PER_DAY / upstreamPerReq)),
    f1(FREE_PER_MIN / upstreamPerReq),
    grp(Math.floor(CREDITS_PER_DAY / upstreamPerReq)),
  ];
}
const MODES = [
  ['off', '`"sticky": "off"`, no decision cache (every request routed: llmnet before issue 11)'],
  ['cache', '`"sticky": "off"`, decision cache on'],
  ['turn', '`"sticky": "turn"` (+ decision cache)'],
  ['session', '`"sticky": "session"` (+ decision cache): **the default**'],
];
function routingTargets() {
  const rows = [];
  const conv = json('rt.conv');
  for (const [k, what] of [
    ['conversation_header', 'a 5-turn conversation (x-session-id)'],
    ['conversation_fingerprint', 'a 5-turn conversation (fingerprint, no header)'],
    ['tool_loop_header', 'a 10-step tool loop (x-session-id)'],
    ['tool_loop_fingerprint', 'a 10-step tool loop (fingerprint, no header)'],
  ]) {
    const c = conv && conv[k];
    rows.push([
      `${what} makes exactly 1 router call in \`session\` mode`,
      c ? `${c.router_calls} router call${c.router_calls === 1 ? '' : 's'} for ${c.requests} requests (mock counted)` : NA,
      met(c ? c.router_calls === 1 : null),
    ]);
  }
  for (const [name, what] of [
    ['pin', 'a pinned decision'],
    ['cache', 'a cached decision'],
  ]) {
    const a = addedP50(name);
    const one = latPath('one');
    const p = latPath(name);
    rows.push([
      `${what} adds < 100 µs over a 1-hop request (p50, wrk -c1, median of ${num('rt.rounds') || '?'} alternated rounds)`,
      ok(a)
        ? `${plusUs(a)} (CPU/req ${p && one ? plusUs(p.cpu - one.cpu) : NA}; the decision itself ${ok(num(`rt.lat.decision_us.${name}`)) ? `${f2(num(`rt.lat.decision_us.${name}`))} µs` : NA})`
        : NA,
      met(ok(a) ? a < 100 : null),
    ]);
  }
  const e = json('rt.early');
  rows.push([
    `early decision ≥ 3× faster than reading the whole router reply (${num('rt.router_chunk_ms') || 30} ms per word)`,
    e && e.early ? `${f1(e.late.p50_ms)} ms ÷ ${f1(e.early.p50_ms)} ms = ${x(e.ratio)}` : NA,
    met(e && ok(e.ratio) ? e.ratio >= 3 : null),
  ]);
  return table(['target', 'measured', 'status'], rows);
}
function routingSection() {
  const out = [];
  out.push('### Routing: sessions, pins, cache, early decision');
  out.push('');
  out.push(
    'The seed topology (`examples/offline-demo.json`: a router model choosing between `creative-handler` ' +
      'and `technical-handler`) against `llmnet mock` with `bench/mock-routing-rules.json`, in each ' +
      '`"routing"` mode (`bench/routing.sh`). Router calls are counted by the mock (requests carrying ' +
      "llmnet's routing prompt), not by llmnet.",
  );
  out.push('');
  out.push(routingTargets());
  out.push('');
  const conv = json('rt.conv');
  if (conv) {
    const rows = [];
    for (const [k, what] of [
      ['conversation_header', '5-turn conversation, x-session-id'],
      ['conversation_fingerprint', '5-turn conversation, fingerprint'],
      ['tool_loop_header', '10-step tool loop, x-session-id'],
      ['tool_loop_fingerprint', '10-step tool loop, fingerprint'],
    ]) {
      const c = conv[k];
      if (!c) continue;
      rows.push([what, grp(c.requests), grp(c.router_calls), grp(c.upstream_calls), c.decided.join(', '), [...new Set(c.routes)].join(', ')]);
    }
    out.push('#### One router call per conversation (`"sticky": "session"`)');
    out.push('');
    out.push(table(['scenario', 'requests', 'router calls', 'upstream calls', 'decided, request by request', 'route'], rows));
    out.push('');
  } else if (has('rt.conv')) out.push(`Conversation scenario failed: \`${R.get('rt.conv').slice(0, 300)}\``, '');
  const paths = [
    ['one', 'llmnet 1-hop (`bench/one-hop.json`)', '', ''],
    ['pin', 'seed topology, pinned session (x-session-id)', R.get('rt.lat.decided.session') || '', 'pin'],
    ['cache', 'seed topology, cached decision (`sticky: off`)', R.get('rt.lat.decided.cache') || '', 'cache'],
    ['router', 'seed topology, router call every time (reference)', R.get('rt.lat.decided.off') || '', 'router'],
  ];
  const one = latPath('one');
  const rows = [];
  for (const [name, what, dec, dkey] of paths) {
    const p = latPath(name);
    const dus = dkey ? num(`rt.lat.decision_us.${dkey}`) : null;
    const decTime = dkey ? (ok(dus) ? `${f2(dus)} µs` : NA) : '—';
    if (!p) {
      rows.push([what, NA, NA, NA, NA, NA, NA, NA, dec, decTime]);
      continue;
    }
    if (p.errors) notes.push(`routing latency, ${what}: ${p.errors} errors or non-2xx (wrk).`);
    rows.push([
      what,
      p.rounds.map((r) => us(r.p50)).join(' / '),
      us(p.p50),
      name === 'one' ? '—' : plusUs(name === 'router' ? (one ? p.p50 - one.p50 : null) : addedP50(name)),
      us(p.p99),
      cpuUs(p.cpu),
      name === 'one' || !one ? '—' : plusUs(p.cpu - one.cpu),
      ok(p.callsPerReq) ? p.callsPerReq.toFixed(2) : NA,
      dec,
      decTime,
    ]);
  }
  out.push(`#### Added time of a pinned or cached decision (wrk -t1 -c1, ${num('rt.lat.seconds') || '?'} s per run, mock latency 0 ms)`);
  out.push('');
  out.push(
    table(
      ['path', 'p50 per round', 'p50 (median)', 'added p50 vs 1-hop', 'p99 (median)', 'llmnet CPU/req', 'added CPU/req', 'mock calls/req', 'decided', "llmnet's decision time (mean)"],
      rows,
    ),
  );
  out.push('');
  const e = json('rt.early');
  if (e && e.early) {
    out.push(`#### Early decision (router mock: \`--chunk-interval ${num('rt.router_chunk_ms') || 30}\`, one word per chunk)`);
    out.push('');
    out.push(
      table(
        ['router reply', 'samples', 'time to route, p50 (client)', "llmnet's latency_ms, p50", 'decided', 'route', 'measured with'],
        [
          ['`creative-handler` on the first line, then 52 words of explanation', e.early.samples, `${f1(e.early.p50_ms)} ms`, ok(e.early.server_p50_ms) ? `${f1(e.early.server_p50_ms)} ms` : NA, e.early.decided, e.early.routes, e.early.via === 'route' ? 'POST /v1/llmnet/route' : 'chat completion'],
          ['the same words, `creative-handler` on the last line (read whole)', e.late.samples, `${f1(e.late.p50_ms)} ms`, ok(e.late.server_p50_ms) ? `${f1(e.late.server_p50_ms)} ms` : NA, e.late.decided, e.late.routes, e.late.via === 'route' ? 'POST /v1/llmnet/route' : 'chat completion'],
          ['ratio', '', x(e.ratio), '', '', '', ''],
        ],
      ),
    );
    out.push('');
  } else if (has('rt.early')) out.push(`Early decision scenario failed: \`${R.get('rt.early').slice(0, 300)}\``, '');
  const mrows = [];
  let mix = null;
  for (const [m, what] of MODES) {
    const j = json(`rt.mixed.${m}`);
    if (!j || j.error) {
      mrows.push([what, NA, NA, NA, NA, NA, NA, NA, j && j.error ? j.error.slice(0, 120) : NA]);
      continue;
    }
    mix = j.mix;
    const rpr = j.router_calls / j.requests;
    const upr = j.upstream_calls / j.requests;
    const [day, min, credits] = freeTier(upr);
    const dec = Object.entries(j.decided)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    mrows.push([what, grp(j.requests), grp(j.router_calls), f2(rpr), f2(upr), day, min, credits, dec]);
  }
  out.push('#### Router calls per user request: a mixed workload');
  out.push('');
  if (mix)
    out.push(
      `The workload: ${mix.single_prompts} single prompts (each a new conversation), ${mix.conversations} ` +
        `(short follow-ups: "Now make it about a storm", "And skip the header?"), ${mix.tool_loops} ` +
        '(the handler answers with a tool call, the client sends the result), interleaved; no x-session-id ' +
        '(sessions by fingerprint), as an SDK sends them. Every user request is one handler call plus the ' +
        'router calls; a free-tier account allows 50 requests a day and 20 a minute (1,000 a day with credits).',
    );
  out.push('');
  out.push(
    table(
      ['mode', 'user requests', 'router calls', 'router calls / user request', 'upstream calls / user request', `user requests in ${FREE_PER_DAY}/day`, `per minute (of ${FREE_PER_MIN})`, `in ${grp(CREDITS_PER_DAY)}/day`, 'decided'],
      mrows,
    ),
  );
  out.push('');
  for (const n of ['one', 'session', 'turn', 'off', 'cache', 'early'])
    if (num(`rt.crash.${n}`) === 1) notes.push(`routing: llmnet instance ${n} was no longer running at the end.`);
  if (has('rt.conv_failed'))
    notes.push(`routing: a conversation or tool loop made other than 1 router call in session mode (${R.get('rt.conv_failed')}).`);
  return out.join('\n');
}


// ------------------------------------------------------------------ doors (bench/doors.sh)
const DOOR_CPU_MAX = 1.2; // issue 12: a door may add at most 20% CPU per request
const DOOR_TTFB_MAX_US = 100; // and at most 100 µs to the first token
const DOOR_NAMES = [
  ['chat', 'POST /v1/chat/completions'],
  ['responses', 'POST /v1/responses'],
  ['messages', 'POST /v1/messages'],
];
function doorCpu(name) {
  const rounds = [];
  for (let r = 1; has(`dr.cpu.${name}.r${r}.requests`); r++) {
    const k = `dr.cpu.${name}.r${r}`;
    const served = num(`${k}.gw_served`);
    rounds.push({
      cpu: served ? num(`${k}.gw_cpu_ns`) / 1000 / served : null,
      rps: num(`${k}.requests`) / (num(`${k}.duration_us`) / 1e6),
      p50: num(`${k}.p50_us`),
      errors:
        num(`${k}.err_connect`) + num(`${k}.err_read`) + num(`${k}.err_write`) + num(`${k}.err_timeout`) + num(`${k}.err_status`),
      non200: num(`${k}.gw_non200`),
    });
  }
  if (!rounds.length) return null;
  return {
    rounds,
    cpu: median(rounds.map((x) => x.cpu)),
    rps: median(rounds.map((x) => x.rps)),
    p50: median(rounds.map((x) => x.p50)),
    errors: rounds.reduce((a, x) => a + x.errors + (x.non200 || 0), 0),
  };
}
// the median over rounds of (door CPU / chat CPU of the same round)
function doorCpuRatio(name) {
  const c = doorCpu('chat');
  const d = doorCpu(name);
  if (!c || !d) return null;
  const rs = [];
  for (let i = 0; i < Math.min(c.rounds.length, d.rounds.length); i++) rs.push(ratio(d.rounds[i].cpu, c.rounds[i].cpu));
  return median(rs);
}
function doorsSection() {
  const out = [];
  const t = json('dr.ttfb');
  out.push('### Doors: the Responses and Anthropic APIs against chat completions');
  out.push('');
  out.push(
    `1-hop composition (\`bench/one-hop.json\`), \`"model": "${R.get('dr.model') || 'chat'}"\` (the node, no routing), ` +
      `against \`llmnet mock\` (latency 0), in the same run (\`bench/doors.sh\`). CPU: wrk -t1 -c${num('dr.cpu.conc')}, ` +
      `${num('dr.cpu.rounds')} rounds of ${num('dr.cpu.seconds')} s per door, doors alternated, llmnet's CPU time / ` +
      "requests it served, median over rounds; the ratio is the median of each round's door/chat ratio. " +
      `Time to first token: \`bench/doors.mjs\`, ${t && t.n ? t.n : NA} sequential streamed requests per door, ` +
      'the doors in turn, from sending the request to the first content delta event of that API ' +
      '(chat: a chunk with `delta.content`; Responses: `response.output_text.delta`; Anthropic: ' +
      "`content_block_delta`/`text_delta`); the difference is the median of each round's door − chat.",
  );
  out.push('');
  const c = doorCpu('chat');
  const rows = DOOR_NAMES.map(([name, what]) => {
    const d = doorCpu(name);
    const r = name === 'chat' ? 1 : doorCpuRatio(name);
    const tt = t && t[name];
    const dt = tt ? tt.diff_p50 : null;
    return [
      what,
      d ? cpuUs(d.cpu) : NA,
      name === 'chat' ? '—' : `${x(r)} ${ok(r) ? (r <= DOOR_CPU_MAX ? '(met)' : `(**not met**: ${f1((r - DOOR_CPU_MAX) * 100)} points over)`) : ''}`,
      d ? rate(d.rps) : NA,
      tt ? us(tt.p50) : NA,
      tt ? us(tt.p99) : NA,
      name === 'chat' ? '—' : `${plusUs(dt)} ${ok(dt) ? (dt <= DOOR_TTFB_MAX_US ? '(met)' : `(**not met**: ${us(dt - DOOR_TTFB_MAX_US)} over)`) : ''}`,
    ];
  });
  out.push(
    table(
      ['door', 'llmnet CPU / request', `vs chat (target ≤ ${DOOR_CPU_MAX.toFixed(2)}×)`, 'req/s', 'first token p50', 'p99', `vs chat (target ≤ +${DOOR_TTFB_MAX_US} µs)`],
      rows,
    ),
  );
  out.push('');
  if (c) {
    const per = DOOR_NAMES.map(([name]) => {
      const d = doorCpu(name);
      return `${name} ${d ? d.rounds.map((x) => cpuUs(x.cpu)).join(', ') : NA}`;
    });
    out.push(`CPU per request in each round: ${per.join('; ')}.`);
    out.push('');
  }
  for (const [name] of DOOR_NAMES) {
    const d = doorCpu(name);
    if (d && d.errors) notes.push(`doors, ${name}: ${d.errors} errors or non-2xx answers (wrk, llmnet's metrics).`);
    if (has(`dr.check.${name}`) && R.get(`dr.check.${name}`) !== '200')
      notes.push(`doors, ${name}: the check request answered HTTP ${R.get(`dr.check.${name}`)} (door not measured).`);
    if (t && t[name] && t[name].errors) notes.push(`doors, ${name}: ${t[name].errors} streams without a content delta.`);
  }
  if (t && t.first_error) notes.push(`doors, first streaming error: ${t.first_error}.`);
  if (t && t.error) notes.push(`doors: the time-to-first-token client failed: ${t.error}.`);
  for (const n of ['dcpu', 'dttfb'])
    if (num(`dr.crash.${n}`) === 1) notes.push(`doors: llmnet instance ${n} was no longer running at the end.`);
  return out.join('\n');
}

// ------------------------------------------------------------------ response cache (bench/cache.sh)
function cacheSection() {
  const out = ['### Response cache: a hit against a 1-hop request', ''];
  out.push(
    `The same request (temperature 0) to the 1-hop composition and to the same composition with \`"response-cache"\` ` +
      `(every request a hit), against \`llmnet mock\` (latency 0), in the same run (\`bench/cache.sh\`): ` +
      `${num('ca.rounds')} rounds of ${num('ca.seconds')} s each, alternated, medians over rounds. Latency: wrk -t1 -c1; ` +
      `CPU: wrk -t1 -c${num('ca.conc')}, llmnet's CPU time / requests it served.`,
  );
  out.push('');
  const row = (k, what) => [what, us(num(`ca.${k}.p50_us`)), us(num(`ca.${k}.p99_us`)), cpuUs(num(`ca.${k}.cpu_us_per_req`)), rate(num(`ca.${k}.rps`))];
  out.push(table(['request', 'latency p50 (c1)', 'p99', 'llmnet CPU / request', `req/s (c${num('ca.conc')})`], [row('one', '1-hop (one upstream call)'), row('hit', 'cache hit (no upstream call)')]));
  out.push('');
  out.push(
    `A hit takes ${x(ratio(num('ca.hit.cpu_us_per_req'), num('ca.one.cpu_us_per_req')))} the CPU of a 1-hop request; ` +
      `upstream calls during the hit runs: ${num('ca.hit.upstream_calls') ?? NA}.`,
  );
  if (num('ca.failed') === 1) notes.push('cache: the scenario failed (a hit called upstream, or llmnet stopped): see bench/cache.sh.');
  return out.join('\n');
}

// ------------------------------------------------------------------ the page
if (doorsOnly) {
  const ds = doorsSection();
  const head = [
    `## Doors results: ${str('machine.date')}`,
    '',
    `Command: \`${S === 10 ? 'bench/doors.sh' : `BENCH_SECONDS=${S} bench/doors.sh`}\`. Machine: ${str('machine.nproc')} cores, ${str('machine.cpu')}, Linux ${str('machine.kernel')}; ${str('machine.llmnet')}.`,
    '',
  ];
  process.stdout.write([...head, ds, '', '#### Problems seen during the run', '', notes.length ? notes.map((n) => `- ${n}`).join('\n') : '- none.', ''].join('\n'));
  process.exit(0);
}
if (routingOnly) {
  const rs = routingSection();
  const head = [
    `## Routing results: ${str('machine.date')}`,
    '',
    `Command: \`${S === 10 ? 'bench/routing.sh' : `BENCH_SECONDS=${S} bench/routing.sh`}\`. Machine: ${str('machine.nproc')} cores, ${str('machine.cpu')}, Linux ${str('machine.kernel')}; ${str('machine.llmnet')}.`,
    '',
  ];
  process.stdout.write([...head, rs, '', '#### Problems seen during the run', '', notes.length ? notes.map((n) => `- ${n}`).join('\n') : '- none.', ''].join('\n'));
  process.exit(0);
}
const w0 = wrkTable(0, CONC);
const w50 = wrkTable(50, CONC);
const w0c1 = wrkTable(0, 1);
const w50c1 = wrkTable(50, 1);
const h2t = h2Table();
const stt = streamTable();
const mt = memTable();
const ck = checks();
const tg = targets();
const tg17 = targets17();
const sct = syscallSection();

const lines = [];
lines.push(`## Results: ${str('machine.date')}`);
lines.push('');
lines.push(
  `Command: \`${S === 10 ? 'make bench' : `BENCH_SECONDS=${S} make bench`}\` ` +
    `(each measurement ${S} s). Machine: ${str('machine.nproc')} cores, ${str('machine.cpu')}, ` +
    `${grp(num('machine.mem_mb'))} MiB RAM, Linux ${str('machine.kernel')}; ` +
    `${str('machine.llmnet')} (${has('llmnet.workers') ? `${R.get('llmnet.workers')} worker threads` : 'one event loop'}, ` +
    `--log-level warn), wrk ${str('machine.wrk')}, h2load ${str('machine.h2load')}, ` +
    `node ${str('machine.node')}, @portkey-ai/gateway ${str('machine.portkey')}. ` +
    `Other processes kept the machine ${str('machine.busy_before')}% busy before the run and ` +
    `${str('machine.busy_after')}% after it (a figure above ~10% makes every number below noisier).`,
);
lines.push('');
lines.push('### Targets (issue 17)');
lines.push('');
lines.push(tg17);
lines.push('');
lines.push(
  `The mock shares llmnet's HTTP server code, so work that makes that code cheaper makes the mock cheaper too: ` +
    `the second row of each CPU target runs llmnet in front of a mock built from ${baseOk ? `the BASE, commit ${baseRev} (${str('base.hash')})` : `the BASE, commit ${baseRev}, which could not be built (${baseWhy()})`}, the commit before issue 17's work.`,
);
lines.push('');
lines.push('### Targets (earlier issues)');
lines.push('');
lines.push(tg);
lines.push('');
lines.push(`### Non-streaming, moderate load: wrk -t1 -c${CONC}, mock latency 0 ms`);
lines.push('');
lines.push(w0);
lines.push('');
lines.push(`### Non-streaming, moderate load: wrk -t1 -c${CONC}, mock latency 50 ms`);
lines.push('');
lines.push(w50);
lines.push('');
lines.push(twoHopNote(50, CONC));
lines.push('');
lines.push('### Non-streaming, low load (added latency): wrk -t1 -c1, mock latency 0 ms');
lines.push('');
lines.push(w0c1);
lines.push('');
lines.push('### Non-streaming, low load: wrk -t1 -c1, mock latency 50 ms');
lines.push('');
lines.push(w50c1);
lines.push('');
lines.push(twoHopNote(50, 1));
lines.push('');
lines.push(`### Throughput: h2load --h1 -c${H2}, mock latency 0 ms`);
lines.push('');
lines.push(h2t);
lines.push('');
lines.push('### Streaming (1-hop; the mock streams 400 one-word chunks)');
lines.push('');
lines.push(stt);
lines.push('');
lines.push(sct);
lines.push('');
lines.push('### Memory');
lines.push('');
lines.push(mt);
lines.push('');
lines.push(ck);
lines.push('');
lines.push(`2-hop route taken: \`${R.get('two.route') || 'unknown'}\` (router call + handler call per request).`);
lines.push('');
if (has('rt.failed')) {
  lines.push(routingSection());
  lines.push('');
}
if (has('dr.failed')) {
  lines.push(doorsSection());
  lines.push('');
}
if (has('ca.failed')) {
  lines.push(cacheSection());
  lines.push('');
}
lines.push('### Problems seen during the run');
lines.push('');
lines.push(notes.length ? notes.map((n) => `- ${n}`).join('\n') : '- none: no errors, non-2xx answers, crashes, warnings or leaked descriptors.');
lines.push('');
process.stdout.write(lines.join('\n'));
