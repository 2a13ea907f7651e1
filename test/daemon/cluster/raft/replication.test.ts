import t from 'tap';
import type { RaftNode } from '../../../../daemon/src/cluster/raft/node.js';
import { ConfigChangeError, NotLeaderError, type AppendMessage, type RaftMessage, type Ready } from '../../../../daemon/src/cluster/raft/types.js';
import { Cluster, config, drain, elect, makeNode, messagesOf } from './harness.js';

/** The reason of a ConfigChangeError (or code:leader of a NotLeaderError) fn throws. */
function reasonOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigChangeError) return err.reason;
    if (err instanceof NotLeaderError) return `${err.code}:${err.leader ?? '-'}`;
    throw err;
  }
  return undefined;
}

/** Deliver messages between hand-driven nodes until quiet; returns the messages by type. */
function shuttle(nodes: RaftNode[], now: number, maxRounds = 50, filter: (m: RaftMessage) => boolean = () => true): Record<string, number> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const counts: Record<string, number> = {};
  for (let round = 0; round < maxRounds; round++) {
    const msgs = nodes.flatMap((n) => messagesOf(drain(n, now)));
    if (!msgs.length) break;
    for (const m of msgs) {
      counts[m.type] = (counts[m.type] ?? 0) + 1;
      if (filter(m)) byId.get(m.to)?.step(JSON.parse(JSON.stringify(m)), now);
    }
  }
  return counts;
}

t.test('proposals on a follower throw NotLeaderError with the leader hint', async (t) => {
  const c = new Cluster({ seed: 2, size: 3 });
  t.ok(c.runUntil(() => !!c.readyLeader(), 5000));
  const l = c.readyLeader()!;
  const f = [...c.nodes.values()].find((n) => n !== l)!;
  const err = t.throws(() => f.raft.propose('x', c.now), NotLeaderError) as unknown as NotLeaderError;
  t.equal(err.leader, l.id);
  t.equal(err.code, 'NOT_LEADER');
  t.throws(() => f.raft.proposeConfig(config('n1'), c.now), NotLeaderError);
  t.equal(reasonOf(() => makeNode('x').propose('x', 0)), 'NOT_LEADER:-', 'no leader known: no hint');
});

t.test('heartbeats at idle produce no hardState and no entries', async (t) => {
  let writes = 0;
  let readies = 0;
  let watching = false;
  const c = new Cluster({
    seed: 4,
    size: 5,
    onReady: (_n, rd) => {
      if (!watching) return;
      readies++;
      if (rd.hardState || rd.entries.length || rd.truncateFrom !== undefined || rd.snapshot) writes++;
    },
  });
  t.ok(c.runUntil(() => !!c.readyLeader(), 5000));
  for (let i = 0; i < 5; i++) c.propose();
  c.run(2000);
  watching = true;
  c.run(60_000);
  t.ok(readies > 1000, `${readies} Readies with heartbeats in an idle minute`);
  t.equal(writes, 0, 'none of them writes anything');
  t.equal(c.verifier.leaders.size, 1);
});

t.test('a follower with a conflicting log is overwritten, found in few round trips', async (t) => {
  // a: 1 config, 2..10 term 2, 11..20 term 5; b: same to 10, then 11..40 term 3 (from a deposed leader)
  const cfg = config('a', 'b', 'c');
  const a = makeNode('a', { cfg, log: [...Array(9).fill([2]), ...Array(10).fill([5])] });
  const b = makeNode('b', { cfg, log: [...Array(9).fill([2]), ...Array(30).fill([3])] });
  let now = elect(a, ['c'], 0); // c is not driven: a wins with c's vote
  const counts = shuttle([a, b], now);
  t.ok(counts.append <= 6, `${counts.append} appends (one probe, one or two rejections, then the entries)`);
  t.equal(b.status(now).lastIndex, 21);
  for (let i = 1; i <= 21; i++) t.equal(b.termAt(i), a.termAt(i), `entry ${i} matches`);
  t.equal(a.status(now).commitIndex, 21, 'the leader commits its noop with b');
  t.ok(a.status(now).peers.b.match === 21);
  a.tick((now += 100));
  shuttle([a, b], now);
  t.equal(b.status(now).commitIndex, 21, 'and b learns it with the next heartbeat');
});

