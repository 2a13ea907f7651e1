/**
 * The leader's controllers together, as leader.ts wires them, against simulated node agents
 * that do what the real agent does over MQTT: take their desired state from the Distributor,
 * report pod statuses (Running and Ready), drop pods marked for deletion from their reports,
 * and post heartbeats. Time is a FakeClock; nothing leaves the process.
 */
import t from 'tap';
import { ControllerManager, type ControllerContext } from '../../../daemon/src/controllers/manager.js';
import { ReplicaSetController } from '../../../daemon/src/controllers/replicaset/controller.js';
import { DeploymentController } from '../../../daemon/src/controllers/deployment/controller.js';
import { DaemonSetController } from '../../../daemon/src/controllers/daemonset/controller.js';
import { SchedulingController } from '../../../daemon/src/controllers/scheduling.js';
import { GarbageCollector, NamespaceController } from '../../../daemon/src/controllers/gc.js';
import { NodeRegistry, PodTerminationController } from '../../../daemon/src/leader/nodes.js';
import { Distributor } from '../../../daemon/src/leader/distributor.js';
import { KINDS } from '../../../daemon/src/api/kinds.js';
import { isOwnedBy, isReady } from '../../../daemon/src/controllers/pods.js';
import type { Deployment, Pod, ReplicaSet } from '../../../daemon/src/api/types.js';
import type { NodeDesiredMessage } from '../../../daemon/src/broker/topics.js';
import { create, daemonSet, deployment, env, get, node, runningStatus, update, type Env } from '../controllers/fixtures.js';

const GRACE = 40;
const EVICT = 20;

class Fleet {
  readonly desired = new Map<string, NodeDesiredMessage>();
  readonly alive = new Set<string>();
  readonly reg: NodeRegistry;
  readonly term: PodTerminationController;
  readonly manager: ControllerManager;
  #seq = 0;
  #readySince = new Map<string, number>();

  constructor(private readonly e: Env, nodes: string[]) {
    const ctx: ControllerContext = e.ctx;
    this.reg = new NodeRegistry(ctx, { leaderNode: nodes[0] as string, graceSeconds: GRACE, podEvictionSeconds: EVICT });
    this.term = new PodTerminationController(ctx, this.reg);
    const dist = new Distributor(ctx, async (n, msg) => { this.desired.set(n, msg); });
    this.manager = new ControllerManager(ctx, [
      new ReplicaSetController(ctx), new DeploymentController(ctx), new DaemonSetController(ctx), new SchedulingController(ctx),
      new GarbageCollector(ctx), new NamespaceController(ctx, KINDS.filter((k) => k.namespaced).map((k) => k.kind)),
      this.reg, this.term, dist,
    ]);
    for (const n of nodes) this.alive.add(n);
  }

