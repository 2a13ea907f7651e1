/**
 * Label selectors: the canonical parser and matcher. Both forms Kubernetes has end up as
 * one `Selector` (a list of requirements, all of which must hold):
 *  - the string form of `-l` / labelSelector: `app=web,tier in (fe,be),!canary,env!=prod,has-key`
 *  - the LabelSelector object of specs: matchLabels + matchExpressions.
 * An empty selector matches everything.
 */
import type { LabelSelector } from './types.js';
import { labelKeyProblems, labelValueProblems } from './names.js';

export type Operator = 'Equals' | 'NotEquals' | 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface Requirement {
  key: string;
  operator: Operator;
  /** One value for Equals/NotEquals, at least one for In/NotIn, none for Exists/DoesNotExist. */
  values: string[];
}

export type Selector = Requirement[];

const SPECIAL = new Set([',', '=', '!', '(', ')']);

type Token =
  | { t: 'id'; v: string; pos: number }
  | { t: 'op'; v: '=' | '==' | '!=' | '!' | '(' | ')' | ','; pos: number }
  | { t: 'end'; pos: number };

function lex(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (/\s/.test(c)) { i++; continue; }
    if (c === '=' ) { if (s[i + 1] === '=') { out.push({ t: 'op', v: '==', pos: i }); i += 2; } else { out.push({ t: 'op', v: '=', pos: i }); i++; } continue; }
    if (c === '!') { if (s[i + 1] === '=') { out.push({ t: 'op', v: '!=', pos: i }); i += 2; } else { out.push({ t: 'op', v: '!', pos: i }); i++; } continue; }
    if (c === '(' || c === ')' || c === ',') { out.push({ t: 'op', v: c, pos: i }); i++; continue; }
    const start = i;
    while (i < s.length && !SPECIAL.has(s[i] as string) && !/\s/.test(s[i] as string)) i++;
    out.push({ t: 'id', v: s.slice(start, i), pos: start });
  }
  out.push({ t: 'end', pos: s.length });
  return out;
}

function checkKey(key: string, where: string): void {
  const p = labelKeyProblems(key);
  if (p.length) throw new Error(`invalid label key "${key}" ${where}: ${p.join('; ')}`);
}

function checkValue(value: string, key: string): void {
  const p = labelValueProblems(value);
  if (p.length) throw new Error(`invalid label value "${value}" for key "${key}": ${p.join('; ')}`);
}

/**
 * Parse kubectl's selector syntax. Throws an Error saying where the syntax is wrong.
 * `x=y`, `x==y`, `x!=y`, `x in (a,b)`, `x notin (a,b)`, `x` (exists), `!x` (does not exist).
 */
export function parseSelector(s: string): Selector {
  if (typeof s !== 'string') throw new Error('a label selector must be a string');
  const toks = lex(s);
  const sel: Selector = [];
  let i = 0;
  const peek = (): Token => toks[i] as Token;
  const next = (): Token => toks[i++] as Token;
  const where = (tok: Token): string => `at position ${tok.pos + 1} of "${s}"`;
  if (peek().t === 'end') return sel;
  for (let guard = 0; guard <= toks.length; guard++) {
    let tok = next();
    let negate = false;
    if (tok.t === 'op' && tok.v === '!') { negate = true; tok = next(); }
    if (tok.t !== 'id') throw new Error(`expected a label key ${where(tok)}`);
    const key = tok.v;
    checkKey(key, where(tok));
    const op = peek();
    if (negate) {
      if (!(op.t === 'end' || (op.t === 'op' && op.v === ','))) throw new Error(`"!${key}" (does not exist) takes no operator or value ${where(op)}`);
      sel.push({ key, operator: 'DoesNotExist', values: [] });
    } else if (op.t === 'end' || (op.t === 'op' && op.v === ',')) {
      sel.push({ key, operator: 'Exists', values: [] });
    } else if (op.t === 'op' && (op.v === '=' || op.v === '==' || op.v === '!=')) {
      next();
      const val = peek();
      let value = '';
      if (val.t === 'id') { value = val.v; next(); } else if (!(val.t === 'end' || (val.t === 'op' && val.v === ','))) {
        throw new Error(`expected a value after "${key}${op.v}" ${where(val)}`);
      }
      checkValue(value, key);
      sel.push({ key, operator: op.v === '!=' ? 'NotEquals' : 'Equals', values: [value] });
    } else if (op.t === 'id' && (op.v === 'in' || op.v === 'notin')) {
      next();
      const open = next();
      if (!(open.t === 'op' && open.v === '(')) throw new Error(`expected "(" after "${key} ${op.v}" ${where(open)}`);
      const values: string[] = [];
      if (peek().t === 'op' && (peek() as { v: string }).v === ')') {
        next();
        values.push(''); // as in Kubernetes, "x in ()" is the set holding the empty value
      } else {
        for (let g = 0; g <= toks.length; g++) {
          const v = peek();
          if (v.t === 'id') { checkValue(v.v, key); values.push(v.v); next(); } else if (v.t === 'op' && (v.v === ',' || v.v === ')')) {
            values.push(''); // an empty value, as in "x in (,a)"
          } else {
            throw new Error(`expected a value or ")" in the set of "${key} ${op.v}" ${where(v)}`);
          }
          const sep = next();
          if (sep.t === 'op' && sep.v === ')') break;
          if (!(sep.t === 'op' && sep.v === ',')) throw new Error(`expected "," or ")" in the set of "${key} ${op.v}" ${where(sep)}`);
        }
      }
      const set = [...new Set(values)];
      sel.push({ key, operator: op.v === 'in' ? 'In' : 'NotIn', values: set.sort() });
    } else {
      throw new Error(`expected an operator (=, ==, !=, in, notin) or "," after "${key}" ${where(op)}`);
    }
    const sep = next();
    if (sep.t === 'end') return sel;
    if (!(sep.t === 'op' && sep.v === ',')) throw new Error(`expected "," between requirements ${where(sep)}`);
    if (peek().t === 'end') throw new Error(`a requirement must follow "," ${where(peek())}`);
  }
  throw new Error(`could not parse the label selector "${s}"`);
}

