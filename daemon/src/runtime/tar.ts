/**
 * A minimal POSIX ustar writer: enough to build tiny root filesystems in memory (the pause
 * image, test images) and hand them to `docker import`, with no registry and no tar binary.
 * Regular files, directories and symbolic links; names up to 255 bytes (prefix + name split).
 * Pure: entries in, one Buffer out.
 */

export type TarEntry =
  | { type: 'file'; path: string; data: Buffer | string; mode?: number; mtime?: number; uid?: number; gid?: number }
  | { type: 'dir'; path: string; mode?: number; mtime?: number; uid?: number; gid?: number }
  | { type: 'symlink'; path: string; target: string; mtime?: number; uid?: number; gid?: number };

const BLOCK = 512;

/** Split a path into ustar (prefix, name) fields; throws when it cannot be represented. */
export function splitUstarPath(path: string): { prefix: string; name: string } {
  const bytes = Buffer.byteLength(path);
  if (bytes <= 100) return { prefix: '', name: path };
  // Split at a '/' such that name <= 100 bytes and prefix <= 155 bytes.
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== '/') continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(name) <= 100 && Buffer.byteLength(prefix) <= 155 && name.length > 0) return { prefix, name };
  }
  throw new Error(`tar: path "${path}" is too long for a ustar header (name <= 100 bytes, prefix <= 155 bytes)`);
}

function writeString(buf: Buffer, offset: number, length: number, value: string, what: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar: ${what} "${value}" is longer than ${length} bytes`);
  bytes.copy(buf, offset);
}

/** Octal, zero padded to length-1 digits, NUL terminated. */
function writeOctal(buf: Buffer, offset: number, length: number, value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0) throw new Error(`tar: ${what} must be a non-negative integer, got ${value}`);
  const s = value.toString(8);
  if (s.length > length - 1) throw new Error(`tar: ${what} ${value} does not fit in ${length - 1} octal digits`);
  writeString(buf, offset, length, s.padStart(length - 1, '0') + '\0', what);
}

function header(entry: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  let path = entry.path.replace(/^\/+/, '');
  if (path === '') throw new Error('tar: empty entry path');
  if (entry.type === 'dir' && !path.endsWith('/')) path += '/';
  const { prefix, name } = splitUstarPath(path);
  const mode = entry.type === 'symlink' ? 0o777 : entry.mode ?? (entry.type === 'dir' ? 0o755 : 0o644);
  writeString(h, 0, 100, name, 'name');
  writeOctal(h, 100, 8, mode & 0o7777, 'mode');
  writeOctal(h, 108, 8, entry.uid ?? 0, 'uid');
  writeOctal(h, 116, 8, entry.gid ?? 0, 'gid');
  writeOctal(h, 124, 12, size, 'size');
  writeOctal(h, 136, 12, Math.floor(entry.mtime ?? 0), 'mtime');
  h.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  h[156] = entry.type === 'file' ? 0x30 : entry.type === 'dir' ? 0x35 : 0x32; // '0' | '5' | '2'
  if (entry.type === 'symlink') writeString(h, 157, 100, entry.target, 'symlink target');
  writeString(h, 257, 6, 'ustar\0', 'magic');
  writeString(h, 263, 2, '00', 'version');
  writeString(h, 265, 32, 'root', 'uname');
  writeString(h, 297, 32, 'root', 'gname');
  writeString(h, 345, 155, prefix, 'prefix');
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ', 'checksum');
  return h;
}

/** Serialize entries (in the given order) into a complete ustar archive. */
export function createTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = entry.type === 'file' ? (typeof entry.data === 'string' ? Buffer.from(entry.data) : entry.data) : undefined;
    const size = data?.length ?? 0;
    parts.push(header(entry, size));
    if (data && size > 0) {
      parts.push(data);
      const pad = (BLOCK - (size % BLOCK)) % BLOCK;
      if (pad) parts.push(Buffer.alloc(pad, 0));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}
