import t, { type Test } from 'tap';
import { validateObject, validateUpdate, scheduleProblem, timeZoneProblem, base64Problem, MAX_OBJECT_BYTES } from '../../../daemon/src/api/validate.js';
import { applyDefaults, defaultJobSelector } from '../../../daemon/src/api/defaults.js';
import type { KObject } from '../../../daemon/src/api/types.js';

// Fixtures are plain JSON-ish objects the tests mutate freely.
type Any = any;

const podSpec = (): Any => ({ containers: [{ name: 'web', image: 'nginx:1.25' }] });
const deploy = (): Any => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', labels: { app: 'web' } },
  spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: podSpec() } },
});
const rs = (): Any => ({ ...deploy(), kind: 'ReplicaSet' });
const ds = (): Any => { const d = deploy(); delete d.spec.replicas; return { ...d, kind: 'DaemonSet' }; };
const pod = (): Any => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: podSpec() });
const job = (): Any => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: { template: { spec: { ...podSpec(), restartPolicy: 'Never' } } } });
const cron = (): Any => ({
  apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c' },
  spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: { spec: { ...podSpec(), restartPolicy: 'OnFailure' } } } } },
});
const svc = (): Any => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } });
const cm = (): Any => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { 'app.conf': 'x=1' } });
const secret = (): Any => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { password: Buffer.from('hunter2').toString('base64') } });
const ns = (): Any => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } });

function show(errs: Array<{ path: string; reason: string }>): string {
  return errs.map((e) => `${e.path}: ${e.reason}`).join('\n') || '(no errors)';
}

/** The object is rejected with an error at `path` whose reason contains `reason`. */
function rejects(t: Test, obj: unknown, path: string, reason: string | RegExp): void {
  const errs = validateObject(obj);
  const hit = errs.some((e) => e.path === path && (typeof reason === 'string' ? e.reason.includes(reason) : reason.test(e.reason)));
  t.ok(hit, `expected ${path}: ${String(reason)}\n got:\n${show(errs)}`);
}

function accepts(t: Test, obj: unknown): void {
  const errs = validateObject(obj);
  t.same(errs, [], show(errs));
}

/** Apply a change to a fresh fixture. */
function w<T>(make: () => T, change: (o: Any) => void): T {
  const o = make();
  change(o);
  return o;
}

t.test('accepts valid objects of every supported kind', async (t) => {
  for (const make of [deploy, rs, ds, pod, job, cron, svc, cm, secret, ns]) accepts(t, make());
});

t.test('accepts its own defaulted output and stored Jobs with a generated selector', async (t) => {
  for (const make of [deploy, rs, ds, pod, job, cron, svc, cm, secret, ns]) accepts(t, applyDefaults(make()));
  const stored = defaultJobSelector(applyDefaults(job()), '0c9a1c4e-0000-4000-8000-000000000001');
  accepts(t, { ...stored, metadata: { ...stored.metadata, uid: 'u', resourceVersion: '5', creationTimestamp: '2026-01-01T00:00:00Z' }, status: { active: 1 } });
});

t.test('never throws on values that are not manifests and says what is wrong', async (t) => {
  const weird: unknown[] = [null, undefined, 42, 'text', [], [deploy()], true, {}, { kind: 5 }, { kind: 'Pod', apiVersion: 'v1', metadata: 'x', spec: [] },
    { kind: 'Deployment', apiVersion: 'apps/v1', metadata: { name: 'x' }, spec: { selector: 'x', template: 7, replicas: '3' } },
    { kind: 'Deployment', apiVersion: 'apps/v1', metadata: { name: ['x'], labels: [1] }, spec: { selector: { matchLabels: 5, matchExpressions: {} }, template: { spec: { containers: [null, 5, { name: 3, ports: 'x', env: 9, resources: [] }], volumes: [null] } } } },
    { kind: 'Secret', apiVersion: 'v1', metadata: { name: 's' }, data: 7, stringData: [] },
    { kind: 'CronJob', apiVersion: 'batch/v1', metadata: { name: 'c' }, spec: { schedule: 5, jobTemplate: null, timeZone: {} } },
    { kind: 'Service', apiVersion: 'v1', metadata: { name: 's' }, spec: { ports: [null, { port: 'x' }] } }];
  for (const v of weird) {
    let errs: Array<{ path: string; reason: string }> = [];
    t.doesNotThrow(() => { errs = validateObject(v); }, JSON.stringify(v));
    t.ok(errs.length > 0, `errors for ${JSON.stringify(v)}`);
    for (const e of errs) t.type(e.reason, 'string');
  }
  rejects(t, 42, '', 'a manifest must be a mapping');
  rejects(t, { kind: 'Deployment', apiVersion: 'apps/v1', metadata: { name: 'x' }, spec: { replicas: '3', selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: podSpec() } } }, 'spec.replicas', 'must be an integer');
});

t.test('rejects unknown kinds and wrong apiVersions listing what pifleet serves', async (t) => {
  rejects(t, { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'x' } }, 'kind', /pifleet does not serve this kind; it serves v1 Namespace, Pod.*apps\/v1 Deployment.*batch\/v1 Job, CronJob/);
  rejects(t, { apiVersion: 'v1', metadata: { name: 'x' } }, 'kind', 'Required value');
  rejects(t, w(deploy, (d) => { d.apiVersion = 'extensions/v1beta1'; }), 'apiVersion', 'Deployment is served as apiVersion apps/v1');
  rejects(t, w(deploy, (d) => { delete d.apiVersion; }), 'apiVersion', 'Required value');
});

