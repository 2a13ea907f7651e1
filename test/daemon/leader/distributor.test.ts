import t from 'tap';
import { Distributor, podReferences } from '../../../daemon/src/leader/distributor.js';
import { ControllerManager } from '../../../daemon/src/controllers/manager.js';
import type { KObject, Pod } from '../../../daemon/src/api/types.js';
import type { NodeDesiredMessage } from '../../../daemon/src/broker/topics.js';
import { create, env, get, node, pod, runningStatus, update, type Env } from '../controllers/fixtures.js';

function setup(e: Env) {
  const sent: Array<{ node: string; msg: NodeDesiredMessage }> = [];
  const dist = new Distributor(e.ctx, async (n, msg) => { sent.push({ node: n, msg }); });
  const m = new ControllerManager(e.ctx, [dist]);
  return { sent, dist, m, count: (n: string) => sent.filter((s) => s.node === n).length, last: (n: string) => [...sent].reverse().find((s) => s.node === n)?.msg };
}

const cm = (name: string, data: Record<string, string>): KObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data });
const secret = (name: string): KObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default' }, type: 'Opaque', data: { pw: 'aHVudGVyMg==' } });

function podUsing(name: string, nodeName: string): Pod {
  const p = pod(name, { nodeName });
  p.spec.volumes = [{ name: 'cfg', configMap: { name: 'settings' } }];
  p.spec.containers[0]!.env = [{ name: 'PW', valueFrom: { secretKeyRef: { name: 'creds', key: 'pw' } } }];
  return p;
}

t.test('each node is sent its own pods (without status) and the ConfigMaps and Secrets they use, and nothing else', async (t) => {
  const e = await env(t);
  const s = setup(e);
  t.teardown(() => s.m.stop());
  await e.putNode(node('a'));
  await e.putNode(node('b'));
  await create(e.store, cm('settings', { k: 'v' }));
  await create(e.store, cm('unused', { k: 'v' }));
  await create(e.store, secret('creds'));
  s.m.start();
  await create(e.store, podUsing('p-a', 'a'));
  await create(e.store, pod('p-b', { nodeName: 'b' }));
  await create(e.store, pod('pending'));
  await s.m.idle();
  const a = s.last('a') as NodeDesiredMessage;
  t.same(a.pods.map((p) => p.metadata.name), ['p-a']);
  t.same(a.configMaps.map((c) => c.metadata.name), ['settings']);
  t.same(a.secrets.map((c) => c.metadata.name), ['creds']);
  t.same((a.secrets[0] as { data?: unknown }).data, { pw: 'aHVudGVyMg==' }, 'secret data reaches its node');
  const b = s.last('b') as NodeDesiredMessage;
  t.same(b.pods.map((p) => p.metadata.name), ['p-b']);
  t.same(b.configMaps, []);
  t.same(b.secrets, [], 'a node gets no secret its pods do not use');
  t.equal(a.term, e.store.term);
});

t.test('a node is sent a new message only when its content changes, not on status reports or unrelated writes', async (t) => {
  const e = await env(t);
  const s = setup(e);
  t.teardown(() => s.m.stop());
  await e.putNode(node('a'));
  await e.putNode(node('b'));
  await create(e.store, cm('settings', { k: 'v1' }));
  await create(e.store, secret('creds'));
  s.m.start();
  const p = await create(e.store, podUsing('p-a', 'a'));
  await s.m.idle();
  const base = s.count('a');
  t.ok(base >= 1);
  e.store.setPodStatus('default', 'p-a', runningStatus(e.clock.now()), p.metadata.uid);
  await create(e.store, pod('p-b', { nodeName: 'b' }));
  await create(e.store, cm('other', { x: '1' }));
  await s.m.idle();
  t.equal(s.count('a'), base, 'status and unrelated changes: nothing sent to a');
  await update(e.store, get(e.store, 'ConfigMap', 'settings'), (o) => { (o as unknown as { data: Record<string, string> }).data = { k: 'v2' }; });
  await s.m.idle();
  t.equal(s.count('a'), base + 1, 'a ConfigMap its pod uses changed');
  t.same((s.last('a')?.configMaps[0] as { data?: unknown }).data, { k: 'v2' });
  // a reconcile with nothing new publishes nothing
  s.m.enqueue('distributor', 'a');
  await s.m.idle();
  t.equal(s.count('a'), base + 1);
  const marked = structuredClone(get<Pod>(e.store, 'Pod', 'p-a'));
  delete marked.status;
  marked.metadata.deletionTimestamp = new Date(e.clock.now() + 30_000).toISOString();
  await e.store.commit([{ type: 'update', obj: marked }]);
  await s.m.idle();
  t.equal(s.count('a'), base + 2, 'a deletion mark is news for the node');
  t.ok(s.last('a')?.pods[0]?.metadata.deletionTimestamp);
  await e.store.commit([{ type: 'delete', kind: 'Pod', namespace: 'default', name: 'p-a' }]);
  await s.m.idle();
  t.same(s.last('a')?.pods, [], 'the removed pod is gone from the node\'s list');
  t.same(s.last('a')?.configMaps, []);
});

t.test('reset() makes the next reconcile publish again (a new broker has no retained state)', async (t) => {
  const e = await env(t);
  const s = setup(e);
  t.teardown(() => s.m.stop());
  await e.putNode(node('a'));
  s.m.start();
  await s.m.idle();
  t.equal(s.count('a'), 1, 'a new node gets its (empty) desired state');
  s.dist.reset();
  s.m.enqueue('distributor', 'a');
  await s.m.idle();
  t.equal(s.count('a'), 2);
});

t.test('pod references cover volumes, projected sources, env, envFrom and imagePullSecrets', async (t) => {
  const p = pod('p');
  p.spec.volumes = [
    { name: 'a', configMap: { name: 'cm-vol' } },
    { name: 'b', secret: { secretName: 'sec-vol' } },
    { name: 'c', projected: { sources: [{ configMap: { name: 'cm-proj' } }, { secret: { name: 'sec-proj' } }] } },
  ];
  p.spec.containers[0]!.envFrom = [{ configMapRef: { name: 'cm-envfrom' } }, { secretRef: { name: 'sec-envfrom' } }];
  p.spec.initContainers = [{ name: 'init', image: 'x', env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'cm-init', key: 'a' } } }] }];
  p.spec.imagePullSecrets = [{ name: 'regcred' }];
  const refs = podReferences(p);
  t.same([...refs.configMaps].sort(), ['cm-envfrom', 'cm-init', 'cm-proj', 'cm-vol']);
  t.same([...refs.secrets].sort(), ['regcred', 'sec-envfrom', 'sec-proj', 'sec-vol']);
});
