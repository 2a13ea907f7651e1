import t from 'tap';
import { NodeRegistry, PodTerminationController, LEADER_ROLE_LABEL } from '../../../daemon/src/leader/nodes.js';
import { ControllerManager } from '../../../daemon/src/controllers/manager.js';
import type { Node, Pod } from '../../../daemon/src/api/types.js';
import type { NodeStatusMessage } from '../../../daemon/src/broker/topics.js';
import { ReplicaSetController } from '../../../daemon/src/controllers/replicaset/controller.js';
import { SchedulingController } from '../../../daemon/src/controllers/scheduling.js';
import { create, env, get, keyOf, node, pod, podsOf, replicaSet, runningStatus, type Env } from '../controllers/fixtures.js';

const GRACE = 40;

function status(e: Env, name: string, extra: Partial<Node> = {}): NodeStatusMessage {
  const n = node(name);
  return { node: name, online: true, heartbeat: e.clock.now(), object: { ...n, metadata: { name, labels: { 'kubernetes.io/hostname': name } }, ...extra } };
}

const readyOf = (e: Env, name: string): string | undefined => get<Node>(e.store, 'Node', name).status?.conditions?.find((c) => c.type === 'Ready')?.status;

/** A node's status message, and whatever registration it causes written. */
async function report(reg: NodeRegistry, msg: NodeStatusMessage): Promise<void> {
  reg.onNodeStatus(msg);
  await reg.settled();
}

function registry(e: Env) {
  const reg = new NodeRegistry(e.ctx, { leaderNode: 'leader', graceSeconds: GRACE });
  const m = new ControllerManager(e.ctx, [reg]);
  m.start();
  return { reg, m };
}

t.test('a node\'s first report registers a persisted Node with the leader role label on the leader; later reports change only its status, in memory', async (t) => {
  const e = await env(t);
  const { reg, m } = registry(e);
  t.teardown(() => m.stop());
  await report(reg, status(e, 'leader'));
  await report(reg, status(e, 'pi-2'));
  await m.idle();
  const rev = e.store.revision;
  t.equal(rev, 2, 'one write per registration');
  const leader = get<Node>(e.store, 'Node', 'leader');
  const pi2 = get<Node>(e.store, 'Node', 'pi-2');
  t.equal(leader.metadata.labels?.[LEADER_ROLE_LABEL], '');
  t.notOk(LEADER_ROLE_LABEL in (pi2.metadata.labels ?? {}));
  t.equal(readyOf(e, 'pi-2'), 'True');
  const uid = pi2.metadata.uid;
  e.clock.advance(10_000);
  await report(reg, status(e, 'pi-2'));
  t.equal(get<Node>(e.store, 'Node', 'pi-2').metadata.uid, uid, 'uid and creation time kept across reports');
  t.equal(get<Node>(e.store, 'Node', 'pi-2').metadata.creationTimestamp, pi2.metadata.creationTimestamp);
  t.equal(e.store.revision, rev, 'nothing written to the desired-state log by later reports');
  await report(reg, { node: 'bad', online: true, heartbeat: 0 } as NodeStatusMessage);
  await report(reg, null as unknown as NodeStatusMessage);
  t.equal(e.store.get('Node', undefined, 'bad'), undefined, 'malformed reports are ignored');
});

