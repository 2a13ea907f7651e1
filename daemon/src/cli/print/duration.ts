/**
 * Times as kubectl shows them: ages and durations (k8s.io/apimachinery/pkg/util/duration
 * HumanDuration, exactly) and absolute times (Go's time.RFC1123Z, in UTC so output does
 * not depend on the machine's zone). `now` is always passed in; nothing here reads a clock.
 */

/**
 * HumanDuration: a short, ~2-3 significant figure rendering of a duration in milliseconds.
 * `5s`, `2m30s` (under 10 minutes), `15m` (under 3 hours), `3h5m` (under 8 hours), `20h`
 * (under 2 days), `2d3h` (under 8 days), `45d` (under 2 years), `2y100d` (under 8 years), `9y`.
 * Up to one second in the future counts as now (`0s`); further is `<invalid>`.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(ms / 3_600_000);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 365 * 2) return `${days}d`;
  if (hours < 24 * 365 * 8) {
    const dy = days % 365;
    return dy === 0 ? `${Math.trunc(days / 365)}y` : `${Math.trunc(days / 365)}y${dy}d`;
  }
  return `${Math.trunc(days / 365)}y`;
}

/** Milliseconds since the epoch of an RFC 3339 timestamp, or undefined when absent or unparsable. */
export function parseTime(ts: string | undefined | null): number | undefined {
  if (!ts) return undefined;
  const t = Date.parse(ts);
  return Number.isFinite(t) ? t : undefined;
}

/** kubectl's translateTimestampSince: the age of a timestamp, `<unknown>` when there is none. */
export function since(ts: string | undefined | null, now: number): string {
  const t = parseTime(ts);
  return t === undefined ? '<unknown>' : humanDuration(now - t);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number): string => String(n).padStart(2, '0');

/**
 * Go's time.RFC1123Z layout, `Mon, 02 Jan 2006 15:04:05 -0700`, in UTC. A missing timestamp
 * prints as Go prints the zero time, as kubectl describe does.
 */
export function rfc1123z(ts: string | undefined | null): string {
  const t = parseTime(ts);
  if (t === undefined) return 'Mon, 01 Jan 0001 00:00:00 +0000';
  const d = new Date(t);
  return `${DAYS[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000`;
}
