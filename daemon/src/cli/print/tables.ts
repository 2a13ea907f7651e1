/**
 * The columns kubectl 1.30 prints for each kind (pkg/printers/internalversion/printers.go)
 * and the cells of one object's row. A column marked `wide` appears only with `-o wide`;
 * rows carry every cell and the table printer drops the wide ones.
 */
import type {
  ConfigMap, CronJob, DaemonSet, Deployment, Event, Job, KObject, Namespace, Node, Pod, ReplicaSet, Secret, Service,
} from '../../api/types.js';
import { humanDuration, parseTime, since } from './duration.js';
import { containerCells, formatLabelSelector, formatLabels, printBool, selectorString } from './format.js';
import { podSummary } from './pod-status.js';

export interface Column {
  name: string;
  wide?: boolean;
}

export interface KindTable {
  columns: Column[];
  /** Index of the NAME column (gets the `kind/` prefix when several kinds are listed), -1 if none shown. */
  nameColumn: number;
  row(obj: KObject, now: number): string[];
}

const col = (name: string, wide = false): Column => (wide ? { name, wide } : { name });
const WIDE_TEMPLATE = [col('CONTAINERS', true), col('IMAGES', true), col('SELECTOR', true)];
const n = (v: number | undefined | null): string => String(v ?? 0);
const age = (o: KObject, now: number): string => since(o.metadata.creationTimestamp, now);

function hasCondition(conds: Array<{ type: string; status: string }> | undefined, type: string): boolean {
  const c = (conds ?? []).find((x) => x.type === type);
  return c?.status === 'True';
}

function podRow(o: KObject, now: number): string[] {
  const pod = o as Pod;
  const s = podSummary(pod, now);
  const ip = pod.status?.podIPs?.[0]?.ip || pod.status?.podIP || '<none>';
  const gates = pod.spec.readinessGates ?? [];
  let readiness = '<none>';
  if (gates.length) {
    const ok = gates.filter((g) => (pod.status?.conditions ?? []).find((c) => c.type === g.conditionType)?.status === 'True').length;
    readiness = `${ok}/${gates.length}`;
  }
  return [pod.metadata.name, s.ready, s.status, s.restarts, age(pod, now), ip, pod.spec.nodeName || '<none>', pod.status?.nominatedNodeName || '<none>', readiness];
}

function deploymentRow(o: KObject, now: number): string[] {
  const d = o as Deployment;
  const st = d.status ?? {};
  const [names, images] = containerCells(d.spec.template?.spec?.containers);
  return [d.metadata.name, `${st.readyReplicas ?? 0}/${d.spec.replicas ?? 1}`, n(st.updatedReplicas), n(st.availableReplicas), age(d, now), names, images, selectorString(d.spec.selector)];
}

function replicaSetRow(o: KObject, now: number): string[] {
  const rs = o as ReplicaSet;
  const st = rs.status ?? { replicas: 0 };
  const [names, images] = containerCells(rs.spec.template?.spec?.containers);
  return [rs.metadata.name, n(rs.spec.replicas ?? 1), n(st.replicas), n(st.readyReplicas), age(rs, now), names, images, formatLabelSelector(rs.spec.selector)];
}

function daemonSetRow(o: KObject, now: number): string[] {
  const ds = o as DaemonSet;
  const st = ds.status ?? { currentNumberScheduled: 0, desiredNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 };
  const [names, images] = containerCells(ds.spec.template?.spec?.containers);
  return [ds.metadata.name, n(st.desiredNumberScheduled), n(st.currentNumberScheduled), n(st.numberReady), n(st.updatedNumberScheduled), n(st.numberAvailable),
    formatLabels(ds.spec.template?.spec?.nodeSelector), age(ds, now), names, images, formatLabelSelector(ds.spec.selector)];
}

/** printJob's STATUS: Complete, Failed, Terminating, Suspended, FailureTarget or Running. */
export function jobStatus(job: Job): string {
  const conds = job.status?.conditions;
  if (hasCondition(conds, 'Complete')) return 'Complete';
  if (hasCondition(conds, 'Failed')) return 'Failed';
  if (job.metadata.deletionTimestamp) return 'Terminating';
  if (hasCondition(conds, 'Suspended')) return 'Suspended';
  if (hasCondition(conds, 'FailureTarget')) return 'FailureTarget';
  return 'Running';
}

/** `1/1`, `2/5`, or `0/1 of 3` for a work queue (no completions, parallelism > 1). */
export function jobCompletions(job: Job): string {
  const succeeded = job.status?.succeeded ?? 0;
  if (job.spec.completions !== undefined && job.spec.completions !== null) return `${succeeded}/${job.spec.completions}`;
  const parallelism = job.spec.parallelism ?? 0;
  return parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
}

export function jobDuration(job: Job, now: number): string {
  const start = parseTime(job.status?.startTime as string | undefined);
  if (start === undefined) return '';
  const end = parseTime(job.status?.completionTime as string | undefined);
  return humanDuration((end ?? now) - start);
}

