import t from 'tap';
import { CronJobController, nodeCronTrigger, type CronJobControllerOptions, type TriggerFactory } from '../../../daemon/src/controllers/cronjobs.js';
import { ControllerManager } from '../../../daemon/src/controllers/manager.js';
import type { CronJob, Job } from '../../../daemon/src/api/types.js';
import { JobController } from '../../../daemon/src/controllers/jobs.js';
import { GarbageCollector } from '../../../daemon/src/controllers/gc.js';
import { isTerminal } from '../../../daemon/src/controllers/pods.js';
import type { Pod } from '../../../daemon/src/api/types.js';
import { condition, cronJob, create, env, get, jobsOf, keyOf, report, update, type Env } from './job/env.js';
import { rfc3339 } from '../../../daemon/src/lib/time.js';

const START = Date.UTC(2026, 0, 1, 12, 0, 0);
const at = (s: string): number => Date.parse(s);

function controller(e: Env, o: Partial<CronJobControllerOptions> = {}): CronJobController {
  return new CronJobController(e.ctx, { isLeader: () => true, term: () => e.store.term, useNodeCron: false, ...o });
}

/** Move the fake clock to an instant and reconcile, as the requeue timer or a cron tick would. */
async function runAt(e: Env, c: CronJobController, cj: CronJob, time: string | number): Promise<{ requeueAfterMs?: number } | void> {
  const target = typeof time === 'number' ? time : at(time);
  e.clock.set(target);
  return c.reconcile(keyOf(cj));
}

async function finish(e: Env, j: Job, type: 'Complete' | 'Failed', when = e.clock.now()): Promise<void> {
  const ts = rfc3339(when);
  await e.store.commit([{ type: 'status', kind: 'Job', namespace: 'default', name: j.metadata.name, status: {
    ...(j.status ?? {}), startTime: j.status?.startTime ?? j.metadata.creationTimestamp,
    conditions: [{ type, status: 'True', lastProbeTime: ts, lastTransitionTime: ts }],
    ...(type === 'Complete' ? { completionTime: ts, succeeded: 1 } : { failed: 1 }),
  } }]);
}

const names = (e: Env, cj: CronJob): string[] => jobsOf(e.store, cj).map((j) => j.metadata.name).sort();
const minutes = (s: string): number => Math.floor(at(s) / 60_000);
const cjStatus = (e: Env, name: string): NonNullable<CronJob['status']> => get<CronJob>(e.store, 'CronJob', name).status ?? {};

