import t, { type Test } from 'tap';
import { limitProblems, resolveLimits, validateObject, DEFAULT_LIMITS, MAX_OBJECT_BYTES } from '../../../daemon/src/api/validate.js';
import { loadManifests } from '../../../daemon/src/api/load.js';
import { ApiServer, ApiError, type ApiServerDeps } from '../../../daemon/src/apiserver/server.js';
import { topicsFor } from '../../../daemon/src/broker/topics.js';
import type { Bus } from '../../../daemon/src/broker/client.js';
import type { WorkloadLimits } from '../../../daemon/src/api/validate.js';
import type { Deployment, Job } from '../../../daemon/src/api/types.js';
import { env, get } from '../controllers/fixtures.js';

// Fixtures are plain JSON-ish objects the tests mutate freely.
type Any = any;

const deploy = (replicas: unknown = 2): Any => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', labels: { app: 'web' } },
  spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.25' }] } } },
});
const job = (spec: Record<string, unknown> = {}): Any => ({
  apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' },
  spec: { ...spec, template: { spec: { containers: [{ name: 'w', image: 'busybox:1' }], restartPolicy: 'Never' } } },
});
const cron = (spec: Record<string, unknown> = {}): Any => ({
  apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c' },
  spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { ...spec, template: { spec: { containers: [{ name: 'w', image: 'busybox:1' }], restartPolicy: 'OnFailure' } } } } },
});

// ------------------------------------------------------------------ the rule

t.test('replicas: 1000000000 is refused with the field path and the limit', async (t) => {
  t.same(limitProblems(deploy(1_000_000_000)), [{ path: 'spec.replicas', reason: 'Invalid value: 1000000000: must be less than or equal to 1000 (limits.maxReplicas)' }]);
  t.same(limitProblems({ ...deploy(1001), kind: 'ReplicaSet' }).map((e) => e.path), ['spec.replicas'], 'ReplicaSets too');
});

t.test('a value at the ceiling is accepted, one above it is not', async (t) => {
  t.same(limitProblems(deploy(DEFAULT_LIMITS.maxReplicas)), []);
  t.same(limitProblems(deploy(DEFAULT_LIMITS.maxReplicas + 1)).length, 1);
  t.same(limitProblems(deploy(0)), []);
});

t.test('Job parallelism and completions have ceilings of their own, in CronJob job templates too', async (t) => {
  t.same(limitProblems(job({ parallelism: 5000, completions: 20000 })), [
    { path: 'spec.parallelism', reason: 'Invalid value: 5000: must be less than or equal to 1000 (limits.maxParallelism)' },
    { path: 'spec.completions', reason: 'Invalid value: 20000: must be less than or equal to 1000 (limits.maxCompletions)' },
  ]);
  t.same(limitProblems(cron({ parallelism: 5000, completions: 20000 })).map((e) => e.path), ['spec.jobTemplate.spec.parallelism', 'spec.jobTemplate.spec.completions']);
  t.same(limitProblems(job({ parallelism: 1000, completions: 1000 })), []);
  t.same(limitProblems(job()), [], 'absent fields are fine (the defaults are 1)');
});

t.test('the ceilings come from the daemon config; unset or unusable values keep the defaults', async (t) => {
  const limits: Partial<WorkloadLimits> = { maxReplicas: 5, maxParallelism: 2 };
  t.same(limitProblems(deploy(6), limits), [{ path: 'spec.replicas', reason: 'Invalid value: 6: must be less than or equal to 5 (limits.maxReplicas)' }]);
  t.same(limitProblems(job({ parallelism: 3, completions: 1000 }), limits).map((e) => e.path), ['spec.parallelism']);
  t.same(limitProblems(deploy(5000), { maxReplicas: 10_000 }), []);
  t.same(resolveLimits({ maxReplicas: undefined, maxParallelism: 0, maxCompletions: 1.5 } as never), DEFAULT_LIMITS);
});

