/**
 * Job controller (batch/v1): runs a Job's pods to completion as Kubernetes does. Level-triggered:
 * reconcile(key) reads the Job and the pods it controls (by ownerReference uid), asks the pure
 * planner (job/plan.ts) what to do, and applies the result: create/delete pods, write status,
 * record events, and delete the Job when its ttlSecondsAfterFinished has passed (its pods then
 * go through the garbage collector). Time-based wake-ups (backoff, deadline, TTL) come back as
 * requeueAfterMs.
 */
import type { Job, Pod } from '../api/types.js';
import { objectKey } from '../api/kinds.js';
import type { ReconcileResult } from '../lib/workqueue.js';
import { StoreError, type Mutation, type WatchEvent } from '../state/store.js';
import type { Controller, ControllerContext } from './manager.js';
import { controllerKey, deletePodMutation, isOwnedBy, isTerminal } from './pods.js';
import { planJob, reportedFinishTime } from './job/plan.js';

export interface JobControllerOptions {
  /** First delay after a failed pod (Kubernetes: 10 s); doubles per failure. */
  backoffBaseMs: number;
  /** Cap of that delay (6 min). */
  backoffMaxMs: number;
}

export class JobController implements Controller {
  readonly name = 'job';
  /** When this controller first saw a pod finished without a reported finish time (uid -> ms). */
  readonly #firstSeenFinished = new Map<string, number>();
  /** Jobs (uid) holding back pods because too many of theirs wait for a node: FailedCreate is recorded once per episode. */
  readonly #heldBack = new Set<string>();

  constructor(private readonly ctx: ControllerContext, private readonly opts: JobControllerOptions) {}

  *keysFor(ev: WatchEvent): Iterable<string> {
    if (ev.obj.kind === 'Job') {
      if (ev.type === 'DELETED' && ev.obj.metadata.uid) this.#heldBack.delete(ev.obj.metadata.uid);
      yield objectKey('Job', ev.obj.metadata.namespace, ev.obj.metadata.name);
    } else if (ev.obj.kind === 'Pod') {
      if (ev.type === 'DELETED' && ev.obj.metadata.uid) this.#firstSeenFinished.delete(ev.obj.metadata.uid);
      const k = controllerKey(ev.obj, 'Job');
      if (k) yield k;
    }
  }

  *initialKeys(): Iterable<string> {
    for (const j of this.ctx.store.list('Job')) yield objectKey('Job', j.metadata.namespace, j.metadata.name);
  }

  stop(): void {
    this.#firstSeenFinished.clear();
    this.#heldBack.clear();
  }

  #finishedAt(pod: Pod): number {
    const reported = reportedFinishTime(pod);
    if (reported !== undefined) return reported;
    const uid = pod.metadata.uid ?? pod.metadata.name;
    let t = this.#firstSeenFinished.get(uid);
    if (t === undefined && isTerminal(pod)) {
      t = this.ctx.clock.now();
      this.#firstSeenFinished.set(uid, t);
    }
    return t ?? this.ctx.clock.now();
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { store, clock, random, events } = this.ctx;
    const job = store.getByKey<Job>(key);
    if (!job || job.metadata.deletionTimestamp) return;
    const now = clock.now();
    const pods = store.list<Pod>('Pod', job.metadata.namespace).filter((p) => isOwnedBy(p, job));
    const plan = planJob({
      job, pods, now,
      backoffBaseMs: this.opts.backoffBaseMs,
      backoffMaxMs: this.opts.backoffMaxMs,
      suffix: () => random.suffix(5),
      finishedAt: (p) => this.#finishedAt(p),
    });

    if (plan.deleteJob) {
      try {
        await store.commit([{ type: 'delete', kind: 'Job', namespace: job.metadata.namespace, name: job.metadata.name, uid: job.metadata.uid as string }]);
        events.record(job, 'Normal', 'TTLExpired', `Job deleted ${jobTtl(job)} s after it finished (ttlSecondsAfterFinished); its pods follow`);
      } catch (err) {
        if (!(err instanceof StoreError && (err.reason === 'NotFound' || err.reason === 'Conflict'))) throw err;
      }
      return;
    }

    const muts: Mutation[] = [
      ...plan.create.map((obj): Mutation => ({ type: 'create', obj })),
      ...plan.delete.map((p) => deletePodMutation(p, now)),
    ];
    if (muts.length) {
      try {
        await store.commit(muts);
      } catch (err) {
        if (err instanceof StoreError && err.reason === 'AlreadyExists') {
          // a random name collided: nothing was applied; try again at once with new names
          return { requeue: true };
        }
        throw new Error(`job ${job.metadata.namespace}/${job.metadata.name}: cannot ${plan.create.length ? `create ${plan.create.length} pod(s)` : ''}${plan.create.length && plan.delete.length ? ' and ' : ''}${plan.delete.length ? `delete ${plan.delete.length} pod(s)` : ''}: ${(err as Error).message}`);
      }
    }
    // Status of the incarnation we planned for (a Job replaced meanwhile is left alone).
    const cur = store.getByKey<Job>(key);
    if (cur && cur.metadata.uid === job.metadata.uid) {
      await store.commit([{ type: 'status', kind: 'Job', namespace: cur.metadata.namespace, name: cur.metadata.name, status: plan.status }]);
    }
    for (const e of plan.events) events.record(job, e.type, e.reason, e.message);
    const uid = job.metadata.uid ?? key;
    if (!plan.unscheduledLimit) this.#heldBack.delete(uid);
    else if (!this.#heldBack.has(uid)) {
      this.#heldBack.add(uid);
      events.record(job, 'Warning', 'FailedCreate', plan.unscheduledLimit);
    }
    return plan.requeueAfterMs !== undefined ? { requeueAfterMs: Math.max(10, plan.requeueAfterMs) } : undefined;
  }
}

function jobTtl(job: Job): number {
  return job.spec?.ttlSecondsAfterFinished ?? 0;
}
