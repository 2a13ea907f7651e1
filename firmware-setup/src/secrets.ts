/**
 * The fleet's secrets file beside the plan (fleet.yaml -> fleet.secrets.yaml, mode 0600):
 * the cluster join token, generated once (32 random bytes, base64url) and reused on every
 * later run so that re-writing a card never changes a running fleet's token.
 * Randomness is injected; a file readable by others is refused, not silently fixed.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { z } from 'zod';

export const SecretsSchema = z.object({
  /** Cluster join token shared by every board's daemon (config key `token`). */
  token: z.string().regex(/^[A-Za-z0-9_-]{16,}$/, 'must be at least 16 base64url characters'),
}).strict();

export type Secrets = z.output<typeof SecretsSchema>;

export class SecretsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretsError';
  }
}

/** fleet.yaml -> fleet.secrets.yaml, plan.yml -> plan.secrets.yaml, anything else -> NAME.secrets.yaml. */
export function secretsPathFor(planFile: string): string {
  const base = basename(planFile).replace(/\.ya?ml$/i, '');
  return join(dirname(planFile), `${base}.secrets.yaml`);
}

/** Read the secrets file; undefined when it does not exist. Throws SecretsError on bad mode or content. */
export function readSecrets(file: string): Secrets | undefined {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SecretsError(`${file}: cannot read the secrets file: ${(err as Error).message}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new SecretsError(
      `${file}: the secrets file has mode ${(mode & 0o777).toString(8).padStart(4, '0')} but holds the cluster join token: ` +
      `make it private with \`chmod 600 ${file}\` (and consider whether the token leaked)`,
    );
  }
  let js: unknown;
  try {
    js = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SecretsError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const r = SecretsSchema.safeParse(js);
  if (!r.success) {
    const why = r.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ');
    throw new SecretsError(`${file}: ${why} (delete the file to generate a new token only if no board uses the old one)`);
  }
  return r.data;
}

export interface EnsureSecretsResult {
  secrets: Secrets;
  file: string;
  created: boolean;
}

/**
 * Read the secrets file, or create it (mode 0600, never overwriting a file that appeared
 * meanwhile) with a new token from randomBytes(32).
 */
export function ensureSecrets(file: string, randomBytes: (n: number) => Buffer): EnsureSecretsResult {
  const existing = readSecrets(file);
  if (existing) return { secrets: existing, file, created: false };
  const secrets: Secrets = { token: randomBytes(32).toString('base64url') };
  const text = '# pifleet fleet secrets: generated once by pifleet-setup, reused on every run. Keep private (mode 0600).\n' +
    stringify(secrets);
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file); // fails if another run created it first: then use theirs
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      rmSync(tmp, { force: true });
      throw new SecretsError(`${file}: cannot create the secrets file: ${(err as Error).message}`);
    }
    rmSync(tmp, { force: true });
    const other = readSecrets(file);
    if (other) return { secrets: other, file, created: false };
  }
  rmSync(tmp, { force: true });
  return { secrets, file, created: true };
}

/**
 * A warning when the secrets file sits in a git work tree that does not ignore it (one
 * `git add -A` would commit the fleet's token); undefined when it is ignored, outside a work
 * tree, or git is not installed. Asks `git check-ignore`, so every ignore source counts
 * (.gitignore files, .git/info/exclude, core.excludesFile).
 */
export function secretsNotIgnoredWarning(file: string): string | undefined {
  const r = spawnSync('git', ['check-ignore', '--quiet', '--', basename(file)], { cwd: dirname(file), encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 1) return undefined; // 0: ignored; 128: not a work tree (or git failed); no git at all
  const tracked = spawnSync('git', ['ls-files', '--error-unmatch', '--', basename(file)], { cwd: dirname(file), encoding: 'utf8', timeout: 10_000 }).status === 0;
  return tracked
    ? `${file} holds the fleet's join token and git tracks it (staged or committed): remove it from the repository (git rm --cached), add \`*.secrets.yaml\` to .gitignore, and consider the token leaked`
    : `${file} holds the fleet's join token and git does not ignore it: one \`git add -A\` commits it; add \`*.secrets.yaml\` to .gitignore`;
}
