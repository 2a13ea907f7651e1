import t from 'tap';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BURST, ReplicaSetController, slowStartBatches } from '../../../daemon/src/controllers/replicaset/controller.js';
import { DeploymentController } from '../../../daemon/src/controllers/deployment/controller.js';
import { SchedulingController, MAX_UNSCHEDULED_PER_OWNER } from '../../../daemon/src/controllers/scheduling.js';
import { JobController } from '../../../daemon/src/controllers/jobs.js';
import { ControllerManager } from '../../../daemon/src/controllers/manager.js';
import { isActive, isOwnedBy } from '../../../daemon/src/controllers/pods.js';
import { StoreError, type Mutation } from '../../../daemon/src/state/store.js';
import type { Deployment, Job, KObject, Pod, ReplicaSet } from '../../../daemon/src/api/types.js';
import { create, deployment, env, get, keyOf, node, podsOf, replicaSet, rsOf, update, type Env } from './fixtures.js';
import { job } from './job/env.js';

const CEILING = 1000; // the default limits.maxReplicas / maxParallelism

interface Cond { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }
const conditionOf = (o: KObject, type: string): Cond | undefined => ((o.status as { conditions?: Cond[] } | undefined)?.conditions ?? []).find((c) => c.type === type);

/** Bytes of the store's files on disk (log and snapshots). */
function diskBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const st = statSync(join(dir, f));
    if (st.isFile()) n += st.size;
  }
  return n;
}

/** Highest number of bound pods on each node and of unbound active pods per owner, over every store change. */
function watchCounts(e: Env): { maxBound: () => number; maxUnbound: () => number; stop: () => void } {
  let maxBound = 0;
  let maxUnbound = 0;
  const stop = e.store.watch((ev) => {
    if (ev.obj.kind !== 'Pod') return;
    const pods = e.store.list<Pod>('Pod').filter(isActive);
    const bound = new Map<string, number>();
    const unbound = new Map<string, number>();
    for (const p of pods) {
      if (p.spec.nodeName) bound.set(p.spec.nodeName, (bound.get(p.spec.nodeName) ?? 0) + 1);
      else {
        const owner = p.metadata.ownerReferences?.[0]?.uid ?? '';
        unbound.set(owner, (unbound.get(owner) ?? 0) + 1);
      }
    }
    maxBound = Math.max(maxBound, ...bound.values(), 0);
    maxUnbound = Math.max(maxUnbound, ...unbound.values(), 0);
  });
  return { maxBound: () => maxBound, maxUnbound: () => maxUnbound, stop };
}

/** What the scheduler would do on a roomy fleet: bind every waiting pod of the owner. */
async function bindAll(e: Env, owner: KObject): Promise<void> {
  for (const p of podsOf(e.store, owner)) if (!p.spec.nodeName) await update(e.store, p, (o) => { o.spec.nodeName = 'n1'; });
}

t.test('pods that wait for a node but were not tried by the scheduler yet hold creation back without a failure condition', async (t) => {
  const e = await env(t);
  const c = new ReplicaSetController(e.ctx);
  const rs = await create(e.store, replicaSet('web', 300));
  for (let i = 0; i < 4; i++) await c.reconcile(keyOf(rs));
  t.equal(podsOf(e.store, rs).length, 110, 'at most 110 unbound pods');
  t.notOk(conditionOf(get<ReplicaSet>(e.store, 'ReplicaSet', 'web'), 'ReplicaFailure'), 'not a failure: the scheduler has not looked at them');
  t.equal(e.recorder.events.filter((x) => x.reason === 'FailedCreate').length, 0);
});

/** Advance the clock in steps, letting every controller run, until nothing is written any more. */
async function settle(e: Env, m: ControllerManager, stepMs = 60_000, steps = 15): Promise<void> {
  await m.idle();
  for (let i = 0; i < steps; i++) {
    e.clock.advance(stepMs);
    await m.idle();
  }
}

t.test('slow start: batches of 1, 2, 4, ... that add up to the count', async (t) => {
  t.same(slowStartBatches(0), []);
  t.same(slowStartBatches(1), [1]);
  t.same(slowStartBatches(3), [1, 2]);
  t.same(slowStartBatches(50), [1, 2, 4, 8, 16, 19]);
  t.same(slowStartBatches(10, 4), [4, 6]);
  t.equal(BURST, 50);
});