function jobRow(o: KObject, now: number): string[] {
  const job = o as Job;
  const [names, images] = containerCells(job.spec.template?.spec?.containers);
  return [job.metadata.name, jobStatus(job), jobCompletions(job), jobDuration(job, now), age(job, now), names, images, formatLabelSelector(job.spec.selector)];
}

function cronJobRow(o: KObject, now: number): string[] {
  const cj = o as CronJob;
  const last = cj.status?.lastScheduleTime ? since(cj.status.lastScheduleTime as string, now) : '<none>';
  const [names, images] = containerCells(cj.spec.jobTemplate?.spec?.template?.spec?.containers);
  return [cj.metadata.name, cj.spec.schedule, cj.spec.timeZone ?? '<none>', printBool(cj.spec.suspend), String(cj.status?.active?.length ?? 0), last, age(cj, now),
    names, images, formatLabelSelector(cj.spec.jobTemplate?.spec?.selector)];
}

/** getServiceExternalIP. */
function serviceExternalIP(svc: Service, wide: boolean): string {
  const spec = svc.spec ?? {};
  const external = spec.externalIPs ?? [];
  switch (spec.type ?? 'ClusterIP') {
    case 'ClusterIP':
    case 'NodePort':
      return external.length ? external.join(',') : '<none>';
    case 'LoadBalancer': {
      const lb = [...new Set((svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip || i.hostname || '').filter(Boolean))].sort();
      let lbIps = lb.join(',');
      if (!wide && lbIps.length > 16) lbIps = `${lbIps.slice(0, 13)}...`;
      if (external.length) return [...(lbIps ? lbIps.split(',') : []), ...external].join(',');
      return lbIps || '<pending>';
    }
    case 'ExternalName':
      return spec.externalName ?? '';
    default:
      return '<unknown>';
  }
}