t.test('at its slot a CronJob creates one Job named from the slot, with the scheduled time, the leader term and an owner reference', async (t) => {
  const e = await env(t, START);
  const c = controller(e);
  const cj = await create(e.store, cronJob('tick', '*/5 * * * *'));
  const r = await c.reconcile(keyOf(cj));
  t.equal(jobsOf(e.store, cj).length, 0, 'nothing before the first slot');
  t.equal((r as { requeueAfterMs: number }).requeueAfterMs, 5 * 60_000 + 100, 'wakes up just after the next slot');
  await runAt(e, c, cj, '2026-01-01T12:05:00.100Z');
  const [j] = jobsOf(e.store, cj);
  t.ok(j);
  t.equal(j?.metadata.name, `tick-${minutes('2026-01-01T12:05:00Z')}`);
  t.equal(j?.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'], '2026-01-01T12:05:00Z');
  t.equal(j?.metadata.annotations?.['pifleet.io/term'], String(e.store.term));
  t.same(j?.metadata.labels, { cron: 'tick' });
  t.same(j?.metadata.ownerReferences?.[0], { apiVersion: 'batch/v1', kind: 'CronJob', name: 'tick', uid: cj.metadata.uid, controller: true, blockOwnerDeletion: true });
  t.equal((j?.spec as { backoffLimit?: number }).backoffLimit, 0, 'the Job spec comes from jobTemplate');
  const st = cjStatus(e, 'tick');
  t.equal(st.lastScheduleTime, '2026-01-01T12:05:00Z');
  t.same(st.active, [{ apiVersion: 'batch/v1', kind: 'Job', name: j?.metadata.name, namespace: 'default', uid: j?.metadata.uid }]);
  t.ok(e.recorder.events.some((x) => x.reason === 'SuccessfulCreate' && x.message === `Created job ${j?.metadata.name}`));
  await runAt(e, c, cj, '2026-01-01T12:06:00Z');
  t.equal(jobsOf(e.store, cj).length, 1, 'reconciling again creates nothing');
});

t.test('firing a slot twice never makes two Jobs: a second controller, or a lost status write, finds the existing Job', async (t) => {
  const e = await env(t, START);
  const cj = await create(e.store, cronJob('once', '*/5 * * * *'));
  await runAt(e, controller(e), cj, '2026-01-01T12:05:01Z');
  // as if the daemon died after creating the Job but before writing the CronJob's status
  await e.store.commit([{ type: 'status', kind: 'CronJob', namespace: 'default', name: 'once', status: {} }]);
  const before = e.recorder.events.length;
  await runAt(e, controller(e), cj, '2026-01-01T12:05:30Z');
  t.same(names(e, cj), [`once-${minutes('2026-01-01T12:05:00Z')}`]);
  t.equal(cjStatus(e, 'once').lastScheduleTime, '2026-01-01T12:05:00Z', 'status catches up');
  t.equal(cjStatus(e, 'once').active?.length, 1);
  t.notOk(e.recorder.events.slice(before).some((x) => x.reason === 'SuccessfulCreate'), 'no second creation');
});

t.test('a node that is not the leader creates no Job; once it leads, it does', async (t) => {
  const e = await env(t, START);
  let leader = false;
  const c = controller(e, { isLeader: () => leader });
  const cj = await create(e.store, cronJob('fenced', '*/5 * * * *'));
  await runAt(e, c, cj, '2026-01-01T12:05:01Z');
  t.equal(jobsOf(e.store, cj).length, 0);
  leader = true;
  await runAt(e, c, cj, '2026-01-01T12:05:02Z');
  t.equal(jobsOf(e.store, cj).length, 1);
});

t.test('a deposed leader with a stale term cannot create Jobs: the store refuses its writes', async (t) => {
  const e = await env(t, START);
  const cj = await create(e.store, cronJob('stale', '*/5 * * * *'));
  const oldTerm = e.store.term;
  e.store.term = oldTerm + 1; // a newer leader exists
  const c = controller(e, { term: () => oldTerm });
  e.clock.set(at('2026-01-01T12:05:01Z'));
  await t.rejects(c.reconcile(keyOf(cj)), /stale term/);
  t.equal(jobsOf(e.store, cj).length, 0);
});

t.test('concurrencyPolicy Allow runs a new Job while the previous one is still active', async (t) => {
  const e = await env(t, START);
  const c = controller(e);
  const cj = await create(e.store, cronJob('allow', '*/5 * * * *'));
  await runAt(e, c, cj, '2026-01-01T12:05:00Z');
  await runAt(e, c, cj, '2026-01-01T12:10:00Z');
  t.equal(jobsOf(e.store, cj).length, 2);
  t.equal(cjStatus(e, 'allow').active?.length, 2);
});

t.test('concurrencyPolicy Forbid skips a slot while a Job is active, and runs the missed slot once the Job has finished', async (t) => {
  const e = await env(t, START);
  const c = controller(e);
  const cj = await create(e.store, cronJob('forbid', '*/5 * * * *', { concurrencyPolicy: 'Forbid' }));
  await runAt(e, c, cj, '2026-01-01T12:05:00Z');
  await runAt(e, c, cj, '2026-01-01T12:10:00Z');
  t.equal(jobsOf(e.store, cj).length, 1, 'the 12:10 slot is skipped');
  t.ok(e.recorder.events.some((x) => x.reason === 'JobAlreadyActive'));
  await finish(e, jobsOf(e.store, cj)[0] as Job, 'Complete', at('2026-01-01T12:11:00Z'));
  await runAt(e, c, cj, '2026-01-01T12:11:00Z');
  t.same(names(e, cj), [`forbid-${minutes('2026-01-01T12:05:00Z')}`, `forbid-${minutes('2026-01-01T12:10:00Z')}`], 'the most recent missed slot runs late, once');
  t.equal(cjStatus(e, 'forbid').lastSuccessfulTime, '2026-01-01T12:11:00Z');
});

t.test('concurrencyPolicy Replace deletes the still-active Job and starts the new one', async (t) => {
  const e = await env(t, START);
  const c = controller(e);
  const cj = await create(e.store, cronJob('replace', '*/5 * * * *', { concurrencyPolicy: 'Replace' }));
  await runAt(e, c, cj, '2026-01-01T12:05:00Z');
  await runAt(e, c, cj, '2026-01-01T12:10:00Z');
  t.same(names(e, cj), [`replace-${minutes('2026-01-01T12:10:00Z')}`]);
  t.same(cjStatus(e, 'replace').active?.map((r) => r.name), [`replace-${minutes('2026-01-01T12:10:00Z')}`]);
  t.ok(e.recorder.events.some((x) => x.reason === 'SuccessfulDelete' && x.message === `Deleted job replace-${minutes('2026-01-01T12:05:00Z')}`));
});

t.test('a suspended CronJob creates nothing; resumed, it runs the most recent missed slot once (within its deadline)', async (t) => {
  const e = await env(t, START);
  const c = controller(e);
  const cj = await create(e.store, cronJob('pause', '*/5 * * * *', { suspend: true }));
  for (const m of ['12:05', '12:10', '12:15']) await runAt(e, c, cj, `2026-01-01T${m}:00Z`);
  t.equal(jobsOf(e.store, cj).length, 0);
  await update(e.store, cj, (o) => { o.spec.suspend = false; });
  await runAt(e, c, cj, '2026-01-01T12:17:00Z');
  t.same(names(e, cj), [`pause-${minutes('2026-01-01T12:15:00Z')}`]);

  const cj2 = await create(e.store, cronJob('pause2', '*/5 * * * *', { suspend: true, startingDeadlineSeconds: 60 }));
  await runAt(e, c, cj2, '2026-01-01T12:25:00Z');
  await update(e.store, cj2, (o) => { o.spec.suspend = false; });
  await runAt(e, c, cj2, '2026-01-01T12:27:00Z');
  t.equal(jobsOf(e.store, cj2).length, 0, 'the missed slot is past its starting deadline');
});

t.test('history limits keep the newest successful and failed Jobs and delete older ones', async (t) => {
  const e = await env(t, START);
  const c = controller(e);
  const cj = await create(e.store, cronJob('hist', '*/5 * * * *', { successfulJobsHistoryLimit: 2, failedJobsHistoryLimit: 1 }));
  const outcomes: Array<'Complete' | 'Failed'> = ['Complete', 'Failed', 'Complete', 'Failed', 'Complete', 'Complete'];
  for (let i = 0; i < outcomes.length; i++) {
    const slot = START + (i + 1) * 5 * 60_000;
    await runAt(e, c, cj, slot);
    const j = jobsOf(e.store, cj).find((x) => x.metadata.name === `hist-${Math.floor(slot / 60_000)}`) as Job;
    await finish(e, j, outcomes[i] as 'Complete' | 'Failed', slot + 60_000);
  }
  await runAt(e, c, cj, START + 34 * 60_000); // before the next slot
  const slotName = (i: number): string => `hist-${Math.floor((START + (i + 1) * 5 * 60_000) / 60_000)}`;
  t.same(names(e, cj), [slotName(3), slotName(4), slotName(5)].sort(), 'two newest successes (slots 5, 6) and the newest failure (slot 4)');
  t.equal(cjStatus(e, 'hist').active, undefined, 'nothing active');
});

t.test('startingDeadlineSeconds: a missed slot within the deadline gets one Job, one past it gets none', async (t) => {
  const e = await env(t, START);
  const c = controller(e);
  const within = await create(e.store, cronJob('within', '*/5 * * * *', { startingDeadlineSeconds: 60 }));
  const past = await create(e.store, cronJob('past', '*/5 * * * *', { startingDeadlineSeconds: 20 }));
  await runAt(e, c, within, '2026-01-01T12:05:30Z');
  await runAt(e, c, past, '2026-01-01T12:05:30Z');
  t.same(names(e, within), [`within-${minutes('2026-01-01T12:05:00Z')}`]);
  t.equal(jobsOf(e.store, past).length, 0);
  await runAt(e, c, past, '2026-01-01T12:10:05Z');
  t.same(names(e, past), [`past-${minutes('2026-01-01T12:10:00Z')}`], 'the next slot runs normally');
});

t.test('catch-up after downtime: at most one Job, for the most recent missed slot', async (t) => {
  const e = await env(t, START);
  const c = controller(e);
  const cj = await create(e.store, cronJob('catchup', '*/5 * * * *'));
  await runAt(e, c, cj, '2026-01-01T12:05:00Z');
  // the daemon is down from 12:06 until 12:43
  await runAt(e, c, cj, '2026-01-01T12:43:00Z');
  await runAt(e, c, cj, '2026-01-01T12:43:10Z');
  t.same(names(e, cj), [`catchup-${minutes('2026-01-01T12:05:00Z')}`, `catchup-${minutes('2026-01-01T12:40:00Z')}`]);
});

t.test('more than 100 missed slots: the Kubernetes warning and no run for the backlog; later slots run normally', async (t) => {
  const e = await env(t, START);
  const c = controller(e);
  const cj = await create(e.store, cronJob('backlog', '* * * * *'));
  await runAt(e, c, cj, '2026-01-01T14:00:30Z'); // 120 missed minutes
  t.equal(jobsOf(e.store, cj).length, 0);
  const w = e.recorder.events.find((x) => x.reason === 'TooManyMissedTimes');
  t.equal(w?.type, 'Warning');
  t.equal(w?.message, 'too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew');
  await runAt(e, c, cj, '2026-01-01T14:01:00.100Z');
  t.same(names(e, cj), [`backlog-${minutes('2026-01-01T14:01:00Z')}`]);

  const bounded = await create(e.store, cronJob('bounded', '* * * * *', { startingDeadlineSeconds: 300 }));
  e.recorder.events.length = 0;
  await runAt(e, c, bounded, '2026-01-01T16:00:30Z');
  t.same(names(e, bounded), [`bounded-${minutes('2026-01-01T16:00:00Z')}`], 'a deadline bounds the count: the most recent slot runs');
  t.notOk(e.recorder.events.some((x) => x.reason === 'TooManyMissedTimes'));
});

t.test('timeZone: slots are wall-clock times of the zone, recorded with its offset', async (t) => {
  const e = await env(t, Date.UTC(2026, 0, 2, 12));
  const c = controller(e);
  const cj = await create(e.store, cronJob('ny', '0 9 * * *', { timeZone: 'America/New_York' }));
  await runAt(e, c, cj, '2026-01-02T13:59:00Z');
  t.equal(jobsOf(e.store, cj).length, 0, '08:59 in New York');
  await runAt(e, c, cj, '2026-01-02T14:00:00Z');
  const [j] = jobsOf(e.store, cj);
  t.equal(j?.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'], '2026-01-02T09:00:00-05:00');
});

t.test('DST in Europe/Berlin: the repeated hour fires once and the skipped 02:30 fires once at 03:30', async (t) => {
  const e = await env(t, Date.UTC(2026, 9, 24, 12));
  const c = controller(e);
  const fall = await create(e.store, cronJob('fall', '30 2 * * *', { timeZone: 'Europe/Berlin', successfulJobsHistoryLimit: 10 }));
  // reconcile every 10 minutes through the night of the change
  for (let ms = Date.UTC(2026, 9, 24, 22); ms <= Date.UTC(2026, 9, 25, 6); ms += 10 * 60_000) await runAt(e, c, fall, ms);
  t.same(jobsOf(e.store, fall).map((j) => j.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp']), ['2026-10-25T02:30:00+02:00']);

  e.clock.set(Date.UTC(2026, 2, 28, 12));
  const spring = await create(e.store, cronJob('spring', '30 2 * * *', { timeZone: 'Europe/Berlin' }));
  for (let ms = Date.UTC(2026, 2, 28, 22); ms <= Date.UTC(2026, 2, 29, 6); ms += 10 * 60_000) await runAt(e, c, spring, ms);
  t.same(jobsOf(e.store, spring).map((j) => j.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp']), ['2026-03-29T03:30:00+02:00']);
});

t.test('day-of-month and day-of-week both set: the CronJob fires on either (the 13th and every Friday)', async (t) => {
  const e = await env(t, Date.UTC(2026, 0, 1));
  const c = controller(e);
  const cj = await create(e.store, cronJob('either', '0 6 13 * 5', { successfulJobsHistoryLimit: 20 }));
  for (let day = 1; day <= 31; day++) await runAt(e, c, cj, Date.UTC(2026, 0, day, 6, 0, 30));
  const days = jobsOf(e.store, cj).map((j) => j.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp']?.slice(8, 10)).sort();
  t.same(days, ['02', '09', '13', '16', '23', '30']);
});

t.test('a bad schedule or time zone is reported as a Warning event and creates nothing', async (t) => {
  const e = await env(t, START);
  const c = controller(e);
  const bad = await create(e.store, cronJob('bad', '61 * * * *'));
  const tz = await create(e.store, cronJob('tz', '* * * * *', { timeZone: 'Nowhere/Special' }));
  await runAt(e, c, bad, '2026-01-01T13:00:00Z');
  await runAt(e, c, tz, '2026-01-01T13:00:00Z');
  t.equal(jobsOf(e.store, bad).length + jobsOf(e.store, tz).length, 0);
  t.ok(e.recorder.events.some((x) => x.reason === 'UnparseableSchedule' && x.ref.name === 'bad' && /61/.test(x.message)));
  t.ok(e.recorder.events.some((x) => x.reason === 'UnknownTimeZone' && x.ref.name === 'tz' && /Nowhere\/Special/.test(x.message)));
});

t.test('cron triggers follow CronJob adds, updates, suspends and deletes, enqueue only on the leader, and stop with the controller', async (t) => {
  const e = await env(t, START);
  const live = new Map<number, { expr: string; tz: string; tick: () => void }>();
  let seq = 0;
  const factory: TriggerFactory = (expr, tz, tick) => {
    const id = seq++;
    live.set(id, { expr, tz, tick });
    return { destroy: () => { live.delete(id); } };
  };
  let leader = true;
  const c = new CronJobController(e.ctx, { isLeader: () => leader, term: () => e.store.term, createTrigger: factory });
  const m = new ControllerManager(e.ctx, [c]);
  await create(e.store, cronJob('pre', '0 * * * *'));
  m.start();
  t.teardown(() => m.stop());
  t.same([...live.values()].map((x) => x.expr), ['0 * * * *'], 'existing CronJobs get a trigger at start');
  const cj = await create(e.store, cronJob('trig', '0 0 13 * 5', { timeZone: 'Europe/Berlin' }));
  t.same([...live.values()].filter((x) => x.tz === 'Europe/Berlin').map((x) => x.expr), ['0 0 13 * *', '0 0 * * 5'], 'OR schedule: one task per field');
  await update(e.store, cj, (o) => { o.spec.schedule = '*/5 * * * *'; });
  t.same([...live.values()].filter((x) => x.tz === 'Europe/Berlin').map((x) => x.expr), ['*/5 * * * *'], 'a new schedule replaces the tasks');
  await update(e.store, cj, (o) => { o.spec.suspend = true; });
  t.equal([...live.values()].filter((x) => x.tz === 'Europe/Berlin').length, 0, 'suspended: no task');
  await update(e.store, cj, (o) => { o.spec.suspend = false; });
  await m.idle();

  // a tick at the slot makes the controller look (the fake clock is at the slot)
  e.clock.set(at('2026-01-01T12:05:00Z'));
  const trig = [...live.values()].find((x) => x.tz === 'Europe/Berlin');
  leader = false;
  trig?.tick();
  await m.idle();
  t.equal(jobsOf(e.store, cj).length, 0, 'a tick on a follower does nothing');
  leader = true;
  trig?.tick();
  await m.idle();
  t.equal(jobsOf(e.store, cj).length, 1, 'a tick on the leader runs the slot');

  await e.store.commit([{ type: 'delete', kind: 'CronJob', namespace: 'default', name: 'pre' }]);
  t.same([...live.values()].map((x) => x.expr), ['*/5 * * * *'], 'a deleted CronJob loses its task');
  m.stop();
  t.equal(live.size, 0, 'stopping (losing leadership) destroys every task');
});

t.test('the default trigger is a real node-cron task in the given zone that can be destroyed', async (t) => {
  let ticks = 0;
  const h = nodeCronTrigger('* * * * * *', 'Europe/Berlin', () => { ticks++; }); // every second
  const deadline = Date.now() + 10_000;
  while (ticks === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  h.destroy();
  t.ok(ticks >= 1, `node-cron fired (${ticks})`);
  const after = ticks;
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(ticks, after, 'no tick after destroy');
});

t.test('on a fake clock the manager alone (requeue timers, no cron ticks) fires a */1 CronJob once per slot, and its Jobs complete', async (t) => {
  const e = await env(t, START);
  const m = new ControllerManager(e.ctx, [controller(e), new JobController(e.ctx, { backoffBaseMs: 10_000, backoffMaxMs: 360_000 }), new GarbageCollector(e.ctx)]);
  m.start();
  t.teardown(() => m.stop());
  const cj = await create(e.store, cronJob('every', '*/1 * * * *', { successfulJobsHistoryLimit: 10 }));
  await m.idle();
  for (let step = 0; step < 7; step++) { // 3.5 minutes in 30 s steps
    e.clock.advance(30_000);
    await m.idle();
    for (const p of e.store.list<Pod>('Pod', 'default')) if (!isTerminal(p)) report(e, p, 'Succeeded');
    await m.idle();
  }
  t.same(names(e, cj), ['12:01', '12:02', '12:03'].map((hm) => `every-${minutes(`2026-01-01T${hm}:00Z`)}`), 'one Job per slot');
  for (const j of jobsOf(e.store, cj)) t.equal(condition(j, 'Complete')?.status, 'True', `${j.metadata.name} completed`);
  t.equal(e.store.list('Pod', 'default').length, 3, 'one pod per Job');
  const last = Date.parse(cjStatus(e, 'every').lastSuccessfulTime ?? '');
  t.ok(last >= at('2026-01-01T12:03:00Z') && last <= at('2026-01-01T12:03:30Z'), 'lastSuccessfulTime is the last Job\'s completion');
});

t.test('a far-away slot still wakes the controller within an hour, so a clock step is noticed', async (t) => {
  const e = await env(t, START);
  const c = controller(e);
  const cj = await create(e.store, cronJob('yearly', '@yearly'));
  const r = await c.reconcile(keyOf(cj));
  t.equal((r as { requeueAfterMs: number }).requeueAfterMs, 3_600_000);
  await runAt(e, c, cj, '2027-01-01T00:00:10Z'); // the wall clock jumped
  t.same(names(e, cj), [`yearly-${minutes('2027-01-01T00:00:00Z')}`]);
});
