/**
 * The leader's view of the nodes: it turns each node's retained status and pod reports into
 * Node objects and pod statuses (memory only), and marks a node whose reports stopped
 * (heartbeat older than nodeMonitorGraceSeconds, or its MQTT last will) Ready=Unknown.
 */
import type { Node, NodeCondition, Pod } from '../api/types.js';
import { objectKey } from '../api/kinds.js';
import type { NodePodsMessage, NodeStatusMessage } from '../broker/topics.js';
import type { ReconcileResult } from '../lib/workqueue.js';
import type { WatchEvent } from '../state/store.js';
import type { Controller, ControllerContext } from '../controllers/manager.js';

export interface PodsReport {
  receivedAt: number;
  seq: number;
  uids: Set<string>;
}

export const LEADER_ROLE_LABEL = 'node-role.kubernetes.io/leader';

export class NodeRegistry implements Controller {
  readonly name = 'node-lifecycle';
  #reports = new Map<string, PodsReport>();
  #heartbeats = new Map<string, number>();
  #enqueue: ((node: string) => void) | undefined;

  constructor(private readonly ctx: ControllerContext, private readonly opts: { leaderNode: string; graceSeconds: number }) {}

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
      return;
    }
    if (!msg.object || msg.object.kind !== 'Node') return;
    this.#heartbeats.set(msg.node, now);
    const node = structuredClone(msg.object) as Node;
    node.metadata.name = msg.node;
    delete node.metadata.namespace;
    const prev = store.get<Node>('Node', undefined, msg.node);
    node.metadata.uid = prev?.metadata.uid ?? node.metadata.uid ?? this.ctx.random.uuid();
    node.metadata.creationTimestamp = prev?.metadata.creationTimestamp ?? new Date(now).toISOString();
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
    const iso = new Date(now).toISOString();
    const conditions = (node.status?.conditions ?? []).map((c): NodeCondition => {
      if (c.type === 'Ready' && c.status !== 'Unknown') return { ...c, status: 'Unknown', reason, message, lastTransitionTime: iso };
      return c;
    });
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
    if (last === 0 || now - last >= graceMs) {
      this.#markUnknown(nodeName, 'NodeStatusUnknown', `pifleet agent stopped posting node status (${this.opts.graceSeconds}s).`, now);
      return;
    }
    return { requeueAfterMs: last + graceMs - now + 5 };
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
