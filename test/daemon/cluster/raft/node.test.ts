import t from 'tap';
import { RaftNode } from '../../../../daemon/src/cluster/raft/node.js';
import { ConfigChangeError, NotLeaderError, type Ready } from '../../../../daemon/src/cluster/raft/types.js';
import { config, drain, elect, makeNode, messagesOf } from './harness.js';

const entry = (index: number, term: number, data: unknown = index) => ({ index, term, type: 'ops' as const, data });

t.test('garbage messages are ignored', async (t) => {
  const b = makeNode('b', { cfg: config('a', 'b', 'c'), log: [[1], [1]] });
  b.tick(0);
  drain(b, 0);
  const before = JSON.stringify(b.status(10));
  const ok = { type: 'append', term: 2, from: 'a', to: 'b', prevIndex: 3, prevTerm: 1, entries: [entry(4, 2)], commit: 3 };
  const garbage: unknown[] = [
    null, undefined, 0, 42, 'append', true, [], {}, [ok], () => ok, Symbol('x'), 10n,
    { ...ok, to: 'c' }, { ...ok, from: 'b' }, { ...ok, from: '' }, { ...ok, from: 7 }, { ...ok, from: 'x'.repeat(1000) },
    { ...ok, type: 'hello' }, { ...ok, type: undefined }, { ...ok, type: 'APPEND' },
    { ...ok, term: -1 }, { ...ok, term: 1.5 }, { ...ok, term: NaN }, { ...ok, term: Infinity }, { ...ok, term: '3' }, { ...ok, term: 2 ** 60 },
    { ...ok, prevIndex: -1 }, { ...ok, prevIndex: 0, prevTerm: 1 }, { ...ok, prevTerm: 9 }, { ...ok, commit: 'all' },
    { ...ok, entries: 'x' }, { ...ok, entries: {} }, { ...ok, entries: [null] }, { ...ok, entries: [entry(5, 2)] }, { ...ok, entries: [entry(4, 3)] },
    { ...ok, entries: [entry(4, 2), entry(4, 2)] }, { ...ok, entries: [entry(4, 0)] }, { ...ok, entries: [{ ...entry(4, 2), type: 'rm -rf' }] },
    { ...ok, entries: [{ ...entry(4, 2), time: 'now' }] }, { ...ok, entries: [{ index: 4, term: 2, type: 'config', data: { members: [{ id: 'a' }] } }] },
    { ...ok, entries: [{ index: 4, term: 2, type: 'config', data: { members: [{ id: 'a', voter: true }, { id: 'a', voter: true }] } }] },
    { ...ok, entries: [{ index: 4, term: 2, type: 'config', data: { members: [{ id: 'a', voter: true, peerPort: 70000 }] } }] },
    { type: 'vote', term: 5, from: 'a', to: 'b' }, { type: 'vote', term: 5, from: 'a', to: 'b', lastIndex: -3, lastTerm: 1 },
    { type: 'preVote', term: 0, from: 'a', to: 'b', lastIndex: 1, lastTerm: 1 }, { type: 'vote', term: 5, from: 'a', to: 'b', lastIndex: 1, lastTerm: 1, transfer: 'yes' },
    { type: 'voteResp', term: 5, from: 'a', to: 'b', granted: 'yes' }, { type: 'preVoteResp', term: 5, from: 'a', to: 'b' },
    { type: 'appendResp', term: 5, from: 'a', to: 'b', success: false, index: 1 }, { type: 'appendResp', term: 5, from: 'a', to: 'b', success: 1, index: 1 },
    { type: 'snapshot', term: 5, from: 'a', to: 'b' }, { type: 'snapshot', term: 5, from: 'a', to: 'b', snapshot: { meta: { index: 9, term: 6, config: config('a') }, data: 1 } },
    { type: 'snapshot', term: 5, from: 'a', to: 'b', snapshot: { meta: { index: 0, term: 1, config: config('a') }, data: 1 } },
    { type: 'snapshot', term: 5, from: 'a', to: 'b', snapshot: { meta: { index: 9, term: 1, config: { members: null } }, data: 1 } },
    { type: 'snapshotResp', term: 5, from: 'a', to: 'b', index: 'x' }, { type: 'timeoutNow', term: 5, from: 7, to: 'b' },
    JSON.parse('{"__proto__": {"type": "append", "term": 9}, "from": "a", "to": "b"}'),
    Object.create({ type: 'timeoutNow', term: 9, from: 'a', to: 'b' }),
  ];
  for (const [i, g] of garbage.entries()) {
    t.doesNotThrow(() => b.step(g, 10), `garbage #${i} does not throw`);
  }
  t.equal(b.ready(), undefined, 'no output at all');
  t.equal(JSON.stringify(b.status(10)), before, 'no state change');
  t.equal(({} as Record<string, unknown>).type, undefined, 'no prototype pollution');
  b.step(ok, 10);
  const rds = drain(b, 10);
  t.same(messagesOf(rds).map((m) => [m.type, 'success' in m && m.success]), [['appendResp', true]], 'the well-formed message is taken');
  t.equal(b.status(10).lastIndex, 4);
});

