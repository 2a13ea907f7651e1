/**
 * The desired-state store: every object by kind/namespace/name, revisioned and watchable.
 *
 * - commit() is the only way to change persisted state: it stages the mutations against the
 *   current state (checking preconditions), proposes the resulting operations to the log through
 *   a Replicator, and resolves once that entry is committed (durable on a majority of the fleet,
 *   or on the one disk of a standalone store) and applied here. Entries are applied in index
 *   order by apply(), on the leader and on every follower alike; watchers are notified then. A
 *   transaction applies completely or not at all. A commit that changes nothing writes nothing.
 * - Pod status, Nodes and Events are actual state: they live in memory only (rebuilt from the
 *   nodes' reports after a restart) and never touch the disk.
 * - Secret data is sealed (AES-GCM) before it reaches the disk.
 * - Objects handed out are deep-frozen: clone before changing.
 * - A resourceVersion is the index of the log entry that last changed the object (set when the
 *   entry is applied), so it is the same on every member once the log is replicated.
 * - Store-level facts (the lineage of this desired-state history, a prune request after a
 *   repair) travel in the log as meta operations and in snapshots.
 */
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Random } from '../lib/random.js';
import type { KObject } from '../api/types.js';
import { kindInfo, objectKey } from '../api/kinds.js';
import { DiskLog, type Entry, type Op, type Snapshot } from './log.js';
import type { SecretBox } from './secretbox.js';
import { rfc3339 } from '../lib/time.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface WatchEvent {
  type: WatchEventType;
  obj: KObject;
  old?: KObject;
  /** The revision after this change (for actual-state changes: the current revision). */
  revision: number;
}

export type Mutation =
  /** Create; fails with AlreadyExists. uid, creationTimestamp, generation and resourceVersion are set here. */
  | { type: 'create'; obj: KObject }
  /** Replace metadata and spec (status kept); generation rises when anything but metadata/status changed. */
  | { type: 'update'; obj: KObject; resourceVersion?: string }
  /** Replace status only (persisted kinds; Pod and Node status go through setPodStatus/setNodeStatus). */
  | { type: 'status'; kind: string; namespace?: string; name: string; status: unknown }
  /** Remove; with uid set, only that incarnation. */
  | { type: 'delete'; kind: string; namespace?: string; name: string; uid?: string }
  /** Set a store-level fact (e.g. the lineage). */
  | { type: 'meta'; key: string; value: unknown };

/**
 * Where committed entries come from: the fleet's replicated log (cluster/replication.ts) or,
 * for a standalone store, the local disk (LocalReplicator below).
 */
export interface Replicator {
  /** The term writes are fenced with when the caller gives none. */
  readonly term: number;
  /**
   * Append one ops entry in `term`; resolves with its index once it is committed and applied to
   * the store (Store.apply ran for it). Rejects (nothing applied) when this member cannot
   * commit in that term: not the leader, a stale term, no quorum, or the disk refused.
   */
  propose(ops: Op[], term: number): Promise<number>;
}

export type StoreErrorReason = 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Invalid';
export class StoreError extends Error {
  constructor(readonly reason: StoreErrorReason, message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

/** Kinds whose objects are never written to disk. */
const MEMORY_KINDS = new Set(['Event']);
/**
 * Kinds whose spec is desired state (persisted, replicated) but whose status is actual state:
 * what the node reports, kept in memory only and rebuilt from fresh reports after a failover.
 */
const STATUS_IN_MEMORY = new Set(['Pod', 'Node']);

export interface StoreOptions {
  dir: string;
  clock: Clock;
  random: Random;
  logger: Logger;
  secretBox: SecretBox;
  snapshotEvery?: number;
}

export interface CommitOptions {
  /** The leader term the write belongs to (fencing); default the store's current term. */
  term?: number;
}

type Listener = (ev: WatchEvent) => void;

export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b as object).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

function keyOf(obj: KObject): string {
  return objectKey(obj.kind, obj.metadata.namespace, obj.metadata.name);
}

function withoutMetaStatus(obj: KObject): Record<string, unknown> {
  const { metadata: _m, status: _s, ...rest } = obj;
  return rest;
}

export class Store {
  #objects = new Map<string, KObject>();
  #byKind = new Map<string, Map<string, KObject>>();
  #listeners = new Set<Listener>();
  #metaListeners = new Set<(key: string, value: unknown) => void>();
  #revision = 0;
  #term = 0;
  #meta: Record<string, unknown> = {};
  #chain: Promise<unknown> = Promise.resolve();
  #replicator: Replicator | undefined;
  #local: LocalReplicator | undefined;

