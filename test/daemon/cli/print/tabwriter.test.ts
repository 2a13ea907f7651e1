import t from 'tap';
import { DESCRIBE_WRITER, TABLE_WRITER, TabWriter, tabulate } from '../../../../daemon/src/cli/print/tabwriter.js';

t.test('table columns are as wide as their widest cell plus 3, at least 6, and the last column is not padded', async (t) => {
  const out = tabulate([['NAME', 'READY', 'AGE'], ['a', '1/1', '5s'], ['longer-name', '10/10', '2d']]);
  t.equal(out, [
    'NAME          READY   AGE',
    'a             1/1     5s',
    'longer-name   10/10   2d',
    '',
  ].join('\n'));
  // a narrow column still takes the minimum width of 6
  t.equal(tabulate([['A', 'B'], ['x', 'y']]), 'A     B\nx     y\n');
});

t.test('multi-byte characters count as one column each', async (t) => {
  t.equal(tabulate([['NAME', 'X'], ['größe', 'y']]), 'NAME    X\ngröße   y\n');
});

t.test('describe layout aligns only consecutive lines that share a tab column', async (t) => {
  const w = new TabWriter(DESCRIBE_WRITER);
  w.write('Name:\tweb\nNamespace:\tdefault\nContainers:\n  web:\n    Image:\tnginx\n    Restart Count:\t0\nQoS Class:\tBestEffort\n');
  t.equal(w.flush(), [
    'Name:       web',
    'Namespace:  default',
    'Containers:',
    '  web:',
    '    Image:          nginx',
    '    Restart Count:  0',
    'QoS Class:          BestEffort',
    '',
  ].join('\n'));
});

t.test('a cell in a later column starts a nested block only for the lines that have it', async (t) => {
  const w = new TabWriter(DESCRIBE_WRITER);
  w.write('a\tb\tc\naaaa\tb\nx\tyyyyy\tz\n');
  t.equal(w.flush(), 'a     b  c\naaaa  b\nx     yyyyy  z\n');
});

t.test('remembered widths keep later flushes aligned with earlier ones', async (t) => {
  const w = new TabWriter(TABLE_WRITER);
  w.write('NAME\tSTATUS\tAGE\nweb-1\tRunning\t1s\n');
  t.equal(w.flush(), 'NAME    STATUS    AGE\nweb-1   Running   1s\n');
  w.write('w\tOK\t2s\n');
  t.equal(w.flush(), 'w       OK        2s\n', 'narrower row padded to the remembered widths');
  w.write('a-much-longer-name\tPending\t3s\n');
  t.equal(w.flush(), 'a-much-longer-name   Pending   3s\n', 'a wider cell widens its column from then on');
  w.write('b\tX\t4s\n');
  t.equal(w.flush(), 'b                    X         4s\n');
});

t.test('text without a trailing newline is kept until flush', async (t) => {
  const w = new TabWriter(DESCRIBE_WRITER);
  w.write('Key:\t');
  w.write('value');
  t.equal(w.flush(), 'Key:  value');
});
