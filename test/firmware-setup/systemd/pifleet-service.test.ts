/**
 * systemd/pifleet.service. `systemd-analyze verify` exits 0 even for unknown keys or a bad Type=
 * (it only prints a warning), so the check is that it prints nothing at all. It also requires
 * ExecStart's binary to exist: the unit is verified as a copy whose ExecStart line alone points at
 * this machine's node and this checkout's bin/pifleet.js (the test asserts no other line differs).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DAEMON_CONFIG_PATH, INSTALL_DIR } from '../../../firmware-setup/src/render/cloudinit.js';
import { REPO, tmp } from '../helpers.js';

const UNIT = join(REPO, 'systemd/pifleet.service');
const text = readFileSync(UNIT, 'utf8');
const EXEC = `ExecStart=${INSTALL_DIR}/node/bin/node ${INSTALL_DIR}/bin/pifleet.js daemon --config ${DAEMON_CONFIG_PATH}`;

function verify(file: string): { code: number; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}`.trim() };
}

/** key -> values of the [Service]/[Unit] lines (comments dropped). */
function keys(unit: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const l of unit.split('\n')) {
    const x = /^([A-Za-z]+)=(.*)$/.exec(l);
    if (x) m.set(x[1] as string, [...(m.get(x[1] as string) ?? []), x[2] as string]);
  }
  return m;
}

t.test('systemd-analyze verify prints nothing for the unit (ExecStart pointed at real files)', async (t) => {
  const dir = tmp(t);
  t.ok(text.includes(`\n${EXEC}\n`), 'ExecStart runs the bundled node on the installed bin/pifleet.js with the written config');
  const local = text.replace(EXEC, `ExecStart=${process.execPath} ${join(REPO, 'bin/pifleet.js')} daemon --config ${DAEMON_CONFIG_PATH}`);
  const a = text.split('\n');
  const b = local.split('\n');
  t.equal(a.length, b.length);
  t.same(a.map((l, i) => (l === b[i] ? null : l)).filter(Boolean), [EXEC], 'only the ExecStart line is rewritten');
  const copy = join(dir, 'pifleet.service');
  writeFileSync(copy, local);
  const r = verify(copy);
  t.equal(r.code, 0);
  t.equal(r.output, '', 'no warnings at all');

  // the same check must notice a wrong key or value, or it proves nothing
  writeFileSync(copy, local.replace('Type=notify', 'Type=notifyy').replace('KillMode=process', 'KillMode=process\nKilMode=process'));
  const bad = verify(copy);
  t.match(bad.output, /Failed to parse service type/);
  t.match(bad.output, /Unknown key 'KilMode'/);
});

t.test('the unit is notify-type with a watchdog, restarts, ordering and hardening that keeps Docker usable', async (t) => {
  const k = keys(text);
  const one = (key: string): string | undefined => k.get(key)?.[0];
  t.equal(one('Type'), 'notify');
  t.equal(one('NotifyAccess'), 'all', 'systemd-notify --pid runs as a child, not the main PID');
  t.equal(one('WatchdogSec'), '30');
  t.equal(one('Restart'), 'always');
  t.equal(one('RestartSec'), '2');
  t.equal(one('KillMode'), 'process', 'SIGTERM goes to the daemon only');
  for (const key of ['After', 'Wants']) {
    t.match(one(key), /docker\.service/);
    t.match(one(key), /network-online\.target/);
  }
  t.equal(one('StateDirectory'), 'pifleet');
  t.equal(one('RuntimeDirectory'), 'pifleet');
  t.equal(one('RuntimeDirectoryPreserve'), 'yes', 'Secret volumes survive a daemon restart');
  t.equal(one('StandardOutput'), 'journal');
  for (const key of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp', 'ProtectKernelTunables', 'ProtectControlGroups', 'RestrictSUIDSGID', 'LockPersonality']) t.equal(one(key), 'yes', key);
  t.equal(one('ProtectSystem'), 'strict');
  t.notOk(k.has('MemoryDenyWriteExecute'), 'V8 needs W+X memory');
  t.notOk(k.has('PrivateDevices') || k.has('PrivateNetwork') || k.has('RestrictAddressFamilies'), 'nothing that would cut off the Docker socket or the LAN');
  t.equal(one('WantedBy'), 'multi-user.target');
});
