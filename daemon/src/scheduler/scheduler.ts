/**
 * Placement, as pure code in the style of Nomad's feasibility + ranking: filters say which
 * nodes can take a pod (and why not), scores pick the best of them. No store, no clock:
 * (pod, nodes with their pods) -> node or reasons. The DaemonSet controller reuses the filters.
 */
import type { Node, Pod, Container } from '../api/types.js';
import { parseQuantity as parseApiQuantity } from '../api/quantity.js';

export interface NodeInfo {
  node: Node;
  /** Pods bound to the node that still hold resources (not finished). */
  pods: Pod[];
}

export interface ScheduleResult {
  node?: string;
  /** Kubernetes-style: "0/3 nodes are available: 2 Insufficient memory, 1 node(s) didn't match Pod's node affinity/selector." */
  message?: string;
  reasons?: Record<string, number>;
}

/** Kubernetes quantity -> number (cpu in cores, memory in bytes); absent -> 0, invalid -> NaN. */
export function quantity(q: string | number | undefined): number {
  if (q === undefined) return 0;
  return parseApiQuantity(typeof q === 'string' ? q.trim() : q) ?? Number.NaN;
}

export interface Resources { cpu: number; memory: number; pods: number }

function containerRequests(c: Container): { cpu: number; memory: number } {
  const req = c.resources?.requests ?? {};
  const lim = c.resources?.limits ?? {};
  // requests default to limits when only limits are given (as Kubernetes defaults them)
  return {
    cpu: quantity((req.cpu ?? lim.cpu) as string | undefined) || 0,
    memory: quantity((req.memory ?? lim.memory) as string | undefined) || 0,
  };
}

/** A pod's requests: sum of containers, at least the largest init container. */
export function podRequests(pod: Pod): { cpu: number; memory: number } {
  let cpu = 0;
  let memory = 0;
  for (const c of pod.spec.containers ?? []) {
    const r = containerRequests(c);
    cpu += r.cpu;
    memory += r.memory;
  }
  for (const c of pod.spec.initContainers ?? []) {
    const r = containerRequests(c);
    cpu = Math.max(cpu, r.cpu);
    memory = Math.max(memory, r.memory);
  }
  return { cpu, memory };
}

/** Pods a node takes when it does not say (Kubernetes' kubelet default --max-pods, and what pifleet nodes report). */
export const DEFAULT_MAX_PODS = 110;

export function allocatable(node: Node): Resources {
  const a = (node.status?.allocatable ?? node.status?.capacity ?? {}) as Record<string, string>;
  // a node that reports pods: "0" takes none (only an absent or unreadable value means the default)
  const pods = quantity(a.pods);
  return { cpu: quantity(a.cpu) || 0, memory: quantity(a.memory) || 0, pods: a.pods === undefined || !Number.isFinite(pods) ? DEFAULT_MAX_PODS : Math.floor(pods) };
}

export function isNodeReady(node: Node): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function matchExpression(labels: Record<string, string>, e: { key: string; operator: string; values?: string[] }): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, e.key);
  const v = labels[e.key];
  switch (e.operator) {
    case 'In': return has && (e.values ?? []).includes(v as string);
    case 'NotIn': return !has || !(e.values ?? []).includes(v as string);
    case 'Exists': return has;
    case 'DoesNotExist': return !has;
    case 'Gt': return has && Number(v) > Number(e.values?.[0]);
    case 'Lt': return has && Number(v) < Number(e.values?.[0]);
    default: return false;
  }
}

