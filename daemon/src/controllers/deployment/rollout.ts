/**
 * The arithmetic of Deployment rollouts, pure, after kubernetes/pkg/controller/deployment
 * (rolling.go, sync.go, util/deployment_util.go): how far the new ReplicaSet may grow and the
 * old ones shrink so that at most maxSurge extra pods exist and at most maxUnavailable are
 * unavailable.
 */
import type { Deployment, ReplicaSet } from '../../api/types.js';

type IntOrString = number | string | undefined;

/** Resolve an int-or-percent against total; percentages round up (surge) or down (unavailable). */
export function resolveIntOrPercent(v: IntOrString, total: number, roundUp: boolean): number {
  if (v === undefined) return 0;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) {
    const n = Number(v);
    if (Number.isInteger(n)) return n;
    throw new Error(`invalid value ${JSON.stringify(v)}: want an integer or a percentage such as 25%`);
  }
  const x = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(x) : Math.floor(x);
}

/** [maxSurge, maxUnavailable]; both 0 would deadlock, so unavailable becomes 1 (as Kubernetes). */
export function surgeAndUnavailable(d: Deployment): [number, number] {
  const replicas = d.spec.replicas ?? 1;
  const ru = d.spec.strategy?.rollingUpdate;
  const surge = resolveIntOrPercent(ru?.maxSurge ?? '25%', replicas, true);
  let unavailable = resolveIntOrPercent(ru?.maxUnavailable ?? '25%', replicas, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return [surge, Math.min(unavailable, replicas)];
}

export const specReplicas = (rs: ReplicaSet): number => rs.spec.replicas ?? 0;
/**
 * Available pods of a ReplicaSet, never more than its spec: right after the Deployment lowered
 * the spec, the status still counts pods the ReplicaSet is about to delete (not-ready ones
 * first), and trusting it would let a second pass scale down below the minimum available.
 */
export const availableReplicas = (rs: ReplicaSet): number =>
  Math.min((rs.status as { availableReplicas?: number } | undefined)?.availableReplicas ?? 0, specReplicas(rs));
export const sum = (rss: ReplicaSet[], f: (rs: ReplicaSet) => number): number => rss.reduce((n, rs) => n + f(rs), 0);

/** The replica count the new ReplicaSet may have now (NewRSNewReplicas). */
export function newRSReplicas(d: Deployment, all: ReplicaSet[], newRS: ReplicaSet): number {
  const replicas = d.spec.replicas ?? 1;
  if (d.spec.strategy?.type === 'Recreate') return replicas;
  const [surge] = surgeAndUnavailable(d);
  const current = sum(all, specReplicas);
  const maxTotal = replicas + surge;
  if (current >= maxTotal) return specReplicas(newRS);
  const scaleUp = Math.min(maxTotal - current, replicas - specReplicas(newRS));
  return specReplicas(newRS) + Math.max(0, scaleUp);
}

/**
 * How many pods the old ReplicaSets may lose now, and from which: first their unhealthy pods
 * (cleanupUnhealthyReplicas), then available ones while availability stays above
 * replicas - maxUnavailable (scaleDownOldReplicaSetsForRollingUpdate). Returns new sizes.
 */
export function scaleDownOld(d: Deployment, all: ReplicaSet[], newRS: ReplicaSet | undefined, old: ReplicaSet[]): Map<string, number> {
  const sizes = new Map<string, number>();
  const replicas = d.spec.replicas ?? 1;
  const oldCount = sum(old, specReplicas);
  if (oldCount === 0) return sizes;
  const [, maxUnavailable] = surgeAndUnavailable(d);
  const minAvailable = replicas - maxUnavailable;
  const allCount = sum(all, specReplicas);
  const newUnavailable = newRS ? specReplicas(newRS) - availableReplicas(newRS) : 0;
  const maxScaledDown = allCount - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) return sizes;
  const byAge = [...old].sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''));
  // 1. unhealthy replicas of old sets go first
  let budget = maxScaledDown;
  for (const rs of byAge) {
    if (budget <= 0) break;
    const size = sizes.get(rs.metadata.name) ?? specReplicas(rs);
    const unhealthy = size - availableReplicas(rs);
    if (unhealthy <= 0) continue;
    const n = Math.min(budget, unhealthy);
    sizes.set(rs.metadata.name, size - n);
    budget -= n;
  }
  // 2. then available ones, as far as availability allows
  const available = sum(all, availableReplicas);
  let total = available - minAvailable;
  if (total <= 0) return sizes;
  for (const rs of byAge) {
    if (total <= 0) break;
    const size = sizes.get(rs.metadata.name) ?? specReplicas(rs);
    if (size === 0) continue;
    const n = Math.min(size, total);
    sizes.set(rs.metadata.name, size - n);
    total -= n;
  }
  return sizes;
}
