/**
 * Test environment for the Job and CronJob controller tests: a real Store in a temp dir, a
 * FakeClock, seeded Random, a memory event recorder, Job/CronJob builders (already defaulted as
 * the API server would) and helpers that play the node agent (pod status reports).
 * Not a test file itself.
 */
import type { Test } from 'tap';
import type { Store } from '../../../../daemon/src/state/store.js';
import type { CronJob, Job, KObject, Pod } from '../../../../daemon/src/api/types.js';
import { isOwnedBy } from '../../../../daemon/src/controllers/pods.js';
import { env as baseEnv, START, type Env } from '../fixtures.js';

export { START, type Env };
export { keyOf, create, update, get } from '../fixtures.js';

/** The shared controller test environment, its clock set to `start`. */
export async function env(t: Test, start = START, seed = 42): Promise<Env> {
  const e = await baseEnv(t, seed);
  e.clock.set(start);
  return e;
}

export interface JobOpts {
  completions?: number | null;
  parallelism?: number;
  backoffLimit?: number;
  restartPolicy?: 'Never' | 'OnFailure';
  activeDeadlineSeconds?: number;
  ttlSecondsAfterFinished?: number;
  suspend?: boolean;
  indexed?: boolean;
  namespace?: string;
}

export function job(name: string, o: JobOpts = {}): Job {
  const spec: Record<string, unknown> = {
    parallelism: o.parallelism ?? 1,
    backoffLimit: o.backoffLimit ?? 6,
    completionMode: o.indexed ? 'Indexed' : 'NonIndexed',
    suspend: o.suspend ?? false,
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: 'main', image: 'busybox:1', command: ['true'] }], restartPolicy: o.restartPolicy ?? 'Never', terminationGracePeriodSeconds: 30 },
    },
  };
  if (o.completions !== null) spec.completions = o.completions ?? 1;
  if (o.activeDeadlineSeconds !== undefined) spec.activeDeadlineSeconds = o.activeDeadlineSeconds;
  if (o.ttlSecondsAfterFinished !== undefined) spec.ttlSecondsAfterFinished = o.ttlSecondsAfterFinished;
  return { apiVersion: 'batch/v1', kind: 'Job', metadata: { name, namespace: o.namespace ?? 'default' }, spec } as unknown as Job;
}

export interface CronJobOpts {
  timeZone?: string;
  concurrencyPolicy?: 'Allow' | 'Forbid' | 'Replace';
  suspend?: boolean;
  startingDeadlineSeconds?: number;
  successfulJobsHistoryLimit?: number;
  failedJobsHistoryLimit?: number;
}

export function cronJob(name: string, schedule: string, o: CronJobOpts = {}): CronJob {
  return {
    apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name, namespace: 'default' },
    spec: {
      schedule,
      ...(o.timeZone ? { timeZone: o.timeZone } : {}),
      concurrencyPolicy: o.concurrencyPolicy ?? 'Allow',
      suspend: o.suspend ?? false,
      successfulJobsHistoryLimit: o.successfulJobsHistoryLimit ?? 3,
      failedJobsHistoryLimit: o.failedJobsHistoryLimit ?? 1,
      ...(o.startingDeadlineSeconds !== undefined ? { startingDeadlineSeconds: o.startingDeadlineSeconds } : {}),
      jobTemplate: {
        metadata: { labels: { cron: name } },
        spec: {
          backoffLimit: 0,
          template: { metadata: { labels: { cron: name } }, spec: { containers: [{ name: 'main', image: 'busybox:1' }], restartPolicy: 'Never' } },
        },
      },
    },
  } as unknown as CronJob;
}

export function podsOf(store: Store, owner: KObject): Pod[] {
  return store.list<Pod>('Pod', owner.metadata.namespace).filter((p) => isOwnedBy(p, owner));
}

export function jobsOf(store: Store, owner: KObject): Job[] {
  return store.list<Job>('Job', owner.metadata.namespace).filter((j) => isOwnedBy(j, owner));
}

/** What a node agent reports for a pod: phase, container state, restarts, readiness. */
export function report(e: Env, pod: Pod, phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed', o: { restartCount?: number; ready?: boolean; exitCode?: number } = {}): void {
  const now = new Date(e.clock.now()).toISOString();
  const terminated = phase === 'Succeeded' || phase === 'Failed';
  const status = {
    phase,
    conditions: [{ type: 'Ready', status: o.ready ? 'True' : 'False', lastTransitionTime: now }],
    containerStatuses: [{
      name: 'main', image: 'busybox:1', imageID: '', ready: !!o.ready, restartCount: o.restartCount ?? 0,
      state: terminated
        ? { terminated: { exitCode: o.exitCode ?? (phase === 'Succeeded' ? 0 : 1), startedAt: now, finishedAt: now, reason: phase === 'Succeeded' ? 'Completed' : 'Error' } }
        : phase === 'Running' ? { running: { startedAt: now } } : { waiting: { reason: 'ContainerCreating' } },
    }],
  };
  if (!e.store.setPodStatus(pod.metadata.namespace ?? 'default', pod.metadata.name, status, pod.metadata.uid)) {
    const cur = e.store.get('Pod', pod.metadata.namespace, pod.metadata.name);
    if (!cur) throw new Error(`pod ${pod.metadata.name} is gone`);
  }
}

/** A terminating pod whose node has stopped it: the pod goes away. */
export async function finishTermination(e: Env, pod: Pod): Promise<void> {
  const cur = e.store.get<Pod>('Pod', pod.metadata.namespace, pod.metadata.name);
  if (cur) await e.store.commit([{ type: 'delete', kind: 'Pod', namespace: cur.metadata.namespace, name: cur.metadata.name, uid: cur.metadata.uid as string }]);
}

export function condition(o: { status?: unknown }, type: string): { type: string; status: string; reason?: string; message?: string } | undefined {
  return ((o.status as { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } | undefined)?.conditions ?? []).find((c) => c.type === type);
}
