/**
 * The node agent: runs the pods the leader binds to this node as Docker containers and reports
 * node and pod status. It owns the per-pod sync loop (a de-duplicating WorkQueue keyed by pod
 * uid, driven by desired-state messages, runtime events, probe results and a slow resync), the
 * execution of the planner's steps (plan.ts) through the Runtime, volumes (volumes.ts), probes
 * (probes.ts), status (status.ts), the Node object (node-status.ts) and logs/exec (rpc.ts).
 *
 * Restart-safety: containers are found by labels; a running container whose pod uid, container
 * name and spec hash match the desired pod is adopted as it is. Until the first desired message
 * after start, nothing is created or deleted.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Container, KObject, Node, Pod, PodStatus } from '../api/types.js';
import type { ApiResponse, NodeDesiredMessage, NodePodsMessage, NodeRpcRequest, NodeStatusMessage } from '../broker/topics.js';
import type { EventRecorder, ObjectRef } from '../events/recorder.js';
import type { Clock, TimerHandle } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Random } from '../lib/random.js';
import { backoffDelay } from '../lib/backoff.js';
import { WorkQueue, type ReconcileResult } from '../lib/workqueue.js';
import { INFRA_CONTAINER, LABELS, RuntimeError, type ContainerDetails, type ContainerSpec, type NetworkMode, type PortBinding, type Runtime, type RuntimeInfo } from '../runtime/types.js';
import { quantity } from '../scheduler/scheduler.js';
import { buildEnv, expandCommand, ContainerConfigError, type ConfigSource } from './env.js';
import {
  attemptsOf, containerHash, containerName, graceSecondsOf, infraHash, needsInfra, observedFrom, planPod, specOf,
  type ContainerMemory, type Observed, type Step,
} from './plan.js';
import { computePodStatus, type ContainerView } from './status.js';
import { ContainerProbes, createProbeRunner, probeKindName, type ProbeRunner } from './probes.js';
import {
  chooseRuntimeDir, containerMounts, isTmpfs, emptyDirOptions, emptyDirVolumeName, fileSetHash, podRuntimeDir, prepareHostPath,
  projectFiles, VolumeError, writeAtomic,
} from './volumes.js';
import { buildNode, fsSizeOf, nodeFingerprint, readDisk, readMemory, readStaticFacts, type NodeFacts, type StaticFacts } from './node-status.js';
import { RpcError, RpcHandler, type ContainerLookup } from './rpc.js';
import { rfc3339 } from '../lib/time.js';

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

interface PodWorker {
  uid: string;
  pod?: Pod;
  observed: Observed[];
  memory: Map<string, ContainerMemory>;
  waiting: Map<string, { reason: string; message?: string }>;
  probes: Map<string, ContainerProbes>;
  podIP?: string;
  startTime?: string;
  status?: PodStatus;
  published?: string;
  terminal: boolean;
  volumeHashes: Map<string, string>;
  volumesMade: Set<string>;
  events: Map<string, string>;
  gone: boolean;
}

const PUBLISH_DEBOUNCE_MS = 100;
const CONFIG_RETRY_MS = 10_000;
const STOP_WAIT_MS = 10_000;
const SYNC_WORKERS = 16;

export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  if (image.includes('@')) return 'IfNotPresent';
  const last = image.split('/').pop() ?? image;
  const tag = last.includes(':') ? last.split(':').pop() : undefined;
  return !tag || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

export class Agent {
  readonly #o: AgentOptions;
  readonly #log: Logger;
  readonly #queue: WorkQueue;
  readonly #rpc: RpcHandler;
  readonly #probeRunner: ProbeRunner;
  readonly #runtimeDir: string;
  readonly #baseLabels: Record<string, string>;
  #workers = new Map<string, PodWorker>();
  #desired: NodeDesiredMessage | undefined;
  #desiredPods = new Map<string, Pod>();
  #sources = new Map<string, KObject>();
  #highestTerm = -1;
  #started = false;
  /** start() finished: changes are published from now on. */
  #running = false;
  #stopped = false;
  #seq: number;
  #publishTimer: TimerHandle | undefined;
  #heartbeatTimer: TimerHandle | undefined;
  #resyncTimer: TimerHandle | undefined;
  #dockerRetryTimer: TimerHandle | undefined;
  #dockerFailures = 0;
  #eventsSub: { close(): void } | undefined;
  #docker: RuntimeInfo | undefined;
  #dockerError: string | undefined;
  #static: StaticFacts;
  #diskTotal: number | undefined;
  #facts: { memTotal: number; memAvailable: number; diskTotal: number; diskAvailable: number } = { memTotal: 0, memAvailable: 0, diskTotal: 0, diskAvailable: 0 };
  #node: Node | undefined;
  #nodePublished: string | undefined;
  #cgroupWarned = false;
  #stamp = 0;

  constructor(opts: AgentOptions) {
    this.#o = opts;
    this.#log = opts.logger.child({ component: 'agent' });
    const cfg = opts.config;
    // a sync may wait out a termination grace period: enough workers that others are not held up
    this.#queue = new WorkQueue({ clock: opts.clock, concurrency: SYNC_WORKERS, baseDelayMs: 500, maxDelayMs: 30_000 });
    this.#probeRunner = opts.probeRunner ?? createProbeRunner(opts.runtime);
    this.#runtimeDir = chooseRuntimeDir({ ...(cfg.runtimeDir ? { configured: cfg.runtimeDir } : {}), cluster: cfg.cluster, node: cfg.nodeName });
    this.#baseLabels = { [LABELS.cluster]: cfg.cluster, [LABELS.node]: cfg.nodeName };
    this.#seq = opts.clock.now();
    this.#static = readStaticFacts(cfg.nodeName);
    this.#rpc = new RpcHandler({
      runtime: opts.runtime, clock: opts.clock, logger: this.#log,
      publish: (topic, res) => opts.publishReply(topic, res),
      find: (q) => this.#findContainer(q),
    });
  }

  /** Where Secret and ConfigMap volume files live (tmpfs). */
  get runtimeDir(): string {
    return this.#runtimeDir;
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#stopped = false;
    try {
      await fsp.mkdir(this.#runtimeDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      this.#log.error({ err, dir: this.#runtimeDir }, 'cannot create the runtime directory for Secret/ConfigMap volumes: check that it is writable (tmpfs)');
    }
    if (!isTmpfs(this.#runtimeDir)) {
      this.#log.warn({ dir: this.#runtimeDir }, 'the runtime directory is not on a tmpfs: Secret volume files would be written to disk; set runtimeDir to a tmpfs path (e.g. /run/pifleet)');
    }
    this.#eventsSub = this.#o.runtime.events(this.#baseLabels, (ev) => {
      const uid = ev.labels[LABELS.podUid];
      if (uid) this.#queue.add(uid);
    }, (err) => {
      this.#log.debug({ err: err.message }, 'Docker event stream interrupted (the runtime logs it and reconnects)');
      this.#dockerDown(err);
    });
    await this.#refreshDocker();
    await this.#adopt();
    await this.#refreshFacts();
    this.#queue.run((uid) => this.#sync(uid), (uid, err) => {
      if (err instanceof RuntimeError && err.code === 'Unavailable') this.#dockerDown(err);
      this.#log.warn({ err: (err as Error)?.message ?? String(err), pod: uid }, 'pod sync failed; retrying with backoff');
    });
    this.#running = true;
    this.#publishNode(true);
    this.#heartbeat();
    this.#scheduleResync();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#started = false;
    this.#running = false;
    this.#publishTimer?.cancel();
    this.#heartbeatTimer?.cancel();
    this.#resyncTimer?.cancel();
    this.#dockerRetryTimer?.cancel();
    this.#eventsSub?.close();
    this.#eventsSub = undefined;
    this.#rpc.stop();
    for (const w of this.#workers.values()) for (const p of w.probes.values()) p.stop();
    this.#queue.stop();
    await Promise.race([this.#queue.idle(), new Promise<void>((r) => { const t = setTimeout(r, STOP_WAIT_MS); t.unref(); })]);
  }

  /** Publish node status and pods again (after a broker reconnect). */
  republish(): void {
    this.#publishNode(true);
    if (this.#desired) this.#publishPods();
  }

  nodeObject(): Node {
    return this.#node ?? this.#buildNode();
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
    this.#sources = sources;
    for (const uid of pods.keys()) this.#queue.add(uid);
    for (const uid of this.#workers.keys()) this.#queue.add(uid);
  }

  handleRpc(req: NodeRpcRequest): void {
    this.#rpc.handle(req);
  }

  // ------------------------------------------------------------------ docker and node facts

  #dockerHost(): string {
    return this.#o.config.dockerHost ?? process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  }

  async #refreshDocker(): Promise<boolean> {
    try {
      const info = await this.#o.runtime.info();
      const was = this.#docker;
      this.#docker = info;
      this.#dockerError = undefined;
      this.#dockerFailures = 0;
      this.#dockerRetryTimer?.cancel();
      this.#dockerRetryTimer = undefined;
      if (!was) {
        this.#log.info({ version: info.serverVersion }, 'Docker is reachable');
        if (this.#diskTotal === undefined) this.#diskTotal = await fsSizeOf(info.dockerRootDir);
      }
      if (!info.memoryLimit && !this.#cgroupWarned) {
        this.#cgroupWarned = true;
        this.#log.warn('the memory cgroup is disabled: memory limits are not enforced');
        this.#o.events.record({ kind: 'Node', name: this.#o.config.nodeName }, 'Warning', 'MemoryCgroupUnavailable',
          'memory limits are not enforced: add cgroup_enable=memory cgroup_memory=1 to /boot/firmware/cmdline.txt and reboot');
      }
      return true;
    } catch (err) {
      this.#dockerDown(err as Error);
      return false;
    }
  }

  #dockerDown(err: Error): void {
    if (this.#stopped) return;
    const was = this.#docker;
    this.#docker = undefined;
    this.#dockerError = err.message;
    if (was || this.#dockerFailures === 0) this.#log.error({ err: err.message }, 'Docker is not reachable: retrying with backoff; the node reports NotReady meanwhile');
    if (this.#running) this.#publishNode(false);
    if (!this.#dockerRetryTimer) {
      this.#dockerFailures++;
      const delay = backoffDelay(this.#dockerFailures, 1000, 30_000);
      this.#dockerRetryTimer = this.#o.clock.setTimeout(() => {
        this.#dockerRetryTimer = undefined;
        void this.#refreshDocker().then((ok) => {
          if (ok && this.#running) {
            this.#publishNode(false);
            void this.#resync();
          }
        });
      }, delay);
    }
  }

  async #refreshFacts(): Promise<void> {
    try {
      const m = await readMemory();
      this.#facts.memTotal = m.total;
      this.#facts.memAvailable = m.available;
    } catch { /* keep the last values */ }
    const d = await readDisk(this.#docker?.dockerRootDir ?? '/var/lib/docker');
    this.#facts.diskTotal = this.#diskTotal ?? d.total;
    this.#facts.diskAvailable = d.available;
  }

  #buildNode(): Node {
    const cfg = this.#o.config;
    const facts: NodeFacts = {
      ...this.#static,
      address: cfg.node.address,
      cpus: this.#docker?.ncpu ?? this.#static.cpus,
      memTotalBytes: this.#facts.memTotal || this.#docker?.memTotalBytes || 0,
      memAvailableBytes: this.#facts.memAvailable,
      diskTotalBytes: this.#facts.diskTotal,
      diskAvailableBytes: this.#facts.diskAvailable,
      ...(this.#docker ? { docker: this.#docker } : {}),
      ...(this.#dockerError ? { dockerError: this.#dockerError } : {}),
      dockerHost: this.#dockerHost(),
    };
    return buildNode(facts, { nodeName: cfg.nodeName, labels: cfg.node.labels, taints: cfg.node.taints, version: cfg.version }, this.#node, this.#o.clock.now());
  }

  /** Publish the Node when it changed (or always, for heartbeats). */
  #publishNode(always: boolean): void {
    if (this.#stopped) return;
    const node = this.#buildNode();
    this.#node = node;
    const fp = nodeFingerprint(node);
    if (!always && fp === this.#nodePublished) return;
    this.#nodePublished = fp;
    this.#o.publishNode({ node: this.#o.config.nodeName, online: true, heartbeat: this.#o.clock.now(), object: node });
  }

  #heartbeat(): void {
    this.#heartbeatTimer = this.#o.clock.setTimeout(() => {
      void (async () => {
        if (this.#stopped) return;
        await this.#refreshFacts();
        this.#publishNode(true);
        if (this.#desired) this.#publishPods();
        this.#heartbeat();
      })();
    }, this.#o.config.heartbeatSeconds * 1000);
  }

  #scheduleResync(): void {
    this.#resyncTimer = this.#o.clock.setTimeout(() => {
      void (async () => {
        if (this.#stopped) return;
        if (await this.#refreshDocker()) await this.#resync();
        this.#publishNode(false);
        this.#scheduleResync();
      })();
    }, this.#o.config.agent.resyncSeconds * 1000);
  }

  // ------------------------------------------------------------------ adoption and resync

  /** Find our containers (and volumes) and queue their pods; nothing is started or removed here. */
  async #adopt(): Promise<void> {
    if (!this.#docker) return;
    try {
      const found = await this.#o.runtime.listContainers(this.#baseLabels);
      for (const c of found) {
        const uid = c.labels[LABELS.podUid];
        if (!uid) continue;
        const w = this.#worker(uid);
        const name = c.labels[LABELS.container];
        const attempt = Number(c.labels[LABELS.attempt] ?? '0');
        if (name && Number.isFinite(attempt)) {
          const mem = this.#memory(w, name);
          mem.lastAttempt = Math.max(mem.lastAttempt, attempt);
        }
        this.#queue.add(uid);
      }
      if (found.length) this.#log.info({ containers: found.length, pods: this.#workers.size }, 'found existing pod containers: adopting them');
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'cannot list existing containers yet');
    }
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
    if (this.#desired) await this.#cleanOrphanDirs();
    for (const uid of uids) this.#queue.add(uid);
  }

  async #cleanOrphanDirs(): Promise<void> {
    const root = join(this.#runtimeDir, 'pods');
    let names: string[];
    try { names = await fsp.readdir(root); } catch { return; }
    for (const uid of names) {
      if (this.#desiredPods.has(uid) || this.#workers.has(uid)) continue;
      try {
        const owner = (await fsp.readFile(join(root, uid, '.owner'), 'utf8')).trim();
        if (owner !== `${this.#o.config.cluster}/${this.#o.config.nodeName}`) continue;
        await fsp.rm(join(root, uid), { recursive: true, force: true });
      } catch { /* not ours */ }
    }
  }

  // ------------------------------------------------------------------ per-pod sync

  #worker(uid: string): PodWorker {
    let w = this.#workers.get(uid);
    if (!w) {
      w = {
        uid, observed: [], memory: new Map(), waiting: new Map(), probes: new Map(), terminal: false,
        volumeHashes: new Map(), volumesMade: new Set(), events: new Map(), gone: false,
      };
      this.#workers.set(uid, w);
    }
    return w;
  }

  #memory(w: PodWorker, container: string): ContainerMemory {
    let m = w.memory.get(container);
    if (!m) {
      m = { crashCount: 0, lastAttempt: -1, pullFailures: 0 };
      w.memory.set(container, m);
    }
    return m;
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
        for (const o of observed) {
          const mem = this.#memory(w, o.container);
          mem.lastAttempt = Math.max(mem.lastAttempt, o.attempt);
        }
      }
      return;
    }
    if (!desired || desired.metadata.deletionTimestamp) {
      const w = this.#workers.get(uid);
      if (w?.gone) return;
      if (!w && observed.length === 0) {
        await this.#removePodStorage(uid);
        return;
      }
      await this.#teardown(this.#worker(uid), observed, desired);
      return;
    }
    const w = this.#worker(uid);
    w.pod = desired;
    w.observed = observed;
    for (const o of observed) {
      const mem = this.#memory(w, o.container);
      mem.lastAttempt = Math.max(mem.lastAttempt, o.attempt);
    }
    if (!w.startTime) {
      const first = observed.reduce((m, o) => Math.min(m, o.details.startedAt ?? o.details.createdAt), Number.POSITIVE_INFINITY);
      w.startTime = rfc3339(Number.isFinite(first) ? first : this.#o.clock.now());
    }
    w.waiting.clear();
    this.#updatePodIP(w);
    // terminal pods are never started again (Jobs keep their dead containers for logs)
    const pre = this.#status(w);
    if (pre.phase === 'Succeeded' || pre.phase === 'Failed') w.terminal = true;

    let requeue: number | undefined;
    const later = (ms: number): void => { requeue = requeue === undefined ? ms : Math.min(requeue, ms); };
    if (!w.terminal) {
      try {
        await this.#prepareVolumes(w);
      } catch (err) {
        if (!(err instanceof VolumeError)) throw err;
        this.#event(w, `mount:${err.volume}:${err.message}`, undefined, 'Warning', 'FailedMount', `MountVolume.SetUp failed for volume "${err.volume}" : ${err.message}`);
        for (const c of desired.spec.containers) {
          if (!attemptsOf(observed, c.name)[0]?.details.running) w.waiting.set(c.name, { reason: 'ContainerCreating' });
        }
        this.#syncProbes(w);
        this.#updateStatus(w);
        return { requeueAfterMs: CONFIG_RETRY_MS };
      }
    }

    const cfg = this.#o.config.agent;
    const plan = planPod({
      pod: desired, observed, memory: w.memory, now: this.#o.clock.now(), terminal: w.terminal,
      backoff: { baseMs: cfg.crashLoopBackoffBaseSeconds * 1000, maxMs: cfg.crashLoopBackoffMaxSeconds * 1000, resetMs: cfg.crashLoopResetSeconds * 1000 },
    });
    for (const [name, n] of plan.crashCounts) this.#memory(w, name).crashCount = n;
    if (plan.requeueAfterMs !== undefined) later(plan.requeueAfterMs);
    let changed = false;
    for (const step of plan.steps) {
      const r = await this.#execute(w, desired, step);
      if (r.changed) changed = true;
      if (r.requeueAfterMs !== undefined) later(r.requeueAfterMs);
      if (this.#stopped) return;
    }
    if (changed) {
      w.observed = await this.#observe(uid);
      this.#updatePodIP(w);
    }
    this.#syncProbes(w);
    this.#updateStatus(w);
    return requeue !== undefined ? { requeueAfterMs: requeue } : undefined;
  }

  #ref(w: PodWorker, container?: string): ObjectRef {
    const pod = w.pod;
    return {
      kind: 'Pod', apiVersion: 'v1',
      name: pod?.metadata.name ?? w.uid,
      namespace: pod?.metadata.namespace ?? 'default',
      uid: w.uid,
      ...(container ? { fieldPath: `spec.containers{${container}}` } : {}),
    };
  }

  /** Record an event unless the same key was just recorded with the same message. */
  #event(w: PodWorker, key: string | undefined, container: string | undefined, type: 'Normal' | 'Warning', reason: string, message: string): void {
    if (key !== undefined) {
      if (w.events.get(key) === message) return;
      w.events.set(key, message);
      if (w.events.size > 64) w.events.delete(w.events.keys().next().value as string);
    }
    this.#o.events.record(this.#ref(w, container), type, reason, message);
  }

  async #execute(w: PodWorker, pod: Pod, step: Step): Promise<{ changed?: boolean; requeueAfterMs?: number }> {
    const { runtime } = this.#o;
    switch (step.type) {
      case 'removeContainer':
        await runtime.removeContainer(step.id, { force: true });
        return { changed: true };
      case 'stopContainer': {
        w.probes.get(step.container)?.stop();
        w.probes.delete(step.container);
        if (step.container !== INFRA_CONTAINER) {
          const msg = step.why === 'liveness' && step.message ? step.message : step.why === 'spec-changed' ? `Container ${step.container} definition changed, will be restarted` : `Stopping container ${step.container}`;
          this.#event(w, undefined, step.container, 'Normal', 'Killing', msg);
        }
        await runtime.stopContainer(step.id, step.graceSeconds);
        const mem = w.memory.get(step.container);
        if (mem?.killRequest?.id === step.id) delete mem.killRequest;
        return { changed: true };
      }
      case 'createInfra':
        return this.#createInfra(w, pod, step.attempt);
      case 'startContainer':
        return this.#startContainer(w, pod, step.container, step.attempt);
      case 'crashLoopBackOff': {
        w.waiting.set(step.container, { reason: 'CrashLoopBackOff', message: step.message });
        this.#event(w, `backoff:${step.container}:${step.until}`, step.container, 'Warning', 'BackOff', `Back-off restarting failed container ${step.container} in pod ${pod.metadata.name}_${pod.metadata.namespace ?? 'default'}(${pod.metadata.uid})`);
        return {};
      }
      case 'pullBackOff': {
        const image = specOf(pod, step.container)?.image ?? '';
        const mem = w.memory.get(step.container);
        const never = mem?.neverPull;
        if (never) {
          w.waiting.set(step.container, { reason: 'ErrImageNeverPull', message: never });
        } else {
          w.waiting.set(step.container, { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` });
          this.#event(w, `pullbackoff:${step.container}:${step.until}`, step.container, 'Normal', 'BackOff', `Back-off pulling image "${image}"`);
        }
        return {};
      }
    }
  }

  #pullBackoff(mem: ContainerMemory): number {
    const cfg = this.#o.config;
    mem.pullFailures++;
    const delay = backoffDelay(mem.pullFailures, (cfg.imagePullBackoffBaseSeconds ?? 10) * 1000, (cfg.imagePullBackoffMaxSeconds ?? 300) * 1000);
    mem.pullRetryAt = this.#o.clock.now() + delay;
    return delay;
  }

  /** Make sure the image is there according to the pull policy; false (with a waiting reason) when not. */
  async #ensureImage(w: PodWorker, c: Container): Promise<{ ok: boolean; requeueAfterMs?: number }> {
    const { runtime, clock } = this.#o;
    const image = c.image ?? '';
    const mem = this.#memory(w, c.name);
    const policy = c.imagePullPolicy ?? defaultPullPolicy(image);
    const present = await runtime.imagePresent(image);
    if (policy === 'Never' && !present) {
      const msg = `Container image "${image}" is not present with pull policy of Never`;
      w.waiting.set(c.name, { reason: 'ErrImageNeverPull', message: msg });
      mem.neverPull = msg;
      this.#event(w, `neverpull:${c.name}`, c.name, 'Warning', 'ErrImageNeverPull', msg);
      this.#event(w, `neverpull-err:${c.name}`, c.name, 'Warning', 'Failed', 'Error: ErrImageNeverPull');
      return { ok: false, requeueAfterMs: this.#pullBackoff(mem) };
    }
    delete mem.neverPull;
    if (policy === 'Always' || !present) {
      this.#event(w, undefined, c.name, 'Normal', 'Pulling', `Pulling image "${image}"`);
      const t0 = clock.monotonic();
      try {
        await runtime.pullImage(image);
      } catch (err) {
        const msg = (err as Error).message;
        w.waiting.set(c.name, { reason: 'ErrImagePull', message: msg });
        this.#event(w, undefined, c.name, 'Warning', 'Failed', `Failed to pull image "${image}": ${msg}`);
        this.#event(w, undefined, c.name, 'Warning', 'Failed', 'Error: ErrImagePull');
        this.#pullBackoff(mem);
        // show ErrImagePull for a moment, then ImagePullBackOff until the retry
        return { ok: false, requeueAfterMs: 1000 };
      }
      mem.pullFailures = 0;
      delete mem.pullRetryAt;
      this.#event(w, undefined, c.name, 'Normal', 'Pulled', `Successfully pulled image "${image}" in ${((clock.monotonic() - t0) / 1000).toFixed(3)}s`);
    } else {
      this.#event(w, undefined, c.name, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);
    }
    mem.pullFailures = 0;
    delete mem.pullRetryAt;
    return { ok: true };
  }

  #labels(pod: Pod, container: string, attempt: number, hash: string): Record<string, string> {
    return {
      ...this.#baseLabels,
      [LABELS.podUid]: pod.metadata.uid ?? '',
      [LABELS.podNamespace]: pod.metadata.namespace ?? 'default',
      [LABELS.podName]: pod.metadata.name,
      [LABELS.container]: container,
      [LABELS.attempt]: String(attempt),
      [LABELS.hash]: hash,
    };
  }

  #hostPorts(pod: Pod, only?: Container): PortBinding[] {
    const out: PortBinding[] = [];
    for (const c of only ? [only] : pod.spec.containers) {
      for (const p of c.ports ?? []) {
        if (!p.hostPort) continue;
        out.push({ containerPort: p.containerPort, hostPort: p.hostPort, ...(p.hostIP ? { hostIP: p.hostIP } : {}), protocol: (p.protocol ?? 'TCP').toLowerCase() === 'udp' ? 'udp' : 'tcp' });
      }
    }
    return out;
  }

  #podLevel(pod: Pod): Pick<ContainerSpec, 'hostname' | 'extraHosts' | 'dns'> {
    const extraHosts = (pod.spec.hostAliases ?? []).flatMap((a) => (a.hostnames ?? []).map((h) => `${h}:${a.ip}`));
    const dns = pod.spec.dnsConfig?.nameservers;
    return {
      // the kubelet truncates the pod name to a 63-character hostname
      ...(pod.spec.hostNetwork ? {} : { hostname: (pod.spec.hostname ?? pod.metadata.name).slice(0, 63).replace(/[-.]+$/, '') }),
      ...(extraHosts.length ? { extraHosts } : {}),
      ...(dns?.length ? { dns } : {}),
    };
  }

  async #createInfra(w: PodWorker, pod: Pod, attempt: number): Promise<{ changed?: boolean; requeueAfterMs?: number }> {
    const { runtime } = this.#o;
    try {
      const image = await runtime.ensurePauseImage();
      const spec: ContainerSpec = {
        name: containerName(pod, INFRA_CONTAINER, attempt),
        image, env: [],
        labels: this.#labels(pod, INFRA_CONTAINER, attempt, infraHash(pod)),
        network: { mode: 'bridge' },
        ports: this.#hostPorts(pod),
        mounts: [],
        ...this.#podLevel(pod),
      };
      const id = await this.#create(spec, w);
      await runtime.startContainer(id);
      this.#memory(w, INFRA_CONTAINER).lastAttempt = attempt;
      return { changed: true };
    } catch (err) {
      if (err instanceof RuntimeError && err.code === 'Unavailable') throw err;
      const msg = (err as Error).message;
      this.#event(w, `sandbox:${msg}`, undefined, 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${msg}`);
      for (const c of pod.spec.containers) w.waiting.set(c.name, { reason: 'ContainerCreating', message: `Failed to create pod sandbox: ${msg}` });
      const mem = this.#memory(w, INFRA_CONTAINER);
      mem.lastAttempt = Math.max(mem.lastAttempt, attempt);
      return { changed: true, requeueAfterMs: backoffDelay(++mem.crashCount, 1000, 60_000) };
    }
  }

  /** Create a container; a leftover with the same name (crash between create and label) is removed first. */
  async #create(spec: ContainerSpec, w: PodWorker): Promise<string> {
    try {
      return await this.#o.runtime.createContainer(spec);
    } catch (err) {
      if (!(err instanceof RuntimeError) || err.code !== 'Conflict') throw err;
      const clash = w.observed.find((o) => o.details.name === spec.name);
      if (clash) await this.#o.runtime.removeContainer(clash.id, { force: true });
      else {
        const same = (await this.#o.runtime.listContainers(this.#baseLabels)).find((c) => c.name === spec.name);
        if (same) await this.#o.runtime.removeContainer(same.id, { force: true });
      }
      return this.#o.runtime.createContainer(spec);
    }
  }

  #sourceLookup(): ConfigSource {
    return {
      configMap: (ns, name) => this.#sources.get(`ConfigMap/${ns}/${name}`),
      secret: (ns, name) => this.#sources.get(`Secret/${ns}/${name}`),
    };
  }

  async #startContainer(w: PodWorker, pod: Pod, name: string, attempt: number): Promise<{ changed?: boolean; requeueAfterMs?: number }> {
    const { runtime } = this.#o;
    const c = specOf(pod, name);
    if (!c) return {};
    const mem = this.#memory(w, name);
    const img = await this.#ensureImage(w, c);
    if (!img.ok) return img.requeueAfterMs !== undefined ? { requeueAfterMs: img.requeueAfterMs } : {};

    let env: Array<[string, string]>;
    let mounts;
    try {
      env = buildEnv(c, {
        pod, ...(w.podIP ? { podIP: w.podIP } : {}), hostIP: this.#o.config.node.address,
        nodeCpuCores: this.#docker?.ncpu ?? this.#static.cpus,
        nodeMemoryBytes: this.#docker?.memTotalBytes ?? this.#facts.memTotal,
        sources: this.#sourceLookup(),
      });
      mounts = containerMounts(pod, c, this.#runtimeDir);
    } catch (err) {
      if (!(err instanceof ContainerConfigError) && !(err instanceof VolumeError)) throw err;
      w.waiting.set(name, { reason: 'CreateContainerConfigError', message: err.message });
      this.#event(w, `config:${name}:${err.message}`, name, 'Warning', 'Failed', `Error: ${err.message}`);
      return { requeueAfterMs: CONFIG_RETRY_MS };
    }
    const cmd = expandCommand(c, env);
    let network: NetworkMode;
    let ports: PortBinding[] = [];
    let podLevel: Pick<ContainerSpec, 'hostname' | 'extraHosts' | 'dns'> = {};
    if (pod.spec.hostNetwork) {
      network = { mode: 'host' };
      podLevel = this.#podLevel(pod);
    } else if (needsInfra(pod)) {
      const infra = attemptsOf(w.observed, INFRA_CONTAINER).find((o) => o.details.running);
      if (!infra) return { requeueAfterMs: 1 };
      network = { mode: 'container', id: infra.id };
    } else {
      network = { mode: 'bridge' };
      ports = this.#hostPorts(pod, c);
      podLevel = this.#podLevel(pod);
    }
    const limits = (c.resources?.limits ?? {}) as Record<string, string | number>;
    const mem$ = limits.memory !== undefined ? Math.floor(quantity(limits.memory)) : 0;
    const cpu = limits.cpu !== undefined ? Math.round(quantity(limits.cpu) * 1e9) : 0;
    const sc = c.securityContext ?? {};
    const user = sc.runAsUser !== undefined ? `${sc.runAsUser}${sc.runAsGroup !== undefined ? `:${sc.runAsGroup}` : ''}` : undefined;
    const spec: ContainerSpec = {
      name: containerName(pod, name, attempt),
      image: c.image ?? '',
      ...(cmd.command ? { entrypoint: cmd.command } : {}),
      ...(cmd.args ? { cmd: cmd.args } : {}),
      env: env.map(([k, v]) => `${k}=${v}`),
      labels: this.#labels(pod, name, attempt, containerHash(pod, c)),
      ...(c.workingDir ? { workingDir: c.workingDir } : {}),
      ...(user ? { user } : {}),
      ...(c.tty ? { tty: true } : {}),
      ...(c.stdin ? { openStdin: true } : {}),
      network, ports, mounts,
      ...(Number.isFinite(mem$) && mem$ > 0 ? { memoryBytes: mem$ } : {}),
      ...(Number.isFinite(cpu) && cpu > 0 ? { nanoCpus: cpu } : {}),
      ...(sc.privileged ? { privileged: true } : {}),
      ...(sc.capabilities?.add?.length ? { capAdd: sc.capabilities.add } : {}),
      ...(sc.capabilities?.drop?.length ? { capDrop: sc.capabilities.drop } : {}),
      ...(sc.readOnlyRootFilesystem ? { readOnlyRootfs: true } : {}),
      ...podLevel,
    };
    let id: string;
    try {
      id = await this.#create(spec, w);
    } catch (err) {
      if (err instanceof RuntimeError && err.code === 'Unavailable') throw err;
      const msg = (err as Error).message;
      w.waiting.set(name, { reason: 'CreateContainerError', message: msg });
      this.#event(w, `create:${name}:${msg}`, name, 'Warning', 'Failed', `Error: ${msg}`);
      return { requeueAfterMs: backoffDelay(Math.max(1, mem.crashCount), 1000, this.#o.config.agent.crashLoopBackoffMaxSeconds * 1000) };
    }
    mem.lastAttempt = Math.max(mem.lastAttempt, attempt);
    this.#event(w, undefined, name, 'Normal', 'Created', `Created container ${name}`);
    try {
      await runtime.startContainer(id);
    } catch (err) {
      if (err instanceof RuntimeError && err.code === 'Unavailable') throw err;
      const msg = (err as Error).message;
      w.waiting.set(name, { reason: 'RunContainerError', message: msg });
      this.#event(w, undefined, name, 'Warning', 'Failed', `Error: ${msg}`);
      return { changed: true, requeueAfterMs: 1000 };
    }
    this.#event(w, undefined, name, 'Normal', 'Started', `Started container ${name}`);
    w.waiting.delete(name);
    delete mem.killRequest;
    return { changed: true };
  }

  async #prepareVolumes(w: PodWorker): Promise<void> {
    const pod = w.pod as Pod;
    const vols = pod.spec.volumes ?? [];
    if (!vols.length) return;
    const dir = podRuntimeDir(this.#runtimeDir, w.uid);
    for (const v of vols) {
      if (v.emptyDir) {
        if (w.volumesMade.has(v.name)) continue;
        await this.#o.runtime.ensureVolume(emptyDirVolumeName(pod, v.name), { ...this.#baseLabels, [LABELS.podUid]: w.uid }, emptyDirOptions(v));
        w.volumesMade.add(v.name);
      } else if (v.hostPath) {
        if (w.volumesMade.has(v.name)) continue;
        try {
          await prepareHostPath(v);
        } catch (err) {
          if (err instanceof VolumeError) throw err;
          throw new VolumeError(v.name, `hostPath ${v.hostPath.path}: ${(err as Error).message}`);
        }
        w.volumesMade.add(v.name);
      } else if (v.configMap || v.secret) {
        const files = projectFiles(pod, v, this.#sourceLookup());
        if (!files) continue;
        const hash = fileSetHash(files);
        if (w.volumeHashes.get(v.name) === hash) continue;
        try {
          await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
          await fsp.writeFile(join(dir, '.owner'), `${this.#o.config.cluster}/${this.#o.config.nodeName}\n`);
          await writeAtomic(join(dir, 'volumes', v.name), files, `${this.#o.clock.now().toString(36)}_${(this.#stamp++).toString(36)}`);
        } catch (err) {
          throw new VolumeError(v.name, `cannot write volume files under ${dir}: ${(err as Error).message} (check that the runtime directory is a writable tmpfs)`);
        }
        w.volumeHashes.set(v.name, hash);
      }
    }
  }

  async #removePodStorage(uid: string): Promise<void> {
    const { runtime } = this.#o;
    try {
      for (const v of await runtime.listVolumes({ ...this.#baseLabels, [LABELS.podUid]: uid })) await runtime.removeVolume(v.name);
    } catch (err) {
      if (err instanceof RuntimeError && err.code === 'Unavailable') throw err;
      this.#log.warn({ err: (err as Error).message, pod: uid }, 'cannot remove pod volumes yet');
    }
    await fsp.rm(podRuntimeDir(this.#runtimeDir, uid), { recursive: true, force: true });
  }

  async #teardown(w: PodWorker, observed: Observed[], desired: Pod | undefined): Promise<void> {
    const { runtime } = this.#o;
    const pod = desired ?? w.pod;
    if (desired) w.pod = desired;
    for (const p of w.probes.values()) p.stop();
    w.probes.clear();
    const grace = pod ? graceSecondsOf(pod) : 30;
    const apps = observed.filter((o) => o.container !== INFRA_CONTAINER);
    await Promise.all(apps.filter((o) => o.details.running).map(async (o) => {
      this.#event(w, undefined, o.container, 'Normal', 'Killing', `Stopping container ${o.container}`);
      await runtime.stopContainer(o.id, grace);
    }));
    for (const o of observed.filter((x) => x.container === INFRA_CONTAINER && x.details.running)) await runtime.stopContainer(o.id, 0);
    for (const o of observed) await runtime.removeContainer(o.id, { force: true });
    await this.#removePodStorage(w.uid);
    w.observed = [];
    w.gone = true;
    this.#log.info({ pod: pod ? `${pod.metadata.namespace}/${pod.metadata.name}` : w.uid }, 'pod removed from this node');
    this.#schedulePublish();
  }

  // ------------------------------------------------------------------ probes and status

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

  #syncProbes(w: PodWorker): void {
    const pod = w.pod;
    if (!pod) return;
    for (const c of pod.spec.containers) {
      const cur = w.probes.get(c.name);
      const latest = attemptsOf(w.observed, c.name)[0];
      const running = latest?.details.running ? latest : undefined;
      if (cur && (!running || cur.containerId !== running.id || w.terminal)) {
        cur.stop();
        w.probes.delete(c.name);
      }
      if (!running || w.terminal || w.probes.has(c.name)) continue;
      if (!c.livenessProbe && !c.readinessProbe && !c.startupProbe) continue;
      const uid = w.uid;
      const id = running.id;
      const probes = new ContainerProbes({
        clock: this.#o.clock,
        target: { containerId: id, container: c, ...(w.podIP ? { podIP: w.podIP } : {}), hostNetwork: Boolean(pod.spec.hostNetwork) },
        startedAt: running.details.startedAt ?? this.#o.clock.now(),
        run: this.#probeRunner,
        callbacks: {
          onChange: () => { if (w.probes.get(c.name) === probes) this.#updateStatus(w); },
          onUnhealthy: (kind, message) => {
            this.#event(w, undefined, c.name, 'Warning', 'Unhealthy', `${probeKindName(kind)} probe failed: ${message}`);
          },
          onFailure: (kind, _message) => {
            if (w.probes.get(c.name) !== probes) return;
            const probe = kind === 'liveness' ? c.livenessProbe : c.startupProbe;
            const grace = probe?.terminationGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
            this.#memory(w, c.name).killRequest = { id, reason: `Container ${c.name} failed ${kind} probe, will be restarted`, graceSeconds: grace };
            this.#queue.add(uid);
          },
        },
      });
      w.probes.set(c.name, probes);
      probes.start();
    }
  }

  #views(w: PodWorker): Map<string, ContainerView> {
    const views = new Map<string, ContainerView>();
    for (const c of [...(w.pod?.spec.initContainers ?? []), ...(w.pod?.spec.containers ?? [])]) {
      const p = w.probes.get(c.name);
      const hasProbes = Boolean(c.livenessProbe || c.readinessProbe || c.startupProbe);
      const waiting = w.waiting.get(c.name);
      views.set(c.name, {
        ...(waiting ? { waiting } : {}),
        ready: p ? p.ready : !hasProbes || (!c.readinessProbe && !c.startupProbe),
        started: p ? p.started : !c.startupProbe,
      });
    }
    return views;
  }

  #status(w: PodWorker): PodStatus {
    return computePodStatus({
      pod: w.pod as Pod,
      observed: w.observed,
      views: this.#views(w),
      ...(w.podIP ? { podIP: w.podIP } : {}),
      hostIP: this.#o.config.node.address,
      ...(w.startTime ? { startTime: w.startTime } : {}),
      ...(w.status ? { previous: w.status } : {}),
      now: this.#o.clock.now(),
    });
  }

  #updateStatus(w: PodWorker): void {
    if (!w.pod || w.gone) return;
    const status = this.#status(w);
    if (status.phase === 'Succeeded' || status.phase === 'Failed') w.terminal = true;
    const json = JSON.stringify(status);
    w.status = status;
    if (json !== w.published) this.#schedulePublish();
  }

  #schedulePublish(): void {
    if (this.#publishTimer || this.#stopped) return;
    this.#publishTimer = this.#o.clock.setTimeout(() => {
      this.#publishTimer = undefined;
      this.#publishPods();
    }, PUBLISH_DEBOUNCE_MS);
  }

  #publishPods(): void {
    if (this.#stopped || !this.#desired) return;
    const pods: NodePodsMessage['pods'] = [];
    const gone: string[] = [];
    for (const w of this.#workers.values()) {
      if (!w.pod) continue;
      const entry = { namespace: w.pod.metadata.namespace ?? 'default', name: w.pod.metadata.name, uid: w.uid, status: w.status ?? this.#status(w) };
      if (w.gone) {
        pods.push({ ...entry, gone: true });
        gone.push(w.uid);
      } else {
        pods.push(entry);
        w.published = JSON.stringify(entry.status);
      }
    }
    this.#o.publishPods({ node: this.#o.config.nodeName, seq: ++this.#seq, pods });
    for (const uid of gone) this.#workers.delete(uid);
  }

  // ------------------------------------------------------------------ rpc support

  async #findContainer(q: ContainerLookup): Promise<{ id: string; running: boolean }> {
    const labels: Record<string, string> = {
      ...this.#baseLabels,
      [LABELS.podNamespace]: q.namespace,
      [LABELS.podName]: q.pod,
      [LABELS.container]: q.container,
      ...(q.uid ? { [LABELS.podUid]: q.uid } : {}),
    };
    let list;
    try {
      list = await this.#o.runtime.listContainers(labels);
    } catch (err) {
      throw new RpcError('InternalError', `cannot list containers: ${(err as Error).message}`);
    }
    const sorted = list
      .map((c) => ({ c, attempt: Number(c.labels[LABELS.attempt] ?? '0') }))
      .sort((a, b) => b.attempt - a.attempt || b.c.createdAt - a.c.createdAt);
    const pick = q.previous ? sorted[1] : sorted[0];
    if (!pick) {
      if (q.previous) throw new RpcError('BadRequest', `previous terminated container "${q.container}" in pod "${q.pod}" not found`);
      throw new RpcError('NotFound', `container "${q.container}" in pod "${q.pod}" (namespace ${q.namespace}) not found on node ${this.#o.config.nodeName}: it may not have been created yet`);
    }
    const d: ContainerDetails | undefined = await this.#o.runtime.inspect(pick.c.id);
    return { id: pick.c.id, running: Boolean(d?.running) };
  }
}
