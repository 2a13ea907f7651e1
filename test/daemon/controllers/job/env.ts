/**
 * Test environment for the Job and CronJob controller tests: a real Store in a temp dir, a
 * FakeClock, seeded Random, a memory event recorder, Job/CronJob builders (already defaulted as
 * the API server would) and helpers that play the node agent (pod status reports).
 * Not a test file itself.
 */
import type { Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../../../daemon/src/state/store.js';
import { createSecretBox } from '../../../../daemon/src/state/secretbox.js';
import { FakeClock } from '../../../../daemon/src/lib/clock.js';
import { createSeededRandom } from '../../../../daemon/src/lib/random.js';
import { silentLogger } from '../../../../daemon/src/lib/logger.js';
import { createMemoryRecorder } from '../../../../daemon/src/events/recorder.js';
import type { ControllerContext } from '../../../../daemon/src/controllers/manager.js';
import type { CronJob, Job, KObject, Pod } from '../../../../daemon/src/api/types.js';
import { objectKey } from '../../../../daemon/src/api/kinds.js';
import { isOwnedBy } from '../../../../daemon/src/controllers/pods.js';

export const START = Date.UTC(2026, 0, 1, 12, 0, 0);

export interface Env {
  store: Store;
  clock: FakeClock;
  ctx: ControllerContext;
  recorder: ReturnType<typeof createMemoryRecorder>;
}

export async function env(t: Test, start = START, seed = 42): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-jobs-'));
  const clock = new FakeClock(start);
  const random = createSeededRandom(seed);
  const logger = silentLogger();
  const store = await Store.open({ dir, clock, random, logger, secretBox: createSecretBox('test-token-0123456789abcdef') });
  const recorder = createMemoryRecorder();
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, clock, recorder, ctx: { store, clock, random, logger, events: recorder } };
}

export const keyOf = (o: KObject): string => objectKey(o.kind, o.metadata.namespace, o.metadata.name);

export async function create<T extends KObject>(store: Store, obj: T): Promise<T> {
  const [o] = await store.commit([{ type: 'create', obj }]);
  return o as T;
}

export async function update<T extends KObject>(store: Store, obj: T, fn: (o: T) => void): Promise<T> {
  const cur = store.getByKey<T>(keyOf(obj));
  if (!cur) throw new Error(`${keyOf(obj)} is gone`);
  const next = structuredClone(cur) as T;
  fn(next);
  const [o] = await store.commit([{ type: 'update', obj: next }]);
  return o as T;
}

export function get<T extends KObject>(store: Store, kind: string, name: string, ns = 'default'): T {
  const o = store.get<T>(kind, ns, name);
  if (!o) throw new Error(`${kind} ${ns}/${name} not found`);
  return o;
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