t.test('checks metadata.name as a DNS-1123 subdomain, or a label for Namespaces and DNS-1035 for Services', async (t) => {
  rejects(t, w(deploy, (d) => { d.metadata.name = 'Web_1'; }), 'metadata.name', 'Invalid value: "Web_1": a lowercase RFC 1123 subdomain must consist of');
  rejects(t, w(deploy, (d) => { d.metadata.name = 'a'.repeat(254); }), 'metadata.name', 'must be no more than 253 characters');
  accepts(t, w(deploy, (d) => { d.metadata.name = 'web.v2'; }));
  rejects(t, w(ns, (n) => { n.metadata.name = 'team.a'; }), 'metadata.name', 'a lowercase RFC 1123 label must consist of');
  rejects(t, w(svc, (s) => { s.metadata.name = '1web'; }), 'metadata.name', 'a DNS-1035 label must consist of');
  rejects(t, w(cron, (c) => { c.metadata.name = 'c'.repeat(53); }), 'metadata.name', 'must be no more than 52 characters');
  rejects(t, w(pod, (p) => { delete p.metadata.name; }), 'metadata.name', 'Required value');
  rejects(t, w(pod, (p) => { delete p.metadata; }), 'metadata.name', 'Required value');
  rejects(t, w(pod, (p) => { p.metadata.namespace = 'Team_A'; }), 'metadata.namespace', 'RFC 1123 label');
});

t.test('checks label keys and values and the total size of annotations', async (t) => {
  rejects(t, w(deploy, (d) => { d.metadata.labels['bad key'] = 'x'; }), 'metadata.labels', 'Invalid value: "bad key": name part must consist of');
  rejects(t, w(deploy, (d) => { d.metadata.labels['Example.com/x'] = 'x'; }), 'metadata.labels', 'prefix part a lowercase RFC 1123 subdomain');
  rejects(t, w(deploy, (d) => { d.metadata.labels['a/b/c'] = 'x'; }), 'metadata.labels', 'a qualified name must consist of');
  rejects(t, w(deploy, (d) => { d.metadata.labels.x = 'v'.repeat(64); }), 'metadata.labels', 'must be no more than 63 characters');
  rejects(t, w(deploy, (d) => { d.metadata.labels.x = '-bad'; }), 'metadata.labels', 'a valid label must be an empty string or consist of');
  rejects(t, w(deploy, (d) => { d.spec.template.metadata.labels['k8s.io/'] = 'x'; }), 'spec.template.metadata.labels', 'name part must be non-empty');
  accepts(t, w(deploy, (d) => { d.metadata.labels['app.kubernetes.io/name'] = 'web'; d.metadata.labels.empty = ''; }));
  rejects(t, w(deploy, (d) => { d.metadata.annotations = { big: 'x'.repeat(256 * 1024) }; }), 'metadata.annotations', 'Too long: must have at most 262144 bytes');
  accepts(t, w(deploy, (d) => { d.metadata.annotations = { big: 'x'.repeat(200 * 1024) }; }));
});

t.test('annotations over 256 KiB are refused with the field path, keys and values counted in bytes, wherever they are', async (t) => {
  const limit = 256 * 1024;
  // keys count too: 'k' + value of limit bytes is one byte over
  rejects(t, w(deploy, (d) => { d.metadata.annotations = { k: 'x'.repeat(limit) }; }), 'metadata.annotations', 'Too long: must have at most 262144 bytes');
  accepts(t, w(deploy, (d) => { d.metadata.annotations = { k: 'x'.repeat(limit - 1) }; }));
  // bytes, not characters: 'é' is 2 bytes in UTF-8
  rejects(t, w(deploy, (d) => { d.metadata.annotations = { a: 'é'.repeat(limit / 2) }; }), 'metadata.annotations', 'Too long');
  // the total of all annotations, not each one
  rejects(t, w(pod, (p) => { p.metadata.annotations = { a: 'x'.repeat(limit / 2), b: 'y'.repeat(limit / 2) }; }), 'metadata.annotations', 'Too long');
  rejects(t, w(deploy, (d) => { d.spec.template.metadata.annotations = { big: 'x'.repeat(limit + 1) }; }), 'spec.template.metadata.annotations', 'Too long: must have at most 262144 bytes');
  rejects(t, w(cron, (c) => { c.spec.jobTemplate.metadata = { annotations: { big: 'x'.repeat(limit + 1) } }; }), 'spec.jobTemplate.metadata.annotations', 'Too long');
  rejects(t, w(cron, (c) => { c.spec.jobTemplate.spec.template.metadata = { annotations: { big: 'x'.repeat(limit + 1) } }; }), 'spec.jobTemplate.spec.template.metadata.annotations', 'Too long');
});

t.test('labels keep their own rules: keys and values are checked, in templates and selectors too', async (t) => {
  rejects(t, w(deploy, (d) => { d.spec.template.metadata.labels.x = 'v'.repeat(64); d.spec.selector.matchLabels.x = 'v'.repeat(64); }), 'spec.selector.matchLabels', 'must be no more than 63 characters');
  rejects(t, w(deploy, (d) => { d.spec.template.metadata.labels.x = 'v'.repeat(64); }), 'spec.template.metadata.labels', 'must be no more than 63 characters');
  rejects(t, w(deploy, (d) => { d.metadata.labels[`${'a'.repeat(254)}/x`] = 'v'; }), 'metadata.labels', 'prefix part must be no more than 253 characters');
  rejects(t, w(cron, (c) => { c.spec.jobTemplate.metadata = { labels: { 'bad key': 'x' } }; }), 'spec.jobTemplate.metadata.labels', 'name part must consist of');
});

