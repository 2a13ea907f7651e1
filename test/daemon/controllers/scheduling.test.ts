import t from 'tap';
import { SchedulingController, nodeInfos } from '../../../daemon/src/controllers/scheduling.js';
import { ControllerManager } from '../../../daemon/src/controllers/manager.js';
import type { Pod } from '../../../daemon/src/api/types.js';
import { create, env, get, node, pod, setPhase } from './fixtures.js';

t.test('a pending pod is bound to a fitting node and a Scheduled event is recorded', async (t) => {
  const e = await env(t);
  await e.putNode(node('n1', { cpu: '1' }));
  await e.putNode(node('n2', { cpu: '4' }));
  const m = new ControllerManager(e.ctx, [new SchedulingController(e.ctx)]);
  t.teardown(() => m.stop());
  m.start();
  await create(e.store, pod('p', { cpu: '2' }));
  await m.idle();
  t.equal(get<Pod>(e.store, 'Pod', 'p').spec.nodeName, 'n2');
  t.match(e.recorder.events.find((x) => x.reason === 'Scheduled'), { type: 'Normal', message: 'Successfully assigned default/p to n2' });
});

t.test('a pod that fits nowhere stays Pending with PodScheduled=False and the reasons, once per message, and is bound when a node appears', async (t) => {
  const e = await env(t);
  await e.putNode(node('small', { memory: '256Mi' }));
  const m = new ControllerManager(e.ctx, [new SchedulingController(e.ctx)]);
  t.teardown(() => m.stop());
  m.start();
  await create(e.store, pod('big', { memory: '1Gi' }));
  await m.idle();
  const rev = e.store.revision;
  const p = get<Pod>(e.store, 'Pod', 'big');
  t.notOk(p.spec.nodeName);
  t.equal(p.status?.phase, 'Pending');
  t.match(p.status?.conditions?.[0], { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient memory.' });
  e.clock.advance(30_000); // the retry
  await m.idle();
  t.equal(e.recorder.events.filter((x) => x.reason === 'FailedScheduling').length, 1, 'the same reason is reported once');
  t.equal(e.store.revision, rev, 'an unschedulable pod writes nothing to the log');
  await e.putNode(node('big-node', { memory: '8Gi' }));
  await m.idle();
  t.equal(get<Pod>(e.store, 'Pod', 'big').spec.nodeName, 'big-node', 'a new node wakes the waiting pods');
});

t.test('a pod finishing on a node frees its resources for a waiting pod', async (t) => {
  const e = await env(t);
  await e.putNode(node('n1', { cpu: '1' }));
  const m = new ControllerManager(e.ctx, [new SchedulingController(e.ctx)]);
  t.teardown(() => m.stop());
  m.start();
  const running = await create(e.store, pod('running', { cpu: '1', nodeName: 'n1' }));
  await create(e.store, pod('waiting', { cpu: '1' }));
  await m.idle();
  t.notOk(get<Pod>(e.store, 'Pod', 'waiting').spec.nodeName);
  setPhase(e, running, 'Succeeded');
  await m.idle();
  t.equal(get<Pod>(e.store, 'Pod', 'waiting').spec.nodeName, 'n1');
});

t.test('a node becoming Ready wakes pending pods; terminating and bound pods are not scheduled', async (t) => {
  const e = await env(t);
  await e.putNode(node('n1', { ready: 'False' }));
  const m = new ControllerManager(e.ctx, [new SchedulingController(e.ctx)]);
  t.teardown(() => m.stop());
  m.start();
  await create(e.store, pod('p'));
  const doomed = pod('doomed');
  doomed.metadata.deletionTimestamp = new Date(e.clock.now()).toISOString();
  await create(e.store, doomed);
  await m.idle();
  t.notOk(get<Pod>(e.store, 'Pod', 'p').spec.nodeName);
  await e.putNode(node('n1'));
  await m.idle();
  t.equal(get<Pod>(e.store, 'Pod', 'p').spec.nodeName, 'n1');
});

t.test('nodeInfos counts only unfinished pods bound to each node', async (t) => {
  const a = pod('a', { nodeName: 'n1' });
  const done: Pod = { ...pod('b', { nodeName: 'n1' }), status: { phase: 'Succeeded' } };
  const unbound = pod('c');
  const infos = nodeInfos([a, done, unbound], [node('n1'), node('n2')]);
  t.same(infos.map((i) => [i.node.metadata.name, i.pods.map((p) => p.metadata.name)]), [['n1', ['a']], ['n2', []]]);
});

t.test('a node takes at most its allocatable pods (110 by default): the next one is Pending with "Too many pods" until one finishes', async (t) => {
  const e = await env(t);
  await e.putNode(node('n1'));
  const m = new ControllerManager(e.ctx, [new SchedulingController(e.ctx)]);
  t.teardown(() => m.stop());
  m.start();
  await e.store.commit(Array.from({ length: 112 }, (_, i) => ({ type: 'create' as const, obj: pod(`p${i}`) })));
  await m.idle();
  const pods = e.store.list<Pod>('Pod');
  t.equal(pods.filter((p) => p.spec.nodeName === 'n1').length, 110);
  const waiting = pods.filter((p) => !p.spec.nodeName);
  t.equal(waiting.length, 2);
  for (const p of waiting) t.match(p.status?.conditions?.[0], { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Too many pods.' });
  setPhase(e, pods.find((p) => p.spec.nodeName) as Pod, 'Succeeded');
  await m.idle();
  t.equal(e.store.list<Pod>('Pod').filter((p) => !p.spec.nodeName).length, 1, 'a finished pod frees its slot');
});
