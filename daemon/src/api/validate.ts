/**
 * Manifest validation: is this object something pifleet can store? Two layers, all
 * problems reported at once, never a throw whatever the input (null, 42, [], wrong types):
 *  1. the Kubernetes OpenAPI schema of the kind (kubernetes-models, loaded lazily per
 *     kind on first use: each costs ~100 ms to load), for types, required fields, enums;
 *  2. the rules the schema lacks (names, labels, sizes, selectors, ports, probes,
 *     volumes, quantities, restart policies, cron schedules...), with Kubernetes' wording.
 * Fields Kubernetes does not know are errors too (kubectl's strict field validation), with a
 * "did you mean" for typos; a top-level `status` is the system's and is not checked.
 * validateUpdate adds the rules that compare a new version with the stored one (immutable
 * fields). Paths are kubectl's (`spec.template.spec.containers[0].image`).
 */
import { KINDS, kindInfo } from './kinds.js';
import type { KObject } from './types.js';
import { formatPath, reasons as R, type FieldError } from './errors.js';
import { dns1035Label, dns1123Label, dns1123Subdomain } from './names.js';
import { effectiveSecretData } from './defaults.js';
import { Errs, isInt, isObj, isStr, objectMeta, annotationsMap, MAX_OBJECT_BYTES, type NameRule, type Obj } from './validation/common.js';
import { schemaErrors } from './validation/schema.js';
import { podSpec, POD_RESTART } from './validation/pod.js';
import { replicatedSpec, deploymentSpec, daemonSetSpec, jobSpec, cronJobSpec } from './validation/workloads.js';
import { serviceSpec, configMap, secret } from './validation/config.js';
import { unknownFields } from './validation/fields.js';

export { MAX_OBJECT_BYTES, MAX_ANNOTATIONS_BYTES, MAX_DATA_BYTES, MAX_CRONJOB_NAME, SUPPORTED_VOLUME_TYPES } from './validation/common.js';
export { scheduleProblem, timeZoneProblem } from './validation/workloads.js';
export { limitProblems, resolveLimits, DEFAULT_LIMITS, type WorkloadLimits } from './validation/limits.js';
export { base64Problem, NODE_PORT_MIN, NODE_PORT_MAX } from './validation/config.js';

// ------------------------------------------------------------------ entry points

function supportedKinds(): string {
  const by = new Map<string, string[]>();
  for (const k of KINDS) if (k.appliable) by.set(k.apiVersion, [...(by.get(k.apiVersion) ?? []), k.kind]);
  return [...by].map(([v, ks]) => `${v} ${ks.join(', ')}`).join('; ');
}

function nameRuleFor(kind: string): NameRule {
  if (kind === 'Namespace') return dns1123Label;
  if (kind === 'Service') return dns1035Label;
  return dns1123Subdomain;
}

function byteSize(raw: unknown): number | undefined {
  try {
    return Buffer.byteLength(JSON.stringify(raw));
  } catch {
    return undefined;
  }
}

function collect(raw: unknown): FieldError[] {
  const e = new Errs();
  if (!isObj(raw)) {
    e.add([], R.invalid(raw, 'a manifest must be a mapping (object) with apiVersion, kind, metadata and spec'));
    return e.list;
  }
  const kind = raw.kind;
  if (kind === undefined || kind === null || kind === '') {
    e.add(['kind'], R.required(`the object has no kind; pifleet serves ${supportedKinds()}`), []);
    return e.list;
  }
  const info = isStr(kind) ? kindInfo(kind) : undefined;
  if (!info) {
    e.add(['kind'], R.invalid(kind, `pifleet does not serve this kind; it serves ${supportedKinds()}`));
    return e.list;
  }
  if (raw.apiVersion === undefined || raw.apiVersion === null || raw.apiVersion === '') {
    e.add(['apiVersion'], R.required(`${info.kind} is served as apiVersion ${info.apiVersion}`), []);
    return e.list;
  }
  if (raw.apiVersion !== info.apiVersion) {
    e.add(['apiVersion'], R.invalid(raw.apiVersion, `${info.kind} is served as apiVersion ${info.apiVersion}`));
    return e.list;
  }
  const size = byteSize(raw);
  if (size === undefined) {
    e.add([], R.invalid('', 'the object cannot be written as JSON'));
    return e.list;
  }
  if (size > MAX_OBJECT_BYTES) {
    const md = isObj(raw.metadata) ? raw.metadata : {};
    const name = isStr(md.name) && md.name !== '' ? ` "${md.name}"` : '';
    e.add([], `Request entity too large: ${info.kind}${name} is ${size} bytes as JSON, over the limit of ${MAX_OBJECT_BYTES} bytes (1.5 MiB, Kubernetes' request limit); keep large files in images or host paths`);
    // the cheap metadata rule that most often explains it, with its own field path
    annotationsMap(e, md.annotations, ['metadata', 'annotations']);
    return e.list;
  }
  unknownFields(e, info.kind, raw);
  objectMeta(e, raw.metadata, info.kind, nameRuleFor(info.kind));
  const spec = raw.spec;
  switch (info.kind) {
    case 'Pod':
      podSpec(e, spec, ['spec'], POD_RESTART, []);
      break;
    case 'Deployment':
    case 'ReplicaSet':
    case 'DaemonSet':
      if (spec === undefined || spec === null) e.add(['spec', 'selector'], R.required(), []);
      if (!isObj(spec)) break;
      replicatedSpec(e, info.kind, spec);
      if (info.kind === 'Deployment') deploymentSpec(e, spec);
      if (info.kind === 'DaemonSet') daemonSetSpec(e, spec);
      break;
    case 'Job':
      jobSpec(e, spec, ['spec'], []);
      break;
    case 'CronJob':
      if (spec === undefined || spec === null) e.add(['spec', 'schedule'], R.required(), []);
      if (isObj(spec)) cronJobSpec(e, spec);
      break;
    case 'Service':
      serviceSpec(e, spec);
      break;
    case 'ConfigMap':
      configMap(e, raw);
      break;
    case 'Secret':
      secret(e, raw);
      break;
    default:
      break;
  }
  // our rules speak Kubernetes' language and know more: they win over the schema's at the same path
  const ours = new Set(e.list.map((x) => formatPath(x.path)));
  const schema = schemaErrors(info.kind, raw).filter((x) => !ours.has(formatPath(x.path)));
  return [...schema, ...e.list];
}

