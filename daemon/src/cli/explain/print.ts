/**
 * `explain` output as kubectl 1.30 prints it (pkg/explain/v2/templates/plaintext.tmpl):
 * GROUP/KIND/VERSION, then for a field path `FIELD: name <type>` (and its ENUM), DESCRIPTION
 * (the field's own description followed by its type's), and FIELDS: one entry per field with its
 * type, `-required-`, the first enum values and the description wrapped as kubectl wraps it; with
 * --recursive only the names and types, nested by two spaces a level. Pure but for the loader.
 */
import type { KindInfo } from '../../api/kinds.js';
import { SchemaLoader, type Field, type NamedType, type TypeRef } from './schema.js';

export class ExplainError extends Error {}

/** go-wordwrap's WrapString (kubectl's term.NewWordWrapWriter): break at spaces, never inside a word, keep newlines. */
export function wrapText(s: string, limit: number): string {
  let out = '';
  let current = 0;
  let word = '';
  let space = '';
  const isSpace = (c: string): boolean => c !== '\u00a0' && /\s/.test(c);
  for (const c of s) {
    if (c === '\n') {
      if (word === '') {
        if (current + [...space].length > limit) current = 0; else out += space;
      } else {
        out += space + word;
      }
      space = '';
      word = '';
      out += c;
      current = 0;
    } else if (isSpace(c)) {
      if (space === '' || word !== '') {
        current += [...space].length + [...word].length;
        out += space + word;
        space = '';
        word = '';
      }
      space += c;
    } else {
      word += c;
      const wl = [...word].length;
      if (current + [...space].length + wl > limit && wl < limit) {
        out += '\n';
        current = 0;
        space = '';
      }
    }
  }
  if (word === '') { if (current + [...space].length <= limit) out += space; } else out += space + word;
  return out;
}

const byName = (fields: Field[]): Field[] => fields.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
const indent = (n: number, s: string): string => ' '.repeat(n) + s.replace(/\n/g, `\n${' '.repeat(n)}`);

class Printer {
  constructor(readonly loader: SchemaLoader, readonly recursive: boolean) {}

  /** The named type behind a reference; undefined for other types. */
  named(t: TypeRef): NamedType | undefined {
    return t.t === 'ref' ? this.loader.type(t.file) : undefined;
  }

  /** kubectl's typeGuess: string, integer, []Container, map[string]string, ObjectMeta, IntOrString, Object. */
  typeName(t: TypeRef): string {
    switch (t.t) {
      case 'scalar': return t.name;
      case 'array': return `[]${this.typeName(t.items)}`;
      case 'map': return `map[string]${this.typeName(t.values)}`;
      case 'any': return 'Object';
      case 'ref': {
        const n = this.loader.type(t.file);
        return n.alias ? this.typeName(n.alias) : n.name;
      }
    }
  }

  /** The fields a value of this type has (through lists and maps), with the refs seen on the way. */
  fieldsOf(t: TypeRef, seen: ReadonlySet<string>): { fields: Field[]; seen: Set<string> } | undefined {
    if (t.t === 'array') return this.fieldsOf(t.items, seen);
    if (t.t === 'map') return this.fieldsOf(t.values, seen);
    if (t.t !== 'ref' || seen.has(t.file)) return undefined;
    const n = this.loader.type(t.file);
    if (!n.fields) return undefined;
    return { fields: byName([...n.fields.values()]), seen: new Set([...seen, t.file]) };
  }

  /** A type's own description and those of what it wraps (list items, map values), a line each. */
  typeDescription(t: TypeRef): string {
    if (t.t === 'array') return this.typeDescription(t.items);
    if (t.t === 'map') return this.typeDescription(t.values);
    const n = this.named(t);
    return n?.description ? `${n.description}\n` : '';
  }

  enumShort(t: TypeRef, indentAmount: number): string {
    if (t.t !== 'scalar' || !t.enum?.length) return '';
    const shown = t.enum.slice(0, 4).map((v) => (v === '' ? '""' : v)).join(', ');
    return `\n${' '.repeat(indentAmount)}enum: ${shown}${t.enum.length > 4 ? ', ....' : ''}`;
  }

  enumLong(t: TypeRef): string {
    if (t.t !== 'scalar' || !t.enum?.length) return '';
    return `ENUM:${t.enum.map((v) => `\n    ${v === '' ? '""' : v}`).join('')}`;
  }

  fieldList(fields: Field[], owner: Set<string>, level: number): string {
    let text = '';
    const pad = level * 2;
    for (const f of fields) {
      text += `${indent(pad, f.name)}\t<${this.typeName(f.type)}>${f.required ? ' -required-' : ''}${this.enumShort(f.type, pad)}\n`;
      if (!this.recursive) {
        text += `${indent(pad + 2, wrapText(f.description || '<no description>', 78 - pad))}\n\n`;
      } else {
        const sub = this.fieldsOf(f.type, owner);
        if (sub) text += this.fieldList(sub.fields, sub.seen, level + 1);
      }
    }
    return text;
  }

  /** DESCRIPTION and FIELDS of a node: the kind itself or the field the path ends at. */
  section(description: string, sub: { fields: Field[]; seen: Set<string> } | undefined): string {
    let text = `DESCRIPTION:\n${indent(4, wrapText(description || '<empty>', 76))}\n`;
    if (sub?.fields.length) text += `FIELDS:\n${this.fieldList(sub.fields, sub.seen, 1)}`;
    return text;
  }
}

/** The whole `explain` page of a kind or of one of its fields. */
export function explain(info: KindInfo, path: string[], o: { recursive: boolean }, loader = new SchemaLoader()): string {
  const [group, version] = info.apiVersion.includes('/') ? info.apiVersion.split('/') as [string, string] : ['', info.apiVersion];
  const p = new Printer(loader, o.recursive);
  const root = loader.root(info.apiVersion, info.kind);
  let head = `${group ? `GROUP:      ${group}\n` : ''}KIND:       ${info.kind}\nVERSION:    ${version}\n\n`;
  let fields = [...(root.fields?.values() ?? [])];
  let field: Field | undefined;
  for (const [i, name] of path.entries()) {
    field = fields.find((f) => f.name === name);
    if (!field) throw new ExplainError(`field "${path[path.length - 1]}" does not exist`);
    if (i === path.length - 1) {
      head += `FIELD: ${name} <${p.typeName(field.type)}>\n${p.enumLong(field.type)}\n\n`;
    } else {
      fields = p.fieldsOf(field.type, new Set())?.fields ?? [];
    }
  }
  const body = field
    ? p.section(`${field.description ? `${field.description}\n` : ''}${p.typeDescription(field.type)}`, p.fieldsOf(field.type, new Set()))
    : p.section(root.description ? `${root.description}\n` : '', { fields: byName([...(root.fields?.values() ?? [])]), seen: new Set([loader.rootFile(info.apiVersion, info.kind)]) });
  return `${head}${body}\n`;
}