/** makePortString: `80/TCP`, `80:30080/TCP`, comma-separated. */
export function servicePorts(svc: Service): string {
  return (svc.spec?.ports ?? []).map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`)).join(',');
}

function serviceRow(wide: boolean) {
  return (o: KObject, now: number): string[] => {
    const svc = o as Service;
    const spec = svc.spec ?? {};
    const clusterIP = spec.clusterIPs?.[0] || spec.clusterIP || '<none>';
    return [svc.metadata.name, spec.type ?? 'ClusterIP', clusterIP, serviceExternalIP(svc, wide), servicePorts(svc) || '<none>', age(svc, now), formatLabels(spec.selector)];
  };
}

function nodeRoles(node: Node): string[] {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const role = k.slice('node-role.kubernetes.io/'.length);
      if (role) roles.add(role);
    } else if (k === 'kubernetes.io/role' && v) roles.add(v);
  }
  return [...roles].sort();
}

/** printNode's STATUS: Ready / NotReady / Unknown, plus `,SchedulingDisabled`. */
export function nodeStatus(node: Node): string {
  const ready = (node.status?.conditions ?? []).find((c) => c.type === 'Ready');
  const status = [ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown'];
  if (node.spec?.unschedulable) status.push('SchedulingDisabled');
  if ((node.status?.conditions ?? []).some((c) => c.type === 'StoreWritable' && c.status === 'False')) status.push('StoreReadOnly');
  return status.join(',');
}

export function nodeRolesText(node: Node): string {
  return nodeRoles(node).join(',') || '<none>';
}

function nodeRow(o: KObject, now: number): string[] {
  const node = o as Node;
  const info = node.status?.nodeInfo;
  const addr = (type: string): string => (node.status?.addresses ?? []).find((a) => a.type === type)?.address ?? '<none>';
  const arch = node.metadata.labels?.['kubernetes.io/arch'] || info?.architecture || '<unknown>';
  return [node.metadata.name, nodeStatus(node), nodeRolesText(node), age(node, now), info?.kubeletVersion ?? '',
    addr('InternalIP'), arch, addr('ExternalIP'), info?.osImage || '<unknown>', info?.kernelVersion || '<unknown>', info?.containerRuntimeVersion || '<unknown>'];
}

/** When an event last happened (lastTimestamp, else eventTime, else firstTimestamp), for sorting. */
export function eventLastTime(e: Event): number {
  return parseTime(e.lastTimestamp as string | undefined) ?? parseTime(e.eventTime as string | undefined) ?? parseTime(e.firstTimestamp as string | undefined) ?? 0;
}

/** Events oldest first by last occurrence (kubectl's SortableEvents), stable. */
export function sortEvents<T extends Event>(events: T[]): T[] {
  return events.map((e, i) => ({ e, i, t: eventLastTime(e) })).sort((a, b) => a.t - b.t || a.i - b.i).map((x) => x.e);
}

function eventSource(e: Event): string {
  const component = e.source?.component || e.reportingComponent || '';
  const instance = e.source?.host || e.reportingInstance || '';
  if (!component) return '<unknown>';
  return instance ? `${component}, ${instance}` : component;
}

function eventRow(o: KObject, now: number): string[] {
  const e = o as Event;
  const first = e.firstTimestamp ? since(e.firstTimestamp as string, now) : since(e.eventTime as string | undefined, now);
  let last = e.lastTimestamp ? since(e.lastTimestamp as string, now) : first;
  let count = e.count ?? 0;
  if (e.series) {
    last = since(e.series.lastObservedTime as string | undefined, now);
    count = e.series.count ?? 0;
  } else if (count === 0) count = 1;
  const inv = e.involvedObject ?? { kind: '' };
  const target = inv.name ? `${(inv.kind ?? '').toLowerCase()}/${inv.name}` : (inv.kind ?? '').toLowerCase();
  return [last, e.type ?? '', e.reason ?? '', target, inv.fieldPath ?? '', eventSource(e), (e.message ?? '').trim(), first, String(count), e.metadata.name];
}

function configMapRow(o: KObject, now: number): string[] {
  const cm = o as ConfigMap;
  return [cm.metadata.name, String(Object.keys(cm.data ?? {}).length + Object.keys(cm.binaryData ?? {}).length), age(cm, now)];
}

function secretRow(o: KObject, now: number): string[] {
  const s = o as Secret;
  const keys = new Set([...Object.keys(s.data ?? {}), ...Object.keys(s.stringData ?? {})]);
  return [s.metadata.name, s.type ?? 'Opaque', String(keys.size), age(s, now)];
}

function namespaceRow(o: KObject, now: number): string[] {
  const ns = o as Namespace;
  // the API server sets the phase; a namespace without one is Active unless it is being deleted
  const phase = ns.status?.phase ?? (ns.metadata.deletionTimestamp ? 'Terminating' : 'Active');
  return [ns.metadata.name, phase, age(ns, now)];
}

/** The table of a kind; `wide` matters only where a cell's content (not just presence) changes. */
export function kindTable(kind: string, wide = false): KindTable | undefined {
  switch (kind) {
    case 'Pod':
      return { nameColumn: 0, row: podRow, columns: [col('NAME'), col('READY'), col('STATUS'), col('RESTARTS'), col('AGE'), col('IP', true), col('NODE', true), col('NOMINATED NODE', true), col('READINESS GATES', true)] };
    case 'Deployment':
      return { nameColumn: 0, row: deploymentRow, columns: [col('NAME'), col('READY'), col('UP-TO-DATE'), col('AVAILABLE'), col('AGE'), ...WIDE_TEMPLATE] };
    case 'ReplicaSet':
      return { nameColumn: 0, row: replicaSetRow, columns: [col('NAME'), col('DESIRED'), col('CURRENT'), col('READY'), col('AGE'), ...WIDE_TEMPLATE] };
    case 'DaemonSet':
      return { nameColumn: 0, row: daemonSetRow, columns: [col('NAME'), col('DESIRED'), col('CURRENT'), col('READY'), col('UP-TO-DATE'), col('AVAILABLE'), col('NODE SELECTOR'), col('AGE'), ...WIDE_TEMPLATE] };
    case 'Job':
      return { nameColumn: 0, row: jobRow, columns: [col('NAME'), col('STATUS'), col('COMPLETIONS'), col('DURATION'), col('AGE'), ...WIDE_TEMPLATE] };
    case 'CronJob':
      return { nameColumn: 0, row: cronJobRow, columns: [col('NAME'), col('SCHEDULE'), col('TIMEZONE'), col('SUSPEND'), col('ACTIVE'), col('LAST SCHEDULE'), col('AGE'), ...WIDE_TEMPLATE] };
    case 'Service':
      return { nameColumn: 0, row: serviceRow(wide), columns: [col('NAME'), col('TYPE'), col('CLUSTER-IP'), col('EXTERNAL-IP'), col('PORT(S)'), col('AGE'), col('SELECTOR', true)] };
    case 'ConfigMap':
      return { nameColumn: 0, row: configMapRow, columns: [col('NAME'), col('DATA'), col('AGE')] };
    case 'Secret':
      return { nameColumn: 0, row: secretRow, columns: [col('NAME'), col('TYPE'), col('DATA'), col('AGE')] };
    case 'Namespace':
      return { nameColumn: 0, row: namespaceRow, columns: [col('NAME'), col('STATUS'), col('AGE')] };
    case 'Node':
      // a fleet of boards wants the address and the architecture at a glance (kubectl shows them with -o wide only)
      return { nameColumn: 0, row: nodeRow, columns: [col('NAME'), col('STATUS'), col('ROLES'), col('AGE'), col('VERSION'), col('INTERNAL-IP'), col('ARCH'), col('EXTERNAL-IP', true), col('OS-IMAGE', true), col('KERNEL-VERSION', true), col('CONTAINER-RUNTIME', true)] };
    case 'Event':
      return { nameColumn: 9, row: eventRow, columns: [col('LAST SEEN'), col('TYPE'), col('REASON'), col('OBJECT'), col('SUBOBJECT', true), col('SOURCE', true), col('MESSAGE'), col('FIRST SEEN', true), col('COUNT', true), col('NAME', true)] };
    default:
      return undefined;
  }
}

/** Kinds without a table of their own print kubectl's default NAME / AGE table. */
export function defaultTable(): KindTable {
  return { nameColumn: 0, row: (o, now) => [o.metadata.name, age(o, now)], columns: [col('NAME'), col('AGE')] };
}
