/**
 * The replication driver with real disks and stores, members linked by the in-memory
 * transport (the TCP peer channel has its own tests): writes are acknowledged once a majority
 * holds them, every member applies them, a new leader keeps them, a cut-off leader refuses.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskLog } from '../../../daemon/src/state/log.js';
import { Store } from '../../../daemon/src/state/store.js';
import { createSecretBox } from '../../../daemon/src/state/secretbox.js';
import { Replication, toDiskEntry } from '../../../daemon/src/cluster/replication.js';
import { RaftNode } from '../../../daemon/src/cluster/raft/node.js';
import { MemoryNetwork } from '../../../daemon/src/cluster/memory-transport.js';
import { createSystemClock } from '../../../daemon/src/lib/clock.js';
import { createSeededRandom } from '../../../daemon/src/lib/random.js';
import { silentLogger } from '../../../daemon/src/lib/logger.js';
import type { KObject } from '../../../daemon/src/api/types.js';

// the system clock's timers, but kept referenced: nothing else keeps this process alive here
const sys = createSystemClock();
const clock = { ...sys, setTimeout(fn: () => void, ms: number) { const h = setTimeout(fn, Math.max(0, ms)); return { cancel: () => clearTimeout(h) }; } };
const cm = (name: string): KObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { v: name } });

interface Member { id: string; dir: string; store: Store; log: DiskLog; repl: Replication }

async function fleet(t: Test, ids: string[]): Promise<{ members: Map<string, Member>; net: MemoryNetwork; restart(id: string): Promise<Member> }> {
  const root = mkdtempSync(join(tmpdir(), 'pifleet-repl-'));
  const net = new MemoryNetwork({ clock, random: createSeededRandom(5).float, faults: { minDelayMs: 1, maxDelayMs: 3 } });
  const members = new Map<string, Member>();
  const config = { members: ids.map((id) => ({ id, voter: true })) };
  const open = async (id: string, fresh: boolean): Promise<Member> => {
    const dir = join(root, id);
    const { log, snapshot, entries } = await DiskLog.open(dir, { logger: silentLogger() });
    let hardState = { term: 0 };
    if (fresh) {
      const b = RaftNode.bootstrap(id, config);
      const add = b.entries.map((e) => toDiskEntry({ ...e, time: 0 }));
      await log.append(add);
      entries.push(...add);
      hardState = b.hardState;
    } else {
      hardState = { term: log.lastTerm };
    }
    const store = Store.create({ dir, clock, random: createSeededRandom(id.charCodeAt(0)), logger: silentLogger(), secretBox: createSecretBox('test-token-0123456789abcdef') });
    const repl = new Replication({
      self: id, stateDir: dir, fleet: 'f1', store, log, snapshot, entries, hardState, transport: net.transport(id) as never,
      clock, random: createSeededRandom(id.charCodeAt(0) * 7), logger: silentLogger(), electionTimeoutMs: 150, heartbeatMs: 30, snapshotEvery: 1000,
    });
    store.attach(repl);
    repl.start();
    const m = { id, dir, store, log, repl };
    members.set(id, m);
    return m;
  };
  for (const id of ids) await open(id, true);
  t.teardown(async () => {
    for (const m of members.values()) { await m.repl.stop(); await m.log.close(); }
    rmSync(root, { recursive: true, force: true });
  });
  return {
    members, net,
    async restart(id) {
      const m = members.get(id) as Member;
      await m.repl.stop();
      await m.log.close();
      return open(id, false);
    },
  };
}

async function leader(members: Map<string, Member>, except: string[] = [], timeoutMs = 5000): Promise<Member> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const l = [...members.values()].find((m) => !except.includes(m.id) && m.repl.leaderReady);
    if (l) return l;
    if (Date.now() > until) throw new Error('no leader');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function settled(members: Member[], name: string): Promise<boolean> {
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    if (members.every((m) => m.store.get('ConfigMap', 'default', name))) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

t.test('a write is acknowledged once a majority holds it, and every member applies it at the same revision', async (t) => {
  const { members } = await fleet(t, ['a', 'b', 'c']);
  const l = await leader(members);
  const [stored] = await l.store.commit([{ type: 'create', obj: cm('one') }]);
  t.ok(await settled([...members.values()], 'one'), 'applied on every member');
  for (const m of members.values()) {
    t.equal(m.store.get('ConfigMap', 'default', 'one')?.metadata.resourceVersion, stored?.metadata.resourceVersion, `${m.id}: same resourceVersion`);
    t.equal(m.store.get('ConfigMap', 'default', 'one')?.metadata.uid, stored?.metadata.uid, `${m.id}: same uid`);
  }
  const follower = [...members.values()].find((m) => m !== l) as Member;
  await t.rejects(follower.store.commit([{ type: 'create', obj: cm('two') }]), /not the leader: the leader is/, 'a follower refuses writes and names the leader');
});

t.test('when the leader stops, another member leads within a few election timeouts with every acknowledged write, and the old one catches up', async (t) => {
  const { members, restart } = await fleet(t, ['a', 'b', 'c']);
  const l = await leader(members);
  for (let i = 0; i < 20; i++) await l.store.commit([{ type: 'create', obj: cm(`w${i}`) }]);
  await l.repl.stop();
  const t0 = Date.now();
  const next = await leader(members, [l.id]);
  t.comment(`new leader after ${Date.now() - t0} ms`);
  t.not(next.id, l.id);
  for (let i = 0; i < 20; i++) t.ok(next.store.get('ConfigMap', 'default', `w${i}`), `w${i} kept`);
  await next.store.commit([{ type: 'create', obj: cm('after') }]);
  const back = await restart(l.id);
  t.ok(await settled([back], 'after'), 'the old leader, restarted from its disk, catches up');
  t.ok(back.store.get('ConfigMap', 'default', 'w19'));
});

t.test('a leader cut off from the majority refuses the write with no quorum and steps down; the majority takes writes', async (t) => {
  const { members, net } = await fleet(t, ['a', 'b', 'c']);
  const l = await leader(members);
  const others = [...members.keys()].filter((id) => id !== l.id);
  net.partition([l.id], others);
  await t.rejects(l.store.commit([{ type: 'create', obj: cm('lost') }]), /no quorum: reachable members/, 'refused with the reason');
  const until = Date.now() + 3000;
  while (l.repl.isLeader && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  t.notOk(l.repl.isLeader, 'it stepped down');
  const maj = await leader(members, [l.id]);
  await maj.store.commit([{ type: 'create', obj: cm('kept') }]);
  net.heal();
  t.ok(await settled([...members.values()], 'kept'), 'healed: everybody has the majority\'s write');
  t.equal(l.store.get('ConfigMap', 'default', 'lost'), undefined, 'the refused write is nowhere');
});
