/**
 * The kinds pifleet serves: one table used by the store, the API server, the CLI
 * (resource names, short names) and validation.
 */
export interface KindInfo {
  kind: string;
  apiVersion: string;
  /** Lower-case plural used by the CLI: `pifleet get deployments`. */
  plural: string;
  singular: string;
  shortNames: string[];
  namespaced: boolean;
  /** Users may create it with apply (Nodes and Events are made by the system). */
  appliable: boolean;
}

export const KINDS: readonly KindInfo[] = [
  { kind: 'Namespace', apiVersion: 'v1', plural: 'namespaces', singular: 'namespace', shortNames: ['ns'], namespaced: false, appliable: true },
  { kind: 'Node', apiVersion: 'v1', plural: 'nodes', singular: 'node', shortNames: ['no'], namespaced: false, appliable: false },
  { kind: 'Pod', apiVersion: 'v1', plural: 'pods', singular: 'pod', shortNames: ['po'], namespaced: true, appliable: true },
  { kind: 'Service', apiVersion: 'v1', plural: 'services', singular: 'service', shortNames: ['svc'], namespaced: true, appliable: true },
  { kind: 'ConfigMap', apiVersion: 'v1', plural: 'configmaps', singular: 'configmap', shortNames: ['cm'], namespaced: true, appliable: true },
  { kind: 'Secret', apiVersion: 'v1', plural: 'secrets', singular: 'secret', shortNames: [], namespaced: true, appliable: true },
  { kind: 'Event', apiVersion: 'v1', plural: 'events', singular: 'event', shortNames: ['ev'], namespaced: true, appliable: false },
  { kind: 'Deployment', apiVersion: 'apps/v1', plural: 'deployments', singular: 'deployment', shortNames: ['deploy'], namespaced: true, appliable: true },
  { kind: 'ReplicaSet', apiVersion: 'apps/v1', plural: 'replicasets', singular: 'replicaset', shortNames: ['rs'], namespaced: true, appliable: true },
  { kind: 'DaemonSet', apiVersion: 'apps/v1', plural: 'daemonsets', singular: 'daemonset', shortNames: ['ds'], namespaced: true, appliable: true },
  { kind: 'Job', apiVersion: 'batch/v1', plural: 'jobs', singular: 'job', shortNames: [], namespaced: true, appliable: true },
  { kind: 'CronJob', apiVersion: 'batch/v1', plural: 'cronjobs', singular: 'cronjob', shortNames: ['cj'], namespaced: true, appliable: true },
];

const byKind = new Map(KINDS.map((k) => [k.kind, k]));
const byName = new Map<string, KindInfo>();
for (const k of KINDS) {
  for (const n of [k.kind.toLowerCase(), k.plural, k.singular, ...k.shortNames]) byName.set(n, k);
}

export function kindInfo(kind: string): KindInfo | undefined {
  return byKind.get(kind);
}

/** Resolve what a user typed (`po`, `pods`, `Pod`, `deployment.apps`) to a kind. */
export function resolveResource(name: string): KindInfo | undefined {
  const n = name.toLowerCase().split('.')[0] ?? '';
  return byName.get(n);
}

/** The store key of an object: Kind/namespace/name ('' namespace for cluster-scoped kinds). */
export function objectKey(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}
