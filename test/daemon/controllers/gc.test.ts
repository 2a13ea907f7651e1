import t from 'tap';
import { GarbageCollector, NamespaceController } from '../../../daemon/src/controllers/gc.js';
import { ControllerManager } from '../../../daemon/src/controllers/manager.js';
import { DeploymentController } from '../../../daemon/src/controllers/deployment/controller.js';
import { ReplicaSetController } from '../../../daemon/src/controllers/replicaset/controller.js';
import { SchedulingController } from '../../../daemon/src/controllers/scheduling.js';
import { KINDS } from '../../../daemon/src/api/kinds.js';
import type { KObject, Pod } from '../../../daemon/src/api/types.js';
import { create, deployment, env, finishTermination, get, keyOf, node, pod, replicaSet, type Env } from './fixtures.js';

const namespaced = KINDS.filter((k) => k.namespaced).map((k) => k.kind);

function manager(e: Env, extra: 'workloads' | 'none' = 'workloads'): ControllerManager {
  const cs = [new GarbageCollector(e.ctx), new NamespaceController(e.ctx, namespaced)];
  const m = new ControllerManager(e.ctx, extra === 'workloads' ? [...cs, new DeploymentController(e.ctx), new ReplicaSetController(e.ctx), new SchedulingController(e.ctx)] : cs);
  return m;
}

const cm = (name: string, ns = 'default', owners: KObject[] = []): KObject => ({
  apiVersion: 'v1', kind: 'ConfigMap', data: { a: '1' },
  metadata: { name, namespace: ns, ...(owners.length ? { ownerReferences: owners.map((o) => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, uid: o.metadata.uid as string })) } : {}) },
});

t.test('deleting a Deployment cascades (background) to its ReplicaSets and their pods', async (t) => {
  const e = await env(t);
  await e.putNode(node('n1'));
  const m = manager(e);
  t.teardown(() => m.stop());
  m.start();
  await create(e.store, deployment('web', 2));
  await m.idle();
  t.equal(e.store.list('ReplicaSet').length, 1);
  t.equal(e.store.list('Pod').length, 2);
  // a pod owned directly by the Deployment, which cannot be scheduled
  const unscheduled = await create(e.store, pod('pending', { labels: { other: 'x' }, nodeSelector: { nowhere: 'true' }, owner: get(e.store, 'Deployment', 'web') }));
  await m.idle();
  await e.store.commit([{ type: 'delete', kind: 'Deployment', namespace: 'default', name: 'web' }]);
  await m.idle();
  t.equal(e.store.list('ReplicaSet').length, 0, 'ReplicaSet collected');
  t.equal(e.store.get('Pod', 'default', unscheduled.metadata.name), undefined, 'an unscheduled pod goes at once');
  const left = e.store.list<Pod>('Pod');
  t.equal(left.length, 2, 'scheduled pods wait for their node');
  t.ok(left.every((p) => p.metadata.deletionTimestamp), 'and are terminating');
  t.equal(await finishTermination(e.store), 2);
  await m.idle();
  t.equal(e.store.list('Pod').length, 0);
});

t.test('a dependent with several owners is kept until all of them are gone', async (t) => {
  const e = await env(t);
  const m = manager(e, 'none');
  t.teardown(() => m.stop());
  m.start();
  const a = await create(e.store, cm('owner-a'));
  const b = await create(e.store, cm('owner-b'));
  await create(e.store, cm('shared', 'default', [a, b]));
  await m.idle();
  await e.store.commit([{ type: 'delete', kind: 'ConfigMap', namespace: 'default', name: 'owner-a' }]);
  await m.idle();
  t.ok(e.store.get('ConfigMap', 'default', 'shared'), 'one owner left');
  await e.store.commit([{ type: 'delete', kind: 'ConfigMap', namespace: 'default', name: 'owner-b' }]);
  await m.idle();
  t.equal(e.store.get('ConfigMap', 'default', 'shared'), undefined);
});

t.test('an owner replaced by a new object of the same name does not keep the old dependents alive', async (t) => {
  const e = await env(t);
  const m = manager(e, 'none');
  t.teardown(() => m.stop());
  m.start();
  const rs = await create(e.store, replicaSet('web', 0));
  await create(e.store, cm('dep', 'default', [rs]));
  await m.idle();
  await e.store.commit([{ type: 'delete', kind: 'ReplicaSet', namespace: 'default', name: 'web' }, { type: 'create', obj: replicaSet('web', 0) }]);
  await m.idle();
  t.not(get(e.store, 'ReplicaSet', 'web').metadata.uid, rs.metadata.uid);
  t.equal(e.store.get('ConfigMap', 'default', 'dep'), undefined, 'uid mismatch: collected');
});

