/**
 * A container's environment as the kubelet builds it: envFrom (ConfigMaps/Secrets, prefix,
 * optional), then env in order (value with $(VAR) expansion over the variables defined before
 * it, valueFrom configMapKeyRef / secretKeyRef / fieldRef / resourceFieldRef), and the
 * $(VAR) expansion of command and args over the final environment. Pure: the ConfigMaps and
 * Secrets come in as a lookup, the pod IP and node facts as arguments.
 */
import type { Container, KObject, Pod } from '../api/types.js';
import { quantity } from '../scheduler/scheduler.js';

/** Thrown (and shown as CreateContainerConfigError) when a referenced ConfigMap/Secret/key is missing. */
export class ContainerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContainerConfigError';
  }
}

export interface ConfigSource {
  configMap(namespace: string, name: string): KObject | undefined;
  secret(namespace: string, name: string): KObject | undefined;
}

export interface EnvContext {
  pod: Pod;
  podIP?: string;
  hostIP?: string;
  /** Node capacity, used by resourceFieldRef when the container sets no limit (as the kubelet does). */
  nodeCpuCores: number;
  nodeMemoryBytes: number;
  sources: ConfigSource;
}

/**
 * Kubernetes $(VAR) expansion (third_party/forked/golang/expansion): `$$` is an escaped `$`,
 * `$(NAME)` is replaced when NAME is defined and left as written when it is not, an unclosed
 * `$(` and any other `$x` stay literal.
 */
export function expand(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const ch = input[i];
    if (ch !== '$' || i + 1 >= input.length) {
      out += ch;
      i++;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      const v = name.length > 0 ? lookup(name) : undefined;
      out += v ?? `$(${name})`;
      i = close + 1;
    } else {
      out += '$';
      i++;
    }
  }
  return out;
}

/** ConfigMap values by key (data as is, binaryData decoded as UTF-8). */
export function configMapData(cm: KObject): Record<string, string> {
  const out: Record<string, string> = {};
  const bin = (cm.binaryData ?? {}) as Record<string, string>;
  for (const [k, v] of Object.entries(bin)) out[k] = Buffer.from(v, 'base64').toString('utf8');
  for (const [k, v] of Object.entries((cm.data ?? {}) as Record<string, string>)) out[k] = String(v);
  return out;
}

/** ConfigMap values as raw bytes, for volume files. */
export function configMapBytes(cm: KObject): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries((cm.binaryData ?? {}) as Record<string, string>)) out[k] = Buffer.from(v, 'base64');
  for (const [k, v] of Object.entries((cm.data ?? {}) as Record<string, string>)) out[k] = Buffer.from(String(v), 'utf8');
  return out;
}

/** Secret values as raw bytes (data is base64, stringData plain). */
export function secretBytes(s: KObject): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries((s.data ?? {}) as Record<string, string>)) out[k] = Buffer.from(String(v), 'base64');
  for (const [k, v] of Object.entries((s.stringData ?? {}) as Record<string, string>)) out[k] = Buffer.from(String(v), 'utf8');
  return out;
}

function secretData(s: KObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(secretBytes(s))) out[k] = v.toString('utf8');
  return out;
}

/** The value of a configMapKeyRef / secretKeyRef; undefined when optional and absent. */
function keyRefValue(ns: string, kind: 'ConfigMap' | 'Secret', ref: { name?: string; key: string; optional?: boolean }, sources: ConfigSource): string | undefined {
  const obj = kind === 'ConfigMap' ? sources.configMap(ns, ref.name ?? '') : sources.secret(ns, ref.name ?? '');
  if (!obj) {
    if (ref.optional) return undefined;
    throw new ContainerConfigError(`${kind.toLowerCase()} "${ref.name}" not found`);
  }
  const data = kind === 'ConfigMap' ? configMapData(obj) : secretData(obj);
  if (!(ref.key in data)) {
    if (ref.optional) return undefined;
    throw new ContainerConfigError(`couldn't find key ${ref.key} in ${kind} ${ns}/${ref.name}`);
  }
  return data[ref.key];
}

/** fieldRef values the kubelet supports for env. */
export function fieldValue(path: string, ctx: EnvContext): string {
  const { pod } = ctx;
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path) ?? /^metadata\.(labels|annotations)\["(.+)"\]$/.exec(path);
  if (m) {
    const map = (m[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations) ?? {};
    return map[m[2] as string] ?? '';
  }
  switch (path) {
    case 'metadata.name': return pod.metadata.name;
    case 'metadata.namespace': return pod.metadata.namespace ?? 'default';
    case 'metadata.uid': return pod.metadata.uid ?? '';
    case 'metadata.labels': return Object.entries(pod.metadata.labels ?? {}).map(([k, v]) => `${k}="${v}"`).join('\n');
    case 'metadata.annotations': return Object.entries(pod.metadata.annotations ?? {}).map(([k, v]) => `${k}="${v}"`).join('\n');
    case 'spec.nodeName': return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName': return pod.spec.serviceAccountName ?? 'default';
    case 'status.podIP': case 'status.podIPs': return ctx.podIP ?? '';
    case 'status.hostIP': case 'status.hostIPs': return ctx.hostIP ?? '';
    default:
      throw new ContainerConfigError(`unsupported fieldRef fieldPath "${path}": supported are metadata.name, metadata.namespace, metadata.uid, metadata.labels['k'], metadata.annotations['k'], spec.nodeName, spec.serviceAccountName, status.podIP, status.hostIP`);
  }
}

