/**
 * The in-memory view of the replicated log: a snapshot point (index, term, config) plus the
 * entries after it, and the bookkeeping that turns changes into Ready content:
 *
 * - `unstable`: the first index not yet handed to the driver in a Ready;
 * - `stable`: the disk holds exactly our entries up to here (counting a snapshot handed out
 *   for persisting as held); the leader counts its own entries for commit only up to it;
 * - a pending `truncateFrom` for entries that may be on disk but were overwritten.
 *
 * At most one Ready is outstanding (handed out, neither advanced nor failed) at a time.
 */
import type { ClusterConfig, LogEntry } from './types.js';

const sizes = new WeakMap<LogEntry, number>();

/** Estimated size of an entry on the wire (JSON length), cached. */
export function entrySize(e: LogEntry): number {
  let n = sizes.get(e);
  if (n === undefined) {
    n = JSON.stringify(e)?.length ?? 0;
    sizes.set(e, n);
  }
  return n;
}

export interface ConfigAt {
  index: number;
  config: ClusterConfig;
}

export class RaftLog {
  #snapIndex: number;
  #snapTerm: number;
  #entries: LogEntry[];
  #unstable: number;
  #stable: number;
  #truncateFrom: number | undefined;
  /** Last entry index of the outstanding Ready, and the cap truncations put on it since. */
  #inflightLast: number | undefined;
  #inflightCap = Infinity;
  /** The config at the snapshot point, and the config entries after it. */
  #baseConfig: ConfigAt | undefined;
  #configs: ConfigAt[] = [];

