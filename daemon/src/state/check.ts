/**
 * `pifleet state check` and `pifleet state repair`: a read-only verdict on a state directory's
 * desired-state store, and the way out of a damaged log for one board.
 *
 * Repair keeps a copy of the damaged file (log.jsonl.corrupt-<time>), keeps the good prefix,
 * and appends one entry that gives the store a new lineage: containers made from the lost part
 * of the history then belong to another lineage, so the agents keep them running as orphans
 * (listed, never removed on a guess) until `--prune` or the user deletes them. In a fleet the
 * way out is a fresh copy from the leader instead (docs/fleet.md).
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Random } from '../lib/random.js';
import { decodeSnapshot, keysOf, parseLog, type Entry, type Snapshot } from './log-format.js';
import { DiskLog, LOG_FILE, SNAPSHOT_FILE, fileStamp } from './log.js';

export type Verdict = 'ok' | 'empty' | 'torn' | 'corrupt' | 'snapshot-corrupt';

export interface StoreReport {
  dir: string;
  verdict: Verdict;
  snapshot?: { index: number; term: number; objects: number } | { error: string };
  log: { bytes: number; entries: number; first?: number; last?: number };
  lineage?: string;
  damage?: {
    offset: number;
    reason: string;
    /** Bytes from the damage to the end of the file. */
    bytesAfter: number;
    /** Entries with valid checksums after the damage (lost by a repair). */
    validAfter: number;
    afterFirst?: number;
    afterLast?: number;
    /** Objects changed by those entries: gone, or back to an older revision. */
    lost: Array<{ key: string; now: 'gone' | `revision ${number}` }>;
  };
}

