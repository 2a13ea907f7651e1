/**
 * Workload rules: Deployment, ReplicaSet, DaemonSet (selector, template, rollout
 * settings), Job (counts, completion mode, selectors) and CronJob (schedule, time zone).
 */
import { CronExpressionParser } from 'cron-parser';
import { reasons as R, type FieldPath } from '../errors.js';
import { arr, has, isInt, isObj, isStr, nonNegative, labelsMap, annotationsMap, labelSelector, selectorIsEmpty, selectorMatches, type Errs, type Obj } from './common.js';
import { podTemplate, templateLabels, WORKLOAD_RESTART, JOB_RESTART } from './pod.js';


function intOrPercent(e: Errs, v: unknown, path: FieldPath, max100: boolean): number | undefined {
  if (isInt(v)) {
    if (v < 0) e.add(path, R.invalid(v, 'must be greater than or equal to 0'));
    return v;
  }
  if (!isStr(v)) return undefined;
  if (!/^[0-9]+%$/.test(v)) {
    e.add(path, R.invalid(v, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"));
    return undefined;
  }
  const n = Number(v.slice(0, -1));
  if (max100 && n > 100) e.add(path, R.invalid(v, 'must not be greater than 100%'));
  return n;
}

/** Deployment, ReplicaSet, DaemonSet: selector, template, restart policy Always. */
export function replicatedSpec(e: Errs, kind: string, spec: Obj): void {
  const sel = spec.selector;
  if (sel === undefined || sel === null) e.add(['spec', 'selector'], R.required(), ['spec']);
  else if (isObj(sel)) {
    labelSelector(e, sel, ['spec', 'selector']);
    if (selectorIsEmpty(sel)) e.add(['spec', 'selector'], R.invalid(sel, `empty selector is invalid for ${kind.toLowerCase()}`));
    else if (selectorMatches(sel, templateLabels(spec.template)) === false) {
      e.add(['spec', 'template', 'metadata', 'labels'], R.invalid(templateLabels(spec.template) ?? {}, '`selector` does not match template `labels`'));
    }
  }
  podTemplate(e, spec.template, ['spec', 'template'], WORKLOAD_RESTART, ['spec']);
  for (const f of ['replicas', 'minReadySeconds', 'revisionHistoryLimit']) nonNegative(e, spec, f, ['spec']);
}

export function deploymentSpec(e: Errs, spec: Obj): void {
  if (isInt(spec.progressDeadlineSeconds)) {
    const min = isInt(spec.minReadySeconds) ? spec.minReadySeconds : 0;
    if (spec.progressDeadlineSeconds <= min) e.add(['spec', 'progressDeadlineSeconds'], R.invalid(spec.progressDeadlineSeconds, 'must be greater than minReadySeconds'));
  }
  const st = spec.strategy;
  if (!isObj(st)) return;
  const p: FieldPath = ['spec', 'strategy'];
  if (st.type === 'Recreate' && has(st, 'rollingUpdate')) e.add([...p, 'rollingUpdate'], R.forbidden("may not be specified when strategy `type` is 'Recreate'"));
  if (st.type !== 'Recreate' && isObj(st.rollingUpdate)) {
    const ru = st.rollingUpdate;
    const mu = intOrPercent(e, ru.maxUnavailable ?? '25%', [...p, 'rollingUpdate', 'maxUnavailable'], true);
    const ms = intOrPercent(e, ru.maxSurge ?? '25%', [...p, 'rollingUpdate', 'maxSurge'], false);
    if (mu === 0 && ms === 0) e.add([...p, 'rollingUpdate', 'maxUnavailable'], R.invalid(ru.maxUnavailable ?? 0, 'may not be 0 when `maxSurge` is 0'));
  }
}

export function daemonSetSpec(e: Errs, spec: Obj): void {
  const st = spec.updateStrategy;
  if (!isObj(st)) return;
  const p: FieldPath = ['spec', 'updateStrategy'];
  if (st.type === 'OnDelete' && has(st, 'rollingUpdate')) e.add([...p, 'rollingUpdate'], R.forbidden("may not be specified when strategy `type` is 'OnDelete'"));
  if (st.type !== 'OnDelete' && isObj(st.rollingUpdate)) {
    const ru = st.rollingUpdate;
    const mu = intOrPercent(e, ru.maxUnavailable ?? 1, [...p, 'rollingUpdate', 'maxUnavailable'], true);
    const ms = intOrPercent(e, ru.maxSurge ?? 0, [...p, 'rollingUpdate', 'maxSurge'], true);
    if (mu === 0 && ms === 0) e.add([...p, 'rollingUpdate', 'maxUnavailable'], R.invalid(ru.maxUnavailable ?? 0, 'cannot be 0 when maxSurge is 0'));
  }
}

/** The labels defaultJobSelector puts in a Job's selector: such a selector is the system's, not the user's. */
const GENERATED_SELECTOR_KEYS = new Set(['batch.kubernetes.io/controller-uid', 'controller-uid']);

export function jobSpec(e: Errs, spec: unknown, path: FieldPath, parent: FieldPath): void {
  if (spec === undefined || spec === null) {
    e.add([...path, 'template'], R.required(), parent);
    return;
  }
  if (!isObj(spec)) return;
  for (const f of ['parallelism', 'completions', 'backoffLimit', 'activeDeadlineSeconds', 'ttlSecondsAfterFinished', 'backoffLimitPerIndex', 'maxFailedIndexes']) nonNegative(e, spec, f, path);
  const mode = spec.completionMode;
  if (mode === 'Indexed' && (spec.completions === undefined || spec.completions === null)) e.add([...path, 'completions'], R.required('when completion mode is Indexed'), path);
  if (mode !== 'Indexed') {
    for (const f of ['backoffLimitPerIndex', 'maxFailedIndexes']) if (has(spec, f)) e.add([...path, f], R.forbidden('requires indexed completion mode'));
  }
  const sel = spec.selector;
  if (spec.manualSelector === true) {
    if (sel === undefined || sel === null) e.add([...path, 'selector'], R.required(), path);
    else if (isObj(sel)) {
      labelSelector(e, sel, [...path, 'selector']);
      if (selectorIsEmpty(sel)) e.add([...path, 'selector'], R.invalid(sel, 'empty selector is invalid for job'));
      else if (selectorMatches(sel, templateLabels(spec.template)) === false) {
        e.add([...path, 'template', 'metadata', 'labels'], R.invalid(templateLabels(spec.template) ?? {}, '`selector` does not match template `labels`'));
      }
    }
  } else if (isObj(sel)) {
    const generated = arr(sel.matchExpressions).length === 0 && isObj(sel.matchLabels) && Object.keys(sel.matchLabels).length > 0 &&
      Object.keys(sel.matchLabels).every((k) => GENERATED_SELECTOR_KEYS.has(k));
    if (!generated) e.add([...path, 'selector'], R.invalid(sel, '`selector` will be auto-generated (set `manualSelector: true` to choose your own)'));
  }
  podTemplate(e, spec.template, [...path, 'template'], JOB_RESTART, path);
}

const CRON_MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];
const MONTHS = /^(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)$/i;
const DAYS = /^(SUN|MON|TUE|WED|THU|FRI|SAT)$/i;

/** A CronJob schedule, as Kubernetes takes it: 5 fields or a macro. Returns the problem or undefined. */
export function scheduleProblem(s: string): string | undefined {
  const t = s.trim();
  if (/^(CRON_)?TZ=/.test(t)) return 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead';
  const supported = `a schedule has 5 fields (minute hour day-of-month month day-of-week) or is one of ${CRON_MACROS.join(', ')}`;
  if (t.startsWith('@')) return CRON_MACROS.includes(t) ? undefined : `unparseable schedule: ${supported}`;
  const fields = t.split(/\s+/);
  if (t === '' || fields.length !== 5) return `unparseable schedule: ${supported}; this one has ${t === '' ? 0 : fields.length}`;
  for (const [i, f] of fields.entries()) {
    if (!/^[0-9A-Za-z*,\-/?]+$/.test(f)) return `unparseable schedule: field ${i + 1} ("${f}") may hold only digits, names, '*', ',', '-', '/' and '?'`;
    const words = f.match(/[A-Za-z]+/g) ?? [];
    const ok = i === 3 ? MONTHS : i === 4 ? DAYS : undefined;
    for (const w of words) {
      if (!ok || !ok.test(w)) return `unparseable schedule: "${w}" is not allowed in field ${i + 1} ("${f}"); only standard cron syntax is supported (no L, W or #)`;
    }
    if (f.includes('?') && i !== 2 && i !== 4) return `unparseable schedule: '?' is allowed only in the day-of-month and day-of-week fields`;
  }
  try {
    CronExpressionParser.parse(t, { tz: 'UTC' });
  } catch (err) {
    return `unparseable schedule: ${(err as Error).message}`;
  }
  return undefined;
}

/** An IANA time zone name as CronJob.spec.timeZone takes it. Returns the problem or undefined. */
export function timeZoneProblem(tz: string): string | undefined {
  if (tz.toLowerCase() === 'local') return 'timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones';
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(tz)) return `unknown time zone ${tz}`;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    return `unknown time zone ${tz}`;
  }
  return undefined;
}

export function cronJobSpec(e: Errs, spec: Obj): void {
  if (isStr(spec.schedule)) {
    const m = scheduleProblem(spec.schedule);
    if (m) e.add(['spec', 'schedule'], R.invalid(spec.schedule, m));
  }
  if (isStr(spec.timeZone)) {
    const m = timeZoneProblem(spec.timeZone);
    if (m) e.add(['spec', 'timeZone'], R.invalid(spec.timeZone, m));
  }
  for (const f of ['startingDeadlineSeconds', 'successfulJobsHistoryLimit', 'failedJobsHistoryLimit']) nonNegative(e, spec, f, ['spec']);
  const jt = spec.jobTemplate;
  if (isObj(jt)) {
    if (isObj(jt.metadata)) {
      labelsMap(e, jt.metadata.labels, ['spec', 'jobTemplate', 'metadata', 'labels']);
      annotationsMap(e, jt.metadata.annotations, ['spec', 'jobTemplate', 'metadata', 'annotations']);
    }
    jobSpec(e, jt.spec, ['spec', 'jobTemplate', 'spec'], ['spec', 'jobTemplate']);
  }
}
