/**
 * The store on a real disk that fills up, with the real daemon: acknowledged writes are never
 * lost, refusals say the disk is full, writes come back when space does. Needs root (a tmpfs
 * of a few MB is mounted as the state directory).
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, apiClient } from '../../harness/daemon.js';

const MB = 1024 * 1024;

/** Fill the file system of `path` until the kernel refuses (ENOSPC), leaving `leave` bytes. */
function fill(path: string, leave: number): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  try {
    for (let i = 0; i < 4096; i++) { // bounded: at most 256 MB
      const st = execFileSync('df', ['-B1', '--output=avail', join(path, '..')]).toString().trim().split('\n').pop();
      const avail = Number(st);
      if (avail <= leave) break;
      writeSync(fd, chunk, 0, Math.min(chunk.length, Math.max(4096, avail - leave)));
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

t.test('a state directory that fills up while a client keeps applying loses no acknowledged object, refuses with "disk is full" and recovers when space is freed', async (t) => {
  const mnt = mkdtempSync(join(tmpdir(), 'pifleet-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m,mode=0700', 'tmpfs', mnt]);
  t.teardown(() => {
    try { execFileSync('umount', ['-l', mnt]); } catch { /* already */ }
    rmSync(mnt, { recursive: true, force: true });
  });
  const stateDir = join(mnt, 'state');
  const d = await startTestDaemon(t, { stateDir });
  const api = await apiClient(t, d);
  const acked = new Map<string, string>();
  const refusals: string[] = [];
  const value = (i: number): string => `${i}:`.padEnd(20_000, String.fromCharCode(97 + (i % 26)));
  const apply = async (i: number): Promise<boolean> => {
    const name = `cm-${i}`;
    try {
      await api.request('apply', { objects: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { v: value(i) } }] });
      acked.set(name, value(i));
      return true;
    } catch (err) {
      refusals.push((err as Error).message);
      return false;
    }
  };
  // leave room for a few dozen writes, then keep applying into the full disk
  const filler = join(mnt, 'filler');
  fill(filler, 600 * 1024);
  let i = 0;
  for (; i < 400 && refusals.length < 5; i++) await apply(i);
  t.ok(acked.size > 5, `some writes were acknowledged before the disk filled (${acked.size})`);
  t.ok(refusals.length >= 5, 'writes were refused once the disk was full');
  t.ok(refusals.every((m) => /disk is full/.test(m)), `every refusal says the disk is full: ${refusals[0]}`);
  // space comes back: writes succeed again
  rmSync(filler);
  let after = 0;
  for (let j = 0; j < 20; j++, i++) if (await apply(i)) after++;
  t.equal(after, 20, 'every write after freeing space succeeds');
  await api.close();
  t.equal(await d.stop(), 0);
  await d.start();
  const api2 = await apiClient(t, d);
  let lost = 0;
  for (const [name, v] of acked) {
    const cm = await api2.request<{ data: { v: string } }>('get', { kind: 'configmaps', name }).catch(() => undefined);
    if (cm?.data.v !== v) lost++;
  }
  t.comment(`acknowledged ${acked.size}, lost ${lost}`);
  t.equal(lost, 0, 'every acknowledged object is there with its value after a restart');
});
