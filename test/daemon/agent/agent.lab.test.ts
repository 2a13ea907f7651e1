/**
 * The agent against the real Docker engine: pods run as labelled containers, probes, OOM,
 * crash-loop backoff, ConfigMap/Secret env and tmpfs files, adoption by a second agent instance
 * and cleanup on deletion, orphans of a repaired or shortened desired state. Every container
 * carries a cluster label unique to this run.
 */
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, type AgentConfig } from '../../../daemon/src/agent/agent.js';
import { isTmpfs } from '../../../daemon/src/agent/volumes.js';
import { createDockerRuntime } from '../../../daemon/src/runtime/docker.js';
import { LABELS, RuntimeError, type ContainerSpec, type Runtime } from '../../../daemon/src/runtime/types.js';
import { createSystemClock } from '../../../daemon/src/lib/clock.js';
import { createRandom } from '../../../daemon/src/lib/random.js';
import { silentLogger } from '../../../daemon/src/lib/logger.js';
import { createMemoryRecorder } from '../../../daemon/src/events/recorder.js';
import type { ApiResponse, NodeDesiredMessage, NodePodsMessage, NodeStatusMessage } from '../../../daemon/src/broker/topics.js';
import type { ContainerStatus, KObject, Pod, PodStatus } from '../../../daemon/src/api/types.js';
import { ensureTestImages, TEST_IMAGE_1 } from '../../harness/images.js';
import { cleanupByLabel, dockerAvailable, dockerOk, runId } from '../../harness/docker.js';

const RUN = runId();
const CLUSTER = `ag${RUN.slice(-8)}`;
const RUNTIME_DIR = `/dev/shm/pifleet-agent-test-${RUN}`;

interface Harness {
  agent: Agent;
  runtime: Runtime;
  pods: NodePodsMessage[];
  nodes: NodeStatusMessage[];
  replies: ApiResponse[];
  events: ReturnType<typeof createMemoryRecorder>;
  latest(name: string): PodStatus | undefined;
  entry(name: string): NodePodsMessage['pods'][number] | undefined;
}

function config(over: Partial<AgentConfig['agent']> = {}): AgentConfig {
  return {
    imagePullBackoffBaseSeconds: 1, imagePullBackoffMaxSeconds: 2,
    cluster: CLUSTER, nodeName: 'node1', runtimeDir: RUNTIME_DIR, heartbeatSeconds: 2,
    agent: { crashLoopBackoffBaseSeconds: 1, crashLoopBackoffMaxSeconds: 4, crashLoopResetSeconds: 600, resyncSeconds: 10, ...over },
    node: { labels: { 'test.run': RUN }, taints: [], address: '127.0.0.1' },
    version: '0.0.0-test',
  };
}

async function harness(t: Test, over: Partial<AgentConfig['agent']> = {}, wrap: (r: Runtime) => Runtime = (r) => r): Promise<Harness> {
  const clock = createSystemClock();
  const logger = silentLogger();
  const real = createDockerRuntime({ logger, clock });
  const runtime = wrap(real);
  const pods: NodePodsMessage[] = [];
  const nodes: NodeStatusMessage[] = [];
  const replies: ApiResponse[] = [];
  const events = createMemoryRecorder();
  const agent = new Agent({
    runtime, clock, random: createRandom(), logger, events, config: config(over),
    publishPods: (m) => pods.push(structuredClone(m)),
    publishNode: (m) => nodes.push(m),
    publishReply: (_topic, r) => replies.push(r),
  });
  t.teardown(async () => { await agent.stop(); real.close(); });
  await agent.start();
  const entry = (name: string): NodePodsMessage['pods'][number] | undefined => {
    for (let i = pods.length - 1; i >= 0; i--) {
      const e = pods[i]?.pods.find((p) => p.name === name);
      if (e) return e;
    }
    return undefined;
  };
  return { agent, runtime, pods, nodes, replies, events, entry, latest: (name) => entry(name)?.status };
}

let uidSeq = 0;
function pod(name: string, spec: Partial<Pod['spec']> & { containers: Pod['spec']['containers'] }, extra: Partial<Pod['metadata']> = {}): Pod {
  uidSeq++;
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `${RUN.slice(-8)}-0000-4000-8000-${String(uidSeq).padStart(12, '0')}`, labels: { app: name }, ...extra },
    spec: { nodeName: 'node1', restartPolicy: 'Always', terminationGracePeriodSeconds: 1, ...spec },
  };
}

function desired(pods: Pod[], configMaps: KObject[] = [], secrets: KObject[] = [], revision = 1): NodeDesiredMessage {
  return { term: 1, revision, pods, configMaps, secrets };
}

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const cs = (s: PodStatus | undefined, name?: string): ContainerStatus | undefined => (name ? s?.containerStatuses?.find((c) => c.name === name) : s?.containerStatuses?.[0]);
const ready = (s: PodStatus | undefined): boolean => s?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

