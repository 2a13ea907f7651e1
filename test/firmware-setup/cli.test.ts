import t from 'tap';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CMDLINE, cli, fatImage, mread, tmp, writePlan } from './helpers.js';

const FILES = ['user-data', 'network-config', 'cmdline.txt', 'meta-data'];
const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');
const card = (dir: string): string => fatImage(dir, { 'cmdline.txt': CMDLINE, 'config.txt': 'arm_64bit=1\n', 'bcm2712-rpi-5-b.dtb': 'dtb' });

t.test('write puts the boot files into a FAT image; a second run changes nothing and keeps the token', async (t) => {
  const dir = tmp(t);
  const plan = writePlan(dir);
  const img = card(dir);
  const bundle = join(dir, 'pifleet-bundle.tar.gz');
  writeFileSync(bundle, Buffer.from('not really a bundle, just bytes to copy'));
  const first = await cli(['write', '--plan', plan, '--board', 'pi1', '--image', img, '--bundle', bundle]);
  t.equal(first.code, 0, first.err);
  for (const f of ['user-data', 'network-config', 'meta-data', 'pifleet/pifleet-bundle.tar.gz']) t.match(first.out, new RegExp(`^  ${f} +created$`, 'm'));
  t.match(first.out, /^  cmdline.txt +updated$/m);
  t.match(first.err, /created .*fleet\.secrets\.yaml \(mode 0600\)/);
  const files = Object.fromEntries(FILES.map((f) => [f, mread(img, f)]));
  t.equal(files['cmdline.txt']?.toString(), `${CMDLINE.trimEnd()} cgroup_enable=memory cgroup_memory=1\n`);
  t.same(mread(img, 'pifleet/pifleet-bundle.tar.gz'), readFileSync(bundle));
  const token = (parse(readFileSync(join(dir, 'fleet.secrets.yaml'), 'utf8')) as { token: string }).token;
  t.match(files['user-data']?.toString(), `token: ${token}`);
  t.match(files['user-data']?.toString(), /^hostname: pi1$/m);
  const imgHash = sha(img);

  const second = await cli(['write', '--plan', plan, '--board', 'pi1', '--image', img, '--bundle', bundle]);
  t.equal(second.code, 0, second.err);
  for (const f of [...FILES, 'pifleet/pifleet-bundle.tar.gz']) t.match(second.out, new RegExp(`^  ${f} +unchanged \\(no changes\\)$`, 'm'));
  t.match(second.out, /^no changes$/m);
  t.notMatch(second.err, /created/);
  for (const f of FILES) t.same(mread(img, f), files[f], `${f} identical`);
  t.equal(sha(img), imgHash, 'the image is byte-identical after the second run');
  t.equal((parse(readFileSync(join(dir, 'fleet.secrets.yaml'), 'utf8')) as { token: string }).token, token);
});