t.test('an object over 1.5 MiB as JSON is refused, naming the object and the limit; one just under is accepted', async (t) => {
  t.equal(MAX_OBJECT_BYTES, 1572864, "Kubernetes' request limit");
  const big = w(cm, (c) => { c.binaryData = { a: 'x'.repeat(MAX_OBJECT_BYTES) }; });
  rejects(t, big, '', 'Request entity too large: ConfigMap "cfg" is ');
  rejects(t, big, '', 'over the limit of 1572864 bytes (1.5 MiB');
  t.equal(validateObject(big).length, 1, 'nothing else is checked in an object that large');
  // the data limit (1 MiB) is Kubernetes' own; an object holding the full 1 MiB of data fits
  accepts(t, w(cm, (c) => { c.data = { a: 'x'.repeat(1024 * 1024 - 1) }; }));
  const under = w(pod, (p) => { p.metadata.annotations = { a: 'x'.repeat(200 * 1024) }; p.spec.containers[0].args = ['x'.repeat(MAX_OBJECT_BYTES - 205 * 1024)]; });
  accepts(t, under);
});

t.test('an oversized object with oversized annotations says both, the annotations with their field path', async (t) => {
  const huge = w(deploy, (d) => { d.metadata.annotations = { big: 'x'.repeat(MAX_OBJECT_BYTES) }; });
  rejects(t, huge, '', 'Request entity too large: Deployment "web"');
  rejects(t, huge, 'metadata.annotations', 'Too long: must have at most 262144 bytes');
});

t.test('checks Secret keys, base64 values and the keys each Secret type needs, without echoing secret values', async (t) => {
  rejects(t, w(secret, (s) => { s.data['bad key'] = 'eA=='; }), 'data[bad key]', 'a valid config key must consist of');
  rejects(t, w(secret, (s) => { s.stringData = { '..x': 'y' }; }), 'stringData[..x]', "must not start with '..'");
  const bad = w(secret, (s) => { s.data.password = 'hunter2!'; });
  rejects(t, bad, 'data[password]', 'illegal base64 data at input byte 7');
  t.notMatch(show(validateObject(bad)), /hunter2/, 'the value is not echoed');
  rejects(t, w(secret, (s) => { s.data.password = 'eA='; }), 'data[password]', 'illegal base64 data');
  accepts(t, w(secret, (s) => { s.data.password = 'aHVu\ndGVyMg=='; s.stringData = { user: 'plain text' }; }));
  rejects(t, w(secret, (s) => { s.type = 'kubernetes.io/tls'; }), 'data[tls.crt]', 'Required value');
  accepts(t, w(secret, (s) => { s.type = 'kubernetes.io/tls'; s.stringData = { 'tls.crt': 'c', 'tls.key': 'k' }; }));
  rejects(t, w(secret, (s) => { s.type = 'kubernetes.io/dockerconfigjson'; s.stringData = { '.dockerconfigjson': '{not json' }; }), 'data[.dockerconfigjson]', 'not valid JSON');
  accepts(t, w(secret, (s) => { s.type = 'kubernetes.io/dockerconfigjson'; s.stringData = { '.dockerconfigjson': '{"auths":{}}' }; }));
  rejects(t, w(secret, (s) => { s.type = 'kubernetes.io/basic-auth'; s.data = {}; }), 'data[username]', 'Required value');
  rejects(t, w(secret, (s) => { s.type = 5; }), 'type', 'must be a string');
  const typed = w(secret, (s) => { s.data.pin = 987654321; });
  rejects(t, typed, 'data[pin]', 'Invalid value: "<secret contents redacted>": must be a string');
  t.notMatch(show(validateObject(typed)), /987654321/, 'a wrongly typed value is not echoed either');
});

t.test('checks ConfigMap keys, binaryData and its size', async (t) => {
  rejects(t, w(cm, (c) => { c.data['a b'] = 'x'; }), 'data[a b]', 'a valid config key');
  rejects(t, w(cm, (c) => { c.binaryData = { 'app.conf': 'eA==' }; }), 'data[app.conf]', 'duplicate of key present in binaryData');
  rejects(t, w(cm, (c) => { c.binaryData = { bin: '!!' }; }), 'binaryData[bin]', 'illegal base64 data at input byte 0');
  accepts(t, w(cm, (c) => { c.binaryData = { bin: 'AAEC' }; c.immutable = true; }));
  rejects(t, w(cm, (c) => { c.data = { a: 'x'.repeat(600 * 1024), b: 'y'.repeat(500 * 1024) }; }), 'data', 'Too long: must have at most 1048576 bytes');
});

t.test('checks container names: DNS-1123 labels, unique across a pod', async (t) => {
  rejects(t, w(pod, (p) => { p.spec.containers[0].name = 'Web'; }), 'spec.containers[0].name', 'a lowercase RFC 1123 label');
  rejects(t, w(pod, (p) => { p.spec.containers.push({ name: 'web', image: 'x:1' }); }), 'spec.containers[1].name', 'Duplicate value: "web"');
  rejects(t, w(pod, (p) => { p.spec.initContainers = [{ name: 'web', image: 'x:1' }]; }), 'spec.containers[0].name', 'Duplicate value');
  rejects(t, w(pod, (p) => { delete p.spec.containers[0].name; }), 'spec.containers[0].name', 'Required value');
  accepts(t, w(pod, (p) => { p.spec.containers.push({ name: 'sidecar', image: 'x:1' }); }));
});

t.test('requires containers and an image in every container', async (t) => {
  rejects(t, w(deploy, (d) => { delete d.spec.template.spec.containers[0].image; }), 'spec.template.spec.containers[0].image', 'Required value');
  rejects(t, w(pod, (p) => { p.spec.containers = []; }), 'spec.containers', 'Required value');
  rejects(t, w(pod, (p) => { delete p.spec; }), 'spec.containers', 'Required value');
  rejects(t, w(pod, (p) => { p.spec.containers[0].image = ' nginx'; }), 'spec.containers[0].image', 'whitespace');
});