  /** One agent cycle on every live node: heartbeat, then a pod report from its desired state. */
  report(): void {
    const now = this.e.clock.now();
    for (const n of this.alive) {
      const obj = node(n);
      this.reg.onNodeStatus({ node: n, online: true, heartbeat: now, object: { ...obj, metadata: { name: n, labels: obj.metadata.labels } } });
      const pods = (this.desired.get(n)?.pods ?? []).filter((p) => !p.metadata.deletionTimestamp);
      const report = pods.map((p) => {
        const uid = p.metadata.uid as string;
        if (!this.#readySince.has(uid)) this.#readySince.set(uid, now);
        return { namespace: p.metadata.namespace ?? 'default', name: p.metadata.name, uid, status: runningStatus(this.#readySince.get(uid) as number) as never };
      });
      this.reg.onNodePods({ node: n, seq: ++this.#seq, pods: report });
      for (const k of this.term.keysForNode(n)) this.manager.enqueue(this.term.name, k);
    }
  }

  /** Let time pass in agent-sized steps (5 s), reporting and settling each step. */
  async run(ms: number): Promise<void> {
    for (let left = ms; left > 0; left -= 5000) {
      this.e.clock.advance(Math.min(5000, left));
      this.report();
      await this.manager.idle();
    }
  }
}

const podsOfDeployment = (e: Env, d: Deployment): Pod[] => {
  const rss = e.store.list<ReplicaSet>('ReplicaSet', 'default').filter((rs) => isOwnedBy(rs, d));
  return e.store.list<Pod>('Pod', 'default').filter((p) => rss.some((rs) => isOwnedBy(p, rs)));
};

t.test('a fleet of simulated agents: rollout, a node lost and healed around, cascading delete', async (t) => {
  const e = await env(t);
  const fleet = new Fleet(e, ['pi-1', 'pi-2', 'pi-3']);
  t.teardown(() => fleet.manager.stop());
  fleet.report();
  fleet.manager.start();
  await fleet.manager.idle();
  const d = await create(e.store, deployment('web', 3, { maxSurge: 1, maxUnavailable: 0 }));
  await create(e.store, daemonSet('agent'));
  await fleet.run(20_000);
  let pods = podsOfDeployment(e, d).filter((p) => !p.metadata.deletionTimestamp);
  t.equal(pods.length, 3);
  t.same(pods.map((p) => p.spec.nodeName).sort(), ['pi-1', 'pi-2', 'pi-3']);
  t.ok(pods.every(isReady), 'all ready, as reported by their agents');
  t.match(get<Deployment>(e.store, 'Deployment', 'web').status, { availableReplicas: 3, updatedReplicas: 3 });
  t.equal(e.store.list<Pod>('Pod').filter((p) => p.metadata.labels?.app === 'agent').length, 3, 'one daemon pod per node');

  // rolling update with maxUnavailable 0: sample availability every agent step
  await update(e.store, d, (o) => { o.spec.template.spec!.containers[0]!.image = 'busybox:2'; });
  let minReady = Infinity;
  for (let i = 0; i < 20; i++) {
    await fleet.run(5000);
    const ready = podsOfDeployment(e, d).filter((p) => !p.metadata.deletionTimestamp && isReady(p)).length;
    minReady = Math.min(minReady, ready);
  }
  t.equal(minReady, 3, 'never fewer than 3 ready pods during the rollout');
  pods = podsOfDeployment(e, d);
  t.equal(pods.length, 3, 'old pods are gone from the store: their agents reported them stopped');
  t.ok(pods.every((p) => p.spec.containers[0]?.image === 'busybox:2'));

  // pi-3 loses its cable
  fleet.alive.delete('pi-3');
  await fleet.run((GRACE + 10) * 1000);
  t.equal(get(e.store, 'Node', 'pi-3').status && (get(e.store, 'Node', 'pi-3').status as { conditions: Array<{ type: string; status: string }> }).conditions.find((c) => c.type === 'Ready')?.status, 'Unknown');
  await fleet.run((EVICT + 10) * 1000);
  const live = podsOfDeployment(e, d).filter((p) => !p.metadata.deletionTimestamp);
  t.equal(live.length, 3, 'replaced');
  t.ok(live.every((p) => p.spec.nodeName !== 'pi-3'), 'nothing new on the lost node');
  t.ok(live.every(isReady));
  t.match(get<Deployment>(e.store, 'Deployment', 'web').status, { availableReplicas: 3 });
  const stuck = podsOfDeployment(e, d).filter((p) => p.metadata.deletionTimestamp);
  t.same(stuck.map((p) => p.spec.nodeName), ['pi-3'], 'the evicted pod waits, terminating, for its node');
  t.ok(e.store.list<Pod>('Pod').some((p) => p.metadata.labels?.app === 'agent' && p.spec.nodeName === 'pi-3' && !p.metadata.deletionTimestamp), 'the daemon pod is not evicted');

  // pi-3 comes back: it learns its pod was deleted, stops it, and the store lets it go
  fleet.alive.add('pi-3');
  await fleet.run(15_000);
  t.equal(podsOfDeployment(e, d).length, 3);
  t.ok(podsOfDeployment(e, d).every((p) => !p.metadata.deletionTimestamp));

  // delete the Deployment: ReplicaSets and pods follow, and the agents are told
  await e.store.commit([{ type: 'delete', kind: 'Deployment', namespace: 'default', name: 'web' }]);
  await fleet.run(15_000);
  t.equal(e.store.list('ReplicaSet').length, 0);
  t.same(e.store.list<Pod>('Pod').map((p) => p.metadata.labels?.app), ['agent', 'agent', 'agent']);
  for (const n of ['pi-1', 'pi-2', 'pi-3']) t.same(fleet.desired.get(n)?.pods.map((p) => p.metadata.labels?.app), ['agent'], `${n} runs only its daemon pod`);
});
