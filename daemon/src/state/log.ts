/**
 * The desired-state log on disk (the LogStore of the fleet's replicated log): an append-only
 * file of entries plus one snapshot. Formats and the torn-tail/corruption rules: log-format.ts.
 *
 * - Appends are all or nothing: every byte is written (short writes are continued), then
 *   fdatasync, and only then does append() resolve. On any failure the file is cut back to the
 *   last good size and that size is checked with fstat; if even that fails, the log turns
 *   read-only (with the reason) rather than ever append behind an unknown tail.
 * - On open, a torn tail (nothing valid after the damage) is copied aside to
 *   log.jsonl.torn-<time> and cut off with a warning; corruption (valid entries after the
 *   damage, an index gap) refuses to open with StoreCorruptError naming the file and offset.
 * - truncateFrom() drops a suffix (a follower's conflicting entries); writeSnapshot() writes a
 *   snapshot durably (temporary file, fsync, rename, directory fsync) and then compacts the
 *   log to the entries after it; installSnapshot() replaces everything with a leader's snapshot.
 *
 * The file handle is a seam (LogFiles): unit tests inject short writes and ENOSPC at every
 * byte offset.
 */
import { constants, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../lib/clock.js';
import { writeFileAtomic } from '../lib/atomic-write.js';
import type { Logger } from '../lib/logger.js';
import { decodeSnapshot, encodeEntries, encodeSnapshot, parseLog, type Entry, type Snapshot } from './log-format.js';

export type { Entry, Op, Snapshot, EntryType } from './log-format.js';

export const SNAPSHOT_FILE = 'snapshot.json';
export const LOG_FILE = 'log.jsonl';

/** The operations the log needs from an open file (O_RDWR | O_APPEND). */
export interface LogFile {
  /** Write at the end; resolves with the number of bytes written (may be fewer than asked). */
  write(buf: Buffer, offset: number, length: number): Promise<number>;
  datasync(): Promise<void>;
  truncate(size: number): Promise<void>;
  /** fstat size. */
  size(): Promise<number>;
  readAll(): Promise<Buffer>;
  close(): Promise<void>;
}

export interface LogFiles {
  open(path: string): Promise<LogFile>;
}

export const realLogFiles: LogFiles = {
  async open(path) {
    const fh = await fsp.open(path, constants.O_RDWR | constants.O_CREAT | constants.O_APPEND, 0o600);
    return {
      write: async (buf, offset, length) => (await fh.write(buf, offset, length)).bytesWritten,
      datasync: () => fh.datasync(),
      truncate: (size) => fh.truncate(size),
      size: async () => (await fh.stat()).size,
      async readAll() {
        // from offset 0 whatever the handle's position (FileHandle.readFile reads from the position on)
        const { size } = await fh.stat();
        const buf = Buffer.alloc(size);
        let done = 0;
        while (done < size) {
          const { bytesRead } = await fh.read(buf, done, size - done, done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        return buf.subarray(0, done);
      },
      close: () => fh.close(),
    };
  },
};

const HINTS: Record<string, string> = {
  ENOSPC: 'the disk is full: free space on it and retry',
  EDQUOT: 'the disk quota is exhausted: free space and retry',
  EACCES: 'check the permissions of the state directory',
  EPERM: 'check the permissions of the state directory',
  EROFS: 'the file system is read-only',
  EIO: 'the disk reported an I/O error: check it (dmesg) and consider replacing the SD card',
};

export class StoreIOError extends Error {
  readonly code: string | undefined;
  constructor(what: string, path: string, cause: unknown) {
    const err = cause as NodeJS.ErrnoException;
    const code = err?.code;
    const hint = code && HINTS[code] ? `: ${HINTS[code]}` : '';
    super(`${what} ${path} failed (${code ?? err?.message ?? String(cause)})${hint}`);
    this.name = 'StoreIOError';
    this.code = code;
  }
}

/** The log can no longer be trusted to append after its tail: writes are refused until a restart. */
export class StoreReadOnlyError extends Error {
  constructor(readonly reason: string) {
    super(`the desired-state store is read-only: ${reason}`);
    this.name = 'StoreReadOnlyError';
  }
}

/** Damage that is not a torn tail: the daemon must not start on this log. */
export class StoreCorruptError extends Error {
  constructor(readonly path: string, readonly offset: number, readonly reason: string, readonly validAfter: number, readonly stateDir: string) {
    super(`the desired-state log ${path} is damaged at byte ${offset} (${reason}) and ${validAfter} valid entr${validAfter === 1 ? 'y follows' : 'ies follow'} it: ` +
      'this is not a torn last write, so nothing is cut and the daemon does not start. ' +
      `See what is affected with \`pifleet state check --state-dir ${stateDir}\`; ` +
      `\`pifleet state repair --state-dir ${stateDir}\` keeps a copy of the file and starts from the entries before the damage. ` +
      'In a fleet, remove this member\'s store instead and let it catch up from the leader.');
    this.name = 'StoreCorruptError';
  }
}

export interface DiskLogOptions {
  logger: Logger;
  clock?: Clock;
  files?: LogFiles;
  /** The state directory as the user knows it (for messages); default the log's directory. */
  stateDir?: string;
}

export interface OpenedLog {
  log: DiskLog;
  snapshot: Snapshot | undefined;
  /** Entries after the snapshot, in order. */
  entries: Entry[];
}

/** "20261203T141500Z" for file names. */
export function fileStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export class DiskLog {
  #fh: LogFile;
  #size: number;
  /** Byte offset of every entry in the file, by position (entry index = first + position). */
  #offsets: number[];
  #first: number;
  #lastIndex: number;
  #lastTerm: number;
  #snapIndex: number;
  #snapTerm: number;
  #bytesWritten = 0;
  #readOnly: string | undefined;

  private constructor(readonly dir: string, private readonly opts: DiskLogOptions, fh: LogFile, size: number, offsets: number[], snapshot: Snapshot | undefined, entries: Entry[]) {
    this.#fh = fh;
    this.#size = size;
    this.#offsets = offsets;
    this.#snapIndex = snapshot?.index ?? 0;
    this.#snapTerm = snapshot?.term ?? 0;
    this.#first = this.#snapIndex + 1;
    const last = entries[entries.length - 1];
    this.#lastIndex = last?.index ?? this.#snapIndex;
    this.#lastTerm = last?.term ?? this.#snapTerm;
  }

  get lastIndex(): number { return this.#lastIndex; }
  get lastTerm(): number { return this.#lastTerm; }
  get snapshotIndex(): number { return this.#snapIndex; }
  get snapshotTerm(): number { return this.#snapTerm; }
  /** Entries in the log file (not covered by the snapshot). */
  get entriesSinceSnapshot(): number { return this.#offsets.length; }
  /** Bytes this process wrote to the log and snapshots (for footprint checks). */
  get bytesWritten(): number { return this.#bytesWritten; }
  /** Why writes are refused, when they are. */
  get readOnly(): string | undefined { return this.#readOnly; }
  get path(): string { return join(this.dir, LOG_FILE); }

  static async open(dir: string, opts: DiskLogOptions): Promise<OpenedLog> {
    const files = opts.files ?? realLogFiles;
    const stateDir = opts.stateDir ?? dir;
    try {
      await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new StoreIOError('creating the state directory', dir, err);
    }
    const snapshot = await readSnapshot(join(dir, SNAPSHOT_FILE));
    const logPath = join(dir, LOG_FILE);
    let fh: LogFile;
    try {
      fh = await files.open(logPath);
    } catch (err) {
      throw new StoreIOError('opening the desired-state log', logPath, err);
    }
    let raw: Buffer;
    try {
      raw = await fh.readAll();
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw new StoreIOError('reading the desired-state log', logPath, err);
    }
    const parsed = parseLog(raw, snapshot?.index ?? 0);
    if (parsed.damage?.kind === 'corrupt') {
      await fh.close().catch(() => undefined);
      throw new StoreCorruptError(logPath, parsed.damage.offset, parsed.damage.reason, parsed.damage.after.length, stateDir);
    }
    if (parsed.damage) {
      const now = opts.clock?.now() ?? Date.now();
      const copy = `${logPath}.torn-${fileStamp(now)}`;
      try {
        await fsp.writeFile(copy, raw, { mode: 0o600, flag: 'wx' });
        await fh.truncate(parsed.goodBytes);
        await fh.datasync();
      } catch (err) {
        await fh.close().catch(() => undefined);
        throw new StoreIOError('cutting the torn tail off the desired-state log (original kept as ' + copy + ')', logPath, err);
      }
      opts.logger.warn({ path: logPath, keptBytes: parsed.goodBytes, droppedBytes: raw.length - parsed.goodBytes, reason: parsed.damage.reason, copy },
        'desired-state log had a torn last write (power loss during an append?): cut it off after the last complete entry; the original is kept beside it');
    }
    const log = new DiskLog(dir, opts, fh, parsed.goodBytes, parsed.offsets, snapshot, parsed.entries);
    return { log, snapshot, entries: parsed.entries };
  }

  #check(): void {
    if (this.#readOnly) throw new StoreReadOnlyError(this.#readOnly);
  }

  /** Cut the file back to `size` after a failed write; read-only when that cannot be verified. */
  async #cutBack(size: number, what: string): Promise<void> {
    try {
      await this.#fh.truncate(size);
      await this.#fh.datasync();
      const now = await this.#fh.size();
      if (now !== size) throw new Error(`the file is ${now} bytes after cutting it back to ${size}`);
    } catch (err) {
      this.#readOnly = `after a failed ${what}, ${this.path} could not be cut back to its last good size ${size} (${(err as Error).message}); ` +
        'restart the daemon once the disk is healthy (the next start checks the file)';
      this.opts.logger.error({ path: this.path, size, err: (err as Error).message }, 'desired-state log is now read-only: it could not be cut back after a failed write');
    }
  }

  /** Append entries (consecutive indexes after lastIndex) durably; all or nothing. */
  async append(entries: Entry[]): Promise<void> {
    if (entries.length === 0) return;
    this.#check();
    let expect = this.#lastIndex + 1;
    let term = this.#lastTerm;
    for (const e of entries) {
      if (e.index !== expect) throw new Error(`log append out of order: index ${e.index}, expected ${expect}`);
      if (e.term < term) throw new Error(`log append with term ${e.term} after term ${term}`);
      expect++;
      term = e.term;
    }
    const lines = entries.map((e) => encodeEntries([e]));
    const buf = Buffer.concat(lines);
    const start = this.#size;
    try {
      let done = 0;
      while (done < buf.length) {
        const n = await this.#fh.write(buf, done, buf.length - done);
        if (!(n > 0)) throw Object.assign(new Error('the disk accepted no bytes'), { code: 'ENOSPC' });
        done += n;
      }
      await this.#fh.datasync();
    } catch (err) {
      await this.#cutBack(start, 'append');
      throw new StoreIOError('appending to the desired-state log', this.path, err);
    }
    let o = start;
    for (const l of lines) {
      this.#offsets.push(o);
      o += l.length;
    }
    this.#size = start + buf.length;
    this.#bytesWritten += buf.length;
    const last = entries[entries.length - 1] as Entry;
    this.#lastIndex = last.index;
    this.#lastTerm = last.term;
  }

  /** Drop every entry with index >= `index` (a follower's conflicting suffix). */
  async truncateFrom(index: number, termBefore: number): Promise<void> {
    if (index > this.#lastIndex) return;
    this.#check();
    if (index <= this.#snapIndex) throw new Error(`cannot truncate the log at ${index}: entries up to ${this.#snapIndex} are in the snapshot`);
    const pos = index - this.#first;
    const size = this.#offsets[pos] as number;
    try {
      await this.#fh.truncate(size);
      await this.#fh.datasync();
      const now = await this.#fh.size();
      if (now !== size) throw new Error(`the file is ${now} bytes after truncating to ${size}`);
    } catch (err) {
      await this.#cutBack(size, 'truncation');
      throw new StoreIOError('truncating the desired-state log', this.path, err);
    }
    this.#offsets.length = pos;
    this.#size = size;
    this.#lastIndex = index - 1;
    this.#lastTerm = index - 1 === this.#snapIndex ? this.#snapTerm : termBefore;
  }

  /** Write a snapshot durably, then compact the log to the entries after it. */
  async writeSnapshot(snap: Snapshot): Promise<void> {
    this.#check();
    if (snap.index > this.#lastIndex) throw new Error(`snapshot at ${snap.index} is beyond the log's last entry ${this.#lastIndex}`);
    await this.#writeSnapshotFile(snap);
    // keep the entries after the snapshot: rewrite the log with just those
    const pos = snap.index - this.#first + 1;
    if (pos >= this.#offsets.length) {
      await this.#replaceLog(Buffer.alloc(0));
      this.#offsets = [];
    } else {
      const raw = await this.#fh.readAll();
      const from = this.#offsets[pos] as number;
      await this.#replaceLog(raw.subarray(from, this.#size));
      this.#offsets = this.#offsets.slice(pos).map((x) => x - from);
    }
    this.#snapIndex = snap.index;
    this.#snapTerm = snap.term;
    this.#first = snap.index + 1;
    this.opts.logger.debug({ index: snap.index, objects: snap.objects.length, kept: this.#offsets.length }, 'snapshot written');
  }

  /** Replace the whole log with a snapshot (a leader's, for a follower far behind). */
  async installSnapshot(snap: Snapshot): Promise<void> {
    this.#check();
    await this.#writeSnapshotFile(snap);
    await this.#replaceLog(Buffer.alloc(0));
    this.#offsets = [];
    this.#snapIndex = snap.index;
    this.#snapTerm = snap.term;
    this.#first = snap.index + 1;
    this.#lastIndex = snap.index;
    this.#lastTerm = snap.term;
  }

  async #writeSnapshotFile(snap: Snapshot): Promise<void> {
    const path = join(this.dir, SNAPSHOT_FILE);
    const body = encodeSnapshot(snap);
    try {
      await writeFileAtomic(path, body, 0o600);
    } catch (err) {
      throw new StoreIOError('writing a snapshot of the desired state to', path, err);
    }
    this.#bytesWritten += Buffer.byteLength(body);
  }

  /** The log file becomes `content` (durably; a crash leaves the old or the new file). */
  async #replaceLog(content: Buffer): Promise<void> {
    if (content.length === 0) {
      try {
        await this.#fh.truncate(0);
        await this.#fh.datasync();
      } catch (err) {
        await this.#cutBack(this.#size, 'compaction');
        throw new StoreIOError('compacting the desired-state log', this.path, err);
      }
      this.#size = 0;
      return;
    }
    try {
      await writeFileAtomic(this.path, content, 0o600);
    } catch (err) {
      throw new StoreIOError('compacting the desired-state log', this.path, err);
    }
    this.#bytesWritten += content.length;
    // the renamed file is a new inode: reopen
    await this.#fh.close().catch(() => undefined);
    try {
      this.#fh = await (this.opts.files ?? realLogFiles).open(this.path);
    } catch (err) {
      this.#readOnly = `the compacted log ${this.path} could not be reopened (${(err as Error).message})`;
      throw new StoreIOError('reopening the desired-state log', this.path, err);
    }
    this.#size = content.length;
  }

  async close(): Promise<void> {
    await this.#fh.close().catch(() => undefined);
  }
}

/** The snapshot in a state directory; a damaged one refuses to load (snapshots are renamed into place complete). */
export async function readSnapshot(path: string): Promise<Snapshot | undefined> {
  let raw: string;
  try {
    raw = await fsp.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StoreIOError('reading the snapshot', path, err);
  }
  const snap = decodeSnapshot(raw);
  if ('error' in snap) {
    throw new Error(`the snapshot ${path} is corrupt (${snap.error}); restore it from a backup or another member, or move it away to start empty`);
  }
  return snap;
}
