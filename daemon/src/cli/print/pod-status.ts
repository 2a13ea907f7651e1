/**
 * A pod's READY, STATUS and RESTARTS cells, computed as kubectl 1.30's printPod does:
 * init-container progress (`Init:1/2`, `Init:CrashLoopBackOff`), the reason of a waiting or
 * terminated container (CrashLoopBackOff, ErrImagePull, ImagePullBackOff, OOMKilled,
 * Completed, Error, ContainerCreating, `ExitCode:3`, `Signal:9`), NotReady, SchedulingGated,
 * Terminating / Unknown for a pod being deleted, else the phase; restarts as `3 (2m ago)`.
 */
import type { ContainerStatus, Pod } from '../../api/types.js';
import { humanDuration, parseTime } from './duration.js';

export interface PodSummary {
  /** `ready/total` containers. */
  ready: string;
  status: string;
  restarts: string;
}

const NODE_UNREACHABLE_REASON = 'NodeLost';

function conditionTrue(pod: Pod, type: string): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === type && c.status === 'True');
}

function lastTerminated(cs: ContainerStatus): number | undefined {
  return parseTime(cs.lastState?.terminated?.finishedAt as string | undefined);
}

export function podSummary(pod: Pod, now: number): PodSummary {
  const status = pod.status ?? {};
  const initSpecs = new Map((pod.spec.initContainers ?? []).map((c) => [c.name, c]));
  const restartable = (name: string): boolean => initSpecs.get(name)?.restartPolicy === 'Always';
  const total = (pod.spec.containers ?? []).length + [...initSpecs.values()].filter((c) => c.restartPolicy === 'Always').length;
  let ready = 0;
  let restarts = 0;
  let restartableInitRestarts = 0;
  let lastRestart: number | undefined;
  let lastRestartableInitRestart: number | undefined;
  const later = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined ? b : b === undefined ? a : Math.max(a, b));

  // the API server defaults an unset phase to Pending
  const phase = status.phase ?? 'Pending';
  let reason = status.reason || phase;
  if ((status.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.reason === 'SchedulingGated')) reason = 'SchedulingGated';

  let initializing = false;
  const initStatuses = status.initContainerStatuses ?? [];
  for (let i = 0; i < initStatuses.length; i++) {
    const c = initStatuses[i]!;
    restarts += c.restartCount ?? 0;
    lastRestart = later(lastRestart, lastTerminated(c));
    if (restartable(c.name)) {
      restartableInitRestarts += c.restartCount ?? 0;
      lastRestartableInitRestart = later(lastRestartableInitRestart, lastTerminated(c));
    }
    const term = c.state?.terminated;
    const wait = c.state?.waiting;
    if (term && (term.exitCode ?? 0) === 0) continue;
    if (restartable(c.name) && c.started) {
      if (c.ready) ready++;
      continue;
    }
    if (term) {
      reason = term.reason ? `Init:${term.reason}` : term.signal ? `Init:Signal:${term.signal}` : `Init:ExitCode:${term.exitCode ?? 0}`;
    } else if (wait?.reason && wait.reason !== 'PodInitializing') {
      reason = `Init:${wait.reason}`;
    } else {
      reason = `Init:${i}/${initSpecs.size}`;
    }
    initializing = true;
    break;
  }

  if (!initializing || conditionTrue(pod, 'Initialized')) {
    restarts = restartableInitRestarts;
    lastRestart = lastRestartableInitRestart;
    let hasRunning = false;
    const statuses = status.containerStatuses ?? [];
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i]!;
      restarts += c.restartCount ?? 0;
      lastRestart = later(lastRestart, lastTerminated(c));
      const term = c.state?.terminated;
      const wait = c.state?.waiting;
      if (wait?.reason) reason = wait.reason;
      else if (term?.reason) reason = term.reason;
      else if (term) reason = term.signal ? `Signal:${term.signal}` : `ExitCode:${term.exitCode ?? 0}`;
      else if (c.ready && c.state?.running) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === 'Completed' && hasRunning) reason = conditionTrue(pod, 'Ready') ? 'Running' : 'NotReady';
  }

  const terminal = phase === 'Succeeded' || phase === 'Failed';
  if (pod.metadata.deletionTimestamp && status.reason === NODE_UNREACHABLE_REASON) reason = 'Unknown';
  else if (pod.metadata.deletionTimestamp && !terminal) reason = 'Terminating';

  let restartsText = String(restarts);
  if (restarts !== 0 && lastRestart !== undefined) restartsText = `${restarts} (${humanDuration(now - lastRestart)} ago)`;
  return { ready: `${ready}/${total}`, status: reason, restarts: restartsText };
}
