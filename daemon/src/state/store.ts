/**
 * The desired-state store: every object by kind/namespace/name, revisioned and watchable.
 *
 * - commit() is the only way to change persisted state: it checks preconditions against the
 *   current state, appends one log entry (fdatasync), then applies it in memory and notifies
 *   watchers. A transaction applies completely or not at all. A commit that changes nothing
 *   writes nothing.
 * - Pod status, Nodes and Events are actual state: they live in memory only (rebuilt from the
 *   nodes' reports after a restart) and never touch the disk.
 * - Secret data is sealed (AES-GCM) before it reaches the disk.
 * - Objects handed out are deep-frozen: clone before changing.
 * - A resourceVersion is the index of the log entry that last changed the object, so it is the
 *   same on every member once the log is replicated.
 */
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Random } from '../lib/random.js';
import type { KObject } from '../api/types.js';
import { kindInfo, objectKey } from '../api/kinds.js';
import { DiskLog, type Entry, type Op } from './log.js';
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
  /** Replace status only (persisted kinds; Pod status goes through setPodStatus). */
  | { type: 'status'; kind: string; namespace?: string; name: string; status: unknown }
  /** Remove; with uid set, only that incarnation. */
  | { type: 'delete'; kind: string; namespace?: string; name: string; uid?: string };

