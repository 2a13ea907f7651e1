/**
 * Field errors and manifest errors: the shapes validation reports problems in, the
 * Kubernetes wording for them (`Required value`, `Invalid value: "x": ...`), and
 * field paths in kubectl's style (`spec.template.spec.containers[0].image`, `data[key]`).
 */

/** One step of a field path: a field name, an array index, or a map key (printed `[key]`). */
export type PathSegment = string | number | { key: string };
export type FieldPath = readonly PathSegment[];

/** A problem found in one object; `at` is a more precise place to point at than `path`, if any. */
export interface FieldError {
  path: FieldPath;
  reason: string;
  at?: FieldPath;
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** kubectl's path style: fields joined by dots, indexes and map keys in brackets. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'object') out += `[${seg.key}]`;
    else if (!IDENT.test(seg)) out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

/** How Kubernetes prints a bad value: strings quoted, numbers bare, objects as JSON, long ones cut. */
export function formatValue(v: unknown): string {
  let s: string;
  try {
    s = v === undefined ? 'null' : JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/** Reason builders with Kubernetes' own wording. */
export const reasons = {
  required: (detail?: string): string => (detail ? `Required value: ${detail}` : 'Required value'),
  invalid: (value: unknown, detail: string): string => `Invalid value: ${formatValue(value)}: ${detail}`,
  notSupported: (value: unknown, allowed: readonly string[]): string =>
    `Unsupported value: ${formatValue(value)}: supported values: ${allowed.map((a) => `"${a}"`).join(', ')}`,
  duplicate: (value: unknown): string => `Duplicate value: ${formatValue(value)}`,
  forbidden: (detail: string): string => `Forbidden: ${detail}`,
  tooLong: (max: number): string => `Too long: must have at most ${max} bytes`,
  notFound: (value: unknown): string => `Not found: ${formatValue(value)}`,
  immutable: (value: unknown): string => `Invalid value: ${formatValue(value)}: field is immutable`,
};

/** A problem in a manifest file, placed at the YAML node of the offending field. */
export class ManifestError extends Error {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** Field path in kubectl's style; '' for problems of the file itself (YAML syntax). */
  readonly path: string;
  readonly reason: string;

  constructor(init: { file: string; line: number; col: number; path: string; reason: string }) {
    super(`${init.file}:${init.line}:${init.col} ${init.path ? `${init.path}: ` : ''}${init.reason}`);
    this.name = 'ManifestError';
    this.file = init.file;
    this.line = init.line;
    this.col = init.col;
    this.path = init.path;
    this.reason = init.reason;
  }

  /** `FILE:LINE:COL path: reason`, e.g. `web.yaml:12:9 spec.template.spec.containers[0].image: Required value`. */
  format(): string {
    return this.message;
  }
}
