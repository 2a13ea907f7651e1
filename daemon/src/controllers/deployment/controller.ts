/**
 * Deployment -> ReplicaSets: rolling update (maxSurge/maxUnavailable/minReadySeconds),
 * Recreate, pause, revision history with cleanup, progress deadline, status and conditions,
 * after kubernetes/pkg/controller/deployment. Rollback is a template change made by the API
 * (rollout undo copies an old ReplicaSet's template back), so it rolls out like any other.
 */
import type { Deployment, KObject, ReplicaSet } from '../../api/types.js';
import { objectKey } from '../../api/kinds.js';
import type { ReconcileResult } from '../../lib/workqueue.js';
import type { Mutation, WatchEvent } from '../../state/store.js';
import type { Controller, ControllerContext } from '../manager.js';
import { controllerKey, controllerRef, isOwnedBy, ownerReferenceTo, selectorMatches, templateHash, isActive } from '../pods.js';
import { availableReplicas, newRSReplicas, scaleDownOld, specReplicas, sum, surgeAndUnavailable } from './rollout.js';
import type { Pod } from '../../api/types.js';
import { rfc3339 } from '../../lib/time.js';

export const REVISION = 'deployment.kubernetes.io/revision';
export const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
export const CHANGE_CAUSE = 'kubernetes.io/change-cause';
export const POD_TEMPLATE_HASH = 'pod-template-hash';

interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastUpdateTime: string;
  lastTransitionTime: string;
}

interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions?: Condition[];
  collisionCount?: number;
}

export function revisionOf(rs: KObject): number {
  const v = Number(rs.metadata.annotations?.[REVISION]);
  return Number.isFinite(v) ? v : 0;
}

/**
 * The hash that names a template's ReplicaSet (ignores an existing pod-template-hash label).
 * collisionCount (status.collisionCount) changes it when the name is taken by a ReplicaSet
 * that is not this Deployment's, as in Kubernetes.
 */
export function hashOfTemplate(template: unknown, collisionCount = 0): string {
  const t = structuredClone(template ?? {}) as { metadata?: { labels?: Record<string, string> } };
  if (t.metadata?.labels) delete t.metadata.labels[POD_TEMPLATE_HASH];
  return templateHash(t, collisionCount);
}

const statusOf = (o: KObject): Record<string, number | undefined> => (o.status ?? {}) as Record<string, number | undefined>;

export class DeploymentController implements Controller {
  readonly name = 'deployment';
  constructor(private readonly ctx: ControllerContext) {}

  *keysFor(ev: WatchEvent): Iterable<string> {
    if (ev.obj.kind === 'Deployment') yield objectKey('Deployment', ev.obj.metadata.namespace, ev.obj.metadata.name);
    if (ev.obj.kind === 'ReplicaSet') {
      const k = controllerKey(ev.obj, 'Deployment');
      if (k) yield k;
      // an orphan ReplicaSet (e.g. left by a delete with propagationPolicy Orphan): whoever selects it adopts it
      if (!controllerRef(ev.obj) && ev.type !== 'DELETED') {
        for (const d of this.ctx.store.list<Deployment>('Deployment', ev.obj.metadata.namespace)) {
          if (selectorMatches(d.spec.selector, ev.obj.metadata.labels)) yield objectKey('Deployment', d.metadata.namespace, d.metadata.name);
        }
      }
    }
    // Recreate waits for old pods to be gone
    if (ev.obj.kind === 'Pod' && ev.type === 'DELETED') {
      const rsKey = controllerKey(ev.obj, 'ReplicaSet');
      const rs = rsKey ? this.ctx.store.getByKey(rsKey) : undefined;
      const k = rs ? controllerKey(rs, 'Deployment') : undefined;
      if (k) yield k;
    }
  }

  *initialKeys(): Iterable<string> {
    for (const d of this.ctx.store.list('Deployment')) yield objectKey('Deployment', d.metadata.namespace, d.metadata.name);
  }

