// deploy/kubernetes: renders the kustomize base (gateway + Redis), the seed
// pipeline's overlay and the external-Redis overlay with `kubectl kustomize` (offline; no cluster runs here), checks
// every object against the Kubernetes schemas with kubernetes-models, and
// asserts what matters for replicas: probes on /ready and /health at the
// port llmnet listens on, a termination grace period longer than preStop +
// drain-delay + shutdown-grace, a locked-down non-root container, and a
// composition in the ConfigMap that the real `llmnet validate` accepts with
// only the variables the pod gets.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { BIN, ROOT } from './lib.mjs';

const KUBECTL = process.env.KUBECTL ?? 'kubectl';
const KUBE_DIR = path.join(ROOT, 'deploy/kubernetes');
const MAX_RENDER_BYTES = 4 * 1024 * 1024;

// The rendered objects of one kustomization directory.
function render(dir) {
  const r = spawnSync(KUBECTL, ['kustomize', dir], { encoding: 'utf8', maxBuffer: MAX_RENDER_BYTES });
  assert.ifError(r.error && new Error(`${KUBECTL} not runnable (${r.error.message}): run scripts/deps.sh test`));
  assert.equal(r.status, 0, `kubectl kustomize ${dir} failed:\n${r.stderr}`);
  const docs = parseAllDocuments(r.stdout);
  for (const d of docs) assert.equal(d.errors.length, 0, `${dir}: ${d.errors.join('; ')}`);
  const objects = docs.map((d) => d.toJSON()).filter((o) => o !== null);
  // kubectl 1.20's kustomize renders an object deleted by a patch as `{}`.
  for (const o of objects) assert.ok(o.apiVersion && o.kind && o.metadata?.name, `${dir}: an object without kind or name`);
  return objects;
}

// kubernetes-models' module for an apiVersion: "v1" (core) or "group/version".
async function modelClass(obj) {
  const mod = await import(`kubernetes-models/${obj.apiVersion}`);
  const cls = mod[obj.kind];
  assert.ok(cls, `kubernetes-models has no ${obj.apiVersion} ${obj.kind}`);
  return cls;
}

async function validateAll(objects) {
  for (const obj of objects) {
    const Cls = await modelClass(obj);
    const what = `${obj.kind} ${obj.metadata?.name}`;
    try {
      new Cls(obj).validate();
    } catch (e) {
      assert.fail(`${what} does not pass the Kubernetes schema: ${e.message}`);
    }
  }
}

function one(objects, kind, name) {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `expected one ${kind} ${name ?? ''}, got ${found.length}`);
  return found[0];
}

// The value after `flag` in a container's args.
function argValue(args, flag) {
  const i = args.indexOf(flag);
  assert.ok(i >= 0 && i + 1 < args.length, `args lack ${flag}: ${args.join(' ')}`);
  return args[i + 1];
}

// A probe's or Service's port, by name or number, as the container's number.
function portNumber(container, port) {
  if (typeof port === 'number') return port;
  const p = (container.ports ?? []).find((x) => x.name === port);
  assert.ok(p, `container ${container.name} has no port named ${port}`);
  return p.containerPort;
}

// The gateway pod's environment: its env values and its Secret's data.
function podEnv(container, secret) {
  const env = {};
  for (const e of container.env ?? []) env[e.name] = e.value;
  for (const [k, v] of Object.entries(secret.data ?? {})) env[k] = Buffer.from(v, 'base64').toString();
  for (const [k, v] of Object.entries(secret.stringData ?? {})) env[k] = v;
  return env;
}

// Runs the real `llmnet validate --format json` on `composition` with only
// `env` (and PATH) in its environment.
function llmnetValidate(composition, env) {
  const dir = mkdtempSync(path.join(tmpdir(), 'llmnet-kube-'));
  const file = path.join(dir, 'llmnet.json');
  writeFileSync(file, composition);
  const r = spawnSync(BIN, ['validate', '--format', 'json', file], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
  });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(r.status, 0, `llmnet validate refused the ConfigMap's composition:\n${r.stdout}${r.stderr}`);
  const report = JSON.parse(r.stdout);
  assert.equal(report.errors, 0, r.stdout);
  return report;
}