t.test('a node whose heartbeats stop is marked Ready=Unknown after the grace period, not before', async (t) => {
  const e = await env(t);
  const { reg, m } = registry(e);
  t.teardown(() => m.stop());
  const withPressure = status(e, 'pi-2');
  withPressure.object!.status!.conditions!.push({ type: 'MemoryPressure', status: 'False', reason: 'ok', message: '' }, { type: 'CustomThing', status: 'False' });
  await report(reg, withPressure);
  await m.idle();
  e.clock.advance(30_000);
  await m.idle();
  t.equal(readyOf(e, 'pi-2'), 'True');
  await report(reg, status(e, 'pi-2')); // a heartbeat at 30 s moves the deadline
  await m.idle();
  e.clock.advance(39_000);
  await m.idle();
  t.equal(readyOf(e, 'pi-2'), 'True', '39 s after the last heartbeat');
  await report(reg, withPressure);
  await m.idle();
  e.clock.advance(GRACE * 1000 + 10);
  await m.idle();
  const n = get<Node>(e.store, 'Node', 'pi-2');
  t.match(n.status?.conditions?.find((c) => c.type === 'Ready'), { status: 'Unknown', reason: 'NodeStatusUnknown', message: /stopped posting node status/ });
  t.equal(n.status?.conditions?.find((c) => c.type === 'MemoryPressure')?.status, 'Unknown');
  t.equal(n.status?.conditions?.find((c) => c.type === 'CustomThing')?.status, 'False', 'conditions the agent does not own are left alone');
  t.equal(e.recorder.events.filter((x) => x.reason === 'NodeNotReady').length, 1);
  e.clock.advance(600_000);
  await m.idle();
  t.equal(e.recorder.events.filter((x) => x.reason === 'NodeNotReady').length, 1, 'reported once');
  await report(reg, status(e, 'pi-2'));
  await m.idle();
  t.equal(readyOf(e, 'pi-2'), 'True', 'a new report brings it back');
});

t.test('the MQTT last will marks the node Unknown at once', async (t) => {
  const e = await env(t);
  const { reg, m } = registry(e);
  t.teardown(() => m.stop());
  await report(reg, status(e, 'pi-3'));
  await m.idle();
  await report(reg, { node: 'pi-3', online: false, heartbeat: e.clock.now() });
  t.match(get<Node>(e.store, 'Node', 'pi-3').status?.conditions?.find((c) => c.type === 'Ready'), { status: 'Unknown', message: /last will/ });
  await report(reg, { node: 'never-seen', online: false, heartbeat: 0 });
  t.equal(e.store.get('Node', undefined, 'never-seen'), undefined);
});

t.test('a node without a Ready condition gets Ready=Unknown when it goes silent', async (t) => {
  const e = await env(t);
  const { reg, m } = registry(e);
  t.teardown(() => m.stop());
  await report(reg, status(e, 'bare', { status: {} }));
  await report(reg, { node: 'bare', online: false, heartbeat: 0 });
  t.equal(readyOf(e, 'bare'), 'Unknown');
});

t.test('pod reports set pod status (matching uid only) and reordered reports are dropped', async (t) => {
  const e = await env(t);
  const { reg, m } = registry(e);
  t.teardown(() => m.stop());
  const p = await create(e.store, pod('p1', { nodeName: 'pi-2' }));
  reg.onNodePods({ node: 'pi-2', seq: 5, pods: [{ namespace: 'default', name: 'p1', uid: p.metadata.uid as string, status: runningStatus(e.clock.now()) as never }] });
  t.equal(get<Pod>(e.store, 'Pod', 'p1').status?.phase, 'Running');
  reg.onNodePods({ node: 'pi-2', seq: 6, pods: [{ namespace: 'default', name: 'p1', uid: 'another-incarnation', status: { phase: 'Failed' } }] });
  t.equal(get<Pod>(e.store, 'Pod', 'p1').status?.phase, 'Running', 'a report about another pod of the same name is ignored');
  reg.onNodePods({ node: 'pi-2', seq: 4, pods: [{ namespace: 'default', name: 'p1', uid: p.metadata.uid as string, status: { phase: 'Pending' } }] });
  t.equal(get<Pod>(e.store, 'Pod', 'p1').status?.phase, 'Running', 'older seq dropped');
  t.equal(reg.report('pi-2')?.seq, 6);
  reg.onNodePods({ node: 'pi-2', seq: 0, pods: [] });
  t.equal(reg.report('pi-2')?.seq, 0, 'seq 0: the agent restarted');
});