async function readMaybe(path: string): Promise<Buffer | undefined> {
  try {
    return await fsp.readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** What the store in `dir` (<stateDir>/store) holds and whether the daemon can start on it. Reads only. */
export async function checkStore(dir: string): Promise<StoreReport> {
  const snapRaw = await readMaybe(join(dir, SNAPSHOT_FILE));
  let snap: Snapshot | undefined;
  let snapshot: StoreReport['snapshot'];
  if (snapRaw) {
    const d = decodeSnapshot(snapRaw.toString('utf8'));
    if ('error' in d) snapshot = { error: d.error };
    else { snap = d; snapshot = { index: d.index, term: d.term, objects: d.objects.length }; }
  }
  const raw = (await readMaybe(join(dir, LOG_FILE))) ?? Buffer.alloc(0);
  const parsed = parseLog(raw, snap?.index ?? 0);
  const entries = parsed.entries;
  const report: StoreReport = {
    dir,
    verdict: 'ok',
    ...(snapshot ? { snapshot } : {}),
    log: { bytes: raw.length, entries: entries.length, ...(entries.length ? { first: entries[0]!.index, last: entries[entries.length - 1]!.index } : {}) },
  };
  if (snapshot && 'error' in snapshot) { report.verdict = 'snapshot-corrupt'; return report; }
  if (!snap && raw.length === 0) report.verdict = 'empty';
  // the state as the kept prefix leaves it: which objects exist, at which revision, and the lineage
  const revisions = new Map<string, number>();
  let lineage: string | undefined = typeof snap?.meta?.lineage === 'string' ? snap.meta.lineage : undefined;
  for (const o of snap?.objects ?? []) {
    const k = keysOf({ index: 0, term: 0, time: 0, ops: [{ op: 'put', obj: o }] })[0];
    if (k) revisions.set(k, Number((o as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion ?? snap!.index));
  }
  for (const e of entries) lineage = applyForReport(e, revisions) ?? lineage;
  if (lineage) report.lineage = lineage;
  const dmg = parsed.damage;
  if (!dmg) return report;
  report.verdict = dmg.kind;
  const lostKeys = new Set<string>();
  for (const e of dmg.after) for (const k of keysOf(e)) lostKeys.add(k);
  report.damage = {
    offset: dmg.offset,
    reason: dmg.reason,
    bytesAfter: raw.length - dmg.offset,
    validAfter: dmg.after.length,
    ...(dmg.after.length ? { afterFirst: dmg.after[0]!.index, afterLast: dmg.after[dmg.after.length - 1]!.index } : {}),
    lost: [...lostKeys].sort().map((key) => ({ key, now: revisions.has(key) ? `revision ${revisions.get(key) as number}` as const : 'gone' as const })),
  };
  return report;
}

function applyForReport(e: Entry, revisions: Map<string, number>): string | undefined {
  let lineage: string | undefined;
  for (const op of e.ops ?? []) {
    if (op.op === 'put') {
      const k = keysOf({ ...e, ops: [op] })[0];
      if (k) revisions.set(k, e.index);
    } else if (op.op === 'del') revisions.delete(op.key);
    else if (op.op === 'meta' && op.key === 'lineage' && typeof op.value === 'string') lineage = op.value;
  }
  return lineage;
}

export interface RepairOptions {
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Also remove containers of other lineages (orphans) once the daemon runs again. */
  prune?: boolean;
}

export interface RepairResult {
  before: StoreReport;
  /** The copy of the damaged log, when one was made. */
  copy?: string;
  keptEntries: number;
  droppedBytes: number;
  lineage: string;
  prune: boolean;
}

/**
 * Make the store loadable again: keep a copy, keep the good prefix, start a new lineage (and
 * ask for pruning when `prune`). A damaged snapshot is not repaired here (it names the file).
 */
export async function repairStore(dir: string, opts: RepairOptions): Promise<RepairResult> {
  const before = await checkStore(dir);
  if (before.verdict === 'snapshot-corrupt') {
    const err = before.snapshot && 'error' in before.snapshot ? before.snapshot.error : 'damaged';
    throw new Error(`the snapshot ${join(dir, SNAPSHOT_FILE)} is corrupt (${err}): it cannot be repaired from the log; restore it from a backup or another member, or move the store away to start empty`);
  }
  let copy: string | undefined;
  let droppedBytes = 0;
  if (before.damage) {
    const path = join(dir, LOG_FILE);
    const raw = await fsp.readFile(path);
    copy = `${path}.${before.verdict === 'torn' ? 'torn' : 'corrupt'}-${fileStamp(opts.clock.now())}`;
    await fsp.writeFile(copy, raw, { mode: 0o600, flag: 'wx' });
    await fsp.truncate(path, before.damage.offset);
    droppedBytes = raw.length - before.damage.offset;
  }
  const { log, entries } = await DiskLog.open(dir, { logger: opts.logger, clock: opts.clock });
  const lineage = opts.random.uuid();
  const prune = Boolean(opts.prune);
  try {
    await log.append([{
      index: log.lastIndex + 1,
      term: Math.max(1, log.lastTerm),
      time: opts.clock.now(),
      ops: [
        { op: 'meta', key: 'lineage', value: lineage },
        { op: 'meta', key: 'prune', value: prune },
        { op: 'meta', key: 'repair', value: { at: new Date(opts.clock.now()).toISOString(), keptIndex: log.lastIndex, droppedBytes, lost: before.damage?.lost.map((l) => l.key) ?? [] } },
      ],
    }]);
  } finally {
    await log.close();
  }
  return { before, ...(copy ? { copy } : {}), keptEntries: entries.length, droppedBytes, lineage, prune };
}

/** The report as a person reads it. */
export function formatReport(r: StoreReport): string {
  const lines: string[] = [`store: ${r.dir}`];
  if (r.snapshot) lines.push('error' in r.snapshot ? `snapshot: CORRUPT (${r.snapshot.error})` : `snapshot: revision ${r.snapshot.index}, ${r.snapshot.objects} objects`);
  else lines.push('snapshot: none');
  lines.push(r.log.entries ? `log: entries ${r.log.first}..${r.log.last} (${r.log.entries}), ${r.log.bytes} bytes` : `log: no entries, ${r.log.bytes} bytes`);
  if (r.lineage) lines.push(`lineage: ${r.lineage}`);
  switch (r.verdict) {
    case 'ok': lines.push('verdict: ok'); break;
    case 'empty': lines.push('verdict: ok (empty: a new fleet starts here)'); break;
    case 'snapshot-corrupt': lines.push('verdict: CORRUPT SNAPSHOT: the daemon does not start; restore snapshot.json from a backup or another member, or move the store away to start empty'); break;
    case 'torn': {
      const d = r.damage!;
      lines.push(`verdict: torn last write at byte ${d.offset} (${d.reason}; ${d.bytesAfter} bytes): the daemon cuts it off by itself on start and keeps a copy`);
      break;
    }
    case 'corrupt': {
      const d = r.damage!;
      lines.push(`verdict: CORRUPT at byte ${d.offset} (${d.reason}): ${d.validAfter} valid entr${d.validAfter === 1 ? 'y' : 'ies'}${d.afterFirst !== undefined ? ` (${d.afterFirst}..${d.afterLast})` : ''} follow the damage`);
      lines.push('  the daemon does not start on this store. `pifleet state repair` keeps a copy of the log and the entries before the damage;');
      lines.push(`  it loses ${d.bytesAfter} bytes from byte ${d.offset} on${d.lost.length ? ', which changed:' : ' (no readable object changes in them)'}`);
      for (const l of d.lost) lines.push(`    ${l.key}: ${l.now === 'gone' ? 'gone' : `back to ${l.now}`}`);
      lines.push('  Containers made from the lost part keep running as orphans (pifleet get pods shows them) until you delete them or repair with --prune.');
      lines.push('  In a fleet, prefer a fresh copy from the leader: stop this daemon, move its store directory away, start it again.');
      break;
    }
  }
  return lines.join('\n');
}
