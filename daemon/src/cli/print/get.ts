/**
 * `get` output as kubectl 1.30 prints it: the table (NAMESPACE first with -A, `kind/` name
 * prefix when several kinds are listed, -o wide columns, -L label columns, --show-labels,
 * --no-headers), `-o name`, `-o json` / `-o yaml` (a single object or a v1 List, keys sorted as
 * kubectl's unstructured output has them), and watch rows that stay aligned under their header.
 * Pure: objects and `now` in, strings out.
 */
import { stringify as toYaml } from 'yaml';
import type { Event, KObject } from '../../api/types.js';
import { kindInfo } from '../../api/kinds.js';
import { cellText, escapeTerminal, formatLabels } from './format.js';
import { defaultTable, kindTable, sortEvents } from './tables.js';
import { TABLE_WRITER, TabWriter } from './tabwriter.js';

export interface TableOptions {
  wide: boolean;
  /** Prefix NAMESPACE (namespaced kinds only). */
  allNamespaces: boolean;
  showLabels: boolean;
  /** Label keys for extra columns; entries may be comma-separated (`-L app,tier`). */
  labelColumns: string[];
  noHeaders: boolean;
  /** Names as `pod/x`, `deployment.apps/x` (several kinds listed at once). */
  withKind: boolean;
  now: number;
}

/** `deployment.apps`, `pod`, `job.batch`: the lower-case kind with its API group. */
export function kindPrefix(kind: string): string {
  const info = kindInfo(kind);
  const group = info?.apiVersion.includes('/') ? `.${info.apiVersion.split('/')[0]}` : '';
  return `${info?.singular ?? kind.toLowerCase()}${group}`;
}

/** What `-o name` prints for an object: `deployment.apps/web`. */
export function objectName(obj: KObject): string {
  return `${kindPrefix(obj.kind)}/${obj.metadata.name}`;
}

function labelKeys(o: TableOptions): string[] {
  return o.labelColumns.flatMap((l) => l.split(',')).map((l) => l.trim()).filter(Boolean);
}

/** The header and rows of a table, before layout. */
export function tableCells(kind: string, objects: KObject[], o: TableOptions): { header: string[]; rows: string[][] } {
  const table = kindTable(kind, o.wide) ?? defaultTable();
  const shown = table.columns.map((c, i) => ({ c, i })).filter(({ c }) => o.wide || !c.wide);
  const withNs = o.allNamespaces && (kindInfo(kind)?.namespaced ?? true);
  const keys = labelKeys(o);
  const header = [
    ...(withNs ? ['NAMESPACE'] : []),
    ...shown.map(({ c }) => c.name),
    ...keys.map((k) => (k.split('/').pop() ?? k).toUpperCase()),
    ...(o.showLabels ? ['LABELS'] : []),
  ];
  const list = kind === 'Event' ? sortEvents(objects as Event[]) : objects;
  const rows = list.map((obj) => {
    const cells = table.row(obj, o.now);
    const labels = obj.metadata.labels ?? {};
    return [
      ...(withNs ? [escapeTerminal(obj.metadata.namespace ?? '')] : []),
      ...shown.map(({ i }) => {
        const v = cellText(cells[i] ?? '');
        return o.withKind && i === table.nameColumn ? `${kindPrefix(obj.kind)}/${v}` : v;
      }),
      ...keys.map((k) => cellText(labels[k] ?? '')),
      ...(o.showLabels ? [cellText(formatLabels(labels))] : []),
    ];
  });
  return { header, rows };
}

/** The whole table as kubectl lays it out (no trailing newline handling: every line ends in \n). */
export function printTable(kind: string, objects: KObject[], o: TableOptions): string {
  if (objects.length === 0) return '';
  const { header, rows } = tableCells(kind, objects, o);
  const w = new TabWriter(TABLE_WRITER);
  if (!o.noHeaders) w.write(`${header.join('\t')}\n`);
  for (const r of rows) w.write(`${r.join('\t')}\n`);
  return w.flush();
}

/**
 * `get -w`: each event is one row, laid out with the widths the columns already had, so rows
 * stay under the header (kubectl keeps one RememberWidths tab writer for the whole watch).
 * `-o json|yaml|name` print the object the same way a list item would be printed.
 */
export class WatchPrinter {
  readonly #writer = new TabWriter(TABLE_WRITER);
  #headerDone: boolean;
  #printed = 0;

  constructor(private readonly kind: string, private readonly opts: Omit<TableOptions, 'now' | 'wide'> & { output?: string }) {
    this.#headerDone = opts.noHeaders;
  }

  /** Lay out the initial list (header included, one layout) so later rows line up with it. */
  list(objects: KObject[], now: number): string {
    const fmt = this.opts.output ?? '';
    if (fmt === 'name' || fmt === 'json' || fmt === 'yaml') return objects.map((o) => this.print(o, now)).join('');
    if (objects.length === 0) return '';
    this.#rows(objects, now);
    return this.#writer.flush();
  }

  print(obj: KObject, now: number): string {
    const fmt = this.opts.output ?? '';
    if (fmt === 'name') return `${objectName(obj)}\n`;
    if (fmt === 'json') return `${toJson(obj)}\n`;
    if (fmt === 'yaml') return `${this.#printed++ > 0 ? '---\n' : ''}${toYamlText(obj)}`;
    this.#rows([obj], now);
    return this.#writer.flush();
  }

  #rows(objects: KObject[], now: number): void {
    const fmt = this.opts.output ?? '';
    const { header, rows } = tableCells(this.kind, objects, { ...this.opts, wide: fmt === 'wide', now });
    if (!this.#headerDone) {
      this.#writer.write(`${header.join('\t')}\n`);
      this.#headerDone = true;
    }
    for (const r of rows) this.#writer.write(`${r.join('\t')}\n`);
  }
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

/** Go's json.MarshalIndent(obj, "", "    "): keys sorted, HTML-safe escapes as Go writes them. */
export function toJson(v: unknown): string {
  return JSON.stringify(sortKeys(v), null, 4)
    .replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/**
 * sigs.k8s.io/yaml (go-yaml v2) style: keys sorted, sequences not indented under their key, no
 * folding, and YAML 1.1 scalars quoted (`"2026-01-01T00:00:00Z"`, `"yes"`) as kubectl prints them.
 */
export function toYamlText(v: unknown): string {
  return toYaml(sortKeys(v), {
    indentSeq: false, lineWidth: 0, schema: 'yaml-1.1',
    // a copy of the timestamp tag marked default, so timestamps are quoted even when another
    // user of the shared yaml module (tap-yaml does) has switched the shared tag off
    customTags: (tags) => tags.map((t) => (typeof t === 'object' && t.tag === TIMESTAMP_TAG ? { ...t, default: true } : t)),
  });
}

const TIMESTAMP_TAG = 'tag:yaml.org,2002:timestamp';

/** The v1 List kubectl wraps several objects in. */
export function asList(objects: KObject[]): Record<string, unknown> {
  return { apiVersion: 'v1', items: objects, kind: 'List', metadata: { resourceVersion: '' } };
}
