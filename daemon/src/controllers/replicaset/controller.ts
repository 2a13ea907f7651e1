/**
 * ReplicaSet: keep spec.replicas active pods; report replicas/ready/available.
 * Pods are found through their controller ownerReference (uid), never by name. As Kubernetes'
 * ClaimPods: an active orphan pod the selector matches is adopted, an owned pod whose labels
 * no longer match is released (its ownerReference removed).
 *
 * Creating is bounded three ways, so a ReplicaSet larger than the fleet never floods the store:
 * at most BURST pods per reconcile (Kubernetes' burstReplicas), committed in slow-start batches
 * of 1, 2, 4, ... that stop at the first failure (Kubernetes' slowStartBatch), and none while
 * MAX_UNSCHEDULED_PER_OWNER of its pods still wait for a node. While creation fails, or is held
 * back and the scheduler has found the waiting pods unschedulable, status carries the condition
 * ReplicaFailure=True (reason FailedCreate, as Kubernetes) and a FailedCreate warning is
 * recorded once per episode.
 */
import type { Pod, ReplicaSet, ReplicaSetStatus } from '../../api/types.js';
import { objectKey } from '../../api/kinds.js';
import type { ReconcileResult } from '../../lib/workqueue.js';
import { StoreError, type Mutation, type WatchEvent } from '../../state/store.js';
import type { Controller, ControllerContext } from '../manager.js';
import { errMessage } from '../manager.js';
import { controllerKey, controllerRef, deletePodMutation, deletionRank, isActive, isAvailable, isOwnedBy, isReady, ownerReferenceTo, podFromTemplate, selectorMatches, untilAvailable, isTerminal } from '../pods.js';
import { MAX_UNSCHEDULED_PER_OWNER, unscheduledLimitMessage, unscheduledPods } from '../scheduling.js';
import { rfc3339 } from '../../lib/time.js';

/** Pods created per reconcile at most (Kubernetes' burstReplicas is 500; a Pi fleet is smaller). */
export const BURST = 50;

export const REPLICA_FAILURE = 'ReplicaFailure';
export const FAILED_CREATE = 'FailedCreate';

/** Kubernetes' slowStartBatch sizes: 1, 2, 4, ... summing to count. */
export function slowStartBatches(count: number, initial = 1): number[] {
  const out: number[] = [];
  let left = Math.max(0, Math.floor(count));
  for (let size = Math.min(left, Math.max(1, initial)); size > 0; size = Math.min(2 * size, left)) {
    out.push(size);
    left -= size;
  }
  return out;
}

type RSCondition = NonNullable<ReplicaSetStatus['conditions']>[number];

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
    /** Why pods are not created (the ReplicaFailure condition's message), if they are not. */
    let failure: string | undefined;
    let createError: unknown;
    if (diff < 0) {
      const waiting = unscheduledPods(active);
      const room = Math.max(0, MAX_UNSCHEDULED_PER_OWNER - waiting.length);
      const n = Math.min(-diff, BURST, room);
      if (n < Math.min(-diff, BURST)) failure = unscheduledLimitMessage('ReplicaSet', waiting, -diff - n);
      const created: string[] = [];
      // the first batch carries the other changes (adoption, release, finished pods)
      for (const size of slowStartBatches(n)) {
        const batch: Mutation[] = [];
        for (let i = 0; i < size; i++) batch.push({ type: 'create', obj: podFromTemplate(rs.spec.template ?? {}, rs, `${rs.metadata.name}-${random.suffix(5)}`) });
        try {
          await store.commit([...muts.splice(0), ...batch]);
        } catch (err) {
          createError = err;
          failure = `failed to create pods (${created.length} of ${n} created): ${errMessage(err)}`;
          break;
        }
        for (const m of batch) created.push((m as { obj: Pod }).obj.metadata.name);
      }
      if (created.length) this.ctx.events.record(rs, 'Normal', 'SuccessfulCreate', `Created ${created.length} pod${created.length > 1 ? 's' : ''}: ${created.join(', ')}`);
    } else if (diff > 0) {
      const victims = [...active].sort(deletionRank).slice(0, diff);
      for (const p of victims) muts.push(deletePodMutation(p, now));
      this.ctx.events.record(rs, 'Normal', 'SuccessfulDelete', `Deleted pod${diff > 1 ? 's' : ''}: ${victims.map((p) => p.metadata.name).join(', ')}`);
    }
    if (muts.length && createError === undefined) await store.commit(muts);
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
    if (cur) {
      const next: ReplicaSetStatus = { ...(cur.status ?? {}), ...status };
      const conditions = replicaFailure(cur.status?.conditions ?? [], failure, now);
      if (conditions.length) next.conditions = conditions;
      else delete next.conditions;
      const was = cur.status?.conditions?.find((c) => c.type === REPLICA_FAILURE && c.status === 'True');
      await store.commit([{ type: 'status', kind: 'ReplicaSet', namespace: cur.metadata.namespace, name: cur.metadata.name, status: next }]);
      if (failure && (!was || createError !== undefined)) this.ctx.events.record(rs, 'Warning', FAILED_CREATE, failure);
    }
    if (createError !== undefined) {
      // a random name collided: nothing of that batch was written; try again at once with new names
      if (createError instanceof StoreError && createError.reason === 'AlreadyExists') return { requeue: true };
      throw createError;
    }
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  }
}

/** Set, keep or clear the ReplicaFailure condition (an unchanged one keeps its transition time). */
function replicaFailure(conds: RSCondition[], failure: string | undefined, now: number): RSCondition[] {
  const rest = conds.filter((c) => c.type !== REPLICA_FAILURE);
  if (!failure) return rest;
  const old = conds.find((c) => c.type === REPLICA_FAILURE);
  const since = old && old.status === 'True' && old.reason === FAILED_CREATE && old.lastTransitionTime ? old.lastTransitionTime : rfc3339(now);
  return [...rest, { type: REPLICA_FAILURE, status: 'True', reason: FAILED_CREATE, message: failure, lastTransitionTime: since }];
}
