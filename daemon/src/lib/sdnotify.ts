/**
 * systemd readiness and watchdog (sd_notify). Node cannot send AF_UNIX datagrams by itself,
 * so each notification runs `systemd-notify` as a child, sent on behalf of this process
 * (--pid) so that systemd attributes it to the main PID (the unit sets NotifyAccess=all too).
 * Nothing happens when NOTIFY_SOCKET is not set (not started by systemd).
 */
import { spawn } from 'node:child_process';

export interface Notifier {
  readonly enabled: boolean;
  /** WATCHDOG_USEC/2 in ms when systemd asked for a watchdog, else undefined. */
  readonly watchdogIntervalMs: number | undefined;
  notify(...assignments: string[]): Promise<void>;
}

export function createNotifier(env: Record<string, string | undefined> = process.env, command = 'systemd-notify'): Notifier {
  const socket = env.NOTIFY_SOCKET;
  const usec = Number(env.WATCHDOG_USEC);
  const watchdogPid = env.WATCHDOG_PID ? Number(env.WATCHDOG_PID) : undefined;
  const watchdogOn = Number.isFinite(usec) && usec > 0 && (watchdogPid === undefined || watchdogPid === process.pid);
  return {
    enabled: Boolean(socket),
    watchdogIntervalMs: socket && watchdogOn ? Math.max(500, Math.floor(usec / 2000)) : undefined,
    notify(...assignments) {
      if (!socket) return Promise.resolve();
      return new Promise((resolve) => {
        const child = spawn(command, [`--pid=${process.pid}`, ...assignments], {
          env: { ...env, NOTIFY_SOCKET: socket },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let err = '';
        child.stderr.on('data', (d: Buffer) => { if (err.length < 500) err += d.toString(); });
        child.on('error', () => resolve()); // systemd-notify missing: nothing to tell
        child.on('exit', () => { void err; resolve(); });
      });
    },
  };
}
