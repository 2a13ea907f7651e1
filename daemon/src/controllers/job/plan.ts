/**
 * The Job planner (batch/v1 semantics), pure: (Job, its pods, now) -> pods to create and delete,
 * the new status, events and when to look again. The JobController executes the plan.
 *
 * Counting: a Job's pods are kept until the Job is deleted or its TTL passes, so succeeded and
 * failed are recounted from the pods that exist (a pod deleted by hand is no longer counted).
 * A pod that ended Failed after someone deleted it (suspend, deadline, parallelism lowered,
 * node drained) is not counted as a failure: only a pod's own failures count towards
 * backoffLimit.
 *
 * Parallelism is a hard bound: pods that are terminating but still running take a slot too,
 * so at no moment do more than `parallelism` of the Job's pods run.
 *
 * Creating is bounded too: at most BURST pods per plan, and none while
 * MAX_UNSCHEDULED_PER_OWNER of the Job's pods wait for a node (plan.unscheduledLimit says so),
 * so a parallelism larger than the fleet never becomes an endless stream of Pending pods.
 */
import type { ContainerStatus, EnvVar, Job, JobStatus, Pod, PodTemplateSpec } from '../../api/types.js';
import { backoffDelay } from '../../lib/backoff.js';
import { deletionRank, isActive, isReady, isTerminal, podFromTemplate, podPhase } from '../pods.js';
import { MAX_UNSCHEDULED_PER_OWNER, unscheduledLimitMessage, unscheduledPods } from '../scheduling.js';
import { rfc3339 } from '../../lib/time.js';

export const INDEX_ANNOTATION = 'batch.kubernetes.io/job-completion-index';
export const INDEX_LABEL = 'batch.kubernetes.io/job-completion-index';
export const CONTROLLER_UID_LABEL = 'batch.kubernetes.io/controller-uid';
export const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';
export const INDEX_ENV = 'JOB_COMPLETION_INDEX';

export const REASON_BACKOFF = 'BackoffLimitExceeded';
export const MESSAGE_BACKOFF = 'Job has reached the specified backoff limit';
export const REASON_DEADLINE = 'DeadlineExceeded';
export const MESSAGE_DEADLINE = 'Job was active longer than specified deadline';

/** Pods created per reconcile at most (a bad template does not flood the store). */
export const BURST = 50;

export type JobCondition = NonNullable<JobStatus['conditions']>[number];
export interface PlannedEvent { type: 'Normal' | 'Warning'; reason: string; message: string }

export interface JobPlanInput {
  job: Job;
  /** Pods controlled by this Job (any phase, terminating included). */
  pods: Pod[];
  now: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** A random pod-name suffix (5 characters). */
  suffix: () => string;
  /** When a finished pod finished (ms); the controller supplies a fallback for pods without times. */
  finishedAt: (pod: Pod) => number;
}

export interface JobPlan {
  create: Pod[];
  delete: Pod[];
  status: JobStatus;
  events: PlannedEvent[];
  /** The Job's TTL after finishing has passed: delete it (its pods follow through the GC). */
  deleteJob: boolean;
  requeueAfterMs?: number;
  /** Pods were held back because MAX_UNSCHEDULED_PER_OWNER of the Job's pods wait for a node: why (a FailedCreate message). */
  unscheduledLimit?: string;
}

export interface JobSettings {
  parallelism: number;
  /** undefined: the work-queue pattern. */
  completions: number | undefined;
  backoffLimit: number;
  indexed: boolean;
  suspend: boolean;
  restartPolicy: string;
  activeDeadlineSeconds: number | undefined;
  ttlSecondsAfterFinished: number | undefined;
}

/** The Job's spec with Kubernetes' defaults for anything missing (the API server defaults too). */
export function jobSettings(job: Job): JobSettings {
  const s = job.spec ?? ({} as Job['spec']);
  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const parallelism = Math.max(0, num(s.parallelism) ?? 1);
  let completions = num(s.completions);
  // completions and parallelism both unset: one pod must succeed (as the API server defaults)
  if (completions === undefined && num(s.parallelism) === undefined) completions = 1;
  const indexed = s.completionMode === 'Indexed';
  if (indexed && completions === undefined) completions = 1;
  return {
    parallelism,
    completions: completions === undefined ? undefined : Math.max(0, completions),
    backoffLimit: Math.max(0, num(s.backoffLimit) ?? 6),
    indexed,
    suspend: s.suspend === true,
    restartPolicy: s.template?.spec?.restartPolicy ?? 'Never',
    activeDeadlineSeconds: num(s.activeDeadlineSeconds),
    ttlSecondsAfterFinished: num(s.ttlSecondsAfterFinished),
  };
}

