import t from 'tap';
import { backoffDelay, jittered } from '../../../daemon/src/lib/backoff.js';
import { FakeClock } from '../../../daemon/src/lib/clock.js';
import { createSeededRandom } from '../../../daemon/src/lib/random.js';

t.test('backoff doubles from the base and stops at the cap', async (t) => {
  t.same([0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, 10_000, 300_000)), [0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000]);
  t.equal(backoffDelay(1000, 10_000, 300_000), 300_000, 'huge attempt counts do not overflow past the cap');
  t.equal(backoffDelay(-1, 10, 100), 0);
});

t.test('jitter stays within the fraction and is deterministic with a seeded random', async (t) => {
  const a = createSeededRandom(5);
  const b = createSeededRandom(5);
  for (let i = 0; i < 100; i++) {
    const x = jittered(1000, 0.2, a.float);
    t.ok(x >= 800 && x <= 1200, `${x} within 20%`);
    t.equal(x, jittered(1000, 0.2, b.float));
  }
  t.equal(jittered(1000, 0.5, () => 0), 500);
  t.equal(jittered(1000, 0.5, () => 0.5), 1000);
});

t.test('the fake clock fires timers in time order, only when advanced, and cancelled ones never', async (t) => {
  const clock = new FakeClock(0);
  const fired: string[] = [];
  clock.setTimeout(() => fired.push('b'), 200);
  clock.setTimeout(() => fired.push('a'), 100);
  const c = clock.setTimeout(() => fired.push('c'), 150);
  clock.setTimeout(() => fired.push('a2'), 100);
  c.cancel();
  clock.advance(99);
  t.same(fired, []);
  clock.advance(200);
  t.same(fired, ['a', 'a2', 'b']);
  t.equal(clock.now(), 299);
  t.equal(clock.monotonic(), 299);
  clock.set(5_000_000);
  t.equal(clock.monotonic(), 299, 'a wall-clock step does not move monotonic time');
});

t.test('seeded random gives the same names for the same seed and k8s-style suffixes', async (t) => {
  const a = createSeededRandom(9);
  const b = createSeededRandom(9);
  const sa = a.suffix(5);
  t.equal(sa, b.suffix(5));
  t.match(sa, /^[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  t.not(a.uuid(), a.uuid());
});
