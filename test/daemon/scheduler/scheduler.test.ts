import t from 'tap';
import { schedule, quantity, podRequests, unfitReasons, tolerates, matchesNodeSelector, allocatable, DEFAULT_MAX_PODS, type NodeInfo } from '../../../daemon/src/scheduler/scheduler.js';
import type { Node, Pod } from '../../../daemon/src/api/types.js';
import { node, pod, type NodeOpts } from '../controllers/fixtures.js';

const info = (n: Node, pods: Pod[] = []): NodeInfo => ({ node: n, pods });
const owner = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web', uid: 'rs-uid' } };
const mk = (name: string, o: NodeOpts = {}): Node => node(name, o);

t.test('quantities parse cpu millicores and binary/decimal memory suffixes', async (t) => {
  t.equal(quantity('250m'), 0.25);
  t.equal(quantity('2'), 2);
  t.equal(quantity('128Mi'), 128 * 2 ** 20);
  t.equal(quantity('1Gi'), 2 ** 30);
  t.equal(quantity('1G'), 1e9);
  t.equal(quantity('1.5Gi'), 1.5 * 2 ** 30);
  t.equal(quantity(undefined), 0);
  t.ok(Number.isNaN(quantity('12 parsecs')));
});

t.test('a pod requests the sum of its containers but at least its largest init container', async (t) => {
  const p = pod('p', { cpu: '250m', memory: '64Mi' });
  p.spec.containers.push({ name: 'side', image: 'x', resources: { limits: { cpu: '500m', memory: '32Mi' } } });
  p.spec.initContainers = [{ name: 'init', image: 'x', resources: { requests: { cpu: '100m', memory: '512Mi' } } }];
  t.same(podRequests(p), { cpu: 0.75, memory: 512 * 2 ** 20 }, 'limits stand in for missing requests; init memory dominates');
});

t.test('a pod goes to a node with room for its cpu and memory requests', async (t) => {
  const small = mk('small', { cpu: '1', memory: '512Mi' });
  const big = mk('big', { cpu: '4', memory: '4Gi' });
  const r = schedule(pod('p', { cpu: '2', memory: '1Gi' }), [info(small), info(big)]);
  t.equal(r.node, 'big');
  const full = schedule(pod('p', { cpu: '2' }), [info(big, [pod('a', { cpu: '3', nodeName: 'big' })])]);
  t.equal(full.node, undefined);
  t.equal(full.message, '0/1 nodes are available: 1 Insufficient cpu.');
  t.equal(schedule(pod('p', { cpu: '1' }), [info(big, [pod('a', { cpu: '3', nodeName: 'big' })])]).node, 'big', 'exactly fitting is fine');
});

t.test('the pods count of a node is a limit too', async (t) => {
  const n = mk('n', { pods: '2' });
  const r = schedule(pod('p'), [info(n, [pod('a', { nodeName: 'n' }), pod('b', { nodeName: 'n' })])]);
  t.equal(r.message, '0/1 nodes are available: 1 Too many pods.');
  t.equal(schedule(pod('p'), [info(n, [pod('a', { nodeName: 'n' })])]).node, 'n');
});

t.test('a node that does not report a pods count takes 110; one that reports "0" takes none', async (t) => {
  const silent = mk('n');
  delete (silent.status as { allocatable?: unknown }).allocatable;
  delete (silent.status as { capacity?: unknown }).capacity;
  t.equal(allocatable(silent).pods, DEFAULT_MAX_PODS);
  t.equal(DEFAULT_MAX_PODS, 110, "Kubernetes' kubelet default");
  const full = Array.from({ length: 110 }, (_, i) => pod(`p${i}`, { nodeName: 'n' }));
  t.equal(schedule(pod('x'), [info(silent, full)]).message, '0/1 nodes are available: 1 Too many pods.');
  t.equal(schedule(pod('x'), [info(silent, full.slice(1))]).node, 'n', 'the 110th fits');
  const none = mk('z', { pods: '0' });
  t.equal(allocatable(none).pods, 0);
  t.same(unfitReasons(pod('x'), info(none)), ['Too many pods']);
});

t.test('nodeSelector and required node affinity restrict the nodes', async (t) => {
  const a = mk('a', { labels: { disk: 'ssd' } });
  const b = mk('b', { labels: { disk: 'hdd' } });
  t.equal(schedule(pod('p', { nodeSelector: { disk: 'ssd' } }), [info(b), info(a)]).node, 'a');
  const none = schedule(pod('p', { nodeSelector: { disk: 'nvme' } }), [info(a), info(b)]);
  t.equal(none.message, "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.");
  const aff = pod('p');
  aff.spec.affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'disk', operator: 'NotIn', values: ['ssd'] }] }] } } };
  t.equal(schedule(aff, [info(a), info(b)]).node, 'b');
  t.equal(matchesNodeSelector(aff, a), false);
});