t.test('appends are bounded in entries, bytes and appends in flight', async (t) => {
  const a = makeNode('a', { cfg: config('a', 'b', 'c'), maxEntriesPerAppend: 4, maxInflightAppends: 2, maxBytesPerAppend: 10_000 });
  const b = makeNode('b', { cfg: config('a', 'b', 'c') });
  let now = elect(a, ['c'], 0);
  shuttle([a, b], now); // b matches: a replicates to it now
  for (let i = 0; i < 20; i++) a.propose({ i }, now);
  let appends = messagesOf(drain(a, now), 'append').filter((m) => m.to === 'b') as AppendMessage[];
  t.same(appends.map((m) => m.entries.length), [1, 1], 'two appends in flight, no more until b answers');
  for (const m of appends) b.step(m, now);
  for (const m of messagesOf(drain(b, now))) a.step(m, now);
  appends = messagesOf(drain(a, now), 'append').filter((m) => m.to === 'b') as AppendMessage[];
  t.same(appends.map((m) => m.entries.length), [4, 4], 'answers free the pipeline: full appends of at most 4 entries');
  // bytes: entries of ~2 KB, a limit of 5 KB: two entries per append
  const big = makeNode('a', { cfg: config('a', 'b', 'c'), maxEntriesPerAppend: 64, maxBytesPerAppend: 5000 });
  const bb = makeNode('b', { cfg: config('a', 'b', 'c') });
  now = elect(big, ['c'], 0);
  for (let i = 0; i < 6; i++) big.propose('x'.repeat(2000), now);
  const counts = shuttle([big, bb], now, 50);
  t.equal(bb.status(now).lastIndex, 8);
  t.ok(counts.append >= 4, `${counts.append} appends for 7 entries of which 6 are 2 KB`);
  const one = makeNode('a', { cfg: config('a', 'b', 'c'), maxBytesPerAppend: 10 });
  const ob = makeNode('b', { cfg: config('a', 'b', 'c') });
  now = elect(one, ['c'], 0);
  one.propose('x'.repeat(100), now);
  shuttle([one, ob], now);
  t.equal(ob.status(now).lastIndex, 3, 'an entry larger than the byte limit still goes, alone');
});

t.test('a leader commits an entry of an earlier term only with one of its own term (Raft 5.4.2)', async (t) => {
  // a holds entry 2 of term 2 that b also has; c does not. a becomes leader of term 4.
  const cfg = config('a', 'b', 'c');
  const a = makeNode('a', { cfg, log: [[2, 'old']], term: 3 });
  const now = elect(a, ['b'], 0);
  drain(a, now);
  t.equal(a.status(now).lastIndex, 3, 'its noop is entry 3');
  // b answers only up to entry 2 (say, the leader's first append carried only the old entry)
  a.step({ type: 'appendResp', term: a.term, from: 'b', to: 'a', success: true, index: 2 }, now);
  drain(a, now);
  t.equal(a.status(now).commitIndex, 0, 'entry 2 is on a majority, but of an earlier term: not committed by counting');
  a.step({ type: 'appendResp', term: a.term, from: 'b', to: 'a', success: true, index: 3 }, now);
  const rds = drain(a, now);
  t.equal(a.status(now).commitIndex, 3, 'with its own noop on a majority, everything before commits too');
  t.same(rds.flatMap((r) => r.committed).map((e) => e.index), [1, 2, 3]);
});

t.test('a follower commits only what it verified matches the leader', async (t) => {
  // b has a stale tail 3..4 from a deposed leader; the leader of term 3 commits 4 of its own log
  const b = makeNode('b', { cfg: config('a', 'b', 'c'), log: [[2], [2], [2]] });
  b.step({ type: 'append', term: 3, from: 'a', to: 'b', prevIndex: 2, prevTerm: 2, entries: [], commit: 4 }, 100);
  const rds = drain(b, 100);
  t.equal(b.status(100).commitIndex, 2, 'commit is capped at the last verified index (2), not the leader\'s 4');
  t.same(rds.flatMap((r) => r.committed).map((e) => e.index), [1, 2]);
  t.same(messagesOf(rds).map((m) => [m.type, 'index' in m && m.index]), [['appendResp', 2]]);
});

