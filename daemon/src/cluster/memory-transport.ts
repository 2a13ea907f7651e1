/**
 * An in-memory network of Transports for tests: deterministic delivery on a simulated clock,
 * with message loss, delay, reordering, partitions into groups, one-way blocks between two
 * members and isolated members. Randomness comes from the injected `random`, time from the
 * injected Clock (lib/clock.ts's FakeClock, or SimClock below for long simulations), so a
 * seed replays the same run.
 *
 * Like the TCP peer channel, it never retries and never throws from send(); messages are
 * JSON-copied by default, as they would be on the wire.
 */
import type { Clock, TimerHandle } from '../lib/clock.js';
import type { Transport } from './transport.js';

interface SimTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A simulated clock with a binary heap of timers: time moves only when runNext(), runUntil()
 * or advance() is called; timers fire in (time, creation) order. Implements lib/clock.ts's Clock.
 */
export class SimClock implements Clock {
  #now: number;
  #seq = 0;
  #heap: SimTimer[] = [];
  #live = 0;
  #fired = 0;

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  monotonic(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t: SimTimer = { at: this.#now + Math.max(0, Number.isFinite(ms) ? ms : 0), seq: this.#seq++, fn, cancelled: false };
    this.#push(t);
    this.#live++;
    return {
      cancel: () => {
        if (!t.cancelled) {
          t.cancelled = true;
          this.#live--;
        }
      },
    };
  }

  /** Timers not yet fired or cancelled. */
  pending(): number {
    return this.#live;
  }

  /** Timers fired so far. */
  get fired(): number {
    return this.#fired;
  }

  /** When the next timer fires (undefined when none). */
  nextAt(): number | undefined {
    this.#dropCancelled();
    return this.#heap[0]?.at;
  }

  /** Fire the next timer if it is due at or before `until`; false when there is none. */
  runNext(until = Infinity): boolean {
    this.#dropCancelled();
    const t = this.#heap[0];
    if (!t || t.at > until) return false;
    this.#pop();
    this.#live--;
    t.cancelled = true;
    if (t.at > this.#now) this.#now = t.at;
    this.#fired++;
    t.fn();
    return true;
  }

  /**
   * Fire every timer due up to `time` (timers they create included), then set the time to it.
   * At most maxTimers fire (a guard against livelocks); returns how many fired.
   */
  runUntil(time: number, maxTimers = 10_000_000): number {
    let n = 0;
    while (n < maxTimers && this.runNext(time)) n++;
    if (n >= maxTimers) throw new Error(`SimClock: more than ${maxTimers} timers up to ${time} (livelock?)`);
    if (time > this.#now) this.#now = time;
    return n;
  }

  advance(ms: number, maxTimers?: number): number {
    return this.runUntil(this.#now + ms, maxTimers);
  }

  #dropCancelled(): void {
    while (this.#heap.length && this.#heap[0].cancelled) this.#pop();
  }

  static #less(a: SimTimer, b: SimTimer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(t: SimTimer): void {
    const h = this.#heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!SimClock.#less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop() as SimTimer;
    if (!h.length) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && SimClock.#less(h[l], h[m])) m = l;
      if (r < h.length && SimClock.#less(h[r], h[m])) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}

export interface LinkFaults {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Every message takes a delay uniform in [minDelayMs, maxDelayMs] (different delays reorder). */
  minDelayMs: number;
  maxDelayMs: number;
  /** Probability that a message is held back by up to reorderDelayMs more. */
  reorderRate: number;
  reorderDelayMs: number;
}

export interface MemoryNetworkOptions {
  clock: Clock;
  random: () => number;
  faults?: Partial<LinkFaults>;
  /** Deliver a JSON copy of every message, as the TCP channel would (default true). */
  serialize?: boolean;
}

export interface NetworkStats {
  sent: number;
  delivered: number;
  /** Lost to dropRate. */
  dropped: number;
  /** Refused by a partition, block or isolation (at send or at delivery time). */
  cut: number;
  /** Addressed to an unknown or closed member, or not serializable. */
  unknown: number;
}

const DEFAULT_FAULTS: LinkFaults = { dropRate: 0, minDelayMs: 1, maxDelayMs: 1, reorderRate: 0, reorderDelayMs: 0 };

export class MemoryNetwork<M = unknown> {
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #serialize: boolean;
  #faults: LinkFaults;
  #endpoints = new Map<string, MemoryTransport<M>>();
  #group = new Map<string, number>();
  #isolated = new Set<string>();
  #blocked = new Set<string>();
  #inFlight = 0;
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, cut: 0, unknown: 0 };

  constructor(opts: MemoryNetworkOptions) {
    this.#clock = opts.clock;
    this.#random = opts.random;
    this.#serialize = opts.serialize ?? true;
    this.#faults = { ...DEFAULT_FAULTS, ...opts.faults };
  }

  /** The Transport of member `id` (a new one replaces a closed or older one: a restart). */
  transport(id: string): MemoryTransport<M> {
    const t = new MemoryTransport<M>(this, id);
    this.#endpoints.set(id, t);
    return t;
  }

  get faults(): LinkFaults {
    return { ...this.#faults };
  }

  setFaults(f: Partial<LinkFaults>): void {
    this.#faults = { ...this.#faults, ...f };
  }

  /**
   * Split the network: members of different groups cannot reach each other; members not
   * listed form one more group together. Replaces the previous partition.
   */
  partition(...groups: string[][]): void {
    this.#group.clear();
    groups.forEach((g, i) => g.forEach((id) => this.#group.set(id, i + 1)));
  }

  /** Messages from `from` to `to` are lost (one way). */
  block(from: string, to: string): void {
    this.#blocked.add(`${from}\u0000${to}`);
  }

  unblock(from: string, to: string): void {
    this.#blocked.delete(`${from}\u0000${to}`);
  }

  /** Cut `id` off from everyone (a pulled cable). */
  isolate(id: string): void {
    this.#isolated.add(id);
  }

  rejoin(id: string): void {
    this.#isolated.delete(id);
  }

  /** Undo partitions, blocks and isolation (the link faults stay; setFaults() changes them). */
  heal(): void {
    this.#group.clear();
    this.#isolated.clear();
    this.#blocked.clear();
  }

  reachable(from: string, to: string): boolean {
    return !this.#isolated.has(from) && !this.#isolated.has(to) && (this.#group.get(from) ?? 0) === (this.#group.get(to) ?? 0) && !this.#blocked.has(`${from}\u0000${to}`);
  }

  /** Messages sent and not yet delivered or lost. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** @internal MemoryTransport.send */
  deliver(from: string, to: string, msg: M): void {
    this.stats.sent++;
    if (!this.#endpoints.get(to)?.open) {
      this.stats.unknown++;
      return;
    }
    if (!this.reachable(from, to)) {
      this.stats.cut++;
      return;
    }
    const f = this.#faults;
    if (f.dropRate > 0 && this.#random() < f.dropRate) {
      this.stats.dropped++;
      return;
    }
    let delay = f.minDelayMs + (f.maxDelayMs > f.minDelayMs ? Math.floor(this.#random() * (f.maxDelayMs - f.minDelayMs + 1)) : 0);
    if (f.reorderRate > 0 && this.#random() < f.reorderRate) delay += Math.floor(this.#random() * (f.reorderDelayMs + 1));
    let payload = msg;
    if (this.#serialize) {
      try {
        payload = JSON.parse(JSON.stringify(msg)) as M;
      } catch {
        this.stats.unknown++;
        return;
      }
    }
    this.#inFlight++;
    this.#clock.setTimeout(() => {
      this.#inFlight--;
      const dest = this.#endpoints.get(to);
      if (!dest?.open) {
        this.stats.unknown++;
        return;
      }
      if (!this.reachable(from, to)) {
        this.stats.cut++;
        return;
      }
      this.stats.delivered++;
      dest.receive(from, payload);
    }, delay);
  }

  /** @internal MemoryTransport.close */
  detach(t: MemoryTransport<M>): void {
    if (this.#endpoints.get(t.self) === t) this.#endpoints.delete(t.self);
  }
}

export class MemoryTransport<M = unknown> implements Transport<M> {
  #handler: ((from: string, msg: M) => void) | undefined;
  #open = true;

  constructor(private readonly network: MemoryNetwork<M>, readonly self: string) {}

  get open(): boolean {
    return this.#open;
  }

  send(to: string, msg: M): void {
    if (this.#open) this.network.deliver(this.self, to, msg);
  }

  onMessage(handler: (from: string, msg: M) => void): void {
    if (this.#handler) throw new Error(`MemoryTransport ${this.self}: onMessage handler already set`);
    this.#handler = handler;
  }

  async close(): Promise<void> {
    this.closeNow();
  }

  /** close() without the promise (for synchronous simulations). */
  closeNow(): void {
    this.#open = false;
    this.network.detach(this);
  }

  /** @internal MemoryNetwork delivery */
  receive(from: string, msg: M): void {
    if (this.#open) this.#handler?.(from, msg);
  }
}
