import t from 'tap';
import { JobController } from '../../../daemon/src/controllers/jobs.js';
import { ControllerManager } from '../../../daemon/src/controllers/manager.js';
import { GarbageCollector } from '../../../daemon/src/controllers/gc.js';
import { isActive, isTerminal } from '../../../daemon/src/controllers/pods.js';
import type { Job, Pod } from '../../../daemon/src/api/types.js';
import { condition, create, env, finishTermination, get, job, keyOf, podsOf, report, update, type Env } from './job/env.js';
import { rfc3339 } from '../../../daemon/src/lib/time.js';

const OPTS = { backoffBaseMs: 10_000, backoffMaxMs: 360_000 };

function controller(e: Env): JobController {
  return new JobController(e.ctx, OPTS);
}

async function bindAll(e: Env, j: Job, nodeName = 'n1'): Promise<void> {
  for (const p of podsOf(e.store, j)) if (!p.spec.nodeName) await update(e.store, p, (o) => { o.spec.nodeName = nodeName; });
}

const status = (e: Env, name: string): NonNullable<Job['status']> => get<Job>(e.store, 'Job', name).status ?? {};

t.test('a one-shot Job runs one pod, owned by the Job, and ends Complete with 1 succeeded; the pod is kept', async (t) => {
  const e = await env(t);
  const c = controller(e);
  const j = await create(e.store, job('once'));
  await c.reconcile(keyOf(j));
  const pods = podsOf(e.store, j);
  t.equal(pods.length, 1);
  const p = pods[0] as Pod;
  t.match(p.metadata.name, /^once-[a-z0-9]{5}$/);
  t.equal(p.metadata.labels?.app, 'once', 'template labels');
  t.equal(p.metadata.labels?.['batch.kubernetes.io/controller-uid'], j.metadata.uid);
  t.equal(p.metadata.labels?.['batch.kubernetes.io/job-name'], 'once');
  t.same(p.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'Job', name: 'once', uid: j.metadata.uid, controller: true, blockOwnerDeletion: true }]);
  t.equal(status(e, 'once').active, 1);
  t.ok(status(e, 'once').startTime);
  t.same(e.recorder.events.filter((x) => x.reason === 'SuccessfulCreate').map((x) => x.message), [`Created pod: ${p.metadata.name}`]);

  report(e, p, 'Running', { ready: true });
  await c.reconcile(keyOf(j));
  t.equal(status(e, 'once').ready, 1);
  e.clock.advance(3000);
  report(e, p, 'Succeeded');
  await c.reconcile(keyOf(j));
  const st = status(e, 'once');
  t.equal(st.succeeded, 1);
  t.equal(st.failed, 0);
  t.equal(st.active, 0);
  t.equal(condition({ status: st }, 'Complete')?.status, 'True');
  t.equal(st.completionTime, rfc3339(e.clock.now()));
  t.ok(e.recorder.events.some((x) => x.reason === 'Completed' && x.message === 'Job completed'));
  await c.reconcile(keyOf(j));
  t.equal(podsOf(e.store, j).length, 1, 'the finished pod is kept for its logs');
  t.equal(e.recorder.events.filter((x) => x.reason === 'Completed').length, 1, 'Completed is recorded once');
  await finishTermination(e, p);
  await c.reconcile(keyOf(j));
  t.equal(status(e, 'once').succeeded, 1, 'a finished Job keeps its counts when its pods are deleted by hand');
});

t.test('completions 10, parallelism 3: never more than 3 pods active, never more than remain, and 10 succeed', async (t) => {
  const e = await env(t);
  const c = controller(e);
  const j = await create(e.store, job('batch', { completions: 10, parallelism: 3 }));
  let maxActive = 0;
  for (let round = 0; round < 30; round++) {
    await c.reconcile(keyOf(j));
    if (condition(get<Job>(e.store, 'Job', 'batch'), 'Complete')) break;
    const active = podsOf(e.store, j).filter(isActive);
    const succeeded = podsOf(e.store, j).filter((p) => p.status?.phase === 'Succeeded').length;
    maxActive = Math.max(maxActive, active.length);
    t.ok(active.length <= Math.min(3, 10 - succeeded), `round ${round}: ${active.length} active with ${succeeded} succeeded`);
    // one pod finishes per round
    report(e, active[0] as Pod, 'Succeeded');
  }
  t.equal(maxActive, 3);
  const pods = podsOf(e.store, j);
  t.equal(pods.filter((p) => p.status?.phase === 'Succeeded').length, 10);
  t.equal(pods.length, 10, 'no pod more than needed was created');
  t.equal(status(e, 'batch').succeeded, 10);
  t.equal(condition(get<Job>(e.store, 'Job', 'batch'), 'Complete')?.status, 'True');
});

