import t from 'tap';
import { parseQuantity } from '../../../daemon/src/api/quantity.js';

t.test('parses Kubernetes quantities with decimal and binary suffixes and exponents', async (t) => {
  const table: Array<[unknown, number]> = [
    ['1', 1], ['500m', 0.5], ['0.5', 0.5], ['.5', 0.5], ['1.', 1], ['100u', 100e-6], ['10n', 10e-9],
    ['128Mi', 128 * 2 ** 20], ['1Gi', 2 ** 30], ['1Ki', 1024], ['2k', 2000], ['1M', 1e6], ['1G', 1e9], ['1T', 1e12], ['1E', 1e18],
    ['1e3', 1000], ['1E3', 1000], ['5e-1', 0.5], ['+2', 2], ['-1', -1], [2, 2], [0.25, 0.25],
  ];
  for (const [q, want] of table) {
    const got = parseQuantity(q);
    t.ok(got !== undefined && Math.abs(got - want) <= Math.abs(want) * 1e-12, `${JSON.stringify(q)} -> ${got}, want ${want}`);
  }
});

t.test('rejects what the API server rejects', async (t) => {
  for (const q of ['', 'lots', '1 Gi', '1gi', '1GB', '1Mii', 'Mi', '1..5', '0x10', '1e', null, undefined, {}, [], Number.NaN, Number.POSITIVE_INFINITY, true]) {
    t.equal(parseQuantity(q), undefined, JSON.stringify(q) ?? String(q));
  }
});
