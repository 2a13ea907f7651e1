/**
 * The node reporter: whether Docker answers (with backoff while it does not), the node's facts
 * (memory, disk, static facts), the Node object built from them (node-status.ts) and its
 * publication: on change, and every heartbeatSeconds as the node's heartbeat.
 */
import type { Node } from '../api/types.js';
import type { NodeStatusMessage } from '../broker/topics.js';
import type { EventRecorder } from '../events/recorder.js';
import type { Clock, TimerHandle } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { backoffDelay } from '../lib/backoff.js';
import type { Runtime, RuntimeInfo } from '../runtime/types.js';
import { buildNode, fsSizeOf, nodeFingerprint, readDisk, readMemory, readStaticFacts, type NodeFacts, type StaticFacts } from './node-status.js';

export interface NodeReporterOptions {
  runtime: Runtime;
  clock: Clock;
  logger: Logger;
  events: EventRecorder;
  nodeName: string;
  labels: Record<string, string>;
  taints: Array<{ key: string; value?: string; effect: string }>;
  address: string;
  version: string;
  heartbeatSeconds: number;
  /** Shown in the NotReady message; default DOCKER_HOST or the local socket. */
  dockerHost?: string;
  storeReadOnly?: () => string | undefined;
  publish(msg: NodeStatusMessage): void;
  /** Docker answers again after it did not (the agent looks at everything again). */
  onDockerBack(): void;
  /** Each heartbeat, after the Node was published. */
  onHeartbeat(): void;
}

export class NodeReporter {
  readonly #o: NodeReporterOptions;
  readonly #log: Logger;
  readonly #static: StaticFacts;
  #docker: RuntimeInfo | undefined;
  #dockerError: string | undefined;
  #dockerFailures = 0;
  #dockerRetryTimer: TimerHandle | undefined;
  #heartbeatTimer: TimerHandle | undefined;
  #diskTotal: number | undefined;
  #facts = { memTotal: 0, memAvailable: 0, diskTotal: 0, diskAvailable: 0 };
  #node: Node | undefined;
  #published: string | undefined;
  #cgroupWarned = false;
  /** announce() was called: changes are published from now on. */
  #running = false;
  #stopped = false;

  constructor(opts: NodeReporterOptions) {
    this.#o = opts;
    this.#log = opts.logger;
    this.#static = readStaticFacts(opts.nodeName);
  }

  /** The engine's facts while it answers. */
  get docker(): RuntimeInfo | undefined {
    return this.#docker;
  }

  /** CPUs and memory of the node (resource env values). */
  capacity(): { cpus: number; memBytes: number } {
    return { cpus: this.#docker?.ncpu ?? this.#static.cpus, memBytes: this.#docker?.memTotalBytes ?? this.#facts.memTotal };
  }

  node(): Node {
    return this.#node ?? this.#build();
  }

  start(): void {
    this.#stopped = false;
  }

  /** Publish the Node now and from now on on changes and heartbeats. */
  announce(): void {
    this.#running = true;
    this.publish(true);
    this.#heartbeat();
  }

  stop(): void {
    this.#stopped = true;
    this.#running = false;
    this.#heartbeatTimer?.cancel();
    this.#dockerRetryTimer?.cancel();
    this.#dockerRetryTimer = undefined;
  }

  /** Ask Docker for its facts; false (and NotReady, retrying with backoff) when it does not answer. */
  async refreshDocker(): Promise<boolean> {
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
        this.#o.events.record({ kind: 'Node', name: this.#o.nodeName }, 'Warning', 'MemoryCgroupUnavailable',
          'memory limits are not enforced: add cgroup_enable=memory cgroup_memory=1 to /boot/firmware/cmdline.txt and reboot');
      }
      return true;
    } catch (err) {
      this.dockerDown(err as Error);
      return false;
    }
  }

  /** Docker did not answer: report NotReady and try again with backoff. */
  dockerDown(err: Error): void {
    if (this.#stopped) return;
    const was = this.#docker;
    this.#docker = undefined;
    this.#dockerError = err.message;
    if (was || this.#dockerFailures === 0) this.#log.error({ err: err.message }, 'Docker is not reachable: retrying with backoff; the node reports NotReady meanwhile');
    if (this.#running) this.publish(false);
    if (this.#dockerRetryTimer) return;
    this.#dockerFailures++;
    const delay = backoffDelay(this.#dockerFailures, 1000, 30_000);
    this.#dockerRetryTimer = this.#o.clock.setTimeout(() => {
      this.#dockerRetryTimer = undefined;
      void this.refreshDocker().then((ok) => {
        if (ok && this.#running) {
          this.publish(false);
          this.#o.onDockerBack();
        }
      });
    }, delay);
  }

  async refreshFacts(): Promise<void> {
    try {
      const m = await readMemory();
      this.#facts.memTotal = m.total;
      this.#facts.memAvailable = m.available;
    } catch { /* keep the last values */ }
    const d = await readDisk(this.#docker?.dockerRootDir ?? '/var/lib/docker');
    this.#facts.diskTotal = this.#diskTotal ?? d.total;
    this.#facts.diskAvailable = d.available;
  }

  /** Publish the Node when it changed (or always, for heartbeats). */
  publish(always: boolean): void {
    if (this.#stopped) return;
    const node = this.#build();
    this.#node = node;
    const fp = nodeFingerprint(node);
    if (!always && fp === this.#published) return;
    this.#published = fp;
    this.#o.publish({ node: this.#o.nodeName, online: true, heartbeat: this.#o.clock.now(), object: node });
  }

  #build(): Node {
    const o = this.#o;
    const facts: NodeFacts = {
      ...this.#static,
      address: o.address,
      cpus: this.#docker?.ncpu ?? this.#static.cpus,
      memTotalBytes: this.#facts.memTotal || this.#docker?.memTotalBytes || 0,
      memAvailableBytes: this.#facts.memAvailable,
      diskTotalBytes: this.#facts.diskTotal,
      diskAvailableBytes: this.#facts.diskAvailable,
      ...(this.#docker ? { docker: this.#docker } : {}),
      ...(this.#dockerError ? { dockerError: this.#dockerError } : {}),
      dockerHost: o.dockerHost ?? process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock',
      ...(o.storeReadOnly?.() ? { storeReadOnly: o.storeReadOnly() } : {}),
    };
    return buildNode(facts, { nodeName: o.nodeName, labels: o.labels, taints: o.taints, version: o.version }, this.#node, o.clock.now());
  }

  #heartbeat(): void {
    this.#heartbeatTimer = this.#o.clock.setTimeout(() => {
      void (async () => {
        if (this.#stopped) return;
        await this.refreshFacts();
        this.publish(true);
        this.#o.onHeartbeat();
        this.#heartbeat();
      })();
    }, this.#o.heartbeatSeconds * 1000);
  }
}
