/** The pages of the controllers of long-running pods: Deployments, ReplicaSets, DaemonSets. */
import type { DaemonSet, Deployment, ReplicaSet } from '../../../api/types.js';
import { rfc1123z } from '../duration.js';
import { formatLabels, selectorString } from '../format.js';
import { annotationsMultiline, controllerOf, intOrString, labelsMultiline, ownedPods, Page, podsStatus, REVISION, writeEvents, type DescribeContext } from './common.js';
import { podTemplate } from './pods.js';

export function describeDeployment(d: Deployment, c: DescribeContext): string {
  const p = new Page();
  const st = d.status ?? {};
  p.w(0, `Name:\t${d.metadata.name}\n`);
  p.w(0, `Namespace:\t${d.metadata.namespace ?? ''}\n`);
  p.w(0, `CreationTimestamp:\t${rfc1123z(d.metadata.creationTimestamp as string | undefined)}\n`);
  labelsMultiline(p, 'Labels', d.metadata.labels);
  annotationsMultiline(p, 'Annotations', d.metadata.annotations);
  p.w(0, `Selector:\t${selectorString(d.spec.selector)}\n`);
  p.w(0, `Replicas:\t${d.spec.replicas ?? 1} desired | ${st.updatedReplicas ?? 0} updated | ${st.replicas ?? 0} total | ${st.availableReplicas ?? 0} available | ${st.unavailableReplicas ?? 0} unavailable\n`);
  const strategy = d.spec.strategy?.type ?? 'RollingUpdate';
  p.w(0, `StrategyType:\t${strategy}\n`);
  p.w(0, `MinReadySeconds:\t${d.spec.minReadySeconds ?? 0}\n`);
  if (strategy === 'RollingUpdate') {
    const ru = d.spec.strategy?.rollingUpdate ?? {};
    p.w(0, `RollingUpdateStrategy:\t${intOrString((ru.maxUnavailable as number | string | undefined) ?? '25%')} max unavailable, ${intOrString((ru.maxSurge as number | string | undefined) ?? '25%')} max surge\n`);
  }
  podTemplate(p, d.spec.template);
  if (st.conditions?.length) {
    p.w(0, 'Conditions:\n  Type\tStatus\tReason\n');
    p.w(1, '----\t------\t------\n');
    for (const x of st.conditions) p.w(1, `${x.type} \t${x.status}\t${x.reason ?? ''}\n`);
  }
  const rss = ((c.related.ReplicaSet ?? []) as ReplicaSet[]).filter((rs) => rs.metadata.ownerReferences?.some((r) => r.controller && r.uid === d.metadata.uid));
  const rev = d.metadata.annotations?.[REVISION];
  const newRS = rss.filter((rs) => rev !== undefined && rs.metadata.annotations?.[REVISION] === rev);
  const oldRS = rss.filter((rs) => !newRS.includes(rs));
  if (rss.length) {
    const byLabels = (list: ReplicaSet[]): string => list.map((rs) => `${rs.metadata.name} (${rs.status?.replicas ?? 0}/${rs.spec.replicas ?? 1} replicas created)`).join(', ') || '<none>';
    p.w(0, `OldReplicaSets:\t${byLabels(oldRS)}\n`);
    p.w(0, `NewReplicaSet:\t${byLabels(newRS)}\n`);
  }
  writeEvents(p, c.events, c.now);
  return p.done();
}

export function describeReplicaSet(rs: ReplicaSet, c: DescribeContext): string {
  const p = new Page();
  p.w(0, `Name:\t${rs.metadata.name}\n`);
  p.w(0, `Namespace:\t${rs.metadata.namespace ?? ''}\n`);
  p.w(0, `Selector:\t${selectorString(rs.spec.selector) || '<none>'}\n`);
  labelsMultiline(p, 'Labels', rs.metadata.labels);
  annotationsMultiline(p, 'Annotations', rs.metadata.annotations);
  const ctl = controllerOf(rs);
  if (ctl) p.w(0, `Controlled By:\t${ctl}\n`);
  p.w(0, `Replicas:\t${rs.status?.replicas ?? 0} current / ${rs.spec.replicas ?? 1} desired\n`);
  p.w(0, `Pods Status:\t${podsStatus(ownedPods(rs, c))}\n`);
  podTemplate(p, rs.spec.template);
  if (rs.status?.conditions?.length) {
    p.w(0, 'Conditions:\n  Type\tStatus\tReason\n');
    p.w(1, '----\t------\t------\n');
    for (const x of rs.status.conditions) p.w(1, `${x.type} \t${x.status}\t${x.reason ?? ''}\n`);
  }
  writeEvents(p, c.events, c.now);
  return p.done();
}

export function describeDaemonSet(ds: DaemonSet, c: DescribeContext): string {
  const p = new Page();
  const st = ds.status ?? { currentNumberScheduled: 0, desiredNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 };
  p.w(0, `Name:\t${ds.metadata.name}\n`);
  p.w(0, `Selector:\t${selectorString(ds.spec.selector)}\n`);
  p.w(0, `Node-Selector:\t${formatLabels(ds.spec.template?.spec?.nodeSelector)}\n`);
  labelsMultiline(p, 'Labels', ds.metadata.labels);
  annotationsMultiline(p, 'Annotations', ds.metadata.annotations);
  p.w(0, `Desired Number of Nodes Scheduled: ${st.desiredNumberScheduled ?? 0}\n`);
  p.w(0, `Current Number of Nodes Scheduled: ${st.currentNumberScheduled ?? 0}\n`);
  p.w(0, `Number of Nodes Scheduled with Up-to-date Pods: ${st.updatedNumberScheduled ?? 0}\n`);
  p.w(0, `Number of Nodes Scheduled with Available Pods: ${st.numberAvailable ?? 0}\n`);
  p.w(0, `Number of Nodes Misscheduled: ${st.numberMisscheduled ?? 0}\n`);
  p.w(0, `Pods Status:\t${podsStatus(ownedPods(ds, c))}\n`);
  podTemplate(p, ds.spec.template);
  writeEvents(p, c.events, c.now);
  return p.done();
}