t.test('checks ports: range 1-65535, protocol, names unique and IANA-style', async (t) => {
  const withPorts = (ports: unknown[]): Any => w(pod, (p) => { p.spec.containers[0].ports = ports; });
  rejects(t, withPorts([{ containerPort: 0 }]), 'spec.containers[0].ports[0].containerPort', 'Invalid value: 0: must be between 1 and 65535, inclusive');
  rejects(t, withPorts([{ containerPort: 70000 }]), 'spec.containers[0].ports[0].containerPort', 'must be between 1 and 65535');
  rejects(t, withPorts([{ containerPort: 80, hostPort: 70000 }]), 'spec.containers[0].ports[0].hostPort', 'must be between 1 and 65535');
  rejects(t, withPorts([{ containerPort: 80, name: 'http' }, { containerPort: 81, name: 'http' }]), 'spec.containers[0].ports[1].name', 'Duplicate value: "http"');
  rejects(t, withPorts([{ containerPort: 80, name: 'web_http' }]), 'spec.containers[0].ports[0].name', 'must contain only alpha-numeric characters');
  rejects(t, withPorts([{ containerPort: 80, name: 'a-very-long-port-name' }]), 'spec.containers[0].ports[0].name', 'must be no more than 15 characters');
  rejects(t, withPorts([{ containerPort: 80, protocol: 'HTTP' }]), 'spec.containers[0].ports[0].protocol', 'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"');
  rejects(t, withPorts([{ containerPort: 80.5 }]), 'spec.containers[0].ports[0].containerPort', 'must be an integer');
  accepts(t, withPorts([{ containerPort: 80, name: 'http' }, { containerPort: 443, name: 'https', hostPort: 8443, protocol: 'TCP' }]));
});

t.test('allows only the restart policies each kind supports', async (t) => {
  rejects(t, w(deploy, (d) => { d.spec.template.spec.restartPolicy = 'OnFailure'; }), 'spec.template.spec.restartPolicy', 'Unsupported value: "OnFailure": supported values: "Always"');
  rejects(t, w(ds, (d) => { d.spec.template.spec.restartPolicy = 'Never'; }), 'spec.template.spec.restartPolicy', 'supported values: "Always"');
  accepts(t, w(deploy, (d) => { d.spec.template.spec.restartPolicy = 'Always'; }));
  rejects(t, w(job, (j) => { j.spec.template.spec.restartPolicy = 'Always'; }), 'spec.template.spec.restartPolicy', 'Unsupported value: "Always": supported values: "OnFailure", "Never"');
  rejects(t, w(job, (j) => { delete j.spec.template.spec.restartPolicy; }), 'spec.template.spec.restartPolicy', 'Required value: valid values: "OnFailure", "Never"');
  rejects(t, w(cron, (c) => { delete c.spec.jobTemplate.spec.template.spec.restartPolicy; }), 'spec.jobTemplate.spec.template.spec.restartPolicy', 'Required value');
  accepts(t, w(pod, (p) => { p.spec.restartPolicy = 'OnFailure'; }));
  rejects(t, w(pod, (p) => { p.spec.restartPolicy = 'Sometimes'; }), 'spec.restartPolicy', 'Unsupported value: "Sometimes"');
});

t.test('requires a non-empty selector that matches the template labels', async (t) => {
  for (const make of [deploy, rs, ds]) {
    rejects(t, w(make, (d) => { d.spec.selector = {}; }), 'spec.selector', 'empty selector is invalid');
    rejects(t, w(make, (d) => { delete d.spec.selector; }), 'spec.selector', 'Required value');
    rejects(t, w(make, (d) => { d.spec.selector.matchLabels = { app: 'db' }; }), 'spec.template.metadata.labels', '`selector` does not match template `labels`');
    rejects(t, w(make, (d) => { delete d.spec.template.metadata; }), 'spec.template.metadata.labels', 'does not match');
    accepts(t, w(make, (d) => { d.spec.selector = { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] }; }));
  }
  rejects(t, w(deploy, (d) => { d.spec.selector.matchExpressions = [{ key: 'app', operator: 'Is', values: ['x'] }]; }), 'spec.selector.matchExpressions[0].operator', 'not a valid selector operator');
  rejects(t, w(deploy, (d) => { d.spec.selector.matchExpressions = [{ key: 'app', operator: 'In' }]; }), 'spec.selector.matchExpressions[0].values', 'Required value');
  rejects(t, w(deploy, (d) => { d.spec.selector.matchExpressions = [{ key: 'app', operator: 'Exists', values: ['x'] }]; }), 'spec.selector.matchExpressions[0].values', 'Forbidden');
});

t.test('rejects negative replicas and bad rolling update settings', async (t) => {
  rejects(t, w(deploy, (d) => { d.spec.replicas = -1; }), 'spec.replicas', 'Invalid value: -1: must be greater than or equal to 0');
  rejects(t, w(rs, (d) => { d.spec.replicas = -3; }), 'spec.replicas', 'must be greater than or equal to 0');
  accepts(t, w(deploy, (d) => { d.spec.replicas = 0; }));
  rejects(t, w(deploy, (d) => { d.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 0 } }; }), 'spec.strategy.rollingUpdate.maxUnavailable', 'may not be 0 when `maxSurge` is 0');
  rejects(t, w(deploy, (d) => { d.spec.strategy = { rollingUpdate: { maxUnavailable: '150%' } }; }), 'spec.strategy.rollingUpdate.maxUnavailable', 'must not be greater than 100%');
  rejects(t, w(deploy, (d) => { d.spec.strategy = { rollingUpdate: { maxSurge: 'lots' } }; }), 'spec.strategy.rollingUpdate.maxSurge', 'a valid percent string');
  rejects(t, w(deploy, (d) => { d.spec.strategy = { type: 'Recreate', rollingUpdate: { maxSurge: 1 } }; }), 'spec.strategy.rollingUpdate', 'Forbidden');
  rejects(t, w(deploy, (d) => { d.spec.progressDeadlineSeconds = 5; d.spec.minReadySeconds = 10; }), 'spec.progressDeadlineSeconds', 'must be greater than minReadySeconds');
  rejects(t, w(ds, (d) => { d.spec.updateStrategy = { rollingUpdate: { maxUnavailable: 0 } }; }), 'spec.updateStrategy.rollingUpdate.maxUnavailable', 'cannot be 0');
  accepts(t, w(deploy, (d) => { d.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } }; }));
  accepts(t, w(ds, (d) => { d.spec.updateStrategy = { type: 'OnDelete' }; }));
});

