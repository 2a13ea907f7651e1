import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../../daemon/src/state/store.js';
import { createSecretBox } from '../../../daemon/src/state/secretbox.js';
import { checkStore, formatReport, repairStore } from '../../../daemon/src/state/check.js';
import { FakeClock } from '../../../daemon/src/lib/clock.js';
import { createSeededRandom } from '../../../daemon/src/lib/random.js';
import { silentLogger } from '../../../daemon/src/lib/logger.js';
import type { KObject } from '../../../daemon/src/api/types.js';

const TOKEN = 'test-token-0123456789abcdef';
const clock = new FakeClock(Date.UTC(2026, 11, 3, 9, 30));

function tmp(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-check-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const open = (dir: string): Promise<Store> => Store.open({ dir, clock, random: createSeededRandom(3), logger: silentLogger(), secretBox: createSecretBox(TOKEN) });
const cm = (name: string, v = '1'): KObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { v } });

/** A store with cm-0..cm-5, cm-1 changed again at the end. */
async function seeded(dir: string): Promise<string[]> {
  const s = await open(dir);
  for (let i = 0; i < 6; i++) await s.commit([{ type: 'create', obj: cm(`cm-${i}`) }]);
  await s.commit([{ type: 'update', obj: cm('cm-1', '2') }]);
  await s.close();
  return readFileSync(join(dir, 'log.jsonl'), 'utf8').split('\n').filter(Boolean);
}

t.test('check says ok for a healthy store and changes nothing', async (t) => {
  const dir = tmp(t);
  await seeded(dir);
  const before = readFileSync(join(dir, 'log.jsonl'));
  const r = await checkStore(dir);
  t.equal(r.verdict, 'ok');
  t.same(r.log, { bytes: before.length, entries: 7, first: 1, last: 7 });
  t.match(formatReport(r), /verdict: ok/);
  t.same(readFileSync(join(dir, 'log.jsonl')), before);
});

t.test('check tells a torn last write apart from corruption and lists what a repair would lose', async (t) => {
  const dir = tmp(t);
  const lines = await seeded(dir);
  writeFileSync(join(dir, 'log.jsonl'), `${lines.join('\n')}\n${(lines[6] as string).slice(0, 30)}`);
  t.equal((await checkStore(dir)).verdict, 'torn');
  const damaged = [lines[0], lines[1], 'xxxxxxxx garbage', ...lines.slice(3)].join('\n') + '\n';
  writeFileSync(join(dir, 'log.jsonl'), damaged);
  const r = await checkStore(dir);
  t.equal(r.verdict, 'corrupt');
  t.equal(r.damage?.offset, (lines[0] as string).length + (lines[1] as string).length + 2);
  t.equal(r.damage?.validAfter, 4);
  t.same(r.damage?.lost, [
    { key: 'ConfigMap/default/cm-1', now: 'revision 2' },
    { key: 'ConfigMap/default/cm-3', now: 'gone' },
    { key: 'ConfigMap/default/cm-4', now: 'gone' },
    { key: 'ConfigMap/default/cm-5', now: 'gone' },
  ]);
  const text = formatReport(r);
  t.match(text, /CORRUPT at byte \d+ .*4 valid entries \(4\.\.7\)/);
  t.match(text, /ConfigMap\/default\/cm-3: gone/);
  t.match(text, /ConfigMap\/default\/cm-1: back to revision 2/);
  t.equal(readFileSync(join(dir, 'log.jsonl'), 'utf8'), damaged, 'check only reads');
});

t.test('repair keeps a copy, keeps the good prefix, gives the store a new lineage and the store opens again', async (t) => {
  const dir = tmp(t);
  const lines = await seeded(dir);
  const damaged = [lines[0], lines[1], 'xxxxxxxx garbage', ...lines.slice(3)].join('\n') + '\n';
  writeFileSync(join(dir, 'log.jsonl'), damaged);
  await t.rejects(open(dir), { name: 'StoreCorruptError' });
  const r = await repairStore(dir, { clock, random: createSeededRandom(9), logger: silentLogger() });
  t.equal(r.keptEntries, 2);
  t.equal(r.copy, join(dir, 'log.jsonl.corrupt-20261203T093000Z'));
  t.equal(readFileSync(r.copy as string, 'utf8'), damaged, 'the copy is the damaged file as found');
  t.equal(r.prune, false);
  const s = await open(dir);
  t.same(s.list('ConfigMap').map((o) => o.metadata.name), ['cm-0', 'cm-1']);
  t.equal(s.lineage, r.lineage, 'the new lineage is in the store');
  t.equal(s.meta('prune'), false);
  t.equal(s.revision, 3, 'the repair entry follows the kept ones');
  await s.commit([{ type: 'create', obj: cm('after') }]);
  await s.close();
  t.equal((await checkStore(dir)).verdict, 'ok');
  t.ok(readdirSync(dir).includes('log.jsonl.corrupt-20261203T093000Z'));
});

t.test('repair --prune records the prune request; a damaged snapshot is refused with its name', async (t) => {
  const dir = tmp(t);
  await seeded(dir);
  const r = await repairStore(dir, { clock, random: createSeededRandom(2), logger: silentLogger(), prune: true });
  t.equal(r.copy, undefined, 'nothing damaged: no copy');
  const s = await open(dir);
  t.equal(s.meta('prune'), true);
  t.equal(s.list('ConfigMap').length, 6);
  await s.close();
  writeFileSync(join(dir, 'snapshot.json'), 'pifleet-snapshot 1 00000000 2\n{}');
  t.equal((await checkStore(dir)).verdict, 'snapshot-corrupt');
  await t.rejects(repairStore(dir, { clock, random: createSeededRandom(2), logger: silentLogger() }), /snapshot .*snapshot\.json is corrupt/);
});
