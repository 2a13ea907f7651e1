/**
 * The CronJob planner, pure: (CronJob, the Jobs it owns, now, its schedule) -> the Job to create
 * for the due slot (if any), Jobs to delete (Replace policy, history limits), the new status,
 * events, and when to look again. Ported from Kubernetes' cronjob_controllerv2.go / utils.go
 * (mostRecentScheduleTime, getJobName, cleanupFinishedJobs), with one deliberate difference:
 *
 * - More than 100 missed slots since the last run (counted from now - startingDeadlineSeconds
 *   when that is set): the Warning "TooManyMissedTimes" is recorded and NO Job runs for the
 *   backlog (as the Kubernetes documentation states; today's Kubernetes code runs the most recent
 *   one anyway). So that the CronJob is not stuck behind its backlog forever, lastScheduleTime
 *   moves to the most recent missed slot; later slots run normally.
 *
 * Catch-up after downtime: at most ONE Job, for the most recent missed slot, and only while it is
 * within startingDeadlineSeconds (when set). A Job's name is `<cronjob>-<slot in unix minutes>`,
 * so firing a slot twice (restart, new leader) finds the existing Job instead of making another.
 */
import type { CronJob, CronJobStatus, Job } from '../../api/types.js';
import { ownerReferenceTo } from '../pods.js';
import { jobFinished } from '../job/plan.js';
import { rfc3339InZone, type CronSchedule } from './schedule.js';
import { rfc3339 } from '../../lib/time.js';

export const SCHEDULED_TIMESTAMP_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp';
export const TERM_ANNOTATION = 'pifleet.io/term';
export const TOO_MANY_MISSED_MESSAGE = 'too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew';
/** Kubernetes' nextScheduleDelta: wake up a little after the slot. */
export const NEXT_SCHEDULE_DELTA_MS = 100;
/** Look again at least this often, so a clock step is noticed. */
export const MAX_REQUEUE_MS = 60 * 60 * 1000;

export type MissedSchedules = 'none' | 'few' | 'many';
export interface PlannedEvent { type: 'Normal' | 'Warning'; reason: string; message: string }
export type ObjectReference = NonNullable<CronJobStatus['active']>[number];

/** `<cronjob>-<scheduled time in unix minutes>` (Kubernetes getJobName). */
export function jobNameFor(cronJobName: string, scheduledMs: number): string {
  return `${cronJobName}-${Math.floor(scheduledMs / 60_000)}`;
}

/**
 * Kubernetes' mostRecentScheduleTime: the latest slot in (earliest, now], where earliest is
 * lastScheduleTime or the creation time (and, with includeDeadline, not before now - deadline),
 * and whether none, few or more than 100 slots were missed.
 */
export function mostRecentScheduleTime(cj: CronJob, now: number, sched: CronSchedule, includeDeadline: boolean): { earliest: number; mostRecent?: number; missed: MissedSchedules } {
  let earliest = Date.parse(cj.metadata.creationTimestamp ?? '') || now;
  const last = cj.status?.lastScheduleTime ? Date.parse(cj.status.lastScheduleTime) : NaN;
  if (Number.isFinite(last)) earliest = last;
  const deadline = cj.spec?.startingDeadlineSeconds;
  if (includeDeadline && typeof deadline === 'number') earliest = Math.max(earliest, now - deadline * 1000);

  const t1 = sched.next(earliest);
  if (now < t1) return { earliest, missed: 'none' };
  const t2 = sched.next(t1);
  if (now < t2) return { earliest, mostRecent: t1, missed: 'none' };
  const between = Math.round((t2 - t1) / 1000);
  if (between < 1) throw new Error('time difference between two schedules is less than 1 second');
  const elapsed = Math.floor((now - t1) / 1000);
  const numberMissed = Math.floor(elapsed / between) + 1;
  // Jump close to now, then walk the exact slots. The estimate assumes every gap equals t2 - t1,
  // which overshoots for irregular schedules ("30 6-16/4 * * 1-5": nights, weekends); Kubernetes
  // then finds no slot at all. Step back, doubling the distance, until a slot <= now follows.
  let from = t1 + (numberMissed - 2) * between * 1000;
  let back = between * 1000;
  for (let i = 0; from > earliest && sched.next(from) > now && i < 64; i++) {
    from = Math.max(earliest, now - back);
    back *= 2;
  }
  let t = sched.next(from);
  let mostRecent: number | undefined;
  for (let i = 0; t <= now; i++) {
    if (i >= 100_000) throw new Error(`cannot find the most recent slot of ${JSON.stringify(sched.fields)} before ${new Date(now).toISOString()} in 100000 steps`);
    mostRecent = t;
    t = sched.next(t);
  }
  const missed: MissedSchedules = numberMissed > 100 ? 'many' : numberMissed > 0 ? 'few' : 'none';
  return { earliest, ...(mostRecent !== undefined ? { mostRecent } : {}), missed };
}

