/**
 * Pod volumes on this node:
 * - emptyDir: a Docker volume labelled with the pod uid (medium Memory: a tmpfs volume with sizeLimit);
 * - hostPath: checked or created according to its type;
 * - configMap / secret: files written under the tmpfs runtime directory (never the state dir:
 *   Secret values must not touch the SD card), one directory per pod uid and volume, laid out
 *   like the kubelet's atomic writer (`..data` -> `..<stamp>/`, top-level names link through
 *   `..data`), so an update is one rename; bind-mounted read-only.
 * The runtime directory chooser and the container mounts are here too.
 */
import { promises as fsp, readFileSync, constants as fsc } from 'node:fs';
import { dirname, join, normalize, isAbsolute } from 'node:path';
import { createHash } from 'node:crypto';
import type { Pod, Volume } from '../api/types.js';
import type { Mount } from '../runtime/types.js';
import { quantity } from '../scheduler/scheduler.js';
import { configMapBytes, secretBytes, type ConfigSource } from './env.js';

export class VolumeError extends Error {
  constructor(readonly volume: string, message: string) {
    super(message);
    this.name = 'VolumeError';
  }
}

/** Whether a path is on a tmpfs according to /proc/mounts (longest matching mount point). */
export function isTmpfs(path: string, mountsText?: string): boolean {
  let text = mountsText;
  if (text === undefined) {
    try { text = readFileSync('/proc/mounts', 'utf8'); } catch { return false; }
  }
  let best = '';
  let type = '';
  for (const line of text.split('\n')) {
    const [, mnt, fstype] = line.split(' ');
    if (!mnt || !fstype) continue;
    const m = mnt.replace(/\\040/g, ' ');
    if ((path === m || path.startsWith(m.endsWith('/') ? m : `${m}/`) || m === '/') && m.length >= best.length) {
      best = m;
      type = fstype;
    }
  }
  return type === 'tmpfs' || type === 'ramfs';
}

/** config.runtimeDir ?? $RUNTIME_DIRECTORY ?? /run/pifleet when /run is tmpfs ?? /dev/shm/pifleet-<cluster>-<node>. */
export function chooseRuntimeDir(opts: { configured?: string; env?: Record<string, string | undefined>; cluster: string; node: string; mounts?: string }): string {
  if (opts.configured) return opts.configured;
  const env = opts.env ?? process.env;
  if (env.RUNTIME_DIRECTORY) return env.RUNTIME_DIRECTORY.split(':')[0] as string;
  if (isTmpfs('/run', opts.mounts)) return '/run/pifleet';
  return `/dev/shm/pifleet-${opts.cluster}-${opts.node}`;
}

/** Docker volume name of an emptyDir. */
export function emptyDirVolumeName(pod: Pod, volume: string): string {
  return `pf_${pod.metadata.uid}_${volume}`;
}

export function podRuntimeDir(runtimeDir: string, uid: string): string {
  return join(runtimeDir, 'pods', uid);
}

export interface FileSet {
  /** Relative path -> content and mode. */
  files: Map<string, { data: Buffer; mode: number }>;
}

function checkRelative(volume: string, p: string): string {
  const n = normalize(p);
  if (isAbsolute(n) || n.startsWith('..') || n.split('/').some((s) => s === '..' || s.startsWith('..'))) {
    throw new VolumeError(volume, `invalid item path "${p}": must be relative and must not contain '..'`);
  }
  return n;
}

