/**
 * The node agent: runs the pods the leader binds to this node as Docker containers and reports
 * node and pod status. This file is its lifecycle and the per-pod sync loop (a de-duplicating
 * WorkQueue keyed by pod uid, driven by desired-state messages, runtime events, probe results
 * and a slow resync): observe the pod's containers, plan (plan.ts, pure), execute. The managers
 * it drives each own one job: executor.ts (steps -> runtime calls), images.ts (pulls),
 * pod-storage.ts (volumes, runtime dirs), node-reporter.ts (Docker reachability, the Node),
 * pod-reporter.ts (pod status, pods messages), rpc.ts (logs/exec), probes.ts (probes).
 *
 * Restart-safety: containers are found by labels; a running container whose pod uid, container
 * name and spec hash match the desired pod is adopted as it is. Until the first desired message
 * after start, nothing is created or deleted. Containers of pods the desired state does not hold
 * are removed only when that desired state can have deleted them; otherwise they are orphans
 * (orphans.ts): kept, reported, and removed only on prune or when their pod is applied again.
 */
import type { KObject, Node, Pod } from '../api/types.js';
import type { ApiResponse, NodeDesiredMessage, NodePodsMessage, NodeRpcRequest, NodeStatusMessage } from '../broker/topics.js';
import type { EventRecorder } from '../events/recorder.js';
import type { Clock, TimerHandle } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Random } from '../lib/random.js';
import { rfc3339 } from '../lib/time.js';
import { WorkQueue, type ReconcileResult } from '../lib/workqueue.js';
import { INFRA_CONTAINER, LABELS, RuntimeError, type Runtime } from '../runtime/types.js';
import type { ConfigSource } from './env.js';
import { Executor } from './executor.js';
import { ImageManager } from './images.js';
import { NodeReporter } from './node-reporter.js';
import { decideUnowned, identityOf, orphanMessage, provenanceLabels, provenanceOf, provenanceOfLabels, type Provenance } from './orphans.js';
import { attemptsOf, graceSecondsOf, needsInfra, observedFrom, planPod, type Observed } from './plan.js';
import { PodReporter } from './pod-reporter.js';
import { PodStorage } from './pod-storage.js';
import { createProbeRunner, syncPodProbes, type ProbeRunner } from './probes.js';
import { containerFinder, RpcError, RpcHandler } from './rpc.js';
import { VolumeError } from './volumes.js';
import { memoryOf, newWorker, PodEvents, rememberAttempts, type PodWorker } from './worker.js';

export { defaultPullPolicy } from './images.js';

export interface AgentConfig {
  cluster: string;
  nodeName: string;
  runtimeDir?: string;
  heartbeatSeconds: number;
  agent: {
    crashLoopBackoffBaseSeconds: number;
    crashLoopBackoffMaxSeconds: number;
    crashLoopResetSeconds: number;
    resyncSeconds: number;
  };
  node: { labels: Record<string, string>; taints: Array<{ key: string; value?: string; effect: string }>; address: string };
  version: string;
  /** Shown in the NotReady message; default DOCKER_HOST or the local socket. */
  dockerHost?: string;
  /** Image pull backoff (default 10 s doubling to 300 s). */
  imagePullBackoffBaseSeconds?: number;
  imagePullBackoffMaxSeconds?: number;
  /** Why this board's desired-state store refuses writes, when it does (a StoreWritable=False condition). */
  storeReadOnly?: () => string | undefined;
}

export interface AgentOptions {
  runtime: Runtime;
  clock: Clock;
  random: Random;
  logger: Logger;
  events: EventRecorder;
  config: AgentConfig;
  publishPods(msg: NodePodsMessage): void;
  publishNode(msg: NodeStatusMessage): void;
  publishReply(topic: string, res: ApiResponse): void;
  /** For tests: replaces the real probe actions. */
  probeRunner?: ProbeRunner;
}

const CONFIG_RETRY_MS = 10_000;
const STOP_WAIT_MS = 10_000;
const SYNC_WORKERS = 16;
/** How long a prune request waits for the orphan's containers to be gone before it answers. */
const PRUNE_WAIT_MS = 60_000;
/** A new pod waits this long between looks while an earlier pod of its name is removed. */
const RIVAL_WAIT_MS = 500;