t.test('a follower whose disk fails forgets the entries and does not acknowledge them', async (t) => {
  const b = makeNode('b', { cfg: config('a', 'b', 'c') });
  b.tick(0);
  drain(b, 0);
  const app = { type: 'append', term: 2, from: 'a', to: 'b', prevIndex: 1, prevTerm: 1, entries: [entry(2, 2), entry(3, 2)], commit: 1 };
  b.step(app, 10);
  const rd = b.ready() as Ready;
  t.same(rd.entries.map((e) => e.index), [2, 3]);
  t.same(rd.messages.map((m) => m.type), ['appendResp']);
  b.step({ ...app, entries: [], prevIndex: 3, prevTerm: 2 }, 20); // a heartbeat acked while the write is under way
  b.persistFailed(rd, 30);
  t.equal(b.status(30).lastIndex, 1, 'the entries are forgotten');
  const next = b.ready() as Ready;
  t.same(next.messages, [], 'no acknowledgement, not even the heartbeat\'s');
  t.equal(next.truncateFrom, 2, 'whatever part of them was written is truncated');
  t.same(next.hardState, { term: 2 }, 'the term is offered again');
  b.advance(next, 30);
  b.step(app, 40);
  const again = drain(b, 40);
  t.same(again.flatMap((r) => r.entries).map((e) => e.index), [2, 3]);
  t.same(messagesOf(again).map((m) => 'index' in m && m.index), [3], 'acknowledged once persisted');
});

t.test('a leader whose disk fails drops its proposals, reports them and steps down', async (t) => {
  const a = makeNode('a', { cfg: config('a', 'b', 'c') });
  let now = elect(a, ['b'], 0);
  drain(a, now);
  a.step({ type: 'appendResp', term: a.term, from: 'b', to: 'a', success: true, index: 2 }, now);
  drain(a, now);
  const p1 = a.propose('x', now);
  const p2 = a.propose('y', now);
  const rd = a.ready() as Ready;
  a.persistFailed(rd, (now += 5));
  t.equal(a.role, 'follower', 'it steps down: it never reuses an (index, term) it handed out');
  const next = a.ready() as Ready;
  t.same(next.dropped, [p1, p2], 'both proposals reported dropped');
  t.equal(next.truncateFrom, 3);
  t.same(next.softState, { role: 'follower', term: a.term, leaderReady: false });
  t.same(next.messages, [], 'the appends carrying them are never sent');
  a.advance(next, now);
  t.throws(() => a.propose('z', now), NotLeaderError);
  // a Ready without entries failing (only heartbeats) does not cost leadership
  const s = makeNode('a', { cfg: config('a', 'b', 'c') });
  now = elect(s, ['b'], 0);
  drain(s, now);
  s.tick(now + 100);
  const hb = s.ready() as Ready;
  t.same(hb.entries, []);
  s.persistFailed(hb, now + 100);
  t.equal(s.role, 'leader');
});

t.test('a fleet of one whose disk fails re-elects itself after an election timeout', async (t) => {
  const boot = RaftNode.bootstrap('solo', config('solo'));
  const n = new RaftNode({ id: 'solo', random: () => 0, electionTimeoutMs: 800, initial: boot, snapshotSource: () => ({ meta: { index: 0 }, data: null }), now: 0 });
  drain(n, 0);
  const p = n.propose('x', 10);
  n.persistFailed(n.ready() as Ready, 10);
  const rd = n.ready() as Ready;
  t.same(rd.dropped, [p]);
  n.advance(rd, 10);
  t.equal(n.nextDeadline(), 810, 'it waits one election timeout (a natural back-off for a failing disk)');
  n.tick(810);
  t.equal(n.role, 'leader');
  t.equal(n.term, 3);
  const rds = drain(n, 810);
  t.same(rds.flatMap((r) => r.committed).map((e) => e.type), ['noop'], 'the new term\'s noop commits; the dropped proposal never does');
});