export type StoreErrorReason = 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Invalid';
export class StoreError extends Error {
  constructor(readonly reason: StoreErrorReason, message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

/** Kinds whose objects are never written to disk. */
const MEMORY_KINDS = new Set(['Node', 'Event']);

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
  #revision = 0;
  #term = 1;
  #chain: Promise<unknown> = Promise.resolve();
  #log: DiskLog;
  #snapshotting = false;

  private constructor(private readonly opts: StoreOptions, log: DiskLog) {
    this.#log = log;
  }

  static async open(opts: StoreOptions): Promise<Store> {
    const { log, snapshot, entries } = await DiskLog.open(opts.dir, opts.logger);
    const store = new Store(opts, log);
    if (snapshot) {
      for (const raw of snapshot.objects) store.#put(store.#decode(raw));
      store.#revision = snapshot.index;
      store.#term = Math.max(store.#term, snapshot.term);
    }
    for (const e of entries) store.#applyEntry(e, false);
    opts.logger.info({ revision: store.#revision, objects: store.#objects.size, logEntries: entries.length }, 'desired state loaded');
    return store;
  }

  get revision(): number { return this.#revision; }
  get term(): number { return this.#term; }
  set term(t: number) { this.#term = t; }
  /** Bytes written to the state directory by this process (log and snapshots). */
  get bytesWritten(): number { return this.#log.bytesWritten; }

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
    const term = opts.term ?? this.#term;
    if (term < this.#term) throw new StoreError('Conflict', `write from stale term ${term} refused (current term ${this.#term})`);
    const index = this.#revision + 1;
    const rv = String(index);
    const now = rfc3339(this.opts.clock.now());
    // Stage against a view of current state, so later mutations see earlier ones.
    const staged = new Map<string, KObject | undefined>();
    const current = (key: string): KObject | undefined => (staged.has(key) ? staged.get(key) : this.#objects.get(key));
    const results: Array<KObject | undefined> = [];
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
            resourceVersion: rv,
          };
          delete (obj.metadata as { deletionTimestamp?: string }).deletionTimestamp;
          staged.set(key, obj);
          results.push(obj);
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
          if (deepEqual(obj, cur)) { results.push(cur); break; }
          obj.metadata = { ...obj.metadata, resourceVersion: rv };
          staged.set(key, obj);
          results.push(obj);
          break;
        }
        case 'status': {
          const key = objectKey(m.kind, m.namespace, m.name);
          const cur = current(key);
          if (!cur) throw new StoreError('NotFound', `${m.kind.toLowerCase()} "${m.name}" not found`);
          if (deepEqual(cur.status, m.status)) { results.push(cur); break; }
          const obj = { ...structuredClone(cur), status: structuredClone(m.status) } as KObject;
          obj.metadata = { ...obj.metadata, resourceVersion: rv };
          staged.set(key, obj);
          results.push(obj);
          break;
        }
        case 'delete': {
          const key = objectKey(m.kind, m.namespace, m.name);
          const cur = current(key);
          if (!cur) throw new StoreError('NotFound', `${m.kind.toLowerCase()} "${m.name}" not found`);
          if (m.uid && cur.metadata.uid !== m.uid) throw new StoreError('Conflict', `${m.kind.toLowerCase()} "${m.name}" was replaced (uid precondition failed)`);
          staged.set(key, undefined);
          results.push(undefined);
          break;
        }
      }
    }
    const ops: Op[] = [];
    const memoryChanges: Array<[string, KObject | undefined]> = [];
    for (const [key, obj] of staged) {
      const kind = key.slice(0, key.indexOf('/'));
      if (MEMORY_KINDS.has(kind)) { memoryChanges.push([key, obj]); continue; }
      ops.push(obj ? { op: 'put', obj: this.#encode(obj) } : { op: 'del', key });
    }
    if (ops.length > 0) {
      const entry: Entry = { index, term, time: this.opts.clock.now(), ops };
      await this.#log.append([entry]);
      this.#applyStaged(staged, index, true, true);
      void this.#maybeSnapshot();
    } else if (memoryChanges.length > 0) {
      this.#applyStaged(staged, this.#revision, false, true);
    }
    return results;
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
    const key = objectKey('Pod', namespace, name);
    const cur = this.#objects.get(key);
    if (!cur || (uid && cur.metadata.uid !== uid)) return false;
    if (deepEqual(cur.status, status)) return false;
    const obj = deepFreeze({ ...cur, status: structuredClone(status) } as KObject);
    this.#put(obj);
    this.#emit({ type: 'MODIFIED', obj, old: cur, revision: this.#revision });
    return true;
  }

  /** Apply an entry that was committed elsewhere (replication) or loaded from disk. */
  #applyEntry(e: Entry, notify: boolean): void {
    const staged = new Map<string, KObject | undefined>();
    for (const op of e.ops) {
      if (op.op === 'put') {
        const obj = this.#decode(op.obj);
        staged.set(keyOf(obj), obj);
      } else {
        staged.set(op.key, undefined);
      }
    }
    this.#applyStaged(staged, e.index, true, notify);
    this.#term = Math.max(this.#term, e.term);
  }

  #applyStaged(staged: Map<string, KObject | undefined>, revision: number, bump: boolean, notify: boolean): void {
    if (bump) this.#revision = revision;
    const events: WatchEvent[] = [];
    for (const [key, obj] of staged) {
      const old = this.#objects.get(key);
      if (obj) {
        // Pod status is actual state: a spec change does not wipe what the node reported.
        let next = obj;
        if (obj.kind === 'Pod' && old && old.metadata.uid === obj.metadata.uid && old.status !== undefined && obj.status === undefined) {
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
    if (obj.kind === 'Pod' && obj.status !== undefined) {
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
    return raw as unknown as KObject;
  }

  async #maybeSnapshot(): Promise<void> {
    const every = this.opts.snapshotEvery ?? 1000;
    if (this.#snapshotting || this.#log.entriesSinceSnapshot < every) return;
    this.#snapshotting = true;
    try {
      await (this.#chain = this.#chain.then(async () => {
        const objects: Record<string, unknown>[] = [];
        for (const o of this.#objects.values()) if (!MEMORY_KINDS.has(o.kind)) objects.push(this.#encode(o));
        await this.#log.writeSnapshot({ index: this.#revision, term: this.#term, objects });
      }).catch((err) => this.opts.logger.error({ err }, 'snapshot failed; the log keeps growing until the next try')));
    } finally {
      this.#snapshotting = false;
    }
  }

  async close(): Promise<void> {
    await this.#chain.catch(() => undefined);
    await this.#log.close();
  }
}

/** True when the object's kind is namespaced (per the kinds table). */
export function isNamespaced(kind: string): boolean {
  return kindInfo(kind)?.namespaced ?? true;
}
