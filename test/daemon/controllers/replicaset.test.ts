import t from 'tap';
import { ReplicaSetController } from '../../../daemon/src/controllers/replicaset/controller.js';
import { ControllerManager } from '../../../daemon/src/controllers/manager.js';
import { SchedulingController } from '../../../daemon/src/controllers/scheduling.js';
import { deletionRank, selectorMatches } from '../../../daemon/src/controllers/pods.js';
import type { Pod, ReplicaSet } from '../../../daemon/src/api/types.js';
import { create, env, finishTermination, get, keyOf, markReady, node, pod, podsOf, replicaSet, runningStatus, setPhase, update } from './fixtures.js';

t.test('a ReplicaSet creates its missing pods, owned by it, from its template', async (t) => {
  const e = await env(t);
  const c = new ReplicaSetController(e.ctx);
  const rs = await create(e.store, replicaSet('web', 3));
  await c.reconcile(keyOf(rs));
  const pods = podsOf(e.store, rs);
  t.equal(pods.length, 3);
  for (const p of pods) {
    t.match(p.metadata.name, /^web-[a-z0-9]{5}$/);
    t.same(p.metadata.labels, { app: 'web' });
    t.equal(p.metadata.ownerReferences?.[0]?.uid, rs.metadata.uid);
    t.equal(p.metadata.ownerReferences?.[0]?.controller, true);
    t.equal(p.spec.containers[0]?.image, 'busybox:1');
  }
  t.same(get<ReplicaSet>(e.store, 'ReplicaSet', 'web').status, { replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 0, availableReplicas: 0, observedGeneration: 1 });
  await c.reconcile(keyOf(rs));
  t.equal(podsOf(e.store, rs).length, 3, 'a second pass creates nothing more');
  t.equal(e.recorder.events.filter((x) => x.reason === 'SuccessfulCreate').length, 1);
});

t.test('scaling down deletes unscheduled, then not-ready, then newest pods first', async (t) => {
  const e = await env(t);
  const c = new ReplicaSetController(e.ctx);
  const rs = await create(e.store, replicaSet('web', 0));
  const owned = (name: string, nodeName?: string): Pod => pod(name, { labels: { app: 'web' }, owner: rs, ...(nodeName ? { nodeName } : {}) });
  const oldReady = await create(e.store, owned('old-ready', 'n1'));
  e.clock.advance(1000);
  const newReady = await create(e.store, owned('new-ready', 'n1'));
  const notReady = await create(e.store, owned('not-ready', 'n1'));
  const unscheduled = await create(e.store, owned('unscheduled'));
  markReady(e, oldReady);
  markReady(e, newReady);
  markReady(e, notReady, false);
  const ranked = podsOf(e.store, rs).sort(deletionRank).map((p) => p.metadata.name);
  t.same(ranked, ['unscheduled', 'not-ready', 'new-ready', 'old-ready']);
  await update(e.store, rs, (o) => { o.spec.replicas = 3; });
  await c.reconcile(keyOf(rs));
  t.equal(e.store.get('Pod', 'default', 'unscheduled'), undefined, 'an unscheduled pod is deleted at once');
  t.equal(podsOf(e.store, rs).length, 3);
  await update(e.store, rs, (o) => { o.spec.replicas = 1; });
  await c.reconcile(keyOf(rs));
  const nr = get<Pod>(e.store, 'Pod', 'not-ready');
  const nw = get<Pod>(e.store, 'Pod', 'new-ready');
  t.ok(nr.metadata.deletionTimestamp, 'the not-ready pod is terminating');
  t.ok(nw.metadata.deletionTimestamp, 'the newer ready pod is terminating');
  t.equal(nw.metadata.deletionGracePeriodSeconds, 30);
  t.notOk(get<Pod>(e.store, 'Pod', 'old-ready').metadata.deletionTimestamp, 'the oldest ready pod stays');
  t.same(podsOf(e.store, rs).map((p) => p.metadata.name), ['old-ready']);
  t.equal(get<ReplicaSet>(e.store, 'ReplicaSet', 'web').status && (get<ReplicaSet>(e.store, 'ReplicaSet', 'web').status as { replicas: number }).replicas, 1, 'terminating pods are not counted');
  void unscheduled;
});