/** 'Complete' / 'Failed' once the Job has finished, else undefined. */
export function jobFinished(job: { status?: unknown }): 'Complete' | 'Failed' | undefined {
  const conds = (job.status as JobStatus | undefined)?.conditions ?? [];
  for (const c of conds) if ((c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') return c.type;
  return undefined;
}

function finishedCondition(job: Job): JobCondition | undefined {
  return (job.status?.conditions ?? []).find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

export function podIndex(pod: Pod, completions: number): number | undefined {
  const raw = pod.metadata.annotations?.[INDEX_ANNOTATION] ?? pod.metadata.labels?.[INDEX_LABEL];
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  const i = Number(raw);
  return i < completions ? i : undefined;
}

/** "0-3,5,7-8" (Kubernetes' completedIndexes format) from a set of indexes. */
export function formatIndexes(indexes: Iterable<number>): string {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Own failure: ended Failed without having been deleted first. */
function isOwnFailure(p: Pod): boolean {
  return podPhase(p) === 'Failed' && !p.metadata.deletionTimestamp;
}

/** Restarts in place of running pods (restartPolicy OnFailure), as Kubernetes counts them. */
export function restartsInPlace(pods: Pod[]): number {
  let n = 0;
  for (const p of pods) {
    const phase = podPhase(p);
    if (phase !== 'Running' && phase !== 'Pending') continue;
    const all: ContainerStatus[] = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])];
    for (const c of all) n += c.restartCount ?? 0;
  }
  return n;
}

/** The latest terminated.finishedAt of a pod's containers, if it reported one. */
export function reportedFinishTime(pod: Pod): number | undefined {
  let t: number | undefined;
  for (const c of [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])]) {
    const f = c.state?.terminated?.finishedAt;
    const ms = f ? Date.parse(f) : NaN;
    if (Number.isFinite(ms)) t = Math.max(t ?? ms, ms);
  }
  return t;
}

/** A pod for the Job (for Indexed Jobs: index, hostname and JOB_COMPLETION_INDEX). */
export function jobPod(job: Job, suffix: string, index?: number): Pod {
  const template: PodTemplateSpec = job.spec?.template ?? { spec: { containers: [] } };
  const labels: Record<string, string> = {};
  const tl = template.metadata?.labels ?? {};
  if (!tl[CONTROLLER_UID_LABEL] && job.metadata.uid) labels[CONTROLLER_UID_LABEL] = job.metadata.uid;
  if (!tl[JOB_NAME_LABEL]) labels[JOB_NAME_LABEL] = job.metadata.name;
  const annotations: Record<string, string> = {};
  let name = `${job.metadata.name}-${suffix}`;
  if (index !== undefined) {
    labels[INDEX_LABEL] = String(index);
    annotations[INDEX_ANNOTATION] = String(index);
    name = `${job.metadata.name}-${index}-${suffix}`;
  }
  const pod = podFromTemplate(template, job, name, { labels, annotations });
  if (index !== undefined) {
    pod.spec.hostname = `${job.metadata.name}-${index}`;
    const env: EnvVar = { name: INDEX_ENV, valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${INDEX_ANNOTATION}']` } } };
    for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
      if (!(c.env ?? []).some((e) => e.name === INDEX_ENV)) c.env = [...(c.env ?? []), structuredClone(env)];
    }
  }
  return pod;
}

