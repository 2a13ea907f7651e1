import t from 'tap';
import { applyDefaults, defaultJobSelector, defaultPullPolicy, effectiveSecretData, SECRET_VOLUME_MODE } from '../../../daemon/src/api/defaults.js';
import type { KObject } from '../../../daemon/src/api/types.js';

type Any = any;

const podSpec = (): Any => ({
  containers: [{
    name: 'web', image: 'nginx:1.25', ports: [{ containerPort: 80 }],
    livenessProbe: { httpGet: { port: 80 } }, readinessProbe: { exec: { command: ['true'] } },
    resources: { limits: { cpu: '1', memory: '64Mi' }, requests: { cpu: '100m' } },
    env: [{ name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
  }],
  volumes: [{ name: 's', secret: { secretName: 's' } }, { name: 'c', configMap: { name: 'c' } }, { name: 'own', secret: { secretName: 's', defaultMode: 0o440 } }],
});
const deploy = (): Any => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
  spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: podSpec() } },
});

t.test('fills in Deployment defaults as Kubernetes does and leaves the input untouched', async (t) => {
  const input = deploy();
  const before = structuredClone(input);
  const d = applyDefaults(input) as Any;
  t.same(input, before, 'the input is not modified');
  t.equal(d.metadata.namespace, 'default');
  t.equal(d.spec.replicas, 1);
  t.same(d.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
  t.equal(d.spec.revisionHistoryLimit, 10);
  t.equal(d.spec.progressDeadlineSeconds, 600);
  t.equal(d.spec.minReadySeconds, 0);
  const ps = d.spec.template.spec;
  t.equal(ps.restartPolicy, 'Always');
  t.equal(ps.terminationGracePeriodSeconds, 30);
  t.equal(ps.dnsPolicy, 'ClusterFirst');
  t.equal(ps.schedulerName, 'default-scheduler');
  const c = ps.containers[0];
  t.equal(c.imagePullPolicy, 'IfNotPresent');
  t.equal(c.terminationMessagePath, '/dev/termination-log');
  t.equal(c.terminationMessagePolicy, 'File');
  t.equal(c.ports[0].protocol, 'TCP');
  t.same(c.livenessProbe, { httpGet: { port: 80, path: '/', scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
  t.equal(c.readinessProbe.periodSeconds, 10);
  t.same(c.resources.requests, { cpu: '100m', memory: '64Mi' }, 'a limit without a request becomes the request');
  t.equal(c.env[0].valueFrom.fieldRef.apiVersion, 'v1');
  t.equal(ps.volumes[0].secret.defaultMode, 0o400, 'pifleet mounts secrets 0400 by default');
  t.equal(ps.volumes[0].secret.defaultMode, SECRET_VOLUME_MODE);
  t.equal(ps.volumes[1].configMap.defaultMode, 420);
  t.equal(ps.volumes[2].secret.defaultMode, 0o440, 'an explicit mode stays');
});

t.test('keeps values the manifest sets and is idempotent', async (t) => {
  const d = deploy();
  d.metadata.namespace = 'team-a';
  d.spec.replicas = 0;
  d.spec.strategy = { type: 'Recreate' };
  d.spec.template.spec.restartPolicy = 'Always';
  d.spec.template.spec.terminationGracePeriodSeconds = 5;
  const once = applyDefaults(d) as Any;
  t.equal(once.metadata.namespace, 'team-a');
  t.equal(once.spec.replicas, 0);
  t.same(once.spec.strategy, { type: 'Recreate' });
  t.equal(once.spec.template.spec.terminationGracePeriodSeconds, 5);
  t.same(applyDefaults(once), once);
});

t.test('chooses the pull policy from the image tag', async (t) => {
  const table: Array<[string, string]> = [
    ['nginx', 'Always'], ['nginx:latest', 'Always'], ['nginx:1.25', 'IfNotPresent'],
    ['registry.local:5000/app', 'Always'], ['registry.local:5000/app:v2', 'IfNotPresent'],
    ['app@sha256:0123abcd', 'IfNotPresent'], ['registry.local:5000/team/app:latest', 'Always'],
  ];
  for (const [image, want] of table) t.equal(defaultPullPolicy(image), want, image);
});

t.test('defaults ReplicaSets, DaemonSets and Pods', async (t) => {
  const r = applyDefaults({ ...deploy(), kind: 'ReplicaSet' }) as Any;
  t.equal(r.spec.replicas, 1);
  t.equal(r.spec.strategy, undefined);
  const ds = applyDefaults({ ...deploy(), kind: 'DaemonSet' }) as Any;
  t.same(ds.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
  t.equal(ds.spec.revisionHistoryLimit, 10);
  t.equal(ds.spec.replicas, undefined);
  const p = applyDefaults({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } }) as Any;
  t.equal(p.spec.restartPolicy, 'Always');
  t.equal(p.spec.containers[0].imagePullPolicy, 'Always');
  const n = applyDefaults({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } }) as Any;
  t.equal(n.metadata.namespace, undefined, 'cluster-scoped kinds get no namespace');
});

t.test('defaults Jobs, keeping a work queue without completions, and leaves the restart policy to the manifest', async (t) => {
  const base = (): Any => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x:1' }] } } } });
  const j = applyDefaults(base()) as Any;
  t.equal(j.spec.parallelism, 1);
  t.equal(j.spec.completions, 1);
  t.equal(j.spec.backoffLimit, 6);
  t.equal(j.spec.completionMode, 'NonIndexed');
  t.equal(j.spec.suspend, false);
  t.equal(j.spec.manualSelector, undefined);
  t.equal(j.spec.template.spec.restartPolicy, 'Never');
  const queue = base();
  queue.spec.parallelism = 4;
  const q = applyDefaults(queue) as Any;
  t.equal(q.spec.parallelism, 4);
  t.equal(q.spec.completions, undefined, 'a work queue keeps completions unset');
  const fixed = base();
  fixed.spec.completions = 5;
  t.equal((applyDefaults(fixed) as Any).spec.parallelism, 1);
  const noRestart = base();
  delete noRestart.spec.template.spec.restartPolicy;
  t.equal((applyDefaults(noRestart) as Any).spec.template.spec.restartPolicy, undefined);
});

t.test('defaults CronJobs and the pod template of their job template', async (t) => {
  const c = applyDefaults({
    apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c' },
    spec: { schedule: '@daily', jobTemplate: { spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'c', image: 'x:1' }] } } } } },
  }) as Any;
  t.equal(c.spec.concurrencyPolicy, 'Allow');
  t.equal(c.spec.suspend, false);
  t.equal(c.spec.successfulJobsHistoryLimit, 3);
  t.equal(c.spec.failedJobsHistoryLimit, 1);
  t.equal(c.spec.jobTemplate.spec.template.spec.terminationGracePeriodSeconds, 30);
  t.equal(c.spec.jobTemplate.spec.template.spec.restartPolicy, 'OnFailure');
});

