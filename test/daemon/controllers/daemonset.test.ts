import t from 'tap';
import { DaemonSetController, REVISION_HASH } from '../../../daemon/src/controllers/daemonset/controller.js';
import { ControllerManager } from '../../../daemon/src/controllers/manager.js';
import { isReady, templateHash } from '../../../daemon/src/controllers/pods.js';
import type { DaemonSet, Node, Pod } from '../../../daemon/src/api/types.js';
import { create, daemonSet, env, finishTermination, get, keyOf, markReady, node, podsOf, update, type Env } from './fixtures.js';

interface DSStatus { currentNumberScheduled: number; numberMisscheduled: number; desiredNumberScheduled: number; numberReady: number; updatedNumberScheduled: number; numberAvailable: number; numberUnavailable: number; observedGeneration: number }
const statusOf = (e: Env): DSStatus => get<DaemonSet>(e.store, 'DaemonSet', 'agent').status as DSStatus;
const nodesOf = (pods: Pod[]): string[] => pods.map((p) => p.spec.nodeName as string).sort();

t.test('a DaemonSet runs one pod on every matching node, bound directly and labelled with its revision hash', async (t) => {
  const e = await env(t);
  for (const n of ['a', 'b', 'c']) await e.putNode(node(n));
  const c = new DaemonSetController(e.ctx);
  const ds = await create(e.store, daemonSet('agent'));
  await c.reconcile(keyOf(ds));
  const pods = podsOf(e.store, ds);
  t.same(nodesOf(pods), ['a', 'b', 'c']);
  t.ok(pods.every((p) => p.metadata.labels?.[REVISION_HASH] === templateHash(ds.spec.template)));
  t.match(statusOf(e), { desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 0, numberAvailable: 0, numberUnavailable: 3, updatedNumberScheduled: 3, numberMisscheduled: 0 });
  await c.reconcile(keyOf(ds));
  t.equal(podsOf(e.store, ds).length, 3, 'idempotent');
  for (const p of pods) markReady(e, p);
  await c.reconcile(keyOf(ds));
  t.match(statusOf(e), { numberReady: 3, numberAvailable: 3, numberUnavailable: 0 });
});

t.test('nodeSelector and taints decide which nodes get a pod; tolerations open tainted nodes', async (t) => {
  const e = await env(t);
  await e.putNode(node('pi4', { labels: { model: 'pi4' } }));
  await e.putNode(node('pi3', { labels: { model: 'pi3' } }));
  await e.putNode(node('gw', { labels: { model: 'pi4' }, taints: [{ key: 'gateway', effect: 'NoSchedule' }] }));
  const c = new DaemonSetController(e.ctx);
  const ds = await create(e.store, daemonSet('agent', { nodeSelector: { model: 'pi4' } }));
  await c.reconcile(keyOf(ds));
  t.same(nodesOf(podsOf(e.store, ds)), ['pi4']);
  t.equal(statusOf(e).desiredNumberScheduled, 1);
  await update(e.store, ds, (o) => { o.spec.template.spec!.tolerations = [{ key: 'gateway', operator: 'Exists' }]; });
  await c.reconcile(keyOf(ds));
  // the template changed: the old pod on pi4 is rolled, gw gets a new one
  t.ok(podsOf(e.store, ds).some((p) => p.spec.nodeName === 'gw'), 'the tolerating DaemonSet reaches the tainted node');
});

t.test('a node added gets a pod; a node removed or relabelled loses it', async (t) => {
  const e = await env(t);
  await e.putNode(node('a', { labels: { role: 'edge' } }));
  const c = new DaemonSetController(e.ctx);
  const ds = await create(e.store, daemonSet('agent', { nodeSelector: { role: 'edge' } }));
  const m = new ControllerManager(e.ctx, [c]);
  t.teardown(() => m.stop());
  m.start();
  await m.idle();
  t.same(nodesOf(podsOf(e.store, ds)), ['a']);
  await e.putNode(node('b', { labels: { role: 'edge' } }));
  await m.idle();
  t.same(nodesOf(podsOf(e.store, ds)), ['a', 'b'], 'new node picked up through the watch');
  await e.putNode(node('b', { labels: { role: 'core' } }));
  await m.idle();
  t.same(nodesOf(podsOf(e.store, ds)), ['a'], 'relabelled node: its pod is terminating');
  t.same(e.store.list<Pod>('Pod').filter((p) => p.metadata.deletionTimestamp).map((p) => p.spec.nodeName), ['b']);
  t.match(statusOf(e), { desiredNumberScheduled: 1, currentNumberScheduled: 1, numberMisscheduled: 1 }, 'misscheduled while its pod is still stopping');
  await finishTermination(e.store);
  await m.idle();
  t.equal(statusOf(e).numberMisscheduled, 0);
  await finishTermination(e.store);
  await e.removeNode('a');
  await m.idle();
  t.same(nodesOf(podsOf(e.store, ds)), [], 'removed node: its pod goes');
  t.match(statusOf(e), { desiredNumberScheduled: 0, currentNumberScheduled: 0 });
});

