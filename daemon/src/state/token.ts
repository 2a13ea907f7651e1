/**
 * The cluster token: from the config, a token file, or generated once into <stateDir>/token
 * (0600). Every board of a fleet holds the same token; it authenticates the peer channel and
 * MQTT, and seals Secrets at rest.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

export interface TokenSource {
  token?: string | undefined;
  tokenFile?: string | undefined;
  stateDir: string;
}

export async function resolveToken(cfg: TokenSource): Promise<string> {
  if (cfg.token) return cfg.token;
  const file = cfg.tokenFile ?? join(cfg.stateDir, 'token');
  try {
    const t = (await fsp.readFile(file, 'utf8')).trim();
    if (t.length >= 16) return t;
    throw new Error(`the token in ${file} is shorter than 16 characters`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || cfg.tokenFile) {
      throw new Error(`cannot read the cluster token from ${file}: ${(err as Error).message}`);
    }
  }
  const token = randomBytes(32).toString('base64url');
  await fsp.mkdir(cfg.stateDir, { recursive: true, mode: 0o700 });
  await fsp.writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return token;
}
