import t from 'tap';
import { RaftNode } from '../../../../daemon/src/cluster/raft/node.js';
import { ProposalDroppedError, type Ready } from '../../../../daemon/src/cluster/raft/types.js';
import { Cluster, config, drain, elect, makeNode, messagesOf } from './harness.js';

t.test('a one-voter fleet elects itself at once and is ready once its noop is persisted', async (t) => {
  const boot = RaftNode.bootstrap('solo', config('solo'));
  const n = new RaftNode({ id: 'solo', random: () => 0.5, initial: { ...boot }, snapshotSource: () => ({ meta: { index: 0 }, data: null }) });
  t.equal(n.role, 'leader', 'leader without waiting for a timeout');
  const rd = n.ready() as Ready;
  t.same(rd.hardState, { term: 2, votedFor: 'solo' }, 'its vote for itself is persisted in the first Ready');
  t.same(rd.entries.map((e) => [e.index, e.term, e.type]), [[2, 2, 'noop']]);
  t.same(rd.softState, { role: 'leader', term: 2, leader: 'solo', leaderReady: false });
  t.same(rd.committed, [], 'nothing commits before its own entries are durable');
  t.same(rd.messages, []);
  n.advance(rd, 5);
  const rd2 = n.ready() as Ready;
  t.same(rd2.committed.map((e) => e.index), [1, 2], 'the bootstrap config and the noop commit after advance');
  t.same(rd2.softState, { role: 'leader', term: 2, leader: 'solo', leaderReady: true });
  n.advance(rd2, 5);
  t.ok(n.status(5).leaderReady);
  const p = n.propose({ op: 'x' }, 6);
  t.same(p, { index: 3, term: 2 });
  const rd3 = n.ready() as Ready;
  n.advance(rd3, 6);
  t.same((n.ready() as Ready).committed.map((e) => e.data), [{ op: 'x' }]);
  n.tick(6);
  t.ok(n.nextDeadline() > 6, 'after a tick, the next deadline is in the future');
  t.equal(n.ready(), undefined, 'a fleet of one sends no heartbeats');
});

t.test('a one-voter fleet restarted from its disk elects itself again at a higher term', async (t) => {
  const entries = [...RaftNode.bootstrap('solo', config('solo')).entries, { index: 2, term: 2, type: 'noop' as const }];
  const n = new RaftNode({ id: 'solo', random: () => 0.5, initial: { hardState: { term: 2, votedFor: 'solo' }, entries }, snapshotSource: () => ({ meta: { index: 0 }, data: null }) });
  t.equal(n.role, 'leader');
  t.equal(n.term, 3);
  const rds = drain(n, 0);
  t.same(rds.flatMap((r) => r.committed).map((e) => e.index), [1, 2, 3], 'all entries of the earlier term commit with the new noop');
});

t.test('a three-node fleet elects exactly one leader, which serves once its noop commits', async (t) => {
  const c = new Cluster({ seed: 3, size: 3 });
  t.ok(c.runUntil(() => !!c.readyLeader(), 5000), 'a leader within 5 s');
  const l = c.readyLeader()!;
  c.run(3000);
  t.equal(c.leader(), l, 'the leader is stable at idle');
  t.equal(c.verifier.leaders.size, 1, 'a single election happened');
  for (const n of c.nodes.values()) t.equal(n.raft.leader, l.id, `${n.id} knows the leader`);
  t.same(c.verifier.errors, []);
});

t.test('randomized election timeouts are uniform in [T, 2T)', async (t) => {
  const seen: number[] = [];
  for (const r of [0, 0.25, 0.999]) {
    const n = makeNode('a', { cfg: config('a', 'b', 'c'), random: () => r, electionTimeoutMs: 1000, now: 5000 });
    seen.push(n.nextDeadline() - 5000);
  }
  t.same(seen, [1000, 1250, 1999]);
});

