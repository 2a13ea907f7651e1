import t from 'tap';
import { WorkQueue, type ReconcileResult } from '../../../daemon/src/lib/workqueue.js';
import { FakeClock } from '../../../daemon/src/lib/clock.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function recorder(result: (key: string, n: number) => ReconcileResult | Promise<ReconcileResult> = () => undefined) {
  const calls: string[] = [];
  const handler = async (key: string): Promise<ReconcileResult> => {
    calls.push(key);
    return result(key, calls.filter((k) => k === key).length);
  };
  return { calls, handler };
}

t.test('a key added many times before it runs is processed once', async (t) => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock });
  q.add('a'); q.add('a'); q.add('b'); q.add('a');
  t.equal(q.length, 2);
  const r = recorder();
  q.run(r.handler);
  await q.idle();
  t.same(r.calls, ['a', 'b']);
});

t.test('an add during processing runs the key again afterwards, never concurrently', async (t) => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock, concurrency: 4 });
  let running = 0;
  let maxRunning = 0;
  let release: (() => void) | undefined;
  const calls: string[] = [];
  q.run(async (key) => {
    calls.push(key);
    running++;
    maxRunning = Math.max(maxRunning, running);
    if (calls.length === 1) await new Promise<void>((r) => { release = r; });
    running--;
  });
  q.add('a');
  await tick();
  q.add('a');
  q.add('a');
  await tick();
  t.equal(calls.length, 1, 'not started again while the first run is in flight');
  release?.();
  await q.idle();
  t.same(calls, ['a', 'a'], 'exactly one more run for the adds made while processing');
  t.equal(maxRunning, 1);
});

t.test('addAfter runs the key only when the clock reaches the delay, and the earliest schedule wins', async (t) => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock });
  const r = recorder();
  q.run(r.handler);
  q.addAfter('a', 5000);
  q.addAfter('a', 10_000); // later: ignored
  q.addAfter('a', 2000); // earlier: replaces
  t.equal(clock.pending(), 1, 'one timer per key');
  clock.advance(1999);
  await q.idle();
  t.same(r.calls, []);
  clock.advance(1);
  await q.idle();
  t.same(r.calls, ['a']);
  clock.advance(60_000);
  await q.idle();
  t.same(r.calls, ['a'], 'the replaced schedules never fire');
});

t.test('add() of a delayed key runs it now and cancels the delay', async (t) => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock });
  const r = recorder();
  q.run(r.handler);
  q.addAfter('a', 5000);
  q.add('a');
  await q.idle();
  t.same(r.calls, ['a']);
  t.equal(clock.pending(), 0);
  clock.advance(10_000);
  await q.idle();
  t.same(r.calls, ['a']);
});

t.test('a failing key is retried with exponential backoff, capped, and forgotten after a success', async (t) => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock, baseDelayMs: 100, maxDelayMs: 1000 });
  const errors: number[] = [];
  let failUntil = 6;
  const times: number[] = [];
  q.run(async () => {
    times.push(clock.now());
    if (times.length <= failUntil) throw new Error('boom');
    return undefined;
  }, (_k, _e) => errors.push(q.failures('a')));
  const t0 = clock.now();
  q.add('a');
  await q.idle();
  // step the clock in 50 ms slices so every retry fires at its due time
  for (let i = 0; i < 200 && times.length < failUntil + 1; i++) { clock.advance(50); await q.idle(); }
  t.same(times.map((x) => x - t0), [0, 100, 300, 700, 1500, 2500, 3500], '100, 200, 400, 800, then capped at 1000');
  t.equal(q.failures('a'), 0, 'a success forgets the failures');
  t.equal(errors.length, 6);
  failUntil = 0;
});

t.test('requeue: true backs off like a failure; requeueAfterMs schedules without counting a failure', async (t) => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock, baseDelayMs: 100, maxDelayMs: 10_000 });
  const r = recorder((key, n) => (key === 'r' ? (n < 3 ? { requeue: true } : undefined) : n === 1 ? { requeueAfterMs: 700 } : undefined));
  q.run(r.handler);
  q.add('r');
  q.add('s');
  await q.idle();
  t.equal(q.failures('r'), 1);
  t.equal(q.failures('s'), 0);
  clock.advance(100);
  await q.idle();
  t.equal(q.failures('r'), 2);
  clock.advance(200);
  await q.idle();
  t.equal(q.failures('r'), 0);
  t.same(r.calls.filter((k) => k === 'r').length, 3);
  t.same(r.calls.filter((k) => k === 's').length, 1);
  clock.advance(400);
  await q.idle();
  t.same(r.calls.filter((k) => k === 's').length, 2, 'requeued after 700 ms');
});

t.test('idle() resolves only when nothing is queued or processing; delayed keys do not count', async (t) => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock });
  let release: (() => void) | undefined;
  q.run(async () => { await new Promise<void>((r) => { release = r; }); });
  q.add('a');
  q.addAfter('b', 1000);
  let idle = false;
  void q.idle().then(() => { idle = true; });
  await tick();
  t.equal(idle, false);
  release?.();
  await tick();
  await tick();
  t.equal(idle, true);
});

t.test('stop() drops queued and delayed keys and later adds', async (t) => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock });
  q.add('a');
  q.addAfter('b', 100);
  q.stop();
  t.equal(q.length, 0);
  t.equal(clock.pending(), 0);
  const r = recorder();
  q.add('c');
  clock.advance(1000);
  t.equal(q.length, 0, 'adds after stop are ignored');
  await q.idle();
  t.same(r.calls, []);
});

t.test('concurrency bounds how many different keys run at once', async (t) => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock, concurrency: 2 });
  let running = 0;
  let max = 0;
  q.run(async () => {
    running++;
    max = Math.max(max, running);
    await tick();
    running--;
  });
  for (const k of ['a', 'b', 'c', 'd', 'e']) q.add(k);
  await q.idle();
  t.equal(max, 2);
});