t.test('among ready pods, the one ready for less time and with more restarts goes first', async (t) => {
  const base = pod('a', { nodeName: 'n' });
  const a: Pod = { ...base, status: runningStatus(1000) };
  const b: Pod = { ...base, metadata: { ...base.metadata, name: 'b' }, status: runningStatus(5000) };
  t.same([a, b].sort(deletionRank).map((p) => p.metadata.name), ['b', 'a'], 'ready since 5000 goes before ready since 1000');
  const c: Pod = { ...base, metadata: { ...base.metadata, name: 'c' }, status: { ...runningStatus(1000), containerStatuses: [{ name: 'main', image: 'x', imageID: '', ready: true, restartCount: 4 }] } };
  t.same([a, c].sort(deletionRank).map((p) => p.metadata.name), ['c', 'a'], 'more restarts first');
});

t.test('finished pods are removed and replaced', async (t) => {
  const e = await env(t);
  const c = new ReplicaSetController(e.ctx);
  const rs = await create(e.store, replicaSet('web', 2));
  await c.reconcile(keyOf(rs));
  const [p1] = podsOf(e.store, rs);
  setPhase(e, p1 as Pod, 'Failed');
  await c.reconcile(keyOf(rs));
  t.equal(e.store.get('Pod', 'default', (p1 as Pod).metadata.name), undefined, 'the failed (unscheduled) pod is gone');
  t.equal(podsOf(e.store, rs).length, 2, 'and replaced');
});

t.test('readyReplicas and availableReplicas follow pod readiness and minReadySeconds', async (t) => {
  const e = await env(t);
  const c = new ReplicaSetController(e.ctx);
  const rs = await create(e.store, replicaSet('web', 2, { minReadySeconds: 10 }));
  await c.reconcile(keyOf(rs));
  const pods = podsOf(e.store, rs);
  markReady(e, pods[0] as Pod);
  let res = await c.reconcile(keyOf(rs));
  let st = get<ReplicaSet>(e.store, 'ReplicaSet', 'web').status as unknown as Record<string, number>;
  t.equal(st.readyReplicas, 1);
  t.equal(st.availableReplicas, 0, 'ready but not yet for minReadySeconds');
  t.same(res, { requeueAfterMs: 10_010 }, 'asks to look again when the pod becomes available');
  e.clock.advance(10_000);
  res = await c.reconcile(keyOf(rs));
  st = get<ReplicaSet>(e.store, 'ReplicaSet', 'web').status as unknown as Record<string, number>;
  t.equal(st.availableReplicas, 1);
  t.equal(res, undefined);
});

t.test('a ReplicaSet adopts matching orphans and releases pods whose labels stopped matching', async (t) => {
  const e = await env(t);
  const c = new ReplicaSetController(e.ctx);
  const orphan = await create(e.store, pod('orphan', { labels: { app: 'web' }, nodeName: 'n1' }));
  await create(e.store, pod('stranger', { labels: { app: 'db' } }));
  const rs = await create(e.store, replicaSet('web', 2));
  await c.reconcile(keyOf(rs));
  const adopted = get<Pod>(e.store, 'Pod', 'orphan');
  t.equal(adopted.metadata.ownerReferences?.[0]?.uid, rs.metadata.uid, 'orphan adopted');
  t.equal(adopted.metadata.uid, orphan.metadata.uid, 'same pod, not a new one');
  t.equal(podsOf(e.store, rs).length, 2, 'one adopted + one created');
  t.notOk(get<Pod>(e.store, 'Pod', 'stranger').metadata.ownerReferences, 'non-matching pod left alone');

  // relabel the adopted pod: it is released and replaced
  const relabelled = structuredClone(adopted);
  delete relabelled.status;
  relabelled.metadata.labels = { app: 'debug' };
  await e.store.commit([{ type: 'update', obj: relabelled }]);
  await c.reconcile(keyOf(rs));
  t.same(get<Pod>(e.store, 'Pod', 'orphan').metadata.ownerReferences, [], 'released');
  t.notOk(get<Pod>(e.store, 'Pod', 'orphan').metadata.deletionTimestamp, 'released, not deleted');
  t.equal(podsOf(e.store, rs).length, 2, 'replaced by a new pod');
});

