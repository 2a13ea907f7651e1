/**
 * What the command files share: the program-wide options, output helpers, a client for the
 * length of one command, and the reads most verbs start with (one object, a list, the pods
 * behind `job/x` or `deployment/x`, manifests from -f).
 */
import type { Command } from 'commander';
import type { KObject, Pod } from '../api/types.js';
import type { KindInfo } from '../api/kinds.js';
import { loadManifests } from '../api/load.js';
import { readManifestSources } from './manifests.js';
import { ApiClient, CliError, resolveConnection, type ConnectionOptions } from './client.js';
import { kindOrThrow, parseDuration, parseTypedName, refName } from './resources.js';

export interface GlobalOpts extends ConnectionOptions {
  namespace?: string;
  allNamespaces?: boolean;
  requestTimeout?: string;
}

export const out = (s: string): void => { if (s) process.stdout.write(s.endsWith('\n') ? s : `${s}\n`); };
export const err = (s: string): void => { if (s) process.stderr.write(s.endsWith('\n') ? s : `${s}\n`); };

export function globals(cmd: Command): GlobalOpts {
  return cmd.optsWithGlobals() as GlobalOpts;
}

/** Connect (every member's broker, the leader answers), run fn, close. */
export async function withClient<T>(cmd: Command, fn: (c: ApiClient, g: GlobalOpts) => Promise<T>): Promise<T> {
  const g = globals(cmd);
  const conn = resolveConnection(g);
  const client = await ApiClient.connect(conn, g.requestTimeout ? parseDuration(g.requestTimeout) : 5000);
  try {
    return await fn(client, g);
  } finally {
    await client.close();
  }
}

export function ns(g: GlobalOpts): string {
  return g.namespace ?? 'default';
}

export async function list(c: ApiClient, info: KindInfo, g: GlobalOpts, extra: Record<string, unknown> = {}): Promise<KObject[]> {
  const res = await c.request<{ items: KObject[] }>('get', { kind: info.kind, namespace: ns(g), allNamespaces: Boolean(g.allNamespaces), ...extra });
  return res.items;
}

export async function getOne<T extends KObject = KObject>(c: ApiClient, info: KindInfo, name: string, g: GlobalOpts): Promise<T> {
  return c.request<T>('get', { kind: info.kind, namespace: ns(g), name });
}

/** Read, validate and default manifests locally: errors as FILE:LINE:COL field: reason. */
export async function readManifests(files: string[], recursive: boolean): Promise<KObject[]> {
  const sources = await readManifestSources(files, process.stdin, { recursive });
  const objects: KObject[] = [];
  const problems: string[] = [];
  for (const s of sources) {
    const r = loadManifests(s.text, s.file);
    objects.push(...r.objects);
    for (const e of r.errors) problems.push(e.format());
  }
  if (problems.length) throw new CliError(`${problems.join('\n')}\nerror: ${problems.length} problem${problems.length > 1 ? 's' : ''} found; nothing was applied`, 1);
  if (objects.length === 0) throw new CliError('error: no objects passed to apply');
  return objects;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Pods behind `job/x`, `deployment/x`, `pod/x` or a bare pod name, newest first. */
export async function resolvePods(c: ApiClient, target: string, g: GlobalOpts): Promise<Pod[]> {
  if (!target.includes('/')) return [await getOne<Pod>(c, kindOrThrow('pods'), target, g)];
  const { info, name } = parseTypedName(target);
  if (info.kind === 'Pod') return [await getOne<Pod>(c, info, name, g)];
  const owner = await getOne(c, info, name, g);
  const pods = (await list(c, kindOrThrow('pods'), g)) as Pod[];
  const ownedBy = (p: KObject, uid: string | undefined): boolean => Boolean(p.metadata.ownerReferences?.some((r) => r.uid === uid));
  let mine: Pod[];
  if (info.kind === 'Deployment') {
    const rss = (await list(c, kindOrThrow('replicasets'), g)).filter((rs) => ownedBy(rs, owner.metadata.uid));
    mine = pods.filter((p) => rss.some((rs) => ownedBy(p, rs.metadata.uid)));
  } else {
    mine = pods.filter((p) => ownedBy(p, owner.metadata.uid));
  }
  if (mine.length === 0) throw new CliError(`error: no pods found for ${refName(info.kind, name)}`);
  return mine.sort((a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''));
}
