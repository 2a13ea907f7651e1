/**
 * `describe` as kubectl 1.30 lays it out (staging/src/k8s.io/kubectl/pkg/describe/describe.go):
 * pods, deployments, replicasets, daemonsets, jobs, cronjobs, services, configmaps, secrets
 * (sizes only, never values), nodes and namespaces; other kinds get a generic page.
 * The caller passes the object's events and the related objects kubectl would fetch
 * (pods for controllers, services and nodes; replicasets for deployments). Pure.
 */
import type {
  ConfigMap, Container, ContainerState, ContainerStatus, CronJob, DaemonSet, Deployment, EnvVar, Event, Job, KObject, Namespace, Node, Pod,
  PodSpec, PodTemplateSpec, Probe, ReplicaSet, Secret, Service, Volume,
} from '../../api/types.js';
import { humanDuration, parseTime, rfc1123z, since } from './duration.js';
import { escapeTerminal, formatLabels, printBool, selectorString } from './format.js';
import { formatCpu, formatSize, parseQuantity } from './quantity.js';
import { nodeRolesText, sortEvents } from './tables.js';
import { DESCRIBE_WRITER, TabWriter } from './tabwriter.js';
import { stringify as toYaml } from 'yaml';

export interface DescribeContext {
  now: number;
  /** Events about the object (any order). */
  events: Event[];
  /** Related objects by kind: `Pod`, `ReplicaSet`. */
  related: Record<string, KObject[] | undefined>;
}

const REVISION = 'deployment.kubernetes.io/revision';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const MAX_ANNOTATION_LEN = 140;

/** kubectl's PrefixWriter over a describe tab writer. */
class Page {
  readonly #tw = new TabWriter(DESCRIBE_WRITER);
  #text = '';

  w(level: number, s: string): void {
    this.#tw.write(escapeTerminal(`${'  '.repeat(level)}${s}`));
  }

  flush(): void {
    this.#text += this.#tw.flush();
  }

  done(): string {
    this.flush();
    return this.#text;
  }
}

function labelsMultiline(p: Page, title: string, labels: Record<string, string> | undefined | null, initialIndent = '', innerIndent = '\t'): void {
  p.w(0, `${initialIndent}${title}:${innerIndent}`);
  const keys = Object.keys(labels ?? {}).sort();
  if (keys.length === 0) {
    p.w(0, '<none>\n');
    return;
  }
  keys.forEach((k, i) => {
    if (i !== 0) p.w(0, `${initialIndent}${innerIndent}`);
    p.w(0, `${k}=${labels![k]}\n`);
  });
}

function annotationsMultiline(p: Page, title: string, annotations: Record<string, string> | undefined | null): void {
  p.w(0, `${title}:\t`);
  const keys = Object.keys(annotations ?? {}).filter((k) => k !== LAST_APPLIED).sort();
  if (keys.length === 0) {
    p.w(0, '<none>\n');
    return;
  }
  keys.forEach((k, i) => {
    if (i !== 0) p.w(0, '\t');
    const value = annotations![k]!.replace(/\n$/, '');
    if (value.length + k.length + 2 > MAX_ANNOTATION_LEN || value.includes('\n')) {
      p.w(0, `${k}:\n`);
      for (const s of value.split('\n')) p.w(0, `\t  ${s.length > MAX_ANNOTATION_LEN - 2 ? `${s.slice(0, MAX_ANNOTATION_LEN - 2)}...` : s}\n`);
    } else {
      p.w(0, `${k}: ${value}\n`);
    }
  });
}

function tolerations(p: Page, title: string, tols: PodSpec['tolerations']): void {
  p.w(0, `${title}:\t`);
  const list = [...(tols ?? [])].sort((a, b) => ((a.key ?? '') < (b.key ?? '') ? -1 : (a.key ?? '') > (b.key ?? '') ? 1 : 0));
  if (list.length === 0) {
    p.w(0, '<none>\n');
    return;
  }
  list.forEach((t, i) => {
    if (i !== 0) p.w(0, '\t');
    let s = t.key ?? '';
    if (t.value) s += `=${t.value}`;
    if (t.effect) s += `:${t.effect}`;
    if (t.operator === 'Exists' && !t.value) s += t.key || t.effect ? ' op=Exists' : 'op=Exists';
    if (t.tolerationSeconds !== undefined && t.tolerationSeconds !== null) s += ` for ${t.tolerationSeconds}s`;
    p.w(0, `${s}\n`);
  });
}