t.test('a NoSchedule taint added later keeps the running pod (only NoExecute evicts), as Kubernetes', async (t) => {
  const e = await env(t);
  await e.putNode(node('a'));
  const c = new DaemonSetController(e.ctx);
  const ds = await create(e.store, daemonSet('agent'));
  await c.reconcile(keyOf(ds));
  const [p] = podsOf(e.store, ds);
  await e.putNode(node('a', { taints: [{ key: 'maintenance', effect: 'NoSchedule' }] }));
  await c.reconcile(keyOf(ds));
  t.same(podsOf(e.store, ds).map((x) => x.metadata.uid), [p?.metadata.uid], 'NoSchedule: the pod stays');
  await e.putNode(node('a', { taints: [{ key: 'maintenance', effect: 'NoExecute' }] }));
  await c.reconcile(keyOf(ds));
  t.same(podsOf(e.store, ds), [], 'NoExecute: evicted');
  await finishTermination(e.store);
  await e.putNode(node('a', { taints: [{ key: 'maintenance', effect: 'NoSchedule' }] }));
  await c.reconcile(keyOf(ds));
  t.same(podsOf(e.store, ds), [], 'NoSchedule: no new pod');
});

t.test('a rolling update replaces at most maxUnavailable pods at a time', async (t) => {
  const e = await env(t);
  const names = ['a', 'b', 'c', 'd'];
  for (const n of names) await e.putNode(node(n));
  const c = new DaemonSetController(e.ctx);
  const ds = await create(e.store, daemonSet('agent'));
  await c.reconcile(keyOf(ds));
  for (const p of podsOf(e.store, ds)) markReady(e, p);
  await c.reconcile(keyOf(ds));
  const updated = await update(e.store, ds, (o) => { o.spec.template.spec!.containers[0]!.image = 'busybox:2'; });
  const newHash = templateHash(updated.spec.template);
  let maxDown = 0;
  let rounds = 0;
  for (; rounds < 20; rounds++) {
    await c.reconcile(keyOf(ds));
    const active = podsOf(e.store, ds);
    const available = active.filter(isReady).length;
    maxDown = Math.max(maxDown, names.length - available);
    if (active.length === names.length && active.every((p) => p.metadata.labels?.[REVISION_HASH] === newHash && isReady(p))) break;
    await finishTermination(e.store);
    for (const p of podsOf(e.store, ds)) if (!isReady(p)) markReady(e, p);
  }
  t.equal(maxDown, 1, 'never more than one node without an available pod');
  t.ok(rounds >= 4, `one node at a time (${rounds} rounds)`);
  t.ok(podsOf(e.store, ds).every((p) => p.spec.containers[0]?.image === 'busybox:2'));
  t.match(statusOf(e), { updatedNumberScheduled: 4, numberAvailable: 4, observedGeneration: 2 });
});

t.test('maxUnavailable 2 replaces two at a time, and a finished daemon pod is replaced', async (t) => {
  const e = await env(t);
  for (const n of ['a', 'b', 'c', 'd']) await e.putNode(node(n));
  const c = new DaemonSetController(e.ctx);
  const ds = await create(e.store, daemonSet('agent', { maxUnavailable: 2 }));
  await c.reconcile(keyOf(ds));
  for (const p of podsOf(e.store, ds)) markReady(e, p);
  await update(e.store, ds, (o) => { o.spec.template.spec!.containers[0]!.image = 'busybox:2'; });
  await c.reconcile(keyOf(ds));
  t.equal(e.store.list<Pod>('Pod').filter((p) => p.metadata.deletionTimestamp).length, 2);
  await finishTermination(e.store);
  await c.reconcile(keyOf(ds));
  const fresh = podsOf(e.store, ds).filter((p) => p.spec.containers[0]?.image === 'busybox:2');
  t.equal(fresh.length, 2);
  e.store.setPodStatus('default', (fresh[0] as Pod).metadata.name, { phase: 'Failed' }, (fresh[0] as Pod).metadata.uid);
  await c.reconcile(keyOf(ds));
  t.ok(get<Pod>(e.store, 'Pod', (fresh[0] as Pod).metadata.name).metadata.deletionTimestamp, 'the failed pod is being removed');
});

t.test('duplicate pods on one node are reduced to one, keeping the ready one', async (t) => {
  const e = await env(t);
  await e.putNode(node('a'));
  const c = new DaemonSetController(e.ctx);
  const ds = await create(e.store, daemonSet('agent'));
  await c.reconcile(keyOf(ds));
  const [first] = podsOf(e.store, ds);
  markReady(e, first as Pod);
  e.clock.advance(1000);
  const dup = structuredClone(first) as Pod;
  dup.metadata = { name: 'agent-dup', namespace: 'default', labels: first?.metadata.labels, ownerReferences: first?.metadata.ownerReferences } as Pod['metadata'];
  delete dup.status;
  await create(e.store, dup);
  await c.reconcile(keyOf(ds));
  t.same(podsOf(e.store, ds).map((p) => p.metadata.name), [first?.metadata.name]);
  void (null as unknown as Node);
});
