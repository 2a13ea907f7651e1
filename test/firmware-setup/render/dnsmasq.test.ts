import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPlan } from '../../../firmware-setup/src/plan.js';
import { renderDnsmasq } from '../../../firmware-setup/src/render/dnsmasq.js';
import { EXAMPLE_PLAN, tmp } from '../helpers.js';

const fleet = loadPlan(EXAMPLE_PLAN);

function test(file: string): { code: number; text: string } {
  const r = spawnSync('dnsmasq', ['--test', '-C', file], { encoding: 'utf8' });
  return { code: r.status ?? -1, text: `${r.stdout}${r.stderr}` };
}

t.test('the generated dnsmasq config passes dnsmasq --test, and a broken one does not', async (t) => {
  const dir = tmp(t);
  const file = join(dir, 'pifleet.conf');
  writeFileSync(file, renderDnsmasq(fleet));
  const r = test(file);
  t.equal(r.code, 0, r.text);
  t.match(r.text, /syntax check OK/);
  writeFileSync(file, `${renderDnsmasq(fleet)}dhcp-range=10.0.0.300,10.0.0.1\n`);
  t.not(test(file).code, 0, 'dnsmasq --test rejects a bad dhcp-range');
});

t.test('it has the range with lease time, a static lease per worker, a host record per board, the domain and upstreams', async (t) => {
  const lines = renderDnsmasq(fleet).split('\n');
  const has = (l: string): void => { t.ok(lines.includes(l), l); };
  has('interface=eth0');
  has('dhcp-range=10.0.0.100,10.0.0.200,255.255.255.0,12h');
  has('dhcp-host=dc:a6:32:00:00:11,10.0.0.11,pi1,infinite');
  has('dhcp-host=dc:a6:32:00:00:12,10.0.0.12,pi2,infinite');
  has('dhcp-host=dc:a6:32:00:00:13,10.0.0.13,pi3,infinite');
  t.notOk(lines.some((l) => l.startsWith('dhcp-host=dc:a6:32:00:00:10')), 'the gateway has a static address, no lease');
  for (const [h, a] of [['pi0', '10.0.0.1'], ['pi1', '10.0.0.11'], ['pi2', '10.0.0.12'], ['pi3', '10.0.0.13']]) has(`host-record=${h}.cluster.home,${h},${a}`);
  has('domain=cluster.home');
  has('local=/cluster.home/');
  has('expand-hosts');
  has('server=1.1.1.1');
  has('server=9.9.9.9');
  has('no-resolv');
  has('dhcp-option=option:router,10.0.0.1');
  has('dhcp-option=option:dns-server,10.0.0.1');
});