t.test('parses resource quantities and requires requests not to exceed limits', async (t) => {
  const withRes = (r: unknown): Any => w(pod, (p) => { p.spec.containers[0].resources = r; });
  rejects(t, withRes({ limits: { cpu: 'lots' } }), 'spec.containers[0].resources.limits[cpu]', 'quantities must match the regular expression');
  rejects(t, withRes({ requests: { memory: '-1Mi' } }), 'spec.containers[0].resources.requests[memory]', 'must be greater than or equal to 0');
  rejects(t, withRes({ limits: { cpu: '1' }, requests: { cpu: '1500m' } }), 'spec.containers[0].resources.requests', 'Invalid value: "1500m": must be less than or equal to cpu limit of 1');
  rejects(t, withRes({ limits: { memory: '128Mi' }, requests: { memory: '1Gi' } }), 'spec.containers[0].resources.requests', 'memory limit of 128Mi');
  rejects(t, withRes({ limits: { gpus: '1' } }), 'spec.containers[0].resources.limits[gpus]', 'must be a standard resource type or fully qualified');
  accepts(t, withRes({ limits: { cpu: 2, memory: '256Mi', 'example.com/dongle': '1' }, requests: { cpu: '250m', memory: '128M' } }));
  accepts(t, withRes({ limits: { cpu: '0.5', memory: '1e9' }, requests: { cpu: '.5', memory: '1G' } }));
});

t.test('requires exactly one probe handler and sane probe numbers', async (t) => {
  const withProbe = (which: string, p: unknown): Any => w(pod, (o) => { o.spec.containers[0][which] = p; });
  rejects(t, withProbe('livenessProbe', { periodSeconds: 5 }), 'spec.containers[0].livenessProbe', 'Required value: must specify a handler type');
  rejects(t, withProbe('readinessProbe', { httpGet: { port: 80 }, tcpSocket: { port: 80 } }), 'spec.containers[0].readinessProbe.tcpSocket', 'Forbidden: may not specify more than 1 handler type');
  rejects(t, withProbe('livenessProbe', { exec: { command: ['true'] }, successThreshold: 2 }), 'spec.containers[0].livenessProbe.successThreshold', 'must be 1');
  rejects(t, withProbe('startupProbe', { tcpSocket: { port: 0 } }), 'spec.containers[0].startupProbe.tcpSocket.port', 'must be between 1 and 65535');
  rejects(t, withProbe('readinessProbe', { httpGet: { port: 'Web_Port' } }), 'spec.containers[0].readinessProbe.httpGet.port', 'must contain only alpha-numeric');
  rejects(t, withProbe('readinessProbe', { exec: { command: ['true'] }, periodSeconds: -1 }), 'spec.containers[0].readinessProbe.periodSeconds', 'must be greater than or equal to 0');
  rejects(t, withProbe('readinessProbe', { exec: {} }), 'spec.containers[0].readinessProbe.exec.command', 'Required value');
  accepts(t, withProbe('readinessProbe', { httpGet: { path: '/healthz', port: 'http' }, successThreshold: 2 }));
  accepts(t, withProbe('livenessProbe', { exec: { command: ['cat', '/tmp/ok'] }, initialDelaySeconds: 5 }));
  rejects(t, w(pod, (p) => { p.spec.initContainers = [{ name: 'init', image: 'x:1', livenessProbe: { exec: { command: ['true'] } } }]; }), 'spec.initContainers[0].livenessProbe', 'Forbidden');
});

t.test('checks environment variable names and valueFrom sources', async (t) => {
  const withEnv = (env: unknown): Any => w(pod, (p) => { p.spec.containers[0].env = env; });
  rejects(t, withEnv([{ name: '1ST', value: 'x' }]), 'spec.containers[0].env[0].name', 'a valid environment variable name must consist of');
  rejects(t, withEnv([{ name: 'A B', value: 'x' }]), 'spec.containers[0].env[0].name', 'Invalid value: "A B"');
  rejects(t, withEnv([{ name: 'A', value: 'x', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }]), 'spec.containers[0].env[0].valueFrom', 'may not be specified when `value` is not empty');
  rejects(t, withEnv([{ name: 'A', valueFrom: {} }]), 'spec.containers[0].env[0].valueFrom', 'must specify one of');
  rejects(t, withEnv([{ name: 'A', valueFrom: { secretKeyRef: { name: 's', key: 'k' }, configMapKeyRef: { name: 'c', key: 'k' } } }]), 'spec.containers[0].env[0].valueFrom', 'may not have more than one field');
  rejects(t, withEnv([{ name: 'A', valueFrom: { configMapKeyRef: { name: 'c', key: 'a b' } } }]), 'spec.containers[0].env[0].valueFrom.configMapKeyRef.key', 'a valid config key');
  accepts(t, withEnv([{ name: 'my.env-name', value: 'x' }, { name: 'B', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }]));
  rejects(t, w(pod, (p) => { p.spec.containers[0].envFrom = [{ prefix: '1x', configMapRef: { name: 'c' } }]; }), 'spec.containers[0].envFrom[0].prefix', 'environment variable name');
  rejects(t, w(pod, (p) => { p.spec.containers[0].envFrom = [{}]; }), 'spec.containers[0].envFrom[0]', 'must specify one of');
});

