/**
 * The desired-state log on disk: an append-only file of entries plus one snapshot.
 *
 *   <dir>/snapshot.json   "pifleet-snapshot 1 <crc32> <length>\n" + JSON {index, term, objects}
 *   <dir>/log.jsonl       one entry per line: "<crc32 hex> <json>\n", json = {index, term, time, ops}
 *
 * Every append is fdatasync'ed before it is acknowledged. On open, a torn or corrupt tail
 * (power cut mid-write) is cut off at the last good entry; entries already covered by the
 * snapshot are skipped. Snapshots are written to a temporary file, fsynced and renamed, then
 * the log is emptied: a crash in between leaves a snapshot plus a log whose entries it covers.
 * Entries carry the leader's term and a consecutive index, so replication (Raft-style) can
 * reuse them as they are.
 */
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from '../lib/logger.js';

export type Op = { op: 'put'; obj: Record<string, unknown> } | { op: 'del'; key: string };

export interface Entry {
  index: number;
  term: number;
  time: number;
  ops: Op[];
}

export interface Snapshot {
  index: number;
  term: number;
  objects: Record<string, unknown>[];
}

export interface OpenedLog {
  log: DiskLog;
  snapshot: Snapshot | undefined;
  /** Entries after the snapshot, in order. */
  entries: Entry[];
}

const SNAPSHOT = 'snapshot.json';
const LOG = 'log.jsonl';

function crcHex(s: string): string {
  return crc32(Buffer.from(s, 'utf8')).toString(16).padStart(8, '0');
}

export class StoreIOError extends Error {
  constructor(what: string, path: string, cause: unknown) {
    const err = cause as NodeJS.ErrnoException;
    const hint = err?.code === 'ENOSPC' ? ': the disk is full, free space and retry'
      : err?.code === 'EACCES' || err?.code === 'EPERM' ? ': check the permissions of the state directory'
      : err?.code === 'EROFS' ? ': the file system is read-only' : '';
    super(`${what} ${path} failed (${err?.code ?? err?.message ?? String(cause)})${hint}`);
    this.name = 'StoreIOError';
  }
}

export class DiskLog {
  #fh: FileHandle;
  #size: number;
  #lastIndex: number;
  #lastTerm: number;
  #appendedSinceSnapshot: number;
  #bytesWritten = 0;

  private constructor(readonly dir: string, fh: FileHandle, size: number, lastIndex: number, lastTerm: number, count: number, private readonly logger: Logger) {
    this.#fh = fh;
    this.#size = size;
    this.#lastIndex = lastIndex;
    this.#lastTerm = lastTerm;
    this.#appendedSinceSnapshot = count;
  }

