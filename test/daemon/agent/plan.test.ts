import t from 'tap';
import { containerHash, containerName, infraHash, planPod, type ContainerMemory, type Observed, type PlanInput } from '../../../daemon/src/agent/plan.js';
import type { Pod } from '../../../daemon/src/api/types.js';
import type { ContainerDetails } from '../../../daemon/src/runtime/types.js';

const NOW = Date.UTC(2026, 0, 1, 12);
const backoff = { baseMs: 10_000, maxMs: 300_000, resetMs: 600_000 };

function pod(containers = ['c'], over: Partial<Pod['spec']> = {}): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', uid: 'abcdef12-0000-4000-8000-000000000001' },
    spec: { restartPolicy: 'Always', containers: containers.map((name) => ({ name, image: 'img:1' })), ...over },
  };
}

let idSeq = 0;
function obs(p: Pod, container: string, attempt: number, d: Partial<ContainerDetails> = {}, hash?: string): Observed {
  const spec = p.spec.containers.find((c) => c.name === container);
  const id = `id${++idSeq}`;
  return {
    id, container, attempt,
    hash: hash ?? (container === 'POD' ? infraHash(p) : containerHash(p, spec!)),
    details: { id, name: containerName(p, container, attempt), image: 'img:1', imageId: 'sha256:1', labels: {}, state: 'running', running: true, createdAt: NOW - 60_000, startedAt: NOW - 59_000, oomKilled: false, ...d },
  };
}
const dead = (exitCode: number, finishedAt = NOW - 1000, startedAt = finishedAt - 1000): Partial<ContainerDetails> => ({ state: 'exited', running: false, exitCode, startedAt, finishedAt });
const plan = (p: Pod, observed: Observed[], memory: Record<string, Partial<ContainerMemory>> = {}, over: Partial<PlanInput> = {}) => planPod({
  pod: p, observed, now: NOW, backoff, terminal: false,
  memory: new Map(Object.entries(memory).map(([k, v]) => [k, { crashCount: 0, lastAttempt: -1, pullFailures: 0, ...v }])),
  ...over,
});

t.test('starts attempt 0 of a container that never ran and leaves a matching running container alone', async (t) => {
  const p = pod();
  t.same(plan(p, []).steps, [{ type: 'startContainer', container: 'c', attempt: 0, restart: false }]);
  t.same(plan(p, [obs(p, 'c', 0)]).steps, [], 'adopted as it is');
});

t.test('replaces a running container whose spec hash changed', async (t) => {
  const p = pod();
  const o = obs(p, 'c', 0, {}, 'stale');
  t.same(plan(p, [o]).steps, [{ type: 'stopContainer', id: o.id, container: 'c', graceSeconds: 30, why: 'spec-changed' }]);
});