  constructor(snap: { index: number; term: number; config?: ClusterConfig }, entries: LogEntry[]) {
    this.#snapIndex = snap.index;
    this.#snapTerm = snap.term;
    this.#baseConfig = snap.config ? { index: snap.index, config: snap.config } : undefined;
    let expect = snap.index + 1;
    let term = snap.term;
    for (const e of entries) {
      if (e.index !== expect || e.term < term) throw new RangeError(`initial log: entry ${e.index} (term ${e.term}) does not follow index ${expect - 1} (term ${term})`);
      expect++;
      term = e.term;
    }
    this.#entries = entries.slice();
    for (const e of this.#entries) this.#noteConfig(e);
    this.#stable = this.lastIndex;
    this.#unstable = this.lastIndex + 1;
  }

  get snapIndex(): number { return this.#snapIndex; }
  get snapTerm(): number { return this.#snapTerm; }
  get firstIndex(): number { return this.#snapIndex + 1; }
  get lastIndex(): number { return this.#snapIndex + this.#entries.length; }
  get lastTerm(): number { return this.#entries.length ? this.#entries[this.#entries.length - 1].term : this.#snapTerm; }
  get stable(): number { return this.#stable; }
  get length(): number { return this.#entries.length; }

  /** Term of the entry at i; undefined when compacted away or beyond the end. */
  term(i: number): number | undefined {
    if (i === this.#snapIndex) return this.#snapTerm;
    if (i < this.#snapIndex || i > this.lastIndex) return undefined;
    return this.#entries[i - this.#snapIndex - 1].term;
  }

  entry(i: number): LogEntry | undefined {
    if (i <= this.#snapIndex || i > this.lastIndex) return undefined;
    return this.#entries[i - this.#snapIndex - 1];
  }

  /** Entries [lo, hi), at most maxEntries and about maxBytes (always at least one when any). */
  slice(lo: number, hi: number, maxEntries = Infinity, maxBytes = Infinity): LogEntry[] {
    lo = Math.max(lo, this.firstIndex);
    hi = Math.min(hi, this.lastIndex + 1);
    if (hi <= lo) return [];
    const base = this.#snapIndex + 1;
    if (maxBytes === Infinity) return this.#entries.slice(lo - base, Math.min(hi, lo + maxEntries) - base);
    const out: LogEntry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi && out.length < maxEntries; i++) {
      const e = this.#entries[i - base];
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }

  /** The last index <= index whose term is <= term (not below the snapshot point), with its term. */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex);
    while (i > this.#snapIndex && (this.term(i) ?? 0) > term) i--;
    if (i < this.#snapIndex) i = this.#snapIndex;
    return { index: i, term: this.term(i) ?? 0 };
  }

  // ---- configs ----

  #noteConfig(e: LogEntry): void {
    if (e.type === 'config') this.#configs.push({ index: e.index, config: e.data as ClusterConfig });
  }

  /** The latest config in the log, committed or not (undefined for a joiner). */
  latestConfig(): ConfigAt | undefined {
    return this.#configs.length ? this.#configs[this.#configs.length - 1] : this.#baseConfig;
  }

  /** The config in effect at index i (i >= the snapshot point). */
  configAt(i: number): ConfigAt | undefined {
    for (let k = this.#configs.length - 1; k >= 0; k--) if (this.#configs[k].index <= i) return this.#configs[k];
    return this.#baseConfig;
  }

  // ---- changes ----

  /** Leader: append at the end. */
  append(e: LogEntry): void {
    if (e.index !== this.lastIndex + 1) throw new RangeError(`append at ${e.index}, expected ${this.lastIndex + 1}`);
    this.#entries.push(e);
    this.#noteConfig(e);
  }

  /**
   * Follower: the leader's entries after (prevIndex, prevTerm). Returns the last index known to
   * match, undefined when (prevIndex, prevTerm) does not match, 'bad' when the message would
   * overwrite an entry at or below `commit` (never done: a leader never asks for it).
   */
  maybeAppend(prevIndex: number, prevTerm: number, entries: LogEntry[], commit: number): number | undefined | 'bad' {
    if (this.term(prevIndex) !== prevTerm) return undefined;
    let k = 0;
    for (; k < entries.length; k++) {
      const e = entries[k];
      if (e.index > this.lastIndex) break;
      if (this.term(e.index) !== e.term) {
        if (e.index <= commit) return 'bad';
        this.truncate(e.index);
        break;
      }
    }
    for (; k < entries.length; k++) this.append(entries[k]);
    return prevIndex + entries.length;
  }

  /** Drop entries with index >= k (k > snapIndex). */
  truncate(k: number): void {
    if (k > this.lastIndex) return;
    if (k <= this.#snapIndex) throw new RangeError(`truncate at ${k} at or below the snapshot point ${this.#snapIndex}`);
    this.#entries.length = k - this.#snapIndex - 1;
    while (this.#configs.length && this.#configs[this.#configs.length - 1].index >= k) this.#configs.pop();
    if (k < this.#unstable) {
      this.#truncateFrom = Math.min(this.#truncateFrom ?? Infinity, k);
      this.#unstable = k;
    }
    this.#stable = Math.min(this.#stable, k - 1);
    this.#inflightCap = Math.min(this.#inflightCap, k - 1);
  }

  /** Replace the whole log by a snapshot point (a follower installing a snapshot). */
  restore(index: number, term: number, config: ClusterConfig): void {
    this.#entries = [];
    this.#configs = [];
    this.#snapIndex = index;
    this.#snapTerm = term;
    this.#baseConfig = { index, config };
    this.#truncateFrom = index + 1;
    this.#unstable = index + 1;
    this.#stable = index;
    this.#inflightCap = Math.min(this.#inflightCap, index);
  }

  /** Forget entries up to index (already in a snapshot on disk). */
  compact(index: number): void {
    if (index <= this.#snapIndex) return;
    if (index > this.#stable) throw new RangeError(`compact(${index}) beyond the persisted index ${this.#stable}`);
    const base = this.configAt(index);
    this.#snapTerm = this.term(index) as number;
    this.#entries = this.#entries.slice(index - this.#snapIndex);
    this.#snapIndex = index;
    this.#configs = this.#configs.filter((c) => c.index > index);
    this.#baseConfig = base;
  }

  // ---- Ready bookkeeping ----

  /** Hand out what must be written: a truncation point and the entries not handed out yet. */
  takeUnstable(): { truncateFrom: number | undefined; entries: LogEntry[] } {
    const entries = this.slice(this.#unstable, this.lastIndex + 1);
    let truncateFrom = this.#truncateFrom;
    if (truncateFrom !== undefined && entries.length) truncateFrom = Math.min(truncateFrom, entries[0].index);
    this.#truncateFrom = undefined;
    this.#inflightLast = entries.length ? entries[entries.length - 1].index : undefined;
    this.#inflightCap = Infinity;
    this.#unstable = this.lastIndex + 1;
    return { truncateFrom, entries };
  }

  /** The outstanding Ready was persisted. */
  persisted(): void {
    if (this.#inflightLast !== undefined) this.#stable = Math.max(this.#stable, Math.min(this.#inflightLast, this.#inflightCap));
    this.#inflightLast = undefined;
    this.#inflightCap = Infinity;
  }

  /**
   * Persisting the outstanding Ready failed: forget every entry that is not known to be on
   * disk (the next Ready truncates whatever part of them may have been written). Returns them.
   */
  persistFailed(wroteLog: boolean): LogEntry[] {
    this.#inflightLast = undefined;
    this.#inflightCap = Infinity;
    if (!wroteLog && this.#unstable === this.#stable + 1) return [];
    const dropped = this.#entries.slice(this.#stable - this.#snapIndex);
    this.#entries.length = this.#stable - this.#snapIndex;
    while (this.#configs.length && this.#configs[this.#configs.length - 1].index > this.#stable) this.#configs.pop();
    this.#truncateFrom = Math.min(this.#truncateFrom ?? Infinity, this.#stable + 1);
    this.#unstable = this.#stable + 1;
    return dropped;
  }
}
