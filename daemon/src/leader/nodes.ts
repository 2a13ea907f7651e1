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
import type { NodePodsMessage, NodeStatusMessage, OrphanPod } from '../broker/topics.js';
import type { ReconcileResult } from '../lib/workqueue.js';
import type { WatchEvent } from '../state/store.js';
import type { Controller, ControllerContext } from '../controllers/manager.js';
import { controllerRef, deletePodMutation, isTerminal } from '../controllers/pods.js';
import { rfc3339 } from '../lib/time.js';
import { StoreError } from '../state/store.js';

export interface PodsReport {
  receivedAt: number;
  seq: number;
  uids: Set<string>;
}

export const LEADER_ROLE_LABEL = 'node-role.kubernetes.io/leader';

/** Labels the agent owns on its Node: the well-known ones it knows best. */
export function isAgentLabel(key: string): boolean {
  return key.startsWith('kubernetes.io/') || key.startsWith('beta.kubernetes.io/') || key === 'pifleet.io/board';
}

function sameMeta(n: Node, m: { labels: Record<string, string>; spec: Node['spec'] }): boolean {
  return JSON.stringify(sortKeys(n.metadata.labels ?? {})) === JSON.stringify(sortKeys(m.labels));
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

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
  /** Ms since the leader last heard from the node on the peer channel: a sign of life as good as a report. */
  contact?: (node: string) => number | undefined;
  /** Whether a node is a member of the fleet: reports of others (a removed board) are ignored. */
  isMember?: (node: string) => boolean;
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
  /** When this leader started: nodes that have not reported since are judged from then on. */
  #since = 0;
  /** The last Node object each node reported (its status is what we keep in memory). */
  #latest = new Map<string, Node>();
  #registering = new Map<string, Promise<void>>();
  #orphans = new Map<string, OrphanPod[]>();
  #rotating = false;
  #strangers = new Set<string>();
  #again = new Set<string>();

  constructor(private readonly ctx: ControllerContext, private readonly opts: NodeRegistryOptions) {}

  /** Resolves when no node registration is being written (tests). */
  async settled(): Promise<void> {
    for (let i = 0; i < 10 && this.#registering.size; i++) await Promise.all([...this.#registering.values()]);
  }

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
    if (this.opts.isMember && !this.opts.isMember(msg.node)) {
      if (!this.#strangers.has(msg.node)) {
        this.#strangers.add(msg.node);
        this.ctx.logger.warn({ node: msg.node }, 'a node that is not a member of the fleet reports its status: ignored (a removed board must rejoin with a new state directory)');
      }
      return;
    }
    this.#heartbeats.set(msg.node, now);
    this.#latest.set(msg.node, msg.object);
    const prev = store.get<Node>('Node', undefined, msg.node);
    const meta = this.#wantedMeta(msg.node, msg.object, prev);
    if (!prev || !sameMeta(prev, meta)) {
      void this.#register(msg.node);
      return;
    }
    store.setNodeStatus(msg.node, msg.object.status ?? {}, prev.metadata.uid);
    this.#enqueue?.(msg.node);
  }

  /**
   * Labels and spec the Node object should have: at registration what the agent reports (its
   * config labels and taints); afterwards the user owns labels, taints and unschedulable
   * (`pifleet label`, `cordon`), and only the well-known labels the agent knows best
   * (kubernetes.io/hostname, arch, os, the board model) and the leader role follow the reports.
   */
  #wantedMeta(name: string, reported: Node, prev: Node | undefined): { labels: Record<string, string>; spec: Node['spec'] } {
    const rl = (reported.metadata.labels ?? {}) as Record<string, string>;
    let labels: Record<string, string>;
    if (!prev) labels = { ...rl };
    else {
      labels = { ...((prev.metadata.labels ?? {}) as Record<string, string>) };
      for (const k of Object.keys(labels)) if (isAgentLabel(k) && !(k in rl)) delete labels[k];
      for (const [k, v] of Object.entries(rl)) if (isAgentLabel(k)) labels[k] = v;
    }
    if (name === this.opts.leaderNode) labels[LEADER_ROLE_LABEL] = '';
    else delete labels[LEADER_ROLE_LABEL];
    const spec = prev ? prev.spec : (reported.spec?.taints?.length ? { taints: reported.spec.taints } : {});
    return { labels, spec };
  }

  /** Create or update the persisted Node object, then record the status (one at a time per node). */
  #register(name: string): Promise<void> {
    const running = this.#registering.get(name);
    if (running) { this.#again.add(name); return running; }
    const run = (async () => {
      for (let i = 0; i < 5; i++) {
        this.#again.delete(name);
        const reported = this.#latest.get(name);
        if (!reported) return;
        const { store } = this.ctx;
        const prev = store.get<Node>('Node', undefined, name);
        const meta = this.#wantedMeta(name, reported, prev);
        try {
          if (!prev) {
            await store.commit([{ type: 'create', obj: { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: meta.labels }, spec: meta.spec ?? {} } as Node }]);
            this.ctx.events.record({ kind: 'Node', name }, 'Normal', 'RegisteredNode', `Node ${name} event: Registered Node ${name} in Controller`);
          } else if (!sameMeta(prev, meta)) {
            const next = structuredClone(prev) as Node;
            delete next.status;
            next.metadata.labels = meta.labels;
            await store.commit([{ type: 'update', obj: next }]);
          }
        } catch (err) {
          if (!(err instanceof StoreError)) {
            this.ctx.logger.warn({ node: name, err: (err as Error).message }, 'cannot register the node yet');
            return;
          }
        }
        const now = store.get<Node>('Node', undefined, name);
        if (now) store.setNodeStatus(name, this.#latest.get(name)?.status ?? {}, now.metadata.uid);
        this.#enqueue?.(name);
        if (!this.#again.has(name)) return;
      }
    })().finally(() => this.#registering.delete(name));
    this.#registering.set(name, run);
    return run;
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
    const orphans = Array.isArray(msg.orphans)
      ? msg.orphans.filter((o): o is OrphanPod => Boolean(o && typeof o.uid === 'string' && typeof o.name === 'string' && typeof o.namespace === 'string')).slice(0, 1000)
      : [];
    if (orphans.length) this.#orphans.set(msg.node, orphans);
    else this.#orphans.delete(msg.node);
    const lineage = this.ctx.store.lineage;
    if (orphans.some((o) => o.reason === 'NewerThanStore' && (o.lineage === undefined || o.lineage === lineage))) void this.#newLineage(msg.node);
  }

  /** Pods that run on nodes but that the desired state does not know (kept, never removed on a guess). */
  orphans(): Array<{ node: string; orphan: OrphanPod }> {
    const out: Array<{ node: string; orphan: OrphanPod }> = [];
    for (const [node, list] of this.#orphans) for (const orphan of list) out.push({ node, orphan });
    return out;
  }

  /**
   * A node runs containers made from a newer state than the store holds: writes were lost (a
   * shortened log). A new lineage makes those containers orphans of another history for good,
   * so later writes cannot make them look deletable.
   */
  async #newLineage(node: string): Promise<void> {
    if (this.#rotating) return;
    this.#rotating = true;
    try {
      this.ctx.logger.warn({ node, lineage: this.ctx.store.lineage }, 'a node runs containers newer than the desired state (writes were lost): starting a new lineage so they are kept as orphans until pruned or deleted');
      await this.ctx.store.commit([{ type: 'meta', key: 'lineage', value: this.ctx.random.uuid() }, { type: 'meta', key: 'prune', value: false }]);
    } catch (err) {
      this.ctx.logger.warn({ err: (err as Error).message }, 'cannot start a new lineage yet');
    } finally {
      this.#rotating = false;
    }
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
    store.setNodeStatus(nodeName, { ...(node.status ?? {}), conditions }, node.metadata.uid);
    this.ctx.events.record({ kind: 'Node', name: nodeName, uid: node.metadata.uid as string }, 'Normal', 'NodeNotReady', `Node ${nodeName} status is now: NodeNotReady (${message})`);
  }

  // --- Controller: checks each node's heartbeat at the time it would expire ---

  start(queue: { add(k: string): void }): void {
    this.#since = this.ctx.clock.now();
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
    // a node this leader has not heard from yet gets one grace period from the election
    const reported = this.#heartbeats.get(nodeName) ?? this.#since;
    const contactMs = reported === 0 ? undefined : this.opts.contact?.(nodeName);
    // a node that went offline (last will) stays so until it reports again
    const last = contactMs !== undefined ? Math.max(reported, now - contactMs) : reported;
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