t.test('a terminating pod is removed once a report newer than its deletion no longer lists it', async (t) => {
  const e = await env(t);
  const { reg, m } = registry(e);
  t.teardown(() => m.stop());
  await report(reg, status(e, 'pi-2'));
  const ptc = new PodTerminationController(e.ctx, reg);
  const p = await create(e.store, pod('p1', { nodeName: 'pi-2' }));
  const uid = p.metadata.uid as string;
  reg.onNodePods({ node: 'pi-2', seq: 1, pods: [{ namespace: 'default', name: 'p1', uid, status: runningStatus(e.clock.now()) as never }] });
  e.clock.advance(1000);
  const marked = structuredClone(get<Pod>(e.store, 'Pod', 'p1'));
  delete marked.status;
  marked.metadata.deletionTimestamp = new Date(e.clock.now() + 30_000).toISOString();
  marked.metadata.deletionGracePeriodSeconds = 30;
  await e.store.commit([{ type: 'update', obj: marked }]);
  t.same(await ptc.reconcile(keyOf(p)), { requeueAfterMs: 5000 }, 'the last report predates the deletion: wait');
  e.clock.advance(1000);
  reg.onNodePods({ node: 'pi-2', seq: 2, pods: [{ namespace: 'default', name: 'p1', uid, status: { phase: 'Running' } }] });
  t.same([...ptc.keysForNode('pi-2')], [keyOf(p)]);
  await ptc.reconcile(keyOf(p));
  t.ok(e.store.get('Pod', 'default', 'p1'), 'still listed by the node: still there');
  e.clock.advance(1000);
  reg.onNodePods({ node: 'pi-2', seq: 3, pods: [{ namespace: 'default', name: 'p1', uid, status: { phase: 'Succeeded' }, gone: true }] });
  await ptc.reconcile(keyOf(p));
  t.equal(e.store.get('Pod', 'default', 'p1'), undefined, 'gone from the node: gone from the store');
});

t.test('a terminating pod on a node the leader does not know, or never bound, is removed at once', async (t) => {
  const e = await env(t);
  const { reg, m } = registry(e);
  t.teardown(() => m.stop());
  const ptc = new PodTerminationController(e.ctx, reg);
  for (const [name, nodeName] of [['orphan', 'ghost-node'], ['unbound', undefined]] as const) {
    const p = await create(e.store, pod(name, nodeName ? { nodeName } : {}));
    const marked = structuredClone(p);
    marked.metadata.deletionTimestamp = new Date(e.clock.now()).toISOString();
    await e.store.commit([{ type: 'update', obj: marked }]);
    await ptc.reconcile(keyOf(p));
    t.equal(e.store.get('Pod', 'default', name), undefined, name);
  }
  const alive = await create(e.store, pod('alive', { nodeName: 'pi-2' }));
  await ptc.reconcile(keyOf(alive));
  t.ok(e.store.get('Pod', 'default', 'alive'), 'a pod not being deleted is left alone');
});

t.test('pods on an unreachable node are marked not ready at once and evicted after podEvictionSeconds; their ReplicaSet replaces them elsewhere', async (t) => {
  const e = await env(t);
  const reg = new NodeRegistry(e.ctx, { leaderNode: 'leader', graceSeconds: GRACE, podEvictionSeconds: 30 });
  const m = new ControllerManager(e.ctx, [reg, new ReplicaSetController(e.ctx), new SchedulingController(e.ctx)]);
  t.teardown(() => m.stop());
  m.start();
  await report(reg, status(e, 'pi-1'));
  await report(reg, status(e, 'pi-2'));
  const rs = await create(e.store, replicaSet('web', 2));
  await m.idle();
  for (const p of podsOf(e.store, rs)) e.store.setPodStatus('default', p.metadata.name, runningStatus(e.clock.now()), p.metadata.uid);
  await m.idle();
  t.same(podsOf(e.store, rs).map((p) => p.spec.nodeName).sort(), ['pi-1', 'pi-2']);
  const doomed = podsOf(e.store, rs).find((p) => p.spec.nodeName === 'pi-2') as Pod;
  // pi-1 keeps reporting, pi-2 goes silent (cable pulled)
  const beat = async (ms: number): Promise<void> => {
    for (let left = ms; left > 0; left -= 10_000) {
      e.clock.advance(Math.min(10_000, left));
      await report(reg, status(e, 'pi-1'));
      await m.idle();
    }
  };
  await beat(GRACE * 1000 + 10_000);
  t.equal(readyOf(e, 'pi-2'), 'Unknown');
  const marked = get<Pod>(e.store, 'Pod', doomed.metadata.name);
  t.match(marked.status?.conditions?.find((c) => c.type === 'Ready'), { status: 'False', reason: 'NodeNotReady' });
  t.notOk(marked.metadata.deletionTimestamp, 'not evicted yet');
  t.equal((get(e.store, 'ReplicaSet', 'web').status as { readyReplicas: number }).readyReplicas, 1, 'the ReplicaSet no longer counts it ready');
  await beat(20_000);
  t.notOk(get<Pod>(e.store, 'Pod', doomed.metadata.name).metadata.deletionTimestamp, 'still within podEvictionSeconds');
  await beat(20_000); // (the fake clock runs a due reconcile at the end of each 10 s step)
  t.ok(get<Pod>(e.store, 'Pod', doomed.metadata.name).metadata.deletionTimestamp, 'evicted (graceful: it waits for the node)');
  t.equal(e.recorder.events.filter((x) => x.reason === 'TaintManagerEviction').length, 1);
  const now = podsOf(e.store, rs);
  t.equal(now.length, 2, 'replaced');
  t.same(now.map((p) => p.spec.nodeName).sort(), ['pi-1', 'pi-1'], 'the replacement went to the live node');
});