// Everything a deployment of llmnet must hold, base or overlay.
async function checkDeployment(dir) {
  const objects = render(dir);
  await validateAll(objects);

  const deploy = one(objects, 'Deployment', 'llmnet');
  const redis = one(objects, 'Deployment', 'llmnet-redis');
  const service = one(objects, 'Service', 'llmnet');
  const redisService = one(objects, 'Service', 'llmnet-redis');
  const configMap = one(objects, 'ConfigMap');
  const secret = one(objects, 'Secret');
  const hpa = one(objects, 'HorizontalPodAutoscaler');
  const pdb = one(objects, 'PodDisruptionBudget');
  assert.equal(hpa.apiVersion, 'autoscaling/v2');
  assert.equal(pdb.apiVersion, 'policy/v1');

  const pod = deploy.spec.template.spec;
  const c = pod.containers.find((x) => x.name === 'llmnet');
  assert.ok(c, 'the Deployment has no container named llmnet');
  assert.equal(deploy.spec.replicas, 2);
  assert.match(c.image, /(^|\/)llmnet:/);

  // Where llmnet listens: every interface, the port the probes and the Service use.
  assert.equal(argValue(c.args, '--bind-addr'), '0.0.0.0');
  const port = Number(argValue(c.args, '--port'));
  assert.equal(portNumber(c, 'http'), port);
  assert.equal(c.readinessProbe.httpGet.path, '/ready');
  assert.equal(portNumber(c, c.readinessProbe.httpGet.port), port);
  assert.equal(c.livenessProbe.httpGet.path, '/health');
  assert.equal(portNumber(c, c.livenessProbe.httpGet.port), port);
  assert.equal(portNumber(c, service.spec.ports[0].targetPort), port);
  assert.deepEqual(service.spec.selector, deploy.spec.selector.matchLabels);
  assert.deepEqual(pdb.spec.selector.matchLabels, deploy.spec.selector.matchLabels);
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'llmnet' });
  assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas >= hpa.spec.minReplicas);

  // The composition: the generated ConfigMap, mounted where the image reads it.
  const mount = c.volumeMounts.find((m) => m.mountPath === '/etc/llmnet');
  assert.ok(mount, 'the composition is not mounted at /etc/llmnet');
  const volume = pod.volumes.find((v) => v.name === mount.name);
  assert.equal(volume.configMap.name, configMap.metadata.name);
  assert.equal(argValue(c.args, 'run'), '/etc/llmnet/llmnet.json');
  const text = configMap.data['llmnet.json'];
  assert.ok(text, 'the ConfigMap holds no llmnet.json');
  const composition = JSON.parse(text);
  assert.deepEqual(
    c.envFrom.map((e) => e.secretRef.name),
    [secret.metadata.name],
  );

  // Shutdown: preStop, then drain-delay with /ready 503, then shutdown-grace.
  const server = composition.server;
  assert.ok(typeof server['shutdown-grace'] === 'number' && typeof server['drain-delay'] === 'number');
  assert.ok(server['drain-delay'] > 0, 'drain-delay 0 closes the listener before the Service stops sending');
  const preStop = c.lifecycle.preStop.exec.command;
  assert.equal(preStop[0], 'sleep');
  const needed = Number(preStop[1]) + server['drain-delay'] + server['shutdown-grace'];
  assert.ok(
    pod.terminationGracePeriodSeconds > needed,
    `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} must exceed preStop + drain-delay + shutdown-grace = ${needed}`,
  );

  // The store: "$LLMNET_STORE" in the composition, the Redis Service in the pod.
  assert.equal(server.store, '$LLMNET_STORE');
  const env = podEnv(c, secret);
  const redisPort = redisService.spec.ports[0].port;
  assert.match(env.LLMNET_STORE, new RegExp(`^redis://llmnet-redis:${redisPort}(/\\d+)?$`));
  assert.equal(portNumber(redis.spec.template.spec.containers[0], redisService.spec.ports[0].targetPort), redisPort);

  // Locked down, with requests and limits, every container of every pod.
  for (const d of [deploy, redis]) {
    const spec = d.spec.template.spec;
    assert.equal(spec.securityContext.runAsNonRoot, true, `${d.metadata.name}: runAsNonRoot`);
    assert.ok(spec.securityContext.runAsUser > 0, `${d.metadata.name}: runAsUser`);
    assert.equal(spec.automountServiceAccountToken, false);
    for (const k of spec.containers) {
      const sc = k.securityContext;
      assert.equal(sc.readOnlyRootFilesystem, true, `${k.name}: readOnlyRootFilesystem`);
      assert.equal(sc.allowPrivilegeEscalation, false, `${k.name}: allowPrivilegeEscalation`);
      assert.deepEqual(sc.capabilities.drop, ['ALL'], `${k.name}: capabilities`);
      for (const r of ['cpu', 'memory']) {
        assert.ok(k.resources.requests[r] && k.resources.limits[r], `${k.name}: ${r} request and limit`);
      }
    }
  }

  // Placeholders only: no key is committed.
  for (const [k, v] of Object.entries(secret.data)) {
    const value = Buffer.from(v, 'base64').toString();
    if (/KEY/.test(k)) assert.equal(value, 'replace-me', `${k} in the Secret must stay a placeholder`);
  }

  // The real binary accepts the composition with only the pod's variables:
  // no error, and no variable it uses is missing.
  const report = llmnetValidate(text, env);
  const unset = report.diagnostics.filter((d) => /is not set/.test(d.message));
  assert.deepEqual(unset, [], 'the pod does not set every variable the composition uses');
  return { objects, composition };
}

