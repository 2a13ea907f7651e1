/**
 * The on-disk form of the desired-state log and how damage in it is told apart.
 *
 *   log.jsonl     one entry per line: "<crc32 hex> <json>\n", json = {index, term, time, type?, ops?, data?}
 *   snapshot.json "pifleet-snapshot 1 <crc32> <length>\n" + JSON {index, term, objects, config?, meta?}
 *
 * A **torn tail** is damage confined to the end of the file with nothing valid after it: what a
 * power cut during the last (unacknowledged) append leaves. It may be cut off. Anything else is
 * **corruption** (a bad entry followed by valid ones, an index gap, an entry repeated): cutting
 * there would throw away acknowledged entries, so the loader refuses and names the byte offset.
 * Pure functions: no I/O here.
 */
import { crc32 } from 'node:zlib';

export type Op =
  | { op: 'put'; obj: Record<string, unknown> }
  | { op: 'del'; key: string }
  /** Store-level facts that travel with the log (the lineage, a prune request after a repair). */
  | { op: 'meta'; key: string; value: unknown };

/** What an entry is: store operations (the default), a leader's no-op, or a membership change. */
export type EntryType = 'ops' | 'noop' | 'config';

export interface Entry {
  index: number;
  term: number;
  time: number;
  type?: EntryType;
  ops?: Op[];
  /** For config entries: the member list. */
  data?: unknown;
}

export interface Snapshot {
  index: number;
  term: number;
  objects: Record<string, unknown>[];
  /** The membership as of index (the fleet's configuration). */
  config?: unknown;
  /** Store-level facts (lineage, ...) as of index. */
  meta?: Record<string, unknown>;
}

export function crcHex(s: string): string {
  return crc32(Buffer.from(s, 'utf8')).toString(16).padStart(8, '0');
}

export function encodeEntries(entries: Entry[]): Buffer {
  return Buffer.from(entries.map((e) => {
    const json = JSON.stringify(e);
    return `${crcHex(json)} ${json}\n`;
  }).join(''), 'utf8');
}

export function encodeSnapshot(snap: Snapshot): string {
  const json = JSON.stringify(snap);
  return `pifleet-snapshot 1 ${crcHex(json)} ${Buffer.byteLength(json)}\n${json}`;
}

/** The snapshot in text, or a reason why it is not one. */
export function decodeSnapshot(raw: string): Snapshot | { error: string } {
  const nl = raw.indexOf('\n');
  const m = /^pifleet-snapshot 1 ([0-9a-f]{8}) (\d+)$/.exec(raw.slice(0, nl < 0 ? raw.length : nl));
  const json = nl < 0 ? '' : raw.slice(nl + 1);
  if (!m) return { error: 'no snapshot header' };
  if (Buffer.byteLength(json) !== Number(m[2])) return { error: `length ${Buffer.byteLength(json)} instead of ${m[2]}` };
  if (crcHex(json) !== m[1]) return { error: 'checksum mismatch' };
  try {
    const snap = JSON.parse(json) as Snapshot;
    if (!Number.isInteger(snap.index) || !Number.isInteger(snap.term) || !Array.isArray(snap.objects)) return { error: 'not a snapshot object' };
    return snap;
  } catch {
    return { error: 'unparseable JSON' };
  }
}

type LineVerdict = { entry: Entry } | { bad: string };

function readLine(line: string, offset: number): LineVerdict {
  const sp = line.indexOf(' ');
  const json = line.slice(sp + 1);
  if (sp !== 8 || crcHex(json) !== line.slice(0, 8)) return { bad: `a checksum mismatch at byte ${offset}` };
  let e: Entry;
  try {
    e = JSON.parse(json) as Entry;
  } catch {
    return { bad: `unparseable JSON at byte ${offset}` };
  }
  if (!e || typeof e !== 'object' || !Number.isInteger(e.index) || e.index < 1 || !Number.isInteger(e.term) || e.term < 0) {
    return { bad: `an entry without a valid index and term at byte ${offset}` };
  }
  return { entry: e };
}

