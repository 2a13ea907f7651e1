/**
 * The leader's view of the nodes: it turns each node's retained status and pod reports into
 * Node objects and pod statuses (memory only), and marks a node whose reports stopped
 * (heartbeat older than nodeMonitorGraceSeconds, or its MQTT last will) Ready=Unknown.
 *
 * As Kubernetes' node lifecycle controller, the pods of an unreachable node are marked
 * Ready=False at once (Services and rollouts stop counting on them) and evicted (graceful
 * deletion, so their controllers make replacements elsewhere) once the node has been
 * unreachable (Ready Unknown) or not ready (Ready False) for longer than the pod tolerates:
 * a NoExecute toleration of node.kubernetes.io/unreachable or not-ready with tolerationSeconds,
 * podEvictionSeconds when it has none, never when it tolerates without a limit. DaemonSet
 * pods are never evicted (Kubernetes gives them those tolerations).
 */
import type { Node, NodeCondition, Pod } from '../api/types.js';
import { objectKey } from '../api/kinds.js';
import type { NodePodsMessage, NodeStatusMessage } from '../broker/topics.js';
import type { ReconcileResult } from '../lib/workqueue.js';
import type { WatchEvent } from '../state/store.js';
import type { Controller, ControllerContext } from '../controllers/manager.js';
import { controllerRef, deletePodMutation, isTerminal } from '../controllers/pods.js';
import { rfc3339 } from '../lib/time.js';

export interface PodsReport {
  receivedAt: number;
  seq: number;
  uids: Set<string>;
}

export const LEADER_ROLE_LABEL = 'node-role.kubernetes.io/leader';

const AGENT_CONDITIONS = new Set(['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure']);

export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
/** Default eviction delay for pods without their own toleration (Kubernetes uses 300 s). */
export const DEFAULT_POD_EVICTION_SECONDS = 300;

export interface NodeRegistryOptions {
  leaderNode: string;
  graceSeconds: number;
  /** How long pods stay on a node that is not Ready before they are evicted (unless they say otherwise). */
  podEvictionSeconds?: number;
}

/** Seconds the pod tolerates the taint (NoExecute), undefined = forever, or the default. */
export function tolerationSecondsFor(pod: Pod, key: string, fallback: number): number | undefined {
  for (const t of pod.spec.tolerations ?? []) {
    if (t.effect && t.effect !== 'NoExecute') continue;
    const keyOk = t.operator === 'Exists' ? !t.key || t.key === key : t.key === key && !t.value;
    if (!keyOk) continue;
    return typeof t.tolerationSeconds === 'number' ? Math.max(0, t.tolerationSeconds) : undefined;
  }
  return fallback;
}

export class NodeRegistry implements Controller {
  readonly name = 'node-lifecycle';
  #reports = new Map<string, PodsReport>();
  #heartbeats = new Map<string, number>();
  #enqueue: ((node: string) => void) | undefined;

  constructor(private readonly ctx: ControllerContext, private readonly opts: NodeRegistryOptions) {}

  /** The latest pod report of a node, for pod finalization. */
  report(node: string): PodsReport | undefined {
    return this.#reports.get(node);
  }

  onNodeStatus(msg: NodeStatusMessage): void {
    if (!msg || typeof msg.node !== 'string') return;
    const { store, clock } = this.ctx;
    const now = clock.now();
    if (!msg.online) {
      this.#heartbeats.set(msg.node, 0);
      this.#markUnknown(msg.node, 'NodeStatusUnknown', 'pifleet agent went offline (MQTT last will).', now);
      this.#enqueue?.(msg.node);
      return;
    }
    if (!msg.object || msg.object.kind !== 'Node') return;
    this.#heartbeats.set(msg.node, now);
    const node = structuredClone(msg.object) as Node;
    node.metadata.name = msg.node;
    delete node.metadata.namespace;
    const prev = store.get<Node>('Node', undefined, msg.node);
    node.metadata.uid = prev?.metadata.uid ?? node.metadata.uid ?? this.ctx.random.uuid();
    node.metadata.creationTimestamp = prev?.metadata.creationTimestamp ?? rfc3339(now);
    const labels = { ...(node.metadata.labels ?? {}) };
    if (msg.node === this.opts.leaderNode) labels[LEADER_ROLE_LABEL] = '';
    else delete labels[LEADER_ROLE_LABEL];
    node.metadata.labels = labels;
    store.putMemory(node);
    this.#enqueue?.(msg.node);
  }