t.test('one Ready at a time: ready() waits for advance, and advance checks what it is given', async (t) => {
  const a = makeNode('a', { cfg: config('a', 'b', 'c') });
  a.tick(1e6);
  const rd = a.ready() as Ready;
  t.ok(rd);
  t.equal(a.ready(), undefined);
  t.throws(() => a.advance({ ...rd }, 1e6), /not the outstanding Ready/);
  a.advance(rd, 1e6);
  t.equal(a.ready(), undefined, 'nothing left');
  t.throws(() => a.persistFailed(rd, 1e6), /not the outstanding Ready/);
});

t.test('tick is idempotent for the same now, and time never runs backwards', async (t) => {
  const a = makeNode('a', { cfg: config('a', 'b', 'c') });
  const now = elect(a, ['b'], 0);
  drain(a, now);
  a.tick(now + 100);
  t.equal(messagesOf(drain(a, now + 100), 'append').length, 2, 'one heartbeat to each peer');
  a.tick(now + 100);
  a.tick(now + 50);
  t.same(messagesOf(drain(a, now + 100)), [], 'the same time again (or an earlier one) sends nothing more');
  const f = makeNode('b', { cfg: config('a', 'b', 'c'), random: () => 0 });
  f.tick(0);
  f.tick(800);
  f.tick(800);
  t.equal(messagesOf(drain(f, 800), 'preVote').length, 2, 'one pre-vote campaign');
});

t.test('compact drops applied entries and snapshotMetaAt describes a snapshot point', async (t) => {
  const a = makeNode('a', { cfg: config('a', 'b', 'c'), log: [[1], [1], [1], [1]] });
  const now = elect(a, ['b'], 0);
  drain(a, now);
  a.step({ type: 'appendResp', term: a.term, from: 'b', to: 'a', success: true, index: 6 }, now);
  drain(a, now);
  t.equal(a.status(now).appliedIndex, 6);
  t.same(a.snapshotMetaAt(4), { index: 4, term: 1, config: config('a', 'b', 'c') });
  t.throws(() => a.compact(7), RangeError, 'only applied entries');
  a.compact(4);
  t.equal(a.status(now).firstIndex, 5);
  t.equal(a.termAt(4), 1, 'the snapshot point keeps its term');
  t.equal(a.termAt(3), undefined);
  t.throws(() => a.snapshotMetaAt(3), RangeError);
  a.compact(2);
  t.equal(a.status(now).firstIndex, 5, 'compacting below the snapshot point changes nothing');
});

t.test('status and lastContact describe the leader\'s view of its peers', async (t) => {
  const a = makeNode('a', { cfg: config('a', 'b', 'c', 'l~') });
  const now = elect(a, ['b'], 0);
  drain(a, now);
  a.step({ type: 'appendResp', term: a.term, from: 'b', to: 'a', success: true, index: 2 }, now + 40);
  drain(a, now + 40);
  const s = a.status(now + 100);
  t.equal(s.role, 'leader');
  t.equal(s.leader, 'a');
  t.ok(s.leaderReady);
  t.same(Object.keys(s.peers).sort(), ['b', 'c', 'l']);
  t.same({ ...s.peers.b }, { match: 2, next: 3, voter: true, state: 'replicate', lastContactMs: 60 });
  t.equal(s.peers.l.voter, false);
  t.equal(a.lastContact('b', now + 100), 60);
  t.equal(a.lastContact('c', now + 100), 100, 'counted from the election for a silent peer');
  t.equal(a.lastContact('zz', now), undefined);
  const b = makeNode('b', { cfg: config('a', 'b', 'c') });
  t.equal(b.lastContact('a', 0), undefined, 'followers do not track contacts');
  t.same(b.status(0).peers.a, { match: 0, next: 0, voter: true });
});

t.test('another entry committed at a proposal\'s index reports it dropped', async (t) => {
  const a = makeNode('a', { cfg: config('a', 'b', 'c') });
  let now = elect(a, ['b'], 0);
  drain(a, now);
  a.step({ type: 'appendResp', term: a.term, from: 'b', to: 'a', success: true, index: 2 }, now);
  drain(a, now);
  const p = a.propose('lost', now);
  drain(a, now);
  // a is cut off; c leads term 3 and commits a noop at that index
  now += 10_000;
  a.step({ type: 'append', term: 3, from: 'c', to: 'a', prevIndex: 2, prevTerm: 2, entries: [{ index: 3, term: 3, type: 'noop' }], commit: 3 }, now);
  const rds = drain(a, now);
  t.same(rds.flatMap((r) => r.dropped ?? []), [p]);
  t.same(rds.flatMap((r) => r.committed).map((e) => [e.index, e.term]), [[3, 3]]);
});

