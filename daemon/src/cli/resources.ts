/** Parsing what users type for resources: `pods`, `deploy/web`, `deployments.apps/web`, `pods,svc`. */
import { KINDS, resolveResource, type KindInfo } from '../api/kinds.js';
import { CliError } from './client.js';

export interface TypedName { info: KindInfo; name: string }

/** Kinds that `get all` lists, as kubectl does. */
export const ALL_KINDS = ['Pod', 'Service', 'DaemonSet', 'Deployment', 'ReplicaSet', 'Job', 'CronJob'];

export function kindOrThrow(name: string): KindInfo {
  const info = resolveResource(name);
  if (!info) throw new CliError(`error: the server doesn't have a resource type "${name}"\nKnown types: ${KINDS.map((k) => k.plural).join(', ')}`);
  return info;
}

/** `deploy/web` -> Deployment "web". */
export function parseTypedName(s: string): TypedName {
  const i = s.indexOf('/');
  if (i <= 0 || i === s.length - 1) throw new CliError(`error: arguments in resource/name form must have a single resource and name, got ${JSON.stringify(s)}`);
  return { info: kindOrThrow(s.slice(0, i)), name: s.slice(i + 1) };
}

/**
 * kubectl's argument forms: `TYPE`, `TYPE NAME...`, `TYPE/NAME...`, `TYPE1,TYPE2`.
 * Returns one entry per kind with the names asked for (empty = all).
 */
export function parseResourceArgs(args: string[]): Array<{ info: KindInfo; names: string[] }> {
  if (args.length === 0) throw new CliError('error: you must specify the type of resource to get. Use "pifleet get pods", "pifleet get deployments", ...');
  if (args.some((a) => a.includes('/'))) {
    const out = new Map<string, { info: KindInfo; names: string[] }>();
    for (const a of args) {
      const { info, name } = parseTypedName(a);
      const e = out.get(info.kind) ?? { info, names: [] };
      e.names.push(name);
      out.set(info.kind, e);
    }
    return [...out.values()];
  }
  const [types, ...names] = args as [string, ...string[]];
  const kinds = types.split(',').filter(Boolean).flatMap((t) => (t === 'all' ? ALL_KINDS.map((k) => kindOrThrow(k.toLowerCase())) : [kindOrThrow(t)]));
  if (kinds.length > 1 && names.length) throw new CliError('error: names cannot be given with several resource types; use TYPE/NAME');
  return kinds.map((info) => ({ info, names }));
}

/** `deployment.apps/web` as kubectl prints object references. */
export function refName(kind: string, name: string): string {
  const info = KINDS.find((k) => k.kind === kind);
  const group = info?.apiVersion.includes('/') ? `.${info.apiVersion.split('/')[0]}` : '';
  return `${(info?.singular ?? kind.toLowerCase())}${group}/${name}`;
}

/** `deployments.apps "web"` as kubectl names things in messages. */
export function quotedName(kind: string, name: string): string {
  const info = KINDS.find((k) => k.kind === kind);
  const group = info?.apiVersion.includes('/') ? `.${info.apiVersion.split('/')[0]}` : '';
  return `${(info?.singular ?? kind.toLowerCase())}${group} "${name}"`;
}

/** Durations as kubectl accepts them: 30s, 5m, 1h, 1h30m, plain seconds. */
export function parseDuration(s: string): number {
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of s.matchAll(re)) {
    const n = Number(m[1]);
    total += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000;
    consumed += m[0].length;
  }
  if (consumed !== s.length || consumed === 0) throw new CliError(`error: invalid duration ${JSON.stringify(s)} (use e.g. 30s, 5m, 1h)`);
  return total;
}

/** `deployments.apps "web"` as kubectl names missing things. */
export function pluralName(kind: string, name: string): string {
  const info = KINDS.find((k) => k.kind === kind);
  const group = info?.apiVersion.includes('/') ? `.${info.apiVersion.split('/')[0]}` : '';
  return `${(info?.plural ?? kind.toLowerCase())}${group} "${name}"`;
}
