import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTermFile, writeTermFile } from '../../../daemon/src/cluster/hardstate.js';

t.test('the election state is written whole (0600) and read back; a missing file is term 0; a damaged one refuses', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-term-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.same(await readTermFile(dir), { term: 0 });
  await writeTermFile(dir, { term: 7, votedFor: 'n2', fleet: 'f-1' });
  t.same(await readTermFile(dir), { term: 7, votedFor: 'n2', fleet: 'f-1' });
  t.equal(statSync(join(dir, 'term.json')).mode & 0o777, 0o600);
  writeFileSync(join(dir, 'term.json'), '{"term": 3, "votedFor": 5}');
  t.same(await readTermFile(dir), { term: 3 }, 'fields of the wrong type are dropped');
  writeFileSync(join(dir, 'term.json'), '{"ter');
  await t.rejects(readTermFile(dir), /term\.json is damaged .*forgetting a vote|is damaged/);
});
