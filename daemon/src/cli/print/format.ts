/**
 * Small renderings kubectl's printers share: label maps, label selectors, container
 * name/image lists, booleans. Each mirrors the apimachinery / printers function it is named after.
 */
import type { LabelSelector } from '../../api/types.js';

type Labels = Record<string, string> | undefined | null;

/** labels.FormatLabels: `a=1,b=2` sorted by key, `<none>` when empty. */
export function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels ?? {}).sort();
  if (keys.length === 0) return '<none>';
  return keys.map((k) => `${k}=${labels![k]}`).join(',');
}

interface Requirement { key: string; text: string }

/**
 * LabelSelectorAsSelector(s).String(): requirements sorted by key, `k=v`, `k in (a,b)`,
 * `k notin (a)`, `k`, `!k`; '' for an empty or absent selector.
 */
export function selectorString(sel: LabelSelector | undefined | null): string {
  if (!sel) return '';
  const reqs: Requirement[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) reqs.push({ key: k, text: `${k}=${v}` });
  for (const e of sel.matchExpressions ?? []) {
    const values = [...(e.values ?? [])].sort();
    switch (e.operator) {
      case 'In': reqs.push({ key: e.key, text: `${e.key} in (${values.join(',')})` }); break;
      case 'NotIn': reqs.push({ key: e.key, text: `${e.key} notin (${values.join(',')})` }); break;
      case 'Exists': reqs.push({ key: e.key, text: e.key }); break;
      case 'DoesNotExist': reqs.push({ key: e.key, text: `!${e.key}` }); break;
      default: reqs.push({ key: e.key, text: `${e.key} ${String(e.operator)} (${values.join(',')})` });
    }
  }
  reqs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return reqs.map((r) => r.text).join(',');
}

/** metav1.FormatLabelSelector: like selectorString but `<none>` when empty. */
export function formatLabelSelector(sel: LabelSelector | undefined | null): string {
  return selectorString(sel) || '<none>';
}

/** layoutContainerCells: container names and images, comma-separated. */
export function containerCells(containers: Array<{ name: string; image?: string }> | undefined): [string, string] {
  const cs = containers ?? [];
  return [cs.map((c) => c.name).join(','), cs.map((c) => c.image ?? '').join(',')];
}

/** printBool / printBoolPtr: `True`, `False`, `<unset>`. */
export function printBool(v: boolean | undefined | null): string {
  if (v === undefined || v === null) return '<unset>';
  return v ? 'True' : 'False';
}

export function orNone(s: string | undefined | null): string {
  return s ? s : '<none>';
}

/**
 * printers.EscapeTerminal: an ESC or carriage return in object data must not reach the
 * terminal (it could rewrite what the user sees); kubectl shows them as `^[` and `\r`.
 */
export function escapeTerminal(s: string): string {
  return s.replace(/\x1b/g, '^[').replace(/\r/g, '\\r');
}

/** Table cells end at the first line break, as kubectl prints them (`first line...`), escaped. */
export function cellText(s: string): string {
  const i = s.search(/[\f\n\r]/);
  return escapeTerminal(i >= 0 ? `${s.slice(0, i)}...` : s);
}
