/**
 * Pod facts and pod-making shared by the workload controllers (ReplicaSet, DaemonSet, Job)
 * and the leader's other loops.
 */
import { createHash } from 'node:crypto';
import type { KObject, LabelSelector, OwnerReference, Pod, PodTemplateSpec } from '../api/types.js';
import { objectKey } from '../api/kinds.js';
import { labelSelectorMatches } from '../api/selectors.js';
import type { Mutation } from '../state/store.js';
import { rfc3339 } from '../lib/time.js';

export function controllerRef(obj: KObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller);
}

/** The store key of the object's controller (same namespace). */
export function controllerKey(obj: KObject, kind?: string): string | undefined {
  const ref = controllerRef(obj);
  if (!ref || (kind && ref.kind !== kind)) return undefined;
  return objectKey(ref.kind, obj.metadata.namespace, ref.name);
}

export function ownerReferenceTo(owner: KObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid as string,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function isOwnedBy(obj: KObject, owner: KObject): boolean {
  return controllerRef(obj)?.uid === owner.metadata.uid;
}

export function podPhase(pod: Pod): string {
  return pod.status?.phase ?? 'Pending';
}

export function isTerminal(pod: Pod): boolean {
  const p = podPhase(pod);
  return p === 'Succeeded' || p === 'Failed';
}

/** Counted by controllers: not finished and not being deleted. */
export function isActive(pod: Pod): boolean {
  return !isTerminal(pod) && !pod.metadata.deletionTimestamp;
}

function readyCondition(pod: Pod) {
  return pod.status?.conditions?.find((c) => c.type === 'Ready');
}

export function isReady(pod: Pod): boolean {
  return readyCondition(pod)?.status === 'True';
}

/** Ready for at least minReadySeconds. */
export function isAvailable(pod: Pod, minReadySeconds: number, now: number): boolean {
  const c = readyCondition(pod);
  if (c?.status !== 'True') return false;
  if (minReadySeconds <= 0) return true;
  const since = c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : now;
  return since + minReadySeconds * 1000 <= now;
}

/** Milliseconds until a ready pod becomes available, or undefined when it already is / is not ready. */
export function untilAvailable(pod: Pod, minReadySeconds: number, now: number): number | undefined {
  const c = readyCondition(pod);
  if (c?.status !== 'True' || minReadySeconds <= 0) return undefined;
  const since = c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : now;
  const left = since + minReadySeconds * 1000 - now;
  return left > 0 ? left : undefined;
}

/** A Pod from a template, owned by owner. */
export function podFromTemplate(template: PodTemplateSpec, owner: KObject, name: string, extra: { labels?: Record<string, string>; annotations?: Record<string, string>; nodeName?: string } = {}): Pod {
  const spec = structuredClone(template.spec ?? { containers: [] });
  if (extra.nodeName) spec.nodeName = extra.nodeName;
  const labels = { ...(template.metadata?.labels ?? {}), ...(extra.labels ?? {}) };
  const annotations = { ...(template.metadata?.annotations ?? {}), ...(extra.annotations ?? {}) };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: owner.metadata.namespace ?? 'default',
      labels,
      ...(Object.keys(annotations).length ? { annotations } : {}),
      ownerReferences: [ownerReferenceTo(owner)],
    },
    spec,
  };
}

/**
 * Graceful deletion: an unscheduled pod goes at once; a scheduled one gets a deletionTimestamp
 * and its node stops it (grace period) before the pod is removed.
 */
export function deletePodMutation(pod: Pod, now: number, graceSeconds?: number): Mutation {
  if (!pod.spec.nodeName) {
    return { type: 'delete', kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid as string };
  }
  const grace = graceSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
  const obj = structuredClone(pod) as Pod;
  delete obj.status;
  obj.metadata.deletionTimestamp = pod.metadata.deletionTimestamp ?? rfc3339(now + grace * 1000);
  obj.metadata.deletionGracePeriodSeconds = pod.metadata.deletionGracePeriodSeconds ?? grace;
  return { type: 'update', obj };
}

/** Kubernetes-style short hash of a template (pod-template-hash, controller-revision-hash). */
export function templateHash(obj: unknown, collisionCount = 0): string {
  const h = createHash('sha256').update(canonicalJson(obj)).update(String(collisionCount)).digest();
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let out = '';
  for (let i = 0; i < 10; i++) out += alphabet[(h[i] as number) % alphabet.length];
  return out;
}

export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(v as object).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** When the pod's Ready condition last turned True (ms), or undefined. */
function readySince(pod: Pod): number | undefined {
  const c = readyCondition(pod);
  if (c?.status !== 'True' || !c.lastTransitionTime) return undefined;
  const t = Date.parse(c.lastTransitionTime);
  return Number.isFinite(t) ? t : undefined;
}

function maxRestarts(pod: Pod): number {
  return (pod.status?.containerStatuses ?? []).reduce((m, c) => Math.max(m, c.restartCount ?? 0), 0);
}

/**
 * Order for choosing which pods to delete first when scaling down (Kubernetes' ActivePods
 * ranking): unscheduled before scheduled, Pending before Unknown before Running, not ready
 * before ready, ready for a shorter time first, more restarts first, newer first.
 */
export function deletionRank(a: Pod, b: Pod): number {
  const score = (p: Pod): number[] => [
    p.spec.nodeName ? 1 : 0,
    podPhase(p) === 'Pending' ? 0 : podPhase(p) === 'Unknown' ? 1 : 2,
    isReady(p) ? 1 : 0,
  ];
  const sa = score(a);
  const sb = score(b);
  for (let i = 0; i < sa.length; i++) if (sa[i] !== sb[i]) return (sa[i] as number) - (sb[i] as number);
  // both ready: the one ready for less time goes first
  const ra = readySince(a);
  const rb = readySince(b);
  if (ra !== undefined && rb !== undefined && ra !== rb) return rb - ra;
  const restarts = maxRestarts(b) - maxRestarts(a);
  if (restarts !== 0) return restarts;
  // newer first
  return (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '');
}

/**
 * Does a label selector (matchLabels + matchExpressions) select these labels? Unlike
 * api/selectors (where an empty selector matches everything), an empty, missing or invalid
 * selector selects nothing here: a controller must never claim every pod of a namespace.
 */
export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return false;
  if (Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0) return false;
  try {
    return labelSelectorMatches(selector, labels);
  } catch {
    return false;
  }
}
