/**
 * What the CLI prints, in one place: the kubectl-style printers in ./print do the formatting;
 * this module picks them per command and output option. Everything here is pure except that
 * `now` defaults to the wall clock when the caller does not pass one.
 */
import type { Event, KObject } from '../api/types.js';
import type { KindInfo } from '../api/kinds.js';
import { CliError } from './client.js';
import { describeObject, relatedKinds } from './print/describe.js';
import { asList, objectName, printTable, toJson, toYamlText, WatchPrinter } from './print/get.js';
import { rolloutHistory as historyText, rolloutStatus as statusOf, type Revision, type RolloutStatus } from './print/rollout.js';

export interface ListOptions {
  /** '' (table), wide, json, yaml or name. */
  output?: string;
  allNamespaces: boolean;
  showLabels: boolean;
  labelColumns: string[];
  noHeaders: boolean;
  /** The namespace listed (for "No resources found in X namespace."). */
  namespace: string;
  /** One object was asked for by name: -o json|yaml print it bare, not in a List. */
  single?: boolean;
  /** Several kinds are listed together: names get a `kind/` prefix, tables a blank line between. */
  multiKind?: boolean;
  /** Milliseconds since the epoch that ages are computed against (default: now). */
  now?: number;
}

export interface Related {
  events: KObject[];
  [kind: string]: KObject[];
}

const FORMATS = ['', 'wide', 'json', 'yaml', 'name'];

function checkFormat(fmt: string): void {
  if (!FORMATS.includes(fmt)) throw new CliError(`error: unable to match a printer suitable for the output format "${fmt}", allowed formats are: json,name,wide,yaml`);
}

/** `get` output for one kind: stdout, and the stderr line kubectl prints for an empty table. */
export function formatList(objects: KObject[], info: KindInfo, o: ListOptions): { stdout: string; stderr?: string } {
  const fmt = o.output ?? '';
  checkFormat(fmt);
  const one = o.single && objects.length === 1 ? objects[0] : undefined;
  if (fmt === 'json') return { stdout: `${toJson(one ?? asList(objects))}\n` };
  if (fmt === 'yaml') return { stdout: toYamlText(one ?? asList(objects)) };
  if (fmt === 'name') return { stdout: objects.map(objectName).join('\n') };
  if (objects.length === 0) {
    return { stdout: '', stderr: o.allNamespaces ? 'No resources found' : `No resources found in ${o.namespace} namespace.` };
  }
  const text = printTable(info.kind, objects, {
    wide: fmt === 'wide', allNamespaces: o.allNamespaces, showLabels: o.showLabels, labelColumns: o.labelColumns,
    noHeaders: o.noHeaders, withKind: Boolean(o.multiKind), now: o.now ?? Date.now(),
  });
  // several kinds: a blank line separates the tables (kubectl does so only with headers)
  return { stdout: o.multiKind && !o.noHeaders ? text : text.replace(/\n$/, '') };
}

/**
 * One `get -w` event as a row of its own (header first unless noHeaders). Stateless, so each
 * row is laid out alone; createWatchPrinter keeps the columns aligned across events as kubectl does.
 */
export function formatWatchEvent(_type: string, obj: KObject, info: KindInfo, o: ListOptions): string {
  return new WatchPrinter(info.kind, { ...o, withKind: false }).print(obj, o.now ?? Date.now()).replace(/\n$/, '');
}

/**
 * A printer for a whole `get -w` session: `list` the initial objects, then `event` per change;
 * every row keeps the column widths seen so far, so rows stay under the header.
 */
export function createWatchPrinter(info: KindInfo, o: ListOptions): { list(objects: KObject[], now?: number): string; event(type: string, obj: KObject, now?: number): string } {
  checkFormat(o.output ?? '');
  const p = new WatchPrinter(info.kind, { ...o, withKind: false });
  return {
    list: (objects, now) => p.list(objects, now ?? o.now ?? Date.now()),
    event: (_type, obj, now) => p.print(obj, now ?? o.now ?? Date.now()),
  };
}

/** Fetch what describe shows besides the object: its events and the kinds its page needs. */
export async function relatedFor(obj: KObject, fetch: { events: () => Promise<KObject[]>; list: (kind: string) => Promise<KObject[]> }): Promise<Related> {
  const related: Related = { events: await fetch.events() };
  for (const kind of relatedKinds(obj.kind)) related[kind] = await fetch.list(kind);
  return related;
}

/** kubectl's describe page for an object (events and related objects from relatedFor). */
export function describe(obj: KObject, related: Related, now: number = Date.now()): string {
  const { events, ...rest } = related;
  // pages end in a newline; main joins them with a blank line, giving kubectl's \n\n\n between pages
  return describeObject(obj, { now, events: events as Event[], related: rest });
}

export function rolloutStatus(obj: KObject): RolloutStatus {
  return statusOf(obj);
}

export function rolloutHistory(kind: string, name: string, revisions: Revision[], revision?: number): string {
  try {
    return historyText(kind, name, revisions, revision);
  } catch (e) {
    throw new CliError(`error: ${(e as Error).message}`);
  }
}
