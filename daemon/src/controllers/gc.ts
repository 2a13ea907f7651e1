/**
 * Garbage collection through ownerReferences (background cascading deletion, as kubectl's
 * default): an object all of whose owners are gone is deleted; pods go gracefully.
 * Deleting with propagationPolicy Orphan strips the owner reference from the dependents
 * instead (done by the API before the owner goes).
 */
import type { KObject, Pod } from '../api/types.js';
import { objectKey } from '../api/kinds.js';
import type { ReconcileResult } from '../lib/workqueue.js';
import type { WatchEvent } from '../state/store.js';
import type { Controller, ControllerContext } from './manager.js';
import { deletePodMutation } from './pods.js';

const keyOf = (o: KObject): string => objectKey(o.kind, o.metadata.namespace, o.metadata.name);

export class GarbageCollector implements Controller {
  readonly name = 'garbage-collector';
  constructor(private readonly ctx: ControllerContext) {}

  *keysFor(ev: WatchEvent): Iterable<string> {
    if (ev.type === 'DELETED' && ev.obj.metadata.uid) {
      for (const dep of this.ctx.store.dependents(ev.obj.metadata.uid)) yield keyOf(dep);
    }
    // deleted and re-created in one transaction: the store reports one MODIFIED with a new uid
    if (ev.type === 'MODIFIED' && ev.old?.metadata.uid && ev.old.metadata.uid !== ev.obj.metadata.uid) {
      for (const dep of this.ctx.store.dependents(ev.old.metadata.uid)) yield keyOf(dep);
    }
    // an object created with an owner that is already gone
    if (ev.type === 'ADDED' && ev.obj.metadata.ownerReferences?.length) yield keyOf(ev.obj);
  }

  *initialKeys(): Iterable<string> {
    for (const kind of ['Pod', 'ReplicaSet', 'Job', 'ConfigMap', 'Secret', 'Service', 'Deployment', 'DaemonSet', 'CronJob']) {
      for (const o of this.ctx.store.list(kind)) if (o.metadata.ownerReferences?.length) yield keyOf(o);
    }
  }

  ownerExists(obj: KObject, ref: { kind: string; name: string; uid: string }): boolean {
    const owner = this.ctx.store.get(ref.kind, obj.metadata.namespace, ref.name)
      ?? this.ctx.store.get(ref.kind, undefined, ref.name); // cluster-scoped owner (Node)
    return owner?.metadata.uid === ref.uid;
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { store, clock } = this.ctx;
    const obj = store.getByKey(key);
    if (!obj || !obj.metadata.ownerReferences?.length) return;
    if (obj.metadata.ownerReferences.some((r) => this.ownerExists(obj, r))) return;
    if (obj.kind === 'Pod') {
      if (obj.metadata.deletionTimestamp) return;
      await store.commit([deletePodMutation(obj as Pod, clock.now())]);
    } else {
      await store.commit([{ type: 'delete', kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name, uid: obj.metadata.uid as string }]);
    }
  }
}

/** Deleting a Namespace deletes everything in it, then the Namespace itself. */
export class NamespaceController implements Controller {
  readonly name = 'namespace';
  constructor(private readonly ctx: ControllerContext, private readonly namespacedKinds: string[]) {}

  *keysFor(ev: WatchEvent): Iterable<string> {
    if (ev.obj.kind === 'Namespace' && ev.obj.metadata.deletionTimestamp) yield keyOf(ev.obj);
    if (ev.type === 'DELETED' && ev.obj.metadata.namespace) {
      const ns = this.ctx.store.get('Namespace', undefined, ev.obj.metadata.namespace);
      if (ns?.metadata.deletionTimestamp) yield keyOf(ns);
    }
  }

  *initialKeys(): Iterable<string> {
    for (const ns of this.ctx.store.list('Namespace')) if (ns.metadata.deletionTimestamp) yield keyOf(ns);
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { store, clock } = this.ctx;
    const ns = store.getByKey(key);
    if (!ns || !ns.metadata.deletionTimestamp) return;
    const name = ns.metadata.name;
    const muts = [];
    for (const kind of this.namespacedKinds) {
      for (const o of store.list(kind, name)) {
        if (kind === 'Event') { store.deleteMemory('Event', name, o.metadata.name); continue; }
        if (kind === 'Pod') {
          if (!o.metadata.deletionTimestamp) muts.push(deletePodMutation(o as Pod, clock.now()));
        } else {
          muts.push({ type: 'delete' as const, kind, namespace: name, name: o.metadata.name });
        }
      }
    }
    if (muts.length) await store.commit(muts);
    const remaining = this.namespacedKinds.some((k) => k !== 'Event' && store.list(k, name).length > 0);
    if (!remaining) {
      await store.commit([{ type: 'delete', kind: 'Namespace', name, uid: ns.metadata.uid as string }]);
      return;
    }
    return { requeueAfterMs: 1000 };
  }
}