t.test('a far-behind follower catches up from a snapshot', async (t) => {
  let snapshots = 0;
  const c = new Cluster({ seed: 8, size: 3, onReady: (_n, rd) => { snapshots += rd.messages.filter((m) => m.type === 'snapshot').length; } });
  t.ok(c.runUntil(() => !!c.readyLeader(), 5000));
  const l = c.readyLeader()!;
  const f = [...c.nodes.values()].find((n) => n !== l)!;
  c.crash(f.id);
  for (let i = 0; i < 40; i++) {
    c.propose();
    c.run(20);
  }
  c.run(500);
  for (const n of c.alive()) t.ok(c.compact(n.id), `${n.id} compacted`);
  t.ok(l.raft.status(c.now).firstIndex > f.lastIndex + 1, 'the leader no longer holds what the follower needs');
  t.equal(snapshots, 0);
  c.restart(f.id);
  t.ok(c.runUntil(() => f.sm.length === l.sm.length, 5000), 'the follower caught up');
  t.equal(snapshots, 1, 'with one snapshot');
  t.equal(f.storage.snapshot?.meta.index, l.storage.snapshot?.meta.index, 'which it persisted');
  c.propose();
  c.settle();
  t.same(c.verifier.errors, []);
  // and a restart of the follower now starts from that snapshot
  c.crash(f.id);
  c.restart(f.id);
  t.ok(c.runUntil(() => f.sm.length === l.sm.length, 5000));
  t.same(c.verifier.errors, []);
});

t.test('a learner is promoted once it caught up', async (t) => {
  let promotedAt: { match: number; commit: number } | undefined;
  const c = new Cluster({ seed: 9, size: 3 });
  t.ok(c.runUntil(() => !!c.readyLeader(), 5000));
  for (let i = 0; i < 30; i++) c.propose();
  c.run(300);
  const l = c.readyLeader()!;
  const learner = c.addLearner()!;
  t.ok(learner, 'a learner was added');
  t.same(l.raft.status(c.now).config?.members.find((m) => m.id === learner.id), { id: learner.id, voter: false });
  t.ok(c.runUntil(() => {
    const s = l.raft.status(c.now);
    const m = s.config?.members.find((x) => x.id === learner.id);
    if (m?.voter && !promotedAt) promotedAt = { match: s.peers[learner.id].match, commit: s.commitIndex };
    return !!m?.voter && !s.configPending;
  }, 10_000), 'promoted to voter, and that config committed');
  t.ok(promotedAt && promotedAt.match >= promotedAt.commit - 1, `its log had caught up (${JSON.stringify(promotedAt)})`);
  t.equal(learner.raft.status(c.now).config?.members.filter((m) => m.voter).length, 4, 'the learner knows it votes now');
  c.settle();
  t.same(c.verifier.errors, []);
});

t.test('a learner does not count for quorum', async (t) => {
  const a = makeNode('a', { cfg: config('a', 'b', 'l~') });
  const now = elect(a, ['b'], 0);
  drain(a, now);
  a.step({ type: 'appendResp', term: a.term, from: 'l', to: 'a', success: true, index: 2 }, now);
  drain(a, now);
  t.equal(a.status(now).commitIndex, 0, 'the learner\'s ack does not commit');
  a.step({ type: 'appendResp', term: a.term, from: 'b', to: 'a', success: true, index: 2 }, now);
  drain(a, now);
  t.equal(a.status(now).commitIndex, 2, 'the voter\'s does');
});

t.test('a fleet grows from one node: joiners are added as learners and promoted', async (t) => {
  const c = new Cluster({ seed: 12, size: 3, bootstrap: 'first' });
  const first = c.node('n1');
  c.run(100);
  t.equal(first.raft.role, 'leader', 'the first node leads alone at once');
  for (let i = 0; i < 10; i++) c.propose();
  c.run(200);
  for (const id of ['n2', 'n3']) {
    t.ok(c.runUntil(() => !!c.changeConfig((ms) => [...ms, { id, voter: false }]), 5000), `${id} added as a learner`);
    t.ok(c.runUntil(() => {
      const s = first.raft.status(c.now);
      return !!s.config?.members.find((m) => m.id === id)?.voter && !s.configPending;
    }, 10_000), `${id} promoted`);
  }
  t.same(c.members().sort(), ['n1', 'n2', 'n3']);
  c.crash('n1');
  t.ok(c.runUntil(() => !!c.readyLeader(), 10_000), 'the grown fleet survives the loss of the first node');
  c.restart('n1');
  c.settle();
  t.same(c.verifier.errors, []);
});

