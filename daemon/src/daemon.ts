/**
 * `pifleet daemon`: wiring and lifecycle only. Builds the modules from the config, starts them
 * in order, tells systemd when ready, answers the watchdog, and on SIGTERM stops everything
 * but the workloads (containers keep running; a restarted daemon adopts them).
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { networkInterfaces } from 'node:os';
import { stringify as toYaml } from 'yaml';
import type { Config } from './config.js';
import { createLogger, type Logger } from './lib/logger.js';
import { createSystemClock, type Clock, type TimerHandle } from './lib/clock.js';
import { createRandom, type Random } from './lib/random.js';
import { createNotifier } from './lib/sdnotify.js';
import { Store } from './state/store.js';
import { createSecretBox } from './state/secretbox.js';
import { EmbeddedBroker } from './broker/broker.js';
import { createTokenAuthenticator } from './broker/auth.js';
import { Bus } from './broker/client.js';
import { disableMqttNumberCache } from './broker/packet-cache.js';
import { topicsFor, type NodeDesiredMessage, type NodeRpcRequest, type Topics } from './broker/topics.js';
import { buildEvent, refOf, type EventRecorder } from './events/recorder.js';
import { SoloLeadership, type Leadership } from './cluster/leadership.js';
import { LeaderServices } from './leader/leader.js';
import { Agent } from './agent/agent.js';
import { createDockerRuntime } from './runtime/docker.js';
import { VERSION } from './version.js';
import { JobController } from './controllers/jobs.js';
import { CronJobController } from './controllers/cronjobs.js';

export interface ClientConfig {
  cluster: string;
  server: string;
  token: string;
}

export const CLIENT_CONFIG_FILE = 'client.yaml';

/** The cluster token: from the config, a token file, or generated once into <stateDir>/token (0600). */
export async function resolveToken(cfg: Config): Promise<string> {
  if (cfg.token) return cfg.token;
  const file = cfg.tokenFile ?? join(cfg.stateDir, 'token');
  try {
    const t = (await fsp.readFile(file, 'utf8')).trim();
    if (t.length >= 16) return t;
    throw new Error(`the token in ${file} is shorter than 16 characters`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || cfg.tokenFile) {
      throw new Error(`cannot read the cluster token from ${file}: ${(err as Error).message}`);
    }
  }
  const token = randomBytes(32).toString('base64url');
  await fsp.mkdir(cfg.stateDir, { recursive: true, mode: 0o700 });
  await fsp.writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return token;
}

/** Write a file only when its content differs (no SD-card writes for nothing). */
export async function writeIfChanged(path: string, content: string, mode: number): Promise<boolean> {
  try {
    if ((await fsp.readFile(path, 'utf8')) === content) return false;
  } catch { /* absent */ }
  const tmp = `${path}.tmp`;
  await fsp.writeFile(tmp, content, { mode });
  await fsp.chmod(tmp, mode);
  await fsp.rename(tmp, path);
  return true;
}