/** nodeSelector and required node affinity. */
export function matchesNodeSelector(pod: Pod, node: Node): boolean {
  const labels = (node.metadata.labels ?? {}) as Record<string, string>;
  for (const [k, v] of Object.entries(pod.spec.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const required = pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (required?.nodeSelectorTerms?.length) {
    const fields: Record<string, string> = { 'metadata.name': node.metadata.name };
    const ok = required.nodeSelectorTerms.some((term) =>
      (term.matchExpressions ?? []).every((e) => matchExpression(labels, e)) &&
      (term.matchFields ?? []).every((e) => matchExpression(fields, e)));
    if (!ok) return false;
  }
  return true;
}

export function tolerates(pod: Pod, taint: { key: string; value?: string; effect: string }): boolean {
  return (pod.spec.tolerations ?? []).some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.operator === 'Exists') return !t.key || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

/** The first taint with effect NoSchedule/NoExecute the pod does not tolerate. */
export function untoleratedTaint(pod: Pod, node: Node): { key: string; value?: string; effect: string } | undefined {
  return (node.spec?.taints ?? []).find((t) => (t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !tolerates(pod, t));
}

function hostPorts(pod: Pod): string[] {
  const out: string[] = [];
  for (const c of pod.spec.containers ?? []) for (const p of c.ports ?? []) if (p.hostPort) out.push(`${p.protocol ?? 'TCP'}/${p.hostIP ?? '0.0.0.0'}/${p.hostPort}`);
  return out;
}

function portsConflict(a: string[], b: string[]): boolean {
  for (const x of a) {
    const [px, ix, nx] = x.split('/');
    for (const y of b) {
      const [py, iy, ny] = y.split('/');
      if (px === py && nx === ny && (ix === iy || ix === '0.0.0.0' || iy === '0.0.0.0')) return true;
    }
  }
  return false;
}

/**
 * Why the node cannot take the pod (empty when it can), messages as Kubernetes. As the
 * Kubernetes scheduler's filter plugins do, the first failing filter decides, in its order:
 * NodeUnschedulable, TaintToleration (a node not Ready carries node.kubernetes.io/not-ready or
 * unreachable),
 * NodeAffinity, NodePorts, NodeResourcesFit (which may give several reasons at once).
 */
export function unfitReasons(pod: Pod, info: NodeInfo, opts: { ignoreResources?: boolean } = {}): string[] {
  const { node } = info;
  if (node.spec?.unschedulable && !tolerates(pod, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' })) return ['node(s) were unschedulable'];
  if (!isNodeReady(node)) {
    // Kubernetes taints such nodes: unreachable when nobody hears from them, not-ready otherwise
    const unknown = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'Unknown');
    return [`node(s) had untolerated taint {node.kubernetes.io/${unknown ? 'unreachable' : 'not-ready'}: }`];
  }
  const taint = untoleratedTaint(pod, node);
  if (taint) return [`node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`];
  if (!matchesNodeSelector(pod, node)) return ["node(s) didn't match Pod's node affinity/selector"];
  const mine = hostPorts(pod);
  if (mine.length && info.pods.some((p) => portsConflict(mine, hostPorts(p)))) return ["node(s) didn't have free ports for the requested pod ports"];
  const reasons: string[] = [];
  if (!opts.ignoreResources) {
    const alloc = allocatable(node);
    const used = info.pods.reduce((acc, p) => { const r = podRequests(p); return { cpu: acc.cpu + r.cpu, memory: acc.memory + r.memory }; }, { cpu: 0, memory: 0 });
    const want = podRequests(pod);
    if (info.pods.length + 1 > alloc.pods) reasons.push('Too many pods');
    if (want.cpu > 0 && used.cpu + want.cpu > alloc.cpu + 1e-9) reasons.push('Insufficient cpu');
    if (want.memory > 0 && used.memory + want.memory > alloc.memory) reasons.push('Insufficient memory');
  }
  return reasons;
}

function ownerUid(pod: Pod): string | undefined {
  return pod.metadata.ownerReferences?.find((r) => r.controller)?.uid;
}

/** Pick a node: feasible ones ranked by spreading the pod's siblings, then least allocated, then name. */
export function schedule(pod: Pod, nodes: NodeInfo[]): ScheduleResult {
  const reasons: Record<string, number> = {};
  const feasible: NodeInfo[] = [];
  for (const info of nodes) {
    const why = unfitReasons(pod, info);
    if (why.length === 0) feasible.push(info);
    else for (const r of why) reasons[r] = (reasons[r] ?? 0) + 1;
  }
  if (feasible.length === 0) {
    // as Kubernetes' FitError: "<count> <reason>" strings in plain string order
    const parts = Object.entries(reasons).map(([r, n]) => `${n} ${r}`).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return { reasons, message: `0/${nodes.length} nodes are available${parts.length ? `: ${parts.join(', ')}` : ''}.` };
  }
  const owner = ownerUid(pod);
  const want = podRequests(pod);
  let best: { info: NodeInfo; score: number[] } | undefined;
  for (const info of feasible) {
    const siblings = owner ? info.pods.filter((p) => ownerUid(p) === owner).length : 0;
    const alloc = allocatable(info.node);
    const used = info.pods.reduce((acc, p) => { const r = podRequests(p); return { cpu: acc.cpu + r.cpu, memory: acc.memory + r.memory }; }, { cpu: 0, memory: 0 });
    const cpuFrac = alloc.cpu > 0 ? (used.cpu + want.cpu) / alloc.cpu : 1;
    const memFrac = alloc.memory > 0 ? (used.memory + want.memory) / alloc.memory : 1;
    // lower is better: fewer siblings, less allocated, fewer pods
    const score = [siblings, Math.round(((cpuFrac + memFrac) / 2) * 1000), info.pods.length];
    if (!best || lexLess(score, best.score) || (lexEqual(score, best.score) && info.node.metadata.name < best.info.node.metadata.name)) best = { info, score };
  }
  return { node: best!.info.node.metadata.name };
}

function lexLess(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return (a[i] as number) < (b[i] as number);
  return false;
}
function lexEqual(a: number[], b: number[]): boolean {
  return a.every((v, i) => v === b[i]);
}