t.test('restarts a dead container at once the first time, then with doubling back-off up to the cap', async (t) => {
  const p = pod();
  const first = plan(p, [obs(p, 'c', 0, dead(1))]);
  t.same(first.steps, [{ type: 'startContainer', container: 'c', attempt: 1, restart: true }]);
  t.equal(first.crashCounts.get('c'), 1);
  const second = plan(p, [obs(p, 'c', 1, dead(1, NOW - 1000))], { c: { crashCount: 1 } });
  t.equal(second.steps[0]?.type, 'crashLoopBackOff');
  t.match(second.steps[0], { delayMs: 10_000, until: NOW + 9000, message: /^back-off 10s restarting failed container=c pod=p_default\(abcdef12-/ });
  t.equal(second.requeueAfterMs, 9000);
  t.match(plan(p, [obs(p, 'c', 3, dead(1, NOW - 1000))], { c: { crashCount: 3 } }).steps[0], { type: 'crashLoopBackOff', delayMs: 40_000 });
  t.match(plan(p, [obs(p, 'c', 9, dead(1, NOW - 1000))], { c: { crashCount: 9 } }).steps[0], { type: 'crashLoopBackOff', delayMs: 300_000 }, 'capped');
  const due = plan(p, [obs(p, 'c', 1, dead(1, NOW - 11_000))], { c: { crashCount: 1 } });
  t.match(due.steps, [{ type: 'startContainer', attempt: 2 }]);
  t.equal(due.crashCounts.get('c'), 2);
});

t.test('resets the back-off after a container ran long enough', async (t) => {
  const p = pod();
  const r = plan(p, [obs(p, 'c', 5, dead(1, NOW - 1000, NOW - 700_000))], { c: { crashCount: 5 } });
  t.match(r.steps, [{ type: 'startContainer', attempt: 6 }]);
  t.equal(r.crashCounts.get('c'), 1);
});

t.test('keeps the previous attempt for logs --previous and removes older ones', async (t) => {
  const p = pod();
  const o2 = obs(p, 'c', 2, dead(1, NOW - 100_000));
  const o1 = obs(p, 'c', 1, dead(1, NOW - 200_000));
  const o0 = obs(p, 'c', 0, dead(1, NOW - 300_000));
  const r = plan(p, [o0, o1, o2], { c: { crashCount: 1 } });
  t.same(r.steps, [
    { type: 'removeContainer', id: o0.id, container: 'c', why: 'old' },
    { type: 'removeContainer', id: o1.id, container: 'c', why: 'old' },
    { type: 'startContainer', container: 'c', attempt: 3, restart: true },
  ]);
});

t.test('follows restartPolicy: Never never restarts, OnFailure restarts only failures', async (t) => {
  const never = pod(['c'], { restartPolicy: 'Never' });
  t.same(plan(never, [obs(never, 'c', 0, dead(1))]).steps, []);
  const onf = pod(['c'], { restartPolicy: 'OnFailure' });
  t.same(plan(onf, [obs(onf, 'c', 0, dead(0))]).steps, [], 'success is final');
  t.match(plan(onf, [obs(onf, 'c', 0, dead(2))]).steps, [{ type: 'startContainer', attempt: 1 }]);
  t.match(plan(onf, [obs(onf, 'c', 0, { state: 'created', running: false, startedAt: undefined, error: 'exec: "nope": not found' })]).steps, [{ type: 'startContainer', attempt: 1 }], 'a start that failed counts as a failure');
  const always = pod();
  t.match(plan(always, [obs(always, 'c', 0, dead(0))]).steps, [{ type: 'startContainer', attempt: 1 }], 'Always restarts even a success');
  t.same(plan(always, [obs(always, 'c', 0, dead(1))], {}, { terminal: true }).steps, [], 'a terminal pod starts nothing');
});

t.test('a container removed behind the agent is recreated with the next attempt', async (t) => {
  const p = pod();
  t.same(plan(p, [], { c: { lastAttempt: 4 } }).steps, [{ type: 'startContainer', container: 'c', attempt: 5, restart: true }]);
  const never = pod(['c'], { restartPolicy: 'Never' });
  t.same(plan(never, [], { c: { lastAttempt: 0 } }).steps, [], 'not with restartPolicy Never');
});

t.test('a multi-container pod first gets an infra container; losing it restarts the pod containers', async (t) => {
  const p = pod(['a', 'b']);
  const r = plan(p, []);
  t.same(r.steps, [{ type: 'createInfra', attempt: 0 }]);
  t.equal(r.requeueAfterMs, 1);
  const infra = obs(p, 'POD', 0);
  t.same(plan(p, [infra]).steps, [
    { type: 'startContainer', container: 'a', attempt: 0, restart: false },
    { type: 'startContainer', container: 'b', attempt: 0, restart: false },
  ]);
  const deadInfra = obs(p, 'POD', 0, dead(137));
  const a = obs(p, 'a', 0);
  const b = obs(p, 'b', 0);
  t.same(plan(p, [deadInfra, a, b]).steps, [
    { type: 'removeContainer', id: deadInfra.id, container: 'POD', why: 'infra-dead' },
    { type: 'stopContainer', id: a.id, container: 'a', graceSeconds: 30, why: 'infra-restart' },
    { type: 'stopContainer', id: b.id, container: 'b', graceSeconds: 30, why: 'infra-restart' },
    { type: 'createInfra', attempt: 1 },
  ]);
  const hostNet = pod(['a', 'b'], { hostNetwork: true });
  t.same(plan(hostNet, []).steps.map((s) => s.type), ['startContainer', 'startContainer'], 'hostNetwork pods need no infra container');
});

t.test('a liveness kill request stops exactly the container it was made for', async (t) => {
  const p = pod();
  const o = obs(p, 'c', 2);
  t.same(plan(p, [o], { c: { killRequest: { id: o.id, reason: 'Container c failed liveness probe, will be restarted', graceSeconds: 5 } } }).steps, [
    { type: 'stopContainer', id: o.id, container: 'c', graceSeconds: 5, why: 'liveness', message: 'Container c failed liveness probe, will be restarted' },
  ]);
  t.same(plan(p, [o], { c: { killRequest: { id: 'other', reason: 'x', graceSeconds: 5 } } }).steps, [], 'a request for an older container is ignored');
});

t.test('waits out an image pull back-off', async (t) => {
  const p = pod();
  const r = plan(p, [], { c: { pullFailures: 2, pullRetryAt: NOW + 20_000 } });
  t.same(r.steps, [{ type: 'pullBackOff', container: 'c', until: NOW + 20_000 }]);
  t.equal(r.requeueAfterMs, 20_000);
});

t.test('names containers pf_<ns>_<pod>_<container>_<attempt>_<uid8>', async (t) => {
  t.equal(containerName(pod(), 'c', 3), 'pf_default_p_c_3_abcdef12');
});

t.test('init containers run one at a time, each to success, before the app containers', async (t) => {
  const p: Pod = { ...pod(['app']), spec: { ...pod(['app']).spec, initContainers: [{ name: 'i1', image: 'img:1' }, { name: 'i2', image: 'img:1' }] } };
  t.same(plan(p, [obs(p, 'POD', 0)]).steps, [{ type: 'startContainer', container: 'i1', attempt: 0, restart: false }]);
  const i1 = (d: Partial<ContainerDetails>) => ({ ...obs(p, 'i1', 0, d), hash: containerHash(p, p.spec.initContainers![0]!) });
  t.same(plan(p, [obs(p, 'POD', 0), i1({})]).steps, [], 'wait for the running init container');
  t.same(plan(p, [obs(p, 'POD', 0), i1(dead(0))]).steps, [{ type: 'startContainer', container: 'i2', attempt: 0, restart: false }]);
  t.match(plan(p, [obs(p, 'POD', 0), i1(dead(1))]).steps, [{ type: 'startContainer', container: 'i1', attempt: 1 }], 'a failed init container is retried');
  const i2 = { ...obs(p, 'i2', 0, dead(0)), hash: containerHash(p, p.spec.initContainers![1]!) };
  t.same(plan(p, [obs(p, 'POD', 0), i1(dead(0)), i2]).steps, [{ type: 'startContainer', container: 'app', attempt: 0, restart: false }]);
  const never: Pod = { ...p, spec: { ...p.spec, restartPolicy: 'Never' } };
  t.same(plan(never, [obs(never, 'POD', 0), { ...obs(never, 'i1', 0, dead(1)), hash: containerHash(never, never.spec.initContainers![0]!) }]).steps, [], 'restartPolicy Never: no retry');
});

t.test('a container the engine left Created is replaced at once whatever the restart policy, and removed once a newer attempt exists', async (t) => {
  const leftover = { state: 'created', running: false, startedAt: undefined } as const;
  for (const restartPolicy of ['Never', 'OnFailure', 'Always'] as const) {
    const p = pod(['c'], { restartPolicy });
    const o = obs(p, 'c', 0, leftover);
    const r = plan(p, [o], { c: { lastAttempt: 0, crashCount: 3 } });
    t.same(r.steps, [{ type: 'startContainer', container: 'c', attempt: 1, restart: true }], `${restartPolicy}: a fresh attempt, the Created one is not started`);
    t.equal(r.crashCounts.get('c'), 3, `${restartPolicy}: no crash counted, no back-off`);
    t.equal(r.requeueAfterMs, undefined);
  }
  const p = pod();
  const stale = obs(p, 'c', 0, leftover);
  const fresh = obs(p, 'c', 1);
  t.same(plan(p, [fresh, stale]).steps, [{ type: 'removeContainer', id: stale.id, container: 'c', why: 'never-started' }], 'not the current attempt: removed');
  // after a crash: attempt 0 exited, attempt 1 never started; attempt 0 stays as the previous one
  const crashed = obs(p, 'c', 0, dead(1, NOW - 60_000));
  const unstarted = obs(p, 'c', 1, leftover);
  t.same(plan(p, [crashed, unstarted], { c: { lastAttempt: 1, crashCount: 1 } }).steps, [{ type: 'startContainer', container: 'c', attempt: 2, restart: true }]);
  // pull back-off is still respected; the Created container marks the attempt until replaced
  t.same(plan(p, [stale], { c: { lastAttempt: 0, pullFailures: 1, pullRetryAt: NOW + 5000 } }).steps, [{ type: 'pullBackOff', container: 'c', until: NOW + 5000 }]);
  t.same(plan(p, [stale], {}, { terminal: true }).steps, [{ type: 'removeContainer', id: stale.id, container: 'c', why: 'never-started' }], 'a terminal pod starts nothing and drops it');
  const failedStart = obs(p, 'c', 0, { ...leftover, createdAt: NOW - 1000, error: 'exec: "nope": not found' });
  t.match(plan(p, [failedStart], { c: { lastAttempt: 0, crashCount: 1 } }).steps, [{ type: 'crashLoopBackOff', container: 'c' }], 'a start Docker failed is a failure, with back-off');
});

t.test('an infra container the engine left Created is removed and the sandbox made again', async (t) => {
  const p = pod(['a', 'b']);
  const infra = obs(p, 'POD', 0, { state: 'created', running: false, startedAt: undefined });
  t.same(plan(p, [infra]).steps, [{ type: 'removeContainer', id: infra.id, container: 'POD', why: 'infra-dead' }, { type: 'createInfra', attempt: 1 }]);
});