t.test('backoffLimit 2 with restartPolicy Never: exactly 3 pods, 10 s then 20 s apart, then Failed/BackoffLimitExceeded', async (t) => {
  const e = await env(t);
  const c = controller(e);
  const j = await create(e.store, job('fails', { backoffLimit: 2 }));
  const createdAt: number[] = [];
  const delays: number[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    await c.reconcile(keyOf(j));
    const active = podsOf(e.store, j).filter(isActive);
    t.equal(active.length, 1, `attempt ${attempt}: one pod`);
    createdAt.push(e.clock.now());
    e.clock.advance(1000);
    report(e, active[0] as Pod, 'Failed', { exitCode: 1 });
    const r = await c.reconcile(keyOf(j));
    if (attempt === 2) break;
    t.equal(podsOf(e.store, j).filter(isActive).length, 0, 'no new pod at once after a failure');
    const wait = (r as { requeueAfterMs: number }).requeueAfterMs;
    delays.push(wait);
    e.clock.advance(wait - 100);
    await c.reconcile(keyOf(j));
    t.equal(podsOf(e.store, j).filter(isActive).length, 0, 'still backing off just before the delay');
    e.clock.advance(100);
  }
  t.same(delays, [10_000, 20_000], 'delays double');
  t.equal(podsOf(e.store, j).length, 3, 'exactly 3 pods');
  const st = status(e, 'fails');
  t.equal(st.failed, 3);
  const f = condition({ status: st }, 'Failed');
  t.equal(f?.status, 'True');
  t.equal(f?.reason, 'BackoffLimitExceeded');
  t.equal(f?.message, 'Job has reached the specified backoff limit');
  t.ok(e.recorder.events.some((x) => x.reason === 'BackoffLimitExceeded' && x.type === 'Warning'));
  await c.reconcile(keyOf(j));
  e.clock.advance(600_000);
  await c.reconcile(keyOf(j));
  t.equal(podsOf(e.store, j).length, 3, 'a failed Job creates nothing more');
});

t.test('restartPolicy OnFailure restarts in place and counts restarts towards backoffLimit', async (t) => {
  const e = await env(t);
  const c = controller(e);
  const j = await create(e.store, job('retry', { backoffLimit: 2, restartPolicy: 'OnFailure' }));
  await c.reconcile(keyOf(j));
  await bindAll(e, j);
  const [p] = podsOf(e.store, j);
  report(e, p as Pod, 'Running', { restartCount: 1 });
  await c.reconcile(keyOf(j));
  t.equal(podsOf(e.store, j).length, 1, 'restarts happen in the same pod');
  t.notOk(condition(get<Job>(e.store, 'Job', 'retry'), 'Failed'));
  report(e, p as Pod, 'Running', { restartCount: 2 });
  await c.reconcile(keyOf(j));
  const f = condition(get<Job>(e.store, 'Job', 'retry'), 'Failed');
  t.equal(f?.reason, 'BackoffLimitExceeded');
  const after = podsOf(e.store, j);
  t.equal(after.length, 1, 'no new pod was ever made');
  t.ok(after[0]?.metadata.deletionTimestamp, 'the restarting pod is stopped');
});

t.test('activeDeadlineSeconds stops the running pods and fails the Job with DeadlineExceeded', async (t) => {
  const e = await env(t);
  const c = controller(e);
  const j = await create(e.store, job('sleepy', { activeDeadlineSeconds: 5 }));
  const r = await c.reconcile(keyOf(j));
  t.equal((r as { requeueAfterMs: number }).requeueAfterMs, 5000, 'wakes up at the deadline');
  await bindAll(e, j);
  report(e, podsOf(e.store, j)[0] as Pod, 'Running');
  e.clock.advance(4999);
  await c.reconcile(keyOf(j));
  t.notOk(condition(get<Job>(e.store, 'Job', 'sleepy'), 'Failed'));
  e.clock.advance(1);
  await c.reconcile(keyOf(j));
  const f = condition(get<Job>(e.store, 'Job', 'sleepy'), 'Failed');
  t.equal(f?.reason, 'DeadlineExceeded');
  t.equal(f?.message, 'Job was active longer than specified deadline');
  const [p] = podsOf(e.store, j);
  t.ok(p?.metadata.deletionTimestamp, 'the container is being stopped');
  t.ok(e.recorder.events.some((x) => x.reason === 'DeadlineExceeded' && x.type === 'Warning'));
  t.equal(status(e, 'sleepy').active, 0);
  // the stopped pod ends Failed (killed): that is not one of its own failures
  report(e, p as Pod, 'Failed', { exitCode: 137 });
  await c.reconcile(keyOf(j));
  t.equal(status(e, 'sleepy').failed, 0);
});