t.test('requires unique volume names, supported volume types and mounts that name a volume', async (t) => {
  const vol = (v: unknown[], mounts: unknown[] = []): Any => w(pod, (p) => { p.spec.volumes = v; p.spec.containers[0].volumeMounts = mounts; });
  rejects(t, vol([{ name: 'data', emptyDir: {} }, { name: 'data', emptyDir: {} }]), 'spec.volumes[1].name', 'Duplicate value: "data"');
  rejects(t, vol([{ name: 'data', emptyDir: {} }], [{ name: 'logs', mountPath: '/logs' }]), 'spec.containers[0].volumeMounts[0].name', 'Not found: "logs"');
  rejects(t, vol([{ name: 'data' }]), 'spec.volumes[0]', 'Required value: must specify a volume type');
  rejects(t, vol([{ name: 'data', emptyDir: {}, hostPath: { path: '/x' } }]), 'spec.volumes[0].hostPath', 'may not specify more than 1 volume type');
  rejects(t, vol([{ name: 'data', persistentVolumeClaim: { claimName: 'x' } }]), 'spec.volumes[0].persistentVolumeClaim', 'pifleet supports the volume types emptyDir, hostPath, configMap, secret');
  rejects(t, vol([{ name: 'Data', emptyDir: {} }]), 'spec.volumes[0].name', 'RFC 1123 label');
  rejects(t, vol([{ name: 's', secret: { defaultMode: 1000 } }]), 'spec.volumes[0].secret.secretName', 'Required value');
  rejects(t, vol([{ name: 's', secret: { secretName: 's', defaultMode: 1000 } }]), 'spec.volumes[0].secret.defaultMode', 'must be a number between 0 and 0777');
  rejects(t, vol([{ name: 'c', configMap: { name: 'c', items: [{ key: 'a', path: '../etc/passwd' }] } }]), 'spec.volumes[0].configMap.items[0].path', "must not contain '..'");
  rejects(t, vol([{ name: 'd', emptyDir: {} }], [{ name: 'd', mountPath: '/a' }, { name: 'd', mountPath: '/a' }]), 'spec.containers[0].volumeMounts[1].mountPath', 'must be unique');
  rejects(t, vol([{ name: 'd', emptyDir: {} }], [{ name: 'd', mountPath: '/a', subPath: '/abs' }]), 'spec.containers[0].volumeMounts[0].subPath', 'must be a relative path');
  rejects(t, vol([{ name: 'h', hostPath: {} }]), 'spec.volumes[0].hostPath.path', 'Required value');
  accepts(t, vol([{ name: 'data', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } }, { name: 'cfg', configMap: { name: 'c', defaultMode: 0o644 } }, { name: 'sec', secret: { secretName: 's' } }, { name: 'h', hostPath: { path: '/var/log' } }],
    [{ name: 'data', mountPath: '/data' }, { name: 'cfg', mountPath: '/etc/app', readOnly: true }, { name: 'sec', mountPath: '/run/secrets', subPath: 'x/y' }]));
});

t.test('checks node affinity, pod affinity, tolerations and host network ports', async (t) => {
  const withAff = (a: unknown): Any => w(pod, (p) => { p.spec.affinity = a; });
  const req = (exprs: unknown[]): Any => withAff({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: exprs }] } } });
  const base = 'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms';
  rejects(t, req([{ key: 'arch', operator: 'In' }]), `${base}[0].matchExpressions[0].values`, 'Required value');
  rejects(t, req([{ key: 'arch', operator: 'Gt', values: ['1', '2'] }]), `${base}[0].matchExpressions[0].values`, 'single value');
  rejects(t, req([{ key: 'mem', operator: 'Lt', values: ['lots'] }]), `${base}[0].matchExpressions[0].values[0]`, 'must be an integer');
  rejects(t, req([{ key: 'arch', operator: 'Like', values: ['arm'] }]), `${base}[0].matchExpressions[0].operator`, 'not a valid selector operator');
  rejects(t, withAff({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } }), base, 'must have at least one node selector term');
  rejects(t, withAff({ nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 500, preference: {} }] } }), 'spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight', 'range 1-100');
  rejects(t, withAff({ podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'web' } } }] } }), 'spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey', 'Required value');
  accepts(t, req([{ key: 'kubernetes.io/arch', operator: 'In', values: ['arm64'] }, { key: 'mem', operator: 'Gt', values: ['1024'] }, { key: 'gpu', operator: 'DoesNotExist' }]));
  accepts(t, withAff({ podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, podAffinityTerm: { labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'kubernetes.io/hostname' } }] } }));
  const tol = (x: unknown): Any => w(pod, (p) => { p.spec.tolerations = [x]; });
  rejects(t, tol({ operator: 'Equal', value: 'x' }), 'spec.tolerations[0].operator', 'operator must be Exists when `key` is empty');
  rejects(t, tol({ key: 'k', operator: 'Exists', value: 'x' }), 'spec.tolerations[0].operator', 'value must be empty');
  rejects(t, tol({ key: 'k', value: 'v', tolerationSeconds: 5, effect: 'NoSchedule' }), 'spec.tolerations[0].effect', "must be 'NoExecute'");
  accepts(t, tol({ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }));
  accepts(t, tol({ operator: 'Exists' }));
  rejects(t, w(pod, (p) => { p.spec.hostNetwork = true; p.spec.containers[0].ports = [{ containerPort: 80, hostPort: 8080 }]; }), 'spec.containers[0].ports[0].hostPort', 'must match `containerPort` when `hostNetwork` is true');
  accepts(t, w(pod, (p) => { p.spec.hostNetwork = true; p.spec.containers[0].ports = [{ containerPort: 80, hostPort: 80 }]; }));
});

