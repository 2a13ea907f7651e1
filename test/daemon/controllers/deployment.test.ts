import t, { type Test } from 'tap';
import { DeploymentController, REVISION, POD_TEMPLATE_HASH, hashOfTemplate } from '../../../daemon/src/controllers/deployment/controller.js';
import { ReplicaSetController } from '../../../daemon/src/controllers/replicaset/controller.js';
import { SchedulingController } from '../../../daemon/src/controllers/scheduling.js';
import { ControllerManager } from '../../../daemon/src/controllers/manager.js';
import { isActive, isReady, isOwnedBy } from '../../../daemon/src/controllers/pods.js';
import type { Deployment, Pod, ReplicaSet } from '../../../daemon/src/api/types.js';
import { create, deployment, env, finishTermination, fingerprint, get, keyOf, markReady, node, rsOf, update, type Env } from './fixtures.js';

interface Cond { type: string; status: string; reason: string; message: string; lastUpdateTime: string; lastTransitionTime: string }
interface DStatus { collisionCount?: number; observedGeneration: number; replicas: number; updatedReplicas: number; readyReplicas: number; availableReplicas: number; unavailableReplicas: number; conditions: Cond[] }

const statusOf = (e: Env, name = 'web'): DStatus => get<Deployment>(e.store, 'Deployment', name).status as DStatus;
const cond = (e: Env, type: string, name = 'web'): Cond | undefined => statusOf(e, name)?.conditions?.find((c) => c.type === type);
const rsSize = (rs: ReplicaSet): number => rs.spec.replicas ?? 0;

async function setup(e: Env) {
  for (const n of ['n1', 'n2', 'n3']) await e.putNode(node(n));
  return { dc: new DeploymentController(e.ctx), rsc: new ReplicaSetController(e.ctx), sched: new SchedulingController(e.ctx) };
}

type Ctl = Awaited<ReturnType<typeof setup>>;

/** Pods of the deployment (through its ReplicaSets). */
function podsOfDeployment(e: Env, d: Deployment, opts: { includeTerminating?: boolean } = {}): Pod[] {
  const rss = rsOf(e.store, d);
  return e.store.list<Pod>('Pod', 'default').filter((p) => rss.some((rs) => isOwnedBy(p, rs)) && (opts.includeTerminating || isActive(p)));
}

/**
 * One round of the cluster: the deployment controller, then every ReplicaSet, the scheduler,
 * the node agents (stop terminating pods, make `readyPerRound` new pods ready), and the
 * ReplicaSets again for status. `check` runs after every controller step.
 */
interface RoundOpts { readyPerRound?: number; readyEvery?: number; terminate?: boolean; check?: (step: string) => void; staleTwice?: boolean }

async function round(e: Env, c: Ctl, d: Deployment, opts: RoundOpts = {}, index = 0): Promise<void> {
  const check = opts.check ?? (() => undefined);
  await c.dc.reconcile(keyOf(d));
  check('deployment');
  // the Deployment may run again before the ReplicaSets caught up (separate queues): stale RS status
  if (opts.staleTwice) {
    // ...while the newest ReplicaSet's pods become ready and its status is already fresh
    const newest = rsOf(e.store, d).sort((a, b) => Number(b.metadata.annotations?.[REVISION]) - Number(a.metadata.annotations?.[REVISION]))[0];
    if (newest) {
      await c.rsc.reconcile(keyOf(newest));
      for (const p of e.store.list<Pod>('Pod', 'default')) if (!p.spec.nodeName && !p.metadata.deletionTimestamp) await c.sched.reconcile(keyOf(p));
      const idle = podsOfDeployment(e, d).find((p) => isOwnedBy(p, newest) && p.spec.nodeName && !isReady(p));
      if (idle) markReady(e, idle);
      await c.rsc.reconcile(keyOf(newest));
    }
    await c.dc.reconcile(keyOf(d));
    check('deployment again');
  }
  for (const rs of rsOf(e.store, d)) await c.rsc.reconcile(keyOf(rs));
  check('replicasets');
  for (const p of e.store.list<Pod>('Pod', 'default')) if (!p.spec.nodeName && !p.metadata.deletionTimestamp) await c.sched.reconcile(keyOf(p));
  if (opts.terminate ?? true) await finishTermination(e.store);
  const every = opts.readyEvery ?? 1;
  let n = index % every === every - 1 ? opts.readyPerRound ?? Infinity : 0;
  for (const p of podsOfDeployment(e, d)) {
    if (n <= 0) break;
    if (p.spec.nodeName && !isReady(p)) { markReady(e, p); n--; }
  }
  for (const rs of rsOf(e.store, d)) await c.rsc.reconcile(keyOf(rs));
  check('status');
}

