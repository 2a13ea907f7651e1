/** Run the `pifleet` entry from source (tsx), as a user would run it, with captured output. */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../../..');

export interface Run { code: number; stdout: string; stderr: string }

export function pifleet(args: string[], opts: { env?: Record<string, string | undefined>; timeoutMs?: number } = {}): Promise<Run> {
  const entry = join(ROOT, 'daemon/src/main.ts');
  const script = `const { main } = await import(${JSON.stringify(`file://${entry}`)}); const code = await main(['node', 'pifleet', ...JSON.parse(process.argv[1])]); process.stdout.write('', () => process.exit(code));`;
  return new Promise((res) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, JSON.stringify(args)], {
      cwd: ROOT, timeout: opts.timeoutMs ?? 60_000, env: { ...process.env, ...opts.env } as NodeJS.ProcessEnv,
    }, (err, stdout, stderr) => {
      res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
