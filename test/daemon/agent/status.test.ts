import t from 'tap';
import { computePodStatus, podPhaseOf, qosClassOf, type ContainerView } from '../../../daemon/src/agent/status.js';
import { containerHash, type Observed } from '../../../daemon/src/agent/plan.js';
import type { Pod } from '../../../daemon/src/api/types.js';
import type { ContainerDetails } from '../../../daemon/src/runtime/types.js';
import { rfc3339 } from '../../../daemon/src/lib/time.js';

const NOW = Date.UTC(2026, 0, 1, 12);
function pod(containers = ['c'], restartPolicy: 'Always' | 'OnFailure' | 'Never' = 'Always'): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', uid: 'u' }, spec: { restartPolicy, containers: containers.map((name) => ({ name, image: 'img:1' })) } };
}
let n = 0;
function obs(p: Pod, container: string, attempt: number, d: Partial<ContainerDetails> = {}): Observed {
  const id = `${'0'.repeat(60)}${String(++n).padStart(4, '0')}`;
  return {
    id, container, attempt, hash: containerHash(p, p.spec.containers.find((c) => c.name === container)!),
    details: { id, name: 'x', image: 'img:1', imageId: 'sha256:abc', labels: {}, state: 'running', running: true, createdAt: NOW - 5000, startedAt: NOW - 4000, oomKilled: false, ...d },
  };
}
const dead = (exitCode: number, extra: Partial<ContainerDetails> = {}): Partial<ContainerDetails> => ({ state: 'exited', running: false, exitCode, finishedAt: NOW - 1000, ...extra });
const views = (v: Record<string, ContainerView>): Map<string, ContainerView> => new Map(Object.entries(v));
const status = (p: Pod, observed: Observed[], v: Record<string, ContainerView> = {}) => computePodStatus({ pod: p, observed, views: views(v), hostIP: '10.0.0.2', podIP: '172.17.0.2', startTime: rfc3339(NOW - 6000), now: NOW });

t.test('a running ready container makes the pod Running and Ready with kubelet fields', async (t) => {
  const p = pod();
  const o = obs(p, 'c', 0);
  const s = status(p, [o], { c: { ready: true, started: true } });
  t.equal(s.phase, 'Running');
  t.same(s.conditions?.map((c) => `${c.type}=${c.status}`), ['Initialized=True', 'Ready=True', 'ContainersReady=True', 'PodScheduled=True']);
  t.equal(s.podIP, '172.17.0.2');
  t.same(s.podIPs, [{ ip: '172.17.0.2' }]);
  t.equal(s.hostIP, '10.0.0.2');
  t.equal(s.qosClass, 'BestEffort');
  const c = s.containerStatuses?.[0];
  t.match(c, { name: 'c', image: 'img:1', imageID: 'docker://sha256:abc', containerID: `docker://${o.id}`, ready: true, started: true, restartCount: 0, state: { running: { startedAt: rfc3339(NOW - 4000) } } });
});

