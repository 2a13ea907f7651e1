/**
 * Images for pod containers: the pull policy (Kubernetes' defaults), pulls with their events,
 * and the per-container pull backoff the planner reads (ContainerMemory.pullRetryAt).
 */
import type { Container } from '../api/types.js';
import type { Clock } from '../lib/clock.js';
import { backoffDelay } from '../lib/backoff.js';
import type { Runtime } from '../runtime/types.js';
import type { ContainerMemory } from './plan.js';
import { memoryOf, type PodEvents, type PodWorker } from './worker.js';

export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  if (image.includes('@')) return 'IfNotPresent';
  const last = image.split('/').pop() ?? image;
  const tag = last.includes(':') ? last.split(':').pop() : undefined;
  return !tag || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

export interface ImagesOptions {
  runtime: Runtime;
  clock: Clock;
  events: PodEvents;
  /** Pull backoff, default 10 s doubling to 300 s. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

export interface ImageResult {
  ok: boolean;
  requeueAfterMs?: number;
}

export class ImageManager {
  constructor(private readonly o: ImagesOptions) {}

  /** Make sure the image is there according to the pull policy; ok false (with a waiting reason) when not. */
  async ensure(w: PodWorker, c: Container): Promise<ImageResult> {
    const { runtime, clock, events } = this.o;
    const image = c.image ?? '';
    const mem = memoryOf(w, c.name);
    const policy = c.imagePullPolicy ?? defaultPullPolicy(image);
    const present = await runtime.imagePresent(image);
    if (policy === 'Never' && !present) {
      const msg = `Container image "${image}" is not present with pull policy of Never`;
      w.waiting.set(c.name, { reason: 'ErrImageNeverPull', message: msg });
      mem.neverPull = msg;
      events.record(w, `neverpull:${c.name}`, c.name, 'Warning', 'ErrImageNeverPull', msg);
      events.record(w, `neverpull-err:${c.name}`, c.name, 'Warning', 'Failed', 'Error: ErrImageNeverPull');
      return { ok: false, requeueAfterMs: this.#backoff(mem) };
    }
    delete mem.neverPull;
    if (policy === 'Always' || !present) {
      events.record(w, undefined, c.name, 'Normal', 'Pulling', `Pulling image "${image}"`);
      const t0 = clock.monotonic();
      try {
        await runtime.pullImage(image);
      } catch (err) {
        const msg = (err as Error).message;
        w.waiting.set(c.name, { reason: 'ErrImagePull', message: msg });
        events.record(w, undefined, c.name, 'Warning', 'Failed', `Failed to pull image "${image}": ${msg}`);
        events.record(w, undefined, c.name, 'Warning', 'Failed', 'Error: ErrImagePull');
        this.#backoff(mem);
        // show ErrImagePull for a moment, then ImagePullBackOff until the retry
        return { ok: false, requeueAfterMs: 1000 };
      }
      events.record(w, undefined, c.name, 'Normal', 'Pulled', `Successfully pulled image "${image}" in ${((clock.monotonic() - t0) / 1000).toFixed(3)}s`);
    } else {
      events.record(w, undefined, c.name, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);
    }
    mem.pullFailures = 0;
    delete mem.pullRetryAt;
    return { ok: true };
  }

  #backoff(mem: ContainerMemory): number {
    mem.pullFailures++;
    const delay = backoffDelay(mem.pullFailures, this.o.backoffBaseMs ?? 10_000, this.o.backoffMaxMs ?? 300_000);
    mem.pullRetryAt = this.o.clock.now() + delay;
    return delay;
  }
}