t.test('an Indexed Job of 4 completions runs each index 0..3 exactly once, with index env, annotation, label and hostname', async (t) => {
  const e = await env(t);
  const c = controller(e);
  const j = await create(e.store, job('idx', { completions: 4, parallelism: 2, indexed: true }));
  const seen: number[] = [];
  for (let round = 0; round < 10; round++) {
    await c.reconcile(keyOf(j));
    if (condition(get<Job>(e.store, 'Job', 'idx'), 'Complete')) break;
    const active = podsOf(e.store, j).filter(isActive);
    t.ok(active.length <= 2);
    for (const p of active) {
      const i = Number(p.metadata.annotations?.['batch.kubernetes.io/job-completion-index']);
      t.equal(p.metadata.labels?.['batch.kubernetes.io/job-completion-index'], String(i));
      t.match(p.metadata.name, new RegExp(`^idx-${i}-[a-z0-9]{5}$`));
      t.equal(p.spec.hostname, `idx-${i}`);
      t.same(p.spec.containers[0]?.env, [{ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } }]);
      seen.push(i);
    }
    // index 1 fails once: it gets a new pod (same index) after the backoff
    for (const p of active) {
      const i = Number(p.metadata.annotations?.['batch.kubernetes.io/job-completion-index']);
      report(e, p, i === 1 && !podsOf(e.store, j).some((q) => q.status?.phase === 'Failed') ? 'Failed' : 'Succeeded');
    }
    e.clock.advance(60_000);
  }
  const st = status(e, 'idx');
  t.equal(st.completedIndexes, '0-3');
  t.equal(st.succeeded, 4);
  t.equal(st.failed, 1);
  const succeededIdx = podsOf(e.store, j).filter((p) => p.status?.phase === 'Succeeded').map((p) => p.metadata.annotations?.['batch.kubernetes.io/job-completion-index']).sort();
  t.same(succeededIdx, ['0', '1', '2', '3'], 'each index succeeded exactly once');
  t.same([...new Set(seen)].sort(), [0, 1, 2, 3]);
  t.equal(condition(get<Job>(e.store, 'Job', 'idx'), 'Complete')?.status, 'True');
});

t.test('work queue (parallelism without completions): no new pods after one succeeds; Complete when the rest have ended', async (t) => {
  const e = await env(t);
  const c = controller(e);
  const j = await create(e.store, job('queue', { completions: null, parallelism: 3 }));
  await c.reconcile(keyOf(j));
  const pods = podsOf(e.store, j);
  t.equal(pods.length, 3);
  report(e, pods[0] as Pod, 'Succeeded');
  report(e, pods[1] as Pod, 'Failed');
  await c.reconcile(keyOf(j));
  e.clock.advance(60_000);
  await c.reconcile(keyOf(j));
  t.equal(podsOf(e.store, j).length, 3, 'no replacement once a pod succeeded');
  t.notOk(condition(get<Job>(e.store, 'Job', 'queue'), 'Complete'), 'not done while a pod still runs');
  report(e, pods[2] as Pod, 'Succeeded');
  await c.reconcile(keyOf(j));
  t.equal(condition(get<Job>(e.store, 'Job', 'queue'), 'Complete')?.status, 'True');
  t.equal(status(e, 'queue').succeeded, 2);
});