/** The files of a configMap/secret volume (pure): items, keys, defaultMode, optional. Undefined when optional and absent. */
export function projectFiles(pod: Pod, v: Volume, sources: ConfigSource): FileSet | undefined {
  const ns = pod.metadata.namespace ?? 'default';
  let data: Record<string, Buffer>;
  let items: Array<{ key: string; path: string; mode?: number }> | undefined;
  let defaultMode: number;
  let optional = false;
  if (v.configMap) {
    const cm = sources.configMap(ns, v.configMap.name ?? '');
    optional = Boolean(v.configMap.optional);
    defaultMode = v.configMap.defaultMode ?? 0o644;
    items = v.configMap.items;
    if (!cm) {
      if (optional) return { files: new Map() };
      throw new VolumeError(v.name, `configmap "${v.configMap.name}" not found`);
    }
    data = configMapBytes(cm);
  } else if (v.secret) {
    const s = sources.secret(ns, v.secret.secretName ?? '');
    optional = Boolean(v.secret.optional);
    defaultMode = v.secret.defaultMode ?? 0o400;
    items = v.secret.items;
    if (!s) {
      if (optional) return { files: new Map() };
      throw new VolumeError(v.name, `secret "${v.secret.secretName}" not found`);
    }
    data = secretBytes(s);
  } else {
    return undefined;
  }
  const files = new Map<string, { data: Buffer; mode: number }>();
  if (items && items.length > 0) {
    for (const it of items) {
      const b = data[it.key];
      if (!b) {
        if (optional) continue;
        throw new VolumeError(v.name, v.configMap ? `configmap references non-existent config key: ${it.key}` : `references non-existent secret key: ${it.key}`);
      }
      files.set(checkRelative(v.name, it.path), { data: b, mode: it.mode ?? defaultMode });
    }
  } else {
    for (const [k, b] of Object.entries(data)) files.set(checkRelative(v.name, k), { data: b, mode: defaultMode });
  }
  return { files };
}

