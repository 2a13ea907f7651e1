/**
 * Real pifleet daemons for lab tests: `node bin/pifleet.js daemon` as a child process with its own
 * state directory, a cluster name unique to the test (every container it makes carries
 * pifleet.cluster=<that name>, so cleanup is by label), an ephemeral MQTT port and no WebSocket.
 * The CLI is run the way a user runs it, against that state directory's client.yaml.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import { cleanupByLabel, dockerCli } from './docker.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const PIFLEET_BIN = join(ROOT, 'bin/pifleet.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestDaemonOptions {
  /** Reuse a state directory (restart tests). */
  stateDir?: string;
  cluster?: string;
  nodeName?: string;
  env?: Record<string, string>;
  args?: string[];
  /** ms to wait for "pifleet daemon ready". */
  readyTimeoutMs?: number;
}

export class TestDaemon {
  proc: ChildProcess | undefined;
  readonly output: string[] = [];
  #exited: Promise<number | null> = Promise.resolve(null);

  constructor(
    readonly stateDir: string,
    readonly runtimeDir: string,
    readonly cluster: string,
    readonly nodeName: string,
    private readonly opts: TestDaemonOptions,
  ) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get env(): Record<string, string> {
    return { ...process.env as Record<string, string>, PIFLEET_STATE_DIR: this.stateDir };
  }

  /** Start the daemon and wait until it says it is ready. */
  async start(): Promise<void> {
    const args = [PIFLEET_BIN, 'daemon', '--state-dir', this.stateDir, '--cluster', this.cluster, '--node-name', this.nodeName,
      '--mqtt-port', '0', '--mqtt-ws-port', '0', ...(this.opts.args ?? [])];
    const proc = spawn(process.execPath, args, {
      // no mDNS from the root network namespace (it would leave through the machine's NIC), and a
      // peer port of its own for every daemon
      env: { ...process.env, PIFLEET_RUNTIME_DIR: this.runtimeDir, PIFLEET_HEARTBEAT_SECONDS: '2', PIFLEET_DISCOVERY: 'false', PIFLEET_PEER_PORT: '0', ...this.opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.#exited = new Promise((r) => proc.once('exit', (code) => r(code)));
    const ready = new Promise<void>((res, rej) => {
      let buf = '';
      const onData = (d: Buffer): void => {
        buf += d.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          this.#keep(line);
          if (line.includes('"pifleet daemon ready"')) res();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', (d: Buffer) => this.#keep(d.toString()));
      proc.once('exit', (code) => rej(new Error(`daemon exited with ${code} before it was ready:\n${this.tail()}`)));
    });
    const timeout = this.opts.readyTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ready, new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`daemon not ready after ${timeout} ms:\n${this.tail()}`)), timeout); })])
      .finally(() => clearTimeout(timer));
  }

  #keep(line: string): void {
    this.output.push(line);
    if (this.output.length > 400) this.output.splice(0, this.output.length - 400);
  }

  tail(n = 40): string {
    return this.output.slice(-n).join('\n');
  }

  /** SIGTERM and wait (bounded); SIGKILL if it does not stop. */
  async stop(timeoutMs = 25_000): Promise<number | null> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return p?.exitCode ?? null;
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    const code = await this.#exited;
    clearTimeout(t);
    return code;
  }

  /** Power loss: SIGKILL, no cleanup. */
  async kill9(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGKILL');
    await this.#exited;
  }

  /** Run the CLI against this daemon. */
  cli(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
    return runCli(args, { env: this.env, ...opts });
  }

  /** Run the CLI and parse `-o json` output; throws with the CLI's stderr when it fails. */
  async json<T = any>(args: string[]): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const r = await this.cli([...args, '-o', 'json']);
    if (r.code !== 0) throw new Error(`pifleet ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  clientConfig(): string {
    return readFileSync(join(this.stateDir, 'client.yaml'), 'utf8');
  }
}

export function runCli(args: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((res) => {
    const child = execFile(process.execPath, [PIFLEET_BIN, ...args], {
      env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 32 * 1024 * 1024, cwd: ROOT,
    }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      res({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}

/** A short unique name for this test run (cluster names, labels). */
export function uniqueName(prefix = 't'): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

/** Remove every container and volume labelled pifleet.cluster=<cluster> (by label, never by name). */
export function removeClusterContainers(cluster: string): Promise<void> {
  return cleanupByLabel('pifleet.cluster', cluster);
}

/**
 * Start a daemon for a test; the test's teardown stops it, removes its containers and volumes by
 * label and deletes its directories.
 */
export async function startTestDaemon(t: Test, opts: TestDaemonOptions = {}): Promise<TestDaemon> {
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), 'pifleet-lab-'));
  const cluster = opts.cluster ?? uniqueName('lab');
  const runtimeDir = join('/dev/shm', `pifleet-test-${cluster}`);
  if (!existsSync(runtimeDir)) mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
  const d = new TestDaemon(stateDir, runtimeDir, cluster, opts.nodeName ?? 'node1', opts);
  t.teardown(async () => {
    await d.stop();
    await removeClusterContainers(cluster);
    if (!opts.stateDir) rmSync(stateDir, { recursive: true, force: true });
    rmSync(runtimeDir, { recursive: true, force: true });
  });
  await d.start();
  return d;
}

/** Poll until fn returns a truthy value; bounded by timeoutMs. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
}

/** An in-process API client for fast polling (the same client the CLI uses). */
export async function apiClient(t: Test, d: TestDaemon): Promise<import('../../daemon/src/cli/client.js').ApiClient> {
  const { ApiClient, resolveConnection } = await import('../../daemon/src/cli/client.js');
  const c = await ApiClient.connect(resolveConnection({ stateDir: d.stateDir }, {}));
  t.teardown(() => c.close());
  return c;
}

export interface PodLike {
  metadata: { name: string; namespace?: string; uid?: string; labels?: Record<string, string>; deletionTimestamp?: string; annotations?: Record<string, string> };
  spec: { nodeName?: string; containers: Array<{ name: string; image: string }> };
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: Array<{ type: string; status: string }>;
    containerStatuses?: Array<{
      name: string; ready: boolean; restartCount: number; containerID?: string; image?: string;
      state?: { waiting?: { reason?: string; message?: string }; running?: { startedAt?: string }; terminated?: { reason?: string; exitCode?: number; finishedAt?: string } };
      lastState?: { terminated?: { reason?: string; exitCode?: number; finishedAt?: string; startedAt?: string } };
    }>;
  };
}

export function podReady(p: PodLike): boolean {
  return !p.metadata.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

/** Docker container IDs of a pod's app containers (docker://<id> in containerStatuses). */
export function containerIds(p: PodLike): string[] {
  return (p.status?.containerStatuses ?? []).map((c) => (c.containerID ?? '').replace(/^docker:\/\//, '')).filter(Boolean);
}

/** The docker CLI against the local engine. */
export const docker = (args: string[]): Promise<CliResult> => dockerCli(args);