  private constructor(private readonly opts: StoreOptions) {}

  /** A state machine without a log: entries come through apply() from the replicator attached later. */
  static create(opts: StoreOptions, snapshot?: Snapshot): Store {
    const store = new Store(opts);
    if (snapshot) store.loadSnapshot(snapshot);
    return store;
  }

  /** A standalone store on its own disk log (tests, tools): every commit is durable locally at once. */
  static async open(opts: StoreOptions): Promise<Store> {
    const { log, snapshot, entries } = await DiskLog.open(opts.dir, { logger: opts.logger, clock: opts.clock });
    const store = Store.create(opts, snapshot);
    for (const e of entries) store.apply(e);
    store.#local = new LocalReplicator(store, log, opts);
    store.#replicator = store.#local;
    opts.logger.info({ revision: store.#revision, objects: store.#objects.size, logEntries: entries.length }, 'desired state loaded');
    return store;
  }

  attach(replicator: Replicator): void {
    this.#replicator = replicator;
  }

  /** Replace the whole state with a snapshot (start-up, or a leader's snapshot installed). */
  loadSnapshot(snap: Snapshot): void {
    const old = this.#objects;
    this.#objects = new Map();
    this.#byKind.clear();
    for (const raw of snap.objects) {
      const obj = this.#decode(raw);
      // actual state (a Pod's or Node's status, Events) survives a snapshot of the same incarnation
      const prev = old.get(keyOf(obj));
      const next = STATUS_IN_MEMORY.has(obj.kind) && prev && prev.metadata.uid === obj.metadata.uid && prev.status !== undefined && obj.status === undefined
        ? { ...obj, status: prev.status } as KObject : obj;
      this.#put(deepFreeze(next));
    }
    for (const [k, o] of old) if (MEMORY_KINDS.has(o.kind) && !this.#objects.has(k)) this.#put(o);
    this.#revision = snap.index;
    this.#term = Math.max(this.#term, snap.term);
    this.#meta = { ...(snap.meta ?? {}) };
    // watchers see the difference (a follower that was far behind): linear in the objects
    for (const [k, o] of old) {
      const now = this.#objects.get(k);
      if (!now) this.#emit({ type: 'DELETED', obj: o, revision: this.#revision });
      else if (now !== o && !deepEqual(now, o)) this.#emit({ type: 'MODIFIED', obj: now, old: o, revision: this.#revision });
    }
    for (const [k, o] of this.#objects) if (!old.has(k)) this.#emit({ type: 'ADDED', obj: o, revision: this.#revision });
  }

  /** The persisted state as of the applied index, for a snapshot. */
  snapshot(): Snapshot {
    const objects: Record<string, unknown>[] = [];
    for (const o of this.#objects.values()) if (!MEMORY_KINDS.has(o.kind)) objects.push(this.#encode(o));
    return { index: this.#revision, term: this.#term, objects, meta: { ...this.#meta } };
  }

  /**
   * Nothing but what a new fleet makes by itself: no object but the default Namespace and Node
   * registrations (a board whose store is pristine may give it up to join another fleet).
   */
  isPristine(): boolean {
    for (const o of this.#objects.values()) {
      if (o.kind === 'Node' || o.kind === 'Event') continue;
      if (o.kind === 'Namespace' && o.metadata.name === 'default') continue;
      return false;
    }
    return true;
  }

  get revision(): number { return this.#revision; }
  get term(): number { return this.#replicator?.term ?? this.#term; }
  /** A standalone store's term (the one-member fleet raises it on every start). */
  set term(t: number) {
    if (this.#local) this.#local.term = t;
    this.#term = Math.max(this.#term, t);
  }
  /** The identity of this desired-state history (undefined for a store that never had one). */
  get lineage(): string | undefined { return typeof this.#meta.lineage === 'string' ? this.#meta.lineage : undefined; }
  /** A store-level fact from the log. */
  meta(key: string): unknown { return this.#meta[key]; }
  /** Bytes written to the state directory by this process (log and snapshots) of a standalone store. */
  get bytesWritten(): number { return this.#local?.log.bytesWritten ?? 0; }
  /** Why a standalone store refuses writes, when it does. */
  get readOnly(): string | undefined { return this.#local?.log.readOnly; }

  get<T extends KObject = KObject>(kind: string, namespace: string | undefined, name: string): T | undefined {
    return this.#objects.get(objectKey(kind, namespace, name)) as T | undefined;
  }

  getByKey<T extends KObject = KObject>(key: string): T | undefined {
    return this.#objects.get(key) as T | undefined;
  }

  /** Objects of a kind, optionally in one namespace, sorted by namespace and name. */
  list<T extends KObject = KObject>(kind: string, namespace?: string): T[] {
    const m = this.#byKind.get(kind);
    if (!m) return [];
    const out: T[] = [];
    for (const o of m.values()) if (namespace === undefined || o.metadata.namespace === namespace) out.push(o as T);
    return out.sort((a, b) => (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || a.metadata.name.localeCompare(b.metadata.name));
  }

  /** Objects whose ownerReferences name the given uid. */
  dependents(uid: string): KObject[] {
    const out: KObject[] = [];
    for (const o of this.#objects.values()) if (o.metadata.ownerReferences?.some((r) => r.uid === uid)) out.push(o);
    return out;
  }

  watch(fn: Listener): () => void {
    this.#listeners.add(fn);
    return () => { this.#listeners.delete(fn); };
  }

  /** Store-level facts changing (a new lineage, a prune request). */
  watchMeta(fn: (key: string, value: unknown) => void): () => void {
    this.#metaListeners.add(fn);
    return () => { this.#metaListeners.delete(fn); };
  }

  /**
   * Apply mutations atomically and durably. Resolves with the objects as stored (undefined
   * for deletes) once the entry is on disk; rejects with StoreError (nothing changed) or a
   * StoreIOError (the disk refused: nothing changed).
   */
  commit(mutations: Mutation[], opts: CommitOptions = {}): Promise<Array<KObject | undefined>> {
    const run = this.#chain.then(() => this.#commit(mutations, opts));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #commit(mutations: Mutation[], opts: CommitOptions): Promise<Array<KObject | undefined>> {
    const replicator = this.#replicator;
    if (!replicator) throw new StoreError('Conflict', 'this store takes no writes (no log attached)');
    const term = opts.term ?? replicator.term;
    if (term < replicator.term) throw new StoreError('Conflict', `write from stale term ${term} refused (current term ${replicator.term})`);
    const now = rfc3339(this.opts.clock.now());
    // Stage against a view of current state, so later mutations see earlier ones.
    const staged = new Map<string, KObject | undefined>();
    const meta: Op[] = [];
    const current = (key: string): KObject | undefined => (staged.has(key) ? staged.get(key) : this.#objects.get(key));
    /** Per mutation: the key whose applied object is the result, or the unchanged object itself. */
    const results: Array<{ key: string } | { same: KObject | undefined }> = [];
    for (const m of mutations) {
      switch (m.type) {
        case 'create': {
          const key = keyOf(m.obj);
          if (current(key)) throw new StoreError('AlreadyExists', `${m.obj.kind.toLowerCase()} "${m.obj.metadata.name}" already exists`);
          const obj = structuredClone(m.obj) as KObject;
          obj.metadata = {
            ...obj.metadata,
            uid: obj.metadata.uid ?? this.opts.random.uuid(),
            creationTimestamp: now,
            generation: 1,
          };
          delete (obj.metadata as { deletionTimestamp?: string }).deletionTimestamp;
          delete (obj.metadata as { resourceVersion?: string }).resourceVersion;
          staged.set(key, obj);
          results.push({ key });
          break;
        }
        case 'update': {
          const key = keyOf(m.obj);
          const cur = current(key);
          if (!cur) throw new StoreError('NotFound', `${m.obj.kind.toLowerCase()} "${m.obj.metadata.name}" not found`);
          if (m.resourceVersion !== undefined && m.resourceVersion !== cur.metadata.resourceVersion) {
            throw new StoreError('Conflict', `the object has been modified (resourceVersion ${m.resourceVersion}, now ${cur.metadata.resourceVersion}); please apply your changes to the latest version and try again`);
          }
          const obj = structuredClone(m.obj) as KObject;
          const specChanged = !deepEqual(withoutMetaStatus(obj), withoutMetaStatus(cur));
          obj.metadata = {
            ...obj.metadata,
            uid: cur.metadata.uid,
            creationTimestamp: cur.metadata.creationTimestamp,
            generation: (cur.metadata.generation ?? 1) + (specChanged ? 1 : 0),
            resourceVersion: cur.metadata.resourceVersion,
            // once set, a deletion cannot be taken back (as in Kubernetes)
            ...(cur.metadata.deletionTimestamp ? { deletionTimestamp: cur.metadata.deletionTimestamp } : {}),
          };
          if (cur.status !== undefined) obj.status = structuredClone(cur.status);
          else delete obj.status;
          if (deepEqual(obj, cur)) { results.push({ same: cur }); break; }
          staged.set(key, obj);
          results.push({ key });
          break;
        }
        case 'status': {
          const key = objectKey(m.kind, m.namespace, m.name);
          const cur = current(key);
          if (!cur) throw new StoreError('NotFound', `${m.kind.toLowerCase()} "${m.name}" not found`);
          if (deepEqual(cur.status, m.status)) { results.push({ same: cur }); break; }
          const obj = { ...structuredClone(cur), status: structuredClone(m.status) } as KObject;
          staged.set(key, obj);
          results.push({ key });
          break;
        }
        case 'delete': {
          const key = objectKey(m.kind, m.namespace, m.name);
          const cur = current(key);
          if (!cur) throw new StoreError('NotFound', `${m.kind.toLowerCase()} "${m.name}" not found`);
          if (m.uid && cur.metadata.uid !== m.uid) throw new StoreError('Conflict', `${m.kind.toLowerCase()} "${m.name}" was replaced (uid precondition failed)`);
          staged.set(key, undefined);
          results.push({ same: undefined });
          break;
        }
        case 'meta': {
          if (!deepEqual(this.#meta[m.key], m.value)) meta.push({ op: 'meta', key: m.key, value: structuredClone(m.value) });
          results.push({ same: undefined });
          break;
        }
      }
    }
    const ops: Op[] = [...meta];
    const memoryChanges = new Map<string, KObject | undefined>();
    for (const [key, obj] of staged) {
      const kind = key.slice(0, key.indexOf('/'));
      if (MEMORY_KINDS.has(kind)) { memoryChanges.set(key, obj); continue; }
      ops.push(obj ? { op: 'put', obj: this.#encode(obj) } : { op: 'del', key });
    }
    if (memoryChanges.size > 0) {
      if (ops.length > 0) throw new StoreError('Invalid', 'a transaction cannot mix actual-state kinds (Node, Event) with persisted ones');
      this.#applyStaged(memoryChanges, this.#revision, false, true);
    } else if (ops.length > 0) {
      await replicator.propose(ops, term);
    }
    return results.map((r) => ('key' in r ? this.#objects.get(r.key) : r.same));
  }

  /** Actual state kept in memory (Nodes, Events): create or replace without touching the disk. */
  putMemory(obj: KObject): KObject {
    if (!MEMORY_KINDS.has(obj.kind)) throw new Error(`putMemory is for actual-state kinds only, not ${obj.kind}`);
    const key = keyOf(obj);
    const old = this.#objects.get(key);
    if (old && deepEqual(old, obj)) return old;
    const frozen = deepFreeze(structuredClone(obj));
    this.#put(frozen);
    this.#emit({ type: old ? 'MODIFIED' : 'ADDED', obj: frozen, ...(old ? { old } : {}), revision: this.#revision });
    return frozen;
  }

  deleteMemory(kind: string, namespace: string | undefined, name: string): void {
    const key = objectKey(kind, namespace, name);
    const old = this.#objects.get(key);
    if (!old || !MEMORY_KINDS.has(kind)) return;
    this.#remove(key);
    this.#emit({ type: 'DELETED', obj: old, revision: this.#revision });
  }

  /** A Pod's status as its node reports it: memory only, no revision change, watchers notified. */
  setPodStatus(namespace: string, name: string, status: unknown, uid?: string): boolean {
    return this.#setMemoryStatus(objectKey('Pod', namespace, name), status, uid);
  }

  /** A Node's status (conditions, capacity, addresses...): memory only, like a Pod's. */
  setNodeStatus(name: string, status: unknown, uid?: string): boolean {
    return this.#setMemoryStatus(objectKey('Node', undefined, name), status, uid);
  }

  #setMemoryStatus(key: string, status: unknown, uid?: string): boolean {
    const cur = this.#objects.get(key);
    if (!cur || (uid && cur.metadata.uid !== uid)) return false;
    if (deepEqual(cur.status, status)) return false;
    const obj = deepFreeze({ ...cur, status: structuredClone(status) } as KObject);
    this.#put(obj);
    this.#emit({ type: 'MODIFIED', obj, old: cur, revision: this.#revision });
    return true;
  }

  /**
   * Apply a committed entry (in index order: the replicator's job). No-op and membership entries
   * only move the revision on. A put gets the entry's index as resourceVersion.
   */
  apply(e: Entry): void {
    if (e.index !== this.#revision + 1) throw new Error(`store apply out of order: entry ${e.index} after revision ${this.#revision}`);
    const staged = new Map<string, KObject | undefined>();
    const metaChanged: string[] = [];
    const rv = String(e.index);
    for (const op of (e.type === undefined || e.type === 'ops') ? e.ops ?? [] : []) {
      if (op.op === 'put') {
        const obj = this.#decode(op.obj);
        obj.metadata = { ...obj.metadata, resourceVersion: rv };
        staged.set(keyOf(obj), obj);
      } else if (op.op === 'del') {
        staged.set(op.key, undefined);
      } else if (op.op === 'meta') {
        this.#meta = { ...this.#meta, [op.key]: op.value };
        metaChanged.push(op.key);
      }
    }
    this.#term = Math.max(this.#term, e.term);
    this.#applyStaged(staged, e.index, true, true);
    for (const k of metaChanged) {
      for (const l of this.#metaListeners) {
        try { l(k, this.#meta[k]); } catch (err) { this.opts.logger.error({ err }, 'store meta watcher failed'); }
      }
    }
  }

  #applyStaged(staged: Map<string, KObject | undefined>, revision: number, bump: boolean, notify: boolean): void {
    if (bump) this.#revision = revision;
    const events: WatchEvent[] = [];
    for (const [key, obj] of staged) {
      const old = this.#objects.get(key);
      if (obj) {
        // Pod status is actual state: a spec change does not wipe what the node reported.
        let next = obj;
        if (STATUS_IN_MEMORY.has(obj.kind) && old && old.metadata.uid === obj.metadata.uid && old.status !== undefined && obj.status === undefined) {
          next = { ...obj, status: old.status } as KObject;
        }
        const frozen = deepFreeze(next);
        this.#put(frozen);
        events.push({ type: old ? 'MODIFIED' : 'ADDED', obj: frozen, ...(old ? { old } : {}), revision: this.#revision });
      } else if (old) {
        this.#remove(key);
        events.push({ type: 'DELETED', obj: old, revision: this.#revision });
      }
    }
    if (notify) for (const ev of events) this.#emit(ev);
  }

  #put(obj: KObject): void {
    const key = keyOf(obj);
    this.#objects.set(key, obj);
    let m = this.#byKind.get(obj.kind);
    if (!m) { m = new Map(); this.#byKind.set(obj.kind, m); }
    m.set(key, obj);
  }

  #remove(key: string): void {
    const obj = this.#objects.get(key);
    if (!obj) return;
    this.#objects.delete(key);
    this.#byKind.get(obj.kind)?.delete(key);
  }

  #emit(ev: WatchEvent): void {
    for (const l of this.#listeners) {
      try {
        l(ev);
      } catch (err) {
        this.opts.logger.error({ err }, 'store watcher failed');
      }
    }
  }

  /** The form that reaches the disk: no Pod status, Secret data sealed. */
  #encode(obj: KObject): Record<string, unknown> {
    if (STATUS_IN_MEMORY.has(obj.kind) && obj.status !== undefined) {
      const { status: _s, ...rest } = obj;
      return rest;
    }
    if (obj.kind === 'Secret') {
      const { data, stringData, ...rest } = obj as KObject & { data?: unknown; stringData?: unknown };
      if (data === undefined && stringData === undefined) return rest;
      return { ...rest, sealedData: this.opts.secretBox.seal(JSON.stringify({ data, stringData })) };
    }
    return obj;
  }

  #decode(raw: Record<string, unknown>): KObject {
    if (raw.kind === 'Secret' && typeof raw.sealedData === 'string') {
      const { sealedData, ...rest } = raw;
      let opened: { data?: unknown; stringData?: unknown };
      try {
        opened = JSON.parse(this.opts.secretBox.open(sealedData as string)) as typeof opened;
      } catch (err) {
        const meta = raw.metadata as { namespace?: string; name?: string } | undefined;
        throw new Error(`cannot load Secret ${meta?.namespace}/${meta?.name} from ${this.opts.dir}: ${(err as Error).message}`);
      }
      return { ...rest, ...(opened.data !== undefined ? { data: opened.data } : {}), ...(opened.stringData !== undefined ? { stringData: opened.stringData } : {}) } as KObject;
    }
    return { ...raw } as unknown as KObject;
  }

  async close(): Promise<void> {
    await this.#chain.catch(() => undefined);
    await this.#local?.close();
  }
}

/**
 * The replicator of a standalone store: its own DiskLog, each proposal appended (durably) and
 * applied at once, a snapshot every `snapshotEvery` entries. Terms only grow.
 */
export class LocalReplicator implements Replicator {
  #term: number;
  #chain: Promise<unknown> = Promise.resolve();
  #snapshotting = false;

  constructor(private readonly store: Store, readonly log: DiskLog, private readonly opts: StoreOptions) {
    this.#term = Math.max(1, log.lastTerm);
  }

  get term(): number { return this.#term; }
  set term(t: number) { this.#term = Math.max(this.#term, t); }

  propose(ops: Op[], term: number): Promise<number> {
    const run = this.#chain.then(async () => {
      if (term < this.#term) throw new StoreError('Conflict', `write from stale term ${term} refused (current term ${this.#term})`);
      const entry: Entry = { index: this.log.lastIndex + 1, term, time: this.opts.clock.now(), ops };
      await this.log.append([entry]);
      this.#term = term;
      this.store.apply(entry);
      return entry.index;
    });
    this.#chain = run.catch(() => undefined);
    void run.then(() => this.#maybeSnapshot(), () => undefined);
    return run;
  }

  #maybeSnapshot(): void {
    const every = this.opts.snapshotEvery ?? 1000;
    if (this.#snapshotting || this.log.entriesSinceSnapshot < every) return;
    this.#snapshotting = true;
    this.#chain = this.#chain.then(() => this.log.writeSnapshot(this.store.snapshot()))
      .catch((err) => this.opts.logger.error({ err: (err as Error).message }, 'snapshot failed; the log keeps growing until the next try'))
      .finally(() => { this.#snapshotting = false; });
  }

  async close(): Promise<void> {
    await this.#chain.catch(() => undefined);
    await this.log.close();
  }
}

/** True when the object's kind is namespaced (per the kinds table). */
export function isNamespaced(kind: string): boolean {
  return kindInfo(kind)?.namespaced ?? true;
}

export { fencedStore, type StoreView } from './store-view.js';
