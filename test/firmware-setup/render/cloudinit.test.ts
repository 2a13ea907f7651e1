import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadPlan, parsePlan } from '../../../firmware-setup/src/plan.js';
import { renderBoardFiles, renderDaemonConfig, DAEMON_CONFIG_PATH, INSTALL_SCRIPT_PATH } from '../../../firmware-setup/src/render/cloudinit.js';
import { DNSMASQ_CONF_PATH } from '../../../firmware-setup/src/render/dnsmasq.js';
import { loadConfig } from '../../../daemon/src/config.js';
import { EXAMPLE_PLAN, tmp } from '../helpers.js';

const SECRETS = { token: 'q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c' };
const fleet = loadPlan(EXAMPLE_PLAN);

function schema(file: string): { code: number; text: string } {
  const r = spawnSync('cloud-init', ['schema', '-c', file], { encoding: 'utf8' });
  return { code: r.status ?? -1, text: `${r.stdout}${r.stderr}` };
}

/** Render network-config to NetworkManager keyfiles as Raspberry Pi OS would; returns name -> text. */
function netConvert(dir: string, file: string): { code: number; err: string; files: Record<string, string> } {
  const out = join(dir, 'nm');
  const r = spawnSync('cloud-init', ['devel', 'net-convert', '-p', file, '-k', 'yaml', '-D', 'debian', '-O', 'network-manager', '-d', out], { encoding: 'utf8' });
  const files: Record<string, string> = {};
  const conns = join(out, 'etc/NetworkManager/system-connections');
  try {
    for (const f of readdirSync(conns)) files[f] = readFileSync(join(conns, f), 'utf8');
  } catch { /* none written */ }
  return { code: r.status ?? -1, err: r.stderr, files };
}

t.test('every board\'s user-data passes cloud-init schema, and a broken one does not', async (t) => {
  const dir = tmp(t);
  for (const b of fleet.plan.boards) {
    const file = join(dir, `${b.hostname}-user-data`);
    writeFileSync(file, renderBoardFiles(fleet, b, SECRETS)['user-data']);
    const r = schema(file);
    t.equal(r.code, 0, `${b.hostname}: ${r.text}`);
    t.match(r.text, /Valid cloud-config/);
  }
  // the same check on a user-data with a wrong type must fail, or the check above proves nothing
  const bad = join(dir, 'bad-user-data');
  writeFileSync(bad, renderBoardFiles(fleet, fleet.gateway, SECRETS)['user-data'].replace('ssh_pwauth: false', 'ssh_pwauth: [no]'));
  t.not(schema(bad).code, 0, 'cloud-init schema rejects ssh_pwauth: [no]');
});

t.test('user-data sets the host, the user with keys and sudo, packages, the daemon config and the install', async (t) => {
  const gw = parse(renderBoardFiles(fleet, fleet.gateway, SECRETS)['user-data']) as Record<string, any>;
  const w = parse(renderBoardFiles(fleet, fleet.plan.boards[1]!, SECRETS)['user-data']) as Record<string, any>;
  t.equal(gw.hostname, 'pi0');
  t.equal(gw.fqdn, 'pi0.cluster.home');
  t.equal(gw.manage_etc_hosts, true);
  t.equal(gw.ssh_pwauth, false);
  t.equal(gw.enable_ssh, true, 'Raspberry Pi OS starts without an SSH server');
  t.equal(gw.users[0].name, 'pi');
  t.same(gw.users[0].ssh_authorized_keys, fleet.plan.user.sshAuthorizedKeys);
  t.match(gw.users[0].sudo, /NOPASSWD:ALL/);
  t.same(gw.packages, ['docker.io', 'nodejs', 'dnsmasq']);
  t.same(w.packages, ['docker.io', 'nodejs'], 'only the gateway installs dnsmasq');
  const paths = (u: any): string[] => u.write_files.map((f: any) => f.path);
  t.same(paths(gw), [DAEMON_CONFIG_PATH, INSTALL_SCRIPT_PATH, DNSMASQ_CONF_PATH]);
  t.same(paths(w), [DAEMON_CONFIG_PATH, INSTALL_SCRIPT_PATH]);
  t.equal(gw.write_files[0].permissions, '0600', 'the config holds the token');
  t.same(w.runcmd, [['systemctl', 'enable', '--now', 'ssh.service'], [INSTALL_SCRIPT_PATH], ['systemctl', 'enable', '--now', 'docker.service', 'pifleet.service']]);
  t.same(gw.runcmd.at(-1), ['systemctl', 'enable', '--now', 'docker.service', 'pifleet.service']);
});

