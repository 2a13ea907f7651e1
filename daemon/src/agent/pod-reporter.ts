/**
 * The pod reporter: each pod's status as the kubelet words it (status.ts, from what Docker
 * shows, the agent's waiting reasons and the probes) and the node's pods message, published
 * debounced when a status changed and with every heartbeat. A removed pod is reported once
 * with `gone` and then forgotten. Orphans (orphans.ts) are listed apart, in every message,
 * and forgotten without `gone` when removed (the leader never held them).
 */
import type { Pod, PodStatus } from '../api/types.js';
import type { NodePodsMessage, OrphanPod } from '../broker/topics.js';
import type { Clock, TimerHandle } from '../lib/clock.js';
import { orphanStatus } from './orphans.js';
import { computePodStatus, type ContainerView } from './status.js';
import type { PodWorker } from './worker.js';

const PUBLISH_DEBOUNCE_MS = 100;

export interface PodReporterOptions {
  clock: Clock;
  nodeName: string;
  hostIP: string;
  /** The agent's workers (shared, not copied). */
  workers: Map<string, PodWorker>;
  /** Whether pods may be published (the first desired message arrived, the agent runs). */
  ready(): boolean;
  publish(msg: NodePodsMessage): void;
}

export class PodReporter {
  readonly #o: PodReporterOptions;
  #seq: number;
  #timer: TimerHandle | undefined;

  constructor(opts: PodReporterOptions) {
    this.#o = opts;
    // from the clock, so it rises across restarts
    this.#seq = opts.clock.now();
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  status(w: PodWorker): PodStatus {
    return computePodStatus({
      pod: w.pod as Pod,
      observed: w.observed,
      views: views(w),
      ...(w.podIP ? { podIP: w.podIP } : {}),
      hostIP: this.#o.hostIP,
      ...(w.startTime ? { startTime: w.startTime } : {}),
      ...(w.status ? { previous: w.status } : {}),
      now: this.#o.clock.now(),
    });
  }

  /** Recompute a pod's status; publish (debounced) when it changed. */
  update(w: PodWorker): void {
    if (!w.pod || w.gone) return;
    const status = this.status(w);
    if (status.phase === 'Succeeded' || status.phase === 'Failed') w.terminal = true;
    const json = JSON.stringify(status);
    w.status = status;
    if (json !== w.published) this.schedule();
  }

  /** Recompute an orphan's status from its containers; publish (debounced) when it changed. */
  updateOrphan(w: PodWorker): void {
    const o = w.orphan;
    if (!o || w.gone) return;
    o.status = orphanStatus(o.id, w.observed, this.#o.hostIP, this.#o.clock.now(), o.status);
    if (JSON.stringify(o.status) !== o.published) this.schedule();
  }

  schedule(): void {
    if (this.#timer || !this.#o.ready()) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      this.publish();
    }, PUBLISH_DEBOUNCE_MS);
  }

  publish(): void {
    if (!this.#o.ready()) return;
    const { workers } = this.#o;
    const pods: NodePodsMessage['pods'] = [];
    const orphans: OrphanPod[] = [];
    const gone: string[] = [];
    for (const w of workers.values()) {
      if (w.gone && (w.orphan || !w.pod)) {
        gone.push(w.uid);
      } else if (w.orphan) {
        const o = w.orphan;
        const status = o.status ?? orphanStatus(o.id, w.observed, this.#o.hostIP, this.#o.clock.now());
        orphans.push({ ...o.id, ...o.made, reason: o.reason, status });
        o.published = JSON.stringify(status);
      } else if (w.pod) {
        const entry = { namespace: w.pod.metadata.namespace ?? 'default', name: w.pod.metadata.name, uid: w.uid, status: w.status ?? this.status(w) };
        if (w.gone) {
          pods.push({ ...entry, gone: true });
          gone.push(w.uid);
        } else {
          pods.push(entry);
          w.published = JSON.stringify(entry.status);
        }
      }
    }
    this.#o.publish({ node: this.#o.nodeName, seq: ++this.#seq, pods, orphans });
    for (const uid of gone) workers.delete(uid);
  }
}

/** What the agent knows of each pod container besides Docker: waiting reasons and probe results. */
function views(w: PodWorker): Map<string, ContainerView> {
  const out = new Map<string, ContainerView>();
  for (const c of [...(w.pod?.spec.initContainers ?? []), ...(w.pod?.spec.containers ?? [])]) {
    const p = w.probes.get(c.name);
    const hasProbes = Boolean(c.livenessProbe || c.readinessProbe || c.startupProbe);
    const waiting = w.waiting.get(c.name);
    out.set(c.name, {
      ...(waiting ? { waiting } : {}),
      ready: p ? p.ready : !hasProbes || (!c.readinessProbe && !c.startupProbe),
      started: p ? p.started : !c.startupProbe,
    });
  }
  return out;
}
