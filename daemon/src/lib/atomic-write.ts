/**
 * The one way pifleet replaces a small file (term.json, client.yaml, the token, snapshots'
 * siblings): write a temporary file, fsync it, rename it over the old one, fsync the directory.
 * A crash leaves the old file or the new one, never a mix. writeIfChanged skips the write when
 * the content is already there (no SD-card writes for nothing).
 */
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';

export async function syncDirectory(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try { await fh.sync(); } finally { await fh.close(); }
}

export async function writeFileAtomic(path: string, content: string | Buffer, mode: number): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    const fh = await fsp.open(tmp, 'w', mode);
    try {
      await fh.writeFile(content);
      await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, path);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dirname(path));
}

/** Write only when the content differs; true when it wrote. */
export async function writeIfChanged(path: string, content: string, mode: number): Promise<boolean> {
  try {
    if ((await fsp.readFile(path, 'utf8')) === content) return false;
  } catch { /* absent */ }
  await writeFileAtomic(path, content, mode);
  return true;
}
