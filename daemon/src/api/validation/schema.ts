/**
 * The schema layer of validation: each kind's Kubernetes OpenAPI schema (kubernetes-models,
 * ajv), loaded lazily per kind on first use (each costs ~100 ms), its errors turned into
 * field errors with kubectl paths, one per field (int-or-string alternatives merged).
 */
import { createRequire } from 'node:module';
import { reasons as R, type FieldError, type FieldPath, type PathSegment } from '../errors.js';
import { isObj, REDACTED, type Obj } from './common.js';


interface SchemaModel { validate(): void }
type ModelClass = new (data: unknown) => SchemaModel;
interface AjvError { instancePath: string; keyword: string; params: Record<string, unknown>; message?: string }

const req = createRequire(import.meta.url);
/** Literal paths (one per kind) so a bundler can see them; require() caches each after first use. */
const MODELS: Record<string, () => ModelClass> = {
  Namespace: () => (req('kubernetes-models/v1/Namespace') as { Namespace: ModelClass }).Namespace,
  Node: () => (req('kubernetes-models/v1/Node') as { Node: ModelClass }).Node,
  Pod: () => (req('kubernetes-models/v1/Pod') as { Pod: ModelClass }).Pod,
  Service: () => (req('kubernetes-models/v1/Service') as { Service: ModelClass }).Service,
  ConfigMap: () => (req('kubernetes-models/v1/ConfigMap') as { ConfigMap: ModelClass }).ConfigMap,
  Secret: () => (req('kubernetes-models/v1/Secret') as { Secret: ModelClass }).Secret,
  Event: () => (req('kubernetes-models/v1/Event') as { Event: ModelClass }).Event,
  Deployment: () => (req('kubernetes-models/apps/v1/Deployment') as { Deployment: ModelClass }).Deployment,
  ReplicaSet: () => (req('kubernetes-models/apps/v1/ReplicaSet') as { ReplicaSet: ModelClass }).ReplicaSet,
  DaemonSet: () => (req('kubernetes-models/apps/v1/DaemonSet') as { DaemonSet: ModelClass }).DaemonSet,
  Job: () => (req('kubernetes-models/batch/v1/Job') as { Job: ModelClass }).Job,
  CronJob: () => (req('kubernetes-models/batch/v1/CronJob') as { CronJob: ModelClass }).CronJob,
};

/** Fields whose values are maps with user-chosen keys: their keys print as `[key]`. */
const MAP_FIELDS = new Set(['labels', 'annotations', 'data', 'stringData', 'binaryData', 'matchLabels', 'nodeSelector', 'limits', 'requests', 'capacity', 'allocatable']);

/** `/spec/containers/0/image` -> ['spec', 'containers', 0, 'image'], using the object to tell indexes from keys. */
function pointerToPath(pointer: string, root: unknown): PathSegment[] {
  const out: PathSegment[] = [];
  if (!pointer) return out;
  let cur: unknown = root;
  let parent = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur) && /^\d+$/.test(seg)) {
      out.push(Number(seg));
      cur = cur[Number(seg)];
    } else {
      out.push(MAP_FIELDS.has(parent) ? { key: seg } : seg);
      cur = isObj(cur) ? cur[seg] : undefined;
    }
    parent = seg;
  }
  return out;
}

function valueAt(root: unknown, path: FieldPath): unknown {
  let cur = root;
  for (const seg of path) {
    if (typeof seg === 'number') cur = Array.isArray(cur) ? cur[seg] : undefined;
    else cur = isObj(cur) ? cur[typeof seg === 'string' ? seg : seg.key] : undefined;
  }
  return cur;
}

function typeWord(t: string): string {
  return t === 'integer' ? 'an integer' : t === 'object' ? 'a mapping (object)' : t === 'array' ? 'a list' : `a ${t}`;
}

/** ajv errors of one kind's schema -> field errors, one per path (oneOf alternatives merged). */
export function schemaErrors(kind: string, raw: Obj): FieldError[] {
  const load = MODELS[kind];
  if (!load) return [];
  let errors: AjvError[] = [];
  try {
    new (load())(raw).validate();
    return [];
  } catch (err) {
    const list = (err as { errors?: unknown }).errors;
    if (!Array.isArray(list)) return [{ path: [], reason: `Invalid value: the object could not be checked against the ${kind} schema (${(err as Error).message})` }];
    errors = list as AjvError[];
  }
  const byPath = new Map<string, { path: PathSegment[]; errs: AjvError[] }>();
  const out: FieldError[] = [];
  for (const e of errors) {
    // base64 (`format: byte`) is checked by our own rules, the Go way (line breaks allowed)
    if (e.keyword === 'format' && e.params.format === 'byte') continue;
    if (e.keyword === 'required') {
      const parent = pointerToPath(e.instancePath, raw);
      out.push({ path: [...parent, String(e.params.missingProperty)], reason: R.required(), at: parent });
      continue;
    }
    const g = byPath.get(e.instancePath) ?? { path: pointerToPath(e.instancePath, raw), errs: [] };
    g.errs.push(e);
    byPath.set(e.instancePath, g);
  }
  for (const { path, errs } of byPath.values()) {
    const secretValue = kind === 'Secret' && (path[0] === 'data' || path[0] === 'stringData') && path.length > 1;
    const value = secretValue ? REDACTED : valueAt(raw, path);
    const types = [...new Set(errs.filter((e) => e.keyword === 'type').map((e) => String(e.params.type)))];
    const en = errs.find((e) => e.keyword === 'enum');
    const fmt = errs.find((e) => e.keyword === 'format');
    if (types.length && (types.length > 1 || !en)) {
      const words = types.map(typeWord);
      out.push({ path, reason: R.invalid(value, `must be ${words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}` : words[0]}`) });
    } else if (en) {
      out.push({ path, reason: R.notSupported(value, (en.params.allowedValues as unknown[]).map(String)) });
    } else if (fmt) {
      const f = String(fmt.params.format);
      out.push({ path, reason: R.invalid(value, /^int\d+$/.test(f) ? `must be a ${f.slice(3)}-bit integer` : `must be in ${f} format`) });
    } else {
      const e = errs.find((x) => x.keyword !== 'oneOf') ?? errs[0];
      out.push({ path, reason: R.invalid(value, e?.message ?? 'does not match the schema') });
    }
  }
  return out;
}