/** Fingerprint of a file set (to write only when something changed). */
export function fileSetHash(fs: FileSet): string {
  const h = createHash('sha256');
  for (const [p, f] of [...fs.files.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    h.update(p).update('\0').update(String(f.mode)).update('\0').update(f.data).update('\0');
  }
  return h.digest('hex');
}

/**
 * Write a file set into dir atomically (kubelet AtomicWriter layout): the new payload goes to
 * a fresh `..<stamp>` directory, `..data` is switched to it by one rename, top-level names are
 * symlinks through `..data`, and the old payload is removed.
 */
export async function writeAtomic(dir: string, fs: FileSet, stamp: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
  const payload = `..${stamp}`;
  const pdir = join(dir, payload);
  await fsp.rm(pdir, { recursive: true, force: true });
  await fsp.mkdir(pdir, { mode: 0o755 });
  for (const [rel, f] of fs.files) {
    const target = join(pdir, rel);
    await fsp.mkdir(dirname(target), { recursive: true, mode: 0o755 });
    await fsp.writeFile(target, f.data, { mode: f.mode });
    await fsp.chmod(target, f.mode);
  }
  let oldPayload: string | undefined;
  try { oldPayload = await fsp.readlink(join(dir, '..data')); } catch { /* first write */ }
  const tmpLink = join(dir, '..data_tmp');
  await fsp.rm(tmpLink, { force: true });
  await fsp.symlink(payload, tmpLink);
  await fsp.rename(tmpLink, join(dir, '..data'));
  const tops = new Set([...fs.files.keys()].map((p) => p.split('/')[0] as string));
  for (const top of tops) {
    const link = join(dir, top);
    let st;
    try { st = await fsp.lstat(link); } catch { /* absent */ }
    if (st && st.isSymbolicLink() && (await fsp.readlink(link)) === join('..data', top)) continue;
    if (st) await fsp.rm(link, { recursive: true, force: true });
    await fsp.symlink(join('..data', top), link);
  }
  // names that disappeared
  for (const name of await fsp.readdir(dir)) {
    if (name.startsWith('..')) continue;
    if (!tops.has(name)) await fsp.rm(join(dir, name), { recursive: true, force: true });
  }
  if (oldPayload && oldPayload !== payload) await fsp.rm(join(dir, oldPayload), { recursive: true, force: true });
}

/** Check or create a hostPath according to its type (Kubernetes HostPathType). */
export async function prepareHostPath(v: Volume): Promise<void> {
  const hp = v.hostPath;
  if (!hp) return;
  const path = hp.path;
  const type = hp.type ?? '';
  const stat = async (): Promise<import('node:fs').Stats | undefined> => {
    try { return await fsp.stat(path); } catch { return undefined; }
  };
  const st = await stat();
  const fail = (what: string): never => { throw new VolumeError(v.name, `hostPath type check failed: ${path} is not a ${what}`); };
  switch (type) {
    case '':
      return;
    case 'DirectoryOrCreate':
      if (!st) { await fsp.mkdir(path, { recursive: true, mode: 0o755 }); return; }
      if (!st.isDirectory()) fail('directory');
      return;
    case 'Directory':
      if (!st || !st.isDirectory()) fail('directory');
      return;
    case 'FileOrCreate':
      if (!st) {
        await fsp.mkdir(dirname(path), { recursive: true, mode: 0o755 });
        const fh = await fsp.open(path, fsc.O_CREAT | fsc.O_WRONLY, 0o644);
        await fh.close();
        return;
      }
      if (!st.isFile()) fail('file');
      return;
    case 'File':
      if (!st || !st.isFile()) fail('file');
      return;
    case 'Socket':
      if (!st || !st.isSocket()) fail('socket');
      return;
    case 'CharDevice':
      if (!st || !st.isCharacterDevice()) fail('character device');
      return;
    case 'BlockDevice':
      if (!st || !st.isBlockDevice()) fail('block device');
      return;
    default:
      throw new VolumeError(v.name, `unknown hostPath type "${type}"`);
  }
}

/** emptyDir options for the runtime's ensureVolume. */
export function emptyDirOptions(v: Volume): { tmpfs: boolean; sizeBytes?: number } {
  const ed = v.emptyDir ?? {};
  const tmpfs = ed.medium === 'Memory';
  const size = ed.sizeLimit !== undefined ? quantity(ed.sizeLimit as string) : NaN;
  return { tmpfs, ...(tmpfs && Number.isFinite(size) && size > 0 ? { sizeBytes: Math.floor(size) } : {}) };
}

/** The mounts of one container from its volumeMounts (pure). */
export function containerMounts(pod: Pod, c: { name: string; volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean; subPath?: string }> }, runtimeDir: string): Mount[] {
  const vols = new Map((pod.spec.volumes ?? []).map((v) => [v.name, v]));
  const mounts: Mount[] = [];
  for (const vm of c.volumeMounts ?? []) {
    const v = vols.get(vm.name);
    if (!v) throw new VolumeError(vm.name, `volumeMount "${vm.name}" of container "${c.name}" names no volume of the pod`);
    const sub = vm.subPath ? checkRelative(vm.name, vm.subPath) : '';
    if (v.emptyDir) {
      if (sub) throw new VolumeError(vm.name, 'subPath is not supported for emptyDir volumes on pifleet');
      mounts.push({ type: 'volume', source: emptyDirVolumeName(pod, v.name), target: vm.mountPath, readOnly: Boolean(vm.readOnly) });
    } else if (v.hostPath) {
      mounts.push({ type: 'bind', source: sub ? join(v.hostPath.path, sub) : v.hostPath.path, target: vm.mountPath, readOnly: Boolean(vm.readOnly) });
    } else if (v.configMap || v.secret) {
      const base = join(podRuntimeDir(runtimeDir, pod.metadata.uid ?? ''), 'volumes', v.name);
      mounts.push({ type: 'bind', source: sub ? join(base, sub) : base, target: vm.mountPath, readOnly: true });
    } else {
      throw new VolumeError(vm.name, `volume "${vm.name}": only emptyDir, hostPath, configMap and secret volumes are supported`);
    }
  }
  return mounts;
}

/** Keys of ConfigMaps/Secrets a pod's volumes use (namespace/name). */
export function volumeSourcesOf(pod: Pod): Array<{ kind: 'ConfigMap' | 'Secret'; name: string }> {
  const out: Array<{ kind: 'ConfigMap' | 'Secret'; name: string }> = [];
  for (const v of pod.spec.volumes ?? []) {
    if (v.configMap?.name) out.push({ kind: 'ConfigMap', name: v.configMap.name });
    if (v.secret?.secretName) out.push({ kind: 'Secret', name: v.secret.secretName });
  }
  return out;
}
