/** Shared fixtures for the firmware-setup tests: temp dirs, plans, FAT images, running the CLI. */
import { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../firmware-setup/src/cli.js';

export const REPO = new URL('../../', import.meta.url).pathname;
export const EXAMPLE_PLAN = join(REPO, 'config/fleet.example.yaml');
export const CMDLINE = 'console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot\n';

export function tmp(t: Test, prefix = 'pifleet-setup-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Copy the example plan into dir (optionally edited) and return its path. */
export function writePlan(dir: string, edit: (text: string) => string = (s) => s, name = 'fleet.yaml'): string {
  const file = join(dir, name);
  writeFileSync(file, edit(readFileSync(EXAMPLE_PLAN, 'utf8')));
  return file;
}

export function sh(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

/** A FAT file system image made with mkfs.vfat (at an offset when partitioned), files copied in with mcopy. */
export function fatImage(dir: string, files: Record<string, string>, name = 'card.img'): string {
  const img = join(dir, name);
  sh('mkfs.vfat', ['-C', img, '65536']);
  for (const [f, content] of Object.entries(files)) {
    const src = join(dir, `src-${f}`);
    writeFileSync(src, content);
    sh('mcopy', ['-i', img, src, `::/${f}`]);
  }
  return img;
}

/** Read a file out of a FAT image (bytes), or undefined when absent. */
export function mread(img: string, path: string, offset = 0): Buffer | undefined {
  try {
    return execFileSync('mcopy', ['-n', '-i', `${img}@@${offset}`, `::/${path}`, '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return undefined;
  }
}

export interface CliRun { code: number; out: string; err: string }

/** Run pifleet-setup's main() in-process with captured output. */
export async function cli(args: string[], randomBytes?: (n: number) => Buffer): Promise<CliRun> {
  let out = '';
  let err = '';
  const code = await main(['node', 'pifleet-setup', ...args], {
    stdout: (s) => { out += s; },
    stderr: (s) => { err += s; },
    ...(randomBytes ? { randomBytes } : {}),
  });
  return { code, out, err };
}
