/**
 * CronJob controller (batch/v1). Owns two things:
 *
 * - Triggering: on the leader only, one node-cron task per CronJob (in the CronJob's time zone)
 *   whose tick only enqueues the CronJob's key, and only while opts.isLeader() holds. Tasks follow
 *   CronJob adds, updates and deletes (keysFor) and are destroyed by stop(), which the manager
 *   calls when this node stops leading. node-cron ANDs day-of-month and day-of-week, so an OR
 *   schedule gets one task per field (cronjob/schedule.ts triggerExpressions). The ticks are a
 *   hint: reconcile also returns requeueAfterMs to the next slot (from the injected clock), so a
 *   missed or early tick changes nothing.
 * - Reconciling (level-triggered, pure slot math in cronjob/plan.ts): create the Job for the most
 *   recent due slot, named from the slot so a slot fired twice (restart, new leader) finds its Job
 *   (AlreadyExists = done); concurrency policy; history limits; status.
 *
 * Fencing: nothing is written unless opts.isLeader(), and every write carries opts.term() so the
 * store refuses it once a newer term exists. Created Jobs carry the term in `pifleet.io/term`.
 */
import cron from 'node-cron';
import type { CronJob, Job } from '../api/types.js';
import { objectKey } from '../api/kinds.js';
import { applyDefaults, defaultJobSelector } from '../api/defaults.js';
import type { ReconcileResult, WorkQueue } from '../lib/workqueue.js';
import { StoreError, type WatchEvent } from '../state/store.js';
import type { Controller, ControllerContext } from './manager.js';
import { errMessage } from './manager.js';
import { controllerKey, isOwnedBy } from './pods.js';
import { jobFinished } from './job/plan.js';
import { checkTimeZone, parseSchedule, type CronSchedule } from './cronjob/schedule.js';
import { planCronJob, refTo, type CronJobPlanInput } from './cronjob/plan.js';
import { rfc3339 } from '../lib/time.js';

export interface TriggerHandle { destroy(): void }
/** Makes a task that calls onTick at each time matching expression (5 fields) in timeZone. */
export type TriggerFactory = (expression: string, timeZone: string, onTick: () => void) => TriggerHandle;

export interface CronJobControllerOptions {
  isLeader: () => boolean;
  term: () => number;
  /** Real-time node-cron triggers (default true); tests on a FakeClock turn them off. */
  useNodeCron?: boolean;
  /** Trigger tasks (default: node-cron). */
  createTrigger?: TriggerFactory;
}

/** The default trigger: a node-cron task that does not keep the process alive. */
export const nodeCronTrigger: TriggerFactory = (expression, timeZone, onTick) => {
  const task = cron.schedule(expression, () => { onTick(); }, { timezone: timeZone, unref: true, suppressMissedWarning: true });
  return { destroy: () => { void Promise.resolve(task.destroy()).catch(() => undefined); } };
};

interface Trigger { signature: string; handles: TriggerHandle[] }

export class CronJobController implements Controller {
  readonly name = 'cronjob';
  #queue: WorkQueue | undefined;
  readonly #triggers = new Map<string, Trigger>();

  constructor(private readonly ctx: ControllerContext, private readonly opts: CronJobControllerOptions) {}

