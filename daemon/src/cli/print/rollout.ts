/**
 * `rollout status` and `rollout history` text, as kubectl 1.30 words it
 * (pkg/polymorphichelpers/rollout_status.go, history.go, cmd/rollout/rollout_history.go).
 */
import type { DaemonSet, Deployment, KObject, PodTemplateSpec } from '../../api/types.js';
import { describePodTemplate } from './describe.js';
import { kindPrefix } from './get.js';
import { DESCRIBE_WRITER, TabWriter } from './tabwriter.js';

export interface RolloutStatus {
  done: boolean;
  /** One line, without a trailing newline. */
  message: string;
  /** Set when waiting is pointless (deadline exceeded, unsupported kind or strategy). */
  error?: string;
}

const PROGRESS_DEADLINE_EXCEEDED = 'ProgressDeadlineExceeded';

function deploymentStatus(d: Deployment): RolloutStatus {
  const st = d.status ?? {};
  const name = d.metadata.name;
  if ((d.metadata.generation ?? 0) > (st.observedGeneration ?? 0)) return { done: false, message: 'Waiting for deployment spec update to be observed...' };
  const progressing = (st.conditions ?? []).find((c) => c.type === 'Progressing');
  if (progressing?.reason === PROGRESS_DEADLINE_EXCEEDED) return { done: false, message: '', error: `deployment "${name}" exceeded its progress deadline` };
  const want = d.spec.replicas ?? 1;
  const updated = st.updatedReplicas ?? 0;
  const total = st.replicas ?? 0;
  const available = st.availableReplicas ?? 0;
  if (updated < want) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${want} new replicas have been updated...` };
  if (total > updated) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${total - updated} old replicas are pending termination...` };
  if (available < updated) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${available} of ${updated} updated replicas are available...` };
  return { done: true, message: `deployment "${name}" successfully rolled out` };
}

function daemonSetStatus(ds: DaemonSet): RolloutStatus {
  const st = ds.status ?? { currentNumberScheduled: 0, desiredNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 };
  const name = ds.metadata.name;
  if ((ds.spec.updateStrategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return { done: true, message: '', error: 'rollout status is only available for RollingUpdate strategy type' };
  if ((ds.metadata.generation ?? 0) > (st.observedGeneration ?? 0)) return { done: false, message: 'Waiting for daemon set spec update to be observed...' };
  const desired = st.desiredNumberScheduled ?? 0;
  const updated = st.updatedNumberScheduled ?? 0;
  const available = st.numberAvailable ?? 0;
  if (updated < desired) return { done: false, message: `Waiting for daemon set "${name}" rollout to finish: ${updated} out of ${desired} new pods have been updated...` };
  if (available < desired) return { done: false, message: `Waiting for daemon set "${name}" rollout to finish: ${available} of ${desired} updated pods are available...` };
  return { done: true, message: `daemon set "${name}" successfully rolled out` };
}

/** Where a rollout stands; `error` for kinds without rollouts. */
export function rolloutStatus(obj: KObject): RolloutStatus {
  if (obj.kind === 'Deployment') return deploymentStatus(obj as Deployment);
  if (obj.kind === 'DaemonSet') return daemonSetStatus(obj as DaemonSet);
  // schema.GroupKind's String(): Kind.group
  const group = obj.apiVersion.includes('/') ? `.${obj.apiVersion.split('/')[0]}` : '';
  return { done: true, message: '', error: `no status viewer has been implemented for ${obj.kind}${group}` };
}

export interface Revision {
  revision: number;
  changeCause: string | null;
  template?: unknown;
}

/**
 * `rollout history`: `deployment.apps/web ` then the REVISION / CHANGE-CAUSE table, or with a
 * revision, `deployment.apps/web with revision #2` and that revision's pod template.
 * Throws an Error when the revision does not exist.
 */
export function rolloutHistory(kind: string, name: string, revisions: Revision[], revision?: number): string {
  const ref = `${kindPrefix(kind)}/${name}`;
  if (revisions.length === 0) return `${ref} \nNo rollout history found.\n`;
  if (revision !== undefined && revision > 0) {
    const r = revisions.find((x) => x.revision === revision);
    if (!r) throw new Error('unable to find the specified revision');
    return `${ref} with revision #${revision}\n${describePodTemplate(r.template as PodTemplateSpec | undefined)}\n`;
  }
  const w = new TabWriter({ ...DESCRIBE_WRITER });
  w.write('REVISION\tCHANGE-CAUSE\n');
  for (const r of [...revisions].sort((a, b) => a.revision - b.revision)) w.write(`${r.revision}\t${r.changeCause || '<none>'}\n`);
  return `${ref} \n${w.flush()}\n`;
}
