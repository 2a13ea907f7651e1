/**
 * `pifleet daemon`: wiring and lifecycle only. Builds the modules from the config, starts them
 * in order, tells systemd when ready, answers the watchdog, and on SIGTERM stops everything
 * but the workloads (containers keep running; a restarted daemon adopts them).
 *
 * Every board runs the same daemon: the fleet (cluster/fleet.ts) makes it a member and runs
 * the election and the replicated log; the roles (cluster/roles.ts) start the broker and the
 * leader services on the leader only; the Bus follows the leader's broker; the agent runs this
 * board's pods whoever leads, and keeps them running while nobody does.
 */
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import type { Config } from './config.js';
import { createLogger, type Logger } from './lib/logger.js';
import { createSystemClock, type Clock, type TimerHandle } from './lib/clock.js';
import { createRandom, type Random } from './lib/random.js';
import { createNotifier } from './lib/sdnotify.js';
import { writeIfChanged } from './lib/atomic-write.js';
import { primaryAddress } from './lib/address.js';
import { Store, fencedStore, StoreError } from './state/store.js';
import { acquireStateLock } from './state/lock.js';
import { resolveToken } from './state/token.js';
import { createSecretBox } from './state/secretbox.js';
import { EmbeddedBroker } from './broker/broker.js';
import { createTokenAuthenticator } from './broker/auth.js';
import { Bus } from './broker/client.js';
import { disableMqttNumberCache } from './broker/packet-cache.js';
import { topicsFor, type NodeDesiredMessage, type NodeRpcRequest, type Topics } from './broker/topics.js';
import { buildEvent, refOf, type EventRecorder } from './events/recorder.js';
import { Fleet } from './cluster/fleet.js';
import { Roles, type LeaderRole } from './cluster/roles.js';
import type { Member } from './cluster/raft/types.js';
import { LeaderServices } from './leader/leader.js';
import type { ClusterInfo } from './apiserver/server.js';
import { Agent } from './agent/agent.js';
import { createDockerRuntime } from './runtime/docker.js';
import { VERSION } from './version.js';
import { JobController } from './controllers/jobs.js';
import { CronJobController } from './controllers/cronjobs.js';

export interface ClientConfig {
  cluster: string;
  /** The broker to try first (this board's own while it leads, else the leader's). */
  server: string;
  /** Every member's broker: the CLI tries them all and talks to the one that answers (the leader). */
  servers: string[];
  /** Every member's peer channel: `pifleet status` asks them when no broker answers. */
  peers: string[];
  token: string;
}

export const CLIENT_CONFIG_FILE = 'client.yaml';

export interface DaemonHandle {
  stop(): Promise<void>;
  readonly store: Store;
  readonly bus: Bus;
  readonly agent: Agent;
  readonly fleet: Fleet;
}

const loopback = (host: string): string => (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);