t.test('a candidate with a shorter log cannot win', async (t) => {
  const voter = makeNode('b', { cfg: config('a', 'b', 'c'), log: [[2], [2], [3]] }); // last 4/3
  voter.tick(0);
  drain(voter, 0);
  voter.step({ type: 'vote', term: 5, from: 'a', to: 'b', lastIndex: 3, lastTerm: 3 }, 10_000);
  voter.step({ type: 'vote', term: 5, from: 'c', to: 'b', lastIndex: 9, lastTerm: 2 }, 10_000);
  let rds = drain(voter, 10_000);
  t.same(messagesOf(rds, 'voteResp').map((m) => [m.to, 'granted' in m && m.granted]), [['a', false], ['c', false]], 'shorter log, or a longer one of an older term: refused');
  t.same(rds.map((r) => r.hardState).filter(Boolean), [{ term: 5 }], 'the higher term is adopted and persisted, without a vote');
  voter.step({ type: 'vote', term: 5, from: 'c', to: 'b', lastIndex: 4, lastTerm: 3 }, 10_000);
  rds = drain(voter, 10_000);
  t.same(messagesOf(rds, 'voteResp').map((m) => [m.to, 'granted' in m && m.granted]), [['c', true]], 'an equally up-to-date log wins the vote');
  voter.step({ type: 'vote', term: 5, from: 'a', to: 'b', lastIndex: 10, lastTerm: 4 }, 10_000);
  rds = drain(voter, 10_000);
  t.same(messagesOf(rds, 'voteResp').map((m) => [m.to, 'granted' in m && m.granted]), [['a', false]], 'one vote per term');
});

t.test('a vote is only sent in the Ready that persists it', async (t) => {
  const voter = makeNode('b', { cfg: config('a', 'b', 'c') });
  voter.tick(0);
  drain(voter, 0);
  voter.step({ type: 'vote', term: 2, from: 'a', to: 'b', lastIndex: 1, lastTerm: 1 }, 5000);
  const rd = voter.ready() as Ready;
  t.same(rd.hardState, { term: 2, votedFor: 'a' });
  t.same(rd.messages.map((m) => m.type), ['voteResp']);
  // a disk failure: the vote is not sent, and the next Ready persists it again (nothing else repeats)
  voter.persistFailed(rd, 5000);
  const again = voter.ready() as Ready;
  t.same(again.hardState, { term: 2, votedFor: 'a' }, 'the vote is offered for persisting again');
  t.same(again.messages, [], 'the unpersisted answer was dropped');
  voter.advance(again, 5000);
  // a vote cast while a Ready is outstanding waits for the next Ready, which carries it
  const voter2 = makeNode('c', { cfg: config('a', 'b', 'c') });
  voter2.tick(0);
  drain(voter2, 0);
  voter2.step({ type: 'append', term: 1, from: 'a', to: 'c', prevIndex: 1, prevTerm: 1, entries: [{ index: 2, term: 1, type: 'ops', data: 1 }], commit: 1 }, 10);
  const outstanding = voter2.ready() as Ready;
  voter2.step({ type: 'vote', term: 2, from: 'b', to: 'c', lastIndex: 2, lastTerm: 1 }, 5000);
  t.equal(voter2.ready(), undefined, 'no second Ready while one is outstanding');
  voter2.advance(outstanding, 5000);
  const next = voter2.ready() as Ready;
  t.same(next.hardState, { term: 2, votedFor: 'b' });
  t.same(next.messages.map((m) => m.type), ['voteResp']);
  t.notOk(outstanding.messages.some((m) => m.type === 'voteResp'));
});

t.test('a follower that hears from its leader ignores pre-votes and votes, then grants them once the leader is silent', async (t) => {
  const f = makeNode('b', { cfg: config('a', 'b', 'c'), electionTimeoutMs: 800 });
  f.tick(0);
  drain(f, 0);
  f.step({ type: 'append', term: 1, from: 'a', to: 'b', prevIndex: 1, prevTerm: 1, entries: [], commit: 1 }, 100);
  drain(f, 100);
  f.step({ type: 'preVote', term: 2, from: 'c', to: 'b', lastIndex: 5, lastTerm: 1 }, 500);
  f.step({ type: 'vote', term: 2, from: 'c', to: 'b', lastIndex: 5, lastTerm: 1 }, 500);
  let rds = drain(f, 500);
  t.same(messagesOf(rds), [], 'no answer at all within the lease');
  t.equal(f.term, 1, 'and no term change');
  f.step({ type: 'preVote', term: 2, from: 'c', to: 'b', lastIndex: 5, lastTerm: 1 }, 950);
  rds = drain(f, 950);
  t.same(messagesOf(rds).map((m) => [m.type, m.term, 'granted' in m && m.granted]), [['preVoteResp', 2, true]], 'a pre-vote is granted once the leader was silent for T');
  t.equal(f.term, 1, 'granting a pre-vote changes no term');
  t.same(rds.map((r) => r.hardState).filter(Boolean), [], 'and writes nothing');
  // a leadership-transfer campaign overrides the lease
  const g = makeNode('b', { cfg: config('a', 'b', 'c') });
  g.tick(0);
  g.step({ type: 'append', term: 1, from: 'a', to: 'b', prevIndex: 1, prevTerm: 1, entries: [], commit: 1 }, 100);
  drain(g, 100);
  g.step({ type: 'vote', term: 2, from: 'c', to: 'b', lastIndex: 1, lastTerm: 1, transfer: true }, 150);
  t.same(messagesOf(drain(g, 150)).map((m) => [m.type, 'granted' in m && m.granted]), [['voteResp', true]]);
});

