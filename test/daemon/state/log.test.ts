import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskLog, realLogFiles, type LogFile, type LogFiles } from '../../../daemon/src/state/log.js';
import { encodeEntries, parseLog, type Entry } from '../../../daemon/src/state/log-format.js';
import { FakeClock } from '../../../daemon/src/lib/clock.js';
import { createLogger, silentLogger } from '../../../daemon/src/lib/logger.js';

function tmp(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const entry = (index: number, term = 1, name = `cm${index}`): Entry => ({
  index, term, time: 1_700_000_000_000 + index, ops: [{ op: 'put', obj: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { k: 'v'.repeat(40) } } }],
});

const enospc = (): Error => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

/** Faults injected into the next operations of the log's file handle. */
interface Faults {
  /** The next write writes at most this many bytes (really), then every later write throws ENOSPC until cleared. */
  shortThenFull?: number;
  /** Every write writes at most this many bytes (a slow but working disk). */
  chunk?: number;
  failDatasync?: boolean;
  failTruncate?: boolean;
}

function faultyFiles(faults: Faults): LogFiles {
  return {
    async open(path) {
      const real = await realLogFiles.open(path);
      let shortUsed = false;
      const f: LogFile = {
        async write(buf, offset, length) {
          if (faults.shortThenFull !== undefined) {
            if (shortUsed) throw enospc();
            shortUsed = true;
            const n = Math.min(length, faults.shortThenFull);
            if (n === 0) throw enospc();
            return real.write(buf, offset, n);
          }
          return real.write(buf, offset, faults.chunk ? Math.min(length, faults.chunk) : length);
        },
        async datasync() {
          if (faults.failDatasync) throw enospc();
          return real.datasync();
        },
        async truncate(size) {
          if (faults.failTruncate) throw Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' });
          return real.truncate(size);
        },
        size: () => real.size(),
        readAll: () => real.readAll(),
        close: () => real.close(),
      };
      return f;
    },
  };
}

async function openLog(dir: string, faults: Faults = {}, logger = silentLogger()): Promise<Awaited<ReturnType<typeof DiskLog.open>>> {
  return DiskLog.open(dir, { logger, clock: new FakeClock(Date.UTC(2026, 11, 3, 14, 15)), files: faultyFiles(faults) });
}

async function seed(dir: string, n: number): Promise<void> {
  const { log } = await openLog(dir);
  for (let i = 1; i <= n; i++) await log.append([entry(i)]);
  await log.close();
}

function indexes(entries: Entry[]): number[] {
  return entries.map((e) => e.index);
}