export async function startDaemon(cfg: Config, opts: { logger?: Logger; clock?: Clock; random?: Random } = {}): Promise<DaemonHandle> {
  const logger = opts.logger ?? createLogger({ level: cfg.logLevel, base: { node: cfg.nodeName, cluster: cfg.cluster } });
  const clock = opts.clock ?? createSystemClock();
  const random = opts.random ?? createRandom();
  const notifier = createNotifier();
  const topics: Topics = topicsFor(cfg.cluster);
  const address = cfg.node.address ?? primaryAddress();
  logger.info({ version: VERSION, stateDir: cfg.stateDir, config: cfg.configFile }, 'pifleet daemon starting');

  disableMqttNumberCache();
  const releaseLock = await acquireStateLock(cfg.stateDir);
  const token = await resolveToken(cfg);
  const store = Store.create({ dir: join(cfg.stateDir, 'store'), clock, random, logger, secretBox: createSecretBox(token), snapshotEvery: cfg.store.snapshotEvery });
  let fleet: Fleet;
  try {
    fleet = await Fleet.open({
      cluster: cfg.cluster, node: cfg.nodeName, stateDir: cfg.stateDir, token, address, mqttPort: cfg.mqtt.port, version: VERSION,
      settings: { ...cfg.fleet, snapshotEvery: cfg.store.snapshotEvery }, store, logger, clock, random,
    });
  } catch (err) {
    await releaseLock();
    throw err;
  }

  const bus = new Bus({
    url: `mqtt://${loopback(cfg.mqtt.host)}:${cfg.mqtt.port || 1883}`, token, clientId: `node-${cfg.nodeName}`, username: cfg.nodeName, logger,
    keepaliveSeconds: cfg.mqtt.keepaliveSeconds, random: () => random.float(), setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    will: { topic: topics.nodeStatus(cfg.nodeName), payload: { node: cfg.nodeName, online: false, heartbeat: 0 }, retain: true },
  });

  let eventSeq = 0;
  const recorder = (component: string): EventRecorder => ({
    record(obj, type, reason, message) {
      const ev = buildEvent(refOf(obj), type, reason, message, { component, host: cfg.nodeName }, clock.now(), (eventSeq++).toString(36));
      if (bus.connected) void bus.publish(topics.events, ev).catch(() => undefined);
      logger.debug({ reason, object: `${ev.involvedObject.kind}/${ev.involvedObject.name}`, message }, 'event');
    },
  });

  const runtime = createDockerRuntime({ logger, clock, ...(cfg.docker.host ? { host: cfg.docker.host } : {}) });
  const agent = new Agent({
    runtime, clock, random, logger, events: recorder('pifleet-agent'),
    config: {
      cluster: cfg.cluster, nodeName: cfg.nodeName, runtimeDir: cfg.runtimeDir, heartbeatSeconds: cfg.heartbeatSeconds, agent: cfg.agent, node: { ...cfg.node, address }, version: VERSION,
      storeReadOnly: () => fleet.readOnly,
    },
    publishPods: (msg) => { void bus.publish(topics.nodePods(cfg.nodeName), msg, { retain: true }).catch(() => undefined); },
    publishNode: (msg) => { void bus.publish(topics.nodeStatus(cfg.nodeName), msg, { retain: true }).catch(() => undefined); },
    publishReply: (topic, res) => { void bus.publish(topic, res).catch(() => undefined); },
  });

  const clusterInfo = (): ClusterInfo => {
    const st = fleet.status();
    return {
      cluster: cfg.cluster, fleet: st.fleet, leader: st.leader ?? '', term: st.term, revision: store.revision,
      commitIndex: st.commitIndex, lastIndex: st.lastIndex, version: VERSION, members: st.memberList, quorum: st.quorum,
      ...(st.readOnly ? { storeReadOnly: st.readOnly } : {}),
    };
  };

  let leading: LeaderServices | undefined;
  const leaderRole = (term: number, broker: EmbeddedBroker): LeaderRole => {
    const fenced = fencedStore(store, term);
    const services = new LeaderServices({
      store: fenced, bus, topics, clock, random, logger, events: recorder('pifleet-controller-manager'),
      node: cfg.nodeName,
      nodeMonitorGraceSeconds: cfg.nodeMonitorGraceSeconds,
      podEvictionSeconds: cfg.podEvictionSeconds,
      limits: cfg.limits,
      contact: (node) => fleet.replication.lastContact(node),
      isMember: (node) => fleet.member(node) !== undefined,
      fleetOps: { removeMember: (name) => fleet.removeMember(name) },
      info: clusterInfo,
      announcement: () => ({ node: cfg.nodeName, term, address: `${address}:${broker.port}`, mqttPort: broker.port, since: new Date(clock.now()).toISOString(), version: VERSION }),
      extraControllers: (ctx) => [
        new JobController(ctx, { backoffBaseMs: cfg.jobs.backoffBaseSeconds * 1000, backoffMaxMs: cfg.jobs.backoffMaxSeconds * 1000 }),
        new CronJobController(ctx, { isLeader: () => fleet.replication.leaderReady && fleet.replication.term === term, term: () => term }),
      ],
    });
    const onGone = (client: { id: string }): void => services.api.clientGone(client.id);
    return {
      async start() {
        // what every fleet has: the default namespace and a lineage of its desired-state history
        const first: Parameters<typeof fenced.commit>[0] = [];
        if (!fenced.get('Namespace', undefined, 'default')) first.push({ type: 'create', obj: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } } });
        if (!fenced.lineage) first.push({ type: 'meta', key: 'lineage', value: random.uuid() });
        if (first.length) await fenced.commit(first).catch((err) => { if (!(err instanceof StoreError)) throw err; });
        broker.aedes.on('clientDisconnect', onGone);
        await services.start();
        leading = services;
      },
      async stop() {
        if (leading === services) leading = undefined;
        broker.aedes.off('clientDisconnect', onGone);
        await services.stop();
      },
    };
  };

  const memberUrl = (m: Member | undefined, self: boolean, broker?: EmbeddedBroker): string | undefined => {
    if (self) return `mqtt://${loopback(cfg.mqtt.host)}:${broker?.port ?? cfg.mqtt.port}`;
    if (!m?.address || !m.mqttPort) return undefined;
    return `mqtt://${m.address}:${m.mqttPort}`;
  };

  let clientWrites: Promise<void> = Promise.resolve();
  const writeClientConfig = (server: string): Promise<void> => (clientWrites = clientWrites.then(() => writeClientConfigNow(server)));
  const writeClientConfigNow = async (server: string): Promise<void> => {
    const members = fleet.members();
    const c: ClientConfig = {
      cluster: cfg.cluster,
      server,
      servers: [...new Set([server, ...members.map((m) => memberUrl(m, false)).filter((u): u is string => Boolean(u))])],
      peers: members.filter((m) => m.address && m.peerPort).map((m) => `${m.address}:${m.peerPort}`),
      token,
    };
    await writeIfChanged(join(cfg.stateDir, CLIENT_CONFIG_FILE), toYaml(c), 0o600).catch((err) => logger.warn({ err: (err as Error).message }, 'cannot write the client config'));
  };

  const roles = new Roles({
    fleet, bus, logger,
    startBroker: () => EmbeddedBroker.start({ host: cfg.mqtt.host, port: cfg.mqtt.port, wsPort: cfg.mqtt.wsPort, auth: createTokenAuthenticator(token), logger, limits: cfg.mqtt }),
    leaderRole,
    brokerUrl: memberUrl,
    changed: (s) => {
      const server = s.broker ? memberUrl(undefined, true, s.broker) : memberUrl(s.leader ? fleet.member(s.leader) : undefined, false);
      if (server) void writeClientConfig(server);
      void notifier.notify(`STATUS=${s.leading ? `leading ${cfg.cluster} (term ${s.term}), MQTT on ${s.broker?.port}` : s.leader ? `following ${s.leader} (term ${s.term})` : `no leader (term ${s.term}): waiting for a majority`}`);
    },
  });

  bus.subscribe(topics.nodeDesired(cfg.nodeName), (_t, payload) => {
    if (payload && typeof payload === 'object') agent.setDesired(payload as NodeDesiredMessage);
  });
  bus.subscribe(topics.nodeRpc(cfg.nodeName), (_t, payload) => {
    if (payload && typeof payload === 'object') agent.handleRpc(payload as NodeRpcRequest);
  });
  let agentStarted = false;
  bus.on('connect', () => {
    // a new broker (a new leader) has no retained state: publish ours again
    logger.debug({ url: bus.url }, 'connected to the MQTT broker: publishing this node\'s state');
    if (agentStarted) agent.republish();
    void leading?.resync();
  });

  fleet.start();
  roles.start();
  // a fleet of one leads within milliseconds: be ready with its API; a member of a bigger fleet
  // does not wait long for a majority (its pods run meanwhile)
  await roles.settled(Math.max(2000, 3 * cfg.fleet.electionTimeoutMs));
  await clientWrites;
  // edge autonomy: the agent adopts and keeps running what it finds, leader or not
  await agent.start();
  agentStarted = true;
  if (bus.connected) agent.republish();

  let watchdog: TimerHandle | undefined;
  const pet = (): void => {
    watchdog = clock.setTimeout(() => {
      void notifier.notify('WATCHDOG=1');
      pet();
    }, notifier.watchdogIntervalMs as number);
  };
  await notifier.notify('READY=1');
  if (notifier.watchdogIntervalMs) {
    void notifier.notify('WATCHDOG=1');
    pet();
  }
  const st = fleet.status();
  logger.info({ mqttPort: cfg.mqtt.port, peerPort: fleet.peer.port, address, fleet: st.fleet, role: st.role, term: st.term, members: st.members, revision: store.revision, client: join(cfg.stateDir, CLIENT_CONFIG_FILE) }, 'pifleet daemon ready');

  let stopping: Promise<void> | undefined;
  return {
    store, bus, agent, fleet,
    stop() {
      stopping ??= (async () => {
        logger.info('stopping (workloads keep running)');
        await notifier.notify('STOPPING=1');
        watchdog?.cancel();
        await agent.stop();
        if (roles.leading && fleet.members().filter((m) => m.voter).length > 1) {
          // hand over before the broker goes: the next leader takes over in one round trip
          const to = await fleet.replication.transferLeadership();
          if (to) await waitFor(() => !fleet.replication.isLeader, cfg.fleet.electionTimeoutMs * 2);
        }
        await bus.publish(topics.nodeStatus(cfg.nodeName), { node: cfg.nodeName, online: false, heartbeat: clock.now() }, { retain: true }).catch(() => undefined);
        await roles.stop();
        await bus.close(true);
        await fleet.stop();
        await store.close();
        await releaseLock();
        logger.info('stopped');
      })();
      return stopping;
    },
  };
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}
