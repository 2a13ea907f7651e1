/**
 * The pod sync planner (pure): the desired pod + the containers found for it + what the agent
 * remembers (crash-loop counts, pull backoff, liveness kills) + now -> the steps to take and when
 * to look again. The agent executes the steps through the runtime; nothing here does I/O.
 *
 * Rules (the kubelet's): one container per pod container at a time, named by attempt; a dead
 * container is restarted as a NEW container with attempt+1 according to restartPolicy, with
 * crash-loop backoff (first restart at once, then base doubling to max; reset after a long
 * enough run); the previous attempt is kept for `logs --previous`, older ones are removed;
 * a container whose spec hash changed is stopped and replaced; multi-container pods first
 * need a running infra container, whose loss restarts the pod's containers. A container the
 * engine left Created (it went away between create and start) never ran: when it is the current
 * attempt a fresh one is started at once, whatever the restart policy and without back-off (the
 * kubelet's rule for Created containers); it is removed once a newer attempt exists.
 */
import { createHash } from 'node:crypto';
import type { Container, Pod } from '../api/types.js';
import { INFRA_CONTAINER, LABELS, type ContainerDetails } from '../runtime/types.js';
import { backoffDelay } from '../lib/backoff.js';

/** A container of the pod as found on the engine, with its labels decoded. */
export interface Observed {
  id: string;
  /** Spec container name, or INFRA_CONTAINER. */
  container: string;
  attempt: number;
  hash: string;
  details: ContainerDetails;
}

/** What the agent remembers per pod container between syncs (not on disk). */
export interface ContainerMemory {
  /** Restarts in the current crash loop (0 = the next restart is immediate). */
  crashCount: number;
  /** The highest attempt ever seen (a container removed behind our back still counts). */
  lastAttempt: number;
  /** Image pull backoff: failures so far and when to try again. */
  pullFailures: number;
  pullRetryAt?: number;
  /** Set while the image is absent and the pull policy is Never (the waiting message). */
  neverPull?: string;
  /** A liveness/startup failure asked to kill this container id. */
  killRequest?: { id: string; reason: string; graceSeconds: number };
}

export interface BackoffConfig {
  baseMs: number;
  maxMs: number;
  resetMs: number;
}

export type Step =
  | { type: 'removeContainer'; id: string; container: string; why: 'old' | 'infra-dead' | 'duplicate' | 'never-started' }
  | { type: 'stopContainer'; id: string; container: string; graceSeconds: number; why: 'spec-changed' | 'infra-restart' | 'liveness' | 'duplicate'; message?: string }
  | { type: 'createInfra'; attempt: number }
  | { type: 'startContainer'; container: string; attempt: number; restart: boolean }
  | { type: 'crashLoopBackOff'; container: string; delayMs: number; until: number; message: string }
  | { type: 'pullBackOff'; container: string; until: number };

export interface PlanInput {
  pod: Pod;
  observed: Observed[];
  memory: ReadonlyMap<string, ContainerMemory>;
  now: number;
  backoff: BackoffConfig;
  /** The pod reached Succeeded/Failed: nothing is started again. */
  terminal: boolean;
}

export interface Plan {
  steps: Step[];
  /** Look again after this many ms (crash-loop or pull backoff ends). */
  requeueAfterMs?: number;
  /** Crash counts to remember after this plan (container -> count). */
  crashCounts: Map<string, number>;
}

function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}

function shortHash(v: unknown): string {
  return createHash('sha256').update(canonical(v)).digest('hex').slice(0, 16);
}

/** The pod runs an infra container when several containers must share one network namespace. */
export function needsInfra(pod: Pod): boolean {
  return pod.spec.containers.length + (pod.spec.initContainers?.length ?? 0) > 1 && !pod.spec.hostNetwork;
}

/** A container of the pod by name: app containers first, then init containers. */
export function specOf(pod: Pod, name: string): Container | undefined {
  return pod.spec.containers.find((c) => c.name === name) ?? pod.spec.initContainers?.find((c) => c.name === name);
}

/** Init containers are done once each one's latest attempt exited 0, or once an app container exists. */
export function initDone(pod: Pod, observed: readonly Observed[]): boolean {
  const inits = pod.spec.initContainers ?? [];
  if (inits.length === 0) return true;
  if (pod.spec.containers.some((c) => attemptsOf(observed, c.name).length > 0)) return true;
  return inits.every((c) => {
    const latest = attemptsOf(observed, c.name)[0];
    return latest !== undefined && isDead(latest) && !failed(latest);
  });
}

/** Hash of what a container is made from; a change replaces the container (as the kubelet's hash does). */
export function containerHash(pod: Pod, c: Container): string {
  return shortHash({ c, hostNetwork: Boolean(pod.spec.hostNetwork), infra: needsInfra(pod), hostname: pod.spec.hostname, subdomain: pod.spec.subdomain });
}

