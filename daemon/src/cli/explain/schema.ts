/**
 * The Kubernetes schemas `explain` prints, read from kubernetes-models (a dependency the daemon
 * already validates with, and shipped in the bundle). Its compiled validators carry the structure
 * but not the descriptions; its declaration files carry both: one interface per type with a doc
 * comment per field (the OpenAPI description), `?` for optional fields, literal unions for enums,
 * `Array<T>`, `{ [key: string]: T }` and imports naming the other types. Each file is read once,
 * on first use (only `explain` does).
 *
 * OpenAPI types from TypeScript ones: `number` is an integer (no field of the kinds pifleet
 * serves is floating point: only apiextensions' JSONSchemaProps has `format: double`); an alias
 * of one primitive (Time, MicroTime) is that primitive; an alias of a union (IntOrString,
 * Quantity) keeps its name, as kubectl shows it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';

export type TypeRef =
  | { t: 'scalar'; name: 'string' | 'integer' | 'boolean'; enum?: string[] }
  | { t: 'array'; items: TypeRef }
  | { t: 'map'; values: TypeRef }
  | { t: 'ref'; file: string }
  | { t: 'any' };

export interface Field {
  name: string;
  description: string;
  required: boolean;
  type: TypeRef;
}

export interface NamedType {
  /** `PodSpec`, `ObjectMeta`, `IntOrString`. */
  name: string;
  description: string;
  /** An interface's fields, by name; absent for an alias. */
  fields?: Map<string, Field>;
  /** What an alias stands for: a primitive, or undefined for a union (named by its name). */
  alias?: TypeRef;
}

/** apiVersion and kind come from TypeMeta, which kubernetes-models declares without descriptions. */
const TYPE_META: Record<'apiVersion' | 'kind', string> = {
  apiVersion: 'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources',
  kind: 'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds',
};

const MAX_FILE_BYTES = 1 << 20;

/** A doc comment's text: without the ` * ` margins, and `\*`, `\\` (escaped by the generator) as `*`, `\`. */
function docText(lines: string[]): string {
  return lines.map((l) => l.replace(/^\s*\* ?/, '')).join('\n').replace(/\\([\\*/])/g, '$1').trim();
}

/** Reads and caches the declaration files; one per explain command. */
export class SchemaLoader {
  readonly #types = new Map<string, NamedType>();
  readonly #req = createRequire(import.meta.url);

  /** The declaration file of a kind: `kubernetes-models/apps/v1/Deployment.d.ts`. */
  rootFile(apiVersion: string, kind: string): string {
    return this.#declarationOf(this.#req.resolve(`kubernetes-models/${apiVersion}/${kind}`));
  }

  #declarationOf(js: string): string {
    return js.replace(/\.(c?js|mjs)$/, '.d.ts');
  }

  /** The type a file declares (its first interface or type alias). */
  type(file: string): NamedType {
    const hit = this.#types.get(file);
    if (hit) return hit;
    const text = readFileSync(file, 'utf8');
    if (text.length > MAX_FILE_BYTES) throw new Error(`${file} is larger than ${MAX_FILE_BYTES} bytes: not a kubernetes-models declaration`);
    const t = this.#parse(file, text);
    this.#types.set(file, t);
    return t;
  }

  /** The root type of a kind, with apiVersion and kind described and not required (as in the API's schema). */
  root(apiVersion: string, kind: string): NamedType {
    const t = this.type(this.rootFile(apiVersion, kind));
    const fields = new Map(t.fields);
    for (const k of ['apiVersion', 'kind'] as const) fields.set(k, { name: k, description: TYPE_META[k], required: false, type: { t: 'scalar', name: 'string' } });
    return { ...t, fields };
  }

  #parse(file: string, text: string): NamedType {
    const imports = new Map<string, string>();
    for (const m of text.matchAll(/^import \{([^}]+)\} from "([^"]+)";$/gm)) {
      for (const name of (m[1] as string).split(',').map((s) => s.trim()).filter(Boolean)) imports.set(name, m[2] as string);
    }
    const lines = text.split('\n');
    const refTo = (spec: string): string => {
      if (spec.startsWith('.')) return resolve(dirname(file), `${spec}.d.ts`);
      return this.#declarationOf(createRequire(file).resolve(spec));
    };
    const typeOf = (raw: string): TypeRef => {
      const s = raw.trim().replace(/;$/, '');
      const arr = /^Array<(.+)>$/.exec(s);
      if (arr) return { t: 'array', items: typeOf(arr[1] as string) };
      if (/^"[^"]*"(\s*\|\s*"[^"]*")*$/.test(s)) return { t: 'scalar', name: 'string', enum: [...s.matchAll(/"([^"]*)"/g)].map((m) => m[1] as string) };
      if (s === 'string') return { t: 'scalar', name: 'string' };
      if (s === 'number') return { t: 'scalar', name: 'integer' };
      if (s === 'boolean') return { t: 'scalar', name: 'boolean' };
      const spec = imports.get(s);
      if (spec) return { t: 'ref', file: refTo(spec) };
      return { t: 'any' };
    };
    let doc: string[] | undefined;
    let lastDoc = '';
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      if (/^\s*\/\*\*/.test(line)) {
        doc = [];
        if (/\*\/\s*$/.test(line)) { lastDoc = docText([line.replace(/^\s*\/\*\*/, '').replace(/\*\/\s*$/, '')]); doc = undefined; }
        continue;
      }
      if (doc) {
        if (/^\s*\*\/\s*$/.test(line)) { lastDoc = docText(doc); doc = undefined; } else doc.push(line);
        continue;
      }
      const alias = /^export declare type I(\w+) = (.+);$/.exec(line);
      if (alias) {
        const target = typeOf(alias[2] as string);
        return { name: alias[1] as string, description: lastDoc, ...(target.t === 'scalar' ? { alias: target } : {}) };
      }
      const start = /^export interface I(\w+)(?: extends [^{]+)? \{$/.exec(line);
      if (!start) { if (line.trim()) lastDoc = ''; continue; }
      const description = lastDoc;
      lastDoc = '';
      const fields = new Map<string, Field>();
      for (i++; i < lines.length && lines[i] !== '}'; i++) {
        const l = lines[i] as string;
        if (/^\s*\/\*\*/.test(l)) {
          const d: string[] = [];
          if (/\*\/\s*$/.test(l)) d.push(l.replace(/^\s*\/\*\*/, '').replace(/\*\/\s*$/, ''));
          else for (i++; i < lines.length && !/^\s*\*\/\s*$/.test(lines[i] as string); i++) d.push(lines[i] as string);
          lastDoc = docText(d);
          continue;
        }
        const f = /^ {4}(?:readonly )?"?([\w$-]+)"?(\??): (.*)$/.exec(l);
        if (!f) continue;
        let type: TypeRef;
        if ((f[3] as string).trim() === '{') {
          const inner = /^\s+\[key: string\]: (.+);$/.exec(lines[i + 1] ?? '');
          type = { t: 'map', values: inner ? typeOf(inner[1] as string) : { t: 'any' } };
          while (i < lines.length && !/^ {4}\};?$/.test(lines[i] as string)) i++;
        } else {
          type = typeOf(f[3] as string);
        }
        fields.set(f[1] as string, { name: f[1] as string, description: lastDoc, required: f[2] !== '?', type });
        lastDoc = '';
      }
      return { name: start[1] as string, description, fields };
    }
    throw new Error(`${file}: no interface or type declared (is kubernetes-models installed completely?)`);
  }
}