t.test('checks CronJob schedules with cron-parser and time zones with Intl', async (t) => {
  for (const good of ['*/5 * * * *', '0 0 * * 1-5', '0 12 ? * MON', '30 2 1 JAN,JUL *', '@daily', '@hourly', '@yearly', '@annually', '@monthly', '@weekly', '@midnight']) {
    t.equal(scheduleProblem(good), undefined, good);
  }
  const bad: Array<[string, RegExp]> = [
    ['* * *', /5 fields.*this one has 3/],
    ['* * * * * *', /this one has 6/],
    ['61 * * * *', /unparseable schedule: Constraint error, got value 61 expected range 0-59/],
    ['@every 1h', /unparseable schedule/],
    ['TZ=UTC 0 * * * *', /cannot use TZ or CRON_TZ in schedule, use timeZone field instead/],
    ['0 0 L * *', /"L" is not allowed/],
    ['0 0 * * MON#2', /may hold only digits/],
    ['', /this one has 0/],
  ];
  for (const [s, re] of bad) t.match(scheduleProblem(s) ?? '', re, s);
  rejects(t, w(cron, (c) => { c.spec.schedule = '*/5 * * *'; }), 'spec.schedule', 'Invalid value: "*/5 * * *": unparseable schedule');
  rejects(t, w(cron, (c) => { c.spec.timeZone = 'Mars/Olympus_Mons'; }), 'spec.timeZone', 'unknown time zone Mars/Olympus_Mons');
  rejects(t, w(cron, (c) => { c.spec.timeZone = 'Local'; }), 'spec.timeZone', 'must be an explicit time zone');
  t.equal(timeZoneProblem('Europe/Berlin'), undefined);
  t.equal(timeZoneProblem('Etc/UTC'), undefined);
  t.match(timeZoneProblem('+01:00') ?? '', /unknown time zone/);
  accepts(t, w(cron, (c) => { c.spec.timeZone = 'America/New_York'; c.spec.concurrencyPolicy = 'Forbid'; c.spec.startingDeadlineSeconds = 100; }));
  rejects(t, w(cron, (c) => { c.spec.concurrencyPolicy = 'Sometimes'; }), 'spec.concurrencyPolicy', 'Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"');
  rejects(t, w(cron, (c) => { c.spec.successfulJobsHistoryLimit = -1; }), 'spec.successfulJobsHistoryLimit', 'must be greater than or equal to 0');
  rejects(t, w(cron, (c) => { delete c.spec.schedule; }), 'spec.schedule', 'Required value');
});

t.test('checks Job counts, Indexed completion and manual selectors', async (t) => {
  for (const f of ['parallelism', 'completions', 'backoffLimit', 'activeDeadlineSeconds', 'ttlSecondsAfterFinished']) {
    rejects(t, w(job, (j) => { j.spec[f] = -1; }), `spec.${f}`, 'must be greater than or equal to 0');
  }
  rejects(t, w(job, (j) => { j.spec.completionMode = 'Indexed'; }), 'spec.completions', 'Required value: when completion mode is Indexed');
  accepts(t, w(job, (j) => { j.spec.completionMode = 'Indexed'; j.spec.completions = 3; j.spec.parallelism = 2; }));
  rejects(t, w(job, (j) => { j.spec.completionMode = 'Sometimes'; }), 'spec.completionMode', 'Unsupported value');
  rejects(t, w(job, (j) => { j.spec.selector = { matchLabels: { a: 'b' } }; }), 'spec.selector', '`selector` will be auto-generated');
  rejects(t, w(job, (j) => { j.spec.manualSelector = true; }), 'spec.selector', 'Required value');
  rejects(t, w(job, (j) => { j.spec.manualSelector = true; j.spec.selector = { matchLabels: { a: 'b' } }; }), 'spec.template.metadata.labels', 'does not match');
  accepts(t, w(job, (j) => { j.spec.manualSelector = true; j.spec.selector = { matchLabels: { a: 'b' } }; j.spec.template.metadata = { labels: { a: 'b' } }; }));
  accepts(t, w(job, (j) => { j.spec.parallelism = 3; }));
  rejects(t, w(job, (j) => { delete j.spec.template; }), 'spec.template', 'Required value');
});

