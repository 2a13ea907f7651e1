/**
 * Unknown fields: like kubectl's strict field validation, a field the Kubernetes type
 * does not have is an error, with a "did you mean" for typos. The field table is
 * generated from kubernetes-types (fields.generated.ts). A top-level `status` is the
 * system's and is not checked.
 */
import type { FieldPath } from '../errors.js';
import { FIELD_TYPES, ROOT_TYPES } from '../fields.generated.js';
import { arr, isObj, type Errs } from './common.js';


function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

/** The known field a typo most likely meant: same letters in another case, or at most 2 edits away. */
function didYouMean(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const same = known.find((k) => k.toLowerCase() === lower);
  if (same) return same;
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase());
    if (d < bestD) { best = k; bestD = d; }
  }
  return best;
}

const MAX_FIELD_DEPTH = 64;

function walkFields(e: Errs, value: unknown, code: string, path: FieldPath): void {
  if (code === 's' || code === '*' || path.length > MAX_FIELD_DEPTH) return;
  if (code.startsWith('[]')) {
    arr(value).forEach((v, i) => walkFields(e, v, code.slice(2), [...path, i]));
    return;
  }
  if (code.startsWith('{}')) {
    if (isObj(value)) for (const [k, v] of Object.entries(value)) walkFields(e, v, code.slice(2), [...path, { key: k }]);
    return;
  }
  const fields = FIELD_TYPES[code];
  if (!fields || !isObj(value)) return;
  for (const [k, v] of Object.entries(value)) {
    if (path.length === 0 && k === 'status') continue;
    const c = fields[k];
    if (c !== undefined) {
      walkFields(e, v, c, [...path, k]);
      continue;
    }
    const type = code.slice(code.lastIndexOf('/') + 1);
    const hint = didYouMean(k, Object.keys(fields));
    e.add([...path, k], `Unknown field: ${type} has no field "${k}"${hint ? `; did you mean "${hint}"?` : ''}`);
  }
}

/** Report every field of `raw` its kind's type does not know. */
export function unknownFields(e: Errs, kind: string, raw: unknown): void {
  const root = ROOT_TYPES[kind];
  if (root) walkFields(e, raw, root, []);
}