/** The Job for one slot: the template's labels, annotations and spec, owned by the CronJob. */
export function jobForSlot(cj: CronJob, scheduledMs: number, timeZone: string, term: number): Job {
  const tpl = cj.spec?.jobTemplate ?? {};
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobNameFor(cj.metadata.name, scheduledMs),
      namespace: cj.metadata.namespace ?? 'default',
      labels: { ...(tpl.metadata?.labels ?? {}) },
      annotations: {
        ...(tpl.metadata?.annotations ?? {}),
        [SCHEDULED_TIMESTAMP_ANNOTATION]: rfc3339InZone(scheduledMs, timeZone),
        [TERM_ANNOTATION]: String(term),
      },
      ownerReferences: [ownerReferenceTo(cj)],
    },
    spec: structuredClone(tpl.spec ?? { template: { spec: { containers: [] } } }),
  } as Job;
}

export function refTo(job: Job): ObjectReference {
  return { apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, namespace: job.metadata.namespace ?? 'default', ...(job.metadata.uid ? { uid: job.metadata.uid } : {}) };
}

export interface CronJobPlanInput {
  cronJob: CronJob;
  /** Jobs controlled by the CronJob. */
  jobs: Job[];
  now: number;
  /** The leader term, recorded on created Jobs (pifleet.io/term). */
  term: number;
  /** The parsed schedule, or the reason it cannot be used. */
  schedule: CronSchedule | { error: string; reason: 'UnparseableSchedule' | 'UnknownTimeZone' };
}

export interface CronJobPlan {
  /** Create this Job for the due slot. */
  create?: { job: Job; scheduledMs: number };
  /** Active Jobs to delete before creating (concurrencyPolicy Replace). */
  replace: Job[];
  /** Finished Jobs beyond the history limits, oldest first. */
  prune: Job[];
  /** Status without the Job to be created (the executor adds it once it exists). */
  status: CronJobStatus;
  events: PlannedEvent[];
  requeueAfterMs?: number;
}

const startOf = (j: Job): number => Date.parse(j.status?.startTime ?? j.metadata.creationTimestamp ?? '') || 0;

/** Oldest finished Jobs beyond the limits (Kubernetes sorts by start time, then name). */
export function jobsToPrune(cj: CronJob, jobs: Job[]): Job[] {
  const out: Job[] = [];
  const limitOf = (v: unknown, dflt: number): number => (typeof v === 'number' && v >= 0 ? v : dflt);
  const groups: Array<[Job[], number]> = [
    [jobs.filter((j) => jobFinished(j) === 'Complete'), limitOf(cj.spec?.successfulJobsHistoryLimit, 3)],
    [jobs.filter((j) => jobFinished(j) === 'Failed'), limitOf(cj.spec?.failedJobsHistoryLimit, 1)],
  ];
  for (const [list, limit] of groups) {
    if (list.length <= limit) continue;
    const sorted = [...list].sort((a, b) => startOf(a) - startOf(b) || a.metadata.name.localeCompare(b.metadata.name));
    out.push(...sorted.slice(0, list.length - limit));
  }
  return out;
}