function controllerOf(obj: KObject): string {
  const ref = obj.metadata.ownerReferences?.find((r) => r.controller);
  return ref ? `${ref.kind}/${ref.name}` : '';
}

/** DescribeEvents: the events table, oldest first, or `Events: <none>`. */
export function describeEvents(events: Event[], now: number): string {
  const p = new Page();
  writeEvents(p, events, now);
  return p.done();
}

function writeEvents(p: Page, events: Event[], now: number): void {
  if (events.length === 0) {
    p.w(0, 'Events:\t<none>\n');
    return;
  }
  p.flush();
  p.w(0, 'Events:\n  Type\tReason\tAge\tFrom\tMessage\n');
  p.w(1, '----\t------\t----\t----\t-------\n');
  for (const e of sortEvents(events)) {
    const first = e.eventTime ? since(e.eventTime as string, now) : since(e.firstTimestamp as string | undefined, now);
    let interval = first;
    if (e.series) interval = `${since(e.series.lastObservedTime as string | undefined, now)} (x${e.series.count ?? 0} over ${first})`;
    else if ((e.count ?? 0) > 1) interval = `${since(e.lastTimestamp as string | undefined, now)} (x${e.count} over ${first})`;
    const source = e.source?.component || e.reportingComponent || '';
    p.w(1, `${e.type ?? ''}\t${e.reason ?? ''}\t${interval}\t${source}\t${(e.message ?? '').trim()}\n`);
  }
}

// ----------------------------------------------------------------- containers

function portString(c: Container, host: boolean): string {
  return (c.ports ?? []).map((pt) => `${host ? pt.hostPort ?? 0 : pt.containerPort}/${pt.protocol ?? 'TCP'}`).join(', ');
}

function intOrString(v: number | string | undefined): string {
  return v === undefined ? '' : String(v);
}