export class Agent {
  readonly #o: AgentOptions;
  readonly #log: Logger;
  readonly #queue: WorkQueue;
  readonly #rpc: RpcHandler;
  readonly #probeRunner: ProbeRunner;
  readonly #baseLabels: Record<string, string>;
  readonly #events: PodEvents;
  readonly #storage: PodStorage;
  readonly #executor: Executor;
  readonly #node: NodeReporter;
  readonly #pods: PodReporter;
  #workers = new Map<string, PodWorker>();
  #desired: NodeDesiredMessage | undefined;
  #desiredPods = new Map<string, Pod>();
  /** namespace/name of every desired pod. */
  #desiredNames = new Set<string>();
  #pruneWaiters = new Map<string, Array<(err?: Error) => void>>();
  #sources = new Map<string, KObject>();
  #highestTerm = -1;
  #started = false;
  #stopped = false;
  #resyncTimer: TimerHandle | undefined;
  #eventsSub: { close(): void } | undefined;

  constructor(opts: AgentOptions) {
    this.#o = opts;
    const { runtime, clock, config: cfg } = opts;
    this.#log = opts.logger.child({ component: 'agent' });
    // a sync may wait out a termination grace period: enough workers that others are not held up
    this.#queue = new WorkQueue({ clock, concurrency: SYNC_WORKERS, baseDelayMs: 500, maxDelayMs: 30_000 });
    this.#probeRunner = opts.probeRunner ?? createProbeRunner(runtime);
    this.#baseLabels = { [LABELS.cluster]: cfg.cluster, [LABELS.node]: cfg.nodeName };
    this.#events = new PodEvents(opts.events);
    this.#storage = new PodStorage({
      runtime, clock, logger: this.#log, cluster: cfg.cluster, nodeName: cfg.nodeName, baseLabels: this.#baseLabels,
      ...(cfg.runtimeDir ? { runtimeDir: cfg.runtimeDir } : {}),
    });
    this.#node = new NodeReporter({
      runtime, clock, logger: this.#log, events: opts.events, nodeName: cfg.nodeName, version: cfg.version,
      labels: cfg.node.labels, taints: cfg.node.taints, address: cfg.node.address, heartbeatSeconds: cfg.heartbeatSeconds,
      ...(cfg.dockerHost ? { dockerHost: cfg.dockerHost } : {}),
      ...(cfg.storeReadOnly ? { storeReadOnly: cfg.storeReadOnly } : {}),
      publish: (m) => opts.publishNode(m),
      onDockerBack: () => void this.#resync(),
      onHeartbeat: () => this.#pods.publish(),
    });
    this.#pods = new PodReporter({
      clock, nodeName: cfg.nodeName, hostIP: cfg.node.address, workers: this.#workers,
      ready: () => !this.#stopped && this.#desired !== undefined,
      publish: (m) => opts.publishPods(m),
    });
    const images = new ImageManager({
      runtime, clock, events: this.#events,
      backoffBaseMs: (cfg.imagePullBackoffBaseSeconds ?? 10) * 1000, backoffMaxMs: (cfg.imagePullBackoffMaxSeconds ?? 300) * 1000,
    });
    this.#executor = new Executor({
      runtime, events: this.#events, images, baseLabels: this.#baseLabels, runtimeDir: this.#storage.runtimeDir, hostIP: cfg.node.address,
      createBackoffMaxMs: cfg.agent.crashLoopBackoffMaxSeconds * 1000,
      capacity: () => this.#node.capacity(),
      sources: () => this.#sourceLookup(),
      lineage: () => this.#lineage(),
    });
    this.#rpc = new RpcHandler({
      runtime, clock, logger: this.#log,
      publish: (topic, res) => opts.publishReply(topic, res),
      find: containerFinder(runtime, this.#baseLabels, cfg.nodeName),
      prune: (uid) => this.#prune(uid),
    });
  }

  /** Where Secret and ConfigMap volume files live (tmpfs). */
  get runtimeDir(): string {
    return this.#storage.runtimeDir;
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#stopped = false;
    this.#node.start();
    await this.#storage.init();
    this.#eventsSub = this.#o.runtime.events(this.#baseLabels, (ev) => {
      const uid = ev.labels[LABELS.podUid];
      if (uid) this.#queue.add(uid);
    }, (err) => {
      this.#log.debug({ err: err.message }, 'Docker event stream interrupted (the runtime logs it and reconnects)');
      this.#node.dockerDown(err);
    });
    await this.#node.refreshDocker();
    await this.#adopt();
    await this.#node.refreshFacts();
    this.#queue.run((uid) => this.#sync(uid), (uid, err) => {
      if (err instanceof RuntimeError && err.code === 'Unavailable') this.#node.dockerDown(err);
      this.#log.warn({ err: (err as Error)?.message ?? String(err), pod: uid }, 'pod sync failed; retrying with backoff');
    });
    this.#node.announce();
    this.#scheduleResync();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#started = false;
    this.#pods.stop();
    this.#node.stop();
    this.#resyncTimer?.cancel();
    this.#eventsSub?.close();
    this.#eventsSub = undefined;
    this.#rpc.stop();
    for (const uid of [...this.#pruneWaiters.keys()]) this.#settlePrune(uid, new RpcError('InternalError', 'the node agent is stopping: prune again once it is back'));
    for (const w of this.#workers.values()) for (const p of w.probes.values()) p.stop();
    this.#queue.stop();
    await Promise.race([this.#queue.idle(), new Promise<void>((r) => { const t = setTimeout(r, STOP_WAIT_MS); t.unref(); })]);
  }

  /** Publish node status and pods again (after a broker reconnect). */
  republish(): void {
    this.#node.publish(true);
    this.#pods.publish();
  }

  nodeObject(): Node {
    return this.#node.node();
  }

  // ------------------------------------------------------------------ inputs

  setDesired(msg: NodeDesiredMessage): void {
    if (!msg || typeof msg !== 'object' || !Array.isArray(msg.pods)) {
      this.#log.warn('ignoring a malformed desired-state message (no pods array)');
      return;
    }
    const term = typeof msg.term === 'number' ? msg.term : 0;
    if (term < this.#highestTerm) {
      this.#log.warn({ term, highest: this.#highestTerm }, 'ignoring desired state from a stale leader term');
      return;
    }
    const isObj = (o: unknown): o is KObject => Boolean(o && typeof o === 'object' && (o as KObject).metadata && typeof (o as KObject).metadata.name === 'string');
    const pods = new Map<string, Pod>();
    for (const p of msg.pods) {
      if (isObj(p) && typeof p.metadata.uid === 'string' && Array.isArray((p as Pod).spec?.containers)) pods.set(p.metadata.uid, p as Pod);
      else this.#log.warn('ignoring a malformed pod in the desired state (needs metadata.name, metadata.uid and spec.containers)');
    }
    const sources = new Map<string, KObject>();
    for (const o of Array.isArray(msg.configMaps) ? msg.configMaps : []) if (isObj(o)) sources.set(`ConfigMap/${o.metadata.namespace ?? 'default'}/${o.metadata.name}`, o);
    for (const o of Array.isArray(msg.secrets) ? msg.secrets : []) if (isObj(o)) sources.set(`Secret/${o.metadata.namespace ?? 'default'}/${o.metadata.name}`, o);
    this.#highestTerm = term;
    this.#desired = msg;
    this.#desiredPods = pods;
    this.#desiredNames = new Set([...pods.values()].map((p) => `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`));
    this.#sources = sources;
    for (const [uid, p] of pods) {
      const w = this.#workers.get(uid);
      if (w) w.seen = this.#provenance(p);
    }
    for (const uid of pods.keys()) this.#queue.add(uid);
    for (const uid of this.#workers.keys()) this.#queue.add(uid);
  }

  handleRpc(req: NodeRpcRequest): void {
    this.#rpc.handle(req);
  }

  /** The desired state's lineage, when it has one. */
  #lineage(): string | undefined {
    const l = this.#desired?.lineage;
    return typeof l === 'string' && l ? l : undefined;
  }

  /** What a container made now for this desired pod says it belongs to (as its labels would). */
  #provenance(pod: Pod): Provenance {
    return provenanceOfLabels(provenanceLabels(this.#lineage(), pod));
  }

  #sourceLookup(): ConfigSource {
    return {
      configMap: (ns, name) => this.#sources.get(`ConfigMap/${ns}/${name}`),
      secret: (ns, name) => this.#sources.get(`Secret/${ns}/${name}`),
    };
  }

  // ------------------------------------------------------------------ adoption and resync

  /** Find our containers (and volumes) and queue their pods; nothing is started or removed here. */
  async #adopt(): Promise<void> {
    if (!this.#node.docker) return;
    try {
      const found = await this.#o.runtime.listContainers(this.#baseLabels);
      for (const c of found) {
        const uid = c.labels[LABELS.podUid];
        if (!uid) continue;
        const w = this.#worker(uid);
        const container = c.labels[LABELS.container];
        const attempt = Number(c.labels[LABELS.attempt] ?? '0');
        if (container && Number.isFinite(attempt)) rememberAttempts(w, [{ container, attempt }]);
        this.#queue.add(uid);
      }
      if (found.length) this.#log.info({ containers: found.length, pods: this.#workers.size }, 'found existing pod containers: adopting them');
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'cannot list existing containers yet');
    }
  }

  #scheduleResync(): void {
    this.#resyncTimer = this.#o.clock.setTimeout(() => {
      void (async () => {
        if (this.#stopped) return;
        if (await this.#node.refreshDocker()) await this.#resync();
        this.#node.publish(false);
        this.#scheduleResync();
      })();
    }, this.#o.config.agent.resyncSeconds * 1000);
  }

  /** The safety net beside the event stream: everything of ours is looked at again. */
  async #resync(): Promise<void> {
    const uids = new Set<string>([...this.#workers.keys(), ...this.#desiredPods.keys()]);
    try {
      for (const c of await this.#o.runtime.listContainers(this.#baseLabels)) {
        const uid = c.labels[LABELS.podUid];
        if (uid) uids.add(uid);
      }
      for (const v of await this.#o.runtime.listVolumes(this.#baseLabels)) {
        const uid = v.labels[LABELS.podUid];
        if (uid) uids.add(uid);
      }
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'resync: cannot list containers');
    }
    if (this.#desired) await this.#storage.removeStaleDirs((uid) => this.#desiredPods.has(uid) || this.#workers.has(uid));
    for (const uid of uids) this.#queue.add(uid);
  }

  // ------------------------------------------------------------------ per-pod sync

  #worker(uid: string): PodWorker {
    let w = this.#workers.get(uid);
    if (!w) {
      w = newWorker(uid);
      this.#workers.set(uid, w);
    }
    return w;
  }

  async #observe(uid: string): Promise<Observed[]> {
    const { runtime } = this.#o;
    const list = await runtime.listContainers({ ...this.#baseLabels, [LABELS.podUid]: uid });
    const details = await Promise.all(list.map((c) => runtime.inspect(c.id)));
    const out: Observed[] = [];
    for (const d of details) {
      if (!d) continue;
      const o = observedFrom(d);
      if (o) out.push(o);
    }
    return out;
  }

  async #sync(uid: string): Promise<ReconcileResult> {
    if (this.#stopped) return;
    const desired = this.#desiredPods.get(uid);
    const observed = await this.#observe(uid);
    if (!this.#desired) {
      // adopt only, until the leader said what it wants
      if (observed.length) {
        const w = this.#worker(uid);
        w.observed = observed;
        rememberAttempts(w, observed);
      }
      return;
    }
    if (!desired || desired.metadata.deletionTimestamp) {
      const w = this.#workers.get(uid);
      if (w?.gone) return;
      if (!w && observed.length === 0) {
        await this.#storage.remove(uid);
        return;
      }
      const worker = this.#worker(uid);
      if (!desired && observed.length > 0 && this.#keptAsOrphan(worker, observed)) return;
      await this.#teardown(worker, observed, desired);
      return;
    }
    const w = this.#worker(uid);
    w.pod = desired;
    w.seen = this.#provenance(desired);
    if (w.orphan || w.pruneRequested) {
      delete w.orphan;
      delete w.pruneRequested;
      this.#settlePrune(uid, new RpcError('BadRequest', `pod ${desired.metadata.namespace ?? 'default'}/${desired.metadata.name} (uid ${uid}) is in the desired state again: delete it as any pod`));
    }
    w.observed = observed;
    rememberAttempts(w, observed);
    if (!w.startTime) {
      const first = observed.reduce((m, o) => Math.min(m, o.details.startedAt ?? o.details.createdAt), Number.POSITIVE_INFINITY);
      w.startTime = rfc3339(Number.isFinite(first) ? first : this.#o.clock.now());
    }
    w.waiting.clear();
    this.#updatePodIP(w);
    // terminal pods are never started again (Jobs keep their dead containers for logs)
    const pre = this.#pods.status(w);
    if (pre.phase === 'Succeeded' || pre.phase === 'Failed') w.terminal = true;

    if (observed.length === 0 && !w.terminal && await this.#waitForRivals(w, desired)) return { requeueAfterMs: RIVAL_WAIT_MS };

    let requeue: number | undefined;
    const later = (ms: number): void => { requeue = requeue === undefined ? ms : Math.min(requeue, ms); };
    if (!w.terminal) {
      try {
        await this.#storage.prepare(w, this.#sourceLookup());
      } catch (err) {
        if (!(err instanceof VolumeError)) throw err;
        this.#events.record(w, `mount:${err.volume}:${err.message}`, undefined, 'Warning', 'FailedMount', `MountVolume.SetUp failed for volume "${err.volume}" : ${err.message}`);
        for (const c of desired.spec.containers) {
          if (!attemptsOf(observed, c.name)[0]?.details.running) w.waiting.set(c.name, { reason: 'ContainerCreating' });
        }
        this.#syncProbes(w);
        this.#pods.update(w);
        return { requeueAfterMs: CONFIG_RETRY_MS };
      }
    }

    const cfg = this.#o.config.agent;
    const plan = planPod({
      pod: desired, observed, memory: w.memory, now: this.#o.clock.now(), terminal: w.terminal,
      backoff: { baseMs: cfg.crashLoopBackoffBaseSeconds * 1000, maxMs: cfg.crashLoopBackoffMaxSeconds * 1000, resetMs: cfg.crashLoopResetSeconds * 1000 },
    });
    for (const [name, n] of plan.crashCounts) memoryOf(w, name).crashCount = n;
    if (plan.requeueAfterMs !== undefined) later(plan.requeueAfterMs);
    let changed = false;
    for (const step of plan.steps) {
      const r = await this.#executor.execute(w, desired, step);
      if (r.changed) changed = true;
      if (r.requeueAfterMs !== undefined) later(r.requeueAfterMs);
      if (this.#stopped) return;
    }
    if (changed) {
      w.observed = await this.#observe(uid);
      this.#updatePodIP(w);
    }
    this.#syncProbes(w);
    this.#pods.update(w);
    return requeue !== undefined ? { requeueAfterMs: requeue } : undefined;
  }

  /** The pod goes from this node: probes, containers, volumes and files; reported gone once. */
  async #teardown(w: PodWorker, observed: Observed[], desired: Pod | undefined): Promise<void> {
    const pod = desired ?? w.pod;
    if (desired) w.pod = desired;
    for (const p of w.probes.values()) p.stop();
    w.probes.clear();
    await this.#executor.removeAll(w, observed, pod ? graceSecondsOf(pod) : 30);
    await this.#storage.remove(w.uid);
    w.observed = [];
    w.gone = true;
    this.#log.info({ pod: pod ? `${pod.metadata.namespace}/${pod.metadata.name}` : w.uid }, 'pod removed from this node');
    this.#settlePrune(w.uid);
    this.#pods.schedule();
  }

  // ------------------------------------------------------------------ orphans

  /**
   * A pod the desired state does not hold: true when its containers stay as an orphan (reported,
   * one Warning event), false when they are to be removed. Decided by orphans.ts from what the
   * agent last saw of the pod in a desired message, else from its containers' labels.
   */
  #keptAsOrphan(w: PodWorker, observed: Observed[]): boolean {
    const msg = this.#desired as NodeDesiredMessage;
    const id = identityOf(w.uid, observed) ?? { namespace: w.pod?.metadata.namespace ?? 'default', name: w.pod?.metadata.name ?? w.uid, uid: w.uid };
    const made = w.seen ?? provenanceOf(observed);
    const lineage = this.#lineage();
    const desired = { ...(lineage ? { lineage } : {}), revision: msg.revision };
    const verdict = decideUnowned({
      made, desired: { ...desired, prune: msg.prune === true },
      reapplied: this.#desiredNames.has(`${id.namespace}/${id.name}`), pruneRequested: w.pruneRequested === true,
    });
    if (verdict.remove) {
      if (verdict.reason) this.#log.info({ pod: `${id.namespace}/${id.name}`, uid: w.uid, why: verdict.why }, 'removing an orphaned pod');
      return false;
    }
    w.observed = observed;
    if (w.orphan?.reason !== verdict.reason) {
      for (const p of w.probes.values()) p.stop();
      w.probes.clear();
      const message = orphanMessage(id, made, verdict.reason, desired);
      this.#log.warn({ pod: `${id.namespace}/${id.name}`, uid: w.uid }, message);
      w.orphan = { id, made, reason: verdict.reason };
      this.#events.record(w, `orphaned:${verdict.reason}`, undefined, 'Warning', 'Orphaned', message);
    }
    this.#pods.updateOrphan(w);
    return true;
  }

  /**
   * Before a new pod's first container: containers of an earlier pod with its namespace/name
   * that the desired state does not hold (an orphan the user applied again, or a deleted pod)
   * are removed first (their own syncs decide); true while some are left.
   */
  async #waitForRivals(w: PodWorker, pod: Pod): Promise<boolean> {
    const ns = pod.metadata.namespace ?? 'default';
    const found = await this.#o.runtime.listContainers({ ...this.#baseLabels, [LABELS.podNamespace]: ns, [LABELS.podName]: pod.metadata.name });
    const rivals = [...new Set(found.map((c) => c.labels[LABELS.podUid] ?? ''))].filter((u) => u && u !== w.uid && !this.#desiredPods.has(u));
    if (!rivals.length) return false;
    for (const uid of rivals) this.#queue.add(uid);
    const message = `waiting for the containers of the earlier pod ${ns}/${pod.metadata.name} (uid ${rivals.join(', ')}) to be removed`;
    for (const c of pod.spec.containers) w.waiting.set(c.name, { reason: 'ContainerCreating', message });
    this.#pods.update(w);
    return true;
  }

  /** RPC prune: remove an orphan now; resolves once its containers are gone. */
  #prune(uid: string): Promise<void> {
    const w = this.#workers.get(uid);
    if (!w?.orphan || w.gone) {
      return Promise.reject(new RpcError('NotFound', `no orphaned pod with uid ${uid} on node ${this.#o.config.nodeName} (pifleet get pods lists orphans)`));
    }
    w.pruneRequested = true;
    const { id } = w.orphan;
    return new Promise<void>((resolve, reject) => {
      const waiters = this.#pruneWaiters.get(uid) ?? [];
      this.#pruneWaiters.set(uid, waiters);
      const settle = (err?: Error): void => {
        timer.cancel();
        if (err) reject(err);
        else resolve();
      };
      const timer = this.#o.clock.setTimeout(() => {
        waiters.splice(waiters.indexOf(settle), 1);
        reject(new RpcError('InternalError', `the containers of orphaned pod ${id.namespace}/${id.name} (uid ${uid}) are still being removed after ${PRUNE_WAIT_MS / 1000}s; look again with pifleet get pods`));
      }, PRUNE_WAIT_MS);
      waiters.push(settle);
      this.#queue.add(uid);
    });
  }

  #settlePrune(uid: string, err?: Error): void {
    const waiters = this.#pruneWaiters.get(uid);
    if (!waiters) return;
    this.#pruneWaiters.delete(uid);
    for (const settle of waiters) settle(err);
  }

  // ------------------------------------------------------------------ pod IP and probes

  #syncProbes(w: PodWorker): void {
    syncPodProbes(w, {
      clock: this.#o.clock, run: this.#probeRunner,
      onChange: () => this.#pods.update(w),
      onUnhealthy: (container, message) => this.#events.record(w, undefined, container, 'Warning', 'Unhealthy', message),
      onKill: () => this.#queue.add(w.uid),
    });
  }

  #updatePodIP(w: PodWorker): void {
    const pod = w.pod;
    if (!pod) return;
    let ip: string | undefined;
    if (pod.spec.hostNetwork) ip = this.#o.config.node.address;
    else if (needsInfra(pod)) ip = attemptsOf(w.observed, INFRA_CONTAINER).find((o) => o.details.running)?.details.ipAddress;
    else ip = attemptsOf(w.observed, pod.spec.containers[0]?.name ?? '').find((o) => o.details.running)?.details.ipAddress;
    if (ip && ip !== w.podIP) {
      w.podIP = ip;
      for (const p of w.probes.values()) p.setPodIP(ip);
    }
  }
}
