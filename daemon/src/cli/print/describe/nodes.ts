/** The node page: conditions, addresses, capacity, system info, and the pods' requests and limits. */
import type { Node, Pod } from '../../../api/types.js';
import { rfc1123z, since } from '../duration.js';
import { formatCpu, formatSize, parseQuantity } from '../quantity.js';
import { nodeRolesText } from '../tables.js';
import { annotationsMultiline, labelsMultiline, Page, writeEvents, type DescribeContext } from './common.js';

export function describeNode(node: Node, c: DescribeContext): string {
  const p = new Page();
  const st = node.status ?? {};
  p.w(0, `Name:\t${node.metadata.name}\n`);
  p.w(0, `Roles:\t${nodeRolesText(node)}\n`);
  labelsMultiline(p, 'Labels', node.metadata.labels);
  annotationsMultiline(p, 'Annotations', node.metadata.annotations);
  p.w(0, `CreationTimestamp:\t${rfc1123z(node.metadata.creationTimestamp as string | undefined)}\n`);
  const taints = node.spec?.taints ?? [];
  p.w(0, 'Taints:\t');
  if (taints.length === 0) p.w(0, '<none>\n');
  taints.forEach((t, i) => p.w(0, `${i ? '\t' : ''}${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}\n`));
  p.w(0, `Unschedulable:\t${Boolean(node.spec?.unschedulable)}\n`);
  if (st.conditions?.length) {
    p.w(0, 'Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n');
    p.w(1, '----\t------\t-----------------\t------------------\t------\t-------\n');
    for (const x of st.conditions) {
      p.w(1, `${x.type} \t${x.status} \t${rfc1123z(x.lastHeartbeatTime as string | undefined)} \t${rfc1123z(x.lastTransitionTime as string | undefined)} \t${x.reason ?? ''} \t${x.message ?? ''}\n`);
    }
  }
  p.w(0, 'Addresses:\n');
  for (const a of st.addresses ?? []) p.w(1, `${a.type}:\t${a.address}\n`);
  for (const [title, list] of [['Capacity', st.capacity], ['Allocatable', st.allocatable]] as const) {
    const keys = Object.keys(list ?? {}).sort();
    if (!keys.length) continue;
    p.w(0, `${title}:\n`);
    for (const k of keys) p.w(0, `  ${k}:\t${String(list![k])}\n`);
  }
  const info = st.nodeInfo;
  p.w(0, 'System Info:\n');
  p.w(0, `  Machine ID:\t${info?.machineID ?? ''}\n`);
  p.w(0, `  System UUID:\t${info?.systemUUID ?? ''}\n`);
  p.w(0, `  Boot ID:\t${info?.bootID ?? ''}\n`);
  p.w(0, `  Kernel Version:\t${info?.kernelVersion ?? ''}\n`);
  p.w(0, `  OS Image:\t${info?.osImage ?? ''}\n`);
  p.w(0, `  Operating System:\t${info?.operatingSystem ?? ''}\n`);
  p.w(0, `  Architecture:\t${info?.architecture ?? ''}\n`);
  p.w(0, `  Container Runtime Version:\t${info?.containerRuntimeVersion ?? ''}\n`);
  p.w(0, `  Kubelet Version:\t${info?.kubeletVersion ?? ''}\n`);
  p.w(0, `  Kube-Proxy Version:\t${info?.kubeProxyVersion ?? ''}\n`);
  if (node.spec?.podCIDR) p.w(0, `PodCIDR:\t${node.spec.podCIDR}\n`);
  if (node.spec?.podCIDRs?.length) p.w(0, `PodCIDRs:\t${node.spec.podCIDRs.join(',')}\n`);
  if (node.spec?.providerID) p.w(0, `ProviderID:\t${node.spec.providerID}\n`);
  nodeResources(p, node, c);
  writeEvents(p, c.events, c.now);
  return p.done();
}

function nodeResources(p: Page, node: Node, c: DescribeContext): void {
  const pods = ((c.related.Pod ?? []) as Pod[]).filter((x) => x.spec.nodeName === node.metadata.name && !['Succeeded', 'Failed'].includes(x.status?.phase ?? ''));
  const alloc = Object.keys(node.status?.allocatable ?? {}).length ? node.status!.allocatable! : node.status?.capacity ?? {};
  const allocOf = (r: string): number => parseQuantity(alloc[r] as string | undefined)?.value ?? 0;
  const pct = (v: number, total: number): number => (total > 0 ? Math.trunc((v / total) * 100) : 0);
  const sum = (pod: Pod, kind: 'requests' | 'limits', r: string): { value: number; binary: boolean } => {
    let value = 0;
    let binary = false;
    for (const ct of pod.spec.containers ?? []) {
      const q = parseQuantity((ct.resources?.[kind]?.[r] ?? (kind === 'requests' ? ct.resources?.limits?.[r] : undefined)) as string | undefined);
      if (q) { value += q.value; binary ||= q.binary; }
    }
    return { value, binary };
  };
  const fmt = (r: string, q: { value: number; binary: boolean }): string => (r === 'cpu' ? formatCpu(q.value) : formatSize(q.value, q.binary));
  p.w(0, `Non-terminated Pods:\t(${pods.length} in total)\n`);
  p.w(1, 'Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n');
  p.w(1, '---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n');
  const totals = { cpuReq: 0, cpuLim: 0, memReq: 0, memLim: 0, memBinary: false };
  for (const pod of pods) {
    const cr = sum(pod, 'requests', 'cpu'); const cl = sum(pod, 'limits', 'cpu');
    const mr = sum(pod, 'requests', 'memory'); const ml = sum(pod, 'limits', 'memory');
    totals.cpuReq += cr.value; totals.cpuLim += cl.value; totals.memReq += mr.value; totals.memLim += ml.value;
    totals.memBinary ||= mr.binary || ml.binary;
    p.w(1, `${pod.metadata.namespace ?? ''}\t${pod.metadata.name}\t\t${fmt('cpu', cr)} (${pct(cr.value, allocOf('cpu'))}%)\t${fmt('cpu', cl)} (${pct(cl.value, allocOf('cpu'))}%)\t`
      + `${fmt('memory', mr)} (${pct(mr.value, allocOf('memory'))}%)\t${fmt('memory', ml)} (${pct(ml.value, allocOf('memory'))}%)\t${since(pod.metadata.creationTimestamp as string | undefined, c.now)}\n`);
  }
  p.w(0, 'Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n');
  p.w(1, 'Resource\tRequests\tLimits\n');
  p.w(1, '--------\t--------\t------\n');
  p.w(1, `cpu\t${formatCpu(totals.cpuReq)} (${pct(totals.cpuReq, allocOf('cpu'))}%)\t${formatCpu(totals.cpuLim)} (${pct(totals.cpuLim, allocOf('cpu'))}%)\n`);
  p.w(1, `memory\t${formatSize(totals.memReq, totals.memBinary)} (${pct(totals.memReq, allocOf('memory'))}%)\t${formatSize(totals.memLim, totals.memBinary)} (${pct(totals.memLim, allocOf('memory'))}%)\n`);
  p.w(1, 'ephemeral-storage\t0 (0%)\t0 (0%)\n');
}
