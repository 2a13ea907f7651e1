import t from 'tap';
import { formatIPv4, isHostIn, isMac, isUnicastMac, parseCidr, parseIPv4 } from '../../firmware-setup/src/net.js';

t.test('parses dotted quads and rejects anything else', async (t) => {
  t.equal(parseIPv4('10.0.0.1'), 167772161);
  t.equal(formatIPv4(167772161), '10.0.0.1');
  t.equal(parseIPv4('255.255.255.255'), 4294967295);
  for (const bad of ['10.0.0', '10.0.0.256', '010.0.0.1', '1.2.3.4.5', ' 10.0.0.1', 'a.b.c.d']) t.equal(parseIPv4(bad), undefined, bad);
});

t.test('a CIDR block with host bits set is refused with the block it probably meant', async (t) => {
  t.match(parseCidr('10.0.0.1/24'), /did you mean 10.0.0.0\/24/);
  t.type(parseCidr('10.0.0.0'), 'string');
  t.type(parseCidr('10.0.0.0/33'), 'string');
  const s = parseCidr('10.0.0.0/24');
  if (typeof s === 'string') throw new Error(s);
  t.equal(isHostIn(s, parseIPv4('10.0.0.1') as number), true);
  t.equal(isHostIn(s, parseIPv4('10.0.0.0') as number), false, 'network address');
  t.equal(isHostIn(s, parseIPv4('10.0.0.255') as number), false, 'broadcast');
  t.equal(isHostIn(s, parseIPv4('10.0.1.1') as number), false);
});

t.test('MACs: colon form only, and the multicast bit is detected', async (t) => {
  t.ok(isMac('dc:a6:32:01:02:03'));
  t.ok(isMac('DC:A6:32:01:02:03'));
  t.notOk(isMac('dc-a6-32-01-02-03'));
  t.notOk(isMac('dc:a6:32:01:02'));
  t.ok(isUnicastMac('dc:a6:32:01:02:03'));
  t.notOk(isUnicastMac('01:00:5e:00:00:01'));
});
