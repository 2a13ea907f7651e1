/**
 * The executor: carries out the planner's steps (plan.ts) through the Runtime, one step type
 * to one method, and builds the Docker container specs (labels, env, mounts, network, ports,
 * limits, security context) from the pod. Also stops and removes all of a pod's containers.
 * Errors the pod can recover from become waiting reasons and events; Docker being unreachable
 * is thrown to the sync loop.
 */
import type { Container, Pod } from '../api/types.js';
import { backoffDelay } from '../lib/backoff.js';
import { INFRA_CONTAINER, LABELS, RuntimeError, type ContainerSpec, type Mount, type NetworkMode, type PortBinding, type Runtime } from '../runtime/types.js';
import { quantity } from '../scheduler/scheduler.js';
import { buildEnv, ContainerConfigError, expandCommand, type ConfigSource } from './env.js';
import type { ImageManager } from './images.js';
import { provenanceLabels } from './orphans.js';
import { attemptsOf, containerHash, containerName, infraHash, needsInfra, specOf, type Observed, type Step } from './plan.js';
import { containerMounts, VolumeError } from './volumes.js';
import { memoryOf, type PodEvents, type PodWorker } from './worker.js';

const CONFIG_RETRY_MS = 10_000;

export interface StepResult {
  /** Containers changed: observe again. */
  changed?: boolean;
  requeueAfterMs?: number;
}

export interface ExecutorOptions {
  runtime: Runtime;
  events: PodEvents;
  images: ImageManager;
  /** Labels of everything this agent owns (cluster, node). */
  baseLabels: Record<string, string>;
  runtimeDir: string;
  /** The node address (status.hostIP, hostNetwork pods). */
  hostIP: string;
  /** Upper bound of the retry delay after a failed create. */
  createBackoffMaxMs: number;
  capacity(): { cpus: number; memBytes: number };
  sources(): ConfigSource;
  /** The lineage of the desired state containers are made from now (a label on each). */
  lineage(): string | undefined;
}

/** The labels every container of a pod carries (lineage: of the desired state it is made from). */
export function podLabels(base: Record<string, string>, pod: Pod, container: string, attempt: number, hash: string, lineage: string | undefined): Record<string, string> {
  return {
    ...base,
    ...provenanceLabels(lineage, pod),
    [LABELS.podUid]: pod.metadata.uid ?? '',
    [LABELS.podNamespace]: pod.metadata.namespace ?? 'default',
    [LABELS.podName]: pod.metadata.name,
    [LABELS.container]: container,
    [LABELS.attempt]: String(attempt),
    [LABELS.hash]: hash,
  };
}

/** hostPort bindings of one container, or of all the pod's containers (the infra container publishes them). */
export function hostPorts(pod: Pod, only?: Container): PortBinding[] {
  const out: PortBinding[] = [];
  for (const c of only ? [only] : pod.spec.containers) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort) continue;
      out.push({ containerPort: p.containerPort, hostPort: p.hostPort, ...(p.hostIP ? { hostIP: p.hostIP } : {}), protocol: (p.protocol ?? 'TCP').toLowerCase() === 'udp' ? 'udp' : 'tcp' });
    }
  }
  return out;
}

/** Hostname, /etc/hosts entries and DNS servers of the pod's network namespace. */
export function podNetworkSettings(pod: Pod): Pick<ContainerSpec, 'hostname' | 'extraHosts' | 'dns'> {
  const extraHosts = (pod.spec.hostAliases ?? []).flatMap((a) => (a.hostnames ?? []).map((h) => `${h}:${a.ip}`));
  const dns = pod.spec.dnsConfig?.nameservers;
  return {
    // the kubelet truncates the pod name to a 63-character hostname
    ...(pod.spec.hostNetwork ? {} : { hostname: (pod.spec.hostname ?? pod.metadata.name).slice(0, 63).replace(/[-.]+$/, '') }),
    ...(extraHosts.length ? { extraHosts } : {}),
    ...(dns?.length ? { dns } : {}),
  };
}

