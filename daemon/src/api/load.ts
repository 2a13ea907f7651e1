/**
 * Manifest files -> objects: multi-document YAML (or JSON) parsed with positions, each
 * document (or each item of a `kind: List`) validated, and every problem placed at the
 * line:col of the field it is about (or of its nearest existing parent, e.g. the container
 * a required `image` is missing from). Objects come back as written, not defaulted (the
 * API server defaults; the CLI may still fill in `-n`). Pure: text in, objects and errors out.
 *
 * YAML is read as YAML 1.1, like Kubernetes (sigs.k8s.io/yaml): `0644` is octal (420) and
 * `yes`/`on` are booleans; dates stay strings.
 */
import { parseAllDocuments, LineCounter, isAlias, isMap, isScalar, isSeq, type Document } from 'yaml';
import type { KObject } from './types.js';
import { ManifestError, formatPath, type FieldPath } from './errors.js';
import { validateFields } from './validate.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Ranged { range?: [number, number, number] | null }

/** The offset of the deepest existing YAML node on the path: the key for a map field, the item for a list entry. */
function locate(doc: Document, path: FieldPath): number {
  let node: unknown = doc.contents;
  let best = (node as Ranged | null)?.range?.[0] ?? 0;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const name = typeof seg === 'object' ? seg.key : String(seg);
      const pair = node.items.find((p) => {
        const k = p.key;
        return (isScalar(k) ? String(k.value) : String(k)) === name;
      });
      if (!pair) break;
      const at = (pair.key as Ranged | null)?.range?.[0];
      if (at !== undefined) best = at;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined || item === null) break;
      const at = (item as Ranged).range?.[0];
      if (at !== undefined) best = at;
      node = item;
    } else {
      break;
    }
  }
  return best;
}

function yamlMessage(message: string): string {
  const first = message.split('\n')[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?\s*$/, '').trim();
}

/** Drop the YAML 1.1 timestamp type: Kubernetes reads unquoted dates as strings. */
const withoutTimestamps = (tags: unknown[]): unknown[] => tags.filter((t) => (t as { tag?: string }).tag !== 'tag:yaml.org,2002:timestamp');

/** Parse and validate one file's text. Never throws: every problem is a ManifestError. */
export function loadManifests(text: string, file: string): { objects: KObject[]; errors: ManifestError[] } {
  const lc = new LineCounter();
  const objects: KObject[] = [];
  const errors: ManifestError[] = [];
  const at = (offset: number, path: string, reason: string): void => {
    const { line, col } = lc.linePos(offset);
    errors.push(new ManifestError({ file, line, col, path, reason }));
  };
  let docs: Document[];
  try {
    docs = Array.from(parseAllDocuments(text, { lineCounter: lc, version: '1.1', customTags: withoutTimestamps as never }) as Iterable<Document>);
  } catch (err) {
    at(0, '', `the file could not be read as YAML: ${(err as Error).message}`);
    return { objects, errors };
  }
  for (const doc of docs) {
    if (doc.errors.length) {
      for (const e of doc.errors) {
        const pos = e.linePos?.[0];
        if (pos) errors.push(new ManifestError({ file, line: pos.line, col: pos.col, path: '', reason: `invalid YAML: ${yamlMessage(e.message)}` }));
        else at(e.pos[0], '', `invalid YAML: ${yamlMessage(e.message)}`);
      }
      continue;
    }
    const start = (doc.contents as Ranged | null)?.range?.[0] ?? 0;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      at(start, '', `the document could not be read: ${(err as Error).message}`);
      continue;
    }
    if (value === null || value === undefined) continue; // an empty document, or only `---`
    const check = (obj: unknown, base: FieldPath): void => {
      const errs = validateFields(obj);
      if (errs.length === 0) {
        objects.push(obj as KObject);
        return;
      }
      for (const e of errs) at(locate(doc, [...base, ...(e.at ?? e.path)]), formatPath(e.path), e.reason);
    };
    if (isObj(value) && value.kind === 'List') {
      if (!Array.isArray(value.items)) {
        at(locate(doc, ['items']), 'items', 'Required value: a List holds its objects in `items`');
        continue;
      }
      value.items.forEach((item, i) => check(item, ['items', i]));
    } else {
      check(value, []);
    }
  }
  errors.sort((a, b) => a.line - b.line || a.col - b.col);
  return { objects, errors };
}
