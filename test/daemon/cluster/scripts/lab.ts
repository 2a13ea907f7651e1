/**
 * The network-namespace lab (test/lab/netns-lab.sh) for the cluster lab tests: prefix "pt" on
 * 10.79.0.0/24 so it never collides with other labs. Run lab tests serialized and under the
 * machine-wide lock: `flock /tmp/pifleet-lab.lock npx tap --jobs=1 ...`.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const LAB = resolve(ROOT, 'test/lab/netns-lab.sh');
export const PREFIX = 'pt';
export const SUBNET = '10.79.0';
export const SCRIPTS = resolve(ROOT, 'test/daemon/cluster/scripts');

const env = { ...process.env, LAB_PREFIX: PREFIX };

/** Why the lab cannot run here, or undefined. */
export function labUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the lab needs root';
  for (const tool of ['ip', 'bridge', 'nsenter', 'unshare', 'flock', 'findmnt', 'setsid']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `'${tool}' not installed (apt-get install -y iproute2 util-linux)`;
  }
  return undefined;
}

export function lab(...args: string[]): string {
  const r = spawnSync(LAB, args, { env, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`netns-lab ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export interface Ev { ev: string; t: number; [k: string]: unknown }

const procs = new Set<LabProc>();

/** A process started in lab node `node` through `netns-lab.sh exec`: its PID is the process itself. */
export class LabProc {
  readonly child: ChildProcessWithoutNullStreams;
  readonly events: Ev[] = [];
  stderr = '';
  exited = false;
  readonly #exit: Promise<void>;

  constructor(readonly node: number, script: string, cfg: unknown) {
    this.child = spawn(LAB, ['exec', String(node), process.execPath, '--import', 'tsx', resolve(SCRIPTS, script), JSON.stringify(cfg)], { env, cwd: ROOT });
    procs.add(this);
    let buf = '';
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const e = JSON.parse(line) as Ev;
          if (typeof e.ev === 'string') this.events.push(e);
        } catch { /* not ours */ }
      }
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (d: string) => { this.stderr = (this.stderr + d).slice(-20_000); });
    this.#exit = new Promise((r) => this.child.once('exit', () => { this.exited = true; procs.delete(this); r(); }));
  }

  get pid(): number { return this.child.pid!; }

  send(cmd: Record<string, unknown>): void {
    if (!this.exited) this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
  }

  /** The first event (from index `from` on) that matches; bounded by timeoutMs. */
  async waitEvent(pred: (e: Ev) => boolean, timeoutMs: number, what: string, from = 0): Promise<Ev> {
    const t0 = Date.now();
    for (;;) {
      const e = this.events.slice(from).find(pred);
      if (e) return e;
      if (this.exited) throw new Error(`node ${this.node} exited while waiting for ${what}; stderr: ${this.stderr.slice(-2000)}`);
      if (Date.now() - t0 > timeoutMs) throw new Error(`node ${this.node}: no ${what} within ${timeoutMs} ms; stderr: ${this.stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Is the PID the process we started (not a wrapper)? */
  cmdline(): string {
    try { return readFileSync(`/proc/${this.pid}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { return ''; }
  }

  /** SIGKILL by PID (a power loss) and wait until it is gone. */
  async kill(): Promise<void> {
    if (!this.exited) {
      try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone already */ }
    }
    await Promise.race([this.#exit, new Promise((r) => setTimeout(r, 5000))]);
  }

  async exit(): Promise<void> {
    await Promise.race([this.#exit, new Promise((r) => setTimeout(r, 5000))]);
  }
}

export function gone(pid: number): boolean {
  if (!existsSync(`/proc/${pid}`)) return true;
  try { return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return true; }
}

/** Kills what we started (by PID) and takes the lab down; also on SIGINT/SIGTERM. */
export async function cleanup(): Promise<void> {
  await Promise.all([...procs].map((p) => p.kill()));
  spawnSync(LAB, ['down'], { env, timeout: 60_000 });
}

let hooked = false;
export function cleanupOnSignals(): void {
  if (hooked) return;
  hooked = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const p of procs) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
      spawnSync(LAB, ['down'], { env, timeout: 60_000 });
      process.exit(130);
    });
  }
}
