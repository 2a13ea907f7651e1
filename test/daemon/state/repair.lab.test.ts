/**
 * A damaged desired-state log with the real daemon and Docker: corruption stops the daemon
 * without touching the running containers, `pifleet state repair` brings it back without
 * deleting any running container (those of the lost part stay as orphans until deleted), and
 * a torn last line still recovers by itself.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestDaemon, apiClient, waitFor, podReady, containerIds, docker, runCli, type PodLike } from '../../harness/daemon.js';
import { ensureTestImages } from '../../harness/images.js';
import { sleeperPod } from '../../harness/manifests.js';

t.before(async () => {
  await ensureTestImages();
});

const sleeper = sleeperPod;

const cms = (from: number, to: number): string => Array.from({ length: to - from }, (_, i) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: cm-${from + i} }\ndata: { v: "${from + i}" }\n`).join('---\n');

async function running(cluster: string): Promise<string[]> {
  const r = await docker(['ps', '-q', '--no-trunc', '--filter', `label=pifleet.cluster=${cluster}`]);
  return r.stdout.trim().split('\n').filter(Boolean).sort();
}

t.test('garbage in the middle of the log stops the daemon, touches no container, and a repair brings it back with every container still running', async (t) => {
  const d = await startTestDaemon(t);
  const api = await apiClient(t, d);
  t.equal((await d.cli(['apply', '-f', '-'], { input: sleeper('early') })).code, 0);
  t.equal((await d.cli(['apply', '-f', '-'], { input: cms(0, 10) })).code, 0);
  t.equal((await d.cli(['apply', '-f', '-'], { input: sleeper('late') })).code, 0);
  t.equal((await d.cli(['apply', '-f', '-'], { input: cms(10, 15) })).code, 0);
  for (const name of ['early', 'late']) {
    await waitFor(`${name} ready`, async () => podReady(await api.request<PodLike>('get', { kind: 'pods', name })), { timeoutMs: 60_000 });
  }
  const before = await running(d.cluster);
  t.ok(before.length >= 2, `${before.length} containers run`);
  await api.close();
  t.equal(await d.stop(), 0);

  // garbage a few entries before the late pod's creation: the late pod and later objects are in the lost part
  const logPath = join(d.stateDir, 'store', 'log.jsonl');
  const lines = readFileSync(logPath, 'utf8').split('\n').filter(Boolean);
  const late = lines.findIndex((l) => l.includes('"kind":"Pod"') && l.includes('"name":"late"'));
  t.ok(late > 3, 'the late pod is in the log');
  const at = late - 2;
  const offset = lines.slice(0, at).reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
  const damaged = [...lines.slice(0, at), 'GARBAGE'.repeat(20), ...lines.slice(at)].join('\n') + '\n';
  writeFileSync(logPath, damaged);

  await t.rejects(d.start(), new RegExp(`log\\.jsonl is damaged at byte ${offset}`), 'the daemon refuses to start, naming the file and offset');
  t.same(await running(d.cluster), before, 'the running containers are untouched (same IDs)');
  t.equal(readFileSync(logPath, 'utf8'), damaged, 'nothing was cut');

  const check = await runCli(['state', 'check', '--state-dir', d.stateDir]);
  t.equal(check.code, 1, 'state check reports corruption');
  t.match(check.stdout, /verdict: CORRUPT at byte \d+/);
  t.match(check.stdout, /Pod\/default\/late: gone/);
  const repair = await runCli(['state', 'repair', '--state-dir', d.stateDir]);
  t.equal(repair.code, 0, repair.stderr);
  t.match(repair.stdout, /kept a copy of the damaged log: .*log\.jsonl\.corrupt-/);
  const copy = readdirSync(join(d.stateDir, 'store')).find((f) => f.startsWith('log.jsonl.corrupt-'));
  t.ok(copy && readFileSync(join(d.stateDir, 'store', copy), 'utf8') === damaged, 'the copy is the damaged file');

  await d.start();
  const api2 = await apiClient(t, d);
  // give the controllers and the agent time to act on the shortened state
  const orphan = await waitFor('the late pod listed as an orphan', async () => {
    const p = await api2.request<PodLike>('get', { kind: 'pods', name: 'late' });
    return p.metadata.annotations?.['pifleet.io/orphaned'] ? p : undefined;
  }, { timeoutMs: 30_000 });
  t.equal(orphan.metadata.annotations?.['pifleet.io/orphaned'], 'OtherLineage');
  const list = await d.cli(['get', 'pods']);
  t.match(list.stdout, /late\s+1\/1\s+Orphaned/, 'get pods shows it');
  await new Promise((r) => setTimeout(r, 3000));
  const after = await running(d.cluster);
  for (const id of before) t.ok(after.includes(id), `container ${id.slice(0, 12)} still runs`);
  const earlyNow = await api2.request<PodLike>('get', { kind: 'pods', name: 'early' });
  t.ok(containerIds(earlyNow).every((id) => before.includes(id)), 'the early pod kept its container');
  t.equal((await api2.request<{ items: unknown[] }>('get', { kind: 'configmaps' })).items.length < 15, true, 'the lost ConfigMaps are gone from the store');

  // deleting the orphan removes its containers, and only those
  const lateIds = containerIds(orphan);
  t.equal((await d.cli(['delete', 'pod', 'late'])).code, 0);
  await waitFor('the orphan removed', async () => {
    const now = await running(d.cluster);
    return lateIds.every((id) => !now.includes(id)) ? now : undefined;
  }, { timeoutMs: 30_000 });
  t.ok((await running(d.cluster)).some((id) => containerIds(earlyNow).includes(id)), 'the early pod still runs');
  await api2.close();

  // a torn last line (power loss during an append) recovers by itself, with a warning
  t.equal(await d.stop(), 0);
  appendFileSync(logPath, '0badc0de {"index":');
  await d.start();
  t.match(d.output.join('\n'), /torn last write/);
  t.ok(readdirSync(join(d.stateDir, 'store')).some((f) => f.startsWith('log.jsonl.torn-')));
  t.ok(existsSync(logPath));
  const final = await d.cli(['get', 'pod', 'early']);
  t.equal(final.code, 0, final.stderr);
});
