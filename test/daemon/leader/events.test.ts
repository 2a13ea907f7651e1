import t from 'tap';
import { EventStore } from '../../../daemon/src/leader/events.js';
import { buildEvent } from '../../../daemon/src/events/recorder.js';
import type { Event } from '../../../daemon/src/api/types.js';
import { env } from '../controllers/fixtures.js';
import { rfc3339 } from '../../../daemon/src/lib/time.js';

const ref = { kind: 'Pod', namespace: 'default', name: 'web-1', uid: 'u1' };
let n = 0;
const ev = (now: number, reason = 'BackOff', message = 'Back-off restarting failed container', host = 'pi-2'): Event =>
  buildEvent(ref, 'Warning', reason, message, { component: 'kubelet', host }, now, String(n++));

t.test('repeats of the same event are aggregated into one with a count and the latest time', async (t) => {
  const e = await env(t);
  const es = new EventStore(e.store, e.clock);
  const t0 = e.clock.now();
  es.add(ev(t0));
  e.clock.advance(10_000);
  es.add(ev(e.clock.now()));
  e.clock.advance(10_000);
  es.add(ev(e.clock.now()));
  const events = e.store.list<Event>('Event');
  t.equal(events.length, 1);
  t.equal(events[0]?.count, 3);
  t.equal(events[0]?.firstTimestamp, rfc3339(t0));
  t.equal(events[0]?.lastTimestamp, rfc3339(t0 + 20_000));
});

t.test('events differing in reason, message or source are kept apart', async (t) => {
  const e = await env(t);
  const es = new EventStore(e.store, e.clock);
  const now = e.clock.now();
  es.add(ev(now));
  es.add(ev(now, 'Pulled'));
  es.add(ev(now, 'BackOff', 'another message'));
  es.add(ev(now, 'BackOff', 'Back-off restarting failed container', 'pi-3'));
  t.equal(e.store.list('Event').length, 4);
  t.ok(e.store.list<Event>('Event').every((x) => x.count === 1));
});

t.test('malformed events are ignored', async (t) => {
  const e = await env(t);
  const es = new EventStore(e.store, e.clock);
  for (const bad of [null, 42, {}, { kind: 'Event', metadata: { name: 'x' } }, { ...ev(0), reason: 7 }]) es.add(bad);
  t.equal(e.store.list('Event').length, 0);
});

t.test('the store keeps at most maxEvents, dropping the least recent, and none older than the ttl', async (t) => {
  const e = await env(t);
  const es = new EventStore(e.store, e.clock, { maxEvents: 3, ttlMs: 60_000 });
  for (let i = 0; i < 5; i++) {
    es.add(ev(e.clock.now(), `R${i}`));
    e.clock.advance(1000);
  }
  t.same(e.store.list<Event>('Event').map((x) => x.reason).sort(), ['R2', 'R3', 'R4']);
  // an aggregated repeat of R2 refreshes it, so R3 is now the least recent
  es.add(ev(e.clock.now(), 'R2'));
  es.add(ev(e.clock.now(), 'R5'));
  t.same(e.store.list<Event>('Event').map((x) => x.reason).sort(), ['R2', 'R4', 'R5']);
  e.clock.advance(61_000);
  es.add(ev(e.clock.now(), 'fresh'));
  t.same(e.store.list<Event>('Event').map((x) => x.reason), ['fresh'], 'older than the ttl: pruned');
  // a pruned event starts a new aggregate
  es.add(ev(e.clock.now(), 'fresh'));
  t.equal(e.store.list<Event>('Event')[0]?.count, 2);
  const rev = e.store.revision;
  t.equal(rev, 0, 'events never reach the desired-state log');
});
