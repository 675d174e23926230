// Installing llmnet the way C programs are installed: `cmake --install` (what
// `make install` runs) into a temporary DESTDIR, then, with that bin directory
// first on PATH, the seed's commands verbatim (validate, graph, explain, run,
// and its curl calls against `llmnet examples/offline-demo.json` on `llmnet
// mock`), a SIGHUP reload, `make uninstall`; the man page and bash completion
// against every --help; and the Debian package (packaging/deb.sh, what `make
// deb` runs): its metadata and files, lintian, an unpack into a throwaway dpkg
// root, and, as root, a real install (the system user, `llmnet --version`,
// `man llmnet`, `systemd-analyze verify`) and a purge that leaves nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { BIN, ROOT, tempDir, waitFor } from './lib.mjs';

const BUILD = path.dirname(path.resolve(BIN));
const PREFIX = '/usr/local';
const dir = tempDir();
const DESTDIR = path.join(dir, 'destdir');
const installed = (p) => path.join(DESTDIR, PREFIX, p);
const SHARE = installed('share/llmnet'); // the seed's commands run here: examples/... are the installed ones
// The seed document, when this checkout has the project's shared/ beside it.
const SEED = path.join(ROOT, '..', 'shared', 'seed', 'openrouter-pipeline.md');

// Runs a shell command line (verbatim, as a user types it) and returns
// { code, stdout, stderr }. PATH has the installed bin directory first.
function sh(line, { cwd = SHARE, env = {}, input } = {}) {
  const r = spawnSync('sh', ['-c', line], {
    cwd,
    env: { ...process.env, PATH: `${installed('bin')}:${process.env.PATH}`, ...env },
    encoding: 'utf8',
    input,
    timeout: 60000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120000, ...opts });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Whether something on this machine accepts connections on 127.0.0.1:PORT.
function portInUse(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port }, () => {
      sock.destroy();
      resolve(true);
    });
    sock.on('error', () => resolve(false));
  });
}

function has(tool) {
  return run('sh', ['-c', `command -v ${tool}`]).code === 0;
}

// Starts a shell command line in the background and resolves once it prints
// "listening on URL".
function startLine(line, env = {}, cwd = SHARE) {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', `exec ${line}`], {
      cwd,
      env: { ...process.env, PATH: `${installed('bin')}:${process.env.PATH}`, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${line} did not start: ${out}${err}`));
    }, 15000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], child, stderr: () => err });
      }
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${line} exited with ${code}: ${out}${err}`));
    });
  });
}

async function stop(proc) {
  if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  const exited = new Promise((r) => proc.child.once('exit', (code) => r(code)));
  proc.child.kill('SIGTERM');
  return exited;
}

// Every --option a help text names.
const optionsIn = (text) => new Set(text.match(/--[a-z][a-z-]*/g) ?? []);

// The option lines of one "NAME options" section of `llmnet --help`.
function helpSection(help, name) {
  const m = help.match(new RegExp(`^${name} options[^\\n]*:\\n((?:  .*\\n?)*)`, 'm'));
  assert.ok(m, `llmnet --help has a "${name} options" section`);
  return m[1];
}

let manifestSaved = null;
before(() => {
  // cmake --install rewrites BUILD/install_manifest.txt: keep a user's own.
  const manifest = path.join(BUILD, 'install_manifest.txt');
  if (existsSync(manifest)) manifestSaved = readFileSync(manifest);
});

after(() => {
  const manifest = path.join(BUILD, 'install_manifest.txt');
  if (manifestSaved) writeFileSync(manifest, manifestSaved);
  else rmSync(manifest, { force: true });
  rmSync(dir, { recursive: true, force: true });
});

