/**
 * Controllers in the style of controller-runtime: each watches the store, turns events into
 * keys on its own de-duplicating work queue, and reconciles one key at a time by comparing
 * desired with observed state (level-triggered: the event only says "look again").
 * The manager runs them while this node is the leader and stops them when it is not.
 */
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Random } from '../lib/random.js';
import { WorkQueue, type ReconcileResult } from '../lib/workqueue.js';
import type { StoreView, WatchEvent } from '../state/store.js';
import type { EventRecorder } from '../events/recorder.js';

export interface ControllerContext {
  store: StoreView;
  clock: Clock;
  random: Random;
  logger: Logger;
  events: EventRecorder;
}

export interface Controller {
  readonly name: string;
  /** Keys to look at again after a store change. */
  keysFor(ev: WatchEvent): Iterable<string>;
  /** Keys to reconcile when the controller starts (a full resync). */
  initialKeys(): Iterable<string>;
  reconcile(key: string): Promise<ReconcileResult>;
  start?(queue: WorkQueue): void;
  stop?(): void;
}

export class ControllerManager {
  #queues = new Map<string, WorkQueue>();
  #unwatch: (() => void) | undefined;

  constructor(private readonly ctx: ControllerContext, private readonly controllers: Controller[]) {}

  get running(): boolean {
    return this.#unwatch !== undefined;
  }

  start(): void {
    if (this.#unwatch) return;
    for (const c of this.controllers) {
      const q = new WorkQueue({ clock: this.ctx.clock, baseDelayMs: 200, maxDelayMs: 60_000 });
      const log = this.ctx.logger.child({ controller: c.name });
      q.run((key) => c.reconcile(key), (key, err) => log.warn({ key, err: errMessage(err), failures: q.failures(key) }, 'reconcile failed; will retry with backoff'));
      this.#queues.set(c.name, q);
      c.start?.(q);
      for (const k of c.initialKeys()) q.add(k);
    }
    this.#unwatch = this.ctx.store.watch((ev) => {
      for (const c of this.controllers) {
        const q = this.#queues.get(c.name);
        if (!q) continue;
        for (const k of c.keysFor(ev)) q.add(k);
      }
    });
  }

  stop(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
    for (const c of this.controllers) c.stop?.();
    for (const q of this.#queues.values()) q.stop();
    this.#queues.clear();
  }

  /** Enqueue a key on one controller (e.g. from a timer or an outside trigger). */
  enqueue(controller: string, key: string): void {
    this.#queues.get(controller)?.add(key);
  }

  /**
   * Resolves when every queue is empty and no reconcile is running, all at the same moment
   * (tests). One controller's write can wake another, so a queue that was idle a moment ago
   * may be busy again: look until all are quiet together (bounded).
   */
  async idle(): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      await Promise.all([...this.#queues.values()].map((q) => q.idle()));
      await new Promise((r) => setImmediate(r));
      if ([...this.#queues.values()].every((q) => !q.busy)) return;
    }
    throw new Error('controllers did not become idle after 1000 rounds: some reconcile keeps waking another');
  }
}

export function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
