// wp-bench: issue 17's figures in `make bench`. bench/syscalls.sh counts the
// system calls of the real llmnet 1-hop and of the real `llmnet mock` under
// strace (both installed by `scripts/deps.sh test`; a machine where they
// are missing or ptrace is not allowed fails this test with the reason); bench/report.mjs turns a results file into the "Targets
// (issue 17)" table: met / not met from the figures, "not measured" with
// the reason when strace, valgrind or the BASE build was unavailable.
// Counts and table contents only: no timing is asserted.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { BIN, ROOT, runCommand, tempDir } from './lib.mjs';

const has = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

const run = runCommand;
const lines = (text) => new Map(text.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]));

test('bench/syscalls.sh: every proxied request is counted, its reads and writes among the calls', async () => {
  assert.ok(has('strace') && has('h2load'), 'strace and h2load are needed: scripts/deps.sh test installs them');
  const N = 200;
  const r = await run('bash', [path.join(ROOT, 'bench/syscalls.sh')], {
    env: { ...process.env, LLMNET_BIN: BIN, BENCH_SYSCALL_REQUESTS: String(N) },
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const R = lines(r.stdout);
  assert.ok(!R.has('sc.unavailable'), `strace cannot trace here: ${R.get('sc.unavailable')}`);
  for (const who of ['llmnet', 'mock'])
    for (const c of [1, 16]) {
      const k = `sc.${who}.c${c}`;
      assert.equal(Number(R.get(`${k}.requests`)), N, `${k}: ${r.stdout}`);
      const table = JSON.parse(R.get(`${k}.table`));
      const total = Number(R.get(`${k}.total`));
      const sum = Object.values(table).reduce((a, [calls]) => a + calls, 0);
      assert.equal(sum, total, `${k}: the rows add up to the total`);
      // each answer is written to the client; each request read from it
      assert.ok(table.writev && table.writev[0] >= N, `${k}: writev ${JSON.stringify(table)}`);
      assert.ok(table.read && table.read[0] >= N, `${k}: read ${JSON.stringify(table)}`);
    }
  // llmnet also sends each request upstream and reads the answer: more calls than the mock
  assert.ok(Number(R.get('sc.llmnet.c1.total')) > Number(R.get('sc.mock.c1.total')), r.stdout);
});

// the figures of a run, as bench/run.sh writes them
function results(extra) {
  const base = {
    'bench.seconds': 2,
    'bench.conc': 16,
    'bench.held_streams': 1000,
    'bench.idle_conns': 10000,
    'mem.idle_kb': 9 * 1024,
    'mem.first_kb': 9.5 * 1024,
    'mem.idle2_kb': 9 * 1024,
    'mem.streams_kb': 9 * 1024 + 40000,
    'streams.ready': 1000,
    'st.ttfb.direct': JSON.stringify({ p50_us: 100, p99_us: 200, streams: 10, errors: 0 }),
    'st.ttfb.one': JSON.stringify({ p50_us: 300, p99_us: 400, streams: 10, errors: 0 }),
    'st.relay.direct': JSON.stringify({ chunks_per_s: 1000, chunks: 1000, streams: 2, errors: 0 }),
    'st.relay.one': JSON.stringify({ chunks_per_s: 800, chunks: 1000, streams: 2, errors: 0 }),
    'st.relay.one.gw_cpu_ns': 3000000,
    'st.relay.one.mock_cpu_ns': 2000000,
  };
  for (const [lat, gw, mock] of [
    [0, 60000000, 30000000],
    [50, 30000000, 10000000],
  ]) {
    const k = `ns.${lat}.c16.one`;
    Object.assign(base, {
      [`${k}.requests`]: 1000,
      [`${k}.duration_us`]: 1000000,
      [`${k}.p50_us`]: 100,
      [`${k}.p99_us`]: 200,
      [`${k}.gw_served`]: 1000,
      [`${k}.gw_cpu_ns`]: gw,
      [`${k}.mock_calls`]: 1000,
      [`${k}.mock_cpu_ns`]: mock,
    });
  }
  const all = { ...base, ...extra };
  const dir = tempDir();
  const file = path.join(dir, 'results');
  fs.writeFileSync(file, Object.entries(all).map(([k, v]) => `${k} ${v}`).join('\n') + '\n');
  return file;
}
async function targets(extra) {
  const r = await run(process.execPath, [path.join(ROOT, 'bench/report.mjs'), results(extra)]);
  assert.equal(r.code, 0, r.stderr);
  const at = r.stdout.indexOf('### Targets (issue 17)');
  assert.ok(at >= 0, r.stdout);
  const section = r.stdout.slice(at, r.stdout.indexOf('### Targets (earlier issues)'));
  const row = (start) => {
    const l = section.split('\n').find((x) => x.startsWith(`| ${start}`));
    assert.ok(l, `no row "${start}" in:\n${section}`);
    return l;
  };
  return { row, section, report: r.stdout };
}

test('bench/report.mjs: the issue 17 targets, each met or not from the run\'s figures', async () => {
  const table = JSON.stringify({ read: [2000, 0], writev: [2000, 0], poll: [4000, 0], sendto: [2000, 0] });
  const { row, report } = await targets({
    'base.ok': 1,
    'base.rev': 'bd81caa',
    'base.hash': 'bd81caa88f31',
    'sc.llmnet.c1.requests': 2000,
    'sc.llmnet.c1.total': 14000,
    'sc.llmnet.c1.table': table,
    'sc.llmnet.c16.requests': 2000,
    'sc.llmnet.c16.total': 20000,
    'sc.llmnet.c16.table': table,
    'sc.mock.c1.requests': 2000,
    'sc.mock.c1.total': 6000,
    'sc.mock.c1.table': JSON.stringify({ read: [2000, 0], writev: [2000, 0], epoll_wait: [2000, 0] }),
    'cg.mode': 1,
    'cg.rounds': 1,
    'cg.one.r1': 150000,
    'cg.base.one.r1': 200000,
  });
  assert.match(row('CPU per 1-hop request ≤ 2.5×'), /60\.0 µs ÷ 30\.0 µs = 2\.00× \| \*\*met\*\*/);
  assert.match(row('CPU per 1-hop request ≤ 2×'), /30\.0 µs ÷ 10\.0 µs = 3\.00× \| \*\*not met\*\*/);
  assert.match(row('streaming CPU per relayed chunk'), /1\.50× \| \*\*met\*\*/);
  assert.match(row('relay rate'), /0\.80× \| \*\*met\*\*/);
  assert.match(row('added time to first byte'), /\+200 µs \| \*\*not met\*\*/);
  assert.match(row('system calls per proxied request ≤ 8 (strace -c, h2load -c1)'), /7\.00 \(the mock: 3\.00 per call\) \| \*\*met\*\*/);
  assert.match(row('system calls per proxied request ≤ 8 (strace -c, h2load -c16)'), /10\.00 .*\| \*\*not met\*\*/);
  assert.match(row('idle RSS'), /9\.0 MiB; after the first proxied request 9\.5 MiB \| \*\*met\*\*/);
  assert.match(row('memory per open stream'), /40\.0 KiB \| reported/);
  assert.match(row('instructions per 1-hop request'), /150,000 vs 200,000 at the BASE = 0\.75× \| reported/);
  // the per-syscall table beside the targets
  assert.match(report, /\| `poll` \| 2\.00 \| 2\.00 \| 0 \| n\/a \|/);
});

test('bench/report.mjs: without strace, valgrind or the BASE build the targets say so', async () => {
  const { row, report } = await targets({
    'base.ok': 0,
    'base.rev': 'bd81caa',
    'base.error': '/x/y is not a git checkout',
    'sc.unavailable': 'strace_is_not_installed',
    'cg.mode': 1,
    'cg.unavailable': 'valgrind_is_not_installed',
  });
  assert.match(row('… against the BASE mock, its own run (mock 0 ms'), /not built: \/x\/y is not a git checkout \| not measured/);
  assert.match(row('system calls per proxied request ≤ 8 (strace -c, h2load -c1)'), /strace is not installed \| not measured/);
  assert.match(row('instructions per 1-hop request'), /valgrind is not installed \| not measured/);
  assert.match(report, /System calls per request[^\n]*\n\nNot measured: strace is not installed\./);
});
