/**
 * Binds pending pods to nodes with the pure scheduler; a pod that fits nowhere stays Pending
 * with PodScheduled=False and the scheduler's reasons, and is retried when nodes change.
 */
import type { Node, Pod } from '../api/types.js';
import { objectKey } from '../api/kinds.js';
import type { ReconcileResult } from '../lib/workqueue.js';
import type { WatchEvent } from '../state/store.js';
import { DEFAULT_MAX_PODS, schedule, type NodeInfo } from '../scheduler/scheduler.js';
import type { Controller, ControllerContext } from './manager.js';
import { isActive, isTerminal } from './pods.js';
import { rfc3339 } from '../lib/time.js';

const RETRY_MS = 30_000;

/**
 * At most this many of one owner's pods wait for a node at a time (Pending, not bound yet):
 * a ReplicaSet or Job with this many unscheduled pods creates no more until some are bound or
 * gone, so a workload larger than the fleet never becomes an endless stream of Pending pods.
 * The pods-per-node ceiling: one more node's worth.
 */
export const MAX_UNSCHEDULED_PER_OWNER = DEFAULT_MAX_PODS;

/** The pods (of one owner) that wait for the scheduler: active and not bound to a node. */
export function unscheduledPods(pods: Pod[]): Pod[] {
  return pods.filter((p) => isActive(p) && !p.spec.nodeName);
}

/** The scheduler's latest reason for not binding one of these pods ("0/1 nodes are available: 1 Too many pods."), if it gave one. */
export function unschedulableMessage(pods: Pod[]): string | undefined {
  for (const p of pods) {
    const c = p.status?.conditions?.find((x) => x.type === 'PodScheduled' && x.status === 'False');
    if (c?.message) return c.message;
  }
  return undefined;
}

/**
 * Why an owner creates fewer pods than it wants (the ReplicaFailure / FailedCreate message), or
 * undefined while the scheduler has not found any of the waiting pods unschedulable yet: pods
 * just created are not a problem, only pods that fit no node are.
 */
export function unscheduledLimitMessage(kind: string, waiting: Pod[], missing: number): string | undefined {
  const why = unschedulableMessage(waiting);
  if (!why) return undefined;
  return `${waiting.length} pods of this ${kind} are waiting for a node (${why.replace(/\.$/, '')}); ` +
    `${missing} more are not created: at most ${MAX_UNSCHEDULED_PER_OWNER} of its pods may wait for a node at a time (the pods-per-node ceiling)`;
}

export function nodeInfos(pods: Pod[], nodes: Node[]): NodeInfo[] {
  const byNode = new Map<string, Pod[]>();
  for (const p of pods) {
    if (!p.spec.nodeName || isTerminal(p)) continue;
    const list = byNode.get(p.spec.nodeName) ?? [];
    list.push(p);
    byNode.set(p.spec.nodeName, list);
  }
  return nodes.map((node) => ({ node, pods: byNode.get(node.metadata.name) ?? [] }));
}

export class SchedulingController implements Controller {
  readonly name = 'scheduler';
  #lastMessage = new Map<string, string>();
  constructor(private readonly ctx: ControllerContext) {}

  *keysFor(ev: WatchEvent): Iterable<string> {
    if (ev.obj.kind === 'Pod') {
      const p = ev.obj as Pod;
      if (ev.type !== 'DELETED' && !p.spec.nodeName && !p.metadata.deletionTimestamp) yield objectKey('Pod', p.metadata.namespace, p.metadata.name);
      if (ev.type === 'DELETED') this.#lastMessage.delete(objectKey('Pod', p.metadata.namespace, p.metadata.name));
      // a pod leaving a node frees room for the ones waiting
      if ((ev.type === 'DELETED' || isTerminal(p)) && p.spec.nodeName) yield* this.#pending();
    }
    if (ev.obj.kind === 'Node') {
      const readyOf = (n: Node | undefined): string | undefined => n?.status?.conditions?.find((c) => c.type === 'Ready')?.status;
      const old = ev.old as Node | undefined;
      const now = ev.obj as Node;
      if (ev.type === 'ADDED' || readyOf(old) !== readyOf(now) || JSON.stringify(old?.spec) !== JSON.stringify(now.spec) ||
          JSON.stringify(old?.metadata.labels) !== JSON.stringify(now.metadata.labels) || JSON.stringify(old?.status?.allocatable) !== JSON.stringify(now.status?.allocatable)) {
        yield* this.#pending();
      }
    }
  }

  *#pending(): Iterable<string> {
    for (const p of this.ctx.store.list<Pod>('Pod')) {
      if (!p.spec.nodeName && !p.metadata.deletionTimestamp) yield objectKey('Pod', p.metadata.namespace, p.metadata.name);
    }
  }

  initialKeys(): Iterable<string> {
    return this.#pending();
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { store, events, clock } = this.ctx;
    const pod = store.getByKey<Pod>(key);
    if (!pod || pod.spec.nodeName || pod.metadata.deletionTimestamp) return;
    const result = schedule(pod, nodeInfos(store.list<Pod>('Pod'), store.list<Node>('Node')));
    if (result.node) {
      const bound = structuredClone(pod) as Pod;
      delete bound.status;
      bound.spec.nodeName = result.node;
      await store.commit([{ type: 'update', obj: bound }]);
      this.#lastMessage.delete(key);
      events.record(pod, 'Normal', 'Scheduled', `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${result.node}`);
      return;
    }
    const message = result.message ?? 'no nodes available';
    const now = rfc3339(clock.now());
    store.setPodStatus(pod.metadata.namespace ?? 'default', pod.metadata.name, {
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null, lastTransitionTime: (pod.status?.conditions?.find((c) => c.type === 'PodScheduled')?.lastTransitionTime) ?? now }],
      qosClass: pod.status?.qosClass,
    }, pod.metadata.uid);
    if (this.#lastMessage.get(key) !== message) {
      this.#lastMessage.set(key, message);
      events.record(pod, 'Warning', 'FailedScheduling', message);
    }
    return { requeueAfterMs: RETRY_MS };
  }
}
