/**
 * Shared fixtures for the leader-side controller tests: a real Store in a temp dir with a
 * FakeClock and seeded Random, object builders (nodes, pods, workloads, already defaulted),
 * and a small "fleet simulator" that plays the node agents (bind, mark ready, finish
 * termination) so controllers can be driven step by step without MQTT or Docker.
 * Not a test file itself (no .test.ts suffix).
 */
import type { Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../../daemon/src/state/store.js';
import { createSecretBox } from '../../../daemon/src/state/secretbox.js';
import { FakeClock } from '../../../daemon/src/lib/clock.js';
import { createSeededRandom } from '../../../daemon/src/lib/random.js';
import { silentLogger } from '../../../daemon/src/lib/logger.js';
import { createMemoryRecorder } from '../../../daemon/src/events/recorder.js';
import type { ControllerContext } from '../../../daemon/src/controllers/manager.js';
import type { DaemonSet, Deployment, KObject, Node, Pod, PodTemplateSpec, ReplicaSet } from '../../../daemon/src/api/types.js';
import { objectKey } from '../../../daemon/src/api/kinds.js';
import { isActive, isOwnedBy } from '../../../daemon/src/controllers/pods.js';

export const START = Date.UTC(2026, 0, 1, 12, 0, 0);

export interface Env {
  store: Store;
  clock: FakeClock;
  ctx: ControllerContext;
  recorder: ReturnType<typeof createMemoryRecorder>;
  dir: string;
  /** Register a Node (or change its labels/spec) and set its status, as the node registry does. */
  putNode(n: Node): Promise<void>;
  removeNode(name: string): Promise<void>;
}

export async function env(t: Test, seed = 42): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-ctrl-'));
  const clock = new FakeClock(START);
  const random = createSeededRandom(seed);
  const logger = silentLogger();
  const store = await Store.open({ dir, clock, random, logger, secretBox: createSecretBox('test-token-0123456789abcdef') });
  const recorder = createMemoryRecorder();
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const putNode = async (n: Node): Promise<void> => {
    const { status, ...spec } = structuredClone(n);
    const prev = store.get<Node>('Node', undefined, n.metadata.name);
    const obj = { ...spec, metadata: { ...spec.metadata } } as Node;
    if (prev) await store.commit([{ type: 'update', obj }]);
    else await store.commit([{ type: 'create', obj }]);
    if (status) store.setNodeStatus(n.metadata.name, status);
  };
  const removeNode = async (name: string): Promise<void> => {
    await store.commit([{ type: 'delete', kind: 'Node', name }]);
  };
  return { store, clock, recorder, dir, putNode, removeNode, ctx: { store, clock, random, logger, events: recorder } };
}

export interface NodeOpts {
  cpu?: string;
  memory?: string;
  pods?: string;
  labels?: Record<string, string>;
  taints?: Array<{ key: string; value?: string; effect: string }>;
  ready?: 'True' | 'False' | 'Unknown';
  unschedulable?: boolean;
}

export function node(name: string, o: NodeOpts = {}): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: `uid-node-${name}`, labels: { 'kubernetes.io/hostname': name, ...(o.labels ?? {}) } },
    spec: { ...(o.taints ? { taints: o.taints } : {}), ...(o.unschedulable ? { unschedulable: true } : {}) },
    status: {
      allocatable: { cpu: o.cpu ?? '4', memory: o.memory ?? '4Gi', pods: o.pods ?? '110' },
      capacity: { cpu: o.cpu ?? '4', memory: o.memory ?? '4Gi', pods: o.pods ?? '110' },
      conditions: [{ type: 'Ready', status: o.ready ?? 'True', reason: 'KubeletReady', message: 'ready', lastHeartbeatTime: new Date(START).toISOString(), lastTransitionTime: new Date(START).toISOString() }],
    },
  };
}

export function template(app: string, image = 'busybox:1', extra: Partial<PodTemplateSpec['spec']> = {}): PodTemplateSpec {
  return {
    metadata: { labels: { app } },
    spec: { containers: [{ name: 'main', image }], restartPolicy: 'Always', terminationGracePeriodSeconds: 30, ...extra } as PodTemplateSpec['spec'],
  };
}

export function deployment(name: string, replicas: number, opts: {
  image?: string; maxSurge?: number | string; maxUnavailable?: number | string; type?: 'RollingUpdate' | 'Recreate';
  minReadySeconds?: number; revisionHistoryLimit?: number; paused?: boolean; progressDeadlineSeconds?: number; namespace?: string;
} = {}): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: opts.namespace ?? 'default', labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: template(name, opts.image ?? 'busybox:1'),
      strategy: opts.type === 'Recreate'
        ? { type: 'Recreate' }
        : { type: 'RollingUpdate', rollingUpdate: { maxSurge: opts.maxSurge ?? '25%', maxUnavailable: opts.maxUnavailable ?? '25%' } },
      minReadySeconds: opts.minReadySeconds ?? 0,
      revisionHistoryLimit: opts.revisionHistoryLimit ?? 10,
      progressDeadlineSeconds: opts.progressDeadlineSeconds ?? 600,
      ...(opts.paused ? { paused: true } : {}),
    },
  };
}

export function replicaSet(name: string, replicas: number, opts: { minReadySeconds?: number; namespace?: string; labels?: Record<string, string> } = {}): ReplicaSet {
  const labels = opts.labels ?? { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: opts.namespace ?? 'default', labels },
    spec: { replicas, minReadySeconds: opts.minReadySeconds ?? 0, selector: { matchLabels: labels }, template: { ...template(name), metadata: { labels } } },
  };
}