t.test('an update that does not raise a value already over its ceiling is accepted', async (t) => {
  const stored = deploy(3000); // stored before the ceiling was lowered
  t.same(limitProblems(deploy(3000), {}, stored), [], 'unchanged');
  t.same(limitProblems(deploy(2000), {}, stored), [], 'scaling down towards the ceiling');
  t.same(limitProblems(deploy(3001), {}, stored).map((e) => e.path), ['spec.replicas'], 'raising it is refused');
  t.same(limitProblems(deploy(3000), {}, { ...stored, kind: 'ReplicaSet' }).length, 1, 'another kind is not a previous version');
});

t.test('wrong types are left to the schema and the rule never throws', async (t) => {
  for (const bad of [null, 42, [], 'x', {}, { kind: 'Deployment' }, { kind: 'Deployment', spec: 5 }, deploy('many'), deploy(1e12 + 0.5)]) {
    t.same(limitProblems(bad), [], JSON.stringify(bad)?.slice(0, 60));
  }
});

t.test('the CLI-side validation leaves the configurable ceilings to the server', async (t) => {
  t.same(validateObject(deploy(1_000_000_000)), [], 'a valid int32: only the server knows its ceiling');
  const errs = validateObject(deploy(1e12));
  t.ok(errs.some((e) => e.path === 'spec.replicas' && /32-bit integer/.test(e.reason)), 'beyond int32 is a schema error');
});

// ------------------------------------------------------------------ FILE:LINE:COL

t.test('the CLI reports oversized annotations and objects as FILE:LINE:COL field: reason', async (t) => {
  const text = [
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: notes',
    '  annotations:',
    `    big: "${'x'.repeat(256 * 1024)}"`,
    'data:',
    '  a: "1"',
    '---',
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: huge',
    'data:',
    `  a: "${'x'.repeat(MAX_OBJECT_BYTES)}"`,
    '',
  ].join('\n');
  const { objects, errors } = loadManifests(text, 'big.yaml');
  t.same(objects, []);
  const lines = errors.map((e) => e.format().slice(0, 160));
  t.match(lines[0], /^big\.yaml:5:3 metadata\.annotations: Too long: must have at most 262144 bytes$/);
  t.match(lines[1], /^big\.yaml:10:1 Request entity too large: ConfigMap "huge" is \d+ bytes as JSON, over the limit of 1572864 bytes \(1\.5 MiB/);
  t.equal(errors.length, 2);
});

// ------------------------------------------------------------------ the API server

async function server(t: Test, limits?: Partial<WorkloadLimits>) {
  const e = await env(t);
  await e.store.commit([{ type: 'create', obj: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } } }]);
  const deps: ApiServerDeps = {
    store: e.store, bus: {} as Bus, topics: topicsFor('test'), clock: e.clock, random: e.ctx.random, logger: e.ctx.logger,
    info: () => ({ cluster: 'test', leader: 'n1', term: 1, revision: e.store.revision, version: '0', members: ['n1'] }),
    ...(limits ? { limits } : {}),
  };
  return { e, api: new ApiServer(deps) };
}

async function refusal(t: Test, p: Promise<unknown>): Promise<ApiError> {
  const err = await p.then(() => undefined, (x: unknown) => x);
  t.type(err, ApiError);
  return err as ApiError;
}

t.test('the API server refuses replicas: 1000000000 on apply with the object, the field path and the limit, and stores nothing', async (t) => {
  const { e, api } = await server(t);
  const before = e.store.revision;
  const err = await refusal(t, api.apply({ objects: [deploy(1_000_000_000)] }, false));
  t.equal(err.reason, 'Invalid');
  t.same(err.details, ['Deployment/web spec.replicas: Invalid value: 1000000000: must be less than or equal to 1000 (limits.maxReplicas)']);
  t.equal(e.store.revision, before, 'nothing was written');
  t.equal(e.store.get('Deployment', 'default', 'web'), undefined);
  const created = await refusal(t, api.apply({ objects: [job({ parallelism: 1001 })] }, true));
  t.same(created.details, ['Job/j spec.parallelism: Invalid value: 1001: must be less than or equal to 1000 (limits.maxParallelism)'], 'create too');
});