t.test('a leader that removed itself steps down once that is committed, and hands over at once', async (t) => {
  const c = new Cluster({ seed: 14, size: 5 });
  t.ok(c.runUntil(() => !!c.readyLeader(), 5000));
  const l = c.readyLeader()!;
  for (let i = 0; i < 5; i++) c.propose();
  c.run(300);
  const term = l.raft.term;
  t.ok(c.removeMember(l.id), 'removal proposed');
  t.equal(l.raft.role, 'leader', 'it leads until the removal commits');
  const t0 = c.now;
  t.ok(c.runUntil(() => l.raft.role !== 'leader' && !!c.readyLeader(), 5000), 'a new leader');
  t.ok(c.now - t0 < 400, `the handover took ${c.now - t0} ms (TimeoutNow, no election timeout)`);
  t.equal(c.leader()!.raft.term, term + 1);
  c.run(20_000);
  t.equal(l.raft.term, term, 'the removed node never campaigns');
  t.equal(c.verifier.leaders.size, 2);
  t.notOk(c.members().includes(l.id));
  c.settle();
  t.same(c.verifier.errors, []);
});

t.test('configs take effect when appended and revert when truncated', async (t) => {
  const b = makeNode('b', { cfg: config('a', 'b', 'c') });
  const cfg2 = config('a', 'b', 'c', 'd~');
  b.step({ type: 'append', term: 2, from: 'a', to: 'b', prevIndex: 1, prevTerm: 1, entries: [{ index: 2, term: 2, type: 'config', data: cfg2 }], commit: 1 }, 10);
  drain(b, 10);
  t.same(b.status(10).config, cfg2, 'in effect once appended, not yet committed');
  t.ok(b.status(10).configPending);
  b.step({ type: 'append', term: 3, from: 'c', to: 'b', prevIndex: 1, prevTerm: 1, entries: [{ index: 2, term: 3, type: 'noop' }], commit: 2 }, 20);
  const rds = drain(b, 20);
  t.same(b.status(20).config, config('a', 'b', 'c'), 'reverted when the entry was overwritten');
  t.same(rds.map((r) => r.truncateFrom).filter((x) => x !== undefined), [2]);
});

t.test('one configuration change at a time, one voter at a time', async (t) => {
  const a = makeNode('a', { cfg: config('a', 'b', 'c') });
  const now = elect(a, ['b'], 0);
  t.equal(reasonOf(() => a.proposeConfig(config('a', 'b', 'c', 'd~'), now)), 'not-ready', 'not before the leader committed an entry of its term');
  drain(a, now);
  a.step({ type: 'appendResp', term: a.term, from: 'b', to: 'a', success: true, index: 2 }, now);
  drain(a, now);
  t.ok(a.status(now).leaderReady);
  t.equal(reasonOf(() => a.proposeConfig(config('a', 'b', 'c', 'd', 'e'), now)), 'too-many-changes');
  t.equal(reasonOf(() => a.proposeConfig(config('a'), now)), 'too-many-changes');
  t.equal(reasonOf(() => a.proposeConfig({ members: [{ id: 'a', voter: true }, { id: 'a', voter: false }] }, now)), 'invalid', 'duplicate ids');
  t.equal(reasonOf(() => a.proposeConfig(config('a~', 'b~'), now)), 'invalid', 'no voter');
  t.throws(() => a.proposeConfig({ members: 'x' } as never, now), ConfigChangeError);
  const r = a.proposeConfig(config('a', 'b', 'c', 'd~', 'e~'), now);
  t.same(r, { index: 3, term: a.term }, 'learners come and go freely');
  t.equal(reasonOf(() => a.proposeConfig(config('a', 'b', 'c'), now)), 'pending', 'while a config entry is uncommitted');
  const rd = a.ready() as Ready;
  t.ok(rd.messages.some((m) => m.to === 'd'), 'the new learners are replicated to at once');
  a.advance(rd, now);
});