const OPERATORS: Record<string, Operator> = { In: 'In', NotIn: 'NotIn', Exists: 'Exists', DoesNotExist: 'DoesNotExist' };

/** A spec's LabelSelector as a Selector. Throws on an unknown operator or a wrong values list. */
export function fromLabelSelector(ls: LabelSelector | null | undefined): Selector {
  const sel: Selector = [];
  if (!ls) return sel;
  for (const [key, value] of Object.entries(ls.matchLabels ?? {})) sel.push({ key, operator: 'Equals', values: [String(value)] });
  for (const [i, e] of (ls.matchExpressions ?? []).entries()) {
    const op = OPERATORS[e.operator];
    if (!op) throw new Error(`matchExpressions[${i}]: "${e.operator}" is not a valid selector operator (use In, NotIn, Exists or DoesNotExist)`);
    const values = [...(e.values ?? [])];
    if ((op === 'In' || op === 'NotIn') && values.length === 0) throw new Error(`matchExpressions[${i}]: values must be given when the operator is ${op}`);
    if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0) throw new Error(`matchExpressions[${i}]: values may not be given when the operator is ${op}`);
    sel.push({ key: e.key, operator: op, values: [...new Set(values)].sort() });
  }
  return sel;
}

/** A selector that matches exactly these labels (what a Service's `selector` map means). */
export function fromLabels(labels: Record<string, string> | null | undefined): Selector {
  return Object.entries(labels ?? {}).map(([key, v]) => ({ key, operator: 'Equals' as const, values: [v] }));
}

function holds(r: Requirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = has ? labels[r.key] : undefined;
  switch (r.operator) {
    case 'Equals':
    case 'In':
      return has && r.values.includes(v as string);
    case 'NotEquals':
    case 'NotIn':
      return !has || !r.values.includes(v as string);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
  }
}

/** Whether labels satisfy every requirement (an empty selector matches everything). */
export function matches(sel: Selector, labels: Record<string, string> | null | undefined): boolean {
  const l = labels ?? {};
  return sel.every((r) => holds(r, l));
}

/** Convenience: does a spec's LabelSelector match these labels (throws like fromLabelSelector). */
export function labelSelectorMatches(ls: LabelSelector | null | undefined, labels: Record<string, string> | null | undefined): boolean {
  return matches(fromLabelSelector(ls), labels);
}

/** kubectl's rendering, as in `kubectl describe`: `app=web,tier in (be,fe),!canary`. */
export function selectorToString(sel: Selector): string {
  return sel
    .map((r) => {
      switch (r.operator) {
        case 'Equals': return `${r.key}=${r.values[0] ?? ''}`;
        case 'NotEquals': return `${r.key}!=${r.values[0] ?? ''}`;
        case 'In': return `${r.key} in (${r.values.join(',')})`;
        case 'NotIn': return `${r.key} notin (${r.values.join(',')})`;
        case 'Exists': return r.key;
        case 'DoesNotExist': return `!${r.key}`;
      }
    })
    .join(',');
}