/** resourceFieldRef: limits.cpu / limits.memory / requests.* with divisor, as the kubelet rounds (up). */
export function resourceValue(ref: { resource: string; divisor?: string | number; containerName?: string }, container: Container, ctx: EnvContext): string {
  const target = ref.containerName ? ctx.pod.spec.containers.find((c) => c.name === ref.containerName) ?? container : container;
  const [kind, res] = ref.resource.split('.') as [string, string];
  const limits = (target.resources?.limits ?? {}) as Record<string, string | number>;
  const requests = (target.resources?.requests ?? {}) as Record<string, string | number>;
  let v: number;
  if (kind === 'limits') {
    v = limits[res] !== undefined ? quantity(limits[res]) : res === 'cpu' ? ctx.nodeCpuCores : res === 'memory' ? ctx.nodeMemoryBytes : 0;
  } else if (kind === 'requests') {
    v = requests[res] !== undefined ? quantity(requests[res]) : limits[res] !== undefined ? quantity(limits[res]) : 0;
  } else {
    throw new ContainerConfigError(`unsupported resourceFieldRef resource "${ref.resource}"`);
  }
  const divisor = ref.divisor !== undefined ? quantity(ref.divisor) : 1;
  if (!Number.isFinite(v) || !Number.isFinite(divisor) || divisor <= 0) throw new ContainerConfigError(`invalid resourceFieldRef ${ref.resource}`);
  return String(Math.max(res === 'cpu' ? 1 : 0, Math.ceil(v / divisor - 1e-9)));
}

/** The container's environment in order (later entries win); throws ContainerConfigError. */
export function buildEnv(container: Container, ctx: EnvContext): Array<[string, string]> {
  const ns = ctx.pod.metadata.namespace ?? 'default';
  const vars = new Map<string, string>();
  for (const ef of container.envFrom ?? []) {
    const prefix = ef.prefix ?? '';
    if (ef.configMapRef) {
      const cm = ctx.sources.configMap(ns, ef.configMapRef.name ?? '');
      if (!cm) {
        if (ef.configMapRef.optional) continue;
        throw new ContainerConfigError(`configmap "${ef.configMapRef.name}" not found`);
      }
      for (const [k, v] of Object.entries(configMapData(cm))) vars.set(prefix + k, v);
    } else if (ef.secretRef) {
      const s = ctx.sources.secret(ns, ef.secretRef.name ?? '');
      if (!s) {
        if (ef.secretRef.optional) continue;
        throw new ContainerConfigError(`secret "${ef.secretRef.name}" not found`);
      }
      for (const [k, v] of Object.entries(secretData(s))) vars.set(prefix + k, v);
    }
  }
  for (const e of container.env ?? []) {
    if (e.valueFrom) {
      const vf = e.valueFrom;
      const keyRef = vf.configMapKeyRef ? { kind: 'ConfigMap' as const, ref: vf.configMapKeyRef } : vf.secretKeyRef ? { kind: 'Secret' as const, ref: vf.secretKeyRef } : undefined;
      if (keyRef) {
        const value = keyRefValue(ns, keyRef.kind, keyRef.ref, ctx.sources);
        if (value !== undefined) vars.set(e.name, value);
      } else if (vf.fieldRef) {
        vars.set(e.name, fieldValue(vf.fieldRef.fieldPath, ctx));
      } else if (vf.resourceFieldRef) {
        vars.set(e.name, resourceValue(vf.resourceFieldRef as { resource: string; divisor?: string; containerName?: string }, container, ctx));
      }
      continue;
    }
    // Delete then set: a redefined variable moves to the end, as in the kubelet's ordered list.
    const value = expand(e.value ?? '', (n) => vars.get(n));
    vars.delete(e.name);
    vars.set(e.name, value);
  }
  return [...vars.entries()];
}

/** command and args with $(VAR) expanded over the container's environment. */
export function expandCommand(container: Container, env: Array<[string, string]>): { command?: string[]; args?: string[] } {
  const map = new Map(env);
  const lookup = (n: string): string | undefined => map.get(n);
  return {
    ...(container.command ? { command: container.command.map((c) => expand(c, lookup)) } : {}),
    ...(container.args ? { args: container.args.map((a) => expand(a, lookup)) } : {}),
  };
}
