/**
 * Pod storage on this node: the runtime directory (tmpfs) with one directory per pod uid for
 * ConfigMap/Secret volume files, emptyDir Docker volumes and hostPath checks (volumes.ts has the
 * pure parts), and their removal when a pod goes, including directories no pod owns any more.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { LABELS, RuntimeError, type Runtime } from '../runtime/types.js';
import type { ConfigSource } from './env.js';
import {
  chooseRuntimeDir, emptyDirOptions, emptyDirVolumeName, fileSetHash, isTmpfs, podRuntimeDir, prepareHostPath, projectFiles,
  VolumeError, writeAtomic,
} from './volumes.js';
import type { PodWorker } from './worker.js';

export interface PodStorageOptions {
  runtime: Runtime;
  clock: Clock;
  logger: Logger;
  cluster: string;
  nodeName: string;
  /** Configured runtime directory; default chosen by chooseRuntimeDir. */
  runtimeDir?: string;
  /** Labels of everything this agent owns (cluster, node). */
  baseLabels: Record<string, string>;
}

export class PodStorage {
  readonly runtimeDir: string;
  readonly #o: PodStorageOptions;
  readonly #owner: string;
  #stamp = 0;

  constructor(opts: PodStorageOptions) {
    this.#o = opts;
    this.runtimeDir = chooseRuntimeDir({ ...(opts.runtimeDir ? { configured: opts.runtimeDir } : {}), cluster: opts.cluster, node: opts.nodeName });
    this.#owner = `${opts.cluster}/${opts.nodeName}`;
  }

  /** Create the runtime directory; warn when it would put Secret values on disk. */
  async init(): Promise<void> {
    const log = this.#o.logger;
    try {
      await fsp.mkdir(this.runtimeDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      log.error({ err, dir: this.runtimeDir }, 'cannot create the runtime directory for Secret/ConfigMap volumes: check that it is writable (tmpfs)');
    }
    if (!isTmpfs(this.runtimeDir)) {
      log.warn({ dir: this.runtimeDir }, 'the runtime directory is not on a tmpfs: Secret volume files would be written to disk; set runtimeDir to a tmpfs path (e.g. /run/pifleet)');
    }
  }

  /** Make the pod's volumes ready (idempotent; ConfigMap/Secret files rewritten when they changed). Throws VolumeError. */
  async prepare(w: PodWorker, sources: ConfigSource): Promise<void> {
    const pod = w.pod;
    const vols = pod?.spec.volumes ?? [];
    if (!pod || !vols.length) return;
    const dir = podRuntimeDir(this.runtimeDir, w.uid);
    for (const v of vols) {
      if (v.emptyDir) {
        if (w.volumesMade.has(v.name)) continue;
        await this.#o.runtime.ensureVolume(emptyDirVolumeName(pod, v.name), { ...this.#o.baseLabels, [LABELS.podUid]: w.uid }, emptyDirOptions(v));
        w.volumesMade.add(v.name);
      } else if (v.hostPath) {
        if (w.volumesMade.has(v.name)) continue;
        try {
          await prepareHostPath(v);
        } catch (err) {
          if (err instanceof VolumeError) throw err;
          throw new VolumeError(v.name, `hostPath ${v.hostPath.path}: ${(err as Error).message}`);
        }
        w.volumesMade.add(v.name);
      } else if (v.configMap || v.secret) {
        const files = projectFiles(pod, v, sources);
        if (!files) continue;
        const hash = fileSetHash(files);
        if (w.volumeHashes.get(v.name) === hash) continue;
        try {
          await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
          await fsp.writeFile(join(dir, '.owner'), `${this.#owner}\n`);
          await writeAtomic(join(dir, 'volumes', v.name), files, `${this.#o.clock.now().toString(36)}_${(this.#stamp++).toString(36)}`);
        } catch (err) {
          throw new VolumeError(v.name, `cannot write volume files under ${dir}: ${(err as Error).message} (check that the runtime directory is a writable tmpfs)`);
        }
        w.volumeHashes.set(v.name, hash);
      }
    }
  }

  /** Remove a pod's emptyDir volumes and runtime directory. */
  async remove(uid: string): Promise<void> {
    const { runtime } = this.#o;
    try {
      for (const v of await runtime.listVolumes({ ...this.#o.baseLabels, [LABELS.podUid]: uid })) await runtime.removeVolume(v.name);
    } catch (err) {
      if (err instanceof RuntimeError && err.code === 'Unavailable') throw err;
      this.#o.logger.warn({ err: (err as Error).message, pod: uid }, 'cannot remove pod volumes yet');
    }
    await fsp.rm(podRuntimeDir(this.runtimeDir, uid), { recursive: true, force: true });
  }

  /** Remove the runtime directories of this agent's pods that `keep` does not name. */
  async removeStaleDirs(keep: (uid: string) => boolean): Promise<void> {
    const root = join(this.runtimeDir, 'pods');
    let names: string[];
    try { names = await fsp.readdir(root); } catch { return; }
    for (const uid of names) {
      if (keep(uid)) continue;
      try {
        const owner = (await fsp.readFile(join(root, uid, '.owner'), 'utf8')).trim();
        if (owner !== this.#owner) continue;
        await fsp.rm(join(root, uid), { recursive: true, force: true });
      } catch { /* not ours */ }
    }
  }
}
