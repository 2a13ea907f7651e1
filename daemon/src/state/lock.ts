/**
 * One daemon per state directory: <stateDir>/daemon.pid names the daemon that uses it. A second
 * daemon, or `pifleet state repair`, refuses while that process lives (two daemons on one
 * store would each append to it; a repair under a running daemon would be undone by it).
 * A pid file left by a process that died (kill -9, power loss) is taken over.
 */
import { promises as fsp, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const PID_FILE = 'daemon.pid';

/** The pid of a live pifleet process holding the state directory, if any. */
export async function lockHolder(stateDir: string): Promise<number | undefined> {
  let pid: number;
  try {
    pid = Number((await fsp.readFile(join(stateDir, PID_FILE), 'utf8')).trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  // a reused pid of another program does not count
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!/pifleet|daemon/.test(cmd)) return undefined;
  } catch {
    return undefined;
  }
  return pid;
}

export class StateLockedError extends Error {
  constructor(readonly stateDir: string, readonly pid: number, doing: string) {
    super(`${doing}: the state directory ${stateDir} is in use by the pifleet daemon with pid ${pid}; stop it first (systemctl stop pifleet, or kill ${pid})`);
    this.name = 'StateLockedError';
  }
}

/** Claim the state directory for this process; returns the release function. */
export async function acquireStateLock(stateDir: string, doing = 'cannot start'): Promise<() => Promise<void>> {
  const holder = await lockHolder(stateDir);
  if (holder !== undefined) throw new StateLockedError(stateDir, holder, doing);
  await fsp.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, PID_FILE);
  await fsp.writeFile(path, `${process.pid}\n`, { mode: 0o600 });
  return async () => {
    try {
      if (Number((await fsp.readFile(path, 'utf8')).trim()) === process.pid) await fsp.rm(path, { force: true });
    } catch { /* gone already */ }
  };
}