t.test('a ReplicaSet creates its pods in slow-start batches of 1, 2, 4, ... and at most 50 per reconcile', async (t) => {
  const e = await env(t);
  const c = new ReplicaSetController(e.ctx);
  const rs = await create(e.store, replicaSet('web', 120));
  const batches = new Map<number, number>();
  const stop = e.store.watch((ev) => { if (ev.type === 'ADDED' && ev.obj.kind === 'Pod') batches.set(ev.revision, (batches.get(ev.revision) ?? 0) + 1); });
  t.teardown(stop);
  await c.reconcile(keyOf(rs));
  t.same([...batches.values()], [1, 2, 4, 8, 16, 19], 'one commit per batch');
  t.equal(podsOf(e.store, rs).length, 50);
  await bindAll(e, rs);
  batches.clear();
  await c.reconcile(keyOf(rs));
  t.same([...batches.values()], [1, 2, 4, 8, 16, 19], 'the next reconcile starts slow again');
  await bindAll(e, rs);
  await c.reconcile(keyOf(rs));
  t.equal(podsOf(e.store, rs).length, 120);
  t.same(e.recorder.events.filter((x) => x.reason === 'SuccessfulCreate').map((x) => x.message.split(':')[0]), ['Created 50 pods', 'Created 50 pods', 'Created 20 pods']);
  t.notOk(conditionOf(get<ReplicaSet>(e.store, 'ReplicaSet', 'web'), 'ReplicaFailure'), 'no failure condition while pods are created');
});

t.test('a failing batch stops the slow start, keeps the batches before it, and sets ReplicaFailure with FailedCreate', async (t) => {
  const e = await env(t);
  const c = new ReplicaSetController(e.ctx);
  const rs = await create(e.store, replicaSet('web', 10));
  const commit = e.store.commit.bind(e.store);
  let calls = 0;
  let fail = true;
  e.store.commit = async (muts: Mutation[]) => {
    if (fail && muts.some((m) => m.type === 'create') && ++calls === 3) throw new StoreError('Conflict', 'write from stale term 1 refused (current term 2)');
    return commit(muts);
  };
  await t.rejects(c.reconcile(keyOf(rs)), /stale term/, 'the error goes back to the work queue (retried with backoff)');
  t.equal(podsOf(e.store, rs).length, 3, 'the batches of 1 and 2 stay; the batch of 4 and the rest are skipped');
  const cond = conditionOf(get<ReplicaSet>(e.store, 'ReplicaSet', 'web'), 'ReplicaFailure');
  t.match(cond, { status: 'True', reason: 'FailedCreate', message: /failed to create pods \(3 of 10 created\): write from stale term/ });
  t.match(e.recorder.events.filter((x) => x.reason === 'FailedCreate'), [{ type: 'Warning', message: /stale term/ }]);
  fail = false;
  await c.reconcile(keyOf(rs));
  t.equal(podsOf(e.store, rs).length, 10);
  t.notOk(conditionOf(get<ReplicaSet>(e.store, 'ReplicaSet', 'web'), 'ReplicaFailure'), 'the condition clears once pods are created again');
});