t.test('a follower cut off for a minute returns without raising the term or causing an election', async (t) => {
  const c = new Cluster({ seed: 11, size: 3 });
  t.ok(c.runUntil(() => !!c.readyLeader(), 5000));
  const l = c.readyLeader()!;
  const term = l.raft.term;
  const f = [...c.nodes.values()].find((n) => n !== l)!;
  for (let i = 0; i < 5; i++) c.propose();
  c.net.isolate(f.id);
  for (let i = 0; i < 60; i++) {
    c.propose();
    c.run(1000);
    if (!t.equal(f.raft.term, term, `${i + 1} s cut off: still term ${term}`)) break;
  }
  t.not(f.raft.role, 'candidate', 'it only ever pre-voted');
  c.net.rejoin(f.id);
  c.run(10_000);
  t.equal(c.leader(), l, 'the leader is still the leader');
  t.equal(l.raft.term, term, 'no term was raised anywhere');
  t.equal(c.verifier.leaders.size, 1, 'no election happened');
  t.equal(f.raft.leader, l.id);
  t.equal(f.sm.length, l.sm.length, 'the returning follower caught up');
  t.same(c.verifier.errors, []);
});

t.test('a leader that cannot reach a majority steps down within one election timeout', async (t) => {
  for (const size of [3, 5]) {
    const c = new Cluster({ seed: 5 + size, size, electionTimeoutMs: 800 });
    t.ok(c.runUntil(() => !!c.readyLeader(), 5000));
    const l = c.readyLeader()!;
    let reported: string | undefined;
    const others = [...c.nodes.keys()].filter((id) => id !== l.id);
    c.run(1000);
    // the leader keeps one follower in a 5-node fleet: still a minority
    c.net.partition(size === 5 ? [l.id, others[0]] : [l.id]);
    const cut = c.now;
    t.ok(c.runUntil(() => l.raft.role !== 'leader', 2000, 1), 'it steps down');
    const took = c.now - cut;
    t.ok(took <= 800, `${size} nodes: stepped down ${took} ms after the cut (<= 800)`);
    t.equal(l.raft.leader, undefined, 'and knows no leader');
    c.pump(l);
    reported = l.raft.status(c.now).role;
    t.equal(reported, 'follower');
    t.ok(c.runUntil(() => !!c.leader() && c.leader() !== l, 10_000), 'the majority elects a new leader');
    c.net.heal();
    c.settle();
    t.same(c.verifier.errors, []);
  }
});

t.test('leadership transfer hands over to the most up-to-date voter', async (t) => {
  const c = new Cluster({ seed: 21, size: 5 });
  t.ok(c.runUntil(() => !!c.readyLeader(), 5000));
  const l = c.readyLeader()!;
  for (let i = 0; i < 10; i++) c.propose();
  c.run(500);
  const term = l.raft.term;
  const target = l.raft.transferLeadership(undefined, c.now);
  t.ok(target && target !== l.id, `transferring to ${target}`);
  t.throws(() => l.raft.propose('x', c.now), ProposalDroppedError, 'proposals are refused during the transfer');
  c.pump(l);
  t.ok(c.runUntil(() => c.leader()?.id === target && !!c.readyLeader(), 3000), 'the target leads');
  t.equal(c.leader()!.raft.term, term + 1, 'one election, at the next term');
  t.equal(l.raft.role, 'follower');
  t.ok(c.propose(), 'the new leader takes proposals');
  c.settle();
  t.same(c.verifier.errors, []);
  t.throws(() => c.node(target!).raft.transferLeadership(target, c.now), /not another voter/);
});

