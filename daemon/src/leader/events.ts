/**
 * The leader's memory of events: what every node and controller published on
 * pifleet/<cluster>/events, aggregated (same object, reason, message and source -> count+1)
 * and bounded (at most maxEvents, none older than ttl). Never written to disk.
 */
import type { Event } from '../api/types.js';
import type { Clock } from '../lib/clock.js';
import type { StoreView } from '../state/store.js';
import { rfc3339 } from '../lib/time.js';

export interface EventStoreOptions {
  maxEvents?: number;
  ttlMs?: number;
}

export class EventStore {
  #index = new Map<string, { namespace: string; name: string }>();
  readonly #max: number;
  readonly #ttl: number;

  constructor(private readonly store: StoreView, private readonly clock: Clock, opts: EventStoreOptions = {}) {
    this.#max = opts.maxEvents ?? 1000;
    this.#ttl = opts.ttlMs ?? 60 * 60 * 1000;
  }

  add(ev: unknown): void {
    const e = ev as Event;
    if (!e || e.kind !== 'Event' || !e.metadata?.name || !e.involvedObject?.name || typeof e.reason !== 'string') return;
    const ns = e.metadata.namespace ?? e.involvedObject.namespace ?? 'default';
    const aggKey = [ns, e.involvedObject.kind, e.involvedObject.name, e.involvedObject.uid ?? '', e.reason, e.message ?? '', e.source?.component ?? '', e.source?.host ?? ''].join('\u0000');
    const prevRef = this.#index.get(aggKey);
    const prev = prevRef ? this.store.get<Event>('Event', prevRef.namespace, prevRef.name) : undefined;
    if (prev) {
      this.store.putMemory({ ...prev, count: (prev.count ?? 1) + 1, lastTimestamp: e.lastTimestamp ?? rfc3339(this.clock.now()) } as Event);
    } else {
      const obj = { ...e, metadata: { ...e.metadata, namespace: ns } } as Event;
      this.store.putMemory(obj);
      this.#index.set(aggKey, { namespace: ns, name: obj.metadata.name });
    }
    this.#prune();
  }

  #prune(): void {
    const events = this.store.list<Event>('Event');
    const cutoff = this.clock.now() - this.#ttl;
    const stale = events.filter((e) => Date.parse(e.lastTimestamp ?? e.metadata.creationTimestamp ?? '') < cutoff);
    let over = events.length - stale.length - this.#max;
    const victims = [...stale];
    if (over > 0) {
      const live = events.filter((e) => !stale.includes(e)).sort((a, b) => (a.lastTimestamp ?? '').localeCompare(b.lastTimestamp ?? ''));
      victims.push(...live.slice(0, over));
      over = 0;
    }
    if (victims.length === 0) return;
    const gone = new Set(victims.map((e) => `${e.metadata.namespace}/${e.metadata.name}`));
    for (const e of victims) this.store.deleteMemory('Event', e.metadata.namespace, e.metadata.name);
    for (const [k, ref] of this.#index) if (gone.has(`${ref.namespace}/${ref.name}`)) this.#index.delete(k);
  }
}