t.test('a Deployment at the replica ceiling on a one-node fleet binds at most 110 pods and keeps the Pending pods bounded', async (t) => {
  const e = await env(t);
  await e.putNode(node('n1'));
  const m = new ControllerManager(e.ctx, [new DeploymentController(e.ctx), new ReplicaSetController(e.ctx), new SchedulingController(e.ctx)]);
  t.teardown(() => m.stop());
  const counts = watchCounts(e);
  t.teardown(counts.stop);
  m.start();
  const d = await create(e.store, deployment('web', CEILING));
  await settle(e, m);
  const [rs] = rsOf(e.store, d);
  const pods = podsOf(e.store, rs as ReplicaSet);
  const bound = pods.filter((p) => p.spec.nodeName === 'n1');
  const pending = pods.filter((p) => !p.spec.nodeName);
  t.equal(bound.length, 110, 'the node is full');
  t.equal(pending.length, MAX_UNSCHEDULED_PER_OWNER, 'and 110 wait for a node');
  t.equal(MAX_UNSCHEDULED_PER_OWNER, 110, 'the documented bound: the pods-per-node ceiling');
  t.equal(counts.maxBound(), 110, 'never more than 110 pods on the node');
  t.equal(counts.maxUnbound(), 110, 'never more than 110 pods Pending');
  for (const p of pending) t.match(conditionOf(p, 'PodScheduled'), { status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Too many pods.' });
  const cond = conditionOf(get<ReplicaSet>(e.store, 'ReplicaSet', (rs as ReplicaSet).metadata.name), 'ReplicaFailure');
  t.match(cond, { status: 'True', reason: 'FailedCreate', message: '110 pods of this ReplicaSet are waiting for a node (0/1 nodes are available: 1 Too many pods); 780 more are not created: at most 110 of its pods may wait for a node at a time (the pods-per-node ceiling)' });
  t.equal(e.recorder.events.filter((x) => x.reason === 'FailedCreate').length, 1, 'one FailedCreate warning, not one per reconcile');

  // state growth stops: time passes, controllers and scheduler retries run, nothing is written
  const revision = e.store.revision;
  const bytes = diskBytes(e.dir);
  await settle(e, m, 10 * 60_000, 6);
  t.equal(e.store.revision, revision, 'no new revision in an hour');
  t.equal(diskBytes(e.dir), bytes, 'no byte more on disk');
  t.equal(e.store.list('Pod').length, 220);
});

t.test('room on the node is refilled from the Pending pods, and the Pending pods are topped up, never past the bound', async (t) => {
  const e = await env(t);
  await e.putNode(node('n1', { pods: '20' }));
  const m = new ControllerManager(e.ctx, [new ReplicaSetController(e.ctx), new SchedulingController(e.ctx)]);
  t.teardown(() => m.stop());
  const counts = watchCounts(e);
  t.teardown(counts.stop);
  m.start();
  const rs = await create(e.store, replicaSet('web', 300));
  await settle(e, m);
  t.equal(podsOf(e.store, rs).filter((p) => p.spec.nodeName).length, 20);
  t.equal(podsOf(e.store, rs).filter((p) => !p.spec.nodeName).length, 110);
  // a bigger node joins: the waiting pods are bound and more are created, still at most 110 waiting
  await e.putNode(node('n2', { pods: '100' }));
  await settle(e, m);
  t.equal(podsOf(e.store, rs).filter((p) => p.spec.nodeName).length, 120);
  t.equal(podsOf(e.store, rs).filter((p) => !p.spec.nodeName).length, 110);
  t.equal(counts.maxUnbound(), 110);
  t.equal(counts.maxBound(), 100);
  // scaled to what fits: the surplus Pending pods go first, and the condition clears
  await update(e.store, rs, (o) => { o.spec.replicas = 120; });
  await settle(e, m);
  t.equal(podsOf(e.store, rs).length, 120);
  t.equal(podsOf(e.store, rs).filter((p) => !p.spec.nodeName).length, 0);
  t.notOk(conditionOf(get<ReplicaSet>(e.store, 'ReplicaSet', 'web'), 'ReplicaFailure'));
});

t.test('a ReplicaSet whose pods fit no node stops at 110 Pending pods and says why', async (t) => {
  const e = await env(t);
  await e.putNode(node('n1', { taints: [{ key: 'dedicated', value: 'sensors', effect: 'NoSchedule' }] }));
  const m = new ControllerManager(e.ctx, [new ReplicaSetController(e.ctx), new SchedulingController(e.ctx)]);
  t.teardown(() => m.stop());
  m.start();
  const rs = await create(e.store, replicaSet('web', 500));
  await settle(e, m);
  t.equal(podsOf(e.store, rs).length, 110);
  t.match(conditionOf(get<ReplicaSet>(e.store, 'ReplicaSet', 'web'), 'ReplicaFailure')?.message, /^110 pods of this ReplicaSet are waiting for a node \(0\/1 nodes are available: 1 node\(s\) had untolerated taint \{dedicated: sensors\}\); 390 more are not created/);
});

t.test('a Job at the parallelism ceiling on a one-node fleet runs at most 110 pods and keeps the Pending pods bounded', async (t) => {
  const e = await env(t);
  await e.putNode(node('n1'));
  const m = new ControllerManager(e.ctx, [new JobController(e.ctx, { backoffBaseMs: 10_000, backoffMaxMs: 360_000 }), new SchedulingController(e.ctx)]);
  t.teardown(() => m.stop());
  const counts = watchCounts(e);
  t.teardown(counts.stop);
  m.start();
  const j = await create(e.store, { ...job('batch', { parallelism: CEILING, completions: CEILING }), metadata: { name: 'batch', namespace: 'default', uid: 'uid-batch' } } as Job);
  await settle(e, m);
  const pods = e.store.list<Pod>('Pod').filter((p) => isOwnedBy(p, j));
  t.equal(pods.filter((p) => p.spec.nodeName).length, 110);
  t.equal(pods.filter((p) => !p.spec.nodeName).length, 110);
  t.equal(counts.maxBound(), 110);
  t.equal(counts.maxUnbound(), 110);
  t.equal(get<Job>(e.store, 'Job', 'batch').status?.active, 220);
  const warnings = e.recorder.events.filter((x) => x.reason === 'FailedCreate');
  t.equal(warnings.length, 1, 'one FailedCreate warning');
  t.match(warnings[0]?.message, /^1\d\d pods of this Job are waiting for a node \(0\/1 nodes are available: 1 Too many pods\); \d+ more are not created: at most 110 of its pods may wait for a node at a time/);
  const revision = e.store.revision;
  await settle(e, m, 10 * 60_000, 6);
  t.equal(e.store.revision, revision, 'state growth stops');
});