t.test('a joiner never campaigns; a node outside the config neither campaigns nor gets votes', async (t) => {
  const j = makeNode('j');
  for (let now = 0; now <= 60_000; now += 100) j.tick(now);
  const rds = drain(j, 60_000);
  t.same(messagesOf(rds), [], 'a joiner sends nothing');
  t.equal(j.term, 0);
  t.equal(j.role, 'follower');
  const out = makeNode('x', { cfg: config('a', 'b', 'c') });
  for (let now = 0; now <= 60_000; now += 100) out.tick(now);
  t.same(messagesOf(drain(out, 60_000)), [], 'not in its own latest config: no campaign');
  const b = makeNode('b', { cfg: config('a', 'b', 'c'), log: [[2]] });
  b.tick(0);
  b.step({ type: 'preVote', term: 3, from: 'x', to: 'b', lastIndex: 9, lastTerm: 1 }, 5000);
  b.step({ type: 'vote', term: 3, from: 'x', to: 'b', lastIndex: 2, lastTerm: 1 }, 5000);
  const rds2 = drain(b, 5000);
  t.same(messagesOf(rds2).filter((m) => m.type !== 'preVote'), [], 'votes of a non-member with an older log (one removed that missed it) are ignored');
  t.equal(b.term, 2, 'and change no term');
  const learner = makeNode('l', { cfg: config('a', 'b', 'l~') });
  for (let now = 0; now <= 60_000; now += 100) learner.tick(now);
  t.same(messagesOf(drain(learner, 60_000)), [], 'a learner does not campaign');
});

t.test('a stale leader steps down when a follower answers with a higher term', async (t) => {
  const a = makeNode('a', { cfg: config('a', 'b', 'c') });
  let now = elect(a, ['b'], 0);
  drain(a, now);
  t.equal(a.role, 'leader');
  a.step({ type: 'appendResp', term: a.term + 3, from: 'c', to: 'a', success: false, index: 1, hintIndex: 1, hintTerm: 1 }, now);
  t.equal(a.role, 'follower');
  t.equal(a.term, 5);
  const rd = drain(a, now);
  t.same(rd.find((r) => r.softState)?.softState, { role: 'follower', term: 5, leaderReady: false });
  // and a follower answers a stale leader's append with its term
  const b = makeNode('b', { cfg: config('a', 'b', 'c'), term: 7 });
  b.step({ type: 'append', term: 3, from: 'a', to: 'b', prevIndex: 1, prevTerm: 1, entries: [], commit: 1 }, (now += 10));
  t.same(messagesOf(drain(b, now)).map((m) => [m.type, m.term]), [['appendResp', 7]]);
});

t.test('a node restarted with a vote on disk does not vote again in that term', async (t) => {
  const b = makeNode('b', { cfg: config('a', 'b', 'c'), term: 4, votedFor: 'a' });
  b.step({ type: 'vote', term: 4, from: 'c', to: 'b', lastIndex: 5, lastTerm: 3 }, 5000);
  t.same(messagesOf(drain(b, 5000)).map((m) => 'granted' in m && m.granted), [false]);
  b.step({ type: 'vote', term: 4, from: 'a', to: 'b', lastIndex: 5, lastTerm: 3 }, 5000);
  t.same(messagesOf(drain(b, 5000)).map((m) => 'granted' in m && m.granted), [true], 'the candidate it voted for may ask again');
});