/** The first IPv4 address that is not loopback or a virtual bridge (docker0, veth, br-, cni). */
export function primaryAddress(): string {
  const virtual = /^(lo|docker\d*|veth|br-|cni|flannel|virbr|tun|tap)/;
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (virtual.test(name)) continue;
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export interface DaemonHandle {
  stop(): Promise<void>;
  readonly store: Store;
  readonly bus: Bus;
  readonly agent: Agent;
}

export async function startDaemon(cfg: Config, opts: { logger?: Logger; clock?: Clock; random?: Random } = {}): Promise<DaemonHandle> {
  const logger = opts.logger ?? createLogger({ level: cfg.logLevel, base: { node: cfg.nodeName, cluster: cfg.cluster } });
  const clock = opts.clock ?? createSystemClock();
  const random = opts.random ?? createRandom();
  const notifier = createNotifier();
  const topics: Topics = topicsFor(cfg.cluster);
  const address = cfg.node.address ?? primaryAddress();
  logger.info({ version: VERSION, stateDir: cfg.stateDir, config: cfg.configFile }, 'pifleet daemon starting');

  disableMqttNumberCache();
  const token = await resolveToken(cfg);
  const store = await Store.open({ dir: join(cfg.stateDir, 'store'), clock, random, logger, secretBox: createSecretBox(token), snapshotEvery: cfg.store.snapshotEvery });
  if (!store.get('Namespace', undefined, 'default')) {
    await store.commit([{ type: 'create', obj: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } } }]);
  }

  const leadership: Leadership = new SoloLeadership({ dir: cfg.stateDir, node: cfg.nodeName, minTerm: store.term });
  let broker: EmbeddedBroker | undefined;
  await leadership.start();
  store.term = leadership.term;
  try {
    broker = await EmbeddedBroker.start({ host: cfg.mqtt.host, port: cfg.mqtt.port, wsPort: cfg.mqtt.wsPort, auth: createTokenAuthenticator(token), logger });
  } catch (err) {
    await store.close();
    throw err;
  }
  const brokerPort = broker.port;
  const localUrl = `mqtt://${cfg.mqtt.host === '0.0.0.0' || cfg.mqtt.host === '::' ? '127.0.0.1' : cfg.mqtt.host}:${brokerPort}`;

  const bus = new Bus({
    url: localUrl, token, clientId: `node-${cfg.nodeName}`, username: cfg.nodeName, logger,
    keepaliveSeconds: cfg.mqtt.keepaliveSeconds,
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
    config: { cluster: cfg.cluster, nodeName: cfg.nodeName, runtimeDir: cfg.runtimeDir, heartbeatSeconds: cfg.heartbeatSeconds, agent: cfg.agent, node: { ...cfg.node, address }, version: VERSION },
    publishPods: (msg) => { void bus.publish(topics.nodePods(cfg.nodeName), msg, { retain: true }).catch(() => undefined); },
    publishNode: (msg) => { void bus.publish(topics.nodeStatus(cfg.nodeName), msg, { retain: true }).catch(() => undefined); },
    publishReply: (topic, res) => { void bus.publish(topic, res).catch(() => undefined); },
  });

  const leader = new LeaderServices({
    store, bus, topics, clock, random, logger, events: recorder('pifleet-controller-manager'),
    node: cfg.nodeName,
    nodeMonitorGraceSeconds: cfg.nodeMonitorGraceSeconds,
    podEvictionSeconds: cfg.podEvictionSeconds,
    info: () => ({ cluster: cfg.cluster, leader: leadership.leader ?? '', term: leadership.term, revision: store.revision, version: VERSION, members: leadership.members }),
    announcement: () => ({ node: cfg.nodeName, term: leadership.term, address: `${address}:${brokerPort}`, mqttPort: brokerPort, since: new Date(clock.now()).toISOString(), version: VERSION }),
    extraControllers: (ctx) => [
      new JobController(ctx, { backoffBaseMs: cfg.jobs.backoffBaseSeconds * 1000, backoffMaxMs: cfg.jobs.backoffMaxSeconds * 1000 }),
      new CronJobController(ctx, { isLeader: () => leadership.isLeader, term: () => leadership.term }),
    ],
  });
  broker.aedes.on('clientDisconnect', (client) => leader.api.clientGone(client.id));

  bus.subscribe(topics.nodeDesired(cfg.nodeName), (_t, payload) => {
    if (payload && typeof payload === 'object') agent.setDesired(payload as NodeDesiredMessage);
  });
  bus.subscribe(topics.nodeRpc(cfg.nodeName), (_t, payload) => {
    if (payload && typeof payload === 'object') agent.handleRpc(payload as NodeRpcRequest);
  });
  let firstConnect = true;
  bus.on('connect', () => {
    if (firstConnect) { firstConnect = false; return; }
    logger.info('reconnected to the MQTT broker: republishing state');
    agent.republish();
    void leader.resync();
  });

  await bus.waitConnected(10_000);
  if (leadership.isLeader) await leader.start();
  leadership.on('deposed', () => void leader.stop());
  await agent.start();

  const clientCfg: ClientConfig = { cluster: cfg.cluster, server: localUrl, token };
  await writeIfChanged(join(cfg.stateDir, CLIENT_CONFIG_FILE), toYaml(clientCfg), 0o600);

  let watchdog: TimerHandle | undefined;
  const pet = (): void => {
    watchdog = clock.setTimeout(() => {
      // the event loop runs and the store answers: tell systemd we are alive
      void notifier.notify('WATCHDOG=1');
      pet();
    }, notifier.watchdogIntervalMs as number);
  };
  await notifier.notify('READY=1', `STATUS=leading ${cfg.cluster} (term ${leadership.term}), MQTT on ${brokerPort}`);
  if (notifier.watchdogIntervalMs) {
    void notifier.notify('WATCHDOG=1');
    pet();
  }
  logger.info({ mqtt: brokerPort, ws: broker.wsPort, address, term: leadership.term, revision: store.revision, client: join(cfg.stateDir, CLIENT_CONFIG_FILE) }, 'pifleet daemon ready');

  let stopping: Promise<void> | undefined;
  return {
    store, bus, agent,
    stop() {
      stopping ??= (async () => {
        logger.info('stopping (workloads keep running)');
        await notifier.notify('STOPPING=1');
        watchdog?.cancel();
        await agent.stop();
        await leader.stop();
        await leadership.stop();
        await bus.publish(topics.nodeStatus(cfg.nodeName), { node: cfg.nodeName, online: false, heartbeat: clock.now() }, { retain: true }).catch(() => undefined);
        await bus.close();
        await broker?.close();
        await store.close();
        logger.info('stopped');
      })();
      return stopping;
    },
  };
}