export function planCronJob(input: CronJobPlanInput): CronJobPlan {
  const { cronJob: cj, jobs, now } = input;
  const events: PlannedEvent[] = [];
  const prev = cj.status ?? {};
  const status: CronJobStatus = structuredClone(prev) as CronJobStatus;

  // Active: the owned Jobs that have not finished (level-triggered: recomputed every time).
  const active = jobs.filter((j) => !jobFinished(j)).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const wasActive = new Set((prev.active ?? []).map((r) => r.uid ?? r.name));
  for (const j of jobs) {
    const fin = jobFinished(j);
    if (fin && wasActive.has(j.metadata.uid ?? j.metadata.name)) events.push({ type: 'Normal', reason: 'SawCompletedJob', message: `Saw completed job: ${j.metadata.name}, condition: ${fin}` });
  }
  for (const r of prev.active ?? []) {
    if (!jobs.some((j) => (r.uid ? j.metadata.uid === r.uid : j.metadata.name === r.name))) events.push({ type: 'Normal', reason: 'MissingJob', message: `Active job went missing: ${r.name}` });
  }
  let lastSuccess = prev.lastSuccessfulTime ? Date.parse(prev.lastSuccessfulTime) : undefined;
  for (const j of jobs) {
    if (jobFinished(j) !== 'Complete' || !j.status?.completionTime) continue;
    const t = Date.parse(j.status.completionTime);
    if (lastSuccess === undefined || t > lastSuccess) lastSuccess = t;
  }
  if (lastSuccess !== undefined) status.lastSuccessfulTime = rfc3339(lastSuccess);
  status.active = active.map(refTo);
  if (!status.active.length) delete status.active;

  const prune = cj.metadata.deletionTimestamp ? [] : jobsToPrune(cj, jobs);
  const plan: CronJobPlan = { replace: [], prune, status, events };
  if (cj.metadata.deletionTimestamp) return plan;
  if ('error' in input.schedule) {
    events.push({ type: 'Warning', reason: input.schedule.reason, message: input.schedule.error });
    return plan;
  }
  if (cj.spec?.suspend === true) return plan;
  const sched = input.schedule;

  const requeueFrom = (base: number): number => {
    const next = sched.next(Math.max(base, now));
    return Math.min(MAX_REQUEUE_MS, Math.max(0, next - now + NEXT_SCHEDULE_DELTA_MS));
  };

  const { mostRecent, missed } = mostRecentScheduleTime(cj, now, sched, true);
  if (mostRecent === undefined || mostRecent > now) {
    plan.requeueAfterMs = requeueFrom(now);
    return plan;
  }
  if (missed === 'many') {
    events.push({ type: 'Warning', reason: 'TooManyMissedTimes', message: TOO_MANY_MISSED_MESSAGE });
    status.lastScheduleTime = rfc3339(mostRecent);
    plan.requeueAfterMs = requeueFrom(now);
    return plan;
  }
  const deadline = cj.spec?.startingDeadlineSeconds;
  if (typeof deadline === 'number' && mostRecent + deadline * 1000 < now) {
    events.push({ type: 'Warning', reason: 'MissSchedule', message: `Missed scheduled time to start a job: ${new Date(mostRecent).toUTCString()}` });
    plan.requeueAfterMs = requeueFrom(now);
    return plan;
  }
  const name = jobNameFor(cj.metadata.name, mostRecent);
  const lastScheduled = prev.lastScheduleTime ? Date.parse(prev.lastScheduleTime) : undefined;
  if (jobs.some((j) => j.metadata.name === name) || lastScheduled === mostRecent) {
    // this slot was already processed; a Job for it without the status saying so (the status
    // write was lost) moves lastScheduleTime forward
    if (lastScheduled === undefined || lastScheduled < mostRecent) status.lastScheduleTime = rfc3339(mostRecent);
    plan.requeueAfterMs = requeueFrom(now);
    return plan;
  }
  const policy = cj.spec?.concurrencyPolicy ?? 'Allow';
  if (policy === 'Forbid' && active.length > 0) {
    events.push({ type: 'Normal', reason: 'JobAlreadyActive', message: 'Not starting job because prior execution is running and concurrency policy is Forbid' });
    plan.requeueAfterMs = requeueFrom(now);
    return plan;
  }
  if (policy === 'Replace') plan.replace = active;
  plan.create = { job: jobForSlot(cj, mostRecent, sched.timeZone, input.term), scheduledMs: mostRecent };
  plan.requeueAfterMs = requeueFrom(mostRecent);
  return plan;
}
