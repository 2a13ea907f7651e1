/**
 * Where `-f` manifests come from, as kubectl reads them: a file (any extension), a
 * directory (its *.yaml, *.yml and *.json files in name order; subdirectories only with
 * --recursive, symlinked directories never followed) or `-` for stdin. Returns the texts;
 * parsing and validation are api/load.ts's.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

const MANIFEST_EXT = /\.(ya?ml|json)$/i;
/** A manifest larger than this is a mistake (the API refuses objects over 1 MiB anyway). */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
/** Deepest directory nesting walked with --recursive. */
export const MAX_DEPTH = 32;
export const STDIN_NAME = '<stdin>';

async function readStream(s: NodeJS.ReadableStream, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of s) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
    size += b.length;
    if (size > limit) throw new Error(`stdin holds more than ${limit} bytes of manifests; split them into files`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readOne(file: string): Promise<{ file: string; text: string }> {
  const st = await stat(file);
  if (st.size > MAX_MANIFEST_BYTES) throw new Error(`"${file}" is ${st.size} bytes; manifests over ${MAX_MANIFEST_BYTES} bytes are refused`);
  return { file, text: await readFile(file, 'utf8') };
}

async function walk(dir: string, recursive: boolean, depth: number, out: string[]): Promise<void> {
  if (depth > MAX_DEPTH) throw new Error(`"${dir}" is nested more than ${MAX_DEPTH} directories deep; point -f at a shallower directory`);
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (recursive) await walk(p, recursive, depth + 1, out);
    } else if (e.isFile() && MANIFEST_EXT.test(e.name)) {
      out.push(p);
    } else if (e.isSymbolicLink() && MANIFEST_EXT.test(e.name)) {
      const st = await stat(p).catch(() => undefined);
      if (st?.isFile()) out.push(p);
    }
  }
}

/**
 * Read every source named by `-f`, in order. Throws an Error kubectl-style when a path
 * does not exist (`the path "X" does not exist`) or cannot be read.
 */
export async function readManifestSources(
  files: string[],
  stdin: NodeJS.ReadableStream,
  opts: { recursive?: boolean },
): Promise<Array<{ file: string; text: string }>> {
  const out: Array<{ file: string; text: string }> = [];
  let stdinText: string | undefined;
  for (const f of files) {
    if (f === '-') {
      stdinText ??= await readStream(stdin, MAX_MANIFEST_BYTES);
      out.push({ file: STDIN_NAME, text: stdinText });
      continue;
    }
    if (/^https?:\/\//i.test(f)) throw new Error(`"${f}": reading manifests from URLs is not supported; download the file first`);
    const st = await stat(f).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') throw new Error(`the path "${f}" does not exist`);
      throw new Error(`the path "${f}" cannot be read: ${err.message}`);
    });
    if (st.isDirectory()) {
      const found: string[] = [];
      await walk(f, Boolean(opts.recursive), 0, found);
      for (const p of found) out.push(await readOne(p));
    } else {
      out.push(await readOne(f));
    }
  }
  return out;
}
