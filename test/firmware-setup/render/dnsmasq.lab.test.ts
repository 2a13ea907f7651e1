/**
 * The generated dnsmasq config really serves the fleet: a namespace lab (test/lab/netns-lab.sh)
 * with the gateway on node 1 running exactly the config pifleet-setup writes for the gateway,
 * workers on nodes 2-4 with their planned MACs asking with udhcpc for a lease, a device that
 * is not in the plan getting one from the range, and busybox nslookup resolving board names.
 * Root and network namespaces; all traffic stays inside the lab.
 */
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parsePlan } from '../../../firmware-setup/src/plan.js';
import { renderDnsmasq } from '../../../firmware-setup/src/render/dnsmasq.js';
import { EXAMPLE_PLAN, REPO, tmp } from '../helpers.js';

const LAB = join(REPO, 'test/lab/netns-lab.sh');
const PREFIX = `fs${process.pid % 100000}`;
const SUB = '10.66.0';
const env = { ...process.env, LAB_PREFIX: PREFIX };
const WORKERS = [
  { node: 2, host: 'pi1', mac: '02:aa:00:00:00:11', ip: `${SUB}.11` },
  { node: 3, host: 'pi2', mac: '02:aa:00:00:00:12', ip: `${SUB}.12` },
  { node: 4, host: 'pi3', mac: '02:aa:00:00:00:13', ip: `${SUB}.13` },
];

function lab(...args: string[]): string {
  const r = spawnSync(LAB, args, { env, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`netns-lab.sh ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

function labExec(node: number, cmd: string[], timeout = 20_000): { code: number; out: string } {
  const r = spawnSync(LAB, ['exec', String(node), ...cmd], { env, encoding: 'utf8', timeout });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** The example plan moved onto the lab's subnet, upstream DNS inside the lab (never contacted). */
function labPlan(): string {
  let text = readFileSync(EXAMPLE_PLAN, 'utf8').replaceAll('10.0.0.', `${SUB}.`).replace('upstream: [1.1.1.1, 9.9.9.9]', `upstream: [${SUB}.250]`);
  for (const w of WORKERS) text = text.replace(`mac: dc:a6:32:00:00:${w.mac.slice(-2)}`, `mac: ${w.mac}`);
  return text;
}

t.test('the gateway\'s dnsmasq hands every board its planned address by MAC and answers their names', async (t) => {
  const dir = tmp(t);
  t.teardown(() => { spawnSync(LAB, ['down'], { env, encoding: 'utf8', timeout: 60_000 }); });
  lab('up', '5', '--subnet', SUB);

  const fleet = parsePlan(labPlan(), 'lab-fleet.yaml');
  t.equal(fleet.gateway.address, `${SUB}.1`, 'the gateway is lab node 1');
  const conf = join(dir, 'pifleet.conf');
  writeFileSync(conf, renderDnsmasq(fleet));
  const check = spawnSync('dnsmasq', ['--test', '-C', conf], { encoding: 'utf8' });
  t.equal(check.status, 0, check.stderr);

  const log = join(dir, 'dnsmasq.log');
  const dnsmasq: ChildProcess = spawn(LAB, ['exec', '1', 'dnsmasq', '-C', conf, '--keep-in-foreground', '--no-ping',
    `--pid-file=${join(dir, 'dnsmasq.pid')}`, `--dhcp-leasefile=${join(dir, 'leases')}`, '--log-dhcp', '--log-queries', `--log-facility=${log}`, '--user=root'],
  { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let dnsErr = '';
  dnsmasq.stderr?.on('data', (d: Buffer) => { dnsErr += d.toString(); });
  t.teardown(() => { if (dnsmasq.exitCode === null) dnsmasq.kill('SIGTERM'); });
  // wait (bounded) until it answers DNS for the gateway's own name
  let ready = false;
  for (let i = 0; i < 50 && !ready; i++) {
    ready = labExec(2, ['busybox', 'nslookup', 'pi0.cluster.home', `${SUB}.1`], 5000).code === 0;
    if (!ready) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(ready, `dnsmasq answers (stderr: ${dnsErr})`);

  const script = join(dir, 'udhcpc.sh');
  writeFileSync(script, '#!/bin/sh\n[ "$1" = bound ] && env > "$OUT"\nexit 0\n', { mode: 0o755 });
  const lease = (node: number): Record<string, string> => {
    const out = join(dir, `lease${node}.env`);
    const r = labExec(node, ['env', `OUT=${out}`, 'udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '5', '-T', '1', '-s', script], 30_000);
    if (!existsSync(out)) return { error: r.out };
    return Object.fromEntries(readFileSync(out, 'utf8').split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  };

  for (const w of WORKERS) {
    spawnSync('ip', ['-n', `${PREFIX}-n${w.node}`, 'link', 'set', 'eth0', 'down'], { encoding: 'utf8' });
    const set = spawnSync('ip', ['-n', `${PREFIX}-n${w.node}`, 'link', 'set', 'eth0', 'address', w.mac], { encoding: 'utf8' });
    t.equal(set.status, 0, set.stderr);
    spawnSync('ip', ['-n', `${PREFIX}-n${w.node}`, 'link', 'set', 'eth0', 'up'], { encoding: 'utf8' });
  }
  for (const w of WORKERS) {
    const l = lease(w.node);
    t.equal(l.ip, w.ip, `${w.host} (${w.mac}) gets its planned address ${w.ip} ${l.error ?? ''}`);
    t.equal(l.router, `${SUB}.1`, 'router: the gateway');
    t.equal(l.dns, `${SUB}.1`, 'DNS: the gateway');
    t.equal(l.domain, 'cluster.home');
    t.equal(l.mask, '24');
  }
  const stranger = lease(5);
  const last = Number(stranger.ip?.split('.')[3]);
  t.ok(stranger.ip?.startsWith(`${SUB}.`) && last >= 100 && last <= 200, `a device not in the plan gets an address from the range (${stranger.ip ?? stranger.error})`);

  const lookup = (name: string): { code: number; out: string } => labExec(3, ['busybox', 'nslookup', name, `${SUB}.1`], 10_000);
  for (const [name, ip] of [['pi0.cluster.home', `${SUB}.1`], ['pi1.cluster.home', `${SUB}.11`], ['pi2.cluster.home', `${SUB}.12`], ['pi3.cluster.home', `${SUB}.13`]] as const) {
    const r = lookup(name);
    t.equal(r.code, 0, r.out);
    t.match(r.out, new RegExp(`Name:\\s+${name.replaceAll('.', '\\.')}\\s+Address:\\s+${ip.replaceAll('.', '\\.')}\\b`), `${name} -> ${ip}`);
    t.notMatch(r.out, /127\.0\.1\.1/);
  }
  const unknown = lookup('nope.cluster.home');
  t.not(unknown.code, 0, `an unknown name in the local domain is not found: ${unknown.out}`);
  t.notMatch(readFileSync(log, 'utf8'), /forwarded nope\.cluster\.home/, 'local names are never forwarded upstream');
});