async function rpc(h: Harness, op: 'logs' | 'exec' | 'prune', params: Record<string, unknown>, timeoutMs = 20_000): Promise<ApiResponse[]> {
  const id = `${op}-${Math.random().toString(36).slice(2)}`;
  h.agent.handleRpc({ id, op, replyTo: 'reply', params });
  await until(`${op} reply`, () => h.replies.some((r) => r.id === id && !r.more), timeoutMs);
  return h.replies.filter((r) => r.id === id);
}

async function exec(h: Harness, p: Pod, command: string[], container?: string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const rs = await rpc(h, 'exec', { pod: p.metadata.name, namespace: 'default', uid: p.metadata.uid, container: container ?? p.spec.containers[0]?.name, command, timeoutSeconds: 10 });
  const last = rs[rs.length - 1] as ApiResponse<{ exitCode: number; stdout: string; stderr: string }>;
  if (last.status !== 'ok' || !last.data) throw new Error(`exec failed: ${JSON.stringify(last.error)}`);
  return last.data;
}

t.before(async () => {
  if (!(await dockerAvailable())) throw new Error('Docker is not reachable: the agent lab tests need a running dockerd');
  await ensureTestImages();
  mkdirSync(RUNTIME_DIR, { recursive: true, mode: 0o700 });
});

t.teardown(async () => {
  await cleanupByLabel(LABELS.cluster, CLUSTER);
  rmSync(RUNTIME_DIR, { recursive: true, force: true });
});