/** DescribeProbe, with the API server's defaults for unset timings. */
export function describeProbe(probe: Probe): string {
  const attrs = `delay=${probe.initialDelaySeconds ?? 0}s timeout=${probe.timeoutSeconds ?? 1}s period=${probe.periodSeconds ?? 10}s #success=${probe.successThreshold ?? 1} #failure=${probe.failureThreshold ?? 3}`;
  if (probe.exec) return `exec [${(probe.exec.command ?? []).join(' ')}] ${attrs}`;
  if (probe.httpGet) {
    const h = probe.httpGet;
    const port = intOrString(h.port as number | string);
    const host = h.host ?? '';
    const hostPort = port ? (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`) : host;
    return `http-get ${(h.scheme ?? 'HTTP').toLowerCase()}://${hostPort}${h.path ?? ''} ${attrs}`;
  }
  if (probe.tcpSocket) return `tcp-socket ${probe.tcpSocket.host ?? ''}:${intOrString(probe.tcpSocket.port as number | string)} ${attrs}`;
  if (probe.grpc) return `grpc <pod>:${probe.grpc.port} ${probe.grpc.service ?? ''} ${attrs}`;
  return `unknown ${attrs}`;
}

function describeState(p: Page, name: string, state: ContainerState | undefined): void {
  if (state?.running) {
    p.w(2, `${name}:\tRunning\n`);
    p.w(3, `Started:\t${rfc1123z(state.running.startedAt as string | undefined)}\n`);
  } else if (state?.waiting) {
    p.w(2, `${name}:\tWaiting\n`);
    if (state.waiting.reason) p.w(3, `Reason:\t${state.waiting.reason}\n`);
  } else if (state?.terminated) {
    const t = state.terminated;
    p.w(2, `${name}:\tTerminated\n`);
    if (t.reason) p.w(3, `Reason:\t${t.reason}\n`);
    if (t.message) p.w(3, `Message:\t${t.message}\n`);
    p.w(3, `Exit Code:\t${t.exitCode ?? 0}\n`);
    if ((t.signal ?? 0) > 0) p.w(3, `Signal:\t${t.signal}\n`);
    p.w(3, `Started:\t${rfc1123z(t.startedAt as string | undefined)}\n`);
    p.w(3, `Finished:\t${rfc1123z(t.finishedAt as string | undefined)}\n`);
  } else {
    p.w(2, `${name}:\tWaiting\n`);
  }
}

function fieldValue(pod: Pod | undefined, path: string): string {
  if (!pod) return '';
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (m) return (m[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations)?.[m[2]!] ?? '';
  switch (path) {
    case 'metadata.name': return pod.metadata.name;
    case 'metadata.namespace': return pod.metadata.namespace ?? '';
    case 'metadata.uid': return String(pod.metadata.uid ?? '');
    case 'spec.nodeName': return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName': return pod.spec.serviceAccountName ?? '';
    case 'status.podIP': return pod.status?.podIP ?? '';
    case 'status.hostIP': return pod.status?.hostIP ?? '';
    default: return '';
  }
}

function envLine(p: Page, e: EnvVar, c: Container, pod: Pod | undefined): void {
  const from = e.valueFrom;
  if (!from) {
    (e.value ?? '').split('\n').forEach((s, i) => p.w(3, i === 0 ? `${e.name}:\t${s}\n` : `\t${s}\n`));
    return;
  }
  if (from.fieldRef) {
    p.w(3, `${e.name}:\t${fieldValue(pod, from.fieldRef.fieldPath)} (${from.fieldRef.apiVersion ?? 'v1'}:${from.fieldRef.fieldPath})\n`);
  } else if (from.resourceFieldRef) {
    const r = from.resourceFieldRef.resource;
    const [kind, res] = r.split('.') as [string, string];
    const q = (kind === 'limits' ? c.resources?.limits : c.resources?.requests)?.[res];
    let v = q === undefined ? '0' : String(q);
    if (v === '0' && (r === 'limits.cpu' || r === 'limits.memory')) v = 'node allocatable';
    p.w(3, `${e.name}:\t${v} (${r})\n`);
  } else if (from.secretKeyRef) {
    p.w(3, `${e.name}:\t<set to the key '${from.secretKeyRef.key}' in secret '${from.secretKeyRef.name ?? ''}'>\tOptional: ${Boolean(from.secretKeyRef.optional)}\n`);
  } else if (from.configMapKeyRef) {
    p.w(3, `${e.name}:\t<set to the key '${from.configMapKeyRef.key}' of config map '${from.configMapKeyRef.name ?? ''}'>\tOptional: ${Boolean(from.configMapKeyRef.optional)}\n`);
  }
}

function describeContainers(p: Page, label: string, containers: Container[], pod: Pod | undefined, statuses: ContainerStatus[] | undefined, space: string): void {
  const byName = new Map((statuses ?? []).map((s) => [s.name, s]));
  p.w(0, `${space}${label}:${containers.length === 0 ? ' <none>' : ''}\n`);
  const nameIndent = space ? ' ' : '';
  for (const c of containers) {
    const st = byName.get(c.name);
    p.w(1, `${nameIndent}${c.name}:\n`);
    if (st) p.w(2, `Container ID:\t${st.containerID ?? ''}\n`);
    p.w(2, `Image:\t${c.image ?? ''}\n`);
    if (st) p.w(2, `Image ID:\t${st.imageID ?? ''}\n`);
    const ports = portString(c, false);
    p.w(2, ports.includes(',') ? `Ports:\t${ports}\n` : `Port:\t${ports || '<none>'}\n`);
    const hostPorts = portString(c, true);
    p.w(2, hostPorts.includes(',') ? `Host Ports:\t${hostPorts}\n` : `Host Port:\t${hostPorts || '<none>'}\n`);
    if (c.command?.length) {
      p.w(2, 'Command:\n');
      for (const x of c.command) for (const s of x.split('\n')) p.w(3, `${s}\n`);
    }
    if (c.args?.length) {
      p.w(2, 'Args:\n');
      for (const x of c.args) for (const s of x.split('\n')) p.w(3, `${s}\n`);
    }
    if (st) {
      describeState(p, 'State', st.state);
      if (st.lastState?.terminated) describeState(p, 'Last State', st.lastState);
      p.w(2, `Ready:\t${printBool(st.ready)}\n`);
      p.w(2, `Restart Count:\t${st.restartCount ?? 0}\n`);
    }
    for (const [title, list] of [['Limits', c.resources?.limits], ['Requests', c.resources?.requests]] as const) {
      const keys = Object.keys(list ?? {}).sort();
      if (keys.length) p.w(2, `${title}:\n`);
      for (const k of keys) p.w(3, `${k}:\t${String(list![k])}\n`);
    }
    if (c.livenessProbe) p.w(2, `Liveness:\t${describeProbe(c.livenessProbe)}\n`);
    if (c.readinessProbe) p.w(2, `Readiness:\t${describeProbe(c.readinessProbe)}\n`);
    if (c.startupProbe) p.w(2, `Startup:\t${describeProbe(c.startupProbe)}\n`);
    if (c.envFrom?.length) {
      p.w(2, 'Environment Variables from:\n');
      for (const e of c.envFrom) {
        const [name, from, optional] = e.configMapRef
          ? [e.configMapRef.name ?? '', 'ConfigMap', Boolean(e.configMapRef.optional)]
          : e.secretRef ? [e.secretRef.name ?? '', 'Secret', Boolean(e.secretRef.optional)] : ['', '', false];
        p.w(3, e.prefix ? `${name}\t${from} with prefix '${e.prefix}'\tOptional: ${optional}\n` : `${name}\t${from}\tOptional: ${optional}\n`);
      }
    }
    p.w(2, `Environment:${c.env?.length ? '' : '\t<none>'}\n`);
    for (const e of c.env ?? []) envLine(p, e, c, pod);
    const mounts = [...(c.volumeMounts ?? [])].sort((a, b) => (a.mountPath < b.mountPath ? -1 : a.mountPath > b.mountPath ? 1 : 0));
    p.w(2, `Mounts:${mounts.length ? '' : '\t<none>'}\n`);
    for (const m of mounts) {
      const flags = [m.readOnly ? 'ro' : 'rw', ...(m.subPath ? [`path=${JSON.stringify(m.subPath)}`] : [])];
      p.w(3, `${m.mountPath} from ${m.name} (${flags.join(',')})\n`);
    }
  }
}

function describeVolumes(p: Page, volumes: Volume[] | undefined, space: string): void {
  if (!volumes?.length) {
    p.w(0, `${space}Volumes:\t<none>\n`);
    return;
  }
  p.w(0, `${space}Volumes:\n`);
  for (const v of volumes) {
    p.w(1, `${space ? ' ' : ''}${v.name}:\n`);
    if (v.hostPath) {
      p.w(2, `Type:\tHostPath (bare host directory volume)\n    Path:\t${v.hostPath.path}\n    HostPathType:\t${v.hostPath.type || '<none>'}\n`);
    } else if (v.emptyDir) {
      const size = v.emptyDir.sizeLimit !== undefined && (parseQuantity(v.emptyDir.sizeLimit as string)?.value ?? 0) > 0 ? String(v.emptyDir.sizeLimit) : '<unset>';
      p.w(2, `Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n    Medium:\t${v.emptyDir.medium ?? ''}\n    SizeLimit:\t${size}\n`);
    } else if (v.secret) {
      p.w(2, `Type:\tSecret (a volume populated by a Secret)\n    SecretName:\t${v.secret.secretName ?? ''}\n    Optional:\t${Boolean(v.secret.optional)}\n`);
    } else if (v.configMap) {
      p.w(2, `Type:\tConfigMap (a volume populated by a ConfigMap)\n    Name:\t${v.configMap.name ?? ''}\n    Optional:\t${Boolean(v.configMap.optional)}\n`);
    } else if (v.persistentVolumeClaim) {
      p.w(2, `Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n    ClaimName:\t${v.persistentVolumeClaim.claimName}\n    ReadOnly:\t${Boolean(v.persistentVolumeClaim.readOnly)}\n`);
    } else {
      p.w(1, '<unknown>\n');
    }
  }
}

/** DescribePodTemplate (also what `rollout history --revision=N` prints). */
function podTemplate(p: Page, t: PodTemplateSpec | undefined): void {
  p.w(0, 'Pod Template:\n');
  if (!t) {
    p.w(1, '<unset>');
    return;
  }
  labelsMultiline(p, '  Labels', t.metadata?.labels);
  if (Object.keys(t.metadata?.annotations ?? {}).length) annotationsMultiline(p, '  Annotations', t.metadata?.annotations);
  const spec = t.spec ?? { containers: [] };
  if (spec.serviceAccountName) p.w(1, `Service Account:\t${spec.serviceAccountName}\n`);
  if (spec.initContainers?.length) describeContainers(p, 'Init Containers', spec.initContainers, undefined, undefined, '  ');
  describeContainers(p, 'Containers', spec.containers ?? [], undefined, undefined, '  ');
  describeVolumes(p, spec.volumes, '  ');
  if (spec.priorityClassName) p.w(1, `Priority Class Name:\t${spec.priorityClassName}\n`);
  labelsMultiline(p, '  Node-Selectors', spec.nodeSelector);
  tolerations(p, '  Tolerations', spec.tolerations);
}

export function describePodTemplate(t: PodTemplateSpec | undefined): string {
  const p = new Page();
  podTemplate(p, t);
  return p.done();
}

// ----------------------------------------------------------------- QoS

function qosClass(pod: Pod): string {
  if (pod.status?.qosClass) return pod.status.qosClass;
  const requests = new Map<string, number>();
  const limits = new Map<string, number>();
  let guaranteed = true;
  for (const c of [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])]) {
    const lim = c.resources?.limits ?? {};
    // the API server defaults a missing request to the limit
    const req = { ...lim, ...(c.resources?.requests ?? {}) };
    for (const [name, q] of Object.entries(req)) {
      const v = parseQuantity(q as string)?.value ?? 0;
      if ((name === 'cpu' || name === 'memory') && v > 0) requests.set(name, (requests.get(name) ?? 0) + v);
    }
    const found = new Set<string>();
    for (const [name, q] of Object.entries(lim)) {
      const v = parseQuantity(q as string)?.value ?? 0;
      if ((name === 'cpu' || name === 'memory') && v > 0) {
        found.add(name);
        limits.set(name, (limits.get(name) ?? 0) + v);
      }
    }
    if (!found.has('cpu') || !found.has('memory')) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) for (const [name, v] of requests) if (limits.get(name) !== v) guaranteed = false;
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}