t.test('write into a mounted boot partition (a directory) works the same way', async (t) => {
  const dir = tmp(t);
  const plan = writePlan(dir);
  const boot = join(dir, 'bootfs');
  mkdirSync(boot);
  writeFileSync(join(boot, 'cmdline.txt'), CMDLINE.trimEnd());
  writeFileSync(join(boot, 'config.txt'), 'arm_64bit=1\n');
  writeFileSync(join(boot, 'start4.elf'), 'elf');
  const r = await cli(['write', '--plan', plan, '--board', 'pi0', '--boot', boot]);
  t.equal(r.code, 0, r.err);
  t.equal(readFileSync(join(boot, 'cmdline.txt'), 'utf8'), `${CMDLINE.trimEnd()} cgroup_enable=memory cgroup_memory=1`, 'no newline added');
  const ud = readFileSync(join(boot, 'user-data'), 'utf8');
  t.match(ud, /^#cloud-config\n/);
  t.match(ud, /path: \/etc\/dnsmasq.d\/pifleet.conf/, 'the gateway gets the dnsmasq config');
  t.match(readFileSync(join(boot, 'network-config'), 'utf8'), /- 10\.0\.0\.1\/24/);
  t.match(r.err, /no --bundle and no pifleet\/pifleet-bundle.tar.gz/);
  t.notOk(readdirSync(boot).some((f) => f.includes('tmp')), 'no temp files left');
  const again = await cli(['write', '--plan', plan, '--board', 'pi0', '--boot', boot]);
  t.match(again.out, /^no changes$/m);
});

t.test('a FAT image without cmdline.txt is refused with exit 2 and nothing is written', async (t) => {
  const dir = tmp(t);
  const plan = writePlan(dir);
  const img = fatImage(dir, { 'config.txt': 'arm_64bit=1\n', 'notes.txt': 'hello\n' });
  const before = sha(img);
  const r = await cli(['write', '--plan', plan, '--board', 'pi1', '--image', img]);
  t.equal(r.code, 2);
  t.match(r.err, /^refused: image .*: no cmdline.txt, so this is not a Raspberry Pi OS boot partition \(it has config.txt, notes.txt\)/m);
  t.equal(sha(img), before);
  t.notOk(existsSync(join(dir, 'fleet.secrets.yaml')), 'no secrets file for a refused card');
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  const d = await cli(['write', '--plan', plan, '--board', 'pi1', '--boot', empty]);
  t.equal(d.code, 2);
  t.match(d.err, /it is empty/);
  const fw = fatImage(dir, { 'cmdline.txt': CMDLINE }, 'nofw.img');
  const n = await cli(['write', '--plan', plan, '--board', 'pi1', '--image', fw]);
  t.equal(n.code, 2);
  t.match(n.err, /no firmware files/);
});

t.test('write refuses unknown boards, missing bundles and a missing or doubled target with exit 1', async (t) => {
  const dir = tmp(t);
  const plan = writePlan(dir);
  const img = card(dir);
  const r = await cli(['write', '--plan', plan, '--board', 'pi9', '--image', img]);
  t.equal(r.code, 1);
  t.match(r.err, /no board named pi9 \(the plan has pi0, pi1, pi2, pi3\)/);
  t.equal((await cli(['write', '--plan', plan, '--board', 'pi1'])).code, 1);
  t.equal((await cli(['write', '--plan', plan, '--board', 'pi1', '--image', img, '--boot', dir])).code, 1);
  const b = await cli(['write', '--plan', plan, '--board', 'pi1', '--image', img, '--bundle', join(dir, 'nope.tar.gz')]);
  t.equal(b.code, 1);
  t.match(b.err, /cannot read the bundle/);
  t.equal((await cli(['frobnicate'])).code, 1);
});

// One invalid plan per rule: [name, edit of the example, the line holding the value, the value, the message]
const RULES: [string, (s: string) => string, string, string, RegExp][] = [
  ['a duplicate hostname', (s) => s.replace('hostname: pi2', 'hostname: pi1'), '- hostname: pi1\n    address: 10.0.0.12', 'pi1', /boards\.2\.hostname: duplicate hostname pi1: board 2 \(pi1\) has it too/],
  ['a duplicate address', (s) => s.replace('address: 10.0.0.13', 'address: 10.0.0.12'), 'address: 10.0.0.12\n    mac: dc:a6:32:00:00:13', '10.0.0.12', /boards\.3\.address: duplicate address 10\.0\.0\.12: board 3 \(pi2\)/],
  ['a duplicate MAC', (s) => s.replace('mac: dc:a6:32:00:00:13', 'mac: DC:A6:32:00:00:12'), 'mac: DC:A6:32:00:00:12', 'DC:A6', /boards\.3\.mac: duplicate MAC dc:a6:32:00:00:12/],
  ['an address outside the subnet', (s) => s.replace('address: 10.0.0.12', 'address: 10.0.1.12'), 'address: 10.0.1.12', '10.0.1.12', /boards\.2\.address: 10\.0\.1\.12 is outside the subnet 10\.0\.0\.0\/24/],
  ['an address inside the DHCP range', (s) => s.replace('address: 10.0.0.12', 'address: 10.0.0.150'), 'address: 10.0.0.150', '10.0.0.150', /boards\.2\.address: 10\.0\.0\.150 is inside the DHCP range 10\.0\.0\.100-10\.0\.0\.200/],
  ['a bad hostname', (s) => s.replace('hostname: pi3', 'hostname: pi_3'), 'hostname: pi_3', 'pi_3', /boards\.3\.hostname: must be an RFC 1123 host name label/],
  ['no gateway', (s) => s.replace('    role: gateway\n', ''), '  - hostname: pi0', '-', /boards: no gateway: give exactly one board role: gateway/],
  ['two gateways', (s) => s.replace('  - hostname: pi1\n', '  - hostname: pi1\n    role: gateway\n'), 'role: gateway\n    address: 10.0.0.11', 'gateway', /boards\.1\.role: a second gateway: board 1 \(pi0\) is already the gateway/],
  ['a bad MAC', (s) => s.replace('mac: dc:a6:32:00:00:11', 'mac: dc:a6:32:00:11'), 'mac: dc:a6:32:00:11', 'dc:a6', /boards\.1\.mac: must be a MAC address/],
  ['a bad CIDR', (s) => s.replace('subnet: 10.0.0.0/24', 'subnet: 10.0.0.0/35'), 'subnet: 10.0.0.0/35', '10.0.0.0/35', /network\.subnet: prefix length must be between 8 and 30/],
  ['an unknown field', (s) => s.replace('  interface: eth0', '  interface: eth0\n  interfaces: eth1'), 'interfaces: eth1', 'interfaces', /network\.interfaces: unknown field/],
];

for (const [name, edit, lineText, value, message] of RULES) {
  t.test(`a plan with ${name} fails validate and write with its FILE:LINE:COL, and nothing is written`, async (t) => {
    const dir = tmp(t);
    const plan = writePlan(dir, edit);
    const text = readFileSync(plan, 'utf8');
    const idx = text.indexOf(lineText);
    t.ok(idx >= 0, `the edit produced ${JSON.stringify(lineText)}`);
    const lineNo = text.slice(0, idx).split('\n').length;
    const lineStart = text.lastIndexOf('\n', idx) + 1;
    const col = text.indexOf(value, idx) - lineStart + 1;
    const where = `${plan}:${lineNo}:${col} `;
    const v = await cli(['validate', '--plan', plan]);
    t.equal(v.code, 1);
    const line = v.err.split('\n').find((l) => message.test(l));
    t.ok(line, `validate printed ${message}\n${v.err}`);
    t.equal(line?.slice(0, where.length), where, 'at the offending value');
    t.match(v.err, /nothing was written/);
    const img = card(dir);
    const before = sha(img);
    const w = await cli(['write', '--plan', plan, '--board', 'pi1', '--image', img]);
    t.equal(w.code, 1);
    t.match(w.err, message);
    t.equal(sha(img), before, 'the card is untouched');
    t.notOk(existsSync(join(dir, 'fleet.secrets.yaml')), 'no secrets file');
  });
}

t.test('validate accepts the example and reports a secrets file with loose permissions', async (t) => {
  const dir = tmp(t);
  const plan = writePlan(dir);
  const ok = await cli(['validate', '--plan', plan]);
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, /valid: cluster home, 4 board\(s\), gateway pi0 10\.0\.0\.1/);
  writeFileSync(join(dir, 'fleet.secrets.yaml'), 'token: abcdefghijklmnopqrstuvwxyz\n', { mode: 0o644 });
  const loose = await cli(['validate', '--plan', plan]);
  t.equal(loose.code, 1);
  t.match(loose.err, /mode 0644 .*chmod 600/);
});

