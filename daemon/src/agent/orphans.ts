/**
 * Orphans (pure): containers of a pod the desired state does not hold, that may still not be
 * removed because the desired state cannot have deleted them. Every container carries the
 * lineage of the desired-state history and the pod's resourceVersion it was made from; when
 * the loaded desired state is another history (a repaired store) or older than the container
 * (a shortened store), the pod's absence says nothing, and, like the kubelet, the agent does
 * not garbage-collect on a guess: the containers keep running and are reported, until
 * `desired.prune`, a re-applied pod of the same namespace/name, or a prune request.
 */
import type { Pod, PodStatus } from '../api/types.js';
import type { OrphanPod } from '../broker/topics.js';
import { rfc3339 } from '../lib/time.js';
import { INFRA_CONTAINER, LABELS } from '../runtime/types.js';
import type { Observed } from './plan.js';
import { computePodStatus } from './status.js';

export type OrphanReason = OrphanPod['reason'];

/** Where a pod's containers came from: the desired-state lineage and the pod revision. */
export interface Provenance {
  lineage?: string;
  revision?: number;
}

/** The identity a pod's containers carry in their labels. */
export interface PodIdentity {
  namespace: string;
  name: string;
  uid: string;
}

const DECIMAL = /^\d{1,15}$/;

/** The labels stamping a new container with its provenance (none when unknown). */
export function provenanceLabels(lineage: string | undefined, pod: Pod): Record<string, string> {
  const rv = pod.metadata.resourceVersion;
  return {
    ...(typeof lineage === 'string' && lineage ? { [LABELS.lineage]: lineage } : {}),
    ...(typeof rv === 'string' && DECIMAL.test(rv) ? { [LABELS.podRevision]: rv } : {}),
  };
}

/** What one container's labels say. */
export function provenanceOfLabels(labels: Readonly<Record<string, string>>): Provenance {
  const lineage = labels[LABELS.lineage];
  const rv = labels[LABELS.podRevision];
  return {
    ...(lineage ? { lineage } : {}),
    ...(rv !== undefined && DECIMAL.test(rv) ? { revision: Number(rv) } : {}),
  };
}

/**
 * What a pod's containers say together: the lineage of the newest container that has one (a
 * later attempt was made from later knowledge) and the highest revision of any.
 */
export function provenanceOf(observed: readonly Observed[]): Provenance {
  let lineage: { value: string; at: number } | undefined;
  let revision: number | undefined;
  for (const o of observed) {
    const p = provenanceOfLabels(o.details.labels);
    if (p.lineage && (!lineage || o.details.createdAt > lineage.at)) lineage = { value: p.lineage, at: o.details.createdAt };
    if (p.revision !== undefined) revision = Math.max(revision ?? 0, p.revision);
  }
  return { ...(lineage ? { lineage: lineage.value } : {}), ...(revision !== undefined ? { revision } : {}) };
}

/** Why the desired state's silence about a pod does not mean it was deleted; undefined when it does. */
export function orphanReason(made: Provenance, desired: { lineage?: string; revision: number }): OrphanReason | undefined {
  if (made.lineage && desired.lineage && made.lineage !== desired.lineage) return 'OtherLineage';
  const rev = typeof desired.revision === 'number' && Number.isFinite(desired.revision) ? desired.revision : Number.NEGATIVE_INFINITY;
  if (made.revision !== undefined && made.revision > rev) return 'NewerThanStore';
  return undefined;
}

export interface UnownedInput {
  /** The pod's provenance: what the agent last saw of it in a desired message, else its containers' labels. */
  made: Provenance;
  desired: { lineage?: string; revision: number; prune?: boolean };
  /** A desired pod has this pod's namespace/name (the user applied it again). */
  reapplied: boolean;
  /** A prune request named this pod's uid. */
  pruneRequested: boolean;
}

export type UnownedDecision =
  | { remove: true; why: 'deleted' | 'prune' | 'reapplied' | 'requested'; reason?: OrphanReason }
  | { remove: false; reason: OrphanReason };

/** Remove the containers of a pod the desired state does not hold, or keep them as an orphan. */
export function decideUnowned(i: UnownedInput): UnownedDecision {
  const reason = orphanReason(i.made, i.desired);
  if (!reason) return { remove: true, why: 'deleted' };
  if (i.desired.prune === true) return { remove: true, why: 'prune', reason };
  if (i.reapplied) return { remove: true, why: 'reapplied', reason };
  if (i.pruneRequested) return { remove: true, why: 'requested', reason };
  return { remove: false, reason };
}

/** The identity of a pod from its containers' labels (the newest container that has them). */
export function identityOf(uid: string, observed: readonly Observed[]): PodIdentity | undefined {
  const newest = [...observed].sort((a, b) => b.details.createdAt - a.details.createdAt).find((o) => o.details.labels[LABELS.podName]);
  if (!newest) return undefined;
  const l = newest.details.labels;
  return { namespace: l[LABELS.podNamespace] || 'default', name: l[LABELS.podName] as string, uid };
}

/**
 * An orphan's status, computed as for any pod from what Docker shows. Its spec is not known any
 * more: the pod is rebuilt from its containers (restartPolicy Never, since the agent restarts
 * nothing of an orphan; no probes).
 */
export function orphanStatus(id: PodIdentity, observed: readonly Observed[], hostIP: string, now: number, previous?: PodStatus): PodStatus {
  const apps = observed.filter((o) => o.container !== INFRA_CONTAINER).sort((a, b) => a.details.createdAt - b.details.createdAt);
  const names = [...new Set(apps.map((o) => o.container))];
  const pod: Pod = {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: id.name, namespace: id.namespace, uid: id.uid },
    spec: {
      restartPolicy: 'Never',
      containers: names.map((name) => ({ name, image: apps.filter((o) => o.container === name).at(-1)?.details.image ?? '' })),
    },
  };
  const running = (o: Observed): boolean => o.details.running;
  const podIP = observed.find((o) => o.container === INFRA_CONTAINER && running(o))?.details.ipAddress ?? apps.find((o) => running(o) && o.details.ipAddress)?.details.ipAddress;
  const first = observed.reduce((m, o) => Math.min(m, o.details.startedAt ?? o.details.createdAt), Number.POSITIVE_INFINITY);
  return computePodStatus({
    pod, observed: [...observed], views: new Map(names.map((n) => [n, { ready: true, started: true }])),
    ...(podIP ? { podIP } : {}), hostIP,
    ...(Number.isFinite(first) ? { startTime: rfc3339(first) } : {}),
    ...(previous ? { previous } : {}),
    now,
  });
}

/** The Warning event's message: why the containers keep running, and what removes them. */
export function orphanMessage(id: PodIdentity, made: Provenance, reason: OrphanReason, desired: { lineage?: string; revision: number }): string {
  const why = reason === 'OtherLineage'
    ? `its containers were made from another history of the desired state (lineage ${made.lineage}, the leader has ${desired.lineage}), e.g. before a state repair`
    : `its containers were made from pod revision ${made.revision}, newer than the leader's desired state (revision ${desired.revision}): the store may have lost recent changes`;
  return `Pod ${id.namespace}/${id.name} (uid ${id.uid}) is not in the desired state but keeps running: ${why}. ` +
    `Remove it with "pifleet delete pod ${id.name} -n ${id.namespace}" or "pifleet state repair --prune", or apply it again to replace it.`;
}