// ----------------------------------------------------------------- kinds

function describePod(pod: Pod, c: DescribeContext): string {
  const p = new Page();
  const st = pod.status ?? {};
  p.w(0, `Name:\t${pod.metadata.name}\n`);
  p.w(0, `Namespace:\t${pod.metadata.namespace ?? ''}\n`);
  if (pod.spec.priority !== undefined && pod.spec.priority !== null) p.w(0, `Priority:\t${pod.spec.priority}\n`);
  if (pod.spec.priorityClassName) p.w(0, `Priority Class Name:\t${pod.spec.priorityClassName}\n`);
  if (pod.spec.runtimeClassName) p.w(0, `Runtime Class Name:\t${pod.spec.runtimeClassName}\n`);
  if (pod.spec.serviceAccountName) p.w(0, `Service Account:\t${pod.spec.serviceAccountName}\n`);
  p.w(0, pod.spec.nodeName ? `Node:\t${pod.spec.nodeName}/${st.hostIP ?? ''}\n` : 'Node:\t<none>\n');
  if (st.startTime) p.w(0, `Start Time:\t${rfc1123z(st.startTime as string)}\n`);
  labelsMultiline(p, 'Labels', pod.metadata.labels);
  annotationsMultiline(p, 'Annotations', pod.metadata.annotations);
  if (pod.metadata.deletionTimestamp) {
    p.w(0, `Status:\tTerminating (lasts ${since(pod.metadata.deletionTimestamp as string, c.now)})\n`);
    p.w(0, `Termination Grace Period:\t${pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30}s\n`);
  } else {
    p.w(0, `Status:\t${st.phase ?? 'Pending'}\n`);
  }
  if (st.reason) p.w(0, `Reason:\t${st.reason}\n`);
  if (st.message) p.w(0, `Message:\t${st.message}\n`);
  p.w(0, `IP:\t${st.podIP ?? ''}\n`);
  const ips = st.podIPs?.length ? st.podIPs.map((x) => x.ip) : st.podIP ? [st.podIP] : [];
  if (ips.length === 0) p.w(0, 'IPs:\t<none>\n');
  else {
    p.w(0, 'IPs:\n');
    for (const ip of ips) p.w(1, `IP:\t${ip}\n`);
  }
  const ctl = controllerOf(pod);
  if (ctl) p.w(0, `Controlled By:\t${ctl}\n`);
  if (st.nominatedNodeName) p.w(0, `NominatedNodeName:\t${st.nominatedNodeName}\n`);
  if (pod.spec.initContainers?.length) describeContainers(p, 'Init Containers', pod.spec.initContainers, pod, st.initContainerStatuses, '');
  describeContainers(p, 'Containers', pod.spec.containers ?? [], pod, st.containerStatuses, '');
  if (pod.spec.readinessGates?.length) {
    p.w(0, 'Readiness Gates:\n  Type\tStatus\n');
    for (const g of pod.spec.readinessGates) p.w(1, `${g.conditionType} \t${(st.conditions ?? []).find((x) => x.type === g.conditionType)?.status ?? '<none>'} \n`);
  }
  if (st.conditions?.length) {
    p.w(0, 'Conditions:\n  Type\tStatus\n');
    for (const x of st.conditions) p.w(1, `${x.type} \t${x.status} \n`);
  }
  describeVolumes(p, pod.spec.volumes, '');
  p.w(0, `QoS Class:\t${qosClass(pod)}\n`);
  labelsMultiline(p, 'Node-Selectors', pod.spec.nodeSelector);
  tolerations(p, 'Tolerations', pod.spec.tolerations);
  writeEvents(p, c.events, c.now);
  return p.done();
}