t.test('a restart takes the disk as it is', async (t) => {
  t.throws(() => makeNode('a', { initial: { hardState: { term: 1 }, entries: [entry(1, 1), entry(3, 1)] } }), RangeError, 'a gap in the log is refused');
  t.throws(() => makeNode('a', { initial: { hardState: { term: -1 }, entries: [] } }), RangeError);
  const n = makeNode('b', { initial: { hardState: { term: 1 }, entries: [{ index: 1, term: 1, type: 'config', data: config('a', 'b', 'c') }, entry(2, 4)] } });
  t.equal(n.term, 4, 'entries of a later term than the hardState: the term follows them');
  n.step({ type: 'vote', term: 4, from: 'c', to: 'b', lastIndex: 9, lastTerm: 4 }, 5000);
  t.same(messagesOf(drain(n, 5000)).map((m) => 'granted' in m && m.granted), [false], 'and no vote is cast in that term (it may have voted already)');
  const applied = makeNode('b', { initial: { hardState: { term: 1 }, entries: [{ index: 1, term: 1, type: 'config', data: config('a', 'b', 'c') }, entry(2, 1), entry(3, 1)], applied: 2 } });
  applied.step({ type: 'append', term: 1, from: 'a', to: 'b', prevIndex: 3, prevTerm: 1, entries: [], commit: 3 }, 10);
  t.same(drain(applied, 10).flatMap((r) => r.committed).map((e) => e.index), [3], 'entries up to `applied` are not delivered again');
  t.throws(() => RaftNode.bootstrap('x', config('a')), ConfigChangeError);
  t.throws(() => RaftNode.bootstrap('a', config('a~')), ConfigChangeError);
  t.same(RaftNode.bootstrap('a', config('a', 'b~')), { hardState: { term: 1 }, entries: [{ index: 1, term: 1, type: 'config', data: config('a', 'b~') }] });
});

t.test('a joiner takes the log from a leader of any term and learns its config from it', async (t) => {
  const j = makeNode('j');
  j.step({ type: 'append', term: 7, from: 'a', to: 'j', prevIndex: 4, prevTerm: 6, entries: [], commit: 4 }, 10);
  let rds = drain(j, 10);
  t.same(messagesOf(rds).map((m) => [m.type, 'success' in m && m.success, 'hintIndex' in m && m.hintIndex]), [['appendResp', false, 0]], 'it asks for everything');
  t.same(rds.find((r) => r.hardState)?.hardState, { term: 7 });
  j.step({ type: 'snapshot', term: 7, from: 'a', to: 'j', snapshot: { meta: { index: 4, term: 6, config: config('a', 'b', 'j~') }, data: { state: 1 } } }, 20);
  rds = drain(j, 20);
  const rd = rds[0];
  t.same(rd.snapshot?.meta, { index: 4, term: 6, config: config('a', 'b', 'j~') });
  t.equal(rd.truncateFrom, 5, 'the snapshot replaces the whole log');
  t.same(rd.applySnapshot?.data, { state: 1 });
  t.same(messagesOf(rds).map((m) => [m.type, 'index' in m && m.index]), [['snapshotResp', 4]]);
  t.same(j.status(20).config, config('a', 'b', 'j~'));
  t.equal(j.status(20).appliedIndex, 4);
});

t.test('the only voter whose all-or-nothing append fails stays leader, reports the proposal dropped and takes the next one', async (t) => {
  for (const atomicAppend of [true, false]) {
    const a = makeNode('a', { cfg: config('a'), atomicAppend });
    drain(a, 0);
    t.equal(a.role, 'leader', 'a fleet of one leads at once');
    const p = a.propose('x', 10);
    const rd = a.ready() as Ready;
    t.same(rd.entries.map((e) => e.index), [p.index]);
    a.persistFailed(rd, 10);
    const rds = drain(a, 10);
    t.same(rds.flatMap((r) => r.dropped ?? []), [{ index: p.index, term: p.term }], 'the failed proposal is reported dropped');
    if (atomicAppend) {
      t.equal(a.role, 'leader', 'still leading: nothing of it is on disk or was sent anywhere');
      const q = a.propose('y', 20);
      const committed = drain(a, 20).flatMap((r) => r.committed);
      t.same(committed.map((e) => [e.index, e.data]), [[q.index, 'y']], 'the next proposal commits (at the same index)');
    } else {
      t.not(a.role, 'leader', 'without atomic appends a leader steps down');
    }
  }
});