  onNodePods(msg: NodePodsMessage): void {
    if (!msg || typeof msg.node !== 'string' || !Array.isArray(msg.pods)) return;
    const prev = this.#reports.get(msg.node);
    if (prev && typeof msg.seq === 'number' && msg.seq < prev.seq && msg.seq !== 0) return; // reordered
    const uids = new Set<string>();
    for (const p of msg.pods) {
      if (!p || typeof p.uid !== 'string' || typeof p.name !== 'string') continue;
      if (!p.gone) uids.add(p.uid);
      if (p.status && typeof p.status === 'object') this.ctx.store.setPodStatus(p.namespace ?? 'default', p.name, p.status, p.uid);
    }
    this.#reports.set(msg.node, { receivedAt: this.ctx.clock.now(), seq: msg.seq ?? 0, uids });
  }

  #markUnknown(nodeName: string, reason: string, message: string, now: number): void {
    const { store } = this.ctx;
    const node = store.get<Node>('Node', undefined, nodeName);
    if (!node) return;
    const iso = rfc3339(now);
    // as Kubernetes' node lifecycle controller: the conditions the agent owns (Ready and the
    // pressure ones) become Unknown, nobody knows them any more; a missing Ready is added
    const conditions = (node.status?.conditions ?? []).map((c): NodeCondition => {
      if (AGENT_CONDITIONS.has(c.type) && c.status !== 'Unknown') return { ...c, status: 'Unknown', reason, message, lastTransitionTime: iso };
      return c;
    });
    if (!conditions.some((c) => c.type === 'Ready')) conditions.push({ type: 'Ready', status: 'Unknown', reason, message, lastTransitionTime: iso, lastHeartbeatTime: iso });
    if (JSON.stringify(conditions) === JSON.stringify(node.status?.conditions ?? [])) return;
    store.putMemory({ ...node, status: { ...(node.status ?? {}), conditions } } as Node);
    this.ctx.events.record({ kind: 'Node', name: nodeName, uid: node.metadata.uid as string }, 'Normal', 'NodeNotReady', `Node ${nodeName} status is now: NodeNotReady (${message})`);
  }

  // --- Controller: checks each node's heartbeat at the time it would expire ---

  start(queue: { add(k: string): void }): void {
    this.#enqueue = (n) => queue.add(n);
  }

  stop(): void {
    this.#enqueue = undefined;
  }

  *keysFor(_ev: WatchEvent): Iterable<string> {
    // heartbeats arrive through onNodeStatus, which enqueues
  }

  *initialKeys(): Iterable<string> {
    for (const n of this.ctx.store.list('Node')) yield n.metadata.name;
  }

  async reconcile(nodeName: string): Promise<ReconcileResult> {
    const now = this.ctx.clock.now();
    const last = this.#heartbeats.get(nodeName) ?? 0;
    const graceMs = this.opts.graceSeconds * 1000;
    let heartbeatDue: number | undefined;
    if (last === 0 || now - last >= graceMs) {
      this.#markUnknown(nodeName, 'NodeStatusUnknown', `pifleet agent stopped posting node status (${this.opts.graceSeconds}s).`, now);
    } else {
      heartbeatDue = last + graceMs - now + 5;
    }
    const evictDue = await this.#evict(nodeName, now);
    const next = Math.min(heartbeatDue ?? Infinity, evictDue ?? Infinity);
    return Number.isFinite(next) ? { requeueAfterMs: next } : undefined;
  }

  /** Mark the pods of a node that is not Ready as not ready, evict those whose toleration ran out; ms until the next eviction. */
  async #evict(nodeName: string, now: number): Promise<number | undefined> {
    const { store, events } = this.ctx;
    const node = store.get<Node>('Node', undefined, nodeName);
    const ready = node?.status?.conditions?.find((c) => c.type === 'Ready');
    if (!node || !ready || ready.status === 'True') return undefined;
    const key = ready.status === 'Unknown' ? TAINT_UNREACHABLE : TAINT_NOT_READY;
    const since = ready.lastTransitionTime ? Date.parse(ready.lastTransitionTime) : now;
    const fallback = this.opts.podEvictionSeconds ?? DEFAULT_POD_EVICTION_SECONDS;
    const iso = rfc3339(now);
    const muts = [];
    let next: number | undefined;
    for (const pod of store.list<Pod>('Pod')) {
      if (pod.spec.nodeName !== nodeName || pod.metadata.deletionTimestamp || isTerminal(pod)) continue;
      // MarkPodsNotReady: an unreachable node cannot vouch for its pods any more (a node that is
      // reachable but not Ready still reports its pods' readiness itself)
      const conds = pod.status?.conditions ?? [];
      if (key === TAINT_UNREACHABLE && conds.some((c) => c.type === 'Ready' && c.status !== 'False')) {
        store.setPodStatus(pod.metadata.namespace ?? 'default', pod.metadata.name, {
          ...(pod.status ?? {}),
          conditions: conds.map((c) => (c.type === 'Ready' ? { ...c, status: 'False', reason: 'NodeNotReady', lastTransitionTime: iso } : c)),
        }, pod.metadata.uid);
      }
      if (controllerRef(pod)?.kind === 'DaemonSet') continue;
      const secs = tolerationSecondsFor(pod, key, fallback);
      if (secs === undefined) continue;
      const at = since + secs * 1000;
      if (at > now) { next = Math.min(next ?? Infinity, at - now + 5); continue; }
      muts.push(deletePodMutation(pod, now));
      events.record(pod, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${pod.metadata.namespace}/${pod.metadata.name}`);
    }
    if (muts.length) await store.commit(muts);
    return next;
  }
}

/**
 * Pod finalization: a pod marked for deletion leaves the store once its node reports it gone
 * (a report newer than the deletion), at once when it never reached a node.
 */
export class PodTerminationController implements Controller {
  readonly name = 'pod-termination';
  constructor(private readonly ctx: ControllerContext, private readonly nodes: NodeRegistry) {}

  *keysFor(ev: WatchEvent): Iterable<string> {
    if (ev.obj.kind === 'Pod' && ev.type !== 'DELETED' && ev.obj.metadata.deletionTimestamp) {
      yield objectKey('Pod', ev.obj.metadata.namespace, ev.obj.metadata.name);
    }
  }

  *initialKeys(): Iterable<string> {
    for (const p of this.ctx.store.list('Pod')) if (p.metadata.deletionTimestamp) yield objectKey('Pod', p.metadata.namespace, p.metadata.name);
  }

  /** Called when a node's pod report arrived: its terminating pods may be gone now. */
  *keysForNode(node: string): Iterable<string> {
    for (const p of this.ctx.store.list<Pod>('Pod')) {
      if (p.metadata.deletionTimestamp && p.spec.nodeName === node) yield objectKey('Pod', p.metadata.namespace, p.metadata.name);
    }
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { store } = this.ctx;
    const pod = store.getByKey<Pod>(key);
    if (!pod || !pod.metadata.deletionTimestamp) return;
    const del = { type: 'delete' as const, kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid as string };
    const nodeName = pod.spec.nodeName;
    if (!nodeName || !store.get('Node', undefined, nodeName)) {
      await store.commit([del]);
      return;
    }
    const report = this.nodes.report(nodeName);
    const markedAt = Date.parse(pod.metadata.deletionTimestamp) - (pod.metadata.deletionGracePeriodSeconds ?? 0) * 1000;
    if (report && report.receivedAt >= markedAt && !report.uids.has(pod.metadata.uid as string)) {
      await store.commit([del]);
      return;
    }
    // wait for the node; look again now and then in case a report was missed
    return { requeueAfterMs: 5000 };
  }
}