function ownedPods(obj: KObject, c: DescribeContext): Pod[] {
  return ((c.related.Pod ?? []) as Pod[]).filter((pod) => pod.metadata.ownerReferences?.some((r) => r.controller && r.uid === obj.metadata.uid));
}

function podsStatus(pods: Pod[]): string {
  const count = (phase: string): number => pods.filter((x) => (x.status?.phase ?? 'Pending') === phase).length;
  return `${count('Running')} Running / ${count('Pending')} Waiting / ${count('Succeeded')} Succeeded / ${count('Failed')} Failed`;
}

function describeDeployment(d: Deployment, c: DescribeContext): string {
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

function describeReplicaSet(rs: ReplicaSet, c: DescribeContext): string {
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

function describeDaemonSet(ds: DaemonSet, c: DescribeContext): string {
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

function describeJob(job: Job, c: DescribeContext): string {
  const p = new Page();
  const spec = job.spec;
  const st = job.status ?? {};
  p.w(0, `Name:\t${job.metadata.name}\n`);
  p.w(0, `Namespace:\t${job.metadata.namespace ?? ''}\n`);
  p.w(0, `Selector:\t${selectorString(spec.selector)}\n`);
  labelsMultiline(p, 'Labels', job.metadata.labels);
  annotationsMultiline(p, 'Annotations', job.metadata.annotations);
  const ctl = controllerOf(job);
  if (ctl) p.w(0, `Controlled By:\t${ctl}\n`);
  if (spec.parallelism !== undefined && spec.parallelism !== null) p.w(0, `Parallelism:\t${spec.parallelism}\n`);
  p.w(0, `Completions:\t${spec.completions ?? '<unset>'}\n`);
  if (spec.completionMode) p.w(0, `Completion Mode:\t${spec.completionMode}\n`);
  if (spec.suspend !== undefined && spec.suspend !== null) p.w(0, `Suspend:\t${spec.suspend}\n`);
  if (spec.backoffLimit !== undefined && spec.backoffLimit !== null) p.w(0, `Backoff Limit:\t${spec.backoffLimit}\n`);
  if (spec.ttlSecondsAfterFinished !== undefined && spec.ttlSecondsAfterFinished !== null) p.w(0, `TTL Seconds After Finished:\t${spec.ttlSecondsAfterFinished}\n`);
  if (st.startTime) p.w(0, `Start Time:\t${rfc1123z(st.startTime as string)}\n`);
  if (st.completionTime) p.w(0, `Completed At:\t${rfc1123z(st.completionTime as string)}\n`);
  const start = parseTime(st.startTime as string | undefined);
  const end = parseTime(st.completionTime as string | undefined);
  if (start !== undefined && end !== undefined) p.w(0, `Duration:\t${humanDuration(end - start)}\n`);
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds !== null) p.w(0, `Active Deadline Seconds:\t${spec.activeDeadlineSeconds}s\n`);
  p.w(0, st.ready === undefined || st.ready === null
    ? `Pods Statuses:\t${st.active ?? 0} Active / ${st.succeeded ?? 0} Succeeded / ${st.failed ?? 0} Failed\n`
    : `Pods Statuses:\t${st.active ?? 0} Active (${st.ready} Ready) / ${st.succeeded ?? 0} Succeeded / ${st.failed ?? 0} Failed\n`);
  if (spec.completionMode === 'Indexed') p.w(0, `Completed Indexes:\t${st.completedIndexes || '<none>'}\n`);
  podTemplate(p, spec.template);
  writeEvents(p, c.events, c.now);
  return p.done();
}

function describeCronJob(cj: CronJob, c: DescribeContext): string {
  const p = new Page();
  const spec = cj.spec;
  const opt = (v: number | undefined | null, unit = ''): string => (v === undefined || v === null ? '<unset>' : `${v}${unit}`);
  p.w(0, `Name:\t${cj.metadata.name}\n`);
  p.w(0, `Namespace:\t${cj.metadata.namespace ?? ''}\n`);
  labelsMultiline(p, 'Labels', cj.metadata.labels);
  annotationsMultiline(p, 'Annotations', cj.metadata.annotations);
  p.w(0, `Schedule:\t${spec.schedule}\n`);
  p.w(0, `Concurrency Policy:\t${spec.concurrencyPolicy ?? 'Allow'}\n`);
  p.w(0, `Suspend:\t${printBool(spec.suspend)}\n`);
  p.w(0, `Successful Job History Limit:\t${opt(spec.successfulJobsHistoryLimit)}\n`);
  p.w(0, `Failed Job History Limit:\t${opt(spec.failedJobsHistoryLimit)}\n`);
  p.w(0, `Starting Deadline Seconds:\t${opt(spec.startingDeadlineSeconds, 's')}\n`);
  const jt = spec.jobTemplate?.spec;
  p.w(0, `Selector:\t${jt?.selector ? selectorString(jt.selector) : '<unset>'}\n`);
  p.w(0, `Parallelism:\t${opt(jt?.parallelism)}\n`);
  p.w(0, `Completions:\t${opt(jt?.completions)}\n`);
  if (jt?.activeDeadlineSeconds !== undefined && jt.activeDeadlineSeconds !== null) p.w(0, `Active Deadline Seconds:\t${jt.activeDeadlineSeconds}s\n`);
  podTemplate(p, jt?.template);
  p.w(0, `Last Schedule Time:\t${cj.status?.lastScheduleTime ? rfc1123z(cj.status.lastScheduleTime as string) : '<unset>'}\n`);
  const active = cj.status?.active ?? [];
  p.w(0, `Active Jobs:\t${active.length ? active.map((j) => j.name).join(', ') : '<none>'}\n`);
  writeEvents(p, c.events, c.now);
  return p.done();
}

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

function describeService(svc: Service, c: DescribeContext): string {
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

function describeConfigMap(cm: ConfigMap, c: DescribeContext): string {
  const p = new Page();
  p.w(0, `Name:\t${cm.metadata.name}\n`);
  p.w(0, `Namespace:\t${cm.metadata.namespace ?? ''}\n`);
  labelsMultiline(p, 'Labels', cm.metadata.labels);
  annotationsMultiline(p, 'Annotations', cm.metadata.annotations);
  p.w(0, '\nData\n====\n');
  for (const k of Object.keys(cm.data ?? {}).sort()) p.w(0, `${k}:\n----\n${cm.data![k]}\n`);
  p.w(0, '\nBinaryData\n====\n');
  for (const k of Object.keys(cm.binaryData ?? {}).sort()) p.w(0, `${k}: ${Buffer.from(cm.binaryData![k]!, 'base64').length} bytes\n`);
  p.w(0, '\n');
  writeEvents(p, c.events, c.now);
  return p.done();
}

/** Secret values are never printed: only their sizes. */
function describeSecret(s: Secret): string {
  const p = new Page();
  p.w(0, `Name:\t${s.metadata.name}\n`);
  p.w(0, `Namespace:\t${s.metadata.namespace ?? ''}\n`);
  labelsMultiline(p, 'Labels', s.metadata.labels);
  annotationsMultiline(p, 'Annotations', s.metadata.annotations);
  p.w(0, `\nType:\t${s.type ?? 'Opaque'}\n`);
  p.w(0, '\nData\n====\n');
  const sizes = new Map<string, number>();
  for (const [k, v] of Object.entries(s.data ?? {})) sizes.set(k, Buffer.from(v, 'base64').length);
  for (const [k, v] of Object.entries(s.stringData ?? {})) sizes.set(k, Buffer.byteLength(v, 'utf8'));
  for (const k of [...sizes.keys()].sort()) p.w(0, `${k}:\t${sizes.get(k)} bytes\n`);
  return p.done();
}

function describeNamespace(ns: Namespace): string {
  const p = new Page();
  p.w(0, `Name:\t${ns.metadata.name}\n`);
  labelsMultiline(p, 'Labels', ns.metadata.labels);
  annotationsMultiline(p, 'Annotations', ns.metadata.annotations);
  p.w(0, `Status:\t${ns.status?.phase ?? (ns.metadata.deletionTimestamp ? 'Terminating' : 'Active')}\n`);
  if (ns.status?.conditions?.length) {
    p.w(0, 'Conditions:\n');
    p.w(1, 'Type\tStatus\tLastTransitionTime\tReason\tMessage\n');
    p.w(1, '----\t------\t------------------\t------\t-------\n');
    for (const x of ns.status.conditions) p.w(1, `${x.type}\t${x.status}\t${rfc1123z(x.lastTransitionTime as string | undefined)}\t${x.reason ?? ''}\t${x.message ?? ''}\n`);
  }
  p.w(0, '\nNo resource quota.\n');
  p.w(0, '\nNo LimitRange resource.\n');
  return p.done();
}

function describeNode(node: Node, c: DescribeContext): string {
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

function describeGeneric(obj: KObject, c: DescribeContext): string {
  const p = new Page();
  p.w(0, `Name:\t${obj.metadata.name}\n`);
  if (obj.metadata.namespace) p.w(0, `Namespace:\t${obj.metadata.namespace}\n`);
  labelsMultiline(p, 'Labels', obj.metadata.labels);
  annotationsMultiline(p, 'Annotations', obj.metadata.annotations);
  p.w(0, `API Version:\t${obj.apiVersion}\n`);
  p.w(0, `Kind:\t${obj.kind}\n`);
  p.flush();
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!['apiVersion', 'kind', 'metadata'].includes(k)) rest[k] = v;
  const body = Object.keys(rest).length ? toYaml(rest, { indentSeq: false, lineWidth: 0 }) : '';
  const out = p.done() + body;
  return out + describeEvents(c.events, c.now);
}

/** The describe page of an object. */
export function describeObject(obj: KObject, c: DescribeContext): string {
  switch (obj.kind) {
    case 'Pod': return describePod(obj as Pod, c);
    case 'Deployment': return describeDeployment(obj as Deployment, c);
    case 'ReplicaSet': return describeReplicaSet(obj as ReplicaSet, c);
    case 'DaemonSet': return describeDaemonSet(obj as DaemonSet, c);
    case 'Job': return describeJob(obj as Job, c);
    case 'CronJob': return describeCronJob(obj as CronJob, c);
    case 'Service': return describeService(obj as Service, c);
    case 'ConfigMap': return describeConfigMap(obj as ConfigMap, c);
    case 'Secret': return describeSecret(obj as Secret);
    case 'Node': return describeNode(obj as Node, c);
    case 'Namespace': return describeNamespace(obj as Namespace);
    default: return describeGeneric(obj, c);
  }
}

/** The kinds (besides events) whose objects describe needs, by the kind described. */
export function relatedKinds(kind: string): string[] {
  switch (kind) {
    case 'Deployment': return ['ReplicaSet'];
    case 'ReplicaSet':
    case 'DaemonSet':
    case 'Service':
    case 'Node':
      return ['Pod'];
    default:
      return [];
  }
}