  get lastIndex(): number { return this.#lastIndex; }
  get lastTerm(): number { return this.#lastTerm; }
  /** Entries in the log file (not covered by the snapshot). */
  get entriesSinceSnapshot(): number { return this.#appendedSinceSnapshot; }
  /** Bytes this process wrote to the log and snapshots (for footprint checks). */
  get bytesWritten(): number { return this.#bytesWritten; }

  static async open(dir: string, logger: Logger): Promise<OpenedLog> {
    try {
      await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new StoreIOError('creating the state directory', dir, err);
    }
    const snapshot = await readSnapshot(join(dir, SNAPSHOT), logger);
    const logPath = join(dir, LOG);
    let fh: FileHandle;
    try {
      fh = await fsp.open(logPath, constants.O_RDWR | constants.O_CREAT | constants.O_APPEND, 0o600);
    } catch (err) {
      throw new StoreIOError('opening the desired-state log', logPath, err);
    }
    const raw = await fh.readFile();
    const entries: Entry[] = [];
    let good = 0;
    let offset = 0;
    let expect = snapshot ? snapshot.index + 1 : 1;
    let lastTerm = snapshot?.term ?? 0;
    let torn: string | undefined;
    while (offset < raw.length) {
      const nl = raw.indexOf(0x0a, offset);
      if (nl < 0) { torn = 'an unterminated last line'; break; }
      const line = raw.subarray(offset, nl).toString('utf8');
      const sp = line.indexOf(' ');
      const json = line.slice(sp + 1);
      if (sp !== 8 || crcHex(json) !== line.slice(0, 8)) { torn = `a checksum mismatch at byte ${offset}`; break; }
      let entry: Entry;
      try {
        entry = JSON.parse(json) as Entry;
      } catch {
        torn = `unparseable JSON at byte ${offset}`;
        break;
      }
      if (entry.index < expect) {
        // already covered by the snapshot (crash between snapshot and log reset)
      } else if (entry.index === expect) {
        entries.push(entry);
        expect++;
        lastTerm = entry.term;
      } else {
        torn = `a gap in the log (index ${entry.index}, expected ${expect})`;
        break;
      }
      offset = nl + 1;
      good = offset;
    }
    if (torn) {
      logger.warn({ path: logPath, keptBytes: good, droppedBytes: raw.length - good, reason: torn },
        'desired-state log has a torn tail (power loss during a write?); ignoring it after the last complete entry');
      await fh.truncate(good);
      await fh.datasync();
    }
    const lastIndex = expect - 1;
    const log = new DiskLog(dir, fh, good, lastIndex, lastTerm, entries.length, logger);
    return { log, snapshot, entries };
  }

  /** Append entries (consecutive indexes) and fdatasync. On failure the file is cut back, nothing is half-written. */
  async append(entries: Entry[]): Promise<void> {
    if (entries.length === 0) return;
    let expect = this.#lastIndex + 1;
    for (const e of entries) {
      if (e.index !== expect) throw new Error(`log append out of order: index ${e.index}, expected ${expect}`);
      expect++;
    }
    const text = entries.map((e) => {
      const json = JSON.stringify(e);
      return `${crcHex(json)} ${json}\n`;
    }).join('');
    const buf = Buffer.from(text, 'utf8');
    try {
      await this.#fh.write(buf, 0, buf.length);
      await this.#fh.datasync();
    } catch (err) {
      try { await this.#fh.truncate(this.#size); } catch { /* best effort: the torn tail is ignored on load anyway */ }
      throw new StoreIOError('appending to the desired-state log', join(this.dir, LOG), err);
    }
    this.#size += buf.length;
    this.#bytesWritten += buf.length;
    const last = entries[entries.length - 1] as Entry;
    this.#lastIndex = last.index;
    this.#lastTerm = last.term;
    this.#appendedSinceSnapshot += entries.length;
  }

  /** Write a snapshot durably, then empty the log. */
  async writeSnapshot(snap: Snapshot): Promise<void> {
    const path = join(this.dir, SNAPSHOT);
    const tmp = `${path}.tmp`;
    const json = JSON.stringify(snap);
    const body = `pifleet-snapshot 1 ${crcHex(json)} ${Buffer.byteLength(json)}\n${json}`;
    try {
      const fh = await fsp.open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(body);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(tmp, path);
      await syncDir(this.dir);
      await this.#fh.truncate(0);
      await this.#fh.datasync();
    } catch (err) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      throw new StoreIOError('writing a snapshot of the desired state to', path, err);
    }
    this.#bytesWritten += Buffer.byteLength(body);
    this.#size = 0;
    this.#appendedSinceSnapshot = 0;
    this.logger.debug({ index: snap.index, objects: snap.objects.length }, 'snapshot written');
  }

  async close(): Promise<void> {
    await this.#fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try { await fh.sync(); } finally { await fh.close(); }
}

async function readSnapshot(path: string, logger: Logger): Promise<Snapshot | undefined> {
  let raw: string;
  try {
    raw = await fsp.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StoreIOError('reading the snapshot', path, err);
  }
  const nl = raw.indexOf('\n');
  const m = /^pifleet-snapshot 1 ([0-9a-f]{8}) (\d+)$/.exec(raw.slice(0, nl));
  const json = raw.slice(nl + 1);
  if (!m || crcHex(json) !== m[1] || Buffer.byteLength(json) !== Number(m[2])) {
    // Snapshots are renamed into place only when complete, so this is disk corruption:
    // refuse to start rather than silently lose the desired state.
    throw new Error(`the snapshot ${path} is corrupt (checksum mismatch); restore it from a backup or another member, or move it away to start empty`);
  }
  const snap = JSON.parse(json) as Snapshot;
  logger.debug({ index: snap.index, objects: snap.objects.length }, 'snapshot loaded');
  return snap;
}
