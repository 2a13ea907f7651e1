/**
 * Docker helpers for lab tests (*.lab.test.ts): is an engine there, a label value unique to
 * one test run, cleanup of everything carrying it, and the docker CLI as a child process.
 * The CLI follows DOCKER_HOST, so these work against an engine in a test's network namespace.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** Label every test container/volume carries; its value is a runId(). */
export const TEST_RUN_LABEL = 'pifleet.test.run';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `docker ARGS...` (bounded by timeoutMs, default 60 s); never throws for a non-zero exit. */
export function dockerCli(args: string[], opts: { input?: Buffer | string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn('docker', args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let settled = false;
    const done = (r: CliResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done({ code: -1, stdout: Buffer.concat(out).toString(), stderr: `docker ${args.join(' ')}: timed out after ${opts.timeoutMs ?? 60_000} ms` });
    }, opts.timeoutMs ?? 60_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => done({ code: -1, stdout: '', stderr: `cannot run docker: ${e.message}` }));
    child.on('close', (code) => done({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Like dockerCli, but throws with the command and its stderr on a non-zero exit; returns trimmed stdout. */
export async function dockerOk(args: string[], opts: { input?: Buffer | string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await dockerCli(args, opts);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** True when the docker CLI exists and the engine (DOCKER_HOST or the default socket) answers. */
export async function dockerAvailable(): Promise<boolean> {
  const r = await dockerCli(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 15_000 });
  return r.code === 0 && r.stdout.trim().length > 0;
}

/** A label value unique to this test run. */
export function runId(): string {
  return `t${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
}

/** Force-remove every container (with its anonymous volumes) and volume carrying label=value. */
export async function cleanupByLabel(label: string, value: string): Promise<void> {
  const filter = `label=${label}=${value}`;
  const ids = (await dockerOk(['ps', '-aq', '--filter', filter])).split(/\s+/).filter(Boolean);
  if (ids.length) await dockerCli(['rm', '-f', '-v', ...ids]);
  const vols = (await dockerOk(['volume', 'ls', '-q', '--filter', filter])).split(/\s+/).filter(Boolean);
  if (vols.length) await dockerCli(['volume', 'rm', '-f', ...vols]);
}

/** The creation time encoded in a runId() value, or undefined for a value of another shape. */
export function runIdTime(id: string): number | undefined {
  const m = /^t([0-9a-z]+)[0-9a-f]{8}$/.exec(id);
  if (!m) return undefined;
  const ms = parseInt(m[1]!, 36);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Remove what test runs killed before their teardown left behind (a timed-out tap file):
 * containers and volumes whose TEST_RUN_LABEL value is a runId() older than maxAgeMs.
 */
export async function cleanupStaleRuns(maxAgeMs = 60 * 60_000): Promise<void> {
  const runs = new Set<string>();
  const fmt = `{{.Label "${TEST_RUN_LABEL}"}}`;
  const c = await dockerCli(['ps', '-a', '--filter', `label=${TEST_RUN_LABEL}`, '--format', fmt]);
  const v = await dockerCli(['volume', 'ls', '--filter', `label=${TEST_RUN_LABEL}`, '--format', fmt]);
  for (const line of `${c.stdout}\n${v.stdout}`.split('\n')) if (line.trim()) runs.add(line.trim());
  const now = Date.now();
  for (const run of runs) {
    const at = runIdTime(run);
    if (at !== undefined && now - at > maxAgeMs) await cleanupByLabel(TEST_RUN_LABEL, run);
  }
}
