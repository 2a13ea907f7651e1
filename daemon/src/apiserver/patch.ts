/** JSON merge patch (RFC 7386), as `kubectl patch --type merge`. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const base: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? structuredClone(target) as Record<string, unknown> : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete base[k];
    else base[k] = mergePatch(base[k], v);
  }
  return base;
}

/** A field selector such as `status.phase=Running,spec.nodeName!=n1` as a predicate. */
export function parseFieldSelector(s: string): (obj: unknown) => boolean {
  const terms = s.split(',').map((t) => t.trim()).filter(Boolean).map((t) => {
    const m = /^([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*)$/.exec(t);
    if (!m) throw new Error(`invalid field selector term ${JSON.stringify(t)}: want field=value or field!=value`);
    return { path: (m[1] as string).split('.'), neg: m[2] === '!=', value: m[3] as string };
  });
  return (obj) => terms.every(({ path, neg, value }) => {
    let cur: unknown = obj;
    for (const p of path) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[p] : undefined;
    const actual = cur === undefined || cur === null ? '' : String(cur);
    return neg ? actual !== value : actual === value;
  });
}