async function converge(t: Test, e: Env, c: Ctl, d: Deployment, opts: RoundOpts = {}, max = 80): Promise<number> {
  const every = opts.readyEvery ?? 1;
  let last = '';
  for (let i = 0; i < max; i++) {
    await round(e, c, d, opts, i);
    if (i % every !== every - 1) continue; // a fixed point counts only over a round where pods could become ready
    const fp = fingerprint(e.store);
    if (fp === last) return i;
    last = fp;
  }
  t.fail(`no fixed point after ${max} rounds`);
  return max;
}

t.test('a new Deployment gets a ReplicaSet named by its pod-template-hash, revision 1, and becomes available', async (t) => {
  const e = await env(t);
  const c = await setup(e);
  const d = await create(e.store, deployment('web', 3));
  await c.dc.reconcile(keyOf(d));
  const [rs, ...more] = rsOf(e.store, d);
  t.equal(more.length, 0);
  const hash = hashOfTemplate(d.spec.template);
  t.equal(rs?.metadata.name, `web-${hash}`);
  t.equal(rs?.metadata.labels?.[POD_TEMPLATE_HASH], hash);
  t.equal(rs?.spec.selector.matchLabels?.[POD_TEMPLATE_HASH], hash);
  t.equal(rs?.spec.selector.matchLabels?.app, 'web');
  t.equal(rs?.spec.template?.metadata?.labels?.[POD_TEMPLATE_HASH], hash);
  t.equal(rs?.spec.replicas, 3);
  t.equal(rs?.metadata.annotations?.[REVISION], '1');
  t.equal(get<Deployment>(e.store, 'Deployment', 'web').metadata.annotations?.[REVISION], '1');
  t.equal(cond(e, 'Progressing')?.reason, 'NewReplicaSetCreated');
  t.equal(cond(e, 'Available')?.status, 'False');
  await converge(t, e, c, d);
  const pods = podsOfDeployment(e, d);
  t.equal(pods.length, 3);
  t.ok(pods.every((p) => p.metadata.labels?.[POD_TEMPLATE_HASH] === hash));
  t.same(pods.map((p) => p.spec.nodeName).sort(), ['n1', 'n2', 'n3'], 'one per node');
  const st = statusOf(e);
  t.same({ ...st, conditions: undefined }, { observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, unavailableReplicas: 0, conditions: undefined });
  t.match(cond(e, 'Available'), { status: 'True', reason: 'MinimumReplicasAvailable' });
  t.match(cond(e, 'Progressing'), { status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "web-${hash}" has successfully progressed.` });
});

for (const [surge, unavail, label, staleTwice] of [[1, 1, '1/1', false], [0, 1, '0/1', false], [2, 0, '2/0', false], ['25%', '25%', '25%/25%', false], [1, 0, '1/0', false], [1, 1, '1/1', true], [0, 2, '0/2', true], [2, 1, '2/1', true]] as const) {
  t.test(`a rolling update (maxSurge ${label.split('/')[0]}, maxUnavailable ${label.split('/')[1]}${staleTwice ? ', Deployment racing ahead of stale ReplicaSet status' : ''}) never exceeds the surge nor drops below the minimum available`, async (t) => {
    const e = await env(t);
    const c = await setup(e);
    const R = 4;
    const S = typeof surge === 'number' ? surge : 1; // 25% of 4
    const U = typeof unavail === 'number' ? unavail : 1;
    const d = await create(e.store, deployment('web', R, { maxSurge: surge, maxUnavailable: unavail }));
    await converge(t, e, c, d);
    t.equal(podsOfDeployment(e, d).filter(isReady).length, R);
    const oldHash = hashOfTemplate(d.spec.template);
    await update(e.store, d, (o) => { o.spec.template.spec!.containers[0]!.image = 'busybox:2'; });
    const newHash = hashOfTemplate(get<Deployment>(e.store, 'Deployment', 'web').spec.template);
    t.not(newHash, oldHash);
    let violations = 0;
    let minAvail = Infinity;
    let maxTotal = 0;
    let steps = 0;
    const check = (step: string): void => {
      steps++;
      const active = podsOfDeployment(e, d);
      const available = active.filter(isReady).length;
      const specTotal = rsOf(e.store, d).reduce((n, rs) => n + rsSize(rs), 0);
      minAvail = Math.min(minAvail, available);
      maxTotal = Math.max(maxTotal, active.length, specTotal);
      if (available < R - U || active.length > R + S || specTotal > R + S) {
        violations++;
        t.fail(`after ${step}: ${available} available (min ${R - U}), ${active.length} pods / ${specTotal} in specs (max ${R + S})`);
      }
    };
    const rounds = await converge(t, e, c, d, { readyPerRound: 1, readyEvery: 3, check, staleTwice });
    t.equal(violations, 0);
    t.ok(rounds > 2, `the rollout took several steps (${rounds})`);
    t.equal(minAvail, R - U, 'the rollout used its unavailability budget exactly');
    t.equal(maxTotal, R + S, 'and its surge budget exactly');
    const rss = rsOf(e.store, d);
    t.equal(rss.length, 2, 'old ReplicaSet kept as history');
    const newRS = rss.find((rs) => rs.metadata.labels?.[POD_TEMPLATE_HASH] === newHash) as ReplicaSet;
    const oldRS = rss.find((rs) => rs.metadata.labels?.[POD_TEMPLATE_HASH] === oldHash) as ReplicaSet;
    t.equal(rsSize(newRS), R);
    t.equal(rsSize(oldRS), 0);
    t.equal(newRS.metadata.annotations?.[REVISION], '2');
    t.equal(get<Deployment>(e.store, 'Deployment', 'web').metadata.annotations?.[REVISION], '2');
    const pods = podsOfDeployment(e, d);
    t.equal(pods.length, R);
    t.ok(pods.every((p) => p.spec.containers[0]?.image === 'busybox:2' && isReady(p)));
    t.match(statusOf(e), { replicas: R, updatedReplicas: R, availableReplicas: R, observedGeneration: 2 });
    t.match(cond(e, 'Progressing'), { status: 'True', reason: 'NewReplicaSetAvailable' });
  });
}

t.test('Recreate scales the old ReplicaSet to 0 and waits until its pods are gone before scaling the new one up', async (t) => {
  const e = await env(t);
  const c = await setup(e);
  const d = await create(e.store, deployment('web', 3, { type: 'Recreate' }));
  await converge(t, e, c, d);
  const oldHash = hashOfTemplate(d.spec.template);
  await update(e.store, d, (o) => { o.spec.template.spec!.containers[0]!.image = 'busybox:2'; });
  await c.dc.reconcile(keyOf(d));
  const byHash = (h: string): ReplicaSet => rsOf(e.store, d).find((rs) => rs.metadata.labels?.[POD_TEMPLATE_HASH] === h) as ReplicaSet;
  const newHash = hashOfTemplate(get<Deployment>(e.store, 'Deployment', 'web').spec.template);
  t.equal(rsSize(byHash(oldHash)), 0, 'old scaled to 0');
  t.equal(rsSize(byHash(newHash)), 0, 'new created at 0');
  for (const rs of rsOf(e.store, d)) await c.rsc.reconcile(keyOf(rs));
  const terminating = e.store.list<Pod>('Pod', 'default').filter((p) => p.metadata.deletionTimestamp);
  t.equal(terminating.length, 3, 'old pods terminating on their nodes');
  await c.dc.reconcile(keyOf(d));
  t.equal(rsSize(byHash(newHash)), 0, 'still 0 while old pods are terminating');
  let overlap = 0;
  const check = (): void => {
    const pods = e.store.list<Pod>('Pod', 'default');
    const oldLeft = pods.filter((p) => p.metadata.labels?.[POD_TEMPLATE_HASH] === oldHash).length;
    const newPods = pods.filter((p) => p.metadata.labels?.[POD_TEMPLATE_HASH] === newHash).length;
    if (oldLeft > 0 && newPods > 0) overlap++;
  };
  await converge(t, e, c, d, { check });
  t.equal(overlap, 0, 'no new pod ever existed next to an old one');
  t.equal(rsSize(byHash(newHash)), 3);
  t.equal(podsOfDeployment(e, d).filter(isReady).length, 3);
  t.match(cond(e, 'Progressing'), { status: 'True', reason: 'NewReplicaSetAvailable' });
});

t.test('a paused Deployment does not roll out a new template until resumed', async (t) => {
  const e = await env(t);
  const c = await setup(e);
  const d = await create(e.store, deployment('web', 2));
  await converge(t, e, c, d);
  await update(e.store, d, (o) => { o.spec.paused = true; o.spec.template.spec!.containers[0]!.image = 'busybox:2'; });
  await converge(t, e, c, d);
  t.equal(rsOf(e.store, d).length, 1, 'no new ReplicaSet while paused');
  t.ok(podsOfDeployment(e, d).every((p) => p.spec.containers[0]?.image === 'busybox:1'));
  t.match(cond(e, 'Progressing'), { status: 'Unknown', reason: 'DeploymentPaused' });
  await update(e.store, d, (o) => { o.spec.replicas = 3; });
  await converge(t, e, c, d);
  t.equal(podsOfDeployment(e, d).length, 3, 'scaling still applies while paused');
  await update(e.store, d, (o) => { o.spec.paused = false; });
  await c.dc.reconcile(keyOf(d));
  t.equal(rsOf(e.store, d).length, 2, 'resumed: the new ReplicaSet appears');
  await converge(t, e, c, d);
  t.equal(podsOfDeployment(e, d).length, 3);
  t.ok(podsOfDeployment(e, d).every((p) => p.spec.containers[0]?.image === 'busybox:2'));
  t.match(cond(e, 'Progressing'), { status: 'True', reason: 'NewReplicaSetAvailable' });
});

t.test('old ReplicaSets beyond revisionHistoryLimit are deleted, oldest revision first', async (t) => {
  const e = await env(t);
  const c = await setup(e);
  const d = await create(e.store, deployment('web', 1, { revisionHistoryLimit: 2 }));
  await converge(t, e, c, d);
  const hashes = [hashOfTemplate(d.spec.template)];
  for (const v of [2, 3, 4, 5]) {
    const u = await update(e.store, d, (o) => { o.spec.template.spec!.containers[0]!.image = `busybox:${v}`; });
    hashes.push(hashOfTemplate(u.spec.template));
    await converge(t, e, c, d);
  }
  const rss = rsOf(e.store, d).sort((a, b) => Number(a.metadata.annotations?.[REVISION]) - Number(b.metadata.annotations?.[REVISION]));
  t.same(rss.map((rs) => rs.metadata.annotations?.[REVISION]), ['3', '4', '5'], 'current + 2 old revisions');
  t.same(rss.map((rs) => rs.metadata.labels?.[POD_TEMPLATE_HASH]), hashes.slice(2));
  t.same(rss.map(rsSize), [0, 0, 1]);
});

t.test('applying an old template again rolls back to its ReplicaSet, which gets the next revision', async (t) => {
  const e = await env(t);
  const c = await setup(e);
  const d = await create(e.store, deployment('web', 2));
  await converge(t, e, c, d);
  const v1 = rsOf(e.store, d)[0] as ReplicaSet;
  await update(e.store, d, (o) => { o.spec.template.spec!.containers[0]!.image = 'busybox:2'; });
  await converge(t, e, c, d);
  t.equal(get<Deployment>(e.store, 'Deployment', 'web').metadata.annotations?.[REVISION], '2');
  await update(e.store, d, (o) => { o.spec.template.spec!.containers[0]!.image = 'busybox:1'; });
  await converge(t, e, c, d);
  const rss = rsOf(e.store, d);
  t.equal(rss.length, 2, 'no third ReplicaSet: the old one is reused');
  const back = get<ReplicaSet>(e.store, 'ReplicaSet', v1.metadata.name);
  t.equal(back.metadata.uid, v1.metadata.uid);
  t.equal(back.metadata.annotations?.[REVISION], '3', 'revision moved to 3');
  t.equal(rsSize(back), 2);
  t.equal(get<Deployment>(e.store, 'Deployment', 'web').metadata.annotations?.[REVISION], '3');
  t.ok(podsOfDeployment(e, d).every((p) => p.spec.containers[0]?.image === 'busybox:1'));
  t.equal(podsOfDeployment(e, d).length, 2);
});

t.test('scaling a settled Deployment up and down resizes its ReplicaSet', async (t) => {
  const e = await env(t);
  const c = await setup(e);
  const d = await create(e.store, deployment('web', 2));
  await converge(t, e, c, d);
  await update(e.store, d, (o) => { o.spec.replicas = 5; });
  await converge(t, e, c, d);
  t.equal(podsOfDeployment(e, d).length, 5);
  await update(e.store, d, (o) => { o.spec.replicas = 1; });
  await converge(t, e, c, d);
  t.equal(podsOfDeployment(e, d).length, 1);
  t.equal(rsOf(e.store, d).length, 1);
  t.match(statusOf(e), { replicas: 1, updatedReplicas: 1, availableReplicas: 1, observedGeneration: 3 });
});

t.test('a rollout that makes no progress for progressDeadlineSeconds is reported ProgressDeadlineExceeded', async (t) => {
  const e = await env(t);
  const c = await setup(e);
  const d = await create(e.store, deployment('web', 2, { progressDeadlineSeconds: 60 }));
  await converge(t, e, c, d);
  await update(e.store, d, (o) => { o.spec.template.spec!.containers[0]!.image = 'busybox:broken'; });
  // pods are created and scheduled but never become ready
  await converge(t, e, c, d, { readyPerRound: 0 });
  const prog = cond(e, 'Progressing');
  t.match(prog, { status: 'True', reason: 'ReplicaSetUpdated' });
  const res = await c.dc.reconcile(keyOf(d));
  t.ok(res && typeof res.requeueAfterMs === 'number' && res.requeueAfterMs > 0 && res.requeueAfterMs <= 60_010, `asks to look again at the deadline (${JSON.stringify(res)})`);
  e.clock.advance(30_000);
  await c.dc.reconcile(keyOf(d));
  t.equal(cond(e, 'Progressing')?.status, 'True', 'not yet');
  e.clock.advance(31_000);
  await c.dc.reconcile(keyOf(d));
  t.match(cond(e, 'Progressing'), { status: 'False', reason: 'ProgressDeadlineExceeded', message: /has timed out progressing/ });
  t.equal(e.recorder.events.filter((x) => x.reason === 'ProgressDeadlineExceeded').length, 1);
  t.match(cond(e, 'Available'), { status: 'True' }, 'the old pods keep it available');
  await c.dc.reconcile(keyOf(d));
  t.equal(e.recorder.events.filter((x) => x.reason === 'ProgressDeadlineExceeded').length, 1, 'reported once');
  // progress resumes: the condition goes back to True
  for (const p of podsOfDeployment(e, d)) markReady(e, p);
  await converge(t, e, c, d);
  t.match(cond(e, 'Progressing'), { status: 'True', reason: 'NewReplicaSetAvailable' });
});

t.test('Available is False while fewer than replicas - maxUnavailable pods are available', async (t) => {
  const e = await env(t);
  const c = await setup(e);
  const d = await create(e.store, deployment('web', 4, { maxUnavailable: 1 }));
  await converge(t, e, c, d, { readyPerRound: 0 });
  t.match(cond(e, 'Available'), { status: 'False', reason: 'MinimumReplicasUnavailable' });
  const pods = podsOfDeployment(e, d);
  for (const p of pods.slice(0, 3)) markReady(e, p);
  await converge(t, e, c, d, { readyPerRound: 0 });
  t.match(cond(e, 'Available'), { status: 'True', reason: 'MinimumReplicasAvailable' });
  t.match(statusOf(e), { availableReplicas: 3, unavailableReplicas: 1 });
});

t.test('driven by the manager with a fake clock, a Deployment rolls out end to end', async (t) => {
  const e = await env(t);
  for (const n of ['n1', 'n2']) await e.putNode(node(n));
  const m = new ControllerManager(e.ctx, [new DeploymentController(e.ctx), new ReplicaSetController(e.ctx), new SchedulingController(e.ctx)]);
  t.teardown(() => m.stop());
  m.start();
  const d = await create(e.store, deployment('web', 2, { minReadySeconds: 5 }));
  await m.idle();
  for (let i = 0; i < 10; i++) {
    const pending = podsOfDeployment(e, d).filter((p) => p.spec.nodeName && !isReady(p));
    if (pending.length === 0) break;
    for (const p of pending) markReady(e, p);
    await m.idle();
  }
  t.match(statusOf(e), { readyReplicas: 2, availableReplicas: 0 }, 'ready, but not for minReadySeconds yet');
  e.clock.advance(5_100);
  await m.idle();
  t.match(statusOf(e), { readyReplicas: 2, availableReplicas: 2 });
  t.match(cond(e, 'Progressing'), { status: 'True', reason: 'NewReplicaSetAvailable' });
});

t.test('the Deployment reconciler reaches a fixed point: a settled Deployment writes nothing', async (t) => {
  const e = await env(t);
  const c = await setup(e);
  const d = await create(e.store, deployment('web', 2));
  await converge(t, e, c, d);
  const rev = e.store.revision;
  await round(e, c, d);
  await round(e, c, d);
  t.equal(e.store.revision, rev);
});

t.test('a Deployment re-created after an orphaning delete adopts its old ReplicaSet and pods instead of failing on the name', async (t) => {
  const e = await env(t);
  const c = await setup(e);
  const d = await create(e.store, deployment('web', 2));
  await converge(t, e, c, d);
  const [rs] = rsOf(e.store, d);
  const podUids = podsOfDeployment(e, d).map((p) => p.metadata.uid).sort();
  // kubectl delete --cascade=orphan: strip the owner reference, then delete
  const freed = structuredClone(rs as ReplicaSet);
  delete freed.status;
  freed.metadata.ownerReferences = [];
  await e.store.commit([{ type: 'update', obj: freed }, { type: 'delete', kind: 'Deployment', namespace: 'default', name: 'web' }]);
  const again = await create(e.store, deployment('web', 2));
  await converge(t, e, c, again);
  const rss = rsOf(e.store, again);
  t.equal(rss.length, 1);
  t.equal(rss[0]?.metadata.uid, rs?.metadata.uid, 'the same ReplicaSet, adopted');
  t.same(podsOfDeployment(e, again).map((p) => p.metadata.uid).sort(), podUids, 'its pods were never replaced');
  t.match(statusOf(e), { replicas: 2, updatedReplicas: 2, availableReplicas: 2 });
});

t.test('a ReplicaSet name taken by something else raises collisionCount and the Deployment uses a new hash', async (t) => {
  const e = await env(t);
  const c = await setup(e);
  const d = deployment('web', 1);
  const hash0 = hashOfTemplate(d.spec.template);
  const squatter = replicaSetNamed(`web-${hash0}`);
  await create(e.store, squatter);
  const created = await create(e.store, d);
  await converge(t, e, c, created);
  t.equal(statusOf(e).collisionCount, 1);
  const rss = rsOf(e.store, created);
  t.equal(rss.length, 1);
  t.equal(rss[0]?.metadata.name, `web-${hashOfTemplate(d.spec.template, 1)}`);
  t.not(rss[0]?.metadata.name, `web-${hash0}`);
  t.equal(podsOfDeployment(e, created).length, 1);
  t.equal(get<ReplicaSet>(e.store, 'ReplicaSet', `web-${hash0}`).metadata.ownerReferences, undefined, 'the squatter is left alone');
});

t.test('a template change in the middle of a rollout rolls on to the newest template within the same bounds', async (t) => {
  const e = await env(t);
  const c = await setup(e);
  const R = 4;
  const d = await create(e.store, deployment('web', R, { maxSurge: 1, maxUnavailable: 1 }));
  await converge(t, e, c, d);
  await update(e.store, d, (o) => { o.spec.template.spec!.containers[0]!.image = 'busybox:2'; });
  let bad = 0;
  const check = (step: string): void => {
    const active = podsOfDeployment(e, d);
    const available = active.filter(isReady).length;
    const specTotal = rsOf(e.store, d).reduce((n, rs) => n + rsSize(rs), 0);
    if (available < R - 1 || active.length > R + 1 || specTotal > R + 1) { bad++; t.fail(`after ${step}: ${available} available, ${active.length} pods, ${specTotal} in specs`); }
  };
  for (let i = 0; i < 2; i++) await round(e, c, d, { readyPerRound: 1, check }, i);
  t.ok(podsOfDeployment(e, d).some((p) => p.spec.containers[0]?.image === 'busybox:2'), 'v2 pods exist');
  t.ok(podsOfDeployment(e, d).some((p) => p.spec.containers[0]?.image === 'busybox:1'), 'v1 pods remain: mid-rollout');
  await update(e.store, d, (o) => { o.spec.template.spec!.containers[0]!.image = 'busybox:3'; });
  await converge(t, e, c, d, { readyPerRound: 1, readyEvery: 2, check });
  t.equal(bad, 0);
  const rss = rsOf(e.store, d);
  t.equal(rss.length, 3);
  t.same(rss.map(rsSize).sort(), [0, 0, R]);
  t.ok(podsOfDeployment(e, d).every((p) => p.spec.containers[0]?.image === 'busybox:3'));
  t.equal(get<Deployment>(e.store, 'Deployment', 'web').metadata.annotations?.[REVISION], '3');
});

function replicaSetNamed(name: string): ReplicaSet {
  return {
    apiVersion: 'apps/v1', kind: 'ReplicaSet',
    metadata: { name, namespace: 'default', labels: { app: 'something-else' } },
    spec: { replicas: 0, selector: { matchLabels: { app: 'something-else' } }, template: { metadata: { labels: { app: 'something-else' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } },
  };
}

t.test('history is cleaned only once the rollout is complete, so an unfinished rollout can still go back', async (t) => {
  const e = await env(t);
  const c = await setup(e);
  const d = await create(e.store, deployment('web', 2, { type: 'Recreate', revisionHistoryLimit: 0 }));
  await converge(t, e, c, d);
  await update(e.store, d, (o) => { o.spec.template.spec!.containers[0]!.image = 'busybox:2'; });
  await converge(t, e, c, d, { readyPerRound: 0 });
  let rss = rsOf(e.store, d);
  t.equal(rss.length, 2, 'the empty old ReplicaSet stays while the new pods are not available');
  t.same(rss.map(rsSize).sort(), [0, 2]);
  for (const p of podsOfDeployment(e, d)) markReady(e, p);
  await converge(t, e, c, d);
  rss = rsOf(e.store, d);
  t.equal(rss.length, 1, 'complete: history beyond the limit (0) removed');
  t.equal(rss[0]?.spec.template?.spec?.containers[0]?.image, 'busybox:2');
});