t.test('runs a pod with an httpd readiness probe to Running and Ready, and serves logs and exec', async (t) => {
  const h = await harness(t);
  const p = pod('web', {
    containers: [{
      name: 'web', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent',
      command: ['sh', '-c', 'echo hello from $(POD_NAME); echo line2; exec httpd -f -p 8080 -h /www'],
      env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
      ports: [{ containerPort: 8080, name: 'http' }],
      readinessProbe: { httpGet: { path: '/index.html', port: 'http' }, periodSeconds: 1 },
    }],
  });
  h.agent.setDesired(desired([p]));
  const st = await until('web Ready', () => (ready(h.latest('web')) ? h.latest('web') : undefined));
  t.equal(st.phase, 'Running');
  t.match(st.podIP, /^\d+\.\d+\.\d+\.\d+$/);
  t.equal(st.hostIP, '127.0.0.1');
  const c = cs(st);
  t.match(c?.containerID, /^docker:\/\/[0-9a-f]{64}$/);
  t.equal(c?.restartCount, 0);
  t.ok(c?.state?.running?.startedAt);
  t.equal(c?.started, true);
  t.ok(h.events.events.some((e) => e.reason === 'Started' && e.ref.fieldPath === 'spec.containers{web}'), 'Started event');
  const out = await exec(h, p, ['cat', '/www/index.html']);
  t.equal(out.exitCode, 0);
  t.match(out.stdout, /pifleet test image 1/);
  const logs = await rpc(h, 'logs', { pod: 'web', namespace: 'default', container: 'web', follow: false });
  const lines = logs.flatMap((r) => (r.data as { lines?: string[] } | undefined)?.lines ?? []);
  t.same(lines.slice(0, 2), ['hello from web', 'line2'], '$(POD_NAME) expanded in the command; logs streamed in order');
  t.equal(logs[logs.length - 1]?.status, 'ok');
  t.notOk(logs[logs.length - 1]?.more);
  // follow: lines arrive, the stream stays open until cancelled, then a final message
  h.agent.handleRpc({ id: 'follow-1', op: 'logs', replyTo: 'reply', params: { pod: 'web', namespace: 'default', container: 'web', follow: true, tail: 1 } });
  await until('followed line', () => h.replies.some((r) => r.id === 'follow-1' && r.more && (r.data as { lines: string[] }).lines.includes('line2')));
  await new Promise((r) => setTimeout(r, 300));
  t.notOk(h.replies.some((r) => r.id === 'follow-1' && !r.more), 'still open');
  h.agent.handleRpc({ id: 'follow-1', op: 'cancel', replyTo: 'reply', params: {} });
  await until('follow ended', () => h.replies.some((r) => r.id === 'follow-1' && !r.more), 10_000);
  const bad = await rpc(h, 'logs', { pod: 'nope', namespace: 'default', container: 'web' });
  t.equal(bad[0]?.status, 'error');
  t.equal(bad[0]?.error?.reason, 'NotFound');
  // the node reports itself
  const node = h.agent.nodeObject();
  t.equal(node.status?.conditions?.find((x) => x.type === 'Ready')?.status, 'True');
  t.equal(node.metadata.labels?.['test.run'], RUN);
  t.match(node.status?.nodeInfo?.containerRuntimeVersion, /^docker:\/\//);
  h.agent.setDesired(desired([]));
  await until('web removed', () => h.entry('web')?.gone);
});

const HOST_PORT = 31000 + Math.floor(Math.random() * 1000);

async function httpGet(port: number): Promise<string | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/index.html`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

t.test('a multi-container pod shares one network namespace through an infra container that publishes hostPorts', async (t) => {
  const h = await harness(t);
  const p = pod('duo', {
    containers: [
      { name: 'web', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: ['httpd', '-f', '-p', '8081', '-h', '/www'], ports: [{ containerPort: 8081, hostPort: HOST_PORT }] },
      { name: 'side', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] },
    ],
  });
  h.agent.setDesired(desired([p]));
  await until('duo Ready', () => ready(h.latest('duo')));
  const out = await exec(h, p, ['wget', '-qO-', 'http://127.0.0.1:8081/index.html'], 'side');
  t.equal(out.exitCode, 0, 'the sidecar reaches the web container on localhost');
  t.match(await until('hostPort answers', () => httpGet(HOST_PORT)), /pifleet test image 1/, 'hostPort published on the infra container');
  const infra = await h.runtime.listContainers({ [LABELS.cluster]: CLUSTER, [LABELS.podUid]: p.metadata.uid as string, [LABELS.container]: 'POD' });
  t.equal(infra.length, 1, 'one infra container');
  h.agent.setDesired(desired([]));
  await until('duo removed', () => h.entry('duo')?.gone);
  t.equal((await h.runtime.listContainers({ [LABELS.cluster]: CLUSTER, [LABELS.podUid]: p.metadata.uid as string })).length, 0, 'all containers removed');
});

t.test('a hostNetwork pod runs in the host network namespace and is probed on 127.0.0.1', async (t) => {
  const h = await harness(t);
  const port = HOST_PORT + 1000;
  const p = pod('hostnet', {
    hostNetwork: true,
    containers: [{
      name: 'web', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: ['httpd', '-f', '-p', String(port), '-h', '/www'],
      readinessProbe: { httpGet: { path: '/index.html', port }, periodSeconds: 1 },
    }],
  });
  h.agent.setDesired(desired([p]));
  const st = await until('hostnet Ready', () => (ready(h.latest('hostnet')) ? h.latest('hostnet') : undefined));
  t.equal(st.podIP, '127.0.0.1', 'podIP is the node address');
  t.match(await httpGet(port), /pifleet test image 1/, 'reachable on the host');
  h.agent.setDesired(desired([]));
  await until('hostnet removed', () => h.entry('hostnet')?.gone);
});

t.test('init containers run to completion first and share the pod volumes and network', async (t) => {
  const h = await harness(t);
  const p = pod('init', {
    initContainers: [
      { name: 'prep', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'echo prepared > /shared/state'], volumeMounts: [{ name: 'work', mountPath: '/shared' }] },
      { name: 'check', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'grep -q prepared /shared/state && echo ok >> /shared/state'], volumeMounts: [{ name: 'work', mountPath: '/shared' }] },
    ],
    containers: [{ name: 'app', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'], volumeMounts: [{ name: 'work', mountPath: '/shared' }] }],
    volumes: [{ name: 'work', emptyDir: {} }],
  });
  h.agent.setDesired(desired([p]));
  const st = await until('init pod Running', () => (h.latest('init')?.phase === 'Running' && cs(h.latest('init'))?.state?.running ? h.latest('init') : undefined));
  t.same(st.initContainerStatuses?.map((c) => [c.name, c.state?.terminated?.reason, c.ready]), [['prep', 'Completed', true], ['check', 'Completed', true]]);
  t.equal(st.conditions?.find((c) => c.type === 'Initialized')?.status, 'True');
  t.equal((await exec(h, p, ['cat', '/shared/state'])).stdout, 'prepared\nok\n');
  const failing = pod('initfail', {
    restartPolicy: 'Never',
    initContainers: [{ name: 'bad', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'exit 7'] }],
    containers: [{ name: 'app', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }],
  });
  h.agent.setDesired(desired([p, failing]));
  const f = await until('init failure fails the pod', () => (h.latest('initfail')?.phase === 'Failed' ? h.latest('initfail') : undefined));
  t.equal(f.initContainerStatuses?.[0]?.state?.terminated?.exitCode, 7);
  t.same(f.containerStatuses?.[0]?.state, { waiting: { reason: 'PodInitializing' } });
  h.agent.setDesired(desired([]));
  await until('init pods removed', () => h.entry('init')?.gone && h.entry('initfail')?.gone);
});

t.test('a failing liveness probe restarts the container and a failing readiness probe only turns Ready false', async (t) => {
  const h = await harness(t);
  const live = pod('live', {
    containers: [{
      name: 'c', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'],
      livenessProbe: { exec: { command: ['cat', '/tmp/nonexistent'] }, periodSeconds: 1, failureThreshold: 2 },
    }],
  });
  const rd = pod('rd', {
    containers: [{
      name: 'c', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent',
      command: ['sh', '-c', 'touch /tmp/ready; sleep 4; rm /tmp/ready; sleep 3600'],
      readinessProbe: { exec: { command: ['test', '-f', '/tmp/ready'] }, periodSeconds: 1 },
    }],
  });
  h.agent.setDesired(desired([live, rd]));
  await until('rd Ready', () => ready(h.latest('rd')));
  const restarted = await until('liveness restart', () => ((cs(h.latest('live'))?.restartCount ?? 0) >= 1 ? h.latest('live') : undefined), 40_000);
  t.ok(h.events.events.some((e) => e.reason === 'Unhealthy' && /Liveness probe failed/.test(e.message)), 'Unhealthy event');
  t.ok(h.events.events.some((e) => e.reason === 'Killing' && /failed liveness probe, will be restarted/.test(e.message)), 'Killing event');
  t.ok(cs(restarted)?.lastState?.terminated, 'lastState.terminated after the kill');
  await until('rd not Ready', () => h.latest('rd') && !ready(h.latest('rd')), 20_000);
  const rdc = cs(h.latest('rd'));
  t.equal(rdc?.restartCount, 0, 'readiness failure does not restart');
  t.ok(rdc?.state?.running, 'still running');
  t.equal(h.latest('rd')?.phase, 'Running');
  h.agent.setDesired(desired([]));
  await until('pods removed', () => h.entry('live')?.gone && h.entry('rd')?.gone);
});

t.test('a container over its memory limit is reported OOMKilled', async (t) => {
  const h = await harness(t);
  const info = await h.runtime.info();
  if (!info.memoryLimit) {
    t.ok(h.agent.nodeObject().status?.conditions?.some((c) => c.type === 'MemoryCgroupUnavailable' && c.status === 'True'), 'node says limits are not enforced');
    return;
  }
  const p = pod('oom', {
    restartPolicy: 'Never',
    containers: [{ name: 'c', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: ['tail', '/dev/zero'], resources: { limits: { memory: '16Mi' } } }],
  });
  h.agent.setDesired(desired([p]));
  const st = await until('OOMKilled', () => (h.latest('oom')?.phase === 'Failed' ? h.latest('oom') : undefined), 40_000);
  t.equal(cs(st)?.state?.terminated?.reason, 'OOMKilled');
  t.equal(cs(st)?.restartCount, 0);
  t.equal(st.conditions?.find((c) => c.type === 'Ready')?.reason, 'PodCompleted');
  h.agent.setDesired(desired([]));
  await until('oom removed', () => h.entry('oom')?.gone);
});

t.test('a crashing container shows CrashLoopBackOff with a growing delay', async (t) => {
  const h = await harness(t);
  const p = pod('crash', { containers: [{ name: 'c', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'echo crash; exit 3'] }] });
  h.agent.setDesired(desired([p]));
  const seen: string[] = [];
  await until('back-off 2s', () => {
    for (const m of h.pods) {
      const w = cs(m.pods.find((x) => x.name === 'crash')?.status)?.state?.waiting;
      if (w?.reason === 'CrashLoopBackOff' && w.message && !seen.includes(w.message)) seen.push(w.message);
    }
    return seen.some((s) => s.startsWith('back-off 2s'));
  }, 40_000);
  t.match(seen[0], /^back-off 1s restarting failed container=c pod=crash_default\(/);
  t.ok(seen.findIndex((s) => s.startsWith('back-off 1s')) < seen.findIndex((s) => s.startsWith('back-off 2s')), 'the delay grows');
  const st = h.latest('crash');
  t.equal(st?.phase, 'Running', 'restartPolicy Always keeps the pod Running');
  const c = cs(st);
  t.ok((c?.restartCount ?? 0) >= 2);
  t.equal(c?.lastState?.terminated?.exitCode, 3);
  t.equal(c?.lastState?.terminated?.reason, 'Error');
  // only the current and the previous attempt are kept
  const all = await h.runtime.listContainers({ [LABELS.cluster]: CLUSTER, [LABELS.podUid]: p.metadata.uid as string });
  t.ok(all.length <= 2, `at most two containers kept (found ${all.length})`);
  const prev = await rpc(h, 'logs', { pod: 'crash', namespace: 'default', container: 'c', previous: true });
  t.same(prev.flatMap((r) => (r.data as { lines?: string[] } | undefined)?.lines ?? []), ['crash'], 'logs --previous');
  h.agent.setDesired(desired([]));
  await until('crash removed', () => h.entry('crash')?.gone);
});

t.test('ConfigMap values reach env and files; a Secret volume is tmpfs and its value lives only under the runtime dir', async (t) => {
  const h = await harness(t);
  const cm = (v: string): KObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'default' }, data: { greeting: v, 'app.conf': 'a=1\n' } });
  const secretValue = `s3cr3t-${RUN}`;
  const secret: KObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sec', namespace: 'default' }, data: { password: Buffer.from(secretValue).toString('base64') } };
  const p = pod('cfg', {
    containers: [{
      name: 'c', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'],
      env: [{ name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'greeting' } } }, { name: 'MSG', value: '$(GREETING) world $$(HOME)' }],
      envFrom: [{ prefix: 'CM_', configMapRef: { name: 'cfg' } }],
      volumeMounts: [{ name: 'conf', mountPath: '/etc/cfg' }, { name: 'sec', mountPath: '/secret-path' }, { name: 'scratch', mountPath: '/scratch' }],
    }],
    volumes: [
      { name: 'conf', configMap: { name: 'cfg' } },
      { name: 'sec', secret: { secretName: 'sec' } },
      { name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '8Mi' } },
    ],
  });
  const broken = pod('broken', {
    containers: [{ name: 'c', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'], env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'missing' } } }] }],
  });
  h.agent.setDesired(desired([p, broken], [cm('hello')], [secret]));
  await until('cfg Running', () => h.latest('cfg')?.phase === 'Running' && cs(h.latest('cfg'))?.state?.running);
  const env = await exec(h, p, ['env']);
  t.match(env.stdout, /^GREETING=hello$/m);
  t.match(env.stdout, /^MSG=hello world \$\(HOME\)$/m, '$(VAR) expanded, $$ escaped');
  t.match(env.stdout, /^CM_greeting=hello$/m, 'envFrom with prefix');
  t.equal((await exec(h, p, ['cat', '/etc/cfg/greeting'])).stdout, 'hello');
  const mounts = (await exec(h, p, ['grep', '/secret-path', '/proc/mounts'])).stdout;
  t.match(mounts, /^tmpfs \/secret-path tmpfs ro/m, 'the secret volume is a read-only tmpfs in the container');
  t.equal((await exec(h, p, ['cat', '/secret-path/password'])).stdout, secretValue);
  const mode = (await exec(h, p, ['stat', '-L', '-c', '%a', '/secret-path/password'])).stdout.trim();
  t.equal(mode, '400', 'secret files default to 0400');
  t.match((await exec(h, p, ['grep', '/scratch', '/proc/mounts'])).stdout, /tmpfs/, 'emptyDir medium Memory is tmpfs');
  // where the secret value is on the host: under the runtime dir, which is tmpfs
  const podDir = join(RUNTIME_DIR, 'pods', p.metadata.uid as string);
  t.ok(existsSync(join(podDir, 'volumes', 'sec', 'password')));
  t.equal(readFileSync(join(podDir, 'volumes', 'sec', 'password'), 'utf8'), secretValue);
  t.ok(isTmpfs(podDir), 'the host copy is on a tmpfs too (never the SD card)');
  // a missing key: CreateContainerConfigError as the kubelet words it
  const b = await until('broken waiting', () => cs(h.latest('broken'))?.state?.waiting?.reason === 'CreateContainerConfigError' && cs(h.latest('broken')));
  t.equal(b.state?.waiting?.message, "couldn't find key missing in ConfigMap default/cfg");
  t.equal(h.latest('broken')?.phase, 'Pending');
  // an update of the ConfigMap reaches the file (atomic swap), without restarting the container
  h.agent.setDesired(desired([p, broken], [cm('bonjour')], [secret], 2));
  await until('file updated', async () => (await exec(h, p, ['cat', '/etc/cfg/greeting'])).stdout === 'bonjour', 20_000);
  t.equal(cs(h.latest('cfg'))?.restartCount, 0);
  // deletion: containers, volumes and files go; the pod is reported gone
  const now = new Date().toISOString();
  h.agent.setDesired(desired([{ ...p, metadata: { ...p.metadata, deletionTimestamp: now, deletionGracePeriodSeconds: 1 } }, broken], [cm('bonjour')], [secret], 3));
  await until('cfg gone', () => h.entry('cfg')?.gone, 30_000);
  t.equal((await h.runtime.listContainers({ [LABELS.cluster]: CLUSTER, [LABELS.podUid]: p.metadata.uid as string })).length, 0, 'containers removed');
  t.equal((await h.runtime.listVolumes({ [LABELS.cluster]: CLUSTER, [LABELS.podUid]: p.metadata.uid as string })).length, 0, 'emptyDir volume removed');
  t.notOk(existsSync(podDir), 'volume files removed');
  h.agent.setDesired(desired([], [], [], 4));
  await until('broken gone', () => h.entry('broken')?.gone);
});

t.test('a second agent on the same engine adopts running containers without restarting them', async (t) => {
  const p = pod('adopt', {
    containers: [
      { name: 'a', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] },
      { name: 'b', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] },
    ],
  });
  const single = pod('adopt1', { containers: [{ name: 'a', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }] });
  const msg = desired([p, single]);
  await t.test('first agent runs the pods, then stops (containers keep running)', async (tt) => {
    const h1 = await harness(tt);
    h1.agent.setDesired(msg);
    await until('adopt Ready', () => ready(h1.latest('adopt')) && ready(h1.latest('adopt1')));
  });
  const ids = async (): Promise<string[]> => (await dockerOk(['ps', '-q', '--no-trunc', '--filter', `label=${LABELS.cluster}=${CLUSTER}`])).split('\n').filter(Boolean).sort();
  const running = await ids();
  t.equal(running.length, 4, 'infra + 2 containers + single pod container running after the first agent stopped');
  const started = await dockerOk(['inspect', '-f', '{{.State.StartedAt}}', ...running]);
  const h2 = await harness(t);
  // before the desired state arrives nothing is touched
  await new Promise((r) => setTimeout(r, 500));
  t.same(await ids(), running, 'nothing removed before the first desired message');
  h2.agent.setDesired(msg);
  await until('adopted Ready', () => ready(h2.latest('adopt')) && ready(h2.latest('adopt1')));
  await new Promise((r) => setTimeout(r, 1000));
  t.same(await ids(), running, 'same container ids');
  t.equal(await dockerOk(['inspect', '-f', '{{.State.StartedAt}}', ...running]), started, 'not restarted');
  t.equal(cs(h2.latest('adopt'), 'a')?.restartCount, 0);
  h2.agent.setDesired(desired([], [], [], 2));
  await until('adopted pods removed', () => h2.entry('adopt')?.gone && h2.entry('adopt1')?.gone);
  t.same(await ids(), [], 'removed on deletion');
});

t.test('image problems: ErrImageNeverPull, then ErrImagePull followed by ImagePullBackOff', async (t) => {
  const h = await harness(t);
  const never = pod('never', { containers: [{ name: 'c', image: 'pifleet-test/absent:1', imagePullPolicy: 'Never' }] });
  // a registry on a closed loopback port: the pull fails at once, no traffic leaves the machine
  const pull = pod('pull', { containers: [{ name: 'c', image: '127.0.0.1:9/pifleet-absent:1', imagePullPolicy: 'IfNotPresent' }] });
  h.agent.setDesired(desired([never, pull]));
  const c = await until('ErrImageNeverPull', () => cs(h.latest('never'))?.state?.waiting?.reason === 'ErrImageNeverPull' && cs(h.latest('never')));
  t.equal(c.state?.waiting?.message, 'Container image "pifleet-test/absent:1" is not present with pull policy of Never');
  t.equal(h.latest('never')?.phase, 'Pending');
  const reasons = new Set<string>();
  await until('ImagePullBackOff after ErrImagePull', () => {
    for (const m of h.pods) {
      const r = cs(m.pods.find((x) => x.name === 'pull')?.status)?.state?.waiting?.reason;
      if (r) reasons.add(r);
    }
    return reasons.has('ErrImagePull') && reasons.has('ImagePullBackOff');
  }, 30_000);
  t.ok(h.events.events.some((e) => e.reason === 'Failed' && e.message.startsWith('Failed to pull image "127.0.0.1:9/pifleet-absent:1"')), 'Failed event');
  t.ok(h.events.events.some((e) => e.reason === 'BackOff' && e.message === 'Back-off pulling image "127.0.0.1:9/pifleet-absent:1"'), 'BackOff event');
  h.agent.setDesired(desired([]));
  await until('pods removed', () => h.entry('never')?.gone && h.entry('pull')?.gone);
});

/** A container that ends at once on SIGTERM (an orphan's grace period is the default 30 s). */
const QUICK_STOP = ['sh', '-c', "trap 'exit 0' TERM; while :; do sleep 1; done"];
const orphansOf = (h: Harness): NonNullable<NodePodsMessage['orphans']> => h.pods[h.pods.length - 1]?.orphans ?? [];
const containersOf = async (uid: string): Promise<string[]> => (await dockerOk(['ps', '-aq', '--no-trunc', '--filter', `label=${LABELS.cluster}=${CLUSTER}`, '--filter', `label=${LABELS.podUid}=${uid}`])).split('\n').filter(Boolean).sort();

t.test('after a state repair, a pod the repaired store lacks keeps running as a reported orphan until a prune request removes it', async (t) => {
  const cm: KObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'orphan-cfg', namespace: 'default' }, data: { k: 'v' } };
  const p = pod('lost', {
    containers: [{ name: 'c', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: QUICK_STOP, volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }, { name: 'scratch', mountPath: '/scratch' }] }],
    volumes: [{ name: 'cfg', configMap: { name: 'orphan-cfg' } }, { name: 'scratch', emptyDir: {} }],
  }, { resourceVersion: '10' });
  const uid = p.metadata.uid as string;
  await t.test('the first agent runs the pod from lineage L1 and stamps its containers', async (tt) => {
    const h1 = await harness(tt);
    h1.agent.setDesired({ ...desired([p], [cm], [], 10), lineage: 'L1' });
    await until('lost Running', () => h1.latest('lost')?.phase === 'Running' && cs(h1.latest('lost'))?.state?.running);
    const [id] = await containersOf(uid);
    tt.equal(await dockerOk(['inspect', '-f', `{{index .Config.Labels "${LABELS.lineage}"}} {{index .Config.Labels "${LABELS.podRevision}"}}`, id as string]), 'L1 10');
  });
  const running = await containersOf(uid);
  t.equal(running.length, 1);
  const podDir = join(RUNTIME_DIR, 'pods', uid);
  const h = await harness(t);
  // the repaired store (lineage L2) is at revision 3 and does not know the pod
  h.agent.setDesired({ ...desired([], [], [], 3), lineage: 'L2' });
  const orphan = await until('orphan reported', () => orphansOf(h).find((o) => o.uid === uid));
  t.match(orphan, { namespace: 'default', name: 'lost', uid, lineage: 'L1', revision: 10, reason: 'OtherLineage', status: { phase: 'Running' } });
  t.equal(orphan.status.containerStatuses?.[0]?.name, 'c');
  t.notOk(h.entry('lost'), 'not reported as a pod of the desired state');
  const warnings = h.events.events.filter((e) => e.reason === 'Orphaned');
  t.equal(warnings.length, 1, 'one Warning event');
  t.equal(warnings[0]?.type, 'Warning');
  t.match(warnings[0]?.message, /pifleet delete pod lost -n default/);
  t.equal(warnings[0]?.ref.uid, uid);
  // more desired messages and resyncs change nothing
  h.agent.setDesired({ ...desired([], [], [], 4), lineage: 'L2' });
  await new Promise((r) => setTimeout(r, 1500));
  t.same(await containersOf(uid), running, 'the container keeps running, untouched');
  t.equal(await dockerOk(['inspect', '-f', '{{.State.Running}} {{.RestartCount}}', running[0] as string]), 'true 0');
  t.ok(existsSync(podDir), 'the pod runtime dir is kept');
  t.equal((await h.runtime.listVolumes({ [LABELS.cluster]: CLUSTER, [LABELS.podUid]: uid })).length, 1, 'the emptyDir volume is kept');
  t.equal(h.events.events.filter((e) => e.reason === 'Orphaned').length, 1, 'still one Warning event');
  t.ok(orphansOf(h).some((o) => o.uid === uid), 'listed in every pods message');
  // prune by RPC: an unknown uid is NotFound; the orphan's uid removes it, then the reply is ok
  const missing = await rpc(h, 'prune', { uid: 'no-such-uid' });
  t.match(missing[0], { status: 'error', error: { reason: 'NotFound' } });
  const pruned = await rpc(h, 'prune', { uid }, 40_000);
  t.match(pruned[0], { status: 'ok', data: { uid } });
  t.same(await containersOf(uid), [], 'containers removed');
  await until('orphan no longer listed', () => !orphansOf(h).some((o) => o.uid === uid));
  t.notOk(existsSync(podDir), 'runtime dir removed with it');
  t.equal((await h.runtime.listVolumes({ [LABELS.cluster]: CLUSTER, [LABELS.podUid]: uid })).length, 0, 'volume removed with it');
  t.notOk(h.entry('lost'), 'never reported as a gone pod of the desired state');
});

t.test('after the store lost recent revisions, an orphan is replaced when its pod is applied again and the rest go on prune', async (t) => {
  const h = await harness(t);
  const a = pod('again', { containers: [{ name: 'c', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: QUICK_STOP, ports: [{ containerPort: 80, hostPort: HOST_PORT + 2000 }] }] }, { resourceVersion: '20' });
  const b = pod('stays', { containers: [{ name: 'c', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: QUICK_STOP }] }, { resourceVersion: '19' });
  h.agent.setDesired(desired([a, b], [], [], 20));
  await until('both Running', () => cs(h.latest('again'))?.state?.running && cs(h.latest('stays'))?.state?.running);
  // a leader whose store ends at revision 15 (no lineage): both pods were made later than that
  h.agent.setDesired(desired([], [], [], 15));
  await until('two orphans', () => orphansOf(h).length === 2);
  t.same(orphansOf(h).map((o) => [o.name, o.reason, o.revision]).sort(), [['again', 'NewerThanStore', 20], ['stays', 'NewerThanStore', 19]]);
  t.equal((await containersOf(a.metadata.uid as string)).length, 1, 'kept');
  // the user applies "again" anew (new uid, same name and hostPort): the orphan goes first
  const a2 = pod('again', a.spec, { resourceVersion: '16' });
  let overlap = false;
  h.agent.setDesired(desired([a2], [], [], 16));
  await until('the new pod runs', async () => {
    const [oldC, newC] = await Promise.all([containersOf(a.metadata.uid as string), containersOf(a2.metadata.uid as string)]);
    if (oldC.length && newC.length) overlap = true;
    return cs(h.latest('again'))?.state?.running && h.entry('again')?.uid === a2.metadata.uid;
  }, 40_000);
  t.notOk(overlap, 'the orphan was removed before the new pod got a container');
  t.same(await containersOf(a.metadata.uid as string), [], 'the orphan of the same name is gone');
  t.same(orphansOf(h).map((o) => o.name), ['stays'], 'the other orphan stays');
  // prune: every orphan goes, desired pods stay
  h.agent.setDesired({ ...desired([a2], [], [], 17), prune: true });
  await until('orphans pruned', async () => orphansOf(h).length === 0 && (await containersOf(b.metadata.uid as string)).length === 0, 40_000);
  t.ok(cs(h.latest('again'))?.state?.running, 'the desired pod is untouched');
  h.agent.setDesired(desired([], [], [], 18));
  await until('again removed', () => h.entry('again')?.gone);
});

t.test('a pod made before a state repair that the repaired store still holds is removed as usual when that store drops it', async (t) => {
  const h = await harness(t);
  const p = pod('kept', { containers: [{ name: 'c', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: QUICK_STOP }] }, { resourceVersion: '30' });
  h.agent.setDesired({ ...desired([p], [], [], 30), lineage: 'L1' });
  await until('kept Running', () => cs(h.latest('kept'))?.state?.running);
  // the repaired store (L2) holds the pod: adopted as it is, its labels still say L1
  h.agent.setDesired({ ...desired([p], [], [], 31), lineage: 'L2' });
  await new Promise((r) => setTimeout(r, 500));
  t.equal(cs(h.latest('kept'))?.restartCount, 0, 'not restarted');
  // L2 deletes it (no graceful step, e.g. a force delete): L2 knew the pod, so this is a deletion
  h.agent.setDesired({ ...desired([], [], [], 32), lineage: 'L2' });
  await until('kept gone', () => h.entry('kept')?.gone, 20_000);
  t.same(await containersOf(p.metadata.uid as string), []);
  t.same(orphansOf(h), [], 'no orphan');
});

/** A runtime whose engine "goes away" between create and start of the first container of each named pod. */
function engineDiesBeforeStart(pods: string[]): (r: Runtime) => Runtime {
  const target = new Map<string, string>();
  const failed = new Set<string>();
  return (r) => new Proxy(r, {
    get(obj, prop, recv) {
      if (prop === 'createContainer') {
        return async (spec: ContainerSpec) => {
          const id = await obj.createContainer(spec);
          const name = spec.labels[LABELS.podName] ?? '';
          if (pods.includes(name) && spec.labels[LABELS.container] !== 'POD' && !target.has(name)) target.set(name, id);
          return id;
        };
      }
      if (prop === 'startContainer') {
        return async (id: string) => {
          const name = [...target].find(([, v]) => v === id)?.[0];
          if (name && !failed.has(name)) {
            failed.add(name);
            throw new RuntimeError('Unavailable', 'connect ENOENT /var/run/docker.sock: the engine went away');
          }
          return obj.startContainer(id);
        };
      }
      return Reflect.get(obj, prop, recv);
    },
  });
}

t.test('a container the engine left Created (it went away between create and start) is replaced at once and removed, whatever the restart policy', async (t) => {
  const once = pod('once', { restartPolicy: 'Never', containers: [{ name: 'c', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: QUICK_STOP }] });
  const always = pod('always', { containers: [{ name: 'c', image: TEST_IMAGE_1, imagePullPolicy: 'IfNotPresent', command: QUICK_STOP }] });
  const h = await harness(t, {}, engineDiesBeforeStart(['once', 'always']));
  h.agent.setDesired(desired([once, always]));
  await until('both running', () => cs(h.latest('once'))?.state?.running && cs(h.latest('always'))?.state?.running, 30_000);
  const created = async (uid: string): Promise<string> => dockerOk(['ps', '-aq', '--filter', `label=${LABELS.podUid}=${uid}`, '--filter', 'status=created']);
  await until('no Created container left', async () => (await created(once.metadata.uid as string)) === '' && (await created(always.metadata.uid as string)) === '', 10_000);
  for (const p of [once, always]) {
    const st = h.latest(p.metadata.name);
    t.equal(st?.phase, 'Running', `${p.metadata.name}: Running, not failed by a start that never happened`);
    t.same(cs(st)?.lastState, {}, `${p.metadata.name}: no StartError in lastState`);
    t.equal(cs(st)?.restartCount, 1, `${p.metadata.name}: a new attempt, counted as the kubelet counts it`);
    t.equal((await containersOf(p.metadata.uid as string)).length, 1, `${p.metadata.name}: only the running container is kept`);
  }
  t.notOk(h.events.events.some((e) => e.reason === 'BackOff'), 'no crash-loop backoff: nothing crashed');
  h.agent.setDesired(desired([], [], [], 2));
  await until('removed', () => h.entry('once')?.gone && h.entry('always')?.gone);
});
