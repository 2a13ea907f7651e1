import t from 'tap';
import { MemoryNetwork, SimClock } from '../../../daemon/src/cluster/memory-transport.js';
import type { Transport } from '../../../daemon/src/cluster/transport.js';
import { FakeClock } from '../../../daemon/src/lib/clock.js';
import { createSeededRandom } from '../../../daemon/src/lib/random.js';

type Got = Array<[at: number, to: string, from: string, msg: unknown]>;

function fleet(ids: string[], opts: { seed?: number; clock?: SimClock | FakeClock; faults?: ConstructorParameters<typeof MemoryNetwork>[0]['faults']; serialize?: boolean } = {}) {
  const clock = opts.clock ?? new SimClock(0);
  const net = new MemoryNetwork({ clock, random: createSeededRandom(opts.seed ?? 1).float, faults: opts.faults, serialize: opts.serialize });
  const got: Got = [];
  const ts = new Map<string, Transport>();
  for (const id of ids) {
    const tr = net.transport(id);
    tr.onMessage((from, msg) => got.push([clock.now(), id, from, msg]));
    ts.set(id, tr);
  }
  return { clock, net, got, ts, send: (from: string, to: string, msg: unknown) => ts.get(from)!.send(to, msg) };
}

t.test('messages arrive after their delay, only when the simulated clock moves', async (t) => {
  const f = fleet(['a', 'b'], { faults: { minDelayMs: 10, maxDelayMs: 10 } });
  f.send('a', 'b', { n: 1 });
  f.send('b', 'a', { n: 2 });
  t.same(f.got, [], 'nothing is delivered synchronously');
  t.equal(f.net.inFlight, 2);
  f.clock.advance(9);
  t.same(f.got, []);
  f.clock.advance(1);
  t.same(f.got, [[10, 'b', 'a', { n: 1 }], [10, 'a', 'b', { n: 2 }]], 'equal delays keep the sending order');
  t.same(f.net.stats, { sent: 2, delivered: 2, dropped: 0, cut: 0, unknown: 0 });
  t.equal(f.ts.get('a')!.self, 'a');
});

t.test('random delays reorder messages, and the same seed replays the same order', async (t) => {
  const run = (seed: number) => {
    const f = fleet(['a', 'b'], { seed, faults: { minDelayMs: 1, maxDelayMs: 50, reorderRate: 0.3, reorderDelayMs: 200 } });
    for (let i = 0; i < 50; i++) f.send('a', 'b', i);
    f.clock.advance(1000);
    return f.got.map((g) => g[3] as number);
  };
  const a = run(7);
  t.equal(a.length, 50);
  t.not(a.join(), [...a].sort((x, y) => x - y).join(), 'reordered');
  t.same(run(7), a, 'deterministic for a seed');
  t.not(run(8).join(), a.join(), 'another seed, another order');
});

t.test('a drop rate loses about that share of messages', async (t) => {
  const f = fleet(['a', 'b'], { faults: { dropRate: 0.25 } });
  for (let i = 0; i < 4000; i++) f.send('a', 'b', i);
  f.clock.advance(10);
  const lost = f.net.stats.dropped;
  t.ok(lost > 850 && lost < 1150, `${lost} of 4000 lost`);
  t.equal(f.got.length + lost, 4000);
  f.net.setFaults({ dropRate: 0 });
  t.equal(f.net.faults.dropRate, 0);
});

t.test('partitions split members into groups; unlisted members form one more group', async (t) => {
  const f = fleet(['a', 'b', 'c', 'd', 'e']);
  f.net.partition(['a', 'b'], ['c']);
  const pairs: string[] = [];
  for (const x of ['a', 'b', 'c', 'd', 'e']) for (const y of ['a', 'b', 'c', 'd', 'e']) if (x !== y && f.net.reachable(x, y)) pairs.push(x + y);
  t.same(pairs, ['ab', 'ba', 'de', 'ed']);
  f.send('a', 'c', 1);
  f.send('a', 'b', 2);
  f.clock.advance(5);
  t.same(f.got.map((g) => g[3]), [2]);
  t.equal(f.net.stats.cut, 1);
  f.net.partition(['a']);
  t.ok(f.net.reachable('b', 'c'), 'a new partition replaces the old one');
  t.notOk(f.net.reachable('a', 'b'));
});