export interface Damage {
  kind: 'torn' | 'corrupt';
  /** Byte offset of the first byte not kept. */
  offset: number;
  reason: string;
  /** Entries with valid checksums found after the damage (corruption only): these would be lost by a cut. */
  after: Entry[];
}

export interface ParsedLog {
  /** Entries to use, in index order (those covered by the snapshot are left out). */
  entries: Entry[];
  /** Byte offset of each kept entry, parallel to entries. */
  offsets: number[];
  /** Bytes of the file that are good (the cut point when the tail is torn). */
  goodBytes: number;
  damage?: Damage;
}

/**
 * Parse the log file's bytes. `snapshotIndex` is the index the snapshot covers (0 without one):
 * entries up to it may still be in the file (a crash between writing a snapshot and compacting
 * the log) and are skipped.
 */
export function parseLog(raw: Buffer, snapshotIndex = 0): ParsedLog {
  const entries: Entry[] = [];
  const offsets: number[] = [];
  let offset = 0;
  let prev: Entry | undefined;
  let bad: { offset: number; reason: string; gap: boolean } | undefined;
  while (offset < raw.length) {
    const nl = raw.indexOf(0x0a, offset);
    if (nl < 0) { bad = { offset, reason: `an unterminated last line at byte ${offset}`, gap: false }; break; }
    const v = readLine(raw.subarray(offset, nl).toString('utf8'), offset);
    if ('bad' in v) { bad = { offset, reason: v.bad, gap: false }; break; }
    const e = v.entry;
    const want = prev ? prev.index + 1 : undefined;
    if (want !== undefined && e.index !== want) {
      bad = { offset, reason: `a gap in the log at byte ${offset} (entry ${e.index}, expected ${want})`, gap: true };
      break;
    }
    if (want === undefined && e.index > snapshotIndex + 1) {
      bad = { offset, reason: `the log starts at entry ${e.index} but the snapshot ends at ${snapshotIndex} (entries missing)`, gap: true };
      break;
    }
    if (prev && e.term < prev.term) {
      bad = { offset, reason: `entry ${e.index} at byte ${offset} has term ${e.term}, lower than the term ${prev.term} before it`, gap: true };
      break;
    }
    // entries up to the snapshot index are covered by it (a crash between snapshot and compaction)
    if (e.index > snapshotIndex) {
      entries.push(e);
      offsets.push(offset);
    }
    prev = e;
    offset = nl + 1;
  }
  if (!bad) return { entries, offsets, goodBytes: raw.length };
  // What follows the first bad line decides between a torn tail and corruption.
  const after: Entry[] = [];
  if (bad.gap) {
    let o = bad.offset;
    while (o < raw.length) {
      const nl = raw.indexOf(0x0a, o);
      if (nl < 0) break;
      const v = readLine(raw.subarray(o, nl).toString('utf8'), o);
      if ('entry' in v) after.push(v.entry);
      o = nl + 1;
    }
  } else {
    let o = raw.indexOf(0x0a, bad.offset);
    while (o >= 0 && o + 1 < raw.length) {
      const start = o + 1;
      const nl = raw.indexOf(0x0a, start);
      if (nl < 0) break; // an unterminated fragment after the damage is not a valid entry
      const v = readLine(raw.subarray(start, nl).toString('utf8'), start);
      if ('entry' in v) after.push(v.entry);
      o = nl;
    }
  }
  const kind = bad.gap || after.length > 0 ? 'corrupt' : 'torn';
  return { entries, offsets, goodBytes: bad.offset, damage: { kind, offset: bad.offset, reason: bad.reason, after } };
}

/** Keys of the objects an entry's operations touch ("Kind/ns/name"). */
export function keysOf(e: Entry): string[] {
  const out: string[] = [];
  for (const op of e.ops ?? []) {
    if (op.op === 'del') out.push(op.key);
    else if (op.op === 'put') {
      const o = op.obj as { kind?: string; metadata?: { namespace?: string; name?: string } };
      out.push([o.kind, o.metadata?.namespace, o.metadata?.name].filter((x) => x !== undefined && x !== '').join('/'));
    }
  }
  return out;
}
