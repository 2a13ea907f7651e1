/**
 * What the agent holds per pod uid between syncs (in memory only): the desired pod, the
 * containers last observed, per-container memory for the planner, waiting reasons, probes,
 * volume bookkeeping and recent events. Shared by the sync loop and the managers it calls.
 */
import type { Pod, PodStatus } from '../api/types.js';
import type { EventRecorder, EventType, ObjectRef } from '../events/recorder.js';
import type { OrphanReason, PodIdentity, Provenance } from './orphans.js';
import type { ContainerMemory, Observed } from './plan.js';
import type { ContainerProbes } from './probes.js';

export interface PodWorker {
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
  /** The lineage and pod revision of the last desired message that held this pod. */
  seen?: Provenance;
  /** Set while the pod is an orphan: its containers are kept as they are and reported. */
  orphan?: OrphanState;
  /** An explicit prune request (RPC) for this orphan. */
  pruneRequested?: boolean;
}

export interface OrphanState {
  id: PodIdentity;
  made: Provenance;
  reason: OrphanReason;
  status?: PodStatus;
  published?: string;
}

export function newWorker(uid: string): PodWorker {
  return {
    uid, observed: [], memory: new Map(), waiting: new Map(), probes: new Map(), terminal: false,
    volumeHashes: new Map(), volumesMade: new Set(), events: new Map(), gone: false,
  };
}

/** The planner's memory of one pod container, made on first use. */
export function memoryOf(w: PodWorker, container: string): ContainerMemory {
  let m = w.memory.get(container);
  if (!m) {
    m = { crashCount: 0, lastAttempt: -1, pullFailures: 0 };
    w.memory.set(container, m);
  }
  return m;
}

/** Remember the highest attempt seen of every observed container (a removed one still counts). */
export function rememberAttempts(w: PodWorker, seen: ReadonlyArray<Pick<Observed, 'container' | 'attempt'>>): void {
  for (const o of seen) {
    const mem = memoryOf(w, o.container);
    mem.lastAttempt = Math.max(mem.lastAttempt, o.attempt);
  }
}

/** Events about a pod (and one of its containers), de-duplicated per worker by key. */
export class PodEvents {
  constructor(private readonly recorder: EventRecorder) {}

  ref(w: PodWorker, container?: string): ObjectRef {
    const pod = w.pod;
    return {
      kind: 'Pod', apiVersion: 'v1',
      name: pod?.metadata.name ?? w.orphan?.id.name ?? w.uid,
      namespace: pod?.metadata.namespace ?? w.orphan?.id.namespace ?? 'default',
      uid: w.uid,
      ...(container ? { fieldPath: `spec.containers{${container}}` } : {}),
    };
  }

  /** Record an event unless the same key was just recorded with the same message. */
  record(w: PodWorker, key: string | undefined, container: string | undefined, type: EventType, reason: string, message: string): void {
    if (key !== undefined) {
      if (w.events.get(key) === message) return;
      w.events.set(key, message);
      if (w.events.size > 64) w.events.delete(w.events.keys().next().value as string);
    }
    this.recorder.record(this.ref(w, container), type, reason, message);
  }
}