t.test('for every byte offset of an appended entry, a short write then ENOSPC leaves a log that reopens with exactly the acknowledged entries', async (t) => {
  const length = encodeEntries([entry(4)]).length;
  let refusedWithDiskFull = 0;
  for (let k = 0; k <= length; k++) {
    const dir = mkdtempSync(join(tmpdir(), 'pifleet-log-'));
    try {
      await seed(dir, 3);
      const faults: Faults = { shortThenFull: k };
      const { log } = await openLog(dir, faults);
      const err = await log.append([entry(4)]).then(() => undefined, (e: Error) => e);
      if (k < length) {
        if (err && /disk is full/.test(err.message)) refusedWithDiskFull++;
        t.equal(log.lastIndex, 3, `offset ${k}: nothing acknowledged`);
        t.equal(log.readOnly, undefined, `offset ${k}: the file was cut back, writes go on`);
      }
      // space is freed: the same write now succeeds and lands right after the acknowledged ones
      delete faults.shortThenFull;
      if (k < length) await log.append([entry(4)]);
      await log.append([entry(5)]);
      await log.close();
      const raw = readFileSync(join(dir, 'log.jsonl'));
      const parsed = parseLog(raw);
      t.equal(parsed.damage, undefined, `offset ${k}: no damage on disk`);
      t.same(indexes(parsed.entries), [1, 2, 3, 4, 5], `offset ${k}: exactly the acknowledged entries`);
      const reopened = await openLog(dir);
      t.same(indexes(reopened.entries), [1, 2, 3, 4, 5]);
      await reopened.log.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  t.equal(refusedWithDiskFull, length, 'every refused append said the disk is full');
});

t.test('for every byte offset, a failed write whose file cannot be cut back turns the log read-only and the next start keeps exactly the acknowledged entries', async (t) => {
  const length = encodeEntries([entry(3)]).length;
  for (let k = 1; k < length; k++) {
    const dir = mkdtempSync(join(tmpdir(), 'pifleet-log-'));
    try {
      await seed(dir, 2);
      const { log } = await openLog(dir, { shortThenFull: k, failTruncate: true });
      await t.rejects(log.append([entry(3)]), { name: 'StoreIOError' });
      t.match(log.readOnly, /could not be cut back/, `offset ${k}: read-only with the reason`);
      await t.rejects(log.append([entry(3)]), { name: 'StoreReadOnlyError' }, 'no append behind an unknown tail');
      await log.close();
      const reopened = await openLog(dir);
      t.same(indexes(reopened.entries), [1, 2], `offset ${k}: the partial entry is a torn tail, cut on start`);
      t.ok(readdirSync(dir).some((f) => f.startsWith('log.jsonl.torn-')), 'the original is kept aside');
      await reopened.log.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

t.test('a disk that writes a few bytes at a time still gets whole entries', async (t) => {
  const dir = tmp(t);
  const { log } = await openLog(dir, { chunk: 7 });
  await log.append([entry(1), entry(2)]);
  await log.append([entry(3)]);
  await log.close();
  const r = await openLog(dir);
  t.same(indexes(r.entries), [1, 2, 3]);
  t.same(r.entries[1], entry(2));
  await r.log.close();
});

t.test('a failed fdatasync is not acknowledged and the entry is cut back off', async (t) => {
  const dir = tmp(t);
  await seed(dir, 2);
  const faults: Faults = { failDatasync: true };
  const { log } = await openLog(dir, faults);
  await t.rejects(log.append([entry(3)]), /disk is full/);
  faults.failDatasync = false;
  await log.close();
  const r = await openLog(dir);
  t.same(indexes(r.entries), [1, 2]);
  await r.log.close();
});

t.test('a torn last line is cut off with a warning and the original is copied aside', async (t) => {
  const dir = tmp(t);
  await seed(dir, 3);
  const path = join(dir, 'log.jsonl');
  const full = readFileSync(path);
  const torn = full.subarray(0, full.length - 20);
  writeFileSync(path, torn);
  const lines: string[] = [];
  const logger = createLogger({ level: 'warn', destination: { write: (s: string) => { lines.push(s); } } as never });
  const r = await openLog(dir, {}, logger);
  t.same(indexes(r.entries), [1, 2]);
  await r.log.close();
  const copy = readdirSync(dir).find((f) => f.startsWith('log.jsonl.torn-'));
  t.equal(copy, 'log.jsonl.torn-20261203T141500Z');
  t.same(readFileSync(join(dir, copy as string)), torn, 'the copy is the file as it was found');
  t.match(lines.join(''), /torn last write/);
  t.equal(parseLog(readFileSync(path)).damage, undefined);
});

t.test('a checksum error in the last complete line is a torn tail too (nothing valid after it)', async (t) => {
  const dir = tmp(t);
  await seed(dir, 3);
  const path = join(dir, 'log.jsonl');
  const lines = readFileSync(path, 'utf8').split('\n');
  lines[2] = (lines[2] as string).replace('cm3', 'cmX');
  writeFileSync(path, lines.join('\n'));
  const r = await openLog(dir);
  t.same(indexes(r.entries), [1, 2]);
  await r.log.close();
});

t.test('damage followed by valid entries, an index gap, a repeated entry or a falling term is corruption: refused with the offset', async (t) => {
  const cases: Array<[string, (lines: string[]) => string[]]> = [
    ['garbage in the middle', (l) => [l[0] as string, 'garbage garbage garbage', ...l.slice(1)]],
    ['a flipped byte in the middle', (l) => [l[0] as string, (l[1] as string).replace('cm2', 'cmZ'), ...l.slice(2)]],
    ['a missing entry', (l) => [l[0] as string, ...l.slice(2)]],
    ['a repeated entry', (l) => [l[0] as string, l[1] as string, l[1] as string, ...l.slice(2)]],
  ];
  for (const [what, damage] of cases) {
    const dir = mkdtempSync(join(tmpdir(), 'pifleet-log-'));
    try {
      await seed(dir, 4);
      const path = join(dir, 'log.jsonl');
      const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
      const damaged = `${damage(lines).join('\n')}\n`;
      writeFileSync(path, damaged);
      const offset = (lines[0] as string).length + 1 + (what === 'a repeated entry' ? (lines[1] as string).length + 1 : 0);
      await t.rejects(openLog(dir), { name: 'StoreCorruptError', offset }, what);
      t.equal(readFileSync(path, 'utf8'), damaged, `${what}: the file is untouched`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const dir = tmp(t);
  const { log } = await openLog(dir);
  await log.append([entry(1, 3), entry(2, 3)]);
  await log.close();
  const path = join(dir, 'log.jsonl');
  writeFileSync(path, Buffer.concat([readFileSync(path), encodeEntries([entry(3, 2)])]));
  await t.rejects(openLog(dir), { name: 'StoreCorruptError', message: /term 2, lower than the term 3/ });
});

t.test('truncateFrom drops a suffix durably and appends continue after it', async (t) => {
  const dir = tmp(t);
  const { log } = await openLog(dir);
  await log.append([entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2)]);
  await log.truncateFrom(3, 1);
  t.equal(log.lastIndex, 2);
  t.equal(log.lastTerm, 1);
  await log.append([entry(3, 3, 'other')]);
  await log.close();
  const r = await openLog(dir);
  t.same(r.entries.map((e) => [e.index, e.term]), [[1, 1], [2, 1], [3, 3]]);
  await r.log.close();
});

t.test('a snapshot compacts the log to the entries after it, and an installed snapshot replaces everything', async (t) => {
  const dir = tmp(t);
  const { log } = await openLog(dir);
  for (let i = 1; i <= 6; i++) await log.append([entry(i)]);
  await log.writeSnapshot({ index: 4, term: 1, objects: [{ kind: 'ConfigMap' }] });
  t.equal(log.entriesSinceSnapshot, 2);
  await log.append([entry(7)]);
  await log.close();
  let r = await openLog(dir);
  t.equal(r.snapshot?.index, 4);
  t.same(indexes(r.entries), [5, 6, 7]);
  await r.log.installSnapshot({ index: 20, term: 4, objects: [] });
  t.equal(r.log.lastIndex, 20);
  await r.log.append([entry(21, 4)]);
  await r.log.close();
  r = await openLog(dir);
  t.equal(r.snapshot?.index, 20);
  t.same(indexes(r.entries), [21]);
  await r.log.close();
});

t.test('entries a snapshot already covers (a crash before compaction) are skipped, not treated as damage', async (t) => {
  const dir = tmp(t);
  await seed(dir, 5);
  const { log } = await openLog(dir);
  const before = readFileSync(join(dir, 'log.jsonl'));
  await log.writeSnapshot({ index: 3, term: 1, objects: [] });
  await log.close();
  writeFileSync(join(dir, 'log.jsonl'), before); // as if the compaction never happened
  const r = await openLog(dir);
  t.same(indexes(r.entries), [4, 5]);
  await r.log.close();
});