t.test('plan prints a table per board with hostname, MAC, address, role, labels and files', async (t) => {
  const dir = tmp(t);
  const plan = writePlan(dir);
  const r = await cli(['plan', '--plan', plan, '--bundle', 'bundle/pifleet-bundle.tar.gz']);
  t.equal(r.code, 0, r.err);
  t.equal((r.out.match(/^HOSTNAME +ROLE +MAC +ADDRESS +LABELS +TAINTS$/gm) ?? []).length, 4);
  t.match(r.out, /^pi0\.cluster\.home +gateway +dc:a6:32:00:00:10 +10\.0\.0\.1\/24 static +pifleet\.io\/role=gateway +-$/m);
  t.match(r.out, /^pi1\.cluster\.home +worker +dc:a6:32:00:00:11 +10\.0\.0\.11\/24 dhcp \(static lease\) +disk=ssd +-$/m);
  t.match(r.out, /^pi3\.cluster\.home .* dedicated=builds:NoSchedule$/m);
  t.match(r.out, /files: user-data, network-config, cmdline\.txt \(\+cgroup_enable=memory cgroup_memory=1\), pifleet\/pifleet-bundle\.tar\.gz, meta-data, \(first boot writes \/etc\/pifleet\/config\.yaml, \/etc\/dnsmasq\.d\/pifleet\.conf\)/);
  t.notOk(existsSync(join(dir, 'fleet.secrets.yaml')), 'plan writes nothing');
});
