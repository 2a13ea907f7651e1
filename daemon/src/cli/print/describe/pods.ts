/**
 * The pod page and what pod templates share with it: containers (state, probes, resources,
 * environment, mounts), volumes, the QoS class; also the template block of controllers.
 */
import type { Container, ContainerState, ContainerStatus, EnvVar, Pod, PodTemplateSpec, Probe, Volume } from '../../../api/types.js';
import { rfc1123z, since } from '../duration.js';
import { printBool } from '../format.js';
import { parseQuantity } from '../quantity.js';
import { annotationsMultiline, controllerOf, intOrString, labelsMultiline, Page, tolerations, writeEvents, type DescribeContext } from './common.js';

function portString(c: Container, host: boolean): string {
  return (c.ports ?? []).map((pt) => `${host ? pt.hostPort ?? 0 : pt.containerPort}/${pt.protocol ?? 'TCP'}`).join(', ');
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
export function podTemplate(p: Page, t: PodTemplateSpec | undefined): void {
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

export function describePod(pod: Pod, c: DescribeContext): string {
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
