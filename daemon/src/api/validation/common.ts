/**
 * Shared pieces of manifest validation: the error collector, type guards for unknown
 * input, limits, and the rules several kinds use (object metadata, labels, annotations,
 * label selectors, ports).
 */
import { reasons as R, type FieldError, type FieldPath } from '../errors.js';
import { dns1123Label, labelKeyProblems, labelValueProblems, portNameProblems } from '../names.js';
import { fromLabelSelector, matches } from '../selectors.js';

/**
 * Largest object pifleet stores, as JSON: Kubernetes' (etcd's) request limit of 1.5 MiB, so a
 * ConfigMap or Secret with the full 1 MiB of data (MAX_DATA_BYTES) still fits with its metadata.
 */
export const MAX_OBJECT_BYTES = 1.5 * 1024 * 1024;
/** Kubernetes' limit on the total size of an object's annotations. */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;
/** Kubernetes' limit on a ConfigMap's or Secret's data. */
export const MAX_DATA_BYTES = 1024 * 1024;
/** A CronJob's name leaves 11 characters for the Job names derived from it. */
export const MAX_CRONJOB_NAME = 52;

export const SUPPORTED_VOLUME_TYPES = ['emptyDir', 'hostPath', 'configMap', 'secret'] as const;

export type Obj = Record<string, unknown>;
/** What errors show instead of a Secret's value. */
export const REDACTED = '<secret contents redacted>';
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isStr = (v: unknown): v is string => typeof v === 'string';
export const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const has = (o: Obj, k: string): boolean => o[k] !== undefined && o[k] !== null;

/** Collects errors; `at` points the YAML position somewhere more precise than the path. */
export class Errs {
  readonly list: FieldError[] = [];
  add(path: FieldPath, reason: string, at?: FieldPath): void {
    this.list.push(at ? { path, reason, at } : { path, reason });
  }
}


export function nonNegative(e: Errs, o: Obj, field: string, path: FieldPath): void {
  const v = o[field];
  if (isInt(v) && v < 0) e.add([...path, field], R.invalid(v, 'must be greater than or equal to 0'));
}

export function labelsMap(e: Errs, v: unknown, path: FieldPath): void {
  if (!isObj(v)) return;
  for (const [k, val] of Object.entries(v)) {
    for (const m of labelKeyProblems(k)) e.add(path, R.invalid(k, m), [...path, { key: k }]);
    if (isStr(val)) for (const m of labelValueProblems(val)) e.add(path, R.invalid(val, m), [...path, { key: k }]);
  }
}

export function annotationsMap(e: Errs, v: unknown, path: FieldPath): void {
  if (!isObj(v)) return;
  let total = 0;
  for (const [k, val] of Object.entries(v)) {
    for (const m of labelKeyProblems(k.toLowerCase())) e.add(path, R.invalid(k, m), [...path, { key: k }]);
    total += Buffer.byteLength(k) + (isStr(val) ? Buffer.byteLength(val) : 0);
  }
  if (total > MAX_ANNOTATIONS_BYTES) e.add(path, R.tooLong(MAX_ANNOTATIONS_BYTES));
}

export type NameRule = (v: string) => string[];

export function objectMeta(e: Errs, md: unknown, kind: string, nameRule: NameRule, path: FieldPath = ['metadata']): void {
  if (md === undefined || md === null) {
    e.add([...path, 'name'], R.required('name is required'), path.length ? path.slice(0, -1) : []);
    return;
  }
  if (!isObj(md)) return; // the schema reports the type
  const name = md.name;
  if (name === undefined || name === null || name === '') e.add([...path, 'name'], R.required('name is required'), path);
  else if (isStr(name)) {
    for (const m of nameRule(name)) e.add([...path, 'name'], R.invalid(name, m));
    if (kind === 'CronJob' && name.length > MAX_CRONJOB_NAME) e.add([...path, 'name'], R.invalid(name, `must be no more than ${MAX_CRONJOB_NAME} characters`));
  }
  if (isStr(md.namespace) && md.namespace !== '') for (const m of dns1123Label(md.namespace)) e.add([...path, 'namespace'], R.invalid(md.namespace, m));
  labelsMap(e, md.labels, [...path, 'labels']);
  annotationsMap(e, md.annotations, [...path, 'annotations']);
}

/** A spec's LabelSelector: syntax of keys, values and operators. */
export function labelSelector(e: Errs, sel: unknown, path: FieldPath): void {
  if (!isObj(sel)) return;
  labelsMap(e, sel.matchLabels, [...path, 'matchLabels']);
  for (const [i, x] of arr(sel.matchExpressions).entries()) {
    if (!isObj(x)) continue;
    const p = [...path, 'matchExpressions', i];
    if (isStr(x.key)) for (const m of labelKeyProblems(x.key)) e.add([...p, 'key'], R.invalid(x.key, m));
    const values = arr(x.values);
    const op = x.operator;
    if (op === 'In' || op === 'NotIn') {
      if (values.length === 0) e.add([...p, 'values'], R.required("must be specified when `operator` is 'In' or 'NotIn'"), p);
    } else if (op === 'Exists' || op === 'DoesNotExist') {
      if (values.length > 0) e.add([...p, 'values'], R.forbidden("may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
    } else if (op !== undefined) {
      e.add([...p, 'operator'], R.invalid(op, 'not a valid selector operator'));
    }
    for (const [j, v] of values.entries()) if (isStr(v)) for (const m of labelValueProblems(v)) e.add([...p, 'values', j], R.invalid(v, m));
  }
}

export function selectorIsEmpty(sel: Obj): boolean {
  return Object.keys(isObj(sel.matchLabels) ? sel.matchLabels : {}).length === 0 && arr(sel.matchExpressions).length === 0;
}

/** Does the selector select the template's labels? undefined when the selector is malformed. */
export function selectorMatches(sel: Obj, labels: unknown): boolean | undefined {
  try {
    return matches(fromLabelSelector(sel as never), (isObj(labels) ? labels : {}) as Record<string, string>);
  } catch {
    return undefined;
  }
}

export function port(e: Errs, v: unknown, path: FieldPath, allowZero = false): void {
  if (!isInt(v)) return;
  if (allowZero && v === 0) return;
  if (v < 1 || v > 65535) e.add(path, R.invalid(v, 'must be between 1 and 65535, inclusive'));
}

/** A port given as a number or as a container port's name (probes, Service targetPort). */
export function intOrPortName(e: Errs, v: unknown, path: FieldPath): void {
  if (isInt(v)) port(e, v, path);
  else if (isStr(v)) for (const m of portNameProblems(v)) e.add(path, R.invalid(v, m));
}
