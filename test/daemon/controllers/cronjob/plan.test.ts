import t from 'tap';
import { jobNameFor, jobsToPrune, mostRecentScheduleTime, planCronJob } from '../../../../daemon/src/controllers/cronjob/plan.js';
import { parseSchedule } from '../../../../daemon/src/controllers/cronjob/schedule.js';
import { createSeededRandom } from '../../../../daemon/src/lib/random.js';
import type { CronJob, Job } from '../../../../daemon/src/api/types.js';
import { cronJob } from '../job/env.js';

const at = (s: string): number => Date.parse(s);

function stored(cj: CronJob, created: string, lastScheduleTime?: string): CronJob {
  return { ...cj, metadata: { ...cj.metadata, uid: 'uid-cj', creationTimestamp: created }, ...(lastScheduleTime ? { status: { lastScheduleTime } } : {}) } as CronJob;
}

t.test('Job names are <cronjob>-<scheduled time in unix minutes>, as Kubernetes names them', async (t) => {
  t.equal(jobNameFor('backup', at('2026-01-01T12:05:00Z')), `backup-${at('2026-01-01T12:05:00Z') / 60_000}`);
  t.equal(jobNameFor('backup', at('2026-01-01T12:05:59.999Z')), jobNameFor('backup', at('2026-01-01T12:05:00Z')), 'same minute, same name');
});

t.test('mostRecentScheduleTime finds the latest due slot exactly, also for irregular schedules and long gaps (checked against a slot-by-slot walk)', async (t) => {
  const rnd = createSeededRandom(3);
  const schedules = ['*/7 * * * *', '30 6-16/4 * * 1-5', '0 0 13 * 5', '15 3 * * *', '*/5 * * * *', '0 */3 * * 0,6'];
  for (let i = 0; i < 36; i++) {
    const expr = schedules[i % schedules.length] as string;
    const sched = parseSchedule(expr);
    const created = at('2026-01-01T00:00:00Z') + Math.floor(rnd.float() * 30 * 86_400_000);
    const now = created + Math.floor(rnd.float() * 10 * 86_400_000);
    const cj = stored(cronJob('x', expr), new Date(created).toISOString());
    let walk: number | undefined;
    let n = 0;
    for (let s = sched.next(created); s <= now; s = sched.next(s)) { walk = s; n++; }
    const got = mostRecentScheduleTime(cj, now, sched, false);
    t.equal(got.mostRecent, walk, `${expr} from ${new Date(created).toISOString()} to ${new Date(now).toISOString()}`);
    if (n === 0) t.equal(got.missed, 'none');
    if (n > 110) t.equal(got.missed, 'many', `${n} slots missed`);
  }
});

t.test('the starting deadline moves the earliest considered time forward', async (t) => {
  const cj = stored(cronJob('x', '* * * * *', { startingDeadlineSeconds: 90 }), '2026-01-01T00:00:00Z');
  const r = mostRecentScheduleTime(cj, at('2026-01-01T05:00:30Z'), parseSchedule('* * * * *'), true);
  t.equal(r.earliest, at('2026-01-01T04:59:00Z'));
  t.equal(r.mostRecent, at('2026-01-01T05:00:00Z'));
  t.equal(r.missed, 'none', 'one slot due is not a miss');
  t.equal(mostRecentScheduleTime(cj, at('2026-01-01T05:00:30Z'), parseSchedule('* * * * *'), false).missed, 'many', 'without it, 300 minutes are missed');
});

t.test('history pruning deletes the oldest finished Jobs by start time, per outcome, and never an active one', async (t) => {
  const cj = stored(cronJob('h', '* * * * *', { successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 0 }), '2026-01-01T00:00:00Z');
  const job = (name: string, start: string, cond?: 'Complete' | 'Failed'): Job => ({
    apiVersion: 'batch/v1', kind: 'Job', metadata: { name, namespace: 'default', creationTimestamp: start },
    spec: { template: {} }, status: { startTime: start, ...(cond ? { conditions: [{ type: cond, status: 'True' }] } : {}) },
  } as Job);
  const jobs = [job('c', '2026-01-01T00:03:00Z', 'Complete'), job('a', '2026-01-01T00:01:00Z', 'Complete'), job('f', '2026-01-01T00:02:00Z', 'Failed'), job('r', '2026-01-01T00:00:00Z')];
  t.same(jobsToPrune(cj, jobs).map((j) => j.metadata.name), ['a', 'f']);
});

t.test('the planned Job carries the template, the scheduled timestamp in the CronJob zone and the term', async (t) => {
  const cj = stored(cronJob('b', '0 2 * * *', { timeZone: 'Europe/Berlin' }), '2026-01-01T00:00:00Z');
  const plan = planCronJob({ cronJob: cj, jobs: [], now: at('2026-01-02T01:00:05Z'), term: 7, schedule: parseSchedule('0 2 * * *', 'Europe/Berlin') });
  t.equal(plan.create?.scheduledMs, at('2026-01-02T01:00:00Z'));
  t.equal(plan.create?.job.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'], '2026-01-02T02:00:00+01:00');
  t.equal(plan.create?.job.metadata.annotations?.['pifleet.io/term'], '7');
  t.same(plan.create?.job.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller]), [['CronJob', 'b', 'uid-cj', true]]);
  t.ok((plan.requeueAfterMs ?? 0) > 0);
});
