import t from 'tap';
import { humanDuration, rfc1123z, since } from '../../../../daemon/src/cli/print/duration.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

t.test('ages read like apimachinery HumanDuration at every boundary', async (t) => {
  const table: Array<[number, string]> = [
    // apimachinery's own duration_test.go table
    [S, '1s'], [70 * S, '70s'], [190 * S, '3m10s'], [70 * M, '70m'], [47 * H, '47h'], [49 * H, '2d1h'],
    [(8 * 24 + 2) * H, '8d'], [367 * D, '367d'], [(365 * 2 * 24 + 25) * H, '2y1d'], [(365 * 8 * 24 + 2) * H, '8y'],
    // boundaries of each branch
    [0, '0s'], [999, '0s'], [-1 * S, '0s'], [-1999, '0s'], [-2 * S, '<invalid>'],
    [119 * S, '119s'], [120 * S, '2m'], [150 * S, '2m30s'], [9 * M + 59 * S, '9m59s'], [10 * M, '10m'], [10 * M + 59 * S, '10m'],
    [179 * M, '179m'], [3 * H, '3h'], [3 * H + 5 * M, '3h5m'], [7 * H + 59 * M, '7h59m'], [8 * H, '8h'], [47 * H + 59 * M, '47h'],
    [2 * D, '2d'], [2 * D + 3 * H, '2d3h'], [7 * D + 23 * H, '7d23h'], [8 * D, '8d'], [45 * D, '45d'], [729 * D, '729d'],
    [730 * D, '2y'], [(730 + 100) * D, '2y100d'], [365 * 8 * D - 1, '7y364d'], [20 * 365 * D, '20y'],
  ];
  for (const [ms, want] of table) t.equal(humanDuration(ms), want, `${ms} ms`);
});

t.test('an age is measured from the timestamp to the injected now, <unknown> without one', async (t) => {
  const now = Date.parse('2026-03-01T10:00:00Z');
  t.equal(since('2026-03-01T09:57:30Z', now), '2m30s');
  t.equal(since('2026-02-27T07:00:00Z', now), '2d3h');
  t.equal(since(undefined, now), '<unknown>');
  t.equal(since('not a time', now), '<unknown>');
});

t.test('absolute times use Go RFC1123Z layout in UTC', async (t) => {
  t.equal(rfc1123z('2026-01-02T03:04:05Z'), 'Fri, 02 Jan 2026 03:04:05 +0000');
  t.equal(rfc1123z('2025-12-31T23:59:59.900Z'), 'Wed, 31 Dec 2025 23:59:59 +0000');
  t.equal(rfc1123z(undefined), 'Mon, 01 Jan 0001 00:00:00 +0000');
});