function condition(type: string, reason: string | undefined, message: string | undefined, now: number, status = 'True'): JobCondition {
  const ts = rfc3339(now);
  return { type, status, lastProbeTime: ts, lastTransitionTime: ts, ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
}

/** Set (or replace) a condition; an unchanged status keeps its transition time. */
function setCondition(conds: JobCondition[], c: JobCondition): JobCondition[] {
  const old = conds.find((x) => x.type === c.type);
  if (old && old.status === c.status && old.reason === c.reason) return conds;
  return [...conds.filter((x) => x.type !== c.type), c];
}

const minDefined = (...xs: Array<number | undefined>): number | undefined => {
  const d = xs.filter((x): x is number => x !== undefined);
  return d.length ? Math.max(0, Math.min(...d)) : undefined;
};

export function planJob(input: JobPlanInput): JobPlan {
  const { job, pods, now } = input;
  const s = jobSettings(job);
  const prev = job.status ?? {};
  let conditions: JobCondition[] = structuredClone(prev.conditions ?? []);
  const events: PlannedEvent[] = [];
  const create: Pod[] = [];
  const del = new Map<string, Pod>();
  const remove = (p: Pod): void => { if (!p.metadata.deletionTimestamp) del.set(p.metadata.name, p); };

  const active = pods.filter(isActive);
  const terminating = pods.filter((p) => p.metadata.deletionTimestamp && !isTerminal(p));
  const succeededPods = pods.filter((p) => podPhase(p) === 'Succeeded');
  const failedPods = pods.filter(isOwnFailure);
  const completions = s.completions;
  const succeededIndexes = new Set<number>();
  if (s.indexed) for (const p of succeededPods) { const i = podIndex(p, completions ?? 0); if (i !== undefined) succeededIndexes.add(i); }
  const succeeded = s.indexed ? succeededIndexes.size : succeededPods.length;
  const failed = failedPods.length;
  let startTime = prev.startTime;
  let completionTime = prev.completionTime;
  let requeue: number | undefined;
  let deleteJob = false;
  let unscheduledLimit: string | undefined;

  const finished = finishedCondition(job);
  if (finished) {
    // Finished: pods are kept for their logs; only stragglers are stopped, and the TTL runs.
    for (const p of active) remove(p);
    if (s.ttlSecondsAfterFinished !== undefined) {
      const since = Date.parse(finished.lastTransitionTime ?? completionTime ?? '') || now;
      const left = since + s.ttlSecondsAfterFinished * 1000 - now;
      if (left <= 0) deleteJob = true;
      else requeue = left;
    }
  } else if (s.suspend) {
    for (const p of active) remove(p);
    if (!conditions.some((c) => c.type === 'Suspended' && c.status === 'True')) {
      conditions = setCondition(conditions, condition('Suspended', 'JobSuspended', 'Job suspended', now));
      events.push({ type: 'Normal', reason: 'Suspended', message: 'Job suspended' });
    }
  } else {
    if (conditions.some((c) => c.type === 'Suspended' && c.status === 'True')) {
      conditions = setCondition(conditions, condition('Suspended', 'JobResumed', 'Job resumed', now, 'False'));
      events.push({ type: 'Normal', reason: 'Resumed', message: 'Job resumed' });
      startTime = rfc3339(now); // the deadline counts from the resume
    }
    startTime ??= rfc3339(now);
    const started = Date.parse(startTime);

    const restarts = s.restartPolicy === 'OnFailure' ? restartsInPlace(active) : 0;
    const pastBackoff = failed > s.backoffLimit
      || (s.restartPolicy === 'OnFailure' && (s.backoffLimit === 0 ? restarts > 0 : restarts >= s.backoffLimit));
    const deadlineAt = s.activeDeadlineSeconds !== undefined ? started + s.activeDeadlineSeconds * 1000 : undefined;
    const pastDeadline = deadlineAt !== undefined && now >= deadlineAt;
    let complete = false;
    if (s.indexed) complete = succeeded >= (completions ?? 1);
    else if (completions !== undefined) complete = succeeded >= completions;
    else complete = succeeded > 0 && active.length === 0;

    if (!complete && (pastBackoff || pastDeadline)) {
      const [reason, message] = pastBackoff ? [REASON_BACKOFF, MESSAGE_BACKOFF] : [REASON_DEADLINE, MESSAGE_DEADLINE];
      for (const p of active) remove(p);
      conditions = setCondition(conditions, condition('Failed', reason, message, now));
      events.push({ type: 'Warning', reason, message });
      if (s.ttlSecondsAfterFinished !== undefined) requeue = s.ttlSecondsAfterFinished * 1000;
    } else if (complete) {
      for (const p of active) remove(p);
      conditions = setCondition(conditions, condition('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods', now));
      completionTime = rfc3339(now);
      events.push({ type: 'Normal', reason: 'Completed', message: 'Job completed' });
      if (s.ttlSecondsAfterFinished !== undefined) requeue = s.ttlSecondsAfterFinished * 1000;
    } else {
      if (deadlineAt !== undefined) requeue = deadlineAt - now;
      // Backoff between failures: base * 2^(failures since the last success - 1), from the last failure.
      const lastSuccess = Math.max(0, ...succeededPods.map(input.finishedAt));
      const recentFailures = failedPods.map(input.finishedAt).filter((t) => t > lastSuccess);
      const backoffLeft = recentFailures.length
        ? Math.max(...recentFailures) + backoffDelay(recentFailures.length, input.backoffBaseMs, input.backoffMaxMs) - now
        : 0;
      const inFlight = active.length + terminating.length;
      const planCreate = (n: number, index?: () => number | undefined): void => {
        if (n <= 0) return;
        if (backoffLeft > 0) { requeue = minDefined(requeue, backoffLeft); return; }
        const waiting = unscheduledPods(active);
        const room = Math.max(0, MAX_UNSCHEDULED_PER_OWNER - waiting.length);
        if (room < Math.min(n, BURST)) unscheduledLimit = unscheduledLimitMessage('Job', waiting, n - room);
        for (let i = 0; i < Math.min(n, BURST, room); i++) {
          const idx = index?.();
          if (index && idx === undefined) break;
          create.push(jobPod(job, input.suffix(), idx));
        }
      };
      if (s.indexed) {
        const total = completions ?? 1;
        const running = new Set<number>();
        for (const p of [...active].sort(deletionRank).reverse()) {
          const i = podIndex(p, total);
          // no index, a done index, or a second pod for the same index: not needed
          if (i === undefined || succeededIndexes.has(i) || running.has(i)) { remove(p); continue; }
          running.add(i);
        }
        // parallelism lowered: stop the pods of the highest indexes
        const keep = [...running].sort((a, b) => a - b).slice(0, Math.max(0, s.parallelism - terminating.length));
        for (const p of active) {
          const i = podIndex(p, total);
          if (i !== undefined && running.has(i) && !keep.includes(i)) remove(p);
        }
        for (const p of terminating) { const i = podIndex(p, total); if (i !== undefined) running.add(i); }
        const needed: number[] = [];
        for (let i = 0; i < total; i++) if (!succeededIndexes.has(i) && !running.has(i)) needed.push(i);
        const room = s.parallelism - inFlight;
        let k = 0;
        planCreate(Math.min(room, needed.length), () => needed[k++]);
      } else {
        const wantActive = completions !== undefined
          ? Math.max(0, Math.min(s.parallelism, completions - succeeded))
          : succeeded > 0 ? Math.min(active.length, s.parallelism) : s.parallelism;
        if (active.length > wantActive) {
          for (const p of [...active].sort(deletionRank).slice(0, active.length - wantActive)) remove(p);
        } else {
          planCreate(Math.min(wantActive - active.length, s.parallelism - inFlight));
        }
      }
    }
  }

  const deleting = [...del.values()];
  const stillActive = active.filter((p) => !del.has(p.metadata.name));
  for (const p of create) events.push({ type: 'Normal', reason: 'SuccessfulCreate', message: `Created pod: ${p.metadata.name}` });
  for (const p of deleting) events.push({ type: 'Normal', reason: 'SuccessfulDelete', message: `Deleted pod: ${p.metadata.name}` });

  if (finished) {
    // a finished Job's counts are final (its pods may be deleted by hand later)
    return { create, delete: deleting, status: structuredClone(prev) as JobStatus, events, deleteJob, ...(requeue !== undefined ? { requeueAfterMs: Math.max(0, requeue) } : {}) };
  }
  const status: JobStatus = {
    ...(structuredClone(prev) as JobStatus),
    conditions,
    active: stillActive.length + create.length,
    ready: stillActive.filter(isReady).length,
    terminating: terminating.length + deleting.filter((p) => p.spec.nodeName).length,
    succeeded,
    failed,
  };
  if (!conditions.length) delete status.conditions;
  if (startTime) status.startTime = startTime;
  else delete status.startTime;
  if (completionTime) status.completionTime = completionTime;
  if (s.indexed) status.completedIndexes = formatIndexes(succeededIndexes);
  return {
    create, delete: deleting, status, events, deleteJob,
    ...(requeue !== undefined ? { requeueAfterMs: Math.max(0, requeue) } : {}),
    ...(unscheduledLimit ? { unscheduledLimit } : {}),
  };
}
