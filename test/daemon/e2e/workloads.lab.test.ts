/**
 * End to end on one real daemon and the real Docker engine: Deployments with probes, self-healing,
 * scaling, rolling updates and rollback; liveness/readiness; OOM; crash loops; ConfigMaps and Secrets.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { startTestDaemon, apiClient, waitFor, podReady, containerIds, docker, type PodLike } from '../../harness/daemon.js';
import { ensureTestImages, TEST_IMAGE_1, TEST_IMAGE_2 } from '../../harness/images.js';

type List = { items: PodLike[] };

t.before(async () => {
  await ensureTestImages();
});

const web = (image: string, replicas = 3, extra = ''): string => `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: ${replicas}
  selector:
    matchLabels: { app: web }
  strategy:
    type: RollingUpdate
    rollingUpdate: { maxUnavailable: 0, maxSurge: 1 }
  template:
    metadata:
      labels: { app: web }
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: httpd
          image: ${image}
          imagePullPolicy: Never
          command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
          ports: [{ containerPort: 8080 }]
          readinessProbe:
            httpGet: { path: /, port: 8080 }
            periodSeconds: 1
          livenessProbe:
            httpGet: { path: /, port: 8080 }
            periodSeconds: 2
            failureThreshold: 3
${extra}`;

t.test('a Deployment heals, scales, rolls out without dropping below its replicas, and rolls back', async (t) => {
  const d = await startTestDaemon(t);
  const api = await apiClient(t, d);
  const pods = async (): Promise<PodLike[]> => (await api.request<List>('get', { kind: 'pods', labelSelector: 'app=web' })).items;
  const readyPods = async (): Promise<PodLike[]> => (await pods()).filter(podReady);

  const applied = await d.cli(['apply', '-f', '-'], { input: web(TEST_IMAGE_1) });
  t.equal(applied.code, 0, applied.stderr);
  t.match(applied.stdout, /deployment\.apps\/web created/);
  await waitFor('3/3 ready', async () => (await readyPods()).length === 3, { timeoutMs: 60_000 });
  const get = await d.cli(['get', 'deployment', 'web']);
  t.match(get.stdout, /web\s+3\/3\s+3\s+3/, 'get deployment shows 3/3');

  // docker rm -f of one container: a replacement runs and becomes ready
  const victim = (await readyPods())[0]!;
  const [cid] = containerIds(victim);
  t.ok(cid, 'the pod reports its container id');
  t.equal((await docker(['rm', '-f', cid!])).code, 0);
  await waitFor('a replacement after docker rm -f', async () => {
    const ready = await readyPods();
    const ids = ready.flatMap(containerIds);
    return ready.length === 3 && !ids.includes(cid!);
  }, { timeoutMs: 60_000 });

  // scale to 5 and back to 2
  t.equal((await d.cli(['scale', 'deployment/web', '--replicas=5'])).code, 0);
  await waitFor('5 ready', async () => (await readyPods()).length === 5, { timeoutMs: 60_000 });
  t.equal((await d.cli(['scale', 'deployment/web', '--replicas=2'])).code, 0);
  await waitFor('2 pods', async () => (await pods()).length === 2 && (await readyPods()).length === 2, { timeoutMs: 60_000 });
  t.equal((await d.cli(['scale', 'deployment/web', '--replicas=3'])).code, 0);
  await waitFor('3 ready again', async () => (await readyPods()).length === 3, { timeoutMs: 60_000 });

  // image change: maxUnavailable 0 -> never fewer than 3 ready (sampled)
  t.equal((await d.cli(['apply', '-f', '-'], { input: web(TEST_IMAGE_2) })).code, 0);
  let minReady = Infinity;
  let samples = 0;
  await waitFor('rollout to v2', async () => {
    const all = await pods();
    const ready = all.filter(podReady);
    minReady = Math.min(minReady, ready.length);
    samples++;
    return ready.length === 3 && all.length === 3 && all.every((p) => p.spec.containers[0]!.image === TEST_IMAGE_2);
  }, { timeoutMs: 120_000, intervalMs: 100 });
  t.ok(samples > 5, `sampled ${samples} times during the rollout`);
  t.ok(minReady >= 3, `ready pods never dropped below 3 (min ${minReady})`);
  const status = await d.cli(['rollout', 'status', 'deployment/web', '--timeout=60s']);
  t.equal(status.code, 0, status.stderr);
  t.match(status.stdout, /successfully rolled out/);
  const history = await d.cli(['rollout', 'history', 'deployment/web']);
  t.match(history.stdout, /REVISION\s+CHANGE-CAUSE[\s\S]*1[\s\S]*2/);

  // undo restores the previous template
  const undo = await d.cli(['rollout', 'undo', 'deployment/web']);
  t.equal(undo.code, 0, undo.stderr);
  await waitFor('rolled back to v1', async () => {
    const all = await pods();
    return all.length === 3 && all.filter(podReady).length === 3 && all.every((p) => p.spec.containers[0]!.image === TEST_IMAGE_1);
  }, { timeoutMs: 120_000 });
  const dep = await d.json<{ spec: { template: { spec: { containers: Array<{ image: string }> } } }; metadata: { annotations: Record<string, string> } }>(['get', 'deployment', 'web']);
  t.equal(dep.spec.template.spec.containers[0]!.image, TEST_IMAGE_1, 'the Deployment template is the previous one');
  t.equal(dep.metadata.annotations['deployment.kubernetes.io/revision'], '3', 'undo makes a new revision');

  // cascading delete
  t.equal((await d.cli(['delete', 'deployment', 'web'])).code, 0);
  await waitFor('pods gone', async () => (await pods()).length === 0, { timeoutMs: 60_000 });
  await waitFor('containers removed', async () => (await docker(['ps', '-aq', '--filter', `label=pifleet.cluster=${d.cluster}`, '--filter', 'label=pifleet.pod.name'])).stdout.trim() === '', { timeoutMs: 60_000 });
});

t.test('liveness failures restart, readiness failures only unready, OOM and crash loops are reported', async (t) => {
  const d = await startTestDaemon(t);
  const api = await apiClient(t, d);
  const pod = async (name: string): Promise<PodLike> => api.request<PodLike>('get', { kind: 'pods', name });
  const manifest = `
apiVersion: v1
kind: Pod
metadata: { name: live }
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: c
      image: ${TEST_IMAGE_1}
      imagePullPolicy: Never
      command: ["sh", "-c", "touch /tmp/alive; sleep 3600"]
      livenessProbe:
        exec: { command: ["cat", "/tmp/alive"] }
        periodSeconds: 1
        failureThreshold: 2
---
apiVersion: v1
kind: Pod
metadata: { name: ready }
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: c
      image: ${TEST_IMAGE_1}
      imagePullPolicy: Never
      command: ["sh", "-c", "touch /tmp/ready; sleep 3600"]
      readinessProbe:
        exec: { command: ["cat", "/tmp/ready"] }
        periodSeconds: 1
        failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata: { name: oom }
spec:
  restartPolicy: Never
  containers:
    - name: c
      image: ${TEST_IMAGE_1}
      imagePullPolicy: Never
      command: ["sh", "-c", "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done"]
      resources:
        limits: { memory: 16Mi }
---
apiVersion: v1
kind: Pod
metadata: { name: crash }
spec:
  containers:
    - name: c
      image: ${TEST_IMAGE_1}
      imagePullPolicy: Never
      command: ["sh", "-c", "echo crashing; exit 3"]
`;
  const r = await d.cli(['apply', '-f', '-'], { input: manifest });
  t.equal(r.code, 0, r.stderr);

  await waitFor('live and ready running', async () => podReady(await pod('live')) && podReady(await pod('ready')), { timeoutMs: 60_000 });
  const liveBefore = (await pod('live')).status!.containerStatuses![0]!;
  t.equal(liveBefore.restartCount, 0);
  t.equal((await d.cli(['exec', 'live', '--', 'rm', '/tmp/alive'])).code, 0);
  t.equal((await d.cli(['exec', 'ready', '--', 'rm', '/tmp/ready'])).code, 0);
  await waitFor('liveness restart', async () => ((await pod('live')).status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1, { timeoutMs: 60_000 });
  await waitFor('ready turns false', async () => !podReady(await pod('ready')), { timeoutMs: 30_000 });
  const unready = await pod('ready');
  t.equal(unready.status!.containerStatuses![0]!.restartCount, 0, 'a readiness failure does not restart');
  t.equal(unready.status!.phase, 'Running');

  const oom = await waitFor('OOMKilled', async () => {
    const p = await pod('oom');
    const term = p.status?.containerStatuses?.[0]?.state?.terminated;
    return term ? p : undefined;
  }, { timeoutMs: 60_000 });
  t.equal(oom.status!.containerStatuses![0]!.state!.terminated!.reason, 'OOMKilled');
  t.equal(oom.status!.phase, 'Failed');

  const crash = await waitFor('CrashLoopBackOff', async () => {
    const p = await pod('crash');
    const cs = p.status?.containerStatuses?.[0];
    return cs?.state?.waiting?.reason === 'CrashLoopBackOff' && cs.restartCount >= 2 ? p : undefined;
  }, { timeoutMs: 90_000 });
  const cs = crash.status!.containerStatuses![0]!;
  t.match(cs.state!.waiting!.message ?? '', /back-off (10|20|40)s restarting failed container=c pod=crash/);
  t.equal(cs.lastState?.terminated?.exitCode, 3);
  t.equal(cs.lastState?.terminated?.reason, 'Error');
  const logs = await d.cli(['logs', 'crash']);
  t.match(logs.stdout, /crashing/);
  const got = await d.cli(['get', 'pods']);
  t.match(got.stdout, /crash\s+0\/1\s+CrashLoopBackOff/);
  t.match(got.stdout, /oom\s+0\/1\s+OOMKilled/);
});

t.test('ConfigMap values reach env and files, and Secret values live only in a tmpfs', async (t) => {
  const d = await startTestDaemon(t);
  const api = await apiClient(t, d);
  const secretValue = `s3cr3t-${Math.random().toString(36).slice(2)}`;
  const manifest = `
apiVersion: v1
kind: ConfigMap
metadata: { name: settings }
data:
  greeting: hello-from-configmap
  app.conf: |
    mode=fast
---
apiVersion: v1
kind: Secret
metadata: { name: creds }
stringData:
  password: ${secretValue}
---
apiVersion: v1
kind: Pod
metadata: { name: consumer }
spec:
  containers:
    - name: c
      image: ${TEST_IMAGE_1}
      imagePullPolicy: Never
      command: ["sh", "-c", "echo greeting=$GREETING; sleep 3600"]
      env:
        - name: GREETING
          valueFrom: { configMapKeyRef: { name: settings, key: greeting } }
        - name: POD_NAME
          valueFrom: { fieldRef: { fieldPath: metadata.name } }
      envFrom:
        - secretRef: { name: creds }
          prefix: S_
      volumeMounts:
        - { name: conf, mountPath: /etc/app }
        - { name: secret, mountPath: /etc/secret }
  volumes:
    - name: conf
      configMap: { name: settings }
    - name: secret
      secret: { secretName: creds }
`;
  const r = await d.cli(['apply', '-f', '-'], { input: manifest });
  t.equal(r.code, 0, r.stderr);
  await waitFor('consumer running', async () => podReady(await api.request<PodLike>('get', { kind: 'pods', name: 'consumer' })), { timeoutMs: 60_000 });
  const env = await d.cli(['exec', 'consumer', '--', 'env']);
  t.match(env.stdout, /GREETING=hello-from-configmap/);
  t.match(env.stdout, /POD_NAME=consumer/);
  t.match(env.stdout, new RegExp(`S_password=${secretValue}`));
  t.equal((await d.cli(['exec', 'consumer', '--', 'cat', '/etc/app/app.conf'])).stdout, 'mode=fast\n');
  t.equal((await d.cli(['exec', 'consumer', '--', 'cat', '/etc/secret/password'])).stdout, secretValue);
  const mounts = (await d.cli(['exec', 'consumer', '--', 'cat', '/proc/mounts'])).stdout;
  const secretMount = mounts.split('\n').find((l) => l.split(' ')[1] === '/etc/secret');
  t.ok(secretMount, 'the secret volume is mounted');
  t.match(secretMount ?? '', /^\S+ \/etc\/secret tmpfs /, 'the secret volume is a tmpfs inside the container');
  const mode = (await d.cli(['exec', 'consumer', '--', 'busybox', 'stat', '-L', '-c', '%a', '/etc/secret/password'])).stdout.trim();
  t.equal(mode, '400', 'secret files are 0400 by default');
  const logs = await d.cli(['logs', 'consumer']);
  t.match(logs.stdout, /greeting=hello-from-configmap/);
  // nothing under the state directory contains the value (plain or base64)
  const b64 = Buffer.from(secretValue).toString('base64');
  let found = '';
  try {
    found = execFileSync('grep', ['-rlaF', '-e', secretValue, '-e', b64, d.stateDir], { encoding: 'utf8' });
  } catch (err) {
    t.equal((err as { status?: number }).status, 1, 'grep exits 1: no match');
  }
  t.equal(found, '', 'the secret value appears nowhere under the state directory');
});