export function daemonSet(name: string, opts: { image?: string; nodeSelector?: Record<string, string>; tolerations?: Array<Record<string, string>>; maxUnavailable?: number | string; minReadySeconds?: number } = {}): DaemonSet {
  const tpl = template(name, opts.image ?? 'busybox:1', {
    ...(opts.nodeSelector ? { nodeSelector: opts.nodeSelector } : {}),
    ...(opts.tolerations ? { tolerations: opts.tolerations } : {}),
  });
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace: 'default', labels: { app: name } },
    spec: {
      selector: { matchLabels: { app: name } },
      template: tpl,
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: opts.maxUnavailable ?? 1 } },
      minReadySeconds: opts.minReadySeconds ?? 0,
      revisionHistoryLimit: 10,
    },
  };
}

export function pod(name: string, opts: { labels?: Record<string, string>; nodeName?: string; namespace?: string; cpu?: string; memory?: string; owner?: KObject; nodeSelector?: Record<string, string>; tolerations?: Array<Record<string, string>> } = {}): Pod {
  const requests: Record<string, string> = {};
  if (opts.cpu) requests.cpu = opts.cpu;
  if (opts.memory) requests.memory = opts.memory;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name, namespace: opts.namespace ?? 'default', labels: opts.labels ?? { app: 'x' },
      ...(opts.owner ? { ownerReferences: [{ apiVersion: opts.owner.apiVersion, kind: opts.owner.kind, name: opts.owner.metadata.name, uid: opts.owner.metadata.uid as string, controller: true, blockOwnerDeletion: true }] } : {}),
    },
    spec: {
      containers: [{ name: 'main', image: 'busybox:1', ...(Object.keys(requests).length ? { resources: { requests } } : {}) }],
      ...(opts.nodeName ? { nodeName: opts.nodeName } : {}),
      ...(opts.nodeSelector ? { nodeSelector: opts.nodeSelector } : {}),
      ...(opts.tolerations ? { tolerations: opts.tolerations } : {}),
    } as Pod['spec'],
  };
}

export async function create<T extends KObject>(store: Store, obj: T): Promise<T> {
  const [o] = await store.commit([{ type: 'create', obj }]);
  return o as T;
}

/** Replace an object's spec (what `apply` does after validation). */
export async function update<T extends KObject>(store: Store, obj: T, edit: (o: T) => void): Promise<T> {
  const cur = store.get<T>(obj.kind, obj.metadata.namespace, obj.metadata.name);
  if (!cur) throw new Error(`${obj.kind} ${obj.metadata.name} is gone`);
  const next = structuredClone(cur) as T;
  delete next.status;
  edit(next);
  const [o] = await store.commit([{ type: 'update', obj: next }]);
  return o as T;
}

export function get<T extends KObject>(store: Store, kind: string, name: string, ns: string | undefined = 'default'): T {
  const o = store.get<T>(kind, kind === 'Node' || kind === 'Namespace' ? undefined : ns, name);
  if (!o) throw new Error(`${kind} ${name} not found`);
  return o;
}

export const keyOf = (o: KObject): string => objectKey(o.kind, o.metadata.namespace, o.metadata.name);

/** What a node agent reports for a running pod: Running, and Ready since `since`. */
export function runningStatus(since: number, ready = true): Pod['status'] {
  const iso = new Date(since).toISOString();
  return {
    phase: 'Running',
    startTime: iso,
    conditions: [
      { type: 'PodScheduled', status: 'True', lastTransitionTime: iso },
      { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: iso },
    ],
  };
}

export function markReady(env: Env, p: Pod, ready = true): void {
  env.store.setPodStatus(p.metadata.namespace ?? 'default', p.metadata.name, runningStatus(env.clock.now(), ready), p.metadata.uid);
}

export function setPhase(env: Env, p: Pod, phase: 'Succeeded' | 'Failed' | 'Unknown' | 'Pending'): void {
  env.store.setPodStatus(p.metadata.namespace ?? 'default', p.metadata.name, { phase }, p.metadata.uid);
}

/** The agent finished stopping every terminating pod: they leave the store (what PodTermination does after a report). */
export async function finishTermination(store: Store): Promise<number> {
  const gone = store.list<Pod>('Pod').filter((p) => p.metadata.deletionTimestamp);
  if (gone.length) await store.commit(gone.map((p) => ({ type: 'delete' as const, kind: 'Pod', namespace: p.metadata.namespace, name: p.metadata.name, uid: p.metadata.uid as string })));
  return gone.length;
}

export function podsOf(store: Store, owner: KObject, opts: { includeTerminating?: boolean } = {}): Pod[] {
  return store.list<Pod>('Pod', owner.metadata.namespace).filter((p) => isOwnedBy(p, owner) && (opts.includeTerminating || isActive(p)));
}

export function rsOf(store: Store, d: KObject): ReplicaSet[] {
  return store.list<ReplicaSet>('ReplicaSet', d.metadata.namespace).filter((rs) => isOwnedBy(rs, d));
}

/** A fingerprint of the whole store, to tell when a reconcile loop reached a fixed point. */
export function fingerprint(store: Store): string {
  const kinds = ['Deployment', 'ReplicaSet', 'Pod', 'DaemonSet'];
  return JSON.stringify(kinds.map((k) => store.list(k).map((o) => [o.metadata.name, o.metadata.resourceVersion, o.status])));
}
