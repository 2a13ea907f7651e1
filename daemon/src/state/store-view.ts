/**
 * The store as the leader's controllers and API server see it: its reads, and writes fenced to
 * one leader term.
 */
import type { KObject } from '../api/types.js';
import type { CommitOptions, Mutation, Store, WatchEvent } from './store.js';

/** What the leader's controllers and API server see of the store: reads, and writes of one term. */
export interface StoreView {
  readonly revision: number;
  readonly term: number;
  readonly lineage: string | undefined;
  meta(key: string): unknown;
  get<T extends KObject = KObject>(kind: string, namespace: string | undefined, name: string): T | undefined;
  getByKey<T extends KObject = KObject>(key: string): T | undefined;
  list<T extends KObject = KObject>(kind: string, namespace?: string): T[];
  dependents(uid: string): KObject[];
  watch(fn: (ev: WatchEvent) => void): () => void;
  watchMeta(fn: (key: string, value: unknown) => void): () => void;
  commit(mutations: Mutation[], opts?: CommitOptions): Promise<Array<KObject | undefined>>;
  putMemory(obj: KObject): KObject;
  deleteMemory(kind: string, namespace: string | undefined, name: string): void;
  setPodStatus(namespace: string, name: string, status: unknown, uid?: string): boolean;
  setNodeStatus(name: string, status: unknown, uid?: string): boolean;
}

/**
 * The store as the leader of `term` may use it: every write carries that term, so a controller
 * still running after its leader was deposed (or re-elected in a later term) is refused.
 */
export function fencedStore(store: Store, term: number): StoreView {
  return {
    get revision() { return store.revision; },
    get term() { return term; },
    get lineage() { return store.lineage; },
    meta: (key) => store.meta(key),
    get: (kind, namespace, name) => store.get(kind, namespace, name),
    getByKey: (key) => store.getByKey(key),
    list: (kind, namespace) => store.list(kind, namespace),
    dependents: (uid) => store.dependents(uid),
    watch: (fn) => store.watch(fn),
    watchMeta: (fn) => store.watchMeta(fn),
    commit: (mutations, opts = {}) => store.commit(mutations, { ...opts, term }),
    putMemory: (obj) => store.putMemory(obj),
    deleteMemory: (kind, namespace, name) => store.deleteMemory(kind, namespace, name),
    setPodStatus: (namespace, name, status, uid) => store.setPodStatus(namespace, name, status, uid),
    setNodeStatus: (name, status, uid) => store.setNodeStatus(name, status, uid),
  } as StoreView;
}
