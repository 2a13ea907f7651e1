/**
 * The FAT boot partition inside a disk image file, read and written with mtools
 * (`mcopy -i IMG@@OFFSET`): no mounting, no root. Finds the partition from the MBR
 * (partition 1, a FAT type) or takes a bare FAT file system (mkfs.vfat on a file) at offset 0.
 */
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TargetRefused, type BootTarget } from './target.js';

/** MBR partition types of FAT file systems: FAT32 LBA, FAT32 CHS, FAT16 LBA, FAT16. */
export const FAT_TYPES = [0x0c, 0x0b, 0x0e, 0x06];

/** True when the sector looks like a FAT boot sector (jump, sane BPB, a FAT signature). */
export function isFatBootSector(s: Buffer): boolean {
  if (s.length < 512) return false;
  const jump = s[0] === 0xeb || s[0] === 0xe9;
  const bytesPerSector = s.readUInt16LE(11);
  const perCluster = s[13] as number;
  const fats = s[16] as number;
  const sane = [512, 1024, 2048, 4096].includes(bytesPerSector) && perCluster > 0 && (perCluster & (perCluster - 1)) === 0 && fats >= 1 && fats <= 2;
  const sig = s.toString('latin1', 54, 57) === 'FAT' || s.toString('latin1', 82, 85) === 'FAT';
  return jump && sane && sig;
}

/**
 * Byte offset of the boot file system inside the image, from its first sectors.
 * Returns a reason string when the image has no usable FAT boot partition.
 */
export function findBootOffset(head: Buffer, imageSize: number): number | string {
  if (head.length < 512) return 'the file is smaller than one sector: not a disk image';
  if (isFatBootSector(head)) return 0;
  if (head[510] !== 0x55 || head[511] !== 0xaa) return 'no MBR partition table and no FAT file system at the start of the file: not a Raspberry Pi OS image';
  const entry = head.subarray(446, 462);
  const type = entry[4] as number;
  const lba = entry.readUInt32LE(8);
  const sectors = entry.readUInt32LE(12);
  if (type === 0xee) return 'the image has a GPT partition table; Raspberry Pi OS images use MBR (this tool reads MBR only)';
  if (type === 0) return 'partition 1 of the image is empty: not a Raspberry Pi OS image';
  if (!FAT_TYPES.includes(type)) return `partition 1 has type 0x${type.toString(16).padStart(2, '0')}, not FAT (0x0c, 0x0b, 0x0e or 0x06): not a Raspberry Pi OS boot partition`;
  const offset = lba * 512;
  if (lba === 0 || offset + sectors * 512 > imageSize) return `partition 1 (sectors ${lba}+${sectors}) lies outside the ${imageSize}-byte file: the image is truncated or damaged`;
  return offset;
}

interface Run { code: number; stdout: Buffer; stderr: string }

function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MTOOLS_SKIP_CHECK: '1', MTOOLSRC: '/dev/null' } });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => { if (err.length < 4000) err += d.toString(); });
    child.on('error', (e) => {
      reject((e as NodeJS.ErrnoException).code === 'ENOENT'
        ? new Error(`${cmd} not found: install mtools (apt-get install mtools) to write into image files`)
        : e);
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: err.trim() }));
  });
}

export async function openImage(file: string): Promise<BootTarget> {
  let head: Buffer;
  let size: number;
  try {
    const fh = await fsp.open(file, 'r+');
    try {
      size = (await fh.stat()).size;
      head = Buffer.alloc(512);
      await fh.read(head, 0, 512, 0);
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw new TargetRefused(`cannot open the image ${file} for writing: ${(err as Error).message}`);
  }
  const offset = findBootOffset(head, size);
  if (typeof offset === 'string') throw new TargetRefused(`${file}: ${offset}`);
  if (offset > 0) {
    const fh = await fsp.open(file, 'r');
    const sector = Buffer.alloc(512);
    try { await fh.read(sector, 0, 512, offset); } finally { await fh.close(); }
    if (!isFatBootSector(sector)) throw new TargetRefused(`${file}: partition 1 at offset ${offset} has a FAT type but no FAT file system (format it, or flash the image again)`);
  }
  const spec = `${file}@@${offset}`;
  const mtools = async (cmd: string, args: string[], what: string): Promise<Buffer> => {
    const r = await run(cmd, ['-i', spec, ...args]);
    if (r.code !== 0) throw new Error(`${what} in ${file}: ${cmd} failed: ${r.stderr || `exit ${r.code}`}`);
    return r.stdout;
  };
  const exists = async (path: string): Promise<boolean> => (await run('mdir', ['-b', '-i', spec, `::/${path}`])).code === 0;
  return {
    description: `image ${file} (FAT at offset ${offset})`,
    async listRoot() {
      const out = await mtools('mdir', ['-b', '::/'], 'listing the boot partition');
      return out.toString().split('\n').map((l) => l.trim().replace(/^::\//, '')).filter(Boolean).sort();
    },
    async read(path) {
      if (!(await exists(path))) return undefined;
      return mtools('mcopy', ['-n', `::/${path}`, '-'], `reading ${path}`);
    },
    async write(path, data) {
      const parts = path.split('/');
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join('/');
        if (!(await exists(dir))) await mtools('mmd', [`::/${dir}`], `creating ${dir}/`);
      }
      const dir = await fsp.mkdtemp(join(tmpdir(), 'pifleet-setup-'));
      try {
        const tmp = join(dir, 'file');
        await fsp.writeFile(tmp, data);
        await mtools('mcopy', ['-o', '-n', tmp, `::/${path}`], `writing ${path}`);
      } finally {
        await fsp.rm(dir, { recursive: true, force: true });
      }
    },
  };
}