  get #useTriggers(): boolean {
    return this.opts.useNodeCron !== false || this.opts.createTrigger !== undefined;
  }

  *keysFor(ev: WatchEvent): Iterable<string> {
    if (ev.obj.kind === 'CronJob') {
      const key = objectKey('CronJob', ev.obj.metadata.namespace, ev.obj.metadata.name);
      if (ev.type === 'DELETED') this.#untrigger(key);
      else this.#syncTrigger(ev.obj as CronJob);
      yield key;
    } else if (ev.obj.kind === 'Job') {
      const k = controllerKey(ev.obj, 'CronJob');
      if (k) yield k;
    }
  }

  *initialKeys(): Iterable<string> {
    for (const cj of this.ctx.store.list('CronJob')) yield objectKey('CronJob', cj.metadata.namespace, cj.metadata.name);
  }

  start(queue: WorkQueue): void {
    this.#queue = queue;
    for (const cj of this.ctx.store.list<CronJob>('CronJob')) this.#syncTrigger(cj);
  }

  stop(): void {
    for (const key of [...this.#triggers.keys()]) this.#untrigger(key);
    this.#queue = undefined;
  }

  /** Trigger tasks currently alive, by CronJob key (tests and diagnostics). */
  triggers(): Map<string, string> {
    return new Map([...this.#triggers].map(([k, v]) => [k, v.signature]));
  }

  #syncTrigger(cj: CronJob): void {
    if (!this.#queue || !this.#useTriggers) return;
    const key = objectKey('CronJob', cj.metadata.namespace, cj.metadata.name);
    let sched: CronSchedule | undefined;
    try {
      sched = parseSchedule(cj.spec?.schedule ?? '', cj.spec?.timeZone);
    } catch {
      sched = undefined; // reconcile reports it as an event
    }
    const wanted = !sched || cj.spec?.suspend === true || cj.metadata.deletionTimestamp ? '' : `${sched.timeZone}|${sched.triggerExpressions.join('|')}`;
    if (this.#triggers.get(key)?.signature === wanted) return;
    this.#untrigger(key);
    if (!wanted || !sched) return;
    const make = this.opts.createTrigger ?? nodeCronTrigger;
    const onTick = (): void => { if (this.opts.isLeader()) this.#queue?.add(key); };
    const handles: TriggerHandle[] = [];
    try {
      for (const expr of sched.triggerExpressions) handles.push(make(expr, sched.timeZone, onTick));
    } catch (err) {
      for (const h of handles) h.destroy();
      this.ctx.logger.warn({ cronjob: key, err: errMessage(err) }, 'cannot start the cron trigger; the CronJob still runs from the controller\'s own requeue timer');
      return;
    }
    this.#triggers.set(key, { signature: wanted, handles });
  }

  #untrigger(key: string): void {
    const t = this.#triggers.get(key);
    if (!t) return;
    for (const h of t.handles) h.destroy();
    this.#triggers.delete(key);
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { store, clock, events } = this.ctx;
    if (!this.opts.isLeader()) return; // a follower never schedules; the new leader resyncs
    const cj = store.getByKey<CronJob>(key);
    if (!cj) return;
    const now = clock.now();
    const term = this.opts.term();
    const fenced = { term };
    const jobs = store.list<Job>('Job', cj.metadata.namespace).filter((j) => isOwnedBy(j, cj));
    const plan = planCronJob({ cronJob: cj, jobs, now, term, schedule: scheduleOf(cj) });
    const status = plan.status;

    for (const j of plan.replace) {
      await this.#deleteJob(j, term);
      events.record(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${j.metadata.name}`);
      status.active = (status.active ?? []).filter((r) => r.uid !== j.metadata.uid);
      if (!status.active.length) delete status.active;
    }
    if (plan.create) {
      if (!this.opts.isLeader()) return; // leadership moved while we were busy
      // the same defaults and selector an applied Job gets from the API server
      const uid = this.ctx.random.uuid();
      const want = defaultJobSelector(applyDefaults(plan.create.job), uid) as Job;
      want.metadata.uid = uid;
      let made: Job | undefined;
      try {
        const [obj] = await store.commit([{ type: 'create', obj: want }], fenced);
        made = obj as Job;
        events.record(cj, 'Normal', 'SuccessfulCreate', `Created job ${want.metadata.name}`);
      } catch (err) {
        if (!(err instanceof StoreError && err.reason === 'AlreadyExists')) {
          events.record(cj, 'Warning', 'FailedCreate', `Error creating job: ${errMessage(err)}`);
          throw new Error(`cronjob ${cj.metadata.namespace}/${cj.metadata.name}: cannot create job ${want.metadata.name} for ${new Date(plan.create.scheduledMs).toISOString()}: ${errMessage(err)}`);
        }
        // the slot was fired before (a restart, another leader): that Job is this slot's run
        const existing = store.get<Job>('Job', want.metadata.namespace, want.metadata.name);
        if (!existing || !isOwnedBy(existing, cj)) {
          events.record(cj, 'Warning', 'FailedCreate', `Not starting job because the name ${want.metadata.name} is already taken by an object this CronJob does not own`);
          return { requeueAfterMs: plan.requeueAfterMs ?? 60_000 };
        }
        made = existing;
      }
      if (!jobFinished(made) && !(status.active ?? []).some((r) => r.uid === made.metadata.uid)) {
        status.active = [...(status.active ?? []), refTo(made)].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? ''));
      }
      status.lastScheduleTime = rfc3339(plan.create.scheduledMs);
    }
    for (const j of plan.prune) {
      await this.#deleteJob(j, term);
      events.record(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${j.metadata.name}`);
    }
    const cur = store.getByKey<CronJob>(key);
    if (cur && cur.metadata.uid === cj.metadata.uid) {
      await store.commit([{ type: 'status', kind: 'CronJob', namespace: cur.metadata.namespace, name: cur.metadata.name, status }], fenced);
    }
    for (const e of plan.events) events.record(cj, e.type, e.reason, e.message);
    return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : undefined;
  }

  async #deleteJob(j: Job, term: number): Promise<void> {
    try {
      await this.ctx.store.commit([{ type: 'delete', kind: 'Job', namespace: j.metadata.namespace, name: j.metadata.name, uid: j.metadata.uid as string }], { term });
    } catch (err) {
      if (err instanceof StoreError && (err.reason === 'NotFound' || (err.reason === 'Conflict' && !/stale term/.test(err.message)))) return;
      throw err;
    }
  }
}

function scheduleOf(cj: CronJob): CronJobPlanInput['schedule'] {
  const tz = cj.spec?.timeZone;
  if (tz) {
    try {
      checkTimeZone(tz);
    } catch (err) {
      return { reason: 'UnknownTimeZone', error: `invalid timeZone: ${JSON.stringify(tz)}: ${errMessage(err)}` };
    }
  }
  try {
    return parseSchedule(cj.spec?.schedule ?? '', tz);
  } catch (err) {
    return { reason: 'UnparseableSchedule', error: `unparseable schedule: ${JSON.stringify(cj.spec?.schedule ?? '')} : ${errMessage(err)}` };
  }
}
