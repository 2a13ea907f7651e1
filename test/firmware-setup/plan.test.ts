import t from 'tap';
import { readFileSync } from 'node:fs';
import { loadPlan, parsePlan, PlanError } from '../../firmware-setup/src/plan.js';
import { EXAMPLE_PLAN } from './helpers.js';

const example = readFileSync(EXAMPLE_PLAN, 'utf8');

function problems(text: string): string[] {
  try {
    parsePlan(text, 'fleet.yaml');
  } catch (err) {
    if (err instanceof PlanError) return err.problems;
    throw err;
  }
  return [];
}

t.test('the example plan is the valid four-board classic with pi0 as gateway and router', async (t) => {
  const f = loadPlan(EXAMPLE_PLAN);
  t.equal(f.plan.cluster, 'home');
  t.same(f.plan.boards.map((b) => [b.hostname, b.role, b.address]), [
    ['pi0', 'gateway', '10.0.0.1'], ['pi1', 'worker', '10.0.0.11'], ['pi2', 'worker', '10.0.0.12'], ['pi3', 'worker', '10.0.0.13'],
  ]);
  t.equal(f.gateway.hostname, 'pi0');
  t.equal(f.router, '10.0.0.1');
  t.equal(f.plan.network.dns.domain, 'cluster.home');
  t.same(f.plan.network.dns.upstream, ['1.1.1.1', '9.9.9.9']);
  t.equal(f.plan.network.dhcp.leaseTime, '12h');
  t.equal(f.plan.nodeRuntime, 'apt');
});

t.test('reports every schema problem at once with the line and column of the value', async (t) => {
  const text = example.replace('cluster: home', 'cluster: Home').replace('rangeEnd: 10.0.0.200', 'rangeEnd: tomorrow').replace('leaseTime: 12h', 'leaseTime: 12 hours');
  const p = problems(text);
  const lines = text.split('\n');
  const at = (needle: string, value: string): string => {
    const i = lines.findIndex((l) => l.includes(needle));
    return `fleet.yaml:${i + 1}:${(lines[i] as string).indexOf(value) + 1}`;
  };
  t.equal(p.length, 3, p.join('\n'));
  t.ok(p.includes(`${at('cluster: Home', 'Home')} cluster: must be a DNS-1123 label (lower-case letters, digits, -)`), p.join('\n'));
  t.match(p.join('\n'), new RegExp(`${at('rangeEnd: tomorrow', 'tomorrow')} network.dhcp.rangeEnd: must be an IPv4 address`));
  t.match(p.join('\n'), new RegExp(`${at('leaseTime: 12 hours', '12 hours')} network.dhcp.leaseTime: must be a lease time`));
});

t.test('a network.router inside the DHCP range or outside the subnet is refused', async (t) => {
  t.match(problems(example.replace('# router: 10.0.0.254 ', 'router: 10.0.0.150 ')).join('\n'), /network.router: 10.0.0.150 is inside the DHCP range/);
  t.match(problems(example.replace('# router: 10.0.0.254 ', 'router: 192.168.1.1 ')).join('\n'), /network.router: 192.168.1.1 is outside the subnet/);
  t.same(problems(example.replace('# router: 10.0.0.254 ', 'router: 10.0.0.254 ')), []);
});

t.test('a DHCP range that ends before it starts or leaves the subnet is refused', async (t) => {
  t.match(problems(example.replace('rangeStart: 10.0.0.100', 'rangeStart: 10.0.0.210')).join('\n'), /ends \(10.0.0.200\) before it starts/);
  t.match(problems(example.replace('rangeEnd: 10.0.0.200', 'rangeEnd: 10.0.1.20')).join('\n'), /rangeEnd: 10.0.1.20 is outside the subnet/);
});

t.test('a worker without a MAC is refused: its static lease needs one', async (t) => {
  t.match(problems(example.replace('    mac: dc:a6:32:00:00:12\n', '')).join('\n'), /boards.2: board pi2 needs a mac/);
});

t.test('a file that is not YAML or not a mapping says where', async (t) => {
  t.match(problems('cluster: [home\n').join('\n'), /^fleet.yaml:\d+:\d+ \(yaml\): /);
  t.same(problems('- a\n- b\n'), ['fleet.yaml:1:1 (top level): the fleet plan must be a YAML mapping (see config/fleet.example.yaml)']);
});
