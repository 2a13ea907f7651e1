import t from 'tap';
import { ControllerManager, type Controller } from '../../../daemon/src/controllers/manager.js';
import type { ReconcileResult } from '../../../daemon/src/lib/workqueue.js';
import type { WatchEvent } from '../../../daemon/src/state/store.js';
import { create, env, pod } from './fixtures.js';

function fake(name: string, behave: (key: string, n: number) => ReconcileResult | Promise<ReconcileResult> = () => undefined) {
  const calls: string[] = [];
  let started = 0;
  let stopped = 0;
  const c: Controller = {
    name,
    *keysFor(ev: WatchEvent) { if (ev.obj.kind === 'Pod') yield ev.obj.metadata.name; },
    *initialKeys() { yield 'initial'; },
    async reconcile(key: string) {
      calls.push(key);
      return behave(key, calls.filter((k) => k === key).length);
    },
    start() { started++; },
    stop() { stopped++; },
  };
  return { c, calls, starts: () => started, stops: () => stopped };
}

t.test('start resyncs every controller, then store changes are turned into keys', async (t) => {
  const e = await env(t);
  const a = fake('a');
  const b = fake('b');
  const m = new ControllerManager(e.ctx, [a.c, b.c]);
  t.teardown(() => m.stop());
  m.start();
  m.start(); // idempotent
  t.equal(m.running, true);
  t.equal(a.starts(), 1);
  await m.idle();
  t.same(a.calls, ['initial']);
  await create(e.store, pod('p1'));
  await m.idle();
  t.same(a.calls, ['initial', 'p1']);
  t.same(b.calls, ['initial', 'p1']);
  m.enqueue('b', 'manual');
  m.enqueue('no-such-controller', 'x');
  await m.idle();
  t.same(b.calls, ['initial', 'p1', 'manual']);
});

t.test('a failing reconcile is retried with backoff on the clock, and stop() ends everything', async (t) => {
  const e = await env(t);
  const a = fake('a', (key, n) => { if (key === 'initial' && n < 3) throw new Error('flaky'); });
  const m = new ControllerManager(e.ctx, [a.c]);
  m.start();
  await m.idle();
  t.same(a.calls, ['initial']);
  e.clock.advance(199);
  await m.idle();
  t.equal(a.calls.length, 1, 'not before the 200 ms base delay');
  e.clock.advance(1);
  await m.idle();
  t.equal(a.calls.length, 2);
  e.clock.advance(400);
  await m.idle();
  t.equal(a.calls.length, 3, 'then 400 ms, and it succeeds');
  e.clock.advance(60_000);
  await m.idle();
  t.equal(a.calls.length, 3, 'no more retries after success');
  m.stop();
  t.equal(m.running, false);
  t.equal(a.stops(), 1);
  await create(e.store, pod('after-stop'));
  await m.idle();
  t.equal(a.calls.length, 3, 'a stopped manager does not react');
});

t.test('idle() waits for chains where one controller wakes another', async (t) => {
  const e = await env(t);
  // "a" and "b" take turns: each pod chain-i makes the other controller create chain-(i+1)
  const step = (mine: number) => async (key: string): Promise<void> => {
    const m = /^chain-(\d+)$/.exec(key === 'initial' ? 'chain--1' : key);
    const i = m ? Number(m[1]) : -1;
    if (key === 'initial' && mine !== 0) return;
    if (key !== 'initial' && (i % 2 === 0) !== (mine === 1)) return;
    if (i + 1 < 8 && !e.store.get('Pod', 'default', `chain-${i + 1}`)) await create(e.store, pod(`chain-${i + 1}`));
  };
  const a = fake('a', step(0));
  const b = fake('b', step(1));
  const m = new ControllerManager(e.ctx, [a.c, b.c]);
  t.teardown(() => m.stop());
  m.start();
  await m.idle();
  t.equal(e.store.list('Pod').length, 8, 'the whole chain ran before idle() resolved');
});
