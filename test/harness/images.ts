/**
 * Offline test images: no registry is reachable, so the busybox test images are made with
 * `docker import` from a root filesystem tar built here around Debian's static /bin/busybox
 * (package busybox-static). Two tags with different content (/version, /www/index.html) so a
 * rolling update really changes the image. Idempotent and fast when the images exist.
 * Uses the docker CLI, which follows DOCKER_HOST (engines in network namespaces work too).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createTar, type TarEntry } from '../../daemon/src/runtime/tar.js';
import { dockerCli, dockerOk } from './docker.js';

export const BUSYBOX_PATH = '/bin/busybox';
export const TEST_IMAGE_1 = 'pifleet-test/busybox:1';
export const TEST_IMAGE_2 = 'pifleet-test/busybox:2';
export const TEST_IMAGES = [TEST_IMAGE_1, TEST_IMAGE_2] as const;

const MTIME = Date.UTC(2026, 0, 1) / 1000;

/** The applet paths `busybox --install -s` would create (usr/bin/wget, bin/sh, ...). */
function appletPaths(): string[] {
  const out = execFileSync(BUSYBOX_PATH, ['--list-full'], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.trim().replace(/^\/+/, '')).filter((l) => l && l !== 'bin/busybox');
}

/** The root filesystem of test image version n (1, 2, ...). */
export function testRootfsTar(version: number): Buffer {
  if (!existsSync(BUSYBOX_PATH)) {
    throw new Error(`${BUSYBOX_PATH} is missing: install the Debian package busybox-static (apt-get install busybox-static)`);
  }
  const dirs = new Set(['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'etc', 'root', 'www', 'proc', 'sys', 'dev', 'var', 'home']);
  const applets = appletPaths();
  for (const p of applets) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const entries: TarEntry[] = [...dirs].sort().map((d) => ({ type: 'dir', path: d, mode: 0o755, mtime: MTIME }));
  entries.push({ type: 'dir', path: 'tmp', mode: 0o1777, mtime: MTIME });
  entries.push({ type: 'file', path: 'bin/busybox', data: readFileSync(BUSYBOX_PATH), mode: 0o755, mtime: MTIME });
  for (const p of applets) entries.push({ type: 'symlink', path: p, target: '/bin/busybox', mtime: MTIME });
  entries.push(
    { type: 'file', path: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n', mtime: MTIME },
    { type: 'file', path: 'etc/group', data: 'root:x:0:\nnogroup:x:65534:\n', mtime: MTIME },
    { type: 'file', path: 'www/index.html', data: `<h1>pifleet test image ${version}</h1>\n`, mtime: MTIME },
    { type: 'file', path: 'version', data: `${version}\n`, mtime: MTIME },
  );
  return createTar(entries);
}

async function imageExists(ref: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  return (await dockerCli(['image', 'inspect', '--format', '{{.Id}}', ref], { timeoutMs: 30_000, env })).code === 0;
}

/** Make sure pifleet-test/busybox:1 and :2 exist on the engine (dockerHost, else DOCKER_HOST or default). */
export async function ensureTestImages(opts: { dockerHost?: string } = {}): Promise<void> {
  const env = opts.dockerHost ? { ...process.env, DOCKER_HOST: opts.dockerHost } : process.env;
  for (const [i, ref] of TEST_IMAGES.entries()) {
    if (await imageExists(ref, env)) continue;
    await dockerOk(['import', '--change', 'CMD ["sh"]', '--change', `LABEL pifleet.test.image="${i + 1}"`, '-', ref], {
      input: testRootfsTar(i + 1),
      timeoutMs: 120_000,
      env,
    });
  }
}
