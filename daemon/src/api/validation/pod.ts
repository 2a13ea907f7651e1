/**
 * Pod spec rules the schema lacks: containers (names, image, ports, env, resources,
 * probes, mounts), volumes, affinity, tolerations, restart policy per owner kind.
 */
import { reasons as R, type FieldPath } from '../errors.js';
import { dns1123Label, dns1123Subdomain, labelKeyProblems, labelValueProblems, configKeyProblems, envVarNameProblems, portNameProblems } from '../names.js';
import { parseQuantity, QUANTITY_SYNTAX } from '../quantity.js';
import { arr, has, isInt, isObj, isStr, nonNegative, labelsMap, annotationsMap, labelSelector, port, intOrPortName, SUPPORTED_VOLUME_TYPES, type Errs, type Obj } from './common.js';


const HANDLERS = ['exec', 'httpGet', 'tcpSocket', 'grpc'] as const;
const STANDARD_RESOURCES = new Set(['cpu', 'memory', 'ephemeral-storage', 'pods']);

function probe(e: Errs, p: unknown, path: FieldPath, which: string): void {
  if (!isObj(p)) return;
  const set = HANDLERS.filter((h) => has(p, h));
  if (set.length === 0) e.add(path, R.required('must specify a handler type'));
  for (const h of set.slice(1)) e.add([...path, h], R.forbidden('may not specify more than 1 handler type'));
  for (const f of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold', 'terminationGracePeriodSeconds']) nonNegative(e, p, f, path);
  if (which !== 'readinessProbe' && isInt(p.successThreshold) && p.successThreshold !== 1) e.add([...path, 'successThreshold'], R.invalid(p.successThreshold, 'must be 1'));
  if (isObj(p.httpGet)) intOrPortName(e, p.httpGet.port, [...path, 'httpGet', 'port']);
  if (isObj(p.tcpSocket)) intOrPortName(e, p.tcpSocket.port, [...path, 'tcpSocket', 'port']);
  if (isObj(p.grpc)) port(e, p.grpc.port, [...path, 'grpc', 'port']);
  if (isObj(p.exec) && arr(p.exec.command).length === 0) e.add([...path, 'exec', 'command'], R.required(), [...path, 'exec']);
}

function resources(e: Errs, r: unknown, path: FieldPath): void {
  if (!isObj(r)) return;
  const parsed: Record<'limits' | 'requests', Map<string, { raw: unknown; v: number }>> = { limits: new Map(), requests: new Map() };
  for (const which of ['limits', 'requests'] as const) {
    const m = r[which];
    if (!isObj(m)) continue;
    for (const [name, q] of Object.entries(m)) {
      const p = [...path, which, { key: name }];
      if (!STANDARD_RESOURCES.has(name) && !name.startsWith('hugepages-') && !name.includes('/')) {
        e.add(p, R.invalid(name, 'must be a standard resource type or fully qualified'));
      }
      if (q === null || q === undefined || (typeof q !== 'string' && typeof q !== 'number')) continue; // schema
      const v = parseQuantity(q);
      if (v === undefined) e.add(p, R.invalid(q, QUANTITY_SYNTAX));
      else if (v < 0) e.add(p, R.invalid(q, 'must be greater than or equal to 0'));
      else parsed[which].set(name, { raw: q, v });
    }
  }
  for (const [name, rq] of parsed.requests) {
    const lim = parsed.limits.get(name);
    if (lim && rq.v > lim.v) e.add([...path, 'requests'], R.invalid(rq.raw, `must be less than or equal to ${name} limit of ${String(lim.raw)}`), [...path, 'requests', { key: name }]);
  }
}

function env(e: Errs, list: unknown, path: FieldPath): void {
  for (const [i, v] of arr(list).entries()) {
    if (!isObj(v)) continue;
    const p = [...path, i];
    if (isStr(v.name)) {
      if (v.name === '') e.add([...p, 'name'], R.required());
      else for (const m of envVarNameProblems(v.name)) e.add([...p, 'name'], R.invalid(v.name, m));
    }
    if (isObj(v.valueFrom)) {
      const vf = v.valueFrom;
      const n = ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef'].filter((k) => has(vf, k)).length;
      if (isStr(v.value) && v.value !== '') e.add([...p, 'valueFrom'], R.invalid('', 'may not be specified when `value` is not empty'));
      if (n === 0) e.add([...p, 'valueFrom'], R.invalid('', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
      else if (n > 1) e.add([...p, 'valueFrom'], R.invalid('', 'may not have more than one field specified at a time'));
      for (const ref of ['configMapKeyRef', 'secretKeyRef']) {
        const r = vf[ref];
        if (isObj(r) && isStr(r.key)) for (const m of configKeyProblems(r.key)) e.add([...p, 'valueFrom', ref, 'key'], R.invalid(r.key, m));
      }
    }
  }
}

function envFrom(e: Errs, list: unknown, path: FieldPath): void {
  for (const [i, v] of arr(list).entries()) {
    if (!isObj(v)) continue;
    const n = ['configMapRef', 'secretRef'].filter((k) => has(v, k)).length;
    if (n === 0) e.add([...path, i], R.invalid('', 'must specify one of: `configMapRef` or `secretRef`'));
    else if (n > 1) e.add([...path, i], R.invalid('', 'may not have more than one field specified at a time'));
    if (isStr(v.prefix) && v.prefix !== '') for (const m of envVarNameProblems(v.prefix)) e.add([...path, i, 'prefix'], R.invalid(v.prefix, m));
  }
}

function relativePath(e: Errs, v: unknown, path: FieldPath): void {
  if (!isStr(v) || v === '') return;
  if (v.startsWith('/')) e.add(path, R.invalid(v, 'must be a relative path'));
  if (v.split('/').includes('..')) e.add(path, R.invalid(v, "must not contain '..'"));
}

function container(e: Errs, c: Obj, path: FieldPath, names: Set<string>, volumes: Set<string>, init: boolean): void {
  if (isStr(c.name)) {
    if (c.name === '') e.add([...path, 'name'], R.required());
    else {
      for (const m of dns1123Label(c.name)) e.add([...path, 'name'], R.invalid(c.name, m));
      if (names.has(c.name)) e.add([...path, 'name'], R.duplicate(c.name));
      names.add(c.name);
    }
  }
  if (c.image === undefined || c.image === null || c.image === '') e.add([...path, 'image'], R.required(), c.image === undefined ? path : undefined);
  else if (isStr(c.image) && c.image.trim() !== c.image) e.add([...path, 'image'], R.invalid(c.image, 'must not have leading or trailing whitespace'));
  const portNames = new Set<string>();
  for (const [i, p] of arr(c.ports).entries()) {
    if (!isObj(p)) continue;
    const pp = [...path, 'ports', i];
    port(e, p.containerPort, [...pp, 'containerPort']);
    port(e, p.hostPort, [...pp, 'hostPort'], true);
    if (isStr(p.name) && p.name !== '') {
      for (const m of portNameProblems(p.name)) e.add([...pp, 'name'], R.invalid(p.name, m));
      if (portNames.has(p.name)) e.add([...pp, 'name'], R.duplicate(p.name));
      portNames.add(p.name);
    }
  }
  env(e, c.env, [...path, 'env']);
  envFrom(e, c.envFrom, [...path, 'envFrom']);
  resources(e, c.resources, [...path, 'resources']);
  for (const which of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    if (!has(c, which)) continue;
    if (init && c.restartPolicy !== 'Always') e.add([...path, which], R.forbidden('may not be set for init containers without restartPolicy=Always'));
    else probe(e, c[which], [...path, which], which);
  }
  const mountPaths = new Set<string>();
  for (const [i, m] of arr(c.volumeMounts).entries()) {
    if (!isObj(m)) continue;
    const mp = [...path, 'volumeMounts', i];
    if (isStr(m.name) && !volumes.has(m.name)) e.add([...mp, 'name'], R.notFound(m.name));
    if (m.mountPath === '' ) e.add([...mp, 'mountPath'], R.required());
    else if (isStr(m.mountPath)) {
      if (mountPaths.has(m.mountPath)) e.add([...mp, 'mountPath'], R.invalid(m.mountPath, 'must be unique'));
      mountPaths.add(m.mountPath);
    }
    relativePath(e, m.subPath, [...mp, 'subPath']);
  }
}

function modeField(e: Errs, v: unknown, path: FieldPath): void {
  if (isInt(v) && (v < 0 || v > 0o777)) e.add(path, R.invalid(v, 'must be a number between 0 and 0777 (octal), both inclusive'));
}

function keyToPathItems(e: Errs, items: unknown, path: FieldPath): void {
  for (const [i, it] of arr(items).entries()) {
    if (!isObj(it)) continue;
    if (it.path === '') e.add([...path, i, 'path'], R.required());
    relativePath(e, it.path, [...path, i, 'path']);
    modeField(e, it.mode, [...path, i, 'mode']);
  }
}

function volumes(e: Errs, list: unknown, path: FieldPath): Set<string> {
  const names = new Set<string>();
  for (const [i, v] of arr(list).entries()) {
    if (!isObj(v)) continue;
    const p = [...path, i];
    if (isStr(v.name)) {
      if (v.name === '') e.add([...p, 'name'], R.required());
      else {
        for (const m of dns1123Label(v.name)) e.add([...p, 'name'], R.invalid(v.name, m));
        if (names.has(v.name)) e.add([...p, 'name'], R.duplicate(v.name));
        names.add(v.name);
      }
    }
    const types = Object.keys(v).filter((k) => k !== 'name' && has(v, k));
    if (types.length === 0) e.add(p, R.required('must specify a volume type'));
    for (const t of types.slice(1)) e.add([...p, t], R.forbidden('may not specify more than 1 volume type'));
    const t = types[0];
    if (t === undefined) continue;
    if (!(SUPPORTED_VOLUME_TYPES as readonly string[]).includes(t)) {
      e.add([...p, t], R.forbidden(`pifleet supports the volume types ${SUPPORTED_VOLUME_TYPES.join(', ')}`));
      continue;
    }
    const src = v[t];
    if (!isObj(src)) continue;
    if (t === 'configMap') {
      if (!isStr(src.name) || src.name === '') e.add([...p, 'configMap', 'name'], R.required(), [...p, 'configMap']);
      modeField(e, src.defaultMode, [...p, 'configMap', 'defaultMode']);
      keyToPathItems(e, src.items, [...p, 'configMap', 'items']);
    } else if (t === 'secret') {
      if (!isStr(src.secretName) || src.secretName === '') e.add([...p, 'secret', 'secretName'], R.required(), [...p, 'secret']);
      modeField(e, src.defaultMode, [...p, 'secret', 'defaultMode']);
      keyToPathItems(e, src.items, [...p, 'secret', 'items']);
    } else if (t === 'hostPath') {
      if (!isStr(src.path) || src.path === '') e.add([...p, 'hostPath', 'path'], R.required(), [...p, 'hostPath']);
      else if (src.path.split('/').includes('..')) e.add([...p, 'hostPath', 'path'], R.invalid(src.path, "must not contain '..'"));
    } else if (t === 'emptyDir') {
      if (isStr(src.medium) && src.medium !== '' && src.medium !== 'Memory') e.add([...p, 'emptyDir', 'medium'], R.notSupported(src.medium, ['', 'Memory']));
      if (src.sizeLimit !== undefined && src.sizeLimit !== null) {
        const q = parseQuantity(src.sizeLimit);
        if (q === undefined) e.add([...p, 'emptyDir', 'sizeLimit'], R.invalid(src.sizeLimit, QUANTITY_SYNTAX));
      }
    }
  }
  return names;
}

/** Node affinity's NodeSelectorRequirements (the scheduler evaluates them): operators incl. Gt/Lt. */
function nodeSelectorTerm(e: Errs, term: unknown, path: FieldPath): void {
  if (!isObj(term)) return;
  for (const field of ['matchExpressions', 'matchFields']) {
    for (const [i, x] of arr(term[field]).entries()) {
      if (!isObj(x)) continue;
      const p = [...path, field, i];
      if (field === 'matchExpressions' && isStr(x.key)) for (const m of labelKeyProblems(x.key)) e.add([...p, 'key'], R.invalid(x.key, m));
      const values = arr(x.values);
      switch (x.operator) {
        case 'In':
        case 'NotIn':
          if (values.length === 0) e.add([...p, 'values'], R.required("must be specified when `operator` is 'In' or 'NotIn'"));
          break;
        case 'Exists':
        case 'DoesNotExist':
          if (values.length > 0) e.add([...p, 'values'], R.forbidden("may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
          break;
        case 'Gt':
        case 'Lt':
          if (values.length !== 1) e.add([...p, 'values'], R.required("must be specified single value when `operator` is 'Lt' or 'Gt'"));
          else if (isStr(values[0]) && !/^-?[0-9]+$/.test(values[0])) e.add([...p, 'values', 0], R.invalid(values[0], 'must be an integer'));
          break;
        case undefined:
          break;
        default:
          e.add([...p, 'operator'], R.invalid(x.operator, 'not a valid selector operator'));
      }
    }
  }
}

function affinity(e: Errs, a: unknown, path: FieldPath): void {
  if (!isObj(a)) return;
  const na = a.nodeAffinity;
  if (isObj(na)) {
    const req = na.requiredDuringSchedulingIgnoredDuringExecution;
    if (isObj(req)) {
      const terms = arr(req.nodeSelectorTerms);
      const tp = [...path, 'nodeAffinity', 'requiredDuringSchedulingIgnoredDuringExecution', 'nodeSelectorTerms'];
      if (terms.length === 0) e.add(tp, R.required('must have at least one node selector term'));
      terms.forEach((t, i) => nodeSelectorTerm(e, t, [...tp, i]));
    }
    for (const [i, pref] of arr(na.preferredDuringSchedulingIgnoredDuringExecution).entries()) {
      if (!isObj(pref)) continue;
      const pp = [...path, 'nodeAffinity', 'preferredDuringSchedulingIgnoredDuringExecution', i];
      if (isInt(pref.weight) && (pref.weight < 1 || pref.weight > 100)) e.add([...pp, 'weight'], R.invalid(pref.weight, 'must be in the range 1-100'));
      nodeSelectorTerm(e, pref.preference, [...pp, 'preference']);
    }
  }
  for (const kind of ['podAffinity', 'podAntiAffinity']) {
    const pa = a[kind];
    if (!isObj(pa)) continue;
    const check = (term: unknown, p: FieldPath): void => {
      if (!isObj(term)) return;
      labelSelector(e, term.labelSelector, [...p, 'labelSelector']);
      if (!isStr(term.topologyKey) || term.topologyKey === '') e.add([...p, 'topologyKey'], R.required('can not be empty'));
      else for (const m of labelKeyProblems(term.topologyKey)) e.add([...p, 'topologyKey'], R.invalid(term.topologyKey, m));
    };
    for (const [i, term] of arr(pa.requiredDuringSchedulingIgnoredDuringExecution).entries()) check(term, [...path, kind, 'requiredDuringSchedulingIgnoredDuringExecution', i]);
    for (const [i, w] of arr(pa.preferredDuringSchedulingIgnoredDuringExecution).entries()) {
      if (!isObj(w)) continue;
      const wp = [...path, kind, 'preferredDuringSchedulingIgnoredDuringExecution', i];
      if (isInt(w.weight) && (w.weight < 1 || w.weight > 100)) e.add([...wp, 'weight'], R.invalid(w.weight, 'must be in the range 1-100'));
      check(w.podAffinityTerm, [...wp, 'podAffinityTerm']);
    }
  }
}

function tolerations(e: Errs, list: unknown, path: FieldPath): void {
  for (const [i, x] of arr(list).entries()) {
    if (!isObj(x)) continue;
    const p = [...path, i];
    if (isStr(x.key) && x.key !== '') for (const m of labelKeyProblems(x.key)) e.add([...p, 'key'], R.invalid(x.key, m));
    if ((x.key === undefined || x.key === '') && x.operator !== 'Exists') e.add([...p, 'operator'], R.invalid(x.operator ?? '', 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    if (x.operator === 'Exists' && isStr(x.value) && x.value !== '') e.add([...p, 'operator'], R.invalid(x.operator, 'value must be empty when `operator` is \'Exists\''));
    if (x.operator !== undefined && x.operator !== 'Exists' && x.operator !== 'Equal') e.add([...p, 'operator'], R.notSupported(x.operator, ['Equal', 'Exists']));
    if (isStr(x.value) && x.value !== '') for (const m of labelValueProblems(x.value)) e.add([...p, 'value'], R.invalid(x.value, m));
    if (has(x, 'tolerationSeconds') && x.effect !== 'NoExecute') e.add([...p, 'effect'], R.invalid(x.effect ?? '', 'effect must be \'NoExecute\' when `tolerationSeconds` is set'));
  }
}

export interface RestartRule {
  allowed: readonly string[];
  /** Jobs: no default, the manifest must say. */
  required: boolean;
}

export const POD_RESTART: RestartRule = { allowed: ['Always', 'OnFailure', 'Never'], required: false };
export const WORKLOAD_RESTART: RestartRule = { allowed: ['Always'], required: false };
export const JOB_RESTART: RestartRule = { allowed: ['OnFailure', 'Never'], required: true };

export function podSpec(e: Errs, spec: unknown, path: FieldPath, restart: RestartRule, at: FieldPath): void {
  if (!isObj(spec)) {
    if (spec === undefined || spec === null) e.add([...path, 'containers'], R.required(), at);
    return;
  }
  const vols = volumes(e, spec.volumes, [...path, 'volumes']);
  const names = new Set<string>();
  if (!Array.isArray(spec.containers) || spec.containers.length === 0) {
    if (spec.containers === undefined || spec.containers === null || Array.isArray(spec.containers)) e.add([...path, 'containers'], R.required(), spec.containers === undefined ? path : undefined);
  }
  for (const [i, c] of arr(spec.initContainers).entries()) if (isObj(c)) container(e, c, [...path, 'initContainers', i], names, vols, true);
  for (const [i, c] of arr(spec.containers).entries()) if (isObj(c)) container(e, c, [...path, 'containers', i], names, vols, false);
  const rp = spec.restartPolicy;
  if (rp === undefined || rp === null || rp === '') {
    if (restart.required) e.add([...path, 'restartPolicy'], R.required(`valid values: ${restart.allowed.map((a) => `"${a}"`).join(', ')}`), path);
  } else if (isStr(rp) && !restart.allowed.includes(rp)) {
    e.add([...path, 'restartPolicy'], R.notSupported(rp, restart.allowed));
  }
  if (isInt(spec.activeDeadlineSeconds) && spec.activeDeadlineSeconds < 1) e.add([...path, 'activeDeadlineSeconds'], R.invalid(spec.activeDeadlineSeconds, 'must be between 1 and 2147483647, inclusive'));
  nonNegative(e, spec, 'terminationGracePeriodSeconds', path);
  labelsMap(e, spec.nodeSelector, [...path, 'nodeSelector']);
  affinity(e, spec.affinity, [...path, 'affinity']);
  tolerations(e, spec.tolerations, [...path, 'tolerations']);
  if (spec.hostNetwork === true) {
    for (const [ci, c] of arr(spec.containers).entries()) {
      if (!isObj(c)) continue;
      for (const [pi, p] of arr(c.ports).entries()) {
        if (isObj(p) && isInt(p.hostPort) && p.hostPort !== 0 && isInt(p.containerPort) && p.hostPort !== p.containerPort) {
          e.add([...path, 'containers', ci, 'ports', pi, 'hostPort'], R.invalid(p.hostPort, 'must match `containerPort` when `hostNetwork` is true'));
        }
      }
    }
  }
  if (isStr(spec.hostname) && spec.hostname !== '') for (const m of dns1123Label(spec.hostname)) e.add([...path, 'hostname'], R.invalid(spec.hostname, m));
  if (isStr(spec.nodeName) && spec.nodeName !== '') for (const m of dns1123Subdomain(spec.nodeName)) e.add([...path, 'nodeName'], R.invalid(spec.nodeName, m));
}

export function podTemplate(e: Errs, tpl: unknown, path: FieldPath, restart: RestartRule, parent: FieldPath): void {
  if (tpl === undefined || tpl === null) {
    e.add(path, R.required(), parent);
    return;
  }
  if (!isObj(tpl)) return;
  if (isObj(tpl.metadata)) {
    labelsMap(e, tpl.metadata.labels, [...path, 'metadata', 'labels']);
    annotationsMap(e, tpl.metadata.annotations, [...path, 'metadata', 'annotations']);
  }
  podSpec(e, tpl.spec, [...path, 'spec'], restart, path);
}

export function templateLabels(tpl: unknown): unknown {
  return isObj(tpl) && isObj(tpl.metadata) ? tpl.metadata.labels : undefined;
}