/** Limits and security context of a container as Docker options. */
function resourceOptions(c: Container): Partial<ContainerSpec> {
  const limits = (c.resources?.limits ?? {}) as Record<string, string | number>;
  const mem = limits.memory !== undefined ? Math.floor(quantity(limits.memory)) : 0;
  const cpu = limits.cpu !== undefined ? Math.round(quantity(limits.cpu) * 1e9) : 0;
  const sc = c.securityContext ?? {};
  const user = sc.runAsUser !== undefined ? `${sc.runAsUser}${sc.runAsGroup !== undefined ? `:${sc.runAsGroup}` : ''}` : undefined;
  return {
    ...(c.workingDir ? { workingDir: c.workingDir } : {}),
    ...(user ? { user } : {}),
    ...(c.tty ? { tty: true } : {}),
    ...(c.stdin ? { openStdin: true } : {}),
    ...(Number.isFinite(mem) && mem > 0 ? { memoryBytes: mem } : {}),
    ...(Number.isFinite(cpu) && cpu > 0 ? { nanoCpus: cpu } : {}),
    ...(sc.privileged ? { privileged: true } : {}),
    ...(sc.capabilities?.add?.length ? { capAdd: sc.capabilities.add } : {}),
    ...(sc.capabilities?.drop?.length ? { capDrop: sc.capabilities.drop } : {}),
    ...(sc.readOnlyRootFilesystem ? { readOnlyRootfs: true } : {}),
  };
}

export class Executor {
  readonly #o: ExecutorOptions;

  constructor(opts: ExecutorOptions) {
    this.#o = opts;
  }