t.test('the daemon config written to each board loads with the daemon\'s own config loader', async (t) => {
  const dir = tmp(t);
  const pi3 = fleet.plan.boards[3]!;
  const file = join(dir, 'config.yaml');
  writeFileSync(file, renderDaemonConfig(fleet, pi3, SECRETS));
  const cfg = loadConfig({ file, env: {} });
  t.equal(cfg.cluster, 'home');
  t.equal(cfg.nodeName, 'pi3');
  t.equal(cfg.token, SECRETS.token);
  t.equal(cfg.node.address, '10.0.0.13');
  t.same(cfg.node.taints, [{ key: 'dedicated', value: 'builds', effect: 'NoSchedule' }]);
  const embedded = (parse(renderBoardFiles(fleet, pi3, SECRETS)['user-data']) as any).write_files[0].content;
  t.equal(embedded, readFileSync(file, 'utf8'), 'user-data carries exactly this file');
});

t.test('network-config gives the gateway its static address and the others DHCP, as NetworkManager keyfiles', async (t) => {
  const dir = tmp(t);
  const gwFile = join(dir, 'gw-network-config');
  writeFileSync(gwFile, renderBoardFiles(fleet, fleet.gateway, SECRETS)['network-config']);
  const gw = netConvert(join(dir, 'gw'), gwFile);
  t.equal(gw.code, 0, gw.err);
  const eth0 = gw.files['cloud-init-eth0.nmconnection'] ?? '';
  t.match(eth0, /^method=manual$/m);
  t.match(eth0, /^address1=10\.0\.0\.1\/24$/m);
  t.match(eth0, /^dns=10\.0\.0\.1;1\.1\.1\.1;9\.9\.9\.9;$/m);
  t.match(eth0, /^dns-search=cluster\.home;$/m);

  const wFile = join(dir, 'w-network-config');
  writeFileSync(wFile, renderBoardFiles(fleet, fleet.plan.boards[2]!, SECRETS)['network-config']);
  const w = netConvert(join(dir, 'w'), wFile);
  t.equal(w.code, 0, w.err);
  t.match(w.files['cloud-init-eth0.nmconnection'] ?? '', /^method=auto$/m);

  const badFile = join(dir, 'bad-network-config');
  writeFileSync(badFile, readFileSync(gwFile, 'utf8').replace('10.0.0.1/24', '10.0.0.300/24'));
  t.not(netConvert(join(dir, 'bad'), badFile).code, 0, 'net-convert rejects a bad address, so the check above means something');
});

t.test('a network.router becomes the gateway board\'s default route', async (t) => {
  const text = readFileSync(EXAMPLE_PLAN, 'utf8').replace('# router: 10.0.0.254 ', 'router: 10.0.0.254 ');
  const f = parsePlan(text, 'fleet.yaml');
  const nc = parse(renderBoardFiles(f, f.gateway, SECRETS)['network-config']) as any;
  t.same(nc.network.ethernets.eth0.routes, [{ to: '0.0.0.0/0', via: '10.0.0.254' }]);
  const dir = tmp(t);
  const file = join(dir, 'network-config');
  writeFileSync(file, renderBoardFiles(f, f.gateway, SECRETS)['network-config']);
  const r = netConvert(dir, file);
  t.equal(r.code, 0, r.err);
  t.match(r.files['cloud-init-eth0.nmconnection'] ?? '', /^route1=0\.0\.0\.0\/0,10\.0\.0\.254$/m);
});

t.test('Wi-Fi goes to the gateway only, with its country', async (t) => {
  const text = readFileSync(EXAMPLE_PLAN, 'utf8')
    .replace('  # wifi:\n  #   country: GB\n  #   ssid: my-home-network\n  #   passphrase: correct horse battery staple', '  wifi:\n    country: GB\n    ssid: my-home-network\n    passphrase: correct horse battery staple');
  const f = parsePlan(text, 'fleet.yaml');
  const gw = parse(renderBoardFiles(f, f.gateway, SECRETS)['network-config']) as any;
  t.same(gw.network.wifis.wlan0['access-points'], { 'my-home-network': { password: 'correct horse battery staple' } });
  t.equal(gw.network.wifis.wlan0['regulatory-domain'], 'GB');
  const w = parse(renderBoardFiles(f, f.plan.boards[1]!, SECRETS)['network-config']) as any;
  t.equal(w.network.wifis, undefined);
});

t.test('meta-data\'s instance-id is stable for the same plan and changes with it', async (t) => {
  const b = fleet.plan.boards[1]!;
  const a1 = parse(renderBoardFiles(fleet, b, SECRETS)['meta-data']) as Record<string, string>;
  const a2 = parse(renderBoardFiles(fleet, b, SECRETS)['meta-data']) as Record<string, string>;
  t.equal(a1['instance-id'], a2['instance-id']);
  t.match(a1['instance-id'], /^pifleet-pi1-[0-9a-f]{16}$/);
  t.equal(a1['local-hostname'], 'pi1');
  const other = parse(renderBoardFiles(fleet, b, { token: `${SECRETS.token}x` })['meta-data']) as Record<string, string>;
  t.not(other['instance-id'], a1['instance-id'], 'a new token is a new instance');
});