t.test('checks Service ports, node ports, names and types', async (t) => {
  rejects(t, w(svc, (s) => { s.spec.ports[0].port = 0; }), 'spec.ports[0].port', 'must be between 1 and 65535');
  rejects(t, w(svc, (s) => { s.spec.ports[0].targetPort = 70000; }), 'spec.ports[0].targetPort', 'must be between 1 and 65535');
  rejects(t, w(svc, (s) => { s.spec.ports[0].nodePort = 30080; }), 'spec.ports[0].nodePort', "Forbidden: may not be used when `type` is 'ClusterIP'");
  rejects(t, w(svc, (s) => { s.spec.type = 'NodePort'; s.spec.ports[0].nodePort = 80; }), 'spec.ports[0].nodePort', 'The range of valid ports is 30000-32767');
  rejects(t, w(svc, (s) => { s.spec.ports.push({ port: 81 }); }), 'spec.ports[1].name', 'Required value');
  rejects(t, w(svc, (s) => { s.spec.ports = [{ name: 'a', port: 80 }, { name: 'a', port: 81 }]; }), 'spec.ports[1].name', 'Duplicate value: "a"');
  rejects(t, w(svc, (s) => { s.spec.ports = [{ name: 'a', port: 80 }, { name: 'b', port: 80 }]; }), 'spec.ports[1]', 'Duplicate value: {"port":80,"protocol":"TCP"}');
  rejects(t, w(svc, (s) => { s.spec.type = 'Magic'; }), 'spec.type', 'Unsupported value: "Magic"');
  rejects(t, w(svc, (s) => { s.spec.ports[0].targetPort = 1.5; }), 'spec.ports[0].targetPort', 'Invalid value: 1.5: must be a string or an integer');
  t.equal(validateObject(w(svc, (s) => { s.spec.ports[0].targetPort = 1.5; })).length, 1, 'one error per field, not one per schema alternative');
  rejects(t, w(svc, (s) => { s.spec.ports = []; }), 'spec.ports', 'Required value');
  rejects(t, w(svc, (s) => { s.spec.selector = { 'bad key': 'x' }; }), 'spec.selector', 'name part must consist');
  rejects(t, w(svc, (s) => { s.spec.clusterIP = '10.0.0.300'; }), 'spec.clusterIP', 'a valid IP address');
  accepts(t, w(svc, (s) => { s.spec.type = 'NodePort'; s.spec.ports = [{ name: 'http', port: 80, targetPort: 'http', nodePort: 30080 }, { name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53 }]; }));
  accepts(t, w(svc, (s) => { s.spec.clusterIP = 'None'; }));
});

t.test('forbids changing immutable fields on update', async (t) => {
  const d = applyDefaults(deploy()) as KObject;
  t.same(validateUpdate(d, structuredClone(d)), []);
  const d2 = structuredClone(d) as Any;
  d2.spec.selector = { matchLabels: { app: 'web', v: '2' } };
  t.match(validateUpdate(d, d2), [{ path: 'spec.selector', reason: /field is immutable/ }]);
  const d3 = structuredClone(d) as Any;
  d3.spec.replicas = 5;
  d3.spec.template.spec.containers[0].image = 'nginx:1.26';
  t.same(validateUpdate(d, d3), [], 'replicas and template of a Deployment may change');
  const renamed = structuredClone(d) as Any;
  renamed.metadata.name = 'other';
  t.match(validateUpdate(d, renamed), [{ path: 'metadata.name', reason: /field is immutable/ }]);

  const j = defaultJobSelector(applyDefaults(job()), 'uid-1');
  const j2 = structuredClone(j) as Any;
  j2.spec.template.spec.containers[0].image = 'other:1';
  t.match(validateUpdate(j, j2), [{ path: 'spec.template', reason: /field is immutable/ }]);
  const j3 = structuredClone(j) as Any;
  j3.spec.completions = 5;
  t.match(validateUpdate(j, j3), [{ path: 'spec.completions', reason: /field is immutable/ }]);
  const j4 = structuredClone(j) as Any;
  j4.spec.suspend = true;
  j4.spec.parallelism = 4;
  t.same(validateUpdate(j, j4), [], 'suspend and parallelism may change');
  const idx = applyDefaults(w(job, (x) => { x.spec.completionMode = 'Indexed'; x.spec.completions = 2; x.spec.parallelism = 2; }));
  const idx2 = structuredClone(idx) as Any;
  idx2.spec.completions = 4;
  idx2.spec.parallelism = 4;
  t.same(validateUpdate(idx, idx2), [], 'elastic Indexed Jobs may scale completions with parallelism');

  const s = applyDefaults(w(secret, (x) => { x.immutable = true; })) as Any;
  const s2 = structuredClone(s);
  s2.data.password = Buffer.from('other').toString('base64');
  t.match(validateUpdate(s, s2), [{ path: 'data', reason: /Forbidden: field is immutable when `immutable` is set/ }]);
  const s3 = structuredClone(s);
  delete s3.immutable;
  t.match(validateUpdate(s, s3), [{ path: 'immutable', reason: /Forbidden/ }]);
  const s4 = structuredClone(s);
  s4.type = 'kubernetes.io/tls';
  t.match(validateUpdate(s, s4), [{ path: 'type', reason: /field is immutable/ }]);
  const mutable = applyDefaults(secret()) as Any;
  const m2 = structuredClone(mutable);
  m2.data.password = 'eA==';
  t.same(validateUpdate(mutable, m2), [], 'a mutable Secret may change its data');

  const c = { ...cm(), immutable: true } as Any;
  t.match(validateUpdate(c, { ...c, data: { 'app.conf': 'x=2' } }), [{ path: 'data', reason: /Forbidden/ }]);
  const sv = w(svc, (x) => { x.spec.clusterIP = '10.96.0.10'; });
  t.match(validateUpdate(sv, w(svc, (x) => { x.spec.clusterIP = '10.96.0.11'; })), [{ path: 'spec.clusterIP', reason: /field is immutable/ }]);
  t.same(validateUpdate(sv, w(svc, (x) => { x.spec.clusterIP = '10.96.0.10'; x.spec.ports[0].port = 81; })), []);
  t.doesNotThrow(() => validateUpdate(null as never, 42 as never));
  t.ok(validateUpdate(null as never, 42 as never).length > 0);
});

t.test('base64 checking follows Go: padding, line breaks and where it breaks', async (t) => {
  t.equal(base64Problem(''), -1);
  t.equal(base64Problem('aGk='), -1);
  t.equal(base64Problem('aA=='), -1);
  t.equal(base64Problem('aGVs\nbG8='), -1);
  t.equal(base64Problem('aGk'), 0);
  t.equal(base64Problem('a==='), 1);
  t.equal(base64Problem('aG!k'), 2);
  t.equal(base64Problem('aA==aA=='), 2);
});
