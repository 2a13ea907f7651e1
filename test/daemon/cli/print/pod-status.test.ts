import t from 'tap';
import { podSummary } from '../../../../daemon/src/cli/print/pod-status.js';
import type { ContainerStatus, Pod } from '../../../../daemon/src/api/types.js';

const now = Date.parse('2026-06-01T12:00:00Z');
const ago = (s: number): string => new Date(now - s * 1000).toISOString();

function pod(statuses: ContainerStatus[], extra: { phase?: string; conditions?: Array<{ type: string; status: string; reason?: string }>; reason?: string; deleting?: boolean; init?: ContainerStatus[]; initSpecs?: Array<{ name: string; restartPolicy?: string }>; containers?: number } = {}): Pod {
  const n = extra.containers ?? Math.max(1, statuses.length);
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', ...(extra.deleting ? { deletionTimestamp: ago(-30) } : {}) },
    spec: {
      containers: Array.from({ length: n }, (_, i) => ({ name: `c${i}`, image: 'x' })),
      ...(extra.initSpecs ? { initContainers: extra.initSpecs.map((c) => ({ image: 'x', ...c })) } : {}),
    },
    status: {
      phase: extra.phase ?? 'Running',
      ...(extra.reason ? { reason: extra.reason } : {}),
      ...(extra.conditions ? { conditions: extra.conditions } : {}),
      containerStatuses: statuses,
      ...(extra.init ? { initContainerStatuses: extra.init } : {}),
    },
  } as Pod;
}

const cs = (name: string, state: ContainerStatus['state'], more: Partial<ContainerStatus> = {}): ContainerStatus =>
  ({ name, image: 'x', imageID: '', ready: false, restartCount: 0, state, ...more }) as ContainerStatus;

t.test('a running ready container is Running 1/1 with no restarts', async (t) => {
  t.same(podSummary(pod([cs('c0', { running: { startedAt: ago(10) } }, { ready: true })]), now), { ready: '1/1', status: 'Running', restarts: '0' });
});

t.test('the reason of a waiting container is the status', async (t) => {
  for (const reason of ['ContainerCreating', 'CrashLoopBackOff', 'ErrImagePull', 'ImagePullBackOff', 'CreateContainerConfigError']) {
    t.equal(podSummary(pod([cs('c0', { waiting: { reason } })], { phase: 'Pending' }), now).status, reason);
  }
  t.equal(podSummary(pod([cs('c0', { waiting: {} })], { phase: 'Pending' }), now).status, 'Pending', 'no reason: the phase');
});

t.test('a terminated container shows its reason, else ExitCode:N or Signal:N', async (t) => {
  t.equal(podSummary(pod([cs('c0', { terminated: { exitCode: 137, reason: 'OOMKilled' } })], { phase: 'Failed' }), now).status, 'OOMKilled');
  t.equal(podSummary(pod([cs('c0', { terminated: { exitCode: 0, reason: 'Completed' } })], { phase: 'Succeeded' }), now).status, 'Completed');
  t.equal(podSummary(pod([cs('c0', { terminated: { exitCode: 1, reason: 'Error' } })], { phase: 'Failed' }), now).status, 'Error');
  t.equal(podSummary(pod([cs('c0', { terminated: { exitCode: 3 } })], { phase: 'Failed' }), now).status, 'ExitCode:3');
  t.equal(podSummary(pod([cs('c0', { terminated: { exitCode: 0, signal: 9 } })], { phase: 'Failed' }), now).status, 'Signal:9');
});

t.test('the first container listed wins when several have reasons', async (t) => {
  const p = pod([cs('c0', { waiting: { reason: 'CrashLoopBackOff' } }), cs('c1', { waiting: { reason: 'ContainerCreating' } })], { phase: 'Pending' });
  t.equal(podSummary(p, now).status, 'CrashLoopBackOff');
});

