/**
 * Pod status as the kubelet reports it (pure): phase from the container states and the restart
 * policy, the four conditions (PodScheduled, Initialized, ContainersReady, Ready) with their
 * transition times kept while unchanged, and each container's state / lastState / restartCount.
 */
import type { ContainerState, ContainerStatus, Pod, PodCondition, PodStatus } from '../api/types.js';
import { quantity } from '../scheduler/scheduler.js';
import { attemptsOf, initDone, isDead, neverStarted, type Observed } from './plan.js';
import { rfc3339 } from '../lib/time.js';

/** What the agent knows about one pod container besides the engine's view. */
export interface ContainerView {
  /** A waiting reason the agent set (ErrImagePull, CrashLoopBackOff, CreateContainerConfigError, ...). */
  waiting?: { reason: string; message?: string };
  /** Probe results for the current container. */
  ready: boolean;
  started: boolean;
}

export interface StatusInput {
  pod: Pod;
  observed: Observed[];
  views: ReadonlyMap<string, ContainerView>;
  podIP?: string;
  hostIP?: string;
  startTime?: string;
  previous?: PodStatus;
  now: number;
}

const iso = (ms: number | undefined): string | undefined => (ms && ms > 0 ? rfc3339(ms) : undefined);

/** Terminated state of a dead container. */
export function terminatedOf(o: Observed): NonNullable<ContainerState['terminated']> {
  const d = o.details;
  const neverStarted = d.startedAt === undefined || d.state === 'created';
  const exitCode = neverStarted ? 128 : d.exitCode ?? 0;
  const reason = neverStarted ? 'StartError' : d.oomKilled ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error';
  return {
    exitCode,
    reason,
    ...(neverStarted && d.error ? { message: d.error } : {}),
    ...(iso(d.startedAt) ? { startedAt: iso(d.startedAt) } : { startedAt: rfc3339(0) }),
    ...(iso(d.finishedAt) ? { finishedAt: iso(d.finishedAt) } : {}),
    containerID: `docker://${o.id}`,
  };
}

function containerStatus(name: string, image: string, observed: Observed[], view: ContainerView | undefined, idle: string): ContainerStatus {
  const attempts = attemptsOf(observed, name);
  const [latest, previous] = attempts;
  const st: ContainerStatus = { name, image, imageID: '', ready: false, restartCount: latest?.attempt ?? 0, started: false, state: {} };
  if (latest) {
    st.containerID = `docker://${latest.id}`;
    st.imageID = latest.details.imageId ? `docker://${latest.details.imageId}` : '';
  }
  if (view?.waiting && !(latest?.details.running)) {
    st.state = { waiting: { reason: view.waiting.reason, ...(view.waiting.message ? { message: view.waiting.message } : {}) } };
    if (latest && isDead(latest)) st.lastState = { terminated: terminatedOf(latest) };
    else if (previous && isDead(previous)) st.lastState = { terminated: terminatedOf(previous) };
  } else if (!latest) {
    st.state = { waiting: { reason: idle } };
  } else if (latest.details.running) {
    st.state = { running: { startedAt: iso(latest.details.startedAt) ?? rfc3339(latest.details.createdAt) } };
    st.ready = Boolean(view?.ready);
    st.started = Boolean(view?.started);
    if (previous && isDead(previous)) st.lastState = { terminated: terminatedOf(previous) };
  } else if (isDead(latest)) {
    st.state = { terminated: terminatedOf(latest) };
    if (previous && isDead(previous)) st.lastState = { terminated: terminatedOf(previous) };
  } else {
    st.state = { waiting: { reason: 'ContainerCreating' } };
  }
  if (!st.lastState) st.lastState = {};
  return st;
}