t.test('eviction honours NoExecute tolerations and never touches DaemonSet pods', async (t) => {
  const e = await env(t);
  const reg = new NodeRegistry(e.ctx, { leaderNode: 'leader', graceSeconds: GRACE, podEvictionSeconds: 30 });
  await report(reg, status(e, 'pi-2'));
  const tol = (name: string, tolerations: Array<Record<string, unknown>>): Pod => ({ ...pod(name, { nodeName: 'pi-2' }), spec: { ...pod(name, { nodeName: 'pi-2' }).spec, tolerations } } as Pod);
  await create(e.store, pod('plain', { nodeName: 'pi-2' }));
  await create(e.store, tol('short', [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 }]));
  await create(e.store, tol('forever', [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' }]));
  await create(e.store, tol('other-taint', [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 1 }]));
  const ds = { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent', namespace: 'default', uid: 'ds-uid' } };
  await create(e.store, pod('daemon', { nodeName: 'pi-2', owner: ds as never }));
  const elsewhere = await create(e.store, pod('elsewhere', { nodeName: 'pi-9' }));
  await report(reg, { node: 'pi-2', online: false, heartbeat: 0 });
  const evicted = (): string[] => e.store.list<Pod>('Pod').filter((p) => p.metadata.deletionTimestamp).map((p) => p.metadata.name).sort();
  let res = await reg.reconcile('pi-2');
  t.same(evicted(), []);
  t.same(res, { requeueAfterMs: 5005 }, 'looks again when the shortest toleration ends');
  e.clock.advance(5005);
  res = await reg.reconcile('pi-2');
  t.same(evicted(), ['short']);
  e.clock.advance(25_000);
  res = await reg.reconcile('pi-2');
  t.same(evicted(), ['other-taint', 'plain', 'short'], 'no toleration for unreachable: the default 30 s');
  e.clock.advance(3_600_000);
  await reg.reconcile('pi-2');
  t.same(evicted(), ['other-taint', 'plain', 'short'], 'a toleration without seconds and DaemonSet pods stay');
  t.notOk(get<Pod>(e.store, 'Pod', elsewhere.metadata.name).metadata.deletionTimestamp);
  t.equal(res, undefined, 'nothing left to wait for');
});

t.test('a node that comes back before the eviction deadline keeps its pods', async (t) => {
  const e = await env(t);
  const reg = new NodeRegistry(e.ctx, { leaderNode: 'leader', graceSeconds: GRACE, podEvictionSeconds: 30 });
  await report(reg, status(e, 'pi-2'));
  await create(e.store, pod('p', { nodeName: 'pi-2' }));
  await report(reg, { node: 'pi-2', online: false, heartbeat: 0 });
  await reg.reconcile('pi-2');
  e.clock.advance(20_000);
  await report(reg, status(e, 'pi-2'));
  e.clock.advance(20_000);
  const res = await reg.reconcile('pi-2');
  t.notOk(get<Pod>(e.store, 'Pod', 'p').metadata.deletionTimestamp);
  t.same(res, { requeueAfterMs: 20_005 }, 'only the heartbeat check remains');
});