  /**
   * As Kubernetes' ClaimReplicaSets: adopt orphan ReplicaSets the selector matches (their pods
   * stay as they are), release owned ones it no longer matches.
   */
  async #claim(d: Deployment): Promise<void> {
    const muts: Mutation[] = [];
    for (const rs of this.ctx.store.list<ReplicaSet>('ReplicaSet', d.metadata.namespace)) {
      const ref = controllerRef(rs);
      const matches = selectorMatches(d.spec.selector, rs.metadata.labels);
      if (ref?.uid === d.metadata.uid && !matches) {
        const released = structuredClone(rs) as ReplicaSet;
        delete released.status;
        released.metadata.ownerReferences = (rs.metadata.ownerReferences ?? []).filter((r) => r.uid !== d.metadata.uid);
        muts.push({ type: 'update', obj: released });
      } else if (!ref && matches && !rs.metadata.deletionTimestamp) {
        const adopted = structuredClone(rs) as ReplicaSet;
        delete adopted.status;
        adopted.metadata.ownerReferences = [...(rs.metadata.ownerReferences ?? []), ownerReferenceTo(d)];
        muts.push({ type: 'update', obj: adopted });
      }
    }
    if (muts.length) await this.ctx.store.commit(muts);
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { store, clock, events } = this.ctx;
    const d = store.getByKey<Deployment>(key);
    if (!d || d.metadata.deletionTimestamp) return;
    const now = clock.now();
    const nowIso = rfc3339(now);
    const ns = d.metadata.namespace;
    await this.#claim(d);
    let all = store.list<ReplicaSet>('ReplicaSet', ns).filter((rs) => isOwnedBy(rs, d));
    const collisionCount = (d.status as DeploymentStatus | undefined)?.collisionCount ?? 0;
    const hash = hashOfTemplate(d.spec.template, collisionCount);
    let newRS = all.find((rs) => rs.metadata.labels?.[POD_TEMPLATE_HASH] === hash);
    const maxRevision = all.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
    const replicas = d.spec.replicas ?? 1;
    const recreate = d.spec.strategy?.type === 'Recreate';
    const paused = Boolean(d.spec.paused);
    let progressReason: string | undefined;
    let progressMessage: string | undefined;
    const muts: Mutation[] = [];
    const setReplicas = (rs: ReplicaSet, n: number, extra: Record<string, string> = {}): ReplicaSet => {
      const next = structuredClone(rs) as ReplicaSet;
      delete next.status;
      next.spec.replicas = n;
      next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [DESIRED_REPLICAS]: String(replicas), [MAX_REPLICAS]: String(replicas + surgeAndUnavailable(d)[0]), ...extra };
      muts.push({ type: 'update', obj: next });
      if (n !== specReplicas(rs)) {
        events.record(d, 'Normal', 'ScalingReplicaSet', `Scaled ${n > specReplicas(rs) ? 'up' : 'down'} replica set ${rs.metadata.name} to ${n}${n > specReplicas(rs) ? '' : ` from ${specReplicas(rs)}`}`);
      }
      return { ...next, status: rs.status } as ReplicaSet;
    };

    if (!paused) {
      if (!newRS && store.get('ReplicaSet', ns, `${d.metadata.name}-${hash}`)) {
        // the name is taken by a ReplicaSet that is not ours: hash again with a higher collisionCount
        const cur = (d.status ?? {}) as DeploymentStatus;
        await store.commit([{ type: 'status', kind: 'Deployment', namespace: ns, name: d.metadata.name, status: { ...cur, collisionCount: collisionCount + 1 } }]);
        return { requeue: true };
      }
      if (!newRS) {
        const template = structuredClone(d.spec.template);
        template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH]: hash } };
        const selector = structuredClone(d.spec.selector);
        selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH]: hash };
        const changeCause = d.metadata.annotations?.[CHANGE_CAUSE];
        const candidate: ReplicaSet = {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          metadata: {
            name: `${d.metadata.name}-${hash}`,
            namespace: ns,
            labels: { ...(template.metadata?.labels ?? {}) },
            annotations: {
              [REVISION]: String(maxRevision + 1),
              [DESIRED_REPLICAS]: String(replicas),
              [MAX_REPLICAS]: String(replicas + surgeAndUnavailable(d)[0]),
              ...(changeCause ? { [CHANGE_CAUSE]: changeCause } : {}),
            },
            ownerReferences: [ownerReferenceTo(d)],
          },
          spec: { replicas: 0, minReadySeconds: d.spec.minReadySeconds ?? 0, selector, template },
        };
        const oldActive = all.some((rs) => specReplicas(rs) > 0);
        candidate.spec.replicas = recreate ? (oldActive ? 0 : replicas) : newRSReplicas(d, all, candidate);
        muts.push({ type: 'create', obj: candidate });
        events.record(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${candidate.metadata.name} to ${candidate.spec.replicas}`);
        progressReason = 'NewReplicaSetCreated';
        progressMessage = `Created new replica set "${candidate.metadata.name}"`;
        newRS = candidate;
        all = [...all, candidate];
      } else if (revisionOf(newRS) < maxRevision || (d.metadata.annotations?.[CHANGE_CAUSE] && newRS.metadata.annotations?.[CHANGE_CAUSE] !== d.metadata.annotations[CHANGE_CAUSE])) {
        // rolled back to an older template: it becomes the newest revision again
        const cause = d.metadata.annotations?.[CHANGE_CAUSE];
        newRS = setReplicas(newRS, specReplicas(newRS), { [REVISION]: String(Math.max(maxRevision, revisionOf(newRS)) + (revisionOf(newRS) < maxRevision ? 1 : 0)), ...(cause ? { [CHANGE_CAUSE]: cause } : {}) });
        all = all.map((rs) => (rs.metadata.name === newRS!.metadata.name ? newRS! : rs));
      }
      const old = all.filter((rs) => rs !== newRS && rs.metadata.name !== newRS!.metadata.name);
      if (recreate) {
        const oldScaled = old.filter((rs) => specReplicas(rs) > 0);
        for (const rs of oldScaled) setReplicas(rs, 0);
        const oldPodsLeft = store.list<Pod>('Pod', ns).some((p) => old.some((rs) => isOwnedBy(p, rs)) && (isActive(p) || p.metadata.deletionTimestamp));
        if (oldScaled.length === 0 && !oldPodsLeft && specReplicas(newRS) !== replicas) {
          newRS = setReplicas(newRS, replicas);
          progressReason = 'ReplicaSetUpdated';
        }
      } else {
        const target = specReplicas(newRS) > replicas ? replicas : newRSReplicas(d, all, newRS);
        if (target !== specReplicas(newRS) && muts.every((m) => m.type !== 'create')) {
          newRS = setReplicas(newRS, target);
          all = all.map((rs) => (rs.metadata.name === newRS!.metadata.name ? newRS! : rs));
          progressReason ??= 'ReplicaSetUpdated';
        }
        const sizes = scaleDownOld(d, all, newRS, old);
        for (const rs of old) {
          const n = sizes.get(rs.metadata.name);
          if (n !== undefined && n !== specReplicas(rs)) { setReplicas(rs, n); progressReason ??= 'ReplicaSetUpdated'; }
        }
      }
      // history, as Kubernetes' cleanupDeployment, once the rollout is complete: of the old
      // ReplicaSets, the (len - revisionHistoryLimit) oldest revisions go if they are empty
      const limit = d.spec.revisionHistoryLimit ?? 10;
      const prevStatus = (d.status ?? {}) as DeploymentStatus;
      const wasComplete = prevStatus.updatedReplicas === replicas && prevStatus.replicas === replicas && prevStatus.availableReplicas === replicas
        && (prevStatus.observedGeneration ?? 0) >= (d.metadata.generation ?? 1);
      if (wasComplete) {
        const cleanable = old.filter((rs) => !rs.metadata.deletionTimestamp).sort((a, b) => revisionOf(a) - revisionOf(b));
        const touched = (rs: ReplicaSet): boolean => muts.some((m) => m.type === 'update' && m.obj.metadata.name === rs.metadata.name);
        for (const rs of cleanable.slice(0, Math.max(0, cleanable.length - limit))) {
          const rsStatus = statusOf(rs) as { replicas?: number; observedGeneration?: number };
          if (specReplicas(rs) !== 0 || (rsStatus.replicas ?? 0) !== 0 || (rs.metadata.generation ?? 1) > (rsStatus.observedGeneration ?? 0) || touched(rs)) continue;
          muts.push({ type: 'delete', kind: 'ReplicaSet', namespace: ns, name: rs.metadata.name, uid: rs.metadata.uid as string });
        }
      }
    } else {
      // paused: scaling still applies to the one active ReplicaSet (or the newest when none is
      // active), as Kubernetes' FindActiveOrLatest; with several active ones nothing moves
      const active = all.filter((rs) => specReplicas(rs) > 0);
      const target = active.length === 1 ? active[0]
        : active.length === 0 ? (newRS ?? [...all].sort((a, b) => revisionOf(b) - revisionOf(a))[0]) : undefined;
      if (target && specReplicas(target) !== replicas) {
        const scaled = setReplicas(target, replicas);
        if (newRS && target.metadata.name === newRS.metadata.name) newRS = scaled;
      }
    }

    // the deployment carries the revision of its newest ReplicaSet
    const rev = newRS ? (muts.find((m) => (m.type === 'create' || m.type === 'update') && m.obj.metadata.name === newRS!.metadata.name) as { obj: KObject } | undefined)?.obj.metadata.annotations?.[REVISION] ?? newRS.metadata.annotations?.[REVISION] : undefined;
    if (rev && d.metadata.annotations?.[REVISION] !== rev) {
      const next = structuredClone(d) as Deployment;
      delete next.status;
      next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [REVISION]: rev };
      muts.push({ type: 'update', obj: next });
    }
    if (muts.length) await store.commit(muts);

    // status, from the ReplicaSets as they are now
    const fresh = store.getByKey<Deployment>(key);
    if (!fresh) return;
    const rss = store.list<ReplicaSet>('ReplicaSet', ns).filter((rs) => isOwnedBy(rs, fresh));
    const nrs = rss.find((rs) => rs.metadata.labels?.[POD_TEMPLATE_HASH] === hash);
    const prev = (fresh.status ?? {}) as DeploymentStatus;
    const total = sum(rss, (rs) => statusOf(rs).replicas ?? 0);
    const available = sum(rss, availableReplicas);
    const status: DeploymentStatus = {
      observedGeneration: fresh.metadata.generation ?? 1,
      ...(prev.collisionCount ? { collisionCount: prev.collisionCount } : {}),
      replicas: total,
      updatedReplicas: nrs ? statusOf(nrs).replicas ?? 0 : 0,
      readyReplicas: sum(rss, (rs) => statusOf(rs).readyReplicas ?? 0),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, total - available),
    };
    const [, maxUnavailable] = surgeAndUnavailable(fresh);
    const conds = new Map((prev.conditions ?? []).map((c) => [c.type, c]));
    const setCond = (type: string, st: Condition['status'], reason: string, message: string, touch: boolean): void => {
      const c = conds.get(type);
      if (c && c.status === st && c.reason === reason && c.message === message && !touch) return;
      conds.set(type, {
        type, status: st, reason, message,
        lastUpdateTime: nowIso,
        lastTransitionTime: c && c.status === st ? c.lastTransitionTime : nowIso,
      });
    };
    if (available >= replicas - maxUnavailable) setCond('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.', false);
    else setCond('Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.', false);

    const rsName = nrs?.metadata.name ?? newRS?.metadata.name ?? fresh.metadata.name;
    const complete = status.updatedReplicas === replicas && total === replicas && available === replicas;
    const progressed = (status.updatedReplicas ?? 0) > (prev.updatedReplicas ?? 0)
      || total - (status.updatedReplicas ?? 0) < (prev.replicas ?? 0) - (prev.updatedReplicas ?? 0)
      || (status.readyReplicas ?? 0) > (prev.readyReplicas ?? 0)
      || available > (prev.availableReplicas ?? 0);
    const deadline = fresh.spec.progressDeadlineSeconds ?? 600;
    let requeueAfterMs: number | undefined;
    const prog = conds.get('Progressing');
    if (paused) {
      setCond('Progressing', 'Unknown', 'DeploymentPaused', 'Deployment is paused', false);
    } else if (complete) {
      setCond('Progressing', 'True', 'NewReplicaSetAvailable', `ReplicaSet "${rsName}" has successfully progressed.`, false);
    } else if (progressReason === 'NewReplicaSetCreated') {
      setCond('Progressing', 'True', 'NewReplicaSetCreated', progressMessage ?? '', true);
    } else if (progressReason || progressed || !prog || prog.reason === 'DeploymentPaused' || prog.reason === 'NewReplicaSetAvailable') {
      setCond('Progressing', 'True', prog?.reason === 'DeploymentPaused' ? 'DeploymentResumed' : 'ReplicaSetUpdated',
        prog?.reason === 'DeploymentPaused' ? 'Deployment is resumed' : `ReplicaSet "${rsName}" is progressing.`, true);
    } else if (prog.status !== 'False') {
      const since = Date.parse(prog.lastUpdateTime);
      if (since + deadline * 1000 <= now) {
        setCond('Progressing', 'False', 'ProgressDeadlineExceeded', `ReplicaSet "${rsName}" has timed out progressing.`, false);
        events.record(fresh, 'Warning', 'ProgressDeadlineExceeded', `Deployment ${fresh.metadata.name} has timed out progressing (${deadline}s).`);
      } else {
        requeueAfterMs = since + deadline * 1000 - now + 10;
      }
    }
    if (!complete && !paused && conds.get('Progressing')?.status === 'True') {
      const since = Date.parse(conds.get('Progressing')!.lastUpdateTime);
      requeueAfterMs = Math.max(10, since + deadline * 1000 - now + 10);
    }
    status.conditions = ['Available', 'Progressing'].map((t) => conds.get(t)).filter((c): c is Condition => Boolean(c));
    await store.commit([{ type: 'status', kind: 'Deployment', namespace: ns, name: fresh.metadata.name, status }]);
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  }
}