/** Hash of the pod-level network setup (infra container). */
export function infraHash(pod: Pod): string {
  const ports = pod.spec.containers.flatMap((c) => (c.ports ?? []).filter((p) => p.hostPort).map((p) => [p.containerPort, p.hostPort, p.hostIP ?? '', p.protocol ?? 'TCP']));
  return shortHash({ ports, hostname: pod.spec.hostname, subdomain: pod.spec.subdomain, dns: pod.spec.dnsConfig });
}

/** Docker container name: pf_<ns>_<pod>_<container>_<attempt>_<uid8>. */
export function containerName(pod: Pod, container: string, attempt: number): string {
  const uid8 = (pod.metadata.uid ?? '').replace(/-/g, '').slice(0, 8);
  return `pf_${pod.metadata.namespace ?? 'default'}_${pod.metadata.name}_${container}_${attempt}_${uid8}`;
}

/** Decode a found container's labels; undefined when it is not a pod container. */
export function observedFrom(d: ContainerDetails): Observed | undefined {
  const container = d.labels[LABELS.container];
  if (!container) return undefined;
  const attempt = Number(d.labels[LABELS.attempt] ?? '0');
  return { id: d.id, container, attempt: Number.isFinite(attempt) ? attempt : 0, hash: d.labels[LABELS.hash] ?? '', details: d };
}

/** Attempts of one container, newest first. */
export function attemptsOf(observed: readonly Observed[], container: string): Observed[] {
  return observed.filter((o) => o.container === container).sort((a, b) => b.attempt - a.attempt || b.details.createdAt - a.details.createdAt);
}

/** A container that exists but is not running any more (or never started). */
export function isDead(o: Observed): boolean {
  return !o.details.running && o.details.state !== 'restarting' && o.details.state !== 'paused';
}

/**
 * A container the engine left Created without trying to start it: no start time and no start
 * error (Docker records a failed start as State.Error). Not an attempt that ran or failed.
 */
export function neverStarted(o: Observed): boolean {
  return o.details.state === 'created' && o.details.startedAt === undefined && !o.details.error;
}

/** Whether a dead container failed (non-zero exit, OOM, or a start that never happened). */
export function failed(o: Observed): boolean {
  if (o.details.startedAt === undefined || o.details.state === 'created') return true;
  return (o.details.exitCode ?? 0) !== 0 || o.details.oomKilled;
}

export function shouldRestart(pod: Pod, o: Observed): boolean {
  const policy = pod.spec.restartPolicy ?? 'Always';
  if (policy === 'Always') return true;
  if (policy === 'OnFailure') return failed(o);
  return false;
}

export function graceSecondsOf(pod: Pod): number {
  return pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
}

function podRef(pod: Pod): string {
  return `${pod.metadata.name}_${pod.metadata.namespace ?? 'default'}(${pod.metadata.uid ?? ''})`;
}

