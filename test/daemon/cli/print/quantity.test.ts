import t from 'tap';
import { formatCpu, formatSize, parseQuantity } from '../../../../daemon/src/cli/print/quantity.js';

t.test('quantities parse with decimal, binary and exponent suffixes', async (t) => {
  t.same(parseQuantity('500m'), { value: 0.5, binary: false });
  t.same(parseQuantity('2'), { value: 2, binary: false });
  t.same(parseQuantity('64Mi'), { value: 64 * 2 ** 20, binary: true });
  t.same(parseQuantity('1G'), { value: 1e9, binary: false });
  t.same(parseQuantity('1e3'), { value: 1000, binary: false });
  t.same(parseQuantity(3), { value: 3, binary: false });
  t.equal(parseQuantity('12 apples'), undefined);
  t.equal(parseQuantity(undefined), undefined);
});

t.test('sums print in millicores or whole cores, sizes with the largest exact suffix', async (t) => {
  t.equal(formatCpu(0), '0');
  t.equal(formatCpu(0.25), '250m');
  t.equal(formatCpu(1.5), '1500m');
  t.equal(formatCpu(2), '2');
  t.equal(formatSize(0, true), '0');
  t.equal(formatSize(192 * 2 ** 20, true), '192Mi');
  t.equal(formatSize(2 ** 30, true), '1Gi');
  t.equal(formatSize(1e9, false), '1G');
  t.equal(formatSize(1500, false), '1500');
  t.equal(formatSize(1536, true), '1536', '1.5Ki is not a whole number of any suffix: plain bytes');
});