t.test('pifleet scale and patches go through the same ceiling', async (t) => {
  const { api, e } = await server(t);
  await api.apply({ objects: [deploy(2), job({ parallelism: 2, completions: 4 })] }, false);
  const scaled = await refusal(t, api.scale({ kind: 'deployments', name: 'web', replicas: 1_000_000_000 }));
  t.equal(scaled.reason, 'Invalid');
  t.equal(scaled.message, 'Deployment "web" is invalid');
  t.same(scaled.details, ['spec.replicas: Invalid value: 1000000000: must be less than or equal to 1000 (limits.maxReplicas)']);
  const patched = await refusal(t, api.patch({ kind: 'deployment', name: 'web', patch: { spec: { replicas: 1001 } } }));
  t.same(patched.details, ['spec.replicas: Invalid value: 1001: must be less than or equal to 1000 (limits.maxReplicas)']);
  const jp = await refusal(t, api.patch({ kind: 'jobs', name: 'j', patch: { spec: { parallelism: 1_000_000 } } }));
  t.same(jp.details, ['spec.parallelism: Invalid value: 1000000: must be less than or equal to 1000 (limits.maxParallelism)']);
  t.equal(get<Deployment>(e.store, 'Deployment', 'web').spec.replicas, 2, 'unchanged');
  t.equal(get<Job>(e.store, 'Job', 'j').spec.parallelism, 2, 'unchanged');
  await api.scale({ kind: 'deployments', name: 'web', replicas: 1000 });
  t.equal(get<Deployment>(e.store, 'Deployment', 'web').spec.replicas, 1000, 'the ceiling itself is fine');
});

t.test('the API server takes its ceilings from its deps (the daemon config)', async (t) => {
  const { api, e } = await server(t, { maxReplicas: 3 });
  const err = await refusal(t, api.apply({ objects: [deploy(4)] }, false));
  t.same(err.details, ['Deployment/web spec.replicas: Invalid value: 4: must be less than or equal to 3 (limits.maxReplicas)']);
  await api.apply({ objects: [deploy(3)] }, false);
  t.equal(get<Deployment>(e.store, 'Deployment', 'web').spec.replicas, 3);
});

t.test('an object stored under a higher ceiling can still be re-applied, edited and scaled down', async (t) => {
  const { api, e } = await server(t, { maxReplicas: 10 });
  // stored by a leader whose ceiling was higher
  await e.store.commit([{ type: 'create', obj: { ...deploy(50), metadata: { ...deploy().metadata, namespace: 'default', uid: 'u1' } } }]);
  const same = await api.apply({ objects: [{ ...deploy(50), metadata: { ...deploy().metadata, annotations: { note: 'edited' } } }] }, false);
  t.same(same.results.map((r) => r.action), ['configured']);
  await api.scale({ kind: 'deployments', name: 'web', replicas: 20 });
  t.equal(get<Deployment>(e.store, 'Deployment', 'web').spec.replicas, 20);
  const up = await refusal(t, api.scale({ kind: 'deployments', name: 'web', replicas: 21 }));
  t.same(up.details, ['spec.replicas: Invalid value: 21: must be less than or equal to 10 (limits.maxReplicas)']);
});

t.test('the API server refuses an object over 1.5 MiB and annotations over 256 KiB, on apply and on patch', async (t) => {
  const { api, e } = await server(t);
  const big = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big' }, binaryData: { a: 'A'.repeat(MAX_OBJECT_BYTES) } };
  const err = await refusal(t, api.apply({ objects: [big] }, false));
  t.equal(err.reason, 'Invalid');
  t.match(err.details?.[0], /^ConfigMap\/big: Request entity too large: ConfigMap "big" is \d+ bytes as JSON, over the limit of 1572864 bytes/);
  await api.apply({ objects: [deploy(1)] }, false);
  const ann = await refusal(t, api.patch({ kind: 'deployments', name: 'web', patch: { metadata: { annotations: { big: 'x'.repeat(256 * 1024) } } } }));
  t.same(ann.details, ['metadata.annotations: Too long: must have at most 262144 bytes']);
  t.notOk(get<Deployment>(e.store, 'Deployment', 'web').metadata.annotations?.big);
});