test('the base renders, every object passes the Kubernetes schemas, and replicas drain', async () => {
  const { objects } = await checkDeployment(path.join(KUBE_DIR, 'base'));
  assert.equal(one(objects, 'Deployment', 'llmnet').spec.template.spec.containers[0].image, 'llmnet:latest');
});

test('the openrouter overlay serves the seed pipeline in its own namespace', async () => {
  const { objects, composition } = await checkDeployment(path.join(KUBE_DIR, 'overlays/openrouter'));
  const seed = JSON.parse(readFileSync(path.join(ROOT, 'examples/openrouter-pipeline.json'), 'utf8'));
  const { server, ...pipeline } = composition;
  assert.ok(server);
  assert.deepEqual(pipeline, seed, 'the overlay\'s llmnet.json drifted from examples/openrouter-pipeline.json');
  assert.equal(one(objects, 'Namespace').metadata.name, 'llmnet');
  for (const o of objects.filter((x) => x.kind !== 'Namespace')) {
    assert.equal(o.metadata.namespace, 'llmnet', `${o.kind} ${o.metadata.name} is outside the namespace`);
  }
  assert.equal(one(objects, 'HorizontalPodAutoscaler').spec.maxReplicas, 4);
});

test('the external-redis overlay has no Redis pod and reads the store URL from a Secret', async () => {
  const objects = render(path.join(KUBE_DIR, 'overlays/external-redis'));
  await validateAll(objects);
  assert.deepEqual(
    objects.filter((o) => o.metadata.name === 'llmnet-redis'),
    [],
    'the base\'s Redis is still there',
  );
  const c = one(objects, 'Deployment', 'llmnet').spec.template.spec.containers[0];
  const store = c.env.find((e) => e.name === 'LLMNET_STORE');
  assert.equal(store.value, undefined);
  const secret = one(objects, 'Secret', store.valueFrom.secretKeyRef.name);
  const url = Buffer.from(secret.data[store.valueFrom.secretKeyRef.key], 'base64').toString();
  assert.match(url, /^redis:\/\/[^/]+:\d+(\/\d+)?$/);
  const keys = one(objects, 'Secret', c.envFrom[0].secretRef.name);
  const text = one(objects, 'ConfigMap').data['llmnet.json'];
  const report = llmnetValidate(text, { ...podEnv({}, keys), LLMNET_STORE: url });
  assert.deepEqual(report.diagnostics.filter((d) => /is not set/.test(d.message)), []);
});

test('the schema check is real: a wrong field type is refused', async () => {
  const [deploy] = render(path.join(KUBE_DIR, 'base')).filter((o) => o.kind === 'Deployment');
  const Cls = await modelClass(deploy);
  const bad = structuredClone(deploy);
  bad.spec.replicas = 'two';
  assert.throws(() => new Cls(bad).validate(), /replicas/);
  const missing = structuredClone(deploy);
  delete missing.spec.selector;
  assert.throws(() => new Cls(missing).validate(), /selector/);
});
