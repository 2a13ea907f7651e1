import t from 'tap';
import { parseSchedule, rfc3339InZone, ScheduleError } from '../../../../daemon/src/controllers/cronjob/schedule.js';

const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');

function slots(schedule: string, from: string, n: number, tz?: string): string[] {
  const s = parseSchedule(schedule, tz);
  const out: string[] = [];
  let at = Date.parse(from);
  for (let i = 0; i < n; i++) { at = s.next(at); out.push(iso(at)); }
  return out;
}

t.test('five-field schedules give the next slot strictly after the given time, in UTC by default', async (t) => {
  t.same(slots('*/15 * * * *', '2026-01-01T12:00:00Z', 3), ['2026-01-01T12:15:00Z', '2026-01-01T12:30:00Z', '2026-01-01T12:45:00Z']);
  t.same(slots('5 * * * *', '2026-01-01T00:05:00.500Z', 1), ['2026-01-01T01:05:00Z'], 'a slot just passed is not returned again');
  t.same(slots('0 9 * * 1-5', '2026-01-02T10:00:00Z', 2), ['2026-01-05T09:00:00Z', '2026-01-06T09:00:00Z'], 'weekdays only');
});

t.test('the macros mean what Kubernetes means by them', async (t) => {
  const from = '2026-01-01T12:34:00Z';
  t.same(slots('@hourly', from, 1), ['2026-01-01T13:00:00Z']);
  t.same(slots('@daily', from, 1), ['2026-01-02T00:00:00Z']);
  t.same(slots('@midnight', from, 1), ['2026-01-02T00:00:00Z']);
  t.same(slots('@weekly', from, 1), ['2026-01-04T00:00:00Z'], 'Sunday midnight');
  t.same(slots('@monthly', from, 1), ['2026-02-01T00:00:00Z']);
  t.same(slots('@yearly', from, 1), ['2027-01-01T00:00:00Z']);
  t.same(slots('@annually', from, 1), ['2027-01-01T00:00:00Z']);
});

t.test('rejects what Kubernetes rejects, saying what is wrong', async (t) => {
  t.throws(() => parseSchedule('0 * * * * *'), { name: 'ScheduleError', message: /expected 5 fields.*got 6/ });
  t.throws(() => parseSchedule('* * * *'), /expected 5 fields/);
  t.throws(() => parseSchedule('TZ=Europe/Berlin 0 * * * *'), /set spec.timeZone instead/);
  t.throws(() => parseSchedule('CRON_TZ=UTC 0 * * * *'), /set spec.timeZone instead/);
  t.throws(() => parseSchedule('@fortnightly'), /unknown macro/);
  t.throws(() => parseSchedule('61 * * * *'), ScheduleError);
  t.throws(() => parseSchedule('0 0 31 2 *'), ScheduleError, 'a day that never comes');
  t.throws(() => parseSchedule('0 * * * *', 'Mars/Olympus_Mons'), /unknown time zone "Mars\/Olympus_Mons"/);
});

t.test('day-of-month and day-of-week both restricted: a day matches when either matches', async (t) => {
  // the 13th, or any Friday (January 2026: Fridays are 2, 9, 16, 23, 30)
  t.same(slots('0 0 13 * 5', '2026-01-01T00:00:00Z', 6).map((s) => s.slice(0, 10)),
    ['2026-01-02', '2026-01-09', '2026-01-13', '2026-01-16', '2026-01-23', '2026-01-30']);
  t.same(slots('0 0 1-31 * 5', '2026-01-01T00:00:00Z', 3).map((s) => s.slice(0, 10)), ['2026-01-02', '2026-01-03', '2026-01-04'], 'a full range still counts as restricted');
  t.same(parseSchedule('0 0 13 * 5').triggerExpressions, ['0 0 13 * *', '0 0 * * 5'], 'node-cron gets one expression per field (it would AND them)');
  t.same(parseSchedule('0 0 * * 5').triggerExpressions, ['0 0 * * 5']);
});

t.test('a field starting with * is unrestricted for that rule, so */2 day-of-month with a weekday means both (robfig and Vixie cron)', async (t) => {
  // odd days of the month that are Mondays: Jan 5, Jan 19, Feb 9, Feb 23, Mar 9
  t.same(slots('0 0 */2 * 1', '2026-01-01T00:00:00Z', 5).map((s) => s.slice(0, 10)),
    ['2026-01-05', '2026-01-19', '2026-02-09', '2026-02-23', '2026-03-09']);
});

t.test('spring forward (Europe/Berlin, 2026-03-29): a slot in the skipped hour runs once, an hour later; nothing else moves', async (t) => {
  t.same(slots('30 2 * * *', '2026-03-27T12:00:00Z', 3, 'Europe/Berlin'),
    ['2026-03-28T01:30:00Z', /* 03:30 CEST: */ '2026-03-29T01:30:00Z', '2026-03-30T00:30:00Z']);
  t.same(slots('0 3 * * *', '2026-03-28T12:00:00Z', 2, 'Europe/Berlin'), ['2026-03-29T01:00:00Z', '2026-03-30T01:00:00Z'], '03:00 exists and runs once');
  t.same(slots('30 2 * * *', '2026-03-07T12:00:00Z', 2, 'America/New_York'), ['2026-03-08T07:30:00Z', '2026-03-09T06:30:00Z'], 'New York: 03:30 EDT');
});

t.test('fall back (Europe/Berlin, 2026-10-25): a slot in the repeated hour runs once; every-30-minutes keeps real intervals', async (t) => {
  t.same(slots('30 2 * * *', '2026-10-24T12:00:00Z', 2, 'Europe/Berlin'), ['2026-10-25T00:30:00Z', '2026-10-26T01:30:00Z'], 'no second 02:30 (01:30Z)');
  t.same(slots('*/30 * * * *', '2026-10-24T23:45:00Z', 6, 'Europe/Berlin'),
    ['2026-10-25T00:00:00Z', '2026-10-25T00:30:00Z', '2026-10-25T01:00:00Z', '2026-10-25T01:30:00Z', '2026-10-25T02:00:00Z', '2026-10-25T02:30:00Z']);
  t.same(slots('30 1 * * *', '2026-11-01T00:00:00Z', 2, 'America/New_York'), ['2026-11-01T05:30:00Z', '2026-11-02T06:30:00Z'], 'New York: 01:30 EDT only');
});

t.test('scheduled times are written as RFC 3339 with the zone offset of that instant', async (t) => {
  t.equal(rfc3339InZone(Date.parse('2026-03-29T01:30:00Z'), 'Europe/Berlin'), '2026-03-29T03:30:00+02:00');
  t.equal(rfc3339InZone(Date.parse('2026-01-10T14:00:00Z'), 'America/New_York'), '2026-01-10T09:00:00-05:00');
  t.equal(rfc3339InZone(Date.parse('2026-01-10T14:00:00Z'), 'Asia/Kolkata'), '2026-01-10T19:30:00+05:30');
  t.equal(rfc3339InZone(Date.parse('2026-01-10T14:00:00Z'), 'UTC'), '2026-01-10T14:00:00Z');
});
