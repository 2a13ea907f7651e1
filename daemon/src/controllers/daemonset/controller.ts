/**
 * DaemonSet: one pod on every node that matches its nodeSelector/affinity and tolerates the
 * node's taints; rolling update (maxUnavailable, default 1) or OnDelete. Pods are bound to
 * their node directly. Template versions are told apart by controller-revision-hash.
 */
import type { DaemonSet, Node, Pod } from '../../api/types.js';
import { objectKey } from '../../api/kinds.js';
import type { ReconcileResult } from '../../lib/workqueue.js';
import type { Mutation, WatchEvent } from '../../state/store.js';
import { matchesNodeSelector, untoleratedTaint } from '../../scheduler/scheduler.js';
import type { Controller, ControllerContext } from '../manager.js';
import { controllerKey, deletePodMutation, isActive, isAvailable, isOwnedBy, isReady, isTerminal, podFromTemplate, templateHash, untilAvailable } from '../pods.js';
import { resolveIntOrPercent } from '../deployment/rollout.js';

export const REVISION_HASH = 'controller-revision-hash';

export class DaemonSetController implements Controller {
  readonly name = 'daemonset';
  constructor(private readonly ctx: ControllerContext) {}

  *keysFor(ev: WatchEvent): Iterable<string> {
    if (ev.obj.kind === 'DaemonSet') yield objectKey('DaemonSet', ev.obj.metadata.namespace, ev.obj.metadata.name);
    if (ev.obj.kind === 'Pod') {
      const k = controllerKey(ev.obj, 'DaemonSet');
      if (k) yield k;
    }
    if (ev.obj.kind === 'Node') {
      const old = ev.old as Node | undefined;
      const now = ev.obj as Node;
      if (ev.type !== 'MODIFIED' || JSON.stringify(old?.metadata.labels) !== JSON.stringify(now.metadata.labels) || JSON.stringify(old?.spec?.taints) !== JSON.stringify(now.spec?.taints)) {
        yield* this.initialKeys();
      }
    }
  }

  *initialKeys(): Iterable<string> {
    for (const ds of this.ctx.store.list('DaemonSet')) yield objectKey('DaemonSet', ds.metadata.namespace, ds.metadata.name);
  }

  /** Does the DaemonSet want a new pod on this node? (nodeSelector/affinity, NoSchedule and NoExecute taints) */
  static wants(ds: DaemonSet, node: Node): boolean {
    const probe = DaemonSetController.#probe(ds);
    return matchesNodeSelector(probe, node) && !untoleratedTaint(probe, node);
  }

  /**
   * May a pod that already runs there stay? As Kubernetes' NodeShouldRunDaemonPod: a NoSchedule
   * taint added later keeps new pods off but does not evict; only NoExecute does.
   */
  static mayStay(ds: DaemonSet, node: Node): boolean {
    const probe = DaemonSetController.#probe(ds);
    if (!matchesNodeSelector(probe, node)) return false;
    const noExecute = { ...node, spec: { ...(node.spec ?? {}), taints: (node.spec?.taints ?? []).filter((t) => t.effect === 'NoExecute') } } as Node;
    return !untoleratedTaint(probe, noExecute);
  }

