/**
 * Configurable ceilings on how many pods one object may ask for: Deployment and ReplicaSet
 * `spec.replicas`, Job `spec.parallelism` and `spec.completions` (and a CronJob's
 * `spec.jobTemplate.spec.*`). They are the daemon's (config `limits:`), so only the API server
 * enforces them: the CLI validates without knowing the daemon's config. Messages have
 * Kubernetes' field-error shape and name the config key:
 * `spec.replicas: Invalid value: 1000000000: must be less than or equal to 1000 (limits.maxReplicas)`.
 *
 * Ratcheting, as Kubernetes does for rules that tighten: on an update, a value that does not
 * grow beyond the stored one is accepted even when it is over the ceiling (a ceiling lowered in
 * the config does not make existing objects impossible to edit or scale down).
 */
import { formatPath, reasons as R, type FieldPath } from '../errors.js';
import { isInt, isObj, type Obj } from './common.js';

export interface WorkloadLimits {
  /** Deployment and ReplicaSet spec.replicas. */
  maxReplicas: number;
  /** Job spec.parallelism (and a CronJob's jobTemplate). */
  maxParallelism: number;
  /** Job spec.completions (and a CronJob's jobTemplate); a Job keeps its finished pods until it is deleted. */
  maxCompletions: number;
}

/** The built-in ceilings (config `limits:` changes them; config/pifleet.yaml documents them). */
export const DEFAULT_LIMITS: Readonly<WorkloadLimits> = Object.freeze({
  maxReplicas: 1000,
  maxParallelism: 1000,
  maxCompletions: 1000,
});

/** The ceilings in force: `limits` where it sets a positive integer, DEFAULT_LIMITS elsewhere. */
export function resolveLimits(limits: Partial<WorkloadLimits> = {}): WorkloadLimits {
  const out: WorkloadLimits = { ...DEFAULT_LIMITS };
  for (const k of Object.keys(out) as Array<keyof WorkloadLimits>) {
    const v = limits[k];
    if (isInt(v) && v > 0) out[k] = v;
  }
  return out;
}

interface Check { path: FieldPath; limit: keyof WorkloadLimits }

function checksFor(kind: unknown): Check[] {
  switch (kind) {
    case 'Deployment':
    case 'ReplicaSet':
      return [{ path: ['spec', 'replicas'], limit: 'maxReplicas' }];
    case 'Job':
      return [
        { path: ['spec', 'parallelism'], limit: 'maxParallelism' },
        { path: ['spec', 'completions'], limit: 'maxCompletions' },
      ];
    case 'CronJob':
      return [
        { path: ['spec', 'jobTemplate', 'spec', 'parallelism'], limit: 'maxParallelism' },
        { path: ['spec', 'jobTemplate', 'spec', 'completions'], limit: 'maxCompletions' },
      ];
    default:
      return [];
  }
}

function valueAt(o: unknown, path: FieldPath): unknown {
  let cur = o;
  for (const seg of path) cur = isObj(cur) ? (cur as Obj)[String(seg)] : undefined;
  return cur;
}

/**
 * Fields of `obj` over their ceiling, [] when none; `existing` is the stored version on an
 * update (a value not above the stored one passes). Non-integers are left to validateObject.
 * Never throws.
 */
export function limitProblems(obj: unknown, limits: Partial<WorkloadLimits> = {}, existing?: unknown): Array<{ path: string; reason: string }> {
  if (!isObj(obj)) return [];
  const all = resolveLimits(limits);
  const out: Array<{ path: string; reason: string }> = [];
  const sameKind = isObj(existing) && existing.kind === obj.kind;
  for (const c of checksFor(obj.kind)) {
    const v = valueAt(obj, c.path);
    const max = all[c.limit];
    if (!isInt(v) || v <= max) continue;
    const was = sameKind ? valueAt(existing, c.path) : undefined;
    if (isInt(was) && v <= was) continue;
    out.push({ path: formatPath(c.path), reason: R.invalid(v, `must be less than or equal to ${max} (limits.${c.limit})`) });
  }
  return out;
}