t.test('a node with a stale uncommitted config still votes for an up-to-date candidate outside it', async (t) => {
  // n3 kept an uncommitted config {n2, n3} (term 2) that the fleet overwrote; n1 leads the
  // fleet's config {n1, n3} (term 3) and needs n3's vote. Ignoring n1 as a non-member would
  // leave the fleet without a leader forever (found by the fuzzer, seed 103935 of 150 events).
  const cfg = (...ids: string[]) => ({ index: 0, term: 0, type: 'config' as const, data: config(...ids) });
  const n1 = new RaftNode({
    id: 'n1', random: () => 0, initial: { hardState: { term: 3 }, entries: [{ ...cfg('n1', 'n2', 'n3'), index: 1, term: 1 }, { index: 2, term: 3, type: 'noop' }, { ...cfg('n1', 'n3'), index: 3, term: 3 }] },
    snapshotSource: () => ({ meta: { index: 0 }, data: null }), now: 0,
  });
  const n3 = new RaftNode({
    id: 'n3', random: () => 0, initial: { hardState: { term: 2 }, entries: [{ ...cfg('n1', 'n2', 'n3'), index: 1, term: 1 }, { ...cfg('n2', 'n3'), index: 2, term: 2 }] },
    snapshotSource: () => ({ meta: { index: 0 }, data: null }), now: 0,
  });
  n1.tick(2000);
  n3.tick(2000);
  for (let round = 0; round < 10; round++) {
    const msgs = [...messagesOf(drain(n1, 2000)), ...messagesOf(drain(n3, 2000))];
    for (const m of msgs) (m.to === 'n1' ? n1 : m.to === 'n3' ? n3 : undefined)?.step(m, 2000);
  }
  t.equal(n1.role, 'leader', 'n1 wins with n3\'s vote');
  t.same(n3.status(2000).config, config('n1', 'n3'), 'and overwrites n3\'s stale config');
});

t.test('a leader of two that removed itself and was cut off at once can still finish the change', async (t) => {
  // L appended the config {A} (removing itself) and was cut off before A got it: A cannot win
  // (L's log is longer) unless L, a voter of the config before, may campaign.
  const cfg = (...ids: string[]) => ({ type: 'config' as const, data: config(...ids) });
  const initial = (extra: boolean) => ({
    hardState: { term: 2 },
    entries: [{ index: 1, term: 1, ...cfg('L', 'A') }, { index: 2, term: 2, type: 'noop' as const }, ...(extra ? [{ index: 3, term: 2, ...cfg('A') }] : [])],
  });
  const mk = (id: string, extra: boolean) => new RaftNode({ id, random: () => 0, initial: initial(extra), snapshotSource: () => ({ meta: { index: 0 }, data: null }), now: 0 });
  const L = mk('L', true);
  const A = mk('A', false);
  let now = 0;
  const leaders: string[] = [];
  for (let step = 0; step < 200 && !(A.role === 'leader' && A.status(now).leaderReady); step++) {
    now += 50;
    L.tick(now);
    A.tick(now);
    for (let round = 0; round < 10; round++) {
      const msgs = [];
      for (const n of [L, A]) {
        const rds = drain(n, now);
        for (const rd of rds) if (rd.softState?.role === 'leader' && leaders[leaders.length - 1] !== n.id) leaders.push(n.id);
        msgs.push(...messagesOf(rds));
      }
      if (!msgs.length) break;
      for (const m of msgs) (m.to === 'L' ? L : A).step(m, now);
    }
  }
  t.same(leaders, ['L', 'A'], 'L leads to commit its removal, then hands over to A');
  t.equal(A.status(now).config?.members.length, 1);
  t.equal(L.role, 'follower');
  t.notOk(A.status(now).configPending);
  const term = L.term;
  for (let i = 0; i < 100; i++) L.tick((now += 100));
  t.same(messagesOf(drain(L, now)), [], 'once the removal is committed L never campaigns again');
  t.equal(L.term, term);
});

t.test('an unplugged leader that comes back does not disrupt its successor', async (t) => {
  const c = new Cluster({ seed: 17, size: 5 });
  t.ok(c.runUntil(() => !!c.readyLeader(), 5000));
  const old = c.readyLeader()!;
  c.net.isolate(old.id);
  t.ok(c.runUntil(() => !!c.readyLeader() && c.readyLeader() !== old, 10_000), 'the others elect a successor');
  const next = c.readyLeader()!;
  const term = next.raft.term;
  for (let i = 0; i < 30; i++) {
    c.propose();
    c.run(1000);
  }
  t.ok(old.raft.term < term, `the unplugged one never raised its term (${old.raft.term})`);
  const leaders = c.verifier.leaders.size;
  c.net.rejoin(old.id);
  c.run(10_000);
  t.equal(c.leader(), next, 'the successor still leads');
  t.equal(next.raft.term, term, 'at the same term');
  t.equal(c.verifier.leaders.size, leaders, 'no election');
  t.equal(old.raft.leader, next.id, 'the old leader follows it');
  t.equal(old.sm.length, next.sm.length, 'and caught up');
  t.same(c.verifier.errors, []);
});