t.test('a completed sidecar next to a running container reads Running when ready, NotReady when not', async (t) => {
  const statuses = [cs('c0', { running: { startedAt: ago(5) } }, { ready: true }), cs('c1', { terminated: { exitCode: 0, reason: 'Completed' } })];
  t.equal(podSummary(pod(statuses, { conditions: [{ type: 'Ready', status: 'True' }] }), now).status, 'Running');
  t.equal(podSummary(pod(statuses, { conditions: [{ type: 'Ready', status: 'False' }] }), now).status, 'NotReady');
  t.equal(podSummary(pod(statuses), now).ready, '1/2');
});

t.test('a pod being deleted is Terminating unless it already finished; an unreachable node makes it Unknown', async (t) => {
  t.equal(podSummary(pod([cs('c0', { running: {} }, { ready: true })], { deleting: true }), now).status, 'Terminating');
  t.equal(podSummary(pod([cs('c0', { terminated: { exitCode: 0, reason: 'Completed' } })], { phase: 'Succeeded', deleting: true }), now).status, 'Completed');
  t.equal(podSummary(pod([cs('c0', { running: {} })], { deleting: true, reason: 'NodeLost' }), now).status, 'Unknown');
});

t.test('restarts show how long ago the last container restart ended', async (t) => {
  const p = pod([
    cs('c0', { running: {} }, { ready: true, restartCount: 2, lastState: { terminated: { exitCode: 1, finishedAt: ago(600) } } }),
    cs('c1', { running: {} }, { ready: true, restartCount: 1, lastState: { terminated: { exitCode: 1, finishedAt: ago(90) } } }),
  ]);
  t.equal(podSummary(p, now).restarts, '3 (90s ago)');
  t.equal(podSummary(pod([cs('c0', { running: {} }, { restartCount: 4 })]), now).restarts, '4', 'no finish time known: the count alone');
});

t.test('init containers: progress, failures and waiting reasons come first', async (t) => {
  const initSpecs = [{ name: 'i0' }, { name: 'i1' }];
  const main = [cs('c0', { waiting: { reason: 'PodInitializing' } })];
  t.equal(podSummary(pod(main, { phase: 'Pending', initSpecs, init: [cs('i0', { terminated: { exitCode: 0 } }), cs('i1', { running: {} })] }), now).status, 'Init:1/2');
  t.equal(podSummary(pod(main, { phase: 'Pending', initSpecs, init: [cs('i0', { waiting: { reason: 'CrashLoopBackOff' } }), cs('i1', { waiting: {} })] }), now).status, 'Init:CrashLoopBackOff');
  t.equal(podSummary(pod(main, { phase: 'Pending', initSpecs, init: [cs('i0', { terminated: { exitCode: 2 } }), cs('i1', { waiting: {} })] }), now).status, 'Init:ExitCode:2');
  const started = podSummary(pod(main, { phase: 'Pending', initSpecs, init: [cs('i0', { terminated: { exitCode: 0 } }), cs('i1', { terminated: { exitCode: 0 } })] }), now);
  t.equal(started.status, 'PodInitializing', 'all init containers done: the main container reason');
});

t.test('a restartable init container (sidecar) counts toward READY', async (t) => {
  const p = pod([cs('c0', { running: {} }, { ready: true })], {
    initSpecs: [{ name: 'side', restartPolicy: 'Always' }],
    init: [cs('side', { running: {} }, { ready: true, started: true })],
    conditions: [{ type: 'Initialized', status: 'True' }],
  });
  t.same(podSummary(p, now), { ready: '2/2', status: 'Running', restarts: '0' });
});

t.test('a pod without status is Pending with 0 ready', async (t) => {
  const p = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' }, spec: { containers: [{ name: 'a' }, { name: 'b' }] } } as Pod;
  t.same(podSummary(p, now), { ready: '0/2', status: 'Pending', restarts: '0' });
  const gated = { ...p, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated' }] } } as Pod;
  t.equal(podSummary(gated, now).status, 'SchedulingGated');
});
