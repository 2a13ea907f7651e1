/**
 * The fleet in the lab: real daemons in network namespaces, each with its own Docker engine,
 * finding each other with mDNS and nothing configured but a shared token. Formation, spreading,
 * DaemonSets following nodes and labels, a worker's cable pulled and replugged.
 */
import t from 'tap';
import { Lab } from '../../harness/lab.js';
import { TestFleet } from '../../harness/fleet.js';
import { TEST_IMAGE_1 } from '../../harness/images.js';
import type { PodLike } from '../../harness/daemon.js';

const lab = await Lab.up(t, { nodes: 4, docker: true, prefix: 'cfl', subnet: '10.88.1' });

const deployment = (name: string, replicas: number): Record<string, unknown> => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'default' },
  spec: {
    replicas, selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: TEST_IMAGE_1, imagePullPolicy: 'Never', command: ['sleep', '3600'] }] } },
  },
});

const daemonSet = (name: string, selector?: Record<string, string>): Record<string, unknown> => ({
  apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name, namespace: 'default' },
  spec: {
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { ...(selector ? { nodeSelector: selector } : {}), terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: TEST_IMAGE_1, imagePullPolicy: 'Never', command: ['sleep', '3600'] }] } },
  },
});

function byNode(pods: PodLike[], ready = true): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of pods) {
    if (p.metadata.deletionTimestamp) continue;
    if (ready && !p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) continue;
    const n = p.spec.nodeName ?? '-';
    out[n] = (out[n] ?? 0) + 1;
  }
  return out;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let err: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) { err = e; }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${err ? `: ${(err as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

t.test('three daemons with only the same token form one fleet with one leader; replicas spread, DaemonSets follow nodes and labels, a pulled worker cable heals', async (t) => {
  const fleet = await TestFleet.create(t, lab);
  await fleet.start([1, 2, 3]);
  const formed = await fleet.formed([1, 2, 3], 3, 60_000);
  t.ok(formed.leader, `one fleet, leader ${formed.leader} in term ${formed.term}`);
  const leaders = [...fleet.timeline().values()];
  t.ok(leaders.every((s) => s.size === 1), 'no term had two leaders');

  const api = await fleet.api();
  t.teardown(() => api.close());
  const nodes = await until('three nodes Ready', async () => {
    const l = await api.request<{ items: Array<{ metadata: { name: string; labels?: Record<string, string> }; status?: { conditions?: Array<{ type: string; status: string }> } }> }>('get', { kind: 'nodes' });
    return l.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === 3 ? l.items : undefined;
  });
  t.same(nodes.map((n) => n.metadata.name).sort(), ['node1', 'node2', 'node3']);
  t.equal(nodes.filter((n) => n.metadata.labels?.['node-role.kubernetes.io/leader'] === '').length, 1, 'one node carries the leader role');

  // 6 replicas: 2 per node
  await api.request('apply', { objects: [deployment('spread', 6)] });
  const spread = await until('6 replicas ready', async () => {
    const pods = (await api.request<{ items: PodLike[] }>('get', { kind: 'pods', labelSelector: 'app=spread' })).items;
    const m = byNode(pods);
    return Object.values(m).reduce((a, b) => a + b, 0) === 6 ? m : undefined;
  }, 90_000);
  t.same(spread, { node1: 2, node2: 2, node3: 2 }, '2 per node');

  // a DaemonSet: one pod per node, one more on a 4th node that joins
  await api.request('apply', { objects: [daemonSet('agent')] });
  await until('a daemon pod on each of 3 nodes', async () => {
    const m = byNode((await api.request<{ items: PodLike[] }>('get', { kind: 'pods', labelSelector: 'app=agent' })).items);
    return Object.keys(m).length === 3 && Object.values(m).every((v) => v === 1) ? m : undefined;
  }, 60_000);
  await fleet.start([4]);
  await fleet.formed([1, 2, 3, 4], 4, 60_000);
  const four = await until('a daemon pod on the 4th node', async () => {
    const m = byNode((await api.request<{ items: PodLike[] }>('get', { kind: 'pods', labelSelector: 'app=agent' })).items);
    return Object.keys(m).length === 4 ? m : undefined;
  }, 60_000);
  t.same(four, { node1: 1, node2: 1, node3: 1, node4: 1 }, 'the joining node got its daemon pod');

  // a DaemonSet with a nodeSelector follows a label added and removed
  await api.request('apply', { objects: [daemonSet('gpu', { accel: 'yes' })] });
  const label = (await fleet.node(1).cli(['label', 'nodes', 'node2', 'accel=yes']));
  t.equal(label.code, 0, label.stderr);
  await until('the labelled node runs the selected DaemonSet', async () => {
    const m = byNode((await api.request<{ items: PodLike[] }>('get', { kind: 'pods', labelSelector: 'app=gpu' })).items);
    return m.node2 === 1 && Object.keys(m).length === 1 ? m : undefined;
  });
  t.equal((await fleet.node(3).cli(['label', 'nodes', 'node2', 'accel-'])).code, 0);
  await until('the pod leaves with the label', async () => {
    const pods = (await api.request<{ items: PodLike[] }>('get', { kind: 'pods', labelSelector: 'app=gpu' })).items;
    return pods.length === 0 ? true : undefined;
  });
  t.pass('the DaemonSet followed the label in and out');

  // a worker's cable pulled: its Deployment pods come back elsewhere within seconds, it keeps its pods meanwhile
  const worker = [1, 2, 3].find((i) => `node${i}` !== formed.leader) as number;
  const workerName = `node${worker}`;
  const t0 = Date.now();
  await lab.cut(worker);
  const healed = await until('6 ready replicas without the cut node', async () => {
    const m = byNode((await api.request<{ items: PodLike[] }>('get', { kind: 'pods', labelSelector: 'app=spread' })).items);
    const live = Object.entries(m).filter(([n]) => n !== workerName).reduce((a, [, v]) => a + v, 0);
    return live >= 6 ? Date.now() - t0 : undefined;
  }, 60_000);
  t.comment(`worker cable pull to 6 replicas ready elsewhere: ${(healed / 1000).toFixed(1)} s`);
  t.ok(healed < 30_000, `healed in ${(healed / 1000).toFixed(1)} s`);
  const keep = await lab.exec(worker, ['docker', 'ps', '-q', '--filter', `label=pifleet.cluster=${fleet.cluster}`, '--filter', 'label=pifleet.pod.name'], { env: { DOCKER_HOST: lab.dockerHost(worker) } });
  t.ok(keep.stdout.trim().split('\n').filter(Boolean).length >= 2, 'the cut node keeps its containers running (edge autonomy)');
  await lab.restore(worker);
  await fleet.formed([1, 2, 3, 4], 4, 60_000);
  const settled = await until('the returned node stops the replaced pods', async () => {
    const r = await lab.exec(worker, ['docker', 'ps', '--filter', `label=pifleet.cluster=${fleet.cluster}`, '--format', '{{.Label "pifleet.pod.name"}}'], { env: { DOCKER_HOST: lab.dockerHost(worker) } });
    const pods = (await api.request<{ items: PodLike[] }>('get', { kind: 'pods', labelSelector: 'app=spread' })).items.filter((p) => !p.metadata.deletionTimestamp);
    const desiredHere = new Set(pods.filter((p) => p.spec.nodeName === workerName).map((p) => p.metadata.name));
    const stale = r.stdout.split('\n').filter((n) => n.startsWith('spread-') && !desiredHere.has(n));
    return stale.length === 0 && pods.length === 6 ? pods.length : undefined;
  }, 60_000);
  t.equal(settled, 6, 'no Deployment ends above its replica count');
});