function dedupe(list: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return list.filter((x) => {
    const k = `${formatPath(x.path)}\u0000${x.reason}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** All problems of one object, with paths as segments (load.ts maps them to line:col). */
export function validateFields(raw: unknown): FieldError[] {
  try {
    return dedupe(collect(raw));
  } catch (err) {
    return [{ path: [], reason: `Internal error: the object could not be validated (${(err as Error).message}); please report this with the manifest` }];
  }
}

/** All problems of one object (a manifest or a stored object), [] when it is valid. Never throws. */
export function validateObject(raw: unknown): Array<{ path: string; reason: string }> {
  return validateFields(raw).map((x) => ({ path: formatPath(x.path), reason: x.reason }));
}

// ------------------------------------------------------------------ updates

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

function updateRules(existing: Obj, next: Obj): FieldError[] {
  const e = new Errs();
  if (next.kind !== existing.kind) e.add(['kind'], R.immutable(next.kind));
  const em = isObj(existing.metadata) ? existing.metadata : {};
  const nm = isObj(next.metadata) ? next.metadata : {};
  if (nm.name !== em.name) e.add(['metadata', 'name'], R.immutable(nm.name));
  if ((nm.namespace ?? '') !== (em.namespace ?? '') && nm.namespace !== undefined) e.add(['metadata', 'namespace'], R.immutable(nm.namespace));
  if (e.list.length) return e.list;
  const es = isObj(existing.spec) ? existing.spec : {};
  const ns = isObj(next.spec) ? next.spec : {};
  switch (existing.kind) {
    case 'Deployment':
    case 'ReplicaSet':
    case 'DaemonSet':
      if (!deepEqual(es.selector, ns.selector)) e.add(['spec', 'selector'], R.immutable(ns.selector ?? null));
      break;
    case 'Job': {
      if (!deepEqual(es.selector, ns.selector)) e.add(['spec', 'selector'], R.immutable(ns.selector ?? null));
      if (!deepEqual(es.template, ns.template)) e.add(['spec', 'template'], R.immutable(ns.template ?? null));
      if ((es.completionMode ?? 'NonIndexed') !== (ns.completionMode ?? 'NonIndexed')) e.add(['spec', 'completionMode'], R.immutable(ns.completionMode ?? null));
      else if (!deepEqual(es.completions, ns.completions)) {
        // Kubernetes' elastic Indexed Jobs: completions may change together with parallelism
        const elastic = ns.completionMode === 'Indexed' && isInt(ns.completions) && ns.completions === ns.parallelism;
        if (!elastic) e.add(['spec', 'completions'], R.immutable(ns.completions ?? null));
      }
      break;
    }
    case 'Secret':
    case 'ConfigMap': {
      if (existing.kind === 'Secret' && (existing.type ?? 'Opaque') !== (next.type ?? 'Opaque')) e.add(['type'], R.immutable(next.type ?? null));
      if (existing.immutable === true) {
        const immut = R.forbidden('field is immutable when `immutable` is set');
        if (next.immutable !== true) e.add(['immutable'], immut);
        if (existing.kind === 'Secret') {
          let a: unknown;
          let b: unknown;
          try {
            a = effectiveSecretData(existing);
            b = effectiveSecretData(next);
          } catch {
            b = next.data;
            a = existing.data;
          }
          if (!deepEqual(a, b)) e.add(['data'], immut);
        } else {
          if (!deepEqual(existing.data ?? {}, next.data ?? {})) e.add(['data'], immut);
          if (!deepEqual(existing.binaryData ?? {}, next.binaryData ?? {})) e.add(['binaryData'], immut);
        }
      }
      break;
    }
    case 'Service': {
      const a = es.clusterIP;
      const b = ns.clusterIP;
      if (isStr(a) && a !== '' && isStr(b) && b !== '' && a !== b) e.add(['spec', 'clusterIP'], R.immutable(b));
      break;
    }
    default:
      break;
  }
  return e.list;
}

/** Problems of replacing `existing` with `next` (immutable fields); validate `next` itself with validateObject. Never throws. */
export function validateUpdate(existing: KObject, next: KObject): Array<{ path: string; reason: string }> {
  try {
    if (!isObj(existing) || !isObj(next)) return [{ path: '', reason: R.invalid(next, 'an update needs two objects') }];
    return updateRules(existing as Obj, next as Obj).map((x) => ({ path: formatPath(x.path), reason: x.reason }));
  } catch (err) {
    return [{ path: '', reason: `Internal error: the update could not be validated (${(err as Error).message}); please report this` }];
  }
}