t.test('orphaning (owner references stripped before the owner goes) keeps the dependents', async (t) => {
  const e = await env(t);
  const m = manager(e, 'none');
  t.teardown(() => m.stop());
  m.start();
  const rs = await create(e.store, replicaSet('web', 0));
  const dep = await create(e.store, pod('p1', { owner: rs }));
  await m.idle();
  const freed = structuredClone(dep);
  freed.metadata.ownerReferences = [];
  await e.store.commit([{ type: 'update', obj: freed }, { type: 'delete', kind: 'ReplicaSet', namespace: 'default', name: 'web' }]);
  await m.idle();
  t.ok(e.store.get('Pod', 'default', 'p1'), 'orphaned pod survives');
  t.notOk(get<Pod>(e.store, 'Pod', 'p1').metadata.deletionTimestamp);
});

t.test('an object created with an owner that is already gone is collected, also at start-up', async (t) => {
  const e = await env(t);
  const ghost = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'ghost', uid: 'no-such-uid' } } as KObject;
  await create(e.store, cm('before-start', 'default', [ghost]));
  const m = manager(e, 'none');
  t.teardown(() => m.stop());
  m.start();
  await m.idle();
  t.equal(e.store.get('ConfigMap', 'default', 'before-start'), undefined, 'found by the initial resync');
  await create(e.store, cm('after-start', 'default', [ghost]));
  await m.idle();
  t.equal(e.store.get('ConfigMap', 'default', 'after-start'), undefined, 'found through the watch');
  await create(e.store, cm('plain'));
  await m.idle();
  t.ok(e.store.get('ConfigMap', 'default', 'plain'), 'objects without owners are never touched');
});

t.test('a cluster-scoped owner (a Node) counts as present', async (t) => {
  const e = await env(t);
  await e.putNode(node('n1'));
  const gc = new GarbageCollector(e.ctx);
  const n = get(e.store, 'Node', 'n1');
  const o = await create(e.store, cm('per-node', 'default', [n]));
  await gc.reconcile(keyOf(o));
  t.ok(e.store.get('ConfigMap', 'default', 'per-node'));
  await e.removeNode('n1');
  await gc.reconcile(keyOf(o));
  t.equal(e.store.get('ConfigMap', 'default', 'per-node'), undefined);
});

t.test('deleting a namespace removes everything in it, waits for its pods to stop, then removes the namespace', async (t) => {
  const e = await env(t);
  await e.putNode(node('n1'));
  const m = manager(e);
  t.teardown(() => m.stop());
  m.start();
  await create(e.store, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  await create(e.store, deployment('web', 2, { namespace: 'shop' }));
  await create(e.store, cm('settings', 'shop'));
  await create(e.store, cm('keep-me', 'default'));
  e.store.putMemory({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'ev1', namespace: 'shop' }, involvedObject: { kind: 'Deployment', name: 'web' }, reason: 'X' } as KObject);
  await m.idle();
  t.equal(e.store.list('Pod', 'shop').length, 2);
  const ns = get(e.store, 'Namespace', 'shop');
  const marked = structuredClone(ns);
  marked.metadata.deletionTimestamp = new Date(e.clock.now()).toISOString();
  await e.store.commit([{ type: 'update', obj: marked }]);
  await m.idle();
  for (const k of ['Deployment', 'ReplicaSet', 'ConfigMap', 'Event']) t.equal(e.store.list(k, 'shop').length, 0, `${k}s gone`);
  t.equal(e.store.list<Pod>('Pod', 'shop').filter((p) => p.metadata.deletionTimestamp).length, 2, 'pods terminating');
  t.ok(e.store.get('Namespace', undefined, 'shop'), 'namespace waits for its pods');
  await finishTermination(e.store);
  await m.idle();
  t.equal(e.store.get('Namespace', undefined, 'shop'), undefined, 'namespace gone');
  t.ok(e.store.get('ConfigMap', 'default', 'keep-me'), 'other namespaces untouched');
});
