/**
 * Everything the leader runs besides the broker: the API server, the controllers, the node
 * registry and event memory, and the retained leader announcement. Started when this node is
 * elected and its MQTT client is connected; stopped when it is deposed or shuts down.
 */
import type { Bus } from '../broker/client.js';
import type { LeaderAnnouncement, NodeDesiredMessage, NodePodsMessage, NodeRpcRequest, NodeStatusMessage, Topics } from '../broker/topics.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Random } from '../lib/random.js';
import type { StoreView } from '../state/store.js';
import type { EventRecorder } from '../events/recorder.js';
import { KINDS } from '../api/kinds.js';
import { ControllerManager, type Controller, type ControllerContext } from '../controllers/manager.js';
import { ReplicaSetController } from '../controllers/replicaset/controller.js';
import { DeploymentController } from '../controllers/deployment/controller.js';
import { DaemonSetController } from '../controllers/daemonset/controller.js';
import { SchedulingController } from '../controllers/scheduling.js';
import { GarbageCollector, NamespaceController } from '../controllers/gc.js';
import { ApiServer, type ClusterInfo, type FleetOps } from '../apiserver/server.js';
import type { WorkloadLimits } from '../api/validate.js';
import { NodeRegistry, PodTerminationController } from './nodes.js';
import { Distributor } from './distributor.js';
import { EventStore } from './events.js';

export interface LeaderDeps {
  store: StoreView;
  bus: Bus;
  topics: Topics;
  clock: Clock;
  random: Random;
  logger: Logger;
  events: EventRecorder;
  node: string;
  nodeMonitorGraceSeconds: number;
  podEvictionSeconds?: number;
  info: () => ClusterInfo;
  announcement: () => LeaderAnnouncement;
  /** Ceilings on what one object may ask for (config limits:). */
  limits?: Partial<WorkloadLimits>;
  /** Ms since the leader last heard from a member on the peer channel (undefined: unknown). */
  contact?: (node: string) => number | undefined;
  /** Membership changes the API may ask for (`pifleet node remove`). */
  fleetOps?: FleetOps;
  /** Whether a node is a fleet member (others' reports are ignored). */
  isMember?: (node: string) => boolean;
  /** Extra controllers (Jobs, CronJobs) built with the same context. */
  extraControllers?: (ctx: ControllerContext) => Controller[];
}

export class LeaderServices {
  readonly manager: ControllerManager;
  readonly api: ApiServer;
  readonly nodes: NodeRegistry;
  readonly distributor: Distributor;
  readonly eventStore: EventStore;
  readonly podTermination: PodTerminationController;
  #unsubs: Array<() => void> = [];
  #running = false;

  constructor(private readonly deps: LeaderDeps) {
    const ctx: ControllerContext = { store: deps.store, clock: deps.clock, random: deps.random, logger: deps.logger, events: deps.events };
    this.nodes = new NodeRegistry(ctx, {
      leaderNode: deps.node, graceSeconds: deps.nodeMonitorGraceSeconds,
      ...(deps.podEvictionSeconds !== undefined ? { podEvictionSeconds: deps.podEvictionSeconds } : {}),
      ...(deps.contact ? { contact: deps.contact } : {}),
      ...(deps.isMember ? { isMember: deps.isMember } : {}),
    });
    this.podTermination = new PodTerminationController(ctx, this.nodes);
    this.distributor = new Distributor(ctx, (node, msg: NodeDesiredMessage) => deps.bus.publish(deps.topics.nodeDesired(node), msg, { retain: true }));
    const namespaced = KINDS.filter((k) => k.namespaced).map((k) => k.kind);
    this.manager = new ControllerManager(ctx, [
      new ReplicaSetController(ctx),
      new DeploymentController(ctx),
      new DaemonSetController(ctx),
      new SchedulingController(ctx),
      new GarbageCollector(ctx),
      new NamespaceController(ctx, namespaced),
      this.nodes,
      this.podTermination,
      this.distributor,
      ...(deps.extraControllers?.(ctx) ?? []),
    ]);
    this.api = new ApiServer({
      store: deps.store, bus: deps.bus, topics: deps.topics, clock: deps.clock, random: deps.random, logger: deps.logger, info: deps.info,
      ...(deps.limits ? { limits: deps.limits } : {}), ...(deps.fleetOps ? { fleet: deps.fleetOps } : {}),
      orphans: {
        list: () => this.nodes.orphans(),
        prune: async (node, uid) => {
          const req: NodeRpcRequest = { id: deps.random.uuid(), op: 'prune', replyTo: deps.topics.response(`leader-${deps.node}`, 'prune'), params: { uid } };
          await deps.bus.publish(deps.topics.nodeRpc(node), req);
        },
      },
    });
    this.eventStore = new EventStore(deps.store, deps.clock);
  }

  get running(): boolean {
    return this.#running;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    const { bus, topics } = this.deps;
    this.#unsubs.push(bus.subscribe(topics.nodeStatusAll, (_t, payload) => this.nodes.onNodeStatus(payload as NodeStatusMessage)));
    this.#unsubs.push(bus.subscribe(topics.nodePodsAll, (topic, payload) => {
      this.nodes.onNodePods(payload as NodePodsMessage);
      const node = topics.parseNode(topic);
      if (node) for (const k of this.podTermination.keysForNode(node)) this.manager.enqueue(this.podTermination.name, k);
    }));
    this.#unsubs.push(bus.subscribe(topics.events, (_t, payload) => this.eventStore.add(payload)));
    this.manager.start();
    this.api.start();
    await bus.publish(topics.leader, this.deps.announcement(), { retain: true });
    this.deps.logger.info({ term: this.deps.store.term }, 'leading: API and controllers started');
  }

  /** After a reconnect to the broker: publish everything retained again. */
  async resync(): Promise<void> {
    if (!this.#running) return;
    this.distributor.reset();
    for (const k of this.distributor.initialKeys()) this.manager.enqueue(this.distributor.name, k);
    await this.deps.bus.publish(this.deps.topics.leader, this.deps.announcement(), { retain: true });
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    for (const u of this.#unsubs) u();
    this.#unsubs = [];
    this.api.stop();
    this.manager.stop();
  }
}
