/**
 * What every describe page shares (kubectl's describe.go helpers): the page writer with
 * kubectl's PrefixWriter indentation over a describe tab writer, labels, annotations,
 * tolerations, the controller, the events table, and the pod counts controllers show.
 */
import type { Event, KObject, Pod, PodSpec } from '../../../api/types.js';
import { since } from '../duration.js';
import { escapeTerminal } from '../format.js';
import { sortEvents } from '../tables.js';
import { DESCRIBE_WRITER, TabWriter } from '../tabwriter.js';

/** What a page is made from besides the object itself. */
export interface DescribeContext {
  now: number;
  /** Events about the object (any order). */
  events: Event[];
  /** Related objects by kind: `Pod`, `ReplicaSet`. */
  related: Record<string, KObject[] | undefined>;
}

export const REVISION = 'deployment.kubernetes.io/revision';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const MAX_ANNOTATION_LEN = 140;

/** kubectl's PrefixWriter over a describe tab writer. */
export class Page {
  readonly #tw = new TabWriter(DESCRIBE_WRITER);
  #text = '';

  w(level: number, s: string): void {
    this.#tw.write(escapeTerminal(`${'  '.repeat(level)}${s}`));
  }

  flush(): void {
    this.#text += this.#tw.flush();
  }

  done(): string {
    this.flush();
    return this.#text;
  }
}

export function labelsMultiline(p: Page, title: string, labels: Record<string, string> | undefined | null, initialIndent = '', innerIndent = '\t'): void {
  p.w(0, `${initialIndent}${title}:${innerIndent}`);
  const keys = Object.keys(labels ?? {}).sort();
  if (keys.length === 0) {
    p.w(0, '<none>\n');
    return;
  }
  keys.forEach((k, i) => {
    if (i !== 0) p.w(0, `${initialIndent}${innerIndent}`);
    p.w(0, `${k}=${labels![k]}\n`);
  });
}

export function annotationsMultiline(p: Page, title: string, annotations: Record<string, string> | undefined | null): void {
  p.w(0, `${title}:\t`);
  const keys = Object.keys(annotations ?? {}).filter((k) => k !== LAST_APPLIED).sort();
  if (keys.length === 0) {
    p.w(0, '<none>\n');
    return;
  }
  keys.forEach((k, i) => {
    if (i !== 0) p.w(0, '\t');
    const value = annotations![k]!.replace(/\n$/, '');
    if (value.length + k.length + 2 > MAX_ANNOTATION_LEN || value.includes('\n')) {
      p.w(0, `${k}:\n`);
      for (const s of value.split('\n')) p.w(0, `\t  ${s.length > MAX_ANNOTATION_LEN - 2 ? `${s.slice(0, MAX_ANNOTATION_LEN - 2)}...` : s}\n`);
    } else {
      p.w(0, `${k}: ${value}\n`);
    }
  });
}

export function tolerations(p: Page, title: string, tols: PodSpec['tolerations']): void {
  p.w(0, `${title}:\t`);
  const list = [...(tols ?? [])].sort((a, b) => ((a.key ?? '') < (b.key ?? '') ? -1 : (a.key ?? '') > (b.key ?? '') ? 1 : 0));
  if (list.length === 0) {
    p.w(0, '<none>\n');
    return;
  }
  list.forEach((t, i) => {
    if (i !== 0) p.w(0, '\t');
    let s = t.key ?? '';
    if (t.value) s += `=${t.value}`;
    if (t.effect) s += `:${t.effect}`;
    if (t.operator === 'Exists' && !t.value) s += t.key || t.effect ? ' op=Exists' : 'op=Exists';
    if (t.tolerationSeconds !== undefined && t.tolerationSeconds !== null) s += ` for ${t.tolerationSeconds}s`;
    p.w(0, `${s}\n`);
  });
}

export function controllerOf(obj: KObject): string {
  const ref = obj.metadata.ownerReferences?.find((r) => r.controller);
  return ref ? `${ref.kind}/${ref.name}` : '';
}

/** DescribeEvents: the events table, oldest first, or `Events: <none>`. */
export function describeEvents(events: Event[], now: number): string {
  const p = new Page();
  writeEvents(p, events, now);
  return p.done();
}

export function writeEvents(p: Page, events: Event[], now: number): void {
  if (events.length === 0) {
    p.w(0, 'Events:\t<none>\n');
    return;
  }
  p.flush();
  p.w(0, 'Events:\n  Type\tReason\tAge\tFrom\tMessage\n');
  p.w(1, '----\t------\t----\t----\t-------\n');
  for (const e of sortEvents(events)) {
    const first = e.eventTime ? since(e.eventTime as string, now) : since(e.firstTimestamp as string | undefined, now);
    let interval = first;
    if (e.series) interval = `${since(e.series.lastObservedTime as string | undefined, now)} (x${e.series.count ?? 0} over ${first})`;
    else if ((e.count ?? 0) > 1) interval = `${since(e.lastTimestamp as string | undefined, now)} (x${e.count} over ${first})`;
    const source = e.source?.component || e.reportingComponent || '';
    p.w(1, `${e.type ?? ''}\t${e.reason ?? ''}\t${interval}\t${source}\t${(e.message ?? '').trim()}\n`);
  }
}

export function intOrString(v: number | string | undefined): string {
  return v === undefined ? '' : String(v);
}

export function ownedPods(obj: KObject, c: DescribeContext): Pod[] {
  return ((c.related.Pod ?? []) as Pod[]).filter((pod) => pod.metadata.ownerReferences?.some((r) => r.controller && r.uid === obj.metadata.uid));
}

export function podsStatus(pods: Pod[]): string {
  const count = (phase: string): number => pods.filter((x) => (x.status?.phase ?? 'Pending') === phase).length;
  return `${count('Running')} Running / ${count('Pending')} Waiting / ${count('Succeeded')} Succeeded / ${count('Failed')} Failed`;
}