export function planPod(input: PlanInput): Plan {
  const { pod, observed, memory, now, backoff } = input;
  const steps: Step[] = [];
  const crashCounts = new Map<string, number>();
  let requeue: number | undefined;
  const later = (ms: number): void => {
    const v = Math.max(1, Math.ceil(ms));
    requeue = requeue === undefined ? v : Math.min(requeue, v);
  };
  const grace = pod.spec.terminationGracePeriodSeconds ?? 30;

  // --- infra container (multi-container pods) ---
  if (needsInfra(pod)) {
    const infras = attemptsOf(observed, INFRA_CONTAINER);
    const live = infras.find((o) => o.details.running && o.hash === infraHash(pod));
    for (const o of infras) {
      if (o === live) continue;
      if (o.details.running) steps.push({ type: 'stopContainer', id: o.id, container: INFRA_CONTAINER, graceSeconds: 0, why: 'duplicate' });
      steps.push({ type: 'removeContainer', id: o.id, container: INFRA_CONTAINER, why: 'infra-dead' });
    }
    if (!live) {
      if (input.terminal) return { steps, crashCounts };
      // the pod's network namespace is gone: its containers go with it, then start over
      for (const o of observed) {
        if (o.container !== INFRA_CONTAINER && o.details.running) {
          steps.push({ type: 'stopContainer', id: o.id, container: o.container, graceSeconds: grace, why: 'infra-restart' });
        }
      }
      const last = Math.max(-1, memory.get(INFRA_CONTAINER)?.lastAttempt ?? -1, ...infras.map((o) => o.attempt));
      steps.push({ type: 'createInfra', attempt: last + 1 });
      // app containers are decided on the next pass, once the new sandbox exists
      return { steps, crashCounts, requeueAfterMs: 1 };
    }
  }

  /** Decide about one container; returns true when it blocks what follows (init containers). */
  const decide = (c: Container, init: boolean): boolean => {
    const mem = memory.get(c.name);
    const all = attemptsOf(observed, c.name);
    const unstarted = all.filter(neverStarted);
    const [latest, previous, ...older] = all.filter((o) => !neverStarted(o));
    let crashCount = mem?.crashCount ?? 0;
    const keep = (): void => { crashCounts.set(c.name, crashCount); };
    // the current attempt never started: replaced below; any other unstarted container goes
    const current = unstarted[0] && !input.terminal && (!latest || (unstarted[0].attempt > latest.attempt && isDead(latest))) ? unstarted[0] : undefined;
    for (const o of unstarted) if (o !== current) steps.push({ type: 'removeContainer', id: o.id, container: c.name, why: 'never-started' });
    // running duplicates (should not happen): keep the newest
    for (const o of [previous, ...older]) {
      if (o && o.details.running) steps.push({ type: 'stopContainer', id: o.id, container: c.name, graceSeconds: grace, why: 'duplicate' });
    }
    for (const o of older) if (o) steps.push({ type: 'removeContainer', id: o.id, container: c.name, why: 'old' });

    if (current) {
      keep();
      if (mem?.pullRetryAt !== undefined && mem.pullRetryAt > now) {
        steps.push({ type: 'pullBackOff', container: c.name, until: mem.pullRetryAt });
        later(mem.pullRetryAt - now);
        return true;
      }
      if (previous && !previous.details.running) steps.push({ type: 'removeContainer', id: previous.id, container: c.name, why: 'old' });
      steps.push({ type: 'startContainer', container: c.name, attempt: Math.max(current.attempt, mem?.lastAttempt ?? 0) + 1, restart: true });
      return true;
    }

    if (!latest) {
      const last = mem?.lastAttempt ?? -1;
      keep();
      // a container that ran before and vanished (docker rm) is restarted per policy
      if (input.terminal || (last >= 0 && !init && (pod.spec.restartPolicy ?? 'Always') === 'Never')) return true;
      if (mem?.pullRetryAt !== undefined && mem.pullRetryAt > now) {
        steps.push({ type: 'pullBackOff', container: c.name, until: mem.pullRetryAt });
        later(mem.pullRetryAt - now);
      } else {
        steps.push({ type: 'startContainer', container: c.name, attempt: last + 1, restart: last >= 0 });
      }
      return true;
    }

    if (latest.details.running) {
      keep();
      if (mem?.killRequest && mem.killRequest.id === latest.id) {
        steps.push({ type: 'stopContainer', id: latest.id, container: c.name, graceSeconds: mem.killRequest.graceSeconds, why: 'liveness', message: mem.killRequest.reason });
      } else if (latest.hash !== containerHash(pod, c)) {
        steps.push({ type: 'stopContainer', id: latest.id, container: c.name, graceSeconds: grace, why: 'spec-changed' });
      }
      return true;
    }
    if (!isDead(latest)) { keep(); return true; }

    // dead: restart? (init containers: until one succeeds, unless restartPolicy Never)
    const restart = init ? failed(latest) && (pod.spec.restartPolicy ?? 'Always') !== 'Never' : shouldRestart(pod, latest);
    if (init && !failed(latest)) { keep(); return false; }
    if (input.terminal || !restart) { keep(); return true; }
    const d = latest.details;
    const finished = d.finishedAt && d.finishedAt > 0 ? d.finishedAt : d.createdAt;
    const ran = d.startedAt && d.finishedAt ? d.finishedAt - d.startedAt : 0;
    if (ran >= backoff.resetMs) crashCount = 0;
    const delay = backoffDelay(crashCount, backoff.baseMs, backoff.maxMs);
    const until = finished + delay;
    if (now < until) {
      steps.push({
        type: 'crashLoopBackOff', container: c.name, delayMs: delay, until,
        message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${c.name} pod=${podRef(pod)}`,
      });
      later(until - now);
      keep();
      return true;
    }
    if (mem?.pullRetryAt !== undefined && mem.pullRetryAt > now) {
      steps.push({ type: 'pullBackOff', container: c.name, until: mem.pullRetryAt });
      later(mem.pullRetryAt - now);
      keep();
      return true;
    }
    // the previous attempt is kept for logs --previous; the one before goes
    if (previous && !previous.details.running) steps.push({ type: 'removeContainer', id: previous.id, container: c.name, why: 'old' });
    steps.push({ type: 'startContainer', container: c.name, attempt: Math.max(latest.attempt, mem?.lastAttempt ?? 0) + 1, restart: true });
    crashCounts.set(c.name, crashCount + 1);
    return true;
  };

  // --- init containers: one at a time, in order, each to success ---
  if (!initDone(pod, observed)) {
    for (const c of pod.spec.initContainers ?? []) {
      if (decide(c, true)) break;
    }
    return { steps, crashCounts, ...(requeue !== undefined ? { requeueAfterMs: requeue } : {}) };
  }

  // --- app containers ---
  for (const c of pod.spec.containers) decide(c, false);
  return { steps, crashCounts, ...(requeue !== undefined ? { requeueAfterMs: requeue } : {}) };
}
