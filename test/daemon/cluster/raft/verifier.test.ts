import t from 'tap';
import { Cluster, Verifier, type AppliedItem } from './harness.js';

const item = (index: number, term: number, data: string): AppliedItem => ({ index, term, type: 'ops', data });

t.test('the verifier catches two leaders in one term', async (t) => {
  const v = new Verifier();
  v.leader(2, 'a');
  v.leader(2, 'a');
  v.leader(3, 'b');
  t.ok(v.ok, 'one leader per term, whoever it is');
  v.leader(3, 'c');
  t.match(v.errors, [/election safety: two leaders in term 3: b and c/]);
});

t.test('the verifier catches two entries at one index and term, and one entry after two predecessors', async (t) => {
  const v = new Verifier();
  v.persisted('a', item(5, 2, 'x'), 2);
  v.persisted('b', item(5, 2, 'x'), 2);
  t.ok(v.ok);
  v.persisted('c', item(5, 2, 'y'), 2);
  v.persisted('d', item(5, 2, 'x'), 1);
  t.match(v.errors, [/log matching: c holds a different entry at index 5 term 2/, /log matching: d has entry 5\/2 after an entry of term 1/]);
});

t.test('the verifier catches nodes applying different sequences', async (t) => {
  const v = new Verifier();
  v.applied('a', item(1, 1, 'x'), 1);
  v.applied('b', item(1, 1, 'x'), 1);
  v.applied('a', item(2, 1, 'y'), 1);
  t.ok(v.ok);
  v.applied('b', item(2, 2, 'z'), 2);
  t.match(v.errors, [/state machine safety: b applied 2\/2/, /state machine safety: b applied 2 with term 2, committed with term 1/]);
});

t.test('the verifier catches a leader that lacks a committed entry, elected before or after the commit is seen', async (t) => {
  const v = new Verifier();
  v.applied('a', item(1, 1, 'x'), 1);
  v.applied('a', item(2, 2, 'y'), 2);
  v.leader(3, 'b', (index, term) => index === 1 && term === 1); // b lacks 2/2
  t.match(v.errors, [/leader completeness: b, leader of term 3, lacks entry 2 \(term 2\) committed by term 2/]);
  const w = new Verifier();
  w.leader(5, 'c', (index) => index < 3);
  w.applied('a', item(3, 4, 'z'), 4); // committed in term 4, seen only now
  t.match(w.errors, [/leader completeness: c, leader of term 5, lacks entry 3/]);
  const ok = new Verifier();
  ok.leader(5, 'c', () => false);
  ok.applied('a', item(3, 5, 'z'), 5);
  t.ok(ok.ok, 'an entry committed in the leader\'s own term or later needs no earlier presence');
});

t.test('the verifier catches an acknowledged write that is lost, and a dropped proposal that committed', async (t) => {
  const v = new Verifier();
  v.applied('a', item(1, 1, 'v1'), 1);
  v.acked('v1', 1, 1);
  v.acked('v2', 2, 1);
  v.finalCheck([{ id: 'a', applied: [item(1, 1, 'v1'), item(2, 1, 'v2')] }]);
  t.ok(v.ok);
  v.finalCheck([{ id: 'b', applied: [item(1, 1, 'v1')] }, { id: 'c', applied: [item(1, 1, 'v1'), item(2, 2, 'v9')] }]);
  t.match(v.errors, [/acknowledged write lost: v2 \(2\/1\) is not applied on b \(it has nothing there\)/, /acknowledged write lost: v2 \(2\/1\) is not applied on c \(it has 2\/2 "v9" there\)/]);
  const w = new Verifier();
  w.applied('a', item(4, 3, 'v4'), 3);
  w.droppedNeverApplied(4, 2, 'a');
  t.ok(w.ok, 'dropped, and another entry committed there');
  w.droppedNeverApplied(4, 3, 'a');
  t.match(w.errors, [/dropped proposal 4\/3 of a was committed/]);
});

/**
 * Two candidates that cannot see each other and one swing voter that crashes between their
 * vote requests. With a driver that forgets votedFor on disk, the swing voter votes twice in
 * one term: the harness must report two leaders. With a correct driver, nothing.
 */
function splitVote(forgetVotes: boolean): { errors: string[]; leaders: Array<[number, string]> } {
  const c = new Cluster({ seed: 31, size: 3, bugs: { forgetVotes } });
  if (!c.runUntil(() => !!c.readyLeader(), 5000)) throw new Error('no first leader');
  const s = c.readyLeader()!;
  const [x, y] = [...c.nodes.values()].filter((n) => n !== s);
  const term = s.raft.term;
  c.net.block(x.id, y.id);
  c.net.block(y.id, x.id);
  c.net.isolate(s.id);
  if (!c.runUntil(() => s.raft.role !== 'leader', 5000)) throw new Error('the old leader did not step down');
  c.run(3000);
  // x reaches s first; y cannot reach s yet
  c.net.block(y.id, s.id);
  c.net.block(s.id, y.id);
  c.net.rejoin(s.id);
  if (!c.runUntil(() => s.raft.status(c.now).votedFor === x.id && s.raft.term === term + 1, 10_000, 1)) throw new Error('s did not vote for x');
  c.net.block(x.id, s.id); // x's appends do not reach s
  c.crash(s.id, false);
  c.restart(s.id);
  c.net.unblock(y.id, s.id);
  c.net.unblock(s.id, y.id);
  c.runUntil(() => y.raft.role === 'leader', 20_000);
  return { errors: c.verifier.errors, leaders: [...c.verifier.leaders] };
}

t.test('the harness catches a driver that forgets votes: two leaders in one term', async (t) => {
  const broken = splitVote(true);
  t.match(broken.errors, [/election safety: two leaders in term 3/], 'the violation is reported');
  const correct = splitVote(false);
  t.same(correct.errors, [], 'the same schedule with a correct driver is safe');
  t.ok(correct.leaders.length >= 2, `elections happened: ${JSON.stringify(correct.leaders)}`);
});
