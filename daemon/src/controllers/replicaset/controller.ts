/**
 * ReplicaSet: keep spec.replicas active pods; report replicas/ready/available.
 * Pods are found through their controller ownerReference (uid), never by name. As Kubernetes'
 * ClaimPods: an active orphan pod the selector matches is adopted, an owned pod whose labels
 * no longer match is released (its ownerReference removed).
 */
import type { Pod, ReplicaSet } from '../../api/types.js';
import { objectKey } from '../../api/kinds.js';
import type { ReconcileResult } from '../../lib/workqueue.js';
import type { Mutation, WatchEvent } from '../../state/store.js';
import type { Controller, ControllerContext } from '../manager.js';
import { controllerKey, controllerRef, deletePodMutation, deletionRank, isActive, isAvailable, isOwnedBy, isReady, ownerReferenceTo, podFromTemplate, selectorMatches, untilAvailable, isTerminal } from '../pods.js';

/** Pods created per reconcile at most (slow start keeps a bad template from flooding). */
const BURST = 50;

export class ReplicaSetController implements Controller {
  readonly name = 'replicaset';
  constructor(private readonly ctx: ControllerContext) {}

  *keysFor(ev: WatchEvent): Iterable<string> {
    if (ev.obj.kind === 'ReplicaSet') yield objectKey('ReplicaSet', ev.obj.metadata.namespace, ev.obj.metadata.name);
    if (ev.obj.kind === 'Pod') {
      const k = controllerKey(ev.obj, 'ReplicaSet');
      if (k) yield k;
      // the pod was released by its old owner, or is an orphan: whoever selects it may adopt it
      const oldK = ev.old ? controllerKey(ev.old, 'ReplicaSet') : undefined;
      if (oldK && oldK !== k) yield oldK;
      if (!controllerRef(ev.obj) && ev.type !== 'DELETED') {
        for (const rs of this.ctx.store.list<ReplicaSet>('ReplicaSet', ev.obj.metadata.namespace)) {
          if (selectorMatches(rs.spec.selector, ev.obj.metadata.labels)) yield objectKey('ReplicaSet', rs.metadata.namespace, rs.metadata.name);
        }
      }
    }
  }

  *initialKeys(): Iterable<string> {
    for (const rs of this.ctx.store.list('ReplicaSet')) yield objectKey('ReplicaSet', rs.metadata.namespace, rs.metadata.name);
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { store, clock, random } = this.ctx;
    const rs = store.getByKey<ReplicaSet>(key);
    if (!rs || rs.metadata.deletionTimestamp) return;
    const now = clock.now();
    const muts: Mutation[] = [];
    const owned: Pod[] = [];
    for (const p of store.list<Pod>('Pod', rs.metadata.namespace)) {
      const ref = controllerRef(p);
      const matches = selectorMatches(rs.spec.selector, p.metadata.labels);
      if (ref?.uid === rs.metadata.uid) {
        if (matches || p.metadata.deletionTimestamp) { owned.push(p); continue; }
        const released = structuredClone(p) as Pod;
        delete released.status;
        released.metadata.ownerReferences = (p.metadata.ownerReferences ?? []).filter((r) => r.uid !== rs.metadata.uid);
        muts.push({ type: 'update', obj: released });
      } else if (!ref && matches && isActive(p)) {
        const adopted = structuredClone(p) as Pod;
        delete adopted.status;
        adopted.metadata.ownerReferences = [...(p.metadata.ownerReferences ?? []), ownerReferenceTo(rs)];
        muts.push({ type: 'update', obj: adopted });
        owned.push({ ...adopted, status: p.status } as Pod);
      }
    }
    const active = owned.filter(isActive);
    const want = rs.spec.replicas ?? 1;
    // Finished pods of a ReplicaSet are never coming back: make room for replacements.
    for (const p of owned) if (isTerminal(p) && !p.metadata.deletionTimestamp) muts.push(deletePodMutation(p, now));
    const diff = active.length - want;
    if (diff < 0) {
      const n = Math.min(-diff, BURST);
      for (let i = 0; i < n; i++) {
        const pod = podFromTemplate(rs.spec.template ?? {}, rs, `${rs.metadata.name}-${random.suffix(5)}`);
        muts.push({ type: 'create', obj: pod });
      }
      this.ctx.events.record(rs, 'Normal', 'SuccessfulCreate', `Created ${n} pod${n > 1 ? 's' : ''}: ${muts.filter((m) => m.type === 'create').map((m) => (m as { obj: Pod }).obj.metadata.name).join(', ')}`);
    } else if (diff > 0) {
      const victims = [...active].sort(deletionRank).slice(0, diff);
      for (const p of victims) muts.push(deletePodMutation(p, now));
      this.ctx.events.record(rs, 'Normal', 'SuccessfulDelete', `Deleted pod${diff > 1 ? 's' : ''}: ${victims.map((p) => p.metadata.name).join(', ')}`);
    }
    if (muts.length) await store.commit(muts);
    // status from the pods as they are now
    const after = store.list<Pod>('Pod', rs.metadata.namespace).filter((p) => isOwnedBy(p, rs) && isActive(p));
    const minReady = rs.spec.minReadySeconds ?? 0;
    let requeueAfterMs: number | undefined;
    for (const p of after) {
      const left = untilAvailable(p, minReady, now);
      if (left !== undefined) requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, left + 10);
    }
    const status = {
      replicas: after.length,
      fullyLabeledReplicas: after.length,
      readyReplicas: after.filter(isReady).length,
      availableReplicas: after.filter((p) => isAvailable(p, minReady, now)).length,
      observedGeneration: rs.metadata.generation ?? 1,
    };
    const cur = store.getByKey<ReplicaSet>(key);
    if (cur) await store.commit([{ type: 'status', kind: 'ReplicaSet', namespace: cur.metadata.namespace, name: cur.metadata.name, status: { ...(cur.status ?? {}), ...status } }]);
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  }
}
