/**
 * Cron schedules as a CronJob means them (Kubernetes, i.e. robfig/cron's ParseStandard), with the
 * slot arithmetic done by cron-parser 5. Pure: no timers, no clock; callers pass the instant.
 *
 * - Five fields (minute hour day-of-month month day-of-week) or one of the macros @yearly,
 *   @annually, @monthly, @weekly, @daily, @midnight, @hourly. Seconds fields, `@every` and
 *   `CRON_TZ=`/`TZ=` prefixes are refused (use spec.timeZone).
 * - Time zone: spec.timeZone (an IANA name); when unset, UTC. (Kubernetes uses the
 *   controller-manager's local zone; a fleet's leader can move between boards whose local
 *   zones differ, so pifleet pins the default to UTC.)
 * - Day-of-month and day-of-week, the cron rule: when both are restricted a day matches when
 *   EITHER matches; a field counts as unrestricted when it starts with `*` or `?` (so `*\/2`
 *   is unrestricted for this rule, as in Vixie cron and robfig/cron), and then both must match.
 *   cron-parser ORs only when neither field is exactly `*`/`?`, so `*\/N` fields are corrected here.
 * - Daylight saving time (checked in Europe/Berlin and America/New_York):
 *   a slot whose wall-clock time does not exist (02:30 on spring-forward day) runs once, one
 *   hour later at the same minutes (03:30) — nothing is lost (robfig/Kubernetes skip it);
 *   a slot in the repeated hour on fall-back day runs once, at its first occurrence;
 *   schedules that name every hour (`*\/30 * * * *`) keep firing every 30 real minutes.
 */
import { CronDate, CronExpressionParser, type CronExpression } from 'cron-parser';

export const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

export const DEFAULT_TIME_ZONE = 'UTC';

export class ScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleError';
  }
}

export interface CronSchedule {
  /** The expression as five fields (macros expanded). */
  readonly fields: string;
  readonly timeZone: string;
  /** The first slot strictly after `afterMs` (ms since the epoch). */
  next(afterMs: number): number;
  /**
   * Node-cron expressions whose union fires at (a superset of) this schedule's slots:
   * node-cron ANDs day-of-month and day-of-week, so the OR case becomes two expressions.
   */
  readonly triggerExpressions: string[];
}

/** Throws ScheduleError when tz is not an IANA time zone this Node knows. */
export function checkTimeZone(tz: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new ScheduleError(`unknown time zone ${JSON.stringify(tz)}: use an IANA name such as "Europe/Berlin" or "UTC"`);
  }
}

const isStar = (f: string): boolean => f.startsWith('*') || f.startsWith('?');

function compile(expr: string, tz: string, from: number): CronExpression {
  return CronExpressionParser.parse(expr, { currentDate: new Date(from), tz });
}

/** At most this many candidate slots are looked at for one next() (bounded loop). */
const MAX_CANDIDATES = 5000;

export function parseSchedule(schedule: string, timeZone?: string | null): CronSchedule {
  const tz = timeZone || DEFAULT_TIME_ZONE;
  checkTimeZone(tz);
  const raw = (schedule ?? '').trim();
  if (/^(CRON_)?TZ=/i.test(raw)) {
    throw new ScheduleError(`schedule ${JSON.stringify(raw)}: CRON_TZ= and TZ= prefixes are not supported; set spec.timeZone instead`);
  }
  let fields: string;
  if (raw.startsWith('@')) {
    const m = MACROS[raw.toLowerCase()];
    if (!m) throw new ScheduleError(`schedule ${JSON.stringify(raw)}: unknown macro; use one of ${Object.keys(MACROS).join(', ')} or five cron fields`);
    fields = m;
  } else {
    const parts = raw.split(/\s+/).filter(Boolean);
    if (parts.length !== 5) {
      throw new ScheduleError(`schedule ${JSON.stringify(raw)}: expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`);
    }
    fields = parts.join(' ');
  }
  const [min, hour, dom, month, dow] = fields.split(' ') as [string, string, string, string, string];
  const bothRestricted = !isStar(dom) && !isStar(dow);
  // exactly `*`/`?` in either: cron-parser already does the right thing (the other field decides)
  const plain = bothRestricted || dom === '*' || dom === '?' || dow === '*' || dow === '?';
  const domOnly = `${min} ${hour} ${dom} ${month} *`;
  const dowOnly = `${min} ${hour} * ${month} ${dow}`;
  let main: CronExpression;
  let domExpr: CronExpression;
  let dowMatcher: CronExpression;
  try {
    main = compile(fields, tz, 0);
    domExpr = compile(domOnly, tz, 0);
    dowMatcher = compile(dowOnly, tz, 0);
  } catch (err) {
    throw new ScheduleError(`schedule ${JSON.stringify(raw)}: ${(err as Error).message}`);
  }
  // A schedule that never fires ("0 0 30 2 *") is refused by cron-parser at parse time for
  // impossible day-month pairs; next() below also guards with a bounded loop.

  const nextOf = (expr: CronExpression, after: number): number => {
    try {
      expr.reset(new Date(after));
      return expr.next().getTime();
    } catch (err) {
      throw new ScheduleError(`schedule ${JSON.stringify(raw)}: cannot compute the next time after ${new Date(after).toISOString()}: ${(err as Error).message}`);
    }
  };
  let next: (after: number) => number;
  if (plain) {
    next = (after) => nextOf(main, after);
  } else {
    // one field is `*`-prefixed but restricted (`*/2`): robfig ANDs, cron-parser would OR.
    next = (after) => {
      let from = after;
      for (let i = 0; i < MAX_CANDIDATES; i++) {
        const c = nextOf(domExpr, from);
        if (dowMatcher.includesDate(new Date(c))) return c;
        const endOfDay = new CronDate(new Date(c), tz);
        endOfDay.setEndOfDay();
        from = Math.max(c, endOfDay.getTime());
      }
      throw new ScheduleError(`schedule ${JSON.stringify(raw)}: no matching time found in ${MAX_CANDIDATES} candidate days`);
    };
  }
  const triggerExpressions = bothRestricted ? [domOnly, dowOnly] : [fields];
  return { fields, timeZone: tz, next, triggerExpressions };
}

/** RFC 3339 with the zone's offset at that instant ("2026-03-29T03:30:00+02:00", "...Z" in UTC). */
export function rfc3339InZone(ms: number, tz: string): string {
  const d = new CronDate(new Date(ms), tz);
  const offsetMin = d.getUTCOffset() || 0; // minutes east of UTC; `|| 0` folds -0
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const date = `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (offsetMin === 0) return `${date}Z`;
  const sign = offsetMin > 0 ? '+' : '-';
  const abs = Math.abs(offsetMin);
  return `${date}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}
