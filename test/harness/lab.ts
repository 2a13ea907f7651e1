/**
 * Boards on one machine: a switched LAN of network namespaces (test/lab/netns-lab.sh, from
 * ../shared/lab), each node with its own IP, hostname and (optionally) Docker engine, cables
 * that can be pulled, and pifleet daemons started inside the nodes. The test process reaches
 * the nodes through the lab's uplink (A.B.C.254), so it can use in-process MQTT clients.
 *
 * Processes are started with `netns-lab.sh exec I ...`, whose child PID is the daemon itself
 * (every step execs): kill -9 of that PID is a power cut. Everything the lab made is removed
 * by `down` (in teardown, and before `up` in case a crashed run left it).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Test } from 'tap';
import type { CliResult } from './docker.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const LAB_SCRIPT = join(ROOT, 'test/lab/netns-lab.sh');
export const PIFLEET_BIN = join(ROOT, 'bin/pifleet.js');

export interface LabOptions {
  nodes: number;
  /** Default 'ci' (LAB_PREFIX): each suite its own so labs coexist. */
  prefix?: string;
  /** First three octets, default 10.88.0. */
  subnet?: string;
  docker?: boolean;
}

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<CliResult> {
  return new Promise((res) => {
    const child = execFile(cmd, args, { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      res({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    child.stdin?.end(opts.input ?? '');
  });
}

export class Lab {
  readonly prefix: string;
  readonly subnet: string;
  readonly nodes: number;
  readonly docker: boolean;

  private constructor(opts: LabOptions) {
    this.prefix = opts.prefix ?? 'ci';
    this.subnet = opts.subnet ?? '10.88.0';
    this.nodes = opts.nodes;
    this.docker = opts.docker ?? false;
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, LAB_PREFIX: this.prefix };
  }

  /** A fresh lab (whatever a crashed run left is torn down first); `down` runs in the test's teardown. */
  static async up(t: Test | undefined, opts: LabOptions): Promise<Lab> {
    const lab = new Lab(opts);
    await lab.script(['down'], 120_000);
    t?.teardown(() => lab.down());
    const r = await lab.script(['up', String(lab.nodes), '--subnet', lab.subnet, '--uplink', ...(lab.docker ? ['--docker'] : [])], 180_000);
    if (r.code !== 0) throw new Error(`netns-lab up failed (${r.code}): ${r.stderr}${r.stdout}`);
    return lab;
  }

  /** Grow the lab to n nodes (a board plugged in). */
  async grow(n: number): Promise<void> {
    const r = await this.script(['up', String(n), '--subnet', this.subnet, '--uplink', ...(this.docker ? ['--docker'] : [])], 180_000);
    if (r.code !== 0) throw new Error(`netns-lab up ${n} failed: ${r.stderr}`);
    (this as { nodes: number }).nodes = n;
  }

  ip(i: number): string {
    return `${this.subnet}.${i}`;
  }

  dockerHost(i: number): string {
    return `unix:///run/netns-lab/${this.prefix}/d${i}.sock`;
  }

  script(args: string[], timeoutMs = 60_000): Promise<CliResult> {
    return run(LAB_SCRIPT, args, { env: this.env, timeoutMs });
  }

  /** Run a command in node i and wait for it (bounded). */
  exec(i: number, cmd: string[], opts: { env?: Record<string, string>; timeoutMs?: number; input?: string } = {}): Promise<CliResult> {
    const envArgs = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
    return run(LAB_SCRIPT, ['exec', String(i), ...(envArgs.length ? ['env', ...envArgs] : []), ...cmd], { env: this.env, timeoutMs: opts.timeoutMs ?? 60_000, ...(opts.input !== undefined ? { input: opts.input } : {}) });
  }

  /** Start a long-running process in node i; its PID is the process's own. */
  spawn(i: number, cmd: string[], env: Record<string, string> = {}): ChildProcess {
    return spawn(LAB_SCRIPT, ['exec', String(i), 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...cmd], {
      env: this.env, stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  async cut(i: number): Promise<void> { await this.ok(['cut', String(i)]); }
  async restore(i: number): Promise<void> { await this.ok(['restore', String(i)]); }
  async isolate(i: number): Promise<void> { await this.ok(['isolate', String(i)]); }
  async rejoin(i: number): Promise<void> { await this.ok(['rejoin', String(i)]); }
  async block(i: number, j: number): Promise<void> { await this.ok(['block', String(i), String(j)]); }
  async unblock(i: number, j: number): Promise<void> { await this.ok(['unblock', String(i), String(j)]); }

  async ok(args: string[]): Promise<void> {
    const r = await this.script(args);
    if (r.code !== 0) throw new Error(`netns-lab ${args.join(' ')} failed: ${r.stderr}`);
  }

  /** Every cable plugged, every port forwarding, no blocked pair (between tests). */
  async heal(): Promise<void> {
    for (let i = 1; i <= this.nodes; i++) await this.script(['restore', String(i)]);
    for (let i = 1; i <= this.nodes; i++) for (let j = i + 1; j <= this.nodes; j++) await this.script(['unblock', String(i), String(j)]);
  }

  async down(): Promise<void> {
    const r = await this.script(['down'], 180_000);
    if (r.code !== 0) process.stderr.write(`netns-lab down failed: ${r.stderr}\n`);
  }
}

export interface FleetNodeOptions {
  cluster: string;
  token: string;
  /** Root of the nodes' state directories (node i uses <root>/n<i>). */
  stateRoot: string;
  env?: Record<string, string>;
  args?: string[];
}

/** A pifleet daemon on lab node i (`node bin/pifleet.js daemon` inside the node's namespace). */
export class FleetNode {
  proc: ChildProcess | undefined;
  readonly output: string[] = [];
  #exited: Promise<void> = Promise.resolve();
  readonly stateDir: string;
  readonly name: string;

  constructor(readonly lab: Lab, readonly i: number, readonly opts: FleetNodeOptions) {
    this.stateDir = join(opts.stateRoot, `n${i}`);
    this.name = `node${i}`;
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
  }

  get pid(): number | undefined { return this.proc?.pid; }
  get running(): boolean { return Boolean(this.proc && this.proc.exitCode === null && this.proc.signalCode === null); }

  /** Start and wait for "pifleet daemon ready" (bounded). */
  async start(timeoutMs = 30_000): Promise<void> {
    const runtimeDir = `/dev/shm/pifleet-${this.lab.prefix}-${this.opts.cluster}-n${this.i}`;
    const env: Record<string, string> = {
      PIFLEET_TOKEN: this.opts.token, PIFLEET_RUNTIME_DIR: runtimeDir, PIFLEET_NODE_ADDRESS: this.lab.ip(this.i),
      PIFLEET_HEARTBEAT_SECONDS: '2', PIFLEET_LOG_LEVEL: 'info', ...this.opts.env,
    };
    const proc = this.lab.spawn(this.i, [process.execPath, PIFLEET_BIN, 'daemon', '--state-dir', this.stateDir, '--cluster', this.opts.cluster,
      '--node-name', this.name, '--mqtt-ws-port', '0', ...(this.opts.args ?? [])], env);
    this.proc = proc;
    this.#exited = new Promise((r) => proc.once('exit', () => r()));
    await new Promise<void>((res, rej) => {
      let buf = '';
      const timer = setTimeout(() => rej(new Error(`${this.name} not ready after ${timeoutMs} ms:\n${this.tail()}`)), timeoutMs);
      proc.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        let k;
        while ((k = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, k);
          buf = buf.slice(k + 1);
          this.#keep(line);
          if (line.includes('"pifleet daemon ready"')) { clearTimeout(timer); res(); }
        }
      });
      proc.stderr!.on('data', (d: Buffer) => this.#keep(d.toString()));
      proc.once('exit', (code) => { clearTimeout(timer); rej(new Error(`${this.name} exited with ${code} before it was ready:\n${this.tail()}`)); });
    });
  }

  /** Every election/role line of every run of this node (kept whole for the timeline check). */
  readonly elections: Array<Record<string, unknown>> = [];

  #keep(line: string): void {
    if (line.includes('"component":"replication"')) {
      try { this.elections.push(JSON.parse(line) as Record<string, unknown>); } catch { /* not JSON */ }
    }
    this.output.push(line);
    if (this.output.length > 3000) this.output.splice(0, this.output.length - 3000);
  }

  tail(n = 30): string {
    return this.output.slice(-n).join('\n');
  }

  /** Log lines (parsed JSON) since the start of this process. */
  logs(): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const l of this.output) {
      if (!l.startsWith('{')) continue;
      try { out.push(JSON.parse(l) as Record<string, unknown>); } catch { /* not JSON */ }
    }
    return out;
  }

  /** Power loss: SIGKILL the daemon's own PID, wait until it is gone. */
  async kill9(): Promise<void> {
    const p = this.proc;
    if (!p || !this.running) return;
    p.kill('SIGKILL');
    await this.#exited;
  }

  /** SIGTERM; SIGKILL after timeoutMs. */
  async stop(timeoutMs = 25_000): Promise<void> {
    const p = this.proc;
    if (!p || !this.running) return;
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    await this.#exited;
    clearTimeout(t);
  }

  /** The CLI, run inside this node (it finds the fleet through this node's client.yaml). */
  cli(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
    return this.lab.exec(this.i, [process.execPath, PIFLEET_BIN, '--state-dir', this.stateDir, ...args], { timeoutMs: opts.timeoutMs ?? 30_000, ...(opts.input !== undefined ? { input: opts.input } : {}) });
  }

  clientConfig(): string | undefined {
    const f = join(this.stateDir, 'client.yaml');
    return existsSync(f) ? readFileSync(f, 'utf8') : undefined;
  }

  removeState(): void {
    rmSync(this.stateDir, { recursive: true, force: true });
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
  }
}