t.test('ttlSecondsAfterFinished deletes the finished Job after the TTL, and the garbage collector removes its pods', async (t) => {
  const e = await env(t);
  const c = controller(e);
  const gc = new GarbageCollector(e.ctx);
  const j = await create(e.store, job('short', { ttlSecondsAfterFinished: 60 }));
  await c.reconcile(keyOf(j));
  const [p] = podsOf(e.store, j);
  report(e, p as Pod, 'Succeeded');
  const r = await c.reconcile(keyOf(j));
  t.equal((r as { requeueAfterMs: number }).requeueAfterMs, 60_000);
  e.clock.advance(59_000);
  await c.reconcile(keyOf(j));
  t.ok(e.store.get('Job', 'default', 'short'), 'kept before the TTL');
  e.clock.advance(1000);
  await c.reconcile(keyOf(j));
  t.equal(e.store.get('Job', 'default', 'short'), undefined, 'deleted at the TTL');
  await gc.reconcile(keyOf(p as Pod));
  t.equal(e.store.get('Pod', 'default', (p as Pod).metadata.name), undefined, 'its pod is gone too');
});

t.test('suspend deletes the active pods and sets Suspended; resume creates pods again and restarts the deadline clock', async (t) => {
  const e = await env(t);
  const c = controller(e);
  const j = await create(e.store, job('pausable', { completions: 4, parallelism: 2, activeDeadlineSeconds: 100 }));
  await c.reconcile(keyOf(j));
  await bindAll(e, j);
  const before = podsOf(e.store, j);
  t.equal(before.length, 2);
  for (const p of before) report(e, p, 'Running');
  await update(e.store, j, (o) => { o.spec.suspend = true; });
  e.clock.advance(90_000);
  await c.reconcile(keyOf(j));
  for (const p of podsOf(e.store, j)) t.ok(p.metadata.deletionTimestamp, `${p.metadata.name} is being stopped`);
  t.equal(condition(get<Job>(e.store, 'Job', 'pausable'), 'Suspended')?.status, 'True');
  t.equal(status(e, 'pausable').active, 0);
  for (const p of before) { report(e, p, 'Failed', { exitCode: 137 }); await finishTermination(e, p); }
  e.clock.advance(60_000);
  await c.reconcile(keyOf(j));
  t.equal(podsOf(e.store, j).length, 0, 'nothing runs while suspended');
  t.notOk(condition(get<Job>(e.store, 'Job', 'pausable'), 'Failed'), 'the deadline does not run out while suspended');
  await update(e.store, j, (o) => { o.spec.suspend = false; });
  await c.reconcile(keyOf(j));
  t.equal(podsOf(e.store, j).filter(isActive).length, 2, 'resumed');
  const s = condition(get<Job>(e.store, 'Job', 'pausable'), 'Suspended');
  t.equal(s?.status, 'False');
  t.equal(status(e, 'pausable').startTime, rfc3339(e.clock.now()), 'startTime reset on resume');
  t.equal(status(e, 'pausable').failed, 0, 'pods stopped by suspend are not failures');
  t.ok(e.recorder.events.some((x) => x.reason === 'Suspended') && e.recorder.events.some((x) => x.reason === 'Resumed'));
});

t.test('a terminating pod still holds its parallelism slot until it is gone', async (t) => {
  const e = await env(t);
  const c = controller(e);
  const j = await create(e.store, job('tight', { completions: 3, parallelism: 2 }));
  await c.reconcile(keyOf(j));
  await bindAll(e, j);
  await update(e.store, j, (o) => { o.spec.parallelism = 1; });
  await c.reconcile(keyOf(j));
  const terminating = podsOf(e.store, j).filter((p) => p.metadata.deletionTimestamp);
  t.equal(terminating.length, 1, 'one pod is stopped to honour the lower parallelism');
  const running = podsOf(e.store, j).filter(isActive);
  report(e, running[0] as Pod, 'Succeeded');
  await c.reconcile(keyOf(j));
  t.equal(podsOf(e.store, j).filter((p) => !isTerminal(p)).length, 1, 'no new pod while the terminating one still runs');
  await finishTermination(e, terminating[0] as Pod);
  await c.reconcile(keyOf(j));
  t.equal(podsOf(e.store, j).filter(isActive).length, 1, 'a new pod once the slot is free');
});

t.test('driven by the ControllerManager, pod status reports move a Job to Complete', async (t) => {
  const e = await env(t);
  const m = new ControllerManager(e.ctx, [controller(e)]);
  m.start();
  t.teardown(() => m.stop());
  const j = await create(e.store, job('managed', { completions: 2, parallelism: 2 }));
  await m.idle();
  const pods = podsOf(e.store, j);
  t.equal(pods.length, 2);
  for (const p of pods) report(e, p, 'Succeeded');
  await m.idle();
  t.equal(condition(get<Job>(e.store, 'Job', 'managed'), 'Complete')?.status, 'True');
  t.equal(status(e, 'managed').succeeded, 2);
});
