import t from 'tap';
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SoloLeadership, readTermFile } from '../../../daemon/src/cluster/leadership.js';

t.test('a one-member fleet elects itself with a term that grows on every start and is persisted first', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-term-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const a = new SoloLeadership({ dir, node: 'n1' });
  const events: string[] = [];
  a.on('elected', (term: number) => events.push(`elected ${term}`));
  a.on('deposed', (term: number) => events.push(`deposed ${term}`));
  await a.start();
  t.equal(a.term, 1);
  t.ok(a.isLeader);
  t.equal(a.leader, 'n1');
  t.same(a.members, ['n1']);
  t.same(JSON.parse(readFileSync(join(dir, 'term.json'), 'utf8')), { term: 1, votedFor: 'n1' });
  await a.stop();
  t.notOk(a.isLeader);
  const b = new SoloLeadership({ dir, node: 'n1' });
  await b.start();
  t.equal(b.term, 2, 'a restart starts a new, higher term');
  const c = new SoloLeadership({ dir, node: 'n1', minTerm: 10 });
  await c.start();
  t.equal(c.term, 11, 'never below a term already seen in the store');
  t.same(events, ['elected 1', 'deposed 1']);
});

t.test('a damaged term file counts as term 0 instead of stopping the daemon', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-term-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'term.json'), '{not json');
  t.same(await readTermFile(dir), { term: 0 });
  writeFileSync(join(dir, 'term.json'), '{"term":-5}');
  t.same(await readTermFile(dir), { term: 0 });
});