describe('make install into a DESTDIR', () => {
  let files;

  before(() => {
    const r = run('cmake', ['--install', BUILD, '--prefix', PREFIX], { env: { ...process.env, DESTDIR } });
    assert.equal(r.code, 0, r.stderr);
    files = readFileSync(path.join(BUILD, 'install_manifest.txt'), 'utf8').split('\n').filter(Boolean);
  });

  test('installs the program, examples, docs, man page, completion, unit and sample under PREFIX', () => {
    for (const f of [
      'bin/llmnet',
      'share/llmnet/examples/openrouter-pipeline.json',
      'share/llmnet/examples/offline-demo.json',
      'share/llmnet/examples/mock-rules.json',
      'share/llmnet/examples/hooks/shout.sh',
      'share/doc/llmnet/README.md',
      'share/doc/llmnet/docs/CONFIG.md',
      'share/man/man1/llmnet.1.gz',
      'share/bash-completion/completions/llmnet',
      'lib/systemd/system/llmnet@.service',
      'etc/llmnet/example.json',
      'etc/llmnet/example.env',
    ]) {
      assert.ok(files.includes(path.join(PREFIX, f)), `${f} is in install_manifest.txt`);
      assert.ok(existsSync(installed(f)), `${f} is installed`);
    }
    assert.ok(statSync(installed('bin/llmnet')).mode & 0o111, 'llmnet is executable');
    assert.ok(statSync(installed('share/llmnet/examples/hooks/shout.sh')).mode & 0o111, 'hook scripts stay executable');
    // every installed file is in the manifest, and nothing else is installed
    const found = run('find', [DESTDIR, '-type', 'f']).stdout.split('\n').filter(Boolean);
    assert.deepEqual(found.map((f) => f.slice(DESTDIR.length)).sort(), [...files].sort());
    // the unit names the installed binary and the prefix's configuration directory
    const unit = readFileSync(installed('lib/systemd/system/llmnet@.service'), 'utf8');
    assert.match(unit, new RegExp(`^ExecStart=${PREFIX}/bin/llmnet run ${PREFIX}/etc/llmnet/%i\\.json$`, 'm'));
  });

  test('llmnet on the PATH is the installed one; --version names the revision and the libraries', () => {
    assert.equal(sh('command -v llmnet').stdout.trim(), installed('bin/llmnet'));
    const r = sh('llmnet --version');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^llmnet \d+\.\d+\.\d+\n/);
    assert.match(r.stdout, /^revision: \S+$/m);
    for (const lib of ['libuv', 'libcurl', 'cJSON']) assert.match(r.stdout, new RegExp(`^${lib}: built with \\d+\\.\\d+\\.\\d+, running \\S+`, 'm'));
    assert.match(r.stdout, /^llhttp: \d+\.\d+\.\d+ \(compiled in\)$/m);
    // in a git checkout, the revision is `git describe` of a commit of it
    // (the one built: HEAD may have moved on since)
    const revision = r.stdout.match(/^revision: (\S+)$/m)[1];
    if (run('git', ['-C', ROOT, 'rev-parse', 'HEAD']).code === 0) {
      assert.notEqual(revision, 'unknown');
      const commit = run('git', ['-C', ROOT, 'rev-parse', '--verify', '--quiet', `${revision.replace(/-dirty$/, '')}^{commit}`]);
      assert.equal(commit.code, 0, `revision ${revision} is a commit of ${ROOT}`);
    }
  });

  test('the seed commands run verbatim: validate, graph, explain, and the pipeline itself', async () => {
    const env = { OPENROUTER_API_KEY_FREE: 'sk-or-v1-dummy-key-for-the-install-test' };
    let r = sh('llmnet validate examples/openrouter-pipeline.json', { env });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /examples\/openrouter-pipeline\.json: valid, 0 errors/);
    r = sh('llmnet graph examples/openrouter-pipeline.json', { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^%% llmnet graph of examples\/openrouter-pipeline\.json\nflowchart LR/);
    for (const node of ['router', 'creative-handler', 'technical-handler']) assert.ok(r.stdout.includes(node), node);
    r = sh('llmnet explain examples/openrouter-pipeline.json "Write a haiku about programming"', { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^route: router > \(the router model's choice\)$/m);
    assert.match(r.stdout, /^\s+\| Write a haiku about programming$/m);

    // The seed's "Run the pipeline" line, with the dummy key: it serves on
    // 127.0.0.1:8080 (--port 0 is added only when 8080 is taken here).
    const seedRun = 'llmnet examples/openrouter-pipeline.json';
    if (existsSync(SEED)) assert.ok(readFileSync(SEED, 'utf8').includes(`\n${seedRun}\n`), `the seed runs "${seedRun}"`);
    let busy = await portInUse(8080);
    let gw;
    try {
      gw = await startLine(busy ? `${seedRun} --port 0` : seedRun, env);
    } catch (e) {
      if (busy || !/in use/i.test(e.message)) throw e;
      busy = true; // taken between the check and the start
      gw = await startLine(`${seedRun} --port 0`, env);
    }
    try {
      if (!busy) assert.equal(gw.url, 'http://127.0.0.1:8080');
      const health = sh(`curl -s ${gw.url}/health`);
      assert.equal(health.code, 0);
      const models = JSON.parse(sh(`curl -s ${gw.url}/v1/models`).stdout);
      assert.ok(models.data.some((m) => m.id === 'creative-handler'), JSON.stringify(models));
    } finally {
      assert.equal(await stop(gw), 0);
    }
  });

  test("the seed's curl calls against llmnet examples/offline-demo.json on llmnet mock, then a SIGHUP reload", async () => {
    // The seed's two requests (its "Testing the Pipeline"), sent by curl as written there.
    const calls = [
      {
        cmd: `curl -X POST http://localhost:8080/v1/chat/completions \\
  -H "Content-Type: application/json" \\
  -d '{"model": "llmnet", "messages": [{"role": "user", "content": "Write a haiku about programming"}]}'`,
        handler: 'creative-handler',
      },
      {
        cmd: `curl -X POST http://localhost:8080/v1/chat/completions \\
  -H "Content-Type: application/json" \\
  -d '{"model": "llmnet", "messages": [{"role": "user", "content": "How do I reverse a linked list in Python?"}]}'`,
        handler: 'technical-handler',
      },
    ];
    if (existsSync(SEED)) {
      const seed = readFileSync(SEED, 'utf8');
      for (const c of calls) assert.ok(seed.includes(c.cmd), `the seed has:\n${c.cmd}`);
    }
    // As README.md and the composition's header say, on ports chosen now.
    const mock = await startLine('llmnet mock --port 0 --rules examples/mock-rules.json');
    let gw;
    try {
      gw = await startLine('llmnet examples/offline-demo.json --port 0', { LLMNET_MOCK_URL: mock.url });
      for (const { cmd, handler } of calls) {
        const r = sh(`${cmd.replace('http://localhost:8080', gw.url)} -s -D headers.txt`, { cwd: dir });
        assert.equal(r.code, 0, r.stderr);
        const body = JSON.parse(r.stdout);
        assert.equal(body.object, 'chat.completion');
        assert.equal(body.llmnet.route, `router>${handler}`);
        assert.ok(body.choices[0].message.content.length > 0);
        assert.match(readFileSync(path.join(dir, 'headers.txt'), 'utf8'), new RegExp(`^x-llmnet-route: router>${handler}\\r?$`, 'mi'));
      }
      // systemctl reload llmnet@NAME sends SIGHUP (the unit's ExecReload): llmnet reloads
      gw.child.kill('SIGHUP');
      await waitFor(() => /reloaded .*offline-demo\.json \(SIGHUP\)/.test(gw.stderr()), { what: 'the SIGHUP reload' });
      const again = JSON.parse(sh(`${calls[0].cmd.replace('http://localhost:8080', gw.url)} -s`).stdout);
      assert.equal(again.object, 'chat.completion');
    } finally {
      if (gw) assert.equal(await stop(gw), 0);
      await stop(mock);
    }
  });

  test('the revision is "unknown" outside a git checkout, and a packager can set it', () => {
    const src = path.join(dir, 'unpacked-sources'); // in /tmp: no repository above it
    mkdirSync(src);
    const header = path.join(src, 'build_info.h');
    const script = path.join(ROOT, 'cmake/build_info.cmake');
    assert.equal(run('cmake', [`-DSOURCE_DIR=${src}`, `-DOUTPUT=${header}`, '-P', script]).code, 0);
    assert.match(readFileSync(header, 'utf8'), /^#define LLN_GIT_REVISION "unknown"$/m);
    assert.equal(run('cmake', [`-DSOURCE_DIR=${src}`, `-DOUTPUT=${header}`, '-DLLN_GIT_REVISION=debian-1.2', '-P', script]).code, 0);
    assert.match(readFileSync(header, 'utf8'), /^#define LLN_GIT_REVISION "debian-1\.2"$/m);
  });

  test('the sample /etc composition validates with the installed llmnet', () => {
    const r = sh(`llmnet validate ${installed('etc/llmnet/example.json')}`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /valid, 0 errors/);
  });

  test('make uninstall removes exactly what was installed', () => {
    // a file of someone else's in a shared directory stays
    const other = installed('bin/other-program');
    writeFileSync(other, '#!/bin/sh\n');
    const r = run('make', ['-s', '-C', ROOT, 'uninstall', `BUILD=${BUILD}`, `DESTDIR=${DESTDIR}`]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const f of files) assert.ok(!existsSync(path.join(DESTDIR, f)), `${f} was removed`);
    assert.ok(existsSync(other), 'a file llmnet did not install stays');
    for (const d of ['share/llmnet', 'share/doc/llmnet', 'etc/llmnet']) assert.ok(!existsSync(installed(d)), `${d} was removed`);
    rmSync(other);
    assert.deepEqual(run('find', [DESTDIR, '-type', 'f']).stdout, '');
  });
});

describe('the man page and bash completion are true to --help', () => {
  const roff = readFileSync(path.join(ROOT, 'packaging/llmnet.1'), 'utf8');
  const man = roff.replace(/\\-/g, '-');
  const help = run(BIN, ['--help']).stdout;
  const mockHelp = run(BIN, ['mock', '--help']).stdout;
  const evalHelp = run(BIN, ['eval', '--help']).stdout;

  test('every command and option of every --help is in llmnet(1), and it names no other option', () => {
    const between = (from, to) => man.slice(man.indexOf(from), man.indexOf(to, man.indexOf(from) + 1));
    const commands = between('.SH COMMANDS\n', '\n.SH ');
    for (const cmd of ['run', 'validate', 'graph', 'explain', 'eval', 'mock']) {
      assert.match(commands, new RegExp(`^\\.[BIR]+ \\[? ?"?${cmd}\\b`, "m"), `COMMANDS describes ${cmd}`);
      assert.match(between('.SH SYNOPSIS\n', '\n.SH '), new RegExp(`\\b${cmd}\\b`), `SYNOPSIS shows ${cmd}`);
    }
    const all = new Set([...optionsIn(help), ...optionsIn(mockHelp), ...optionsIn(evalHelp)]);
    for (const opt of all) assert.ok(man.includes(opt), `llmnet(1) documents ${opt}`);
    const listed = new Set([...optionsIn(between('.SH SYNOPSIS\n', '\n.SH ')), ...optionsIn(between('.SH OPTIONS\n', '\n.SH '))]);
    for (const opt of listed) assert.ok(all.has(opt), `${opt} in llmnet(1) is an option of some --help`);
    // each command's section lists that command's options
    const section = (name) => between(`.SS ${name}\n`, '\n.S');
    for (const name of ['run', 'validate', 'graph', 'explain']) {
      for (const opt of optionsIn(helpSection(help, name))) assert.ok(section(name).includes(opt), `${name}: ${opt}`);
    }
    for (const opt of optionsIn(mockHelp)) assert.ok(section('mock').includes(opt), `mock: ${opt}`);
    for (const opt of optionsIn(evalHelp)) assert.ok(section('eval').includes(opt), `eval: ${opt}`);
    const version = run(BIN, ['--version']).stdout.match(/^llmnet (\S+)/)[1];
    assert.match(roff, new RegExp(`^\\.TH LLMNET 1 "[^"]+" "llmnet ${version.replace(/\./g, '\\.')}"`, 'm'), 'the page names this version');
  });

  test('man renders it without warnings', (t) => {
    if (!has('man')) return t.skip('man (man-db) is not installed here');
    const r = run('man', ['--warnings', '-l', path.join(ROOT, 'packaging/llmnet.1')], { env: { ...process.env, MANWIDTH: '80', MANPAGER: 'cat', PAGER: 'cat' } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^NAME\n\s+llmnet\s+- /m);
  });

  test('bash completion offers every command and each command its options', () => {
    const complete = (line) => {
      const words = line.split(' ');
      const script = `source ${path.join(ROOT, 'packaging/llmnet.bash-completion')}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; COMP_LINE='${line}'; COMP_POINT=${line.length}
_llmnet; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const r = run('bash', ['--norc', '-c', script], { cwd: path.join(ROOT, 'examples') });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.split('\n').filter(Boolean);
    };
    assert.deepEqual(complete('llmnet va'), ['validate']);
    for (const cmd of ['run', 'validate', 'graph', 'explain', 'eval', 'mock']) assert.ok(complete('llmnet ').includes(cmd), cmd);
    const expected = {
      run: helpSection(help, 'run'),
      validate: helpSection(help, 'validate'),
      graph: helpSection(help, 'graph'),
      explain: helpSection(help, 'explain'),
      eval: evalHelp,
      mock: mockHelp,
    };
    for (const [cmd, text] of Object.entries(expected)) {
      const offered = new Set(complete(`llmnet ${cmd} --`));
      for (const opt of optionsIn(text)) assert.ok(offered.has(opt), `llmnet ${cmd} -- offers ${opt}`);
    }
    assert.deepEqual(complete('llmnet graph x.json --format '), ['mermaid', 'dot', 'svg']);
    assert.ok(complete('llmnet validate open').includes('openrouter-pipeline.json'));
    assert.ok(complete('llmnet eval openrouter-pipeline.json open').includes('openrouter-pipeline.cases.jsonl'));
  });
});

describe('the Debian package', () => {
  const out = path.join(dir, 'deb');
  let deb;
  let contents;

  before(() => {
    mkdirSync(out);
    const r = run(path.join(ROOT, 'packaging/deb.sh'), [BUILD, out]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    deb = r.stdout.trim().split('\n').pop();
    contents = run('dpkg-deb', ['-c', deb]).stdout;
  });

  test('is llmnet_<version>_<arch>.deb with Depends computed from the binary', () => {
    const version = run(BIN, ['--version']).stdout.match(/^llmnet (\S+)/)[1];
    const arch = run('dpkg', ['--print-architecture']).stdout.trim();
    assert.equal(path.basename(deb), `llmnet_${version}_${arch}.deb`);
    const field = (f) => run('dpkg-deb', ['-f', deb, f]).stdout.trim();
    assert.equal(field('Package'), 'llmnet');
    assert.equal(field('Version'), version);
    const depends = field('Depends');
    for (const lib of ['libc6', 'libuv1', 'libcurl4', 'libcjson1', 'libhiredis', 'libwebsockets', 'adduser']) assert.ok(depends.includes(lib), `Depends: ${depends} has ${lib}`);
    assert.match(depends, /libuv1 \(>= [\d.]+\)/);
  });

  test('holds the program, man page, docs, examples, unit and /etc sample (conffiles)', () => {
    for (const f of [
      './usr/bin/llmnet',
      './usr/share/man/man1/llmnet.1.gz',
      './usr/share/doc/llmnet/copyright',
      './usr/share/doc/llmnet/changelog.gz',
      './usr/share/doc/llmnet/README.md',
      './usr/share/llmnet/examples/openrouter-pipeline.json',
      './usr/share/llmnet/examples/mock-rules.json',
      './usr/share/bash-completion/completions/llmnet',
      './lib/systemd/system/llmnet@.service',
      './etc/llmnet/example.json',
      './etc/llmnet/example.env',
    ]) assert.match(contents, new RegExp(` root/root .* ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), f);
    const control = path.join(dir, 'control');
    assert.equal(run('dpkg-deb', ['-e', deb, control]).code, 0);
    assert.equal(readFileSync(path.join(control, 'conffiles'), 'utf8'), '/etc/llmnet/example.env\n/etc/llmnet/example.json\n');
    assert.match(readFileSync(path.join(control, 'postinst'), 'utf8'), /adduser --system/);
    assert.match(readFileSync(path.join(control, 'postrm'), 'utf8'), /purge[\s\S]*deluser --system/);
  });

  test('its unit: one instance per /etc/llmnet/NAME.json, hardened, reloaded by SIGHUP', () => {
    const x = path.join(dir, 'x');
    assert.equal(run('dpkg-deb', ['-x', deb, x]).code, 0);
    const unit = readFileSync(path.join(x, 'lib/systemd/system/llmnet@.service'), 'utf8');
    for (const line of [
      'ExecStart=/usr/bin/llmnet run /etc/llmnet/%i.json',
      'EnvironmentFile=-/etc/llmnet/%i.env',
      'Restart=on-failure',
      'ExecReload=/bin/kill -HUP $MAINPID',
      'User=llmnet',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'WantedBy=multi-user.target',
    ]) assert.ok(unit.split('\n').includes(line), line);
    // stripped: no symbol table, no debug information
    const sections = run('readelf', ['-S', '-W', path.join(x, 'usr/bin/llmnet')]).stdout;
    assert.match(sections, /\.text/);
    assert.doesNotMatch(sections, /\.symtab|\.debug_info/);
  });

  test('lintian finds no error', (t) => {
    if (!has('lintian')) {
      assert.ok(!process.env.CI, 'CI installs lintian (scripts/deps.sh)');
      return t.skip('lintian is not installed here (make deps installs it)');
    }
    const r = run('lintian', ['--pedantic', '--display-info', deb]);
    const tags = r.stdout.split('\n').filter(Boolean);
    for (const tag of tags) t.diagnostic(tag);
    assert.deepEqual(tags.filter((l) => l.startsWith('E:')), []);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  test('unpacks into a throwaway dpkg root: files, conffiles, a working llmnet and man page', () => {
    const root = path.join(dir, 'root');
    mkdirSync(path.join(root, 'var/lib/dpkg/info'), { recursive: true });
    mkdirSync(path.join(root, 'var/lib/dpkg/updates'));
    writeFileSync(path.join(root, 'var/lib/dpkg/status'), '');
    // --unpack runs no maintainer script (they would run chrooted in a root
    // with no shell): the user is checked by the install on the machine below
    const r = run('dpkg', [`--root=${root}`, '--force-depends', '--force-not-root', '--unpack', deb]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const q = run('dpkg-query', [`--admindir=${root}/var/lib/dpkg`, '-W', '-f', '${Status}\n${Conffiles}\n', 'llmnet']);
    assert.match(q.stdout, /^install ok unpacked\n \/etc\/llmnet\/example\.env newconffile\n \/etc\/llmnet\/example\.json newconffile/);
    const v = run(path.join(root, 'usr/bin/llmnet'), ['--version']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^llmnet \d+\.\d+\.\d+\nrevision: /);
    // conffiles wait as .dpkg-new until the package is configured
    const valid = run(path.join(root, 'usr/bin/llmnet'), ['validate', path.join(root, 'etc/llmnet/example.json.dpkg-new')]);
    assert.equal(valid.code, 0, valid.stdout);
    if (has('man')) {
      const m = run('man', ['-l', path.join(root, 'usr/share/man/man1/llmnet.1.gz')], { env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat' } });
      assert.equal(m.code, 0, m.stderr);
      assert.match(m.stdout, /llmnet\s+- an OpenAI-compatible gateway/);
    }
  });

  test('installs on this machine (as root), runs, and purges without a trace', async (t) => {
    if (process.getuid() !== 0) return t.skip('not root: dpkg -i needs root (CI runs as root on a throwaway machine)');
    if (run('dpkg-query', ['-W', '-f', '${Status}', 'llmnet']).stdout.includes('installed')) {
      assert.ok(!process.env.CI, 'a fresh CI machine has no llmnet package');
      return t.skip('a package llmnet is already installed on this machine: it is left alone');
    }
    assert.notEqual(run('getent', ['passwd', 'llmnet']).code, 0, 'no user llmnet before the install');
    const installedFiles = contents
      .split('\n')
      .filter((l) => l.startsWith('-'))
      .map((l) => l.slice(l.indexOf('./') + 1));
    try {
      const r = run('dpkg', ['-i', deb]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const user = run('getent', ['passwd', 'llmnet']).stdout.split(':');
      assert.equal(user[0], 'llmnet');
      assert.ok(Number(user[2]) < 1000, `llmnet is a system user (uid ${user[2]})`);
      assert.match(user[6], /nologin/);
      const v = run('/usr/bin/llmnet', ['--version']);
      assert.equal(v.code, 0);
      assert.match(v.stdout, /^llmnet \d+\.\d+\.\d+\n/);
      if (has('man')) {
        const m = run('man', ['llmnet'], { env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '80' } });
        assert.equal(m.code, 0, m.stderr);
        assert.match(m.stdout, /^NAME\n\s+llmnet\s+- /m);
        assert.match(m.stdout, /llmnet@NAME/);
      } else t.diagnostic('man is not installed: man llmnet not checked');
      if (has('systemd-analyze')) {
        const s = run('systemd-analyze', ['verify', '/lib/systemd/system/llmnet@.service']);
        assert.equal(s.code, 0, s.stdout + s.stderr);
        assert.equal(s.stderr.trim(), '', s.stderr);
      } else t.diagnostic('systemd-analyze is not installed (package systemd): the unit was not verified');
      // the unit's ExecStart for llmnet@example, as its user without new privileges
      // (User=, NoNewPrivileges=), on a port chosen now
      const unit = readFileSync('/lib/systemd/system/llmnet@.service', 'utf8');
      const execStart = unit.match(/^ExecStart=(.*)$/m)[1].replace(/%i/g, 'example');
      assert.equal(execStart, '/usr/bin/llmnet run /etc/llmnet/example.json');
      const svc = await startLine(`setpriv --reuid=llmnet --regid=llmnet --init-groups --no-new-privs -- ${execStart} --port 0`, { OPENROUTER_API_KEY_FREE: 'sk-or-v1-dummy' }, '/');
      try {
        const uid = readFileSync(`/proc/${svc.child.pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)[1];
        assert.equal(uid, user[2], 'it runs as the user llmnet');
        assert.equal(run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `${svc.url}/health`]).stdout, '200');
      } finally {
        assert.equal(await stop(svc), 0);
      }
    } finally {
      const p = run('dpkg', ['--purge', 'llmnet']);
      assert.equal(p.code, 0, p.stdout + p.stderr);
    }
    assert.doesNotMatch(run('dpkg-query', ['-W', '-f', '${Status}', 'llmnet']).stdout, /installed/);
    for (const f of installedFiles) assert.ok(!existsSync(f), `${f} is gone`);
    for (const d of ['/etc/llmnet', '/usr/share/llmnet', '/usr/share/doc/llmnet']) assert.ok(!existsSync(d), `${d} is gone`);
    assert.notEqual(run('getent', ['passwd', 'llmnet']).code, 0, 'the user llmnet is gone');
    assert.notEqual(run('getent', ['group', 'llmnet']).code, 0, 'the group llmnet is gone');
  });
});
