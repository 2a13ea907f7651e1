/** A mounted boot partition (a directory). Files are replaced atomically: temp file, fsync, rename. */
import { promises as fsp, constants } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { TargetRefused, type BootTarget } from './target.js';

export async function openBootDir(dir: string): Promise<BootTarget> {
  const root = resolve(dir);
  try {
    const st = await fsp.stat(root);
    if (!st.isDirectory()) throw new TargetRefused(`${dir} is not a directory: --boot wants the mounted boot partition (use --image for an image file)`);
    await fsp.access(root, constants.W_OK);
  } catch (err) {
    if (err instanceof TargetRefused) throw err;
    throw new TargetRefused(`cannot use ${dir} as the boot partition: ${(err as Error).message}`);
  }
  return {
    description: `boot partition ${root}`,
    async listRoot() {
      return (await fsp.readdir(root)).sort();
    },
    async read(path) {
      try {
        return await fsp.readFile(join(root, path));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async write(path, data) {
      const file = join(root, path);
      await fsp.mkdir(dirname(file), { recursive: true });
      const tmp = `${file}.pifleet-tmp`;
      const fh = await fsp.open(tmp, 'w');
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(tmp, file);
    },
  };
}