t.test('not ready containers are named in the Ready condition', async (t) => {
  const p = pod(['a', 'b']);
  const s = status(p, [obs(p, 'a', 0), obs(p, 'b', 0)], { a: { ready: true, started: true }, b: { ready: false, started: true } });
  const ready = s.conditions?.find((c) => c.type === 'Ready');
  t.match(ready, { status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [b]' });
});

t.test('waiting reasons, lastState and restartCount follow the current and previous attempt', async (t) => {
  const p = pod();
  const prev = obs(p, 'c', 3, dead(2));
  const s = status(p, [prev], { c: { ready: false, started: false, waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=c pod=p_default(u)' } } });
  const c = s.containerStatuses?.[0];
  t.equal(c?.restartCount, 3);
  t.same(c?.state, { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=c pod=p_default(u)' } });
  t.match(c?.lastState, { terminated: { exitCode: 2, reason: 'Error' } });
  t.equal(s.phase, 'Running', 'a crash-looping container with restartPolicy Always: Running');
  const running = status(p, [obs(p, 'c', 4), prev], { c: { ready: true, started: true } }).containerStatuses?.[0];
  t.equal(running?.restartCount, 4);
  t.match(running?.lastState, { terminated: { exitCode: 2, reason: 'Error' } });
  const pending = status(p, [], { c: { ready: false, started: false, waiting: { reason: 'ErrImagePull', message: 'no registry' } } });
  t.equal(pending.phase, 'Pending');
  t.same(pending.containerStatuses?.[0]?.state, { waiting: { reason: 'ErrImagePull', message: 'no registry' } });
  t.same(status(p, []).containerStatuses?.[0]?.state, { waiting: { reason: 'ContainerCreating' } });
});

t.test('terminated reasons: Completed, Error, OOMKilled and StartError', async (t) => {
  const p = pod(['c'], 'Never');
  const term = (d: Partial<ContainerDetails>) => status(p, [obs(p, 'c', 0, d)]).containerStatuses?.[0]?.state?.terminated;
  t.match(term(dead(0)), { reason: 'Completed', exitCode: 0 });
  t.match(term(dead(1)), { reason: 'Error', exitCode: 1 });
  t.match(term(dead(137, { oomKilled: true })), { reason: 'OOMKilled', exitCode: 137 });
  t.match(term({ state: 'created', running: false, startedAt: undefined, error: 'executable file not found' }), { reason: 'StartError', exitCode: 128, message: 'executable file not found' });
});

t.test('phase follows the kubelet rules per restart policy', async (t) => {
  const mk = (policy: 'Always' | 'OnFailure' | 'Never', codes: number[]) => {
    const p = pod(codes.map((_, i) => `c${i}`), policy);
    return status(p, codes.map((code, i) => obs(p, `c${i}`, 0, code < 0 ? {} : dead(code)))).phase;
  };
  t.equal(mk('Never', [0, 0]), 'Succeeded');
  t.equal(mk('Never', [0, 1]), 'Failed');
  t.equal(mk('Never', [0, -1]), 'Running');
  t.equal(mk('OnFailure', [0, 0]), 'Succeeded');
  t.equal(mk('OnFailure', [1]), 'Running');
  t.equal(mk('Always', [0]), 'Running');
  const p = pod(['c'], 'Never');
  const s = status(p, [obs(p, 'c', 0, dead(0))]);
  t.match(s.conditions?.find((c) => c.type === 'Ready'), { status: 'False', reason: 'PodCompleted' });
  t.equal(podPhaseOf(p, []), 'Pending');
});

t.test('condition transition times are kept while the status is unchanged', async (t) => {
  const p = pod();
  const o = obs(p, 'c', 0);
  const first = computePodStatus({ pod: p, observed: [o], views: views({ c: { ready: false, started: true } }), now: NOW });
  const later = computePodStatus({ pod: p, observed: [o], views: views({ c: { ready: false, started: true } }), previous: first, now: NOW + 5000 });
  t.same(later.conditions, first.conditions);
  const ready = computePodStatus({ pod: p, observed: [o], views: views({ c: { ready: true, started: true } }), previous: first, now: NOW + 9000 });
  t.equal(ready.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime, rfc3339(NOW + 9000));
  t.equal(ready.conditions?.find((c) => c.type === 'PodScheduled')?.lastTransitionTime, rfc3339(NOW));
});

t.test('QoS class from requests and limits', async (t) => {
  const p = (resources: Pod['spec']['containers'][number]['resources']): Pod => ({ ...pod(), spec: { containers: [{ name: 'c', image: 'i', resources }] } });
  t.equal(qosClassOf(p(undefined)), 'BestEffort');
  t.equal(qosClassOf(p({ limits: { cpu: '1', memory: '1Gi' } })), 'Guaranteed');
  t.equal(qosClassOf(p({ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1000m', memory: '1Gi' } })), 'Guaranteed');
  t.equal(qosClassOf(p({ requests: { memory: '1Gi' } })), 'Burstable');
});

t.test('init containers: Initialized false with PodInitializing until they completed; a final failure fails the pod', async (t) => {
  const mk = (policy: 'Always' | 'Never'): Pod => ({ ...pod(['app'], policy), spec: { ...pod(['app'], policy).spec, initContainers: [{ name: 'init', image: 'img:1' }] } });
  const p = mk('Always');
  const initObs = (d: Partial<ContainerDetails>): Observed => ({ ...obs(p, 'app', 0, d), container: 'init' });
  const s = status(p, [initObs({})]);
  t.equal(s.phase, 'Pending');
  t.match(s.conditions?.find((c) => c.type === 'Initialized'), { status: 'False', reason: 'ContainersNotInitialized', message: 'containers with incomplete status: [init]' });
  t.same(s.containerStatuses?.[0]?.state, { waiting: { reason: 'PodInitializing' } });
  t.equal(s.initContainerStatuses?.[0]?.ready, false);
  t.ok(s.initContainerStatuses?.[0]?.state?.running);
  const done = status(p, [initObs(dead(0))]);
  t.equal(done.conditions?.find((c) => c.type === 'Initialized')?.status, 'True');
  t.equal(done.initContainerStatuses?.[0]?.ready, true);
  t.same(done.containerStatuses?.[0]?.state, { waiting: { reason: 'ContainerCreating' } });
  const n = mk('Never');
  t.equal(status(n, [{ ...initObs(dead(1)), container: 'init' }]).phase, 'Failed');
  t.equal(status(p, [initObs(dead(1))]).phase, 'Pending', 'retried with restartPolicy Always');
});

t.test('a container the engine left Created is no state of the pod: a Never pod is not Failed by it', async (t) => {
  const p = pod(['c'], 'Never');
  const s = status(p, [obs(p, 'c', 0, { state: 'created', running: false, startedAt: undefined })]);
  t.equal(s.phase, 'Pending');
  t.same(s.containerStatuses?.[0]?.state, { waiting: { reason: 'ContainerCreating' } });
  t.same(s.containerStatuses?.[0]?.lastState, {});
  const a = pod();
  const st = status(a, [obs(a, 'c', 1), obs(a, 'c', 0, { state: 'created', running: false, startedAt: undefined })], { c: { ready: true, started: true } });
  t.same(st.containerStatuses?.[0]?.lastState, {}, 'no StartError as the last state');
  t.equal(st.containerStatuses?.[0]?.restartCount, 1);
  const failed = status(p, [obs(p, 'c', 0, { state: 'created', running: false, startedAt: undefined, exitCode: 127, error: 'exec: "nope": not found' })]);
  t.equal(failed.phase, 'Failed', 'a start Docker failed is still a StartError');
  t.equal(failed.containerStatuses?.[0]?.state?.terminated?.reason, 'StartError');
});