/** The kubelet's getPhase. */
export function podPhaseOf(pod: Pod, statuses: ContainerStatus[]): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
  let running = 0, waiting = 0, stopped = 0, succeeded = 0;
  for (const s of statuses) {
    if (s.state?.running) running++;
    else if (s.state?.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state?.waiting) {
      if (s.lastState?.terminated) stopped++;
      else waiting++;
    }
  }
  const policy = pod.spec.restartPolicy ?? 'Always';
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (policy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

/** Kubernetes QoS class from requests and limits. */
export function qosClassOf(pod: Pod): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  let any = false;
  let guaranteed = true;
  for (const c of pod.spec.containers) {
    const req = (c.resources?.requests ?? {}) as Record<string, string | number>;
    const lim = (c.resources?.limits ?? {}) as Record<string, string | number>;
    if (Object.keys(req).length || Object.keys(lim).length) any = true;
    for (const r of ['cpu', 'memory']) {
      if (lim[r] === undefined) { guaranteed = false; continue; }
      if (req[r] !== undefined && quantity(req[r]) !== quantity(lim[r])) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function condition(type: string, ok: boolean, prev: PodCondition[] | undefined, now: number, reason?: string, message?: string): PodCondition {
  const status = ok ? 'True' : 'False';
  const old = prev?.find((c) => c.type === type);
  const lastTransitionTime = old && old.status === status ? old.lastTransitionTime : rfc3339(now);
  return { type, status, lastTransitionTime, ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
}

export function computePodStatus(input: StatusInput): PodStatus {
  const { pod, views, now, previous } = input;
  // a container the engine left Created never ran: it is being replaced, not a state of the pod
  const observed = input.observed.filter((o) => !neverStarted(o));
  const inits = pod.spec.initContainers ?? [];
  const initialized = initDone(pod, observed);
  const initStatuses = inits.map((c) => {
    const st = containerStatus(c.name, c.image ?? '', observed, views.get(c.name), 'PodInitializing');
    // an init container is ready once it completed
    st.ready = st.state?.terminated?.exitCode === 0;
    return st;
  });
  const statuses = pod.spec.containers.map((c) => containerStatus(c.name, c.image ?? '', observed, views.get(c.name), initialized ? 'ContainerCreating' : 'PodInitializing'));
  let phase = podPhaseOf(pod, statuses);
  if (!initialized) {
    // an init container that failed for good fails the pod (restartPolicy Never), else the pod waits
    const failedForGood = (pod.spec.restartPolicy ?? 'Always') === 'Never' && initStatuses.some((s) => s.state?.terminated && s.state.terminated.exitCode !== 0);
    phase = failedForGood ? 'Failed' : 'Pending';
  }
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  const incomplete = initStatuses.filter((s) => !s.ready).map((s) => s.name);
  const unready = statuses.filter((s) => !s.ready).map((s) => s.name);
  const prevConds = previous?.conditions;
  const containersReady = unready.length === 0;
  const notReadyReason = terminal ? 'PodCompleted' : 'ContainersNotReady';
  const notReadyMsg = terminal ? undefined : `containers with unready status: [${unready.join(' ')}]`;
  const conditions: PodCondition[] = [
    initialized
      ? condition('Initialized', true, prevConds, now, terminal && !inits.length ? 'PodCompleted' : undefined)
      : condition('Initialized', false, prevConds, now, 'ContainersNotInitialized', `containers with incomplete status: [${incomplete.join(' ')}]`),
    condition('Ready', containersReady, prevConds, now, containersReady ? undefined : notReadyReason, containersReady ? undefined : notReadyMsg),
    condition('ContainersReady', containersReady, prevConds, now, containersReady ? undefined : notReadyReason, containersReady ? undefined : notReadyMsg),
    condition('PodScheduled', true, prevConds, now),
  ];
  const status: PodStatus = {
    phase,
    conditions,
    ...(input.hostIP ? { hostIP: input.hostIP, hostIPs: [{ ip: input.hostIP }] } : {}),
    ...(input.podIP ? { podIP: input.podIP, podIPs: [{ ip: input.podIP }] } : {}),
    ...(input.startTime ? { startTime: input.startTime } : {}),
    ...(inits.length ? { initContainerStatuses: initStatuses } : {}),
    containerStatuses: statuses,
    qosClass: qosClassOf(pod),
  };
  return status;
}