  static #probe(ds: DaemonSet): Pod {
    return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'probe' }, spec: ds.spec.template?.spec ?? { containers: [] } } as Pod;
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { store, clock, random, events } = this.ctx;
    const ds = store.getByKey<DaemonSet>(key);
    if (!ds || ds.metadata.deletionTimestamp) return;
    const now = clock.now();
    const hash = templateHash(ds.spec.template);
    const nodes = store.list<Node>('Node');
    const owned = store.list<Pod>('Pod', ds.metadata.namespace).filter((p) => isOwnedBy(p, ds));
    const minReady = ds.spec.minReadySeconds ?? 0;
    const muts: Mutation[] = [];
    const created: string[] = [];
    const byNode = new Map<string, Pod[]>();
    for (const p of owned) {
      if (!isActive(p)) {
        // a finished daemon pod is replaced (restartPolicy is Always, so this is a failure)
        if (!p.metadata.deletionTimestamp) muts.push(deletePodMutation(p, now));
        continue;
      }
      const list = byNode.get(p.spec.nodeName ?? '') ?? [];
      list.push(p);
      byNode.set(p.spec.nodeName ?? '', list);
    }
    // a node keeps its pod while it may stay there; a node without one gets one when it is wanted
    const wanted = nodes.filter((n) => ((byNode.get(n.metadata.name)?.length ?? 0) > 0 ? DaemonSetController.mayStay(ds, n) : DaemonSetController.wants(ds, n)));
    const wantedNames = new Set(wanted.map((n) => n.metadata.name));
    for (const [nodeName, pods] of byNode) {
      if (!wantedNames.has(nodeName)) for (const p of pods) muts.push(deletePodMutation(p, now));
    }
    // as Kubernetes: nodes that run a daemon pod (even one still stopping) but should not
    const misscheduled = new Set(owned.filter((p) => p.spec.nodeName && !wantedNames.has(p.spec.nodeName) && !isTerminal(p)).map((p) => p.spec.nodeName)).size;
    const rolling = (ds.spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
    const maxUnavailable = Math.max(1, resolveIntOrPercent(ds.spec.updateStrategy?.rollingUpdate?.maxUnavailable ?? 1, wanted.length, false));
    let unavailable = 0;
    const oldPods: Pod[] = [];
    for (const node of wanted) {
      const pods = byNode.get(node.metadata.name) ?? [];
      if (pods.length === 0) {
        const pod = podFromTemplate(ds.spec.template, ds, `${ds.metadata.name}-${random.suffix(5)}`, { labels: { [REVISION_HASH]: hash }, nodeName: node.metadata.name });
        muts.push({ type: 'create', obj: pod });
        created.push(pod.metadata.name);
        unavailable++;
        continue;
      }
      // keep one, delete duplicates: as Kubernetes, the ready one, then the oldest, stays
      const sorted = [...pods].sort((a, b) => Number(isReady(b)) - Number(isReady(a)) || (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''));
      for (const extra of sorted.slice(1)) muts.push(deletePodMutation(extra, now));
      const keep = sorted[0] as Pod;
      if (!isAvailable(keep, minReady, now)) unavailable++;
      if (keep.metadata.labels?.[REVISION_HASH] !== hash) oldPods.push(keep);
    }
    if (rolling && oldPods.length) {
      // replace old pods, unavailable ones first, while the budget allows
      const order = [...oldPods].sort((a, b) => Number(isAvailable(a, minReady, now)) - Number(isAvailable(b, minReady, now)));
      for (const p of order) {
        const wasUnavailable = !isAvailable(p, minReady, now);
        if (!wasUnavailable && unavailable >= maxUnavailable) break;
        muts.push(deletePodMutation(p, now));
        if (!wasUnavailable) unavailable++;
      }
    }
    if (created.length) events.record(ds, 'Normal', 'SuccessfulCreate', `Created pod${created.length > 1 ? 's' : ''}: ${created.join(', ')}`);
    if (muts.length) await store.commit(muts);

    const fresh = store.list<Pod>('Pod', ds.metadata.namespace).filter((p) => isOwnedBy(p, ds) && isActive(p));
    const onWanted = fresh.filter((p) => wantedNames.has(p.spec.nodeName ?? ''));
    let requeueAfterMs: number | undefined;
    for (const p of onWanted) {
      const left = untilAvailable(p, minReady, now);
      if (left !== undefined) requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, left + 10);
    }
    const status = {
      currentNumberScheduled: new Set(onWanted.map((p) => p.spec.nodeName)).size,
      numberMisscheduled: misscheduled,
      desiredNumberScheduled: wanted.length,
      numberReady: onWanted.filter(isReady).length,
      updatedNumberScheduled: onWanted.filter((p) => p.metadata.labels?.[REVISION_HASH] === hash).length,
      numberAvailable: onWanted.filter((p) => isAvailable(p, minReady, now)).length,
      numberUnavailable: Math.max(0, wanted.length - onWanted.filter((p) => isAvailable(p, minReady, now)).length),
      observedGeneration: ds.metadata.generation ?? 1,
    };
    await store.commit([{ type: 'status', kind: 'DaemonSet', namespace: ds.metadata.namespace, name: ds.metadata.name, status }]);
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  }
}
