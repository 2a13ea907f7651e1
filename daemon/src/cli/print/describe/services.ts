/** The service page: ports with the endpoints of the ready pods the service selects. */
import type { Pod, Service } from '../../../api/types.js';
import { formatLabels } from '../format.js';
import { annotationsMultiline, intOrString, labelsMultiline, Page, writeEvents, type DescribeContext } from './common.js';

function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels?.[k] === v);
}

/** Endpoints of a service port from the ready pods it selects, as formatEndpoints shows them. */
function serviceEndpoints(svc: Service, port: NonNullable<NonNullable<Service['spec']>['ports']>[number], pods: Pod[]): string {
  const list: string[] = [];
  for (const pod of pods) {
    if (!selects(svc.spec?.selector, pod.metadata.labels) || pod.metadata.deletionTimestamp) continue;
    if (!(pod.status?.conditions ?? []).some((x) => x.type === 'Ready' && x.status === 'True')) continue;
    const ip = pod.status?.podIP;
    if (!ip) continue;
    let target: number | string | undefined = port.targetPort as number | string | undefined;
    if (typeof target === 'string') target = (pod.spec.containers ?? []).flatMap((ct) => ct.ports ?? []).find((pt) => pt.name === target)?.containerPort;
    list.push(`${ip.includes(':') ? `[${ip}]` : ip}:${target ?? port.port}`);
  }
  if (list.length === 0) return '<none>';
  return list.length > 3 ? `${list.slice(0, 3).join(',')} + ${list.length - 3} more...` : list.join(',');
}

export function describeService(svc: Service, c: DescribeContext): string {
  const p = new Page();
  const spec = svc.spec ?? {};
  p.w(0, `Name:\t${svc.metadata.name}\n`);
  p.w(0, `Namespace:\t${svc.metadata.namespace ?? ''}\n`);
  labelsMultiline(p, 'Labels', svc.metadata.labels);
  annotationsMultiline(p, 'Annotations', svc.metadata.annotations);
  p.w(0, `Selector:\t${formatLabels(spec.selector)}\n`);
  p.w(0, `Type:\t${spec.type ?? 'ClusterIP'}\n`);
  if (spec.ipFamilyPolicy) p.w(0, `IP Family Policy:\t${spec.ipFamilyPolicy}\n`);
  p.w(0, `IP Families:\t${spec.ipFamilies?.length ? spec.ipFamilies.join(',') : '<none>'}\n`);
  p.w(0, `IP:\t${spec.clusterIP ?? ''}\n`);
  p.w(0, `IPs:\t${spec.clusterIPs?.length ? spec.clusterIPs.join(',') : '<none>'}\n`);
  if (spec.externalIPs?.length) p.w(0, `External IPs:\t${spec.externalIPs.join(',')}\n`);
  if (spec.loadBalancerIP) p.w(0, `IP:\t${spec.loadBalancerIP}\n`);
  if (spec.externalName) p.w(0, `External Name:\t${spec.externalName}\n`);
  const pods = (c.related.Pod ?? []) as Pod[];
  for (const sp of spec.ports ?? []) {
    const name = sp.name || '<unset>';
    const proto = sp.protocol ?? 'TCP';
    p.w(0, `Port:\t${name}\t${sp.port}/${proto}\n`);
    p.w(0, `TargetPort:\t${intOrString((sp.targetPort as number | string | undefined) ?? sp.port)}/${proto}\n`);
    if (sp.nodePort) p.w(0, `NodePort:\t${name}\t${sp.nodePort}/${proto}\n`);
    p.w(0, `Endpoints:\t${serviceEndpoints(svc, sp, pods)}\n`);
  }
  p.w(0, `Session Affinity:\t${spec.sessionAffinity ?? 'None'}\n`);
  if (spec.externalTrafficPolicy) p.w(0, `External Traffic Policy:\t${spec.externalTrafficPolicy}\n`);
  writeEvents(p, c.events, c.now);
  return p.done();
}