t.test('an orphan that is terminating or finished is not adopted, and a pod owned by another controller is never taken', async (t) => {
  const e = await env(t);
  const c = new ReplicaSetController(e.ctx);
  const other = await create(e.store, replicaSet('other', 0, { labels: { app: 'web' } }));
  await create(e.store, pod('theirs', { labels: { app: 'web' }, owner: other }));
  const done = await create(e.store, pod('done', { labels: { app: 'web' } }));
  setPhase(e, done, 'Succeeded');
  const rs = await create(e.store, replicaSet('web', 1));
  await c.reconcile(keyOf(rs));
  t.equal(get<Pod>(e.store, 'Pod', 'theirs').metadata.ownerReferences?.[0]?.uid, other.metadata.uid);
  t.notOk(get<Pod>(e.store, 'Pod', 'done').metadata.ownerReferences);
  t.equal(podsOf(e.store, rs).length, 1);
  t.notOk(podsOf(e.store, rs).some((p) => ['theirs', 'done'].includes(p.metadata.name)));
});

t.test('label selectors: matchLabels, matchExpressions, and an empty selector selects nothing', async (t) => {
  t.equal(selectorMatches({ matchLabels: { a: '1' } }, { a: '1', b: '2' }), true);
  t.equal(selectorMatches({ matchLabels: { a: '1' } }, { a: '2' }), false);
  t.equal(selectorMatches({ matchExpressions: [{ key: 'a', operator: 'In', values: ['1', '2'] }] }, { a: '2' }), true);
  t.equal(selectorMatches({ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }, {}), true);
  t.equal(selectorMatches({ matchExpressions: [{ key: 'a', operator: 'Exists' }] }, {}), false);
  t.equal(selectorMatches({ matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }, { b: '' }), true);
  t.equal(selectorMatches({}, { a: '1' }), false);
  t.equal(selectorMatches(undefined, { a: '1' }), false);
  t.equal(selectorMatches({ matchExpressions: [{ key: 'a', operator: 'Bogus' }] }, { a: '1' }), false, 'an invalid selector selects nothing');
});

t.test('driven by the manager, a ReplicaSet converges with scheduling and heals a deleted pod', async (t) => {
  const e = await env(t);
  await e.putNode(node('n1'));
  await e.putNode(node('n2'));
  const m = new ControllerManager(e.ctx, [new ReplicaSetController(e.ctx), new SchedulingController(e.ctx)]);
  t.teardown(() => m.stop());
  m.start();
  const rs = await create(e.store, replicaSet('web', 4));
  await m.idle();
  let pods = podsOf(e.store, rs);
  t.equal(pods.length, 4);
  t.same(pods.map((p) => p.spec.nodeName).sort(), ['n1', 'n1', 'n2', 'n2'], 'bound and spread');
  for (const p of pods) markReady(e, p);
  await m.idle();
  t.same(get<ReplicaSet>(e.store, 'ReplicaSet', 'web').status, { replicas: 4, fullyLabeledReplicas: 4, readyReplicas: 4, availableReplicas: 4, observedGeneration: 1 });
  const victim = pods[0] as Pod;
  await e.store.commit([{ type: 'delete', kind: 'Pod', namespace: 'default', name: victim.metadata.name }]);
  await m.idle();
  pods = podsOf(e.store, rs);
  t.equal(pods.length, 4, 'replaced');
  t.notOk(pods.some((p) => p.metadata.uid === victim.metadata.uid));
  t.equal((get<ReplicaSet>(e.store, 'ReplicaSet', 'web').status as { readyReplicas: number }).readyReplicas, 3);
  await update(e.store, rs, (o) => { o.spec.replicas = 1; });
  await m.idle();
  t.equal(podsOf(e.store, rs).length, 1);
  t.equal(await finishTermination(e.store), 3, 'three pods were terminating on their nodes');
});