t.test('block is one way, isolate cuts a member off, heal undoes both', async (t) => {
  const f = fleet(['a', 'b', 'c']);
  f.net.block('a', 'b');
  t.notOk(f.net.reachable('a', 'b'));
  t.ok(f.net.reachable('b', 'a'), 'the other direction still works');
  f.net.unblock('a', 'b');
  t.ok(f.net.reachable('a', 'b'));
  f.net.block('a', 'b');
  f.net.isolate('c');
  t.notOk(f.net.reachable('c', 'a'));
  t.notOk(f.net.reachable('b', 'c'));
  f.net.rejoin('c');
  t.ok(f.net.reachable('b', 'c'));
  f.net.isolate('c');
  f.net.partition(['a']);
  f.net.heal();
  for (const [x, y] of [['a', 'b'], ['b', 'c'], ['c', 'a'], ['b', 'a']]) t.ok(f.net.reachable(x, y), `${x}->${y} after heal`);
});

t.test('a cut made while a message is in flight loses it', async (t) => {
  const f = fleet(['a', 'b'], { faults: { minDelayMs: 20, maxDelayMs: 20 } });
  f.send('a', 'b', 1);
  f.clock.advance(10);
  f.net.isolate('b');
  f.clock.advance(20);
  t.same(f.got, []);
  t.equal(f.net.stats.cut, 1);
  t.equal(f.net.inFlight, 0);
});

t.test('messages are JSON copies; closed and unknown members get nothing; send never throws', async (t) => {
  const f = fleet(['a', 'b']);
  const msg = { n: 1, nested: { x: [1, 2] }, gone: undefined };
  f.send('a', 'b', msg);
  msg.nested.x.push(3);
  f.clock.advance(5);
  t.same(f.got[0][3], { n: 1, nested: { x: [1, 2] } }, 'what was sent, not what the sender changed later; undefined fields vanish as on the wire');
  t.doesNotThrow(() => f.send('a', 'nobody', 1));
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  t.doesNotThrow(() => f.send('a', 'b', circular), 'an unserializable message is lost, not thrown');
  const b = f.ts.get('b')!;
  f.send('a', 'b', 'late');
  await b.close();
  f.clock.advance(5);
  t.equal(f.got.length, 1, 'a message to a closed member is lost');
  f.send('b', 'a', 'from the closed one');
  f.clock.advance(5);
  t.equal(f.got.length, 1, 'a closed transport sends nothing');
  t.equal(f.net.stats.unknown, 3, 'unknown member, unserializable, closed at delivery');
  // a restart: a new transport for the same member receives again
  const b2 = f.net.transport('b');
  const got2: unknown[] = [];
  b2.onMessage((_from, m) => got2.push(m));
  f.send('a', 'b', 'again');
  f.clock.advance(5);
  t.same(got2, ['again']);
  t.throws(() => b2.onMessage(() => undefined), /already set/);
  const raw = fleet(['a', 'b'], { serialize: false });
  const obj = { k: 1 };
  raw.send('a', 'b', obj);
  raw.clock.advance(5);
  t.equal(raw.got[0][3], obj, 'serialize: false passes the object itself');
});

t.test('the network runs on lib/clock FakeClock too', async (t) => {
  const clock = new FakeClock(0);
  const f = fleet(['a', 'b'], { clock, faults: { minDelayMs: 5, maxDelayMs: 15 } });
  for (let i = 0; i < 10; i++) f.send('a', 'b', i);
  clock.advance(4);
  t.equal(f.got.length, 0);
  clock.advance(11);
  t.equal(f.got.length, 10);
  t.ok(f.got.every((g) => g[0] >= 5 && g[0] <= 15));
});

t.test('SimClock fires timers in time, then creation order, skips cancelled ones and guards livelocks', async (t) => {
  const c = new SimClock(100);
  const fired: string[] = [];
  c.setTimeout(() => fired.push('b'), 20);
  c.setTimeout(() => fired.push('a'), 10);
  const x = c.setTimeout(() => fired.push('x'), 15);
  c.setTimeout(() => {
    fired.push('a2');
    c.setTimeout(() => fired.push('nested'), 0);
  }, 10);
  x.cancel();
  x.cancel();
  t.equal(c.pending(), 3);
  t.equal(c.nextAt(), 110);
  c.advance(15);
  t.same(fired, ['a', 'a2', 'nested']);
  t.equal(c.now(), 115);
  t.ok(c.runNext());
  t.same(fired, ['a', 'a2', 'nested', 'b']);
  t.equal(c.now(), 120);
  t.notOk(c.runNext(), 'nothing left');
  t.equal(c.fired, 4);
  t.equal(c.monotonic(), c.now());
  const loop = new SimClock(0);
  const again = () => { loop.setTimeout(again, 0); };
  again();
  t.throws(() => loop.runUntil(10, 1000), /livelock/);
});
