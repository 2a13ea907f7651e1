import type { Clock, TimerHandle } from './clock.js';
import { backoffDelay } from './backoff.js';

/**
 * A de-duplicating work queue in the style of client-go / controller-runtime:
 * - a key is queued at most once, however often it is added;
 * - a key being processed is never processed concurrently: an add during processing
 *   marks it dirty and it runs again afterwards;
 * - addAfter() schedules a key (requeue-after), the earliest schedule wins;
 * - addRateLimited() backs off per key until forget() is called.
 * The queue drives a handler with bounded concurrency; it never spins.
 */
export interface WorkQueueOptions {
  clock: Clock;
  concurrency?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export type ReconcileResult = void | { requeueAfterMs?: number; requeue?: boolean };

export class WorkQueue<K extends string = string> {
  readonly #clock: Clock;
  readonly #concurrency: number;
  readonly #base: number;
  readonly #max: number;
  #queue: K[] = [];
  #queued = new Set<K>();
  #processing = new Set<K>();
  #dirty = new Set<K>();
  #delayed = new Map<K, { at: number; timer: TimerHandle }>();
  #failures = new Map<K, number>();
  #handler: ((key: K) => Promise<ReconcileResult>) | undefined;
  #onError: ((key: K, err: unknown) => void) | undefined;
  #active = 0;
  #stopped = false;
  #idleWaiters: Array<() => void> = [];

  constructor(opts: WorkQueueOptions) {
    this.#clock = opts.clock;
    this.#concurrency = opts.concurrency ?? 1;
    this.#base = opts.baseDelayMs ?? 100;
    this.#max = opts.maxDelayMs ?? 60_000;
  }

  /** Start processing with handler; errors requeue the key with backoff. */
  run(handler: (key: K) => Promise<ReconcileResult>, onError?: (key: K, err: unknown) => void): void {
    this.#handler = handler;
    this.#onError = onError;
    this.#stopped = false;
    this.#pump();
  }

  add(key: K): void {
    if (this.#stopped) return;
    const d = this.#delayed.get(key);
    if (d) { d.timer.cancel(); this.#delayed.delete(key); }
    if (this.#processing.has(key)) { this.#dirty.add(key); return; }
    if (this.#queued.has(key)) return;
    this.#queued.add(key);
    this.#queue.push(key);
    this.#pump();
  }

  addAfter(key: K, ms: number): void {
    if (this.#stopped) return;
    if (ms <= 0) { this.add(key); return; }
    const at = this.#clock.now() + ms;
    const existing = this.#delayed.get(key);
    if (existing && existing.at <= at) return;
    existing?.timer.cancel();
    const timer = this.#clock.setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    this.#delayed.set(key, { at, timer });
  }

  addRateLimited(key: K): void {
    const n = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, n);
    this.addAfter(key, backoffDelay(n, this.#base, this.#max));
  }

  forget(key: K): void {
    this.#failures.delete(key);
  }

  failures(key: K): number {
    return this.#failures.get(key) ?? 0;
  }

  get length(): number {
    return this.#queue.length;
  }

  /** True while a key is queued or being processed (delayed keys do not count). */
  get busy(): boolean {
    return this.#queue.length > 0 || this.#active > 0;
  }

  /** Resolves when nothing is queued or processing (delayed keys do not count). */
  idle(): Promise<void> {
    if (this.#queue.length === 0 && this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  stop(): void {
    this.#stopped = true;
    for (const d of this.#delayed.values()) d.timer.cancel();
    this.#delayed.clear();
    this.#queue = [];
    this.#queued.clear();
    this.#dirty.clear();
    this.#checkIdle();
  }

  #pump(): void {
    if (!this.#handler || this.#stopped) return;
    while (this.#active < this.#concurrency && this.#queue.length > 0) {
      const key = this.#queue.shift() as K;
      this.#queued.delete(key);
      this.#processing.add(key);
      this.#active++;
      void this.#process(key);
    }
  }

  async #process(key: K): Promise<void> {
    const handler = this.#handler as (key: K) => Promise<ReconcileResult>;
    let failed = false;
    let result: ReconcileResult = undefined;
    try {
      result = await handler(key);
    } catch (err) {
      failed = true;
      this.#onError?.(key, err);
    }
    this.#processing.delete(key);
    this.#active--;
    if (!this.#stopped) {
      if (failed || (result && result.requeue)) {
        this.addRateLimited(key);
      } else {
        this.forget(key);
        if (result && result.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
      }
      if (this.#dirty.delete(key)) this.add(key);
    }
    this.#pump();
    this.#checkIdle();
  }

  #checkIdle(): void {
    if (this.#queue.length === 0 && this.#active === 0) {
      const w = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const r of w) r();
    }
  }
}