t.test('NoSchedule taints keep pods off unless tolerated; Exists tolerates any value', async (t) => {
  const tainted = mk('gpu', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] });
  const r = schedule(pod('p'), [info(tainted)]);
  t.equal(r.message, '0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}.');
  t.equal(schedule(pod('p', { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }] }), [info(tainted)]).node, 'gpu');
  t.equal(schedule(pod('p', { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'cpu', effect: 'NoSchedule' }] }), [info(tainted)]).node, undefined, 'wrong value');
  t.equal(schedule(pod('p', { tolerations: [{ key: 'dedicated', operator: 'Exists' }] }), [info(tainted)]).node, 'gpu', 'Exists, any effect');
  t.equal(schedule(pod('p', { tolerations: [{ operator: 'Exists' }] }), [info(tainted)]).node, 'gpu', 'empty key with Exists tolerates everything');
  t.equal(schedule(pod('p', { tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }] }), [info(tainted)]).node, undefined, 'effect must match');
  const soft = mk('soft', { taints: [{ key: 'x', effect: 'PreferNoSchedule' }] });
  t.equal(schedule(pod('p'), [info(soft)]).node, 'soft', 'PreferNoSchedule does not filter');
  t.equal(tolerates(pod('p', { tolerations: [{ key: 'k', operator: 'Equal', value: '' }] }), { key: 'k', effect: 'NoSchedule' }), true);
});

t.test('NotReady and unschedulable nodes take no new pods', async (t) => {
  const r = schedule(pod('p'), [info(mk('a', { ready: 'False' })), info(mk('b', { ready: 'Unknown' })), info(mk('c', { unschedulable: true })), info(mk('d'))]);
  t.equal(r.node, 'd');
  const none = schedule(pod('p'), [info(mk('a', { ready: 'False' })), info(mk('b', { ready: 'Unknown' })), info(mk('c', { unschedulable: true }))]);
  t.equal(none.message, '0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 1 node(s) were unschedulable.');
});

t.test('each node counts once, for the first filter it fails, and reasons are listed like Kubernetes', async (t) => {
  const nodes = [
    info(mk('a', { labels: { zone: 'x' }, ready: 'False' })), // not ready (and no label match): one reason only
    info(mk('b', { cpu: '1' })), // no label match
    info(mk('c', { labels: { zone: 'x' }, cpu: '1', memory: '128Mi' })), // insufficient cpu and memory
  ];
  const p = pod('p', { cpu: '2', memory: '1Gi', nodeSelector: { zone: 'x' } });
  const r = schedule(p, nodes);
  t.equal(r.node, undefined);
  t.same(r.reasons, { 'node(s) had untolerated taint {node.kubernetes.io/not-ready: }': 1, "node(s) didn't match Pod's node affinity/selector": 1, 'Insufficient cpu': 1, 'Insufficient memory': 1 });
  t.equal(r.message, "0/3 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }.");
  t.same(unfitReasons(p, nodes[0] as NodeInfo), ['node(s) had untolerated taint {node.kubernetes.io/not-ready: }']);
  t.equal(schedule(pod('p'), []).message, '0/0 nodes are available.');
});

t.test('host ports conflict on the same node', async (t) => {
  const withPort = (name: string, nodeName?: string): Pod => {
    const p = pod(name, nodeName ? { nodeName } : {});
    (p.spec.containers[0] as { ports?: unknown }).ports = [{ containerPort: 80, hostPort: 8080 }];
    return p;
  };
  const r = schedule(withPort('p'), [info(mk('a'), [withPort('q', 'a')]), info(mk('b'))]);
  t.equal(r.node, 'b');
  const none = schedule(withPort('p'), [info(mk('a'), [withPort('q', 'a')])]);
  t.equal(none.message, "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.");
});

t.test('replicas of the same owner spread across nodes before doubling up', async (t) => {
  const nodes = [info(mk('a')), info(mk('b')), info(mk('c'))];
  const placed: string[] = [];
  for (let i = 0; i < 6; i++) {
    const p = pod(`web-${i}`, { owner: owner as never });
    const r = schedule(p, nodes);
    t.ok(r.node);
    placed.push(r.node as string);
    const target = nodes.find((n) => n.node.metadata.name === r.node) as NodeInfo;
    target.pods.push({ ...p, spec: { ...p.spec, nodeName: r.node } });
  }
  t.same([...placed].sort(), ['a', 'a', 'b', 'b', 'c', 'c'], 'two per node');
  t.same(placed.slice(0, 3).sort(), ['a', 'b', 'c'], 'the first three on three different nodes');
});

t.test('siblings spread even onto a busier node, and without siblings the least allocated node wins', async (t) => {
  const busy = info(mk('busy'), [pod('other', { cpu: '3', nodeName: 'busy' })]);
  const idle = info(mk('idle'), [pod('web-0', { cpu: '100m', nodeName: 'idle', owner: owner as never })]);
  t.equal(schedule(pod('web-1', { cpu: '100m', owner: owner as never }), [busy, idle]).node, 'busy', 'spreading comes before allocation');
  t.equal(schedule(pod('lone', { cpu: '100m' }), [busy, info(mk('idle2'))]).node, 'idle2');
  t.equal(schedule(pod('lone'), [info(mk('b')), info(mk('a'))]).node, 'a', 'ties go to the first name');
});