t.test('defaults Services: type, protocol, targetPort and session affinity', async (t) => {
  const s = applyDefaults({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 80 }, { port: 53, protocol: 'UDP', targetPort: 5353 }, { port: 81, targetPort: 'http' }] } }) as Any;
  t.equal(s.spec.type, 'ClusterIP');
  t.equal(s.spec.sessionAffinity, 'None');
  t.same(s.spec.ports, [{ port: 80, protocol: 'TCP', targetPort: 80 }, { port: 53, protocol: 'UDP', targetPort: 5353 }, { port: 81, protocol: 'TCP', targetPort: 'http' }]);
  t.equal(s.spec.externalTrafficPolicy, undefined);
  const np = applyDefaults({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { type: 'NodePort', ports: [{ port: 80 }] } }) as Any;
  t.equal(np.spec.externalTrafficPolicy, 'Cluster');
});

t.test('defaults Secrets to Opaque and merges stringData into data as base64', async (t) => {
  const s = applyDefaults({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { a: 'eA==', b: 'eQ==' }, stringData: { b: 'plain', c: 'ü' } }) as Any;
  t.equal(s.type, 'Opaque');
  t.equal(s.stringData, undefined);
  t.same(s.data, { a: 'eA==', b: Buffer.from('plain').toString('base64'), c: Buffer.from('ü').toString('base64') });
  t.same(applyDefaults(s), s);
  t.same(effectiveSecretData({ stringData: { k: 'v' } }), { k: 'dg==' });
  const typed = applyDefaults({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, type: 'kubernetes.io/tls' }) as Any;
  t.equal(typed.type, 'kubernetes.io/tls');
});

t.test('generates the Job selector and template labels from the uid unless the selector is manual', async (t) => {
  const job: KObject = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'backup' }, spec: { template: { metadata: { labels: { team: 'a' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x:1' }] } } } };
  const j = defaultJobSelector(job, 'u-1') as Any;
  t.same(j.spec.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': 'u-1' } });
  t.same(j.spec.template.metadata.labels, {
    team: 'a', 'batch.kubernetes.io/controller-uid': 'u-1', 'batch.kubernetes.io/job-name': 'backup', 'controller-uid': 'u-1', 'job-name': 'backup',
  });
  t.equal((job.spec as Any).selector, undefined, 'the input is not modified');
  t.same(defaultJobSelector(j, 'u-1'), j, 'idempotent');
  const manual = defaultJobSelector({ ...job, spec: { ...(job.spec as Any), manualSelector: true, selector: { matchLabels: { team: 'a' } } } }, 'u-1') as Any;
  t.same(manual.spec.selector, { matchLabels: { team: 'a' } });
  t.same(manual.spec.template.metadata.labels, { team: 'a' });
  const bare = defaultJobSelector({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'b' }, spec: { template: { spec: { containers: [] } } } }, 'u-2') as Any;
  t.equal(bare.spec.template.metadata.labels['job-name'], 'b');
});

t.test('does not throw on odd shapes', async (t) => {
  for (const o of [{ kind: 'Deployment', metadata: { name: 'x' }, spec: 5 }, { kind: 'Pod', metadata: { name: 'x' }, spec: { containers: [null, 3] } }, { kind: 'Service', metadata: { name: 's' }, spec: { ports: 'x' } }]) {
    t.doesNotThrow(() => applyDefaults(o as never));
  }
});