  async execute(w: PodWorker, pod: Pod, step: Step): Promise<StepResult> {
    const { runtime, events } = this.#o;
    switch (step.type) {
      case 'removeContainer':
        await runtime.removeContainer(step.id, { force: true });
        return { changed: true };
      case 'stopContainer': {
        w.probes.get(step.container)?.stop();
        w.probes.delete(step.container);
        if (step.container !== INFRA_CONTAINER) {
          const msg = step.why === 'liveness' && step.message ? step.message : step.why === 'spec-changed' ? `Container ${step.container} definition changed, will be restarted` : `Stopping container ${step.container}`;
          events.record(w, undefined, step.container, 'Normal', 'Killing', msg);
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
        events.record(w, `backoff:${step.container}:${step.until}`, step.container, 'Warning', 'BackOff', `Back-off restarting failed container ${step.container} in pod ${pod.metadata.name}_${pod.metadata.namespace ?? 'default'}(${pod.metadata.uid})`);
        return {};
      }
      case 'pullBackOff': {
        const image = specOf(pod, step.container)?.image ?? '';
        const never = w.memory.get(step.container)?.neverPull;
        if (never) {
          w.waiting.set(step.container, { reason: 'ErrImageNeverPull', message: never });
        } else {
          w.waiting.set(step.container, { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` });
          events.record(w, `pullbackoff:${step.container}:${step.until}`, step.container, 'Normal', 'BackOff', `Back-off pulling image "${image}"`);
        }
        return {};
      }
    }
  }

  /** Stop (app containers with the grace period, then the infra container) and remove every given container of the pod. */
  async removeAll(w: PodWorker, observed: readonly Observed[], graceSeconds: number): Promise<void> {
    const { runtime, events } = this.#o;
    const apps = observed.filter((o) => o.container !== INFRA_CONTAINER);
    await Promise.all(apps.filter((o) => o.details.running).map(async (o) => {
      events.record(w, undefined, o.container, 'Normal', 'Killing', `Stopping container ${o.container}`);
      await runtime.stopContainer(o.id, graceSeconds);
    }));
    for (const o of observed.filter((x) => x.container === INFRA_CONTAINER && x.details.running)) await runtime.stopContainer(o.id, 0);
    for (const o of observed) await runtime.removeContainer(o.id, { force: true });
  }

  async #createInfra(w: PodWorker, pod: Pod, attempt: number): Promise<StepResult> {
    const { runtime } = this.#o;
    try {
      const image = await runtime.ensurePauseImage();
      const spec: ContainerSpec = {
        name: containerName(pod, INFRA_CONTAINER, attempt),
        image, env: [],
        labels: podLabels(this.#o.baseLabels, pod, INFRA_CONTAINER, attempt, infraHash(pod), this.#o.lineage()),
        network: { mode: 'bridge' },
        ports: hostPorts(pod),
        mounts: [],
        ...podNetworkSettings(pod),
      };
      const id = await this.#create(spec, w);
      await runtime.startContainer(id);
      memoryOf(w, INFRA_CONTAINER).lastAttempt = attempt;
      return { changed: true };
    } catch (err) {
      if (err instanceof RuntimeError && err.code === 'Unavailable') throw err;
      const msg = (err as Error).message;
      this.#o.events.record(w, `sandbox:${msg}`, undefined, 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${msg}`);
      for (const c of pod.spec.containers) w.waiting.set(c.name, { reason: 'ContainerCreating', message: `Failed to create pod sandbox: ${msg}` });
      const mem = memoryOf(w, INFRA_CONTAINER);
      mem.lastAttempt = Math.max(mem.lastAttempt, attempt);
      return { changed: true, requeueAfterMs: backoffDelay(++mem.crashCount, 1000, 60_000) };
    }
  }

  /** Create a container; a leftover with the same name (crash between create and label) is removed first. */
  async #create(spec: ContainerSpec, w: PodWorker): Promise<string> {
    const { runtime } = this.#o;
    try {
      return await runtime.createContainer(spec);
    } catch (err) {
      if (!(err instanceof RuntimeError) || err.code !== 'Conflict') throw err;
      const clash = w.observed.find((o) => o.details.name === spec.name);
      if (clash) await runtime.removeContainer(clash.id, { force: true });
      else {
        const same = (await runtime.listContainers(this.#o.baseLabels)).find((c) => c.name === spec.name);
        if (same) await runtime.removeContainer(same.id, { force: true });
      }
      return runtime.createContainer(spec);
    }
  }

  /** The pod's network for one app container; undefined while the infra container is not running yet. */
  #network(w: PodWorker, pod: Pod, c: Container): Pick<ContainerSpec, 'network' | 'ports' | 'hostname' | 'extraHosts' | 'dns'> | undefined {
    if (pod.spec.hostNetwork) return { network: { mode: 'host' }, ports: [], ...podNetworkSettings(pod) };
    if (needsInfra(pod)) {
      const infra = attemptsOf(w.observed, INFRA_CONTAINER).find((o) => o.details.running);
      if (!infra) return undefined;
      const network: NetworkMode = { mode: 'container', id: infra.id };
      return { network, ports: [] };
    }
    return { network: { mode: 'bridge' }, ports: hostPorts(pod, c), ...podNetworkSettings(pod) };
  }

  async #startContainer(w: PodWorker, pod: Pod, name: string, attempt: number): Promise<StepResult> {
    const { runtime, events } = this.#o;
    const c = specOf(pod, name);
    if (!c) return {};
    const mem = memoryOf(w, name);
    const img = await this.#o.images.ensure(w, c);
    if (!img.ok) return img.requeueAfterMs !== undefined ? { requeueAfterMs: img.requeueAfterMs } : {};

    let env: Array<[string, string]>;
    let mounts: Mount[];
    try {
      const cap = this.#o.capacity();
      env = buildEnv(c, {
        pod, ...(w.podIP ? { podIP: w.podIP } : {}), hostIP: this.#o.hostIP,
        nodeCpuCores: cap.cpus, nodeMemoryBytes: cap.memBytes,
        sources: this.#o.sources(),
      });
      mounts = containerMounts(pod, c, this.#o.runtimeDir);
    } catch (err) {
      if (!(err instanceof ContainerConfigError) && !(err instanceof VolumeError)) throw err;
      w.waiting.set(name, { reason: 'CreateContainerConfigError', message: err.message });
      events.record(w, `config:${name}:${err.message}`, name, 'Warning', 'Failed', `Error: ${err.message}`);
      return { requeueAfterMs: CONFIG_RETRY_MS };
    }
    const cmd = expandCommand(c, env);
    const net = this.#network(w, pod, c);
    if (!net) return { requeueAfterMs: 1 };
    const spec: ContainerSpec = {
      name: containerName(pod, name, attempt),
      image: c.image ?? '',
      ...(cmd.command ? { entrypoint: cmd.command } : {}),
      ...(cmd.args ? { cmd: cmd.args } : {}),
      env: env.map(([k, v]) => `${k}=${v}`),
      labels: podLabels(this.#o.baseLabels, pod, name, attempt, containerHash(pod, c), this.#o.lineage()),
      mounts,
      ...resourceOptions(c),
      ...net,
    };
    let id: string;
    try {
      id = await this.#create(spec, w);
    } catch (err) {
      if (err instanceof RuntimeError && err.code === 'Unavailable') throw err;
      const msg = (err as Error).message;
      w.waiting.set(name, { reason: 'CreateContainerError', message: msg });
      events.record(w, `create:${name}:${msg}`, name, 'Warning', 'Failed', `Error: ${msg}`);
      return { requeueAfterMs: backoffDelay(Math.max(1, mem.crashCount), 1000, this.#o.createBackoffMaxMs) };
    }
    mem.lastAttempt = Math.max(mem.lastAttempt, attempt);
    events.record(w, undefined, name, 'Normal', 'Created', `Created container ${name}`);
    try {
      await runtime.startContainer(id);
    } catch (err) {
      if (err instanceof RuntimeError && err.code === 'Unavailable') throw err;
      const msg = (err as Error).message;
      w.waiting.set(name, { reason: 'RunContainerError', message: msg });
      events.record(w, undefined, name, 'Warning', 'Failed', `Error: ${msg}`);
      return { changed: true, requeueAfterMs: 1000 };
    }
    events.record(w, undefined, name, 'Normal', 'Started', `Started container ${name}`);
    w.waiting.delete(name);
    delete mem.killRequest;
    return { changed: true };
  }
}
