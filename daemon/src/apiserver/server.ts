/**
 * The leader's API: request topics pifleet/<cluster>/api/<client>/request/<op> in, responses
 * on .../api/<client>/response/<op> out, correlated by the payload's `id`. The store is the
 * authority: every write is validated (again: clients validate too), defaulted and committed
 * in one transaction. Bad payloads get an error response, never a crash.
 */
import type { Bus } from '../broker/client.js';
import type { ApiErrorBody, ApiResponse, NodeRpcRequest, Topics } from '../broker/topics.js';
import { isTopicSegment } from '../broker/topics.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Random } from '../lib/random.js';
import { KINDS, kindInfo, objectKey, resolveResource, type KindInfo } from '../api/kinds.js';
import type { Deployment, KObject, Pod, ReplicaSet } from '../api/types.js';
import { validateObject, validateUpdate, limitProblems, resolveLimits, type WorkloadLimits } from '../api/validate.js';
import { applyDefaults, defaultJobSelector } from '../api/defaults.js';
import { parseSelector, matches } from '../api/selectors.js';
import { StoreError, deepEqual, type Mutation, type StoreView, type WatchEvent } from '../state/store.js';
import { deletePodMutation, isOwnedBy } from '../controllers/pods.js';
import { CHANGE_CAUSE, POD_TEMPLATE_HASH, REVISION, revisionOf } from '../controllers/deployment/controller.js';
import { mergePatch, parseFieldSelector } from './patch.js';
import { rfc3339 } from '../lib/time.js';
import { orphanAsPod, type OrphanSource } from './orphans.js';

export class ApiError extends Error {
  constructor(readonly reason: string, message: string, readonly details?: string[]) {
    super(message);
    this.name = 'ApiError';
  }
  toBody(): ApiErrorBody {
    return { reason: this.reason, message: this.message, ...(this.details?.length ? { details: this.details } : {}) };
  }
}

/** What `pifleet status` shows: the fleet as the leader sees it (cluster/fleet.ts FleetStatus and more). */
export interface ClusterInfo {
  cluster: string;
  leader: string;
  term: number;
  revision: number;
  version: string;
  members: unknown[];
  [more: string]: unknown;
}

/** What the API server may ask of the fleet's membership. */
export interface FleetOps {
  removeMember(name: string): Promise<void>;
}

export interface ApiServerDeps {
  store: StoreView;
  bus: Bus;
  topics: Topics;
  clock: Clock;
  random: Random;
  logger: Logger;
  info: () => ClusterInfo;
  fleet?: FleetOps;
  /** Pods running on nodes that the desired state does not know (the node registry's reports). */
  orphans?: OrphanSource;
  /** Ceilings on replicas, parallelism and completions (config `limits:`); DEFAULT_LIMITS for what is absent. */
  limits?: Partial<WorkloadLimits>;
}

/** Annotations the system owns on workloads: kept when a user applies a manifest without them. */
const SYSTEM_ANNOTATION_PREFIXES = ['deployment.kubernetes.io/', 'pifleet.io/'];
const MAX_REQUEST_OBJECTS = 500;

type Params = Record<string, unknown>;
interface Stream { client: string; op: string; stop(): void }

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export class ApiServer {
  #unsubscribe: (() => void) | undefined;
  #streams = new Map<string, Stream>();
  #log: Logger;
  #limits: WorkloadLimits;

  constructor(private readonly deps: ApiServerDeps) {
    this.#log = deps.logger.child({ component: 'api' });
    this.#limits = resolveLimits(deps.limits);
  }

  start(): void {
    if (this.#unsubscribe) return;
    this.#unsubscribe = this.deps.bus.subscribe(this.deps.topics.requestAll, (topic, payload, raw) => {
      const parsed = this.deps.topics.parseRequest(topic);
      if (!parsed || !isTopicSegment(parsed.client) || !isTopicSegment(parsed.op)) return;
      void this.handle(parsed.client, parsed.op, payload, raw.length);
    });
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    for (const s of this.#streams.values()) s.stop();
    this.#streams.clear();
  }

  /** A client went away: end its streams. */
  clientGone(client: string): void {
    for (const [k, s] of this.#streams) if (s.client === client) { s.stop(); this.#streams.delete(k); }
  }

  async handle(client: string, op: string, payload: unknown, size = 0): Promise<void> {
    const id = payload && typeof payload === 'object' && typeof (payload as Params).id === 'string' ? (payload as Params).id as string : '';
    const reply = (res: Omit<ApiResponse, 'id'>): Promise<void> =>
      this.deps.bus.publish(this.deps.topics.response(client, op), { id, ...res }).catch((err) => this.#log.debug({ err: (err as Error).message }, 'reply failed'));
    try {
      if (payload === undefined || payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
        throw new ApiError('BadRequest', size === 0 ? 'empty request: send a JSON object with an "id" field' : 'the request is not a JSON object (with an "id" field)');
      }
      if (!id) throw new ApiError('BadRequest', 'the request has no "id" (a string correlating the response)');
      const p = payload as Params;
      switch (op) {
        case 'apply': return void await reply({ status: 'ok', data: await this.apply(p, false) });
        case 'create': return void await reply({ status: 'ok', data: await this.apply({ ...p, objects: [p.object] }, true) });
        case 'get': return void await reply({ status: 'ok', data: this.get(p) });
        case 'delete': return void await reply({ status: 'ok', data: await this.delete(p) });
        case 'scale': return void await reply({ status: 'ok', data: await this.scale(p) });
        case 'patch': return void await reply({ status: 'ok', data: await this.patch(p) });
        case 'rollout': return void await reply({ status: 'ok', data: await this.rollout(p) });
        case 'status': return void await reply({ status: 'ok', data: this.deps.info() });
        case 'version': return void await reply({ status: 'ok', data: { version: this.deps.info().version } });
        case 'removeNode': return void await reply({ status: 'ok', data: await this.removeNode(p) });
        case 'watch': return this.watch(client, op, id, p, reply);
        case 'logs': case 'exec': return void await this.forward(client, op, id, p);
        case 'cancel': {
          const target = str(p.target);
          if (!target) throw new ApiError('BadRequest', 'cancel needs "target": the id of the stream to end');
          for (const o of ['watch', 'logs']) {
            const s = this.#streams.get(`${client}/${o}/${target}`);
            if (s) { s.stop(); this.#streams.delete(`${client}/${o}/${target}`); }
          }
          return void await reply({ status: 'ok' });
        }
        default:
          throw new ApiError('NotFound', `unknown operation ${JSON.stringify(op)}; operations: apply, create, get, watch, delete, scale, patch, rollout, logs, exec, cancel, status, version`);
      }
    } catch (err) {
      const e = toApiError(err);
      if (e.reason === 'InternalError') this.#log.error({ err, op, client }, 'request failed');
      await reply({ status: 'error', error: e.toBody() });
    }
  }

  // ---------------------------------------------------------------- reads

  #kind(p: Params): KindInfo {
    const k = str(p.kind);
    if (!k) throw new ApiError('BadRequest', 'missing "kind" (e.g. pods, deployments, Deployment)');
    const info = resolveResource(k) ?? kindInfo(k);
    if (!info) throw new ApiError('NotFound', `the server doesn't have a resource type "${k}"; known: ${KINDS.map((x) => x.plural).join(', ')}`);
    return info;
  }

  #namespace(p: Params, info: KindInfo): string | undefined {
    if (!info.namespaced) return undefined;
    return str(p.namespace) ?? 'default';
  }

  #filter(p: Params): (o: KObject) => boolean {
    const fns: Array<(o: KObject) => boolean> = [];
    const ls = str(p.labelSelector);
    if (ls) {
      let sel;
      try { sel = parseSelector(ls); } catch (err) { throw new ApiError('BadRequest', `invalid label selector: ${(err as Error).message}`); }
      fns.push((o) => matches(sel, (o.metadata.labels ?? {}) as Record<string, string>));
    }
    const fs = str(p.fieldSelector);
    if (fs) {
      let f: (o: unknown) => boolean;
      try { f = parseFieldSelector(fs); } catch (err) { throw new ApiError('BadRequest', (err as Error).message); }
      fns.push(f);
    }
    return (o) => fns.every((f) => f(o));
  }

  get(p: Params): unknown {
    const info = this.#kind(p);
    const all = p.allNamespaces === true;
    const ns = all ? undefined : this.#namespace(p, info);
    const name = str(p.name);
    if (name) {
      const o = this.deps.store.get(info.kind, ns, name) ?? (info.kind === 'Pod' ? this.#orphanPods(ns).find((x) => x.metadata.name === name) : undefined);
      if (!o) throw new ApiError('NotFound', `${info.singular} "${name}" not found${info.namespaced ? ` in namespace "${ns}"` : ''}`);
      return o;
    }
    const filter = this.#filter(p);
    const items = this.deps.store.list(info.kind, ns).filter(filter);
    if (info.kind === 'Pod') items.push(...this.#orphanPods(ns).filter(filter));
    return { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: String(this.deps.store.revision) }, items };
  }

  /** Orphans as Pods (those whose name is not taken by a pod of the desired state). */
  #orphanPods(ns: string | undefined): Pod[] {
    const out: Pod[] = [];
    for (const { node, orphan } of this.deps.orphans?.list() ?? []) {
      if (ns !== undefined && orphan.namespace !== ns) continue;
      if (this.deps.store.get('Pod', orphan.namespace, orphan.name)) continue;
      out.push(orphanAsPod(node, orphan));
    }
    return out;
  }

  watch(client: string, op: string, id: string, p: Params, reply: (res: Omit<ApiResponse, 'id'>) => Promise<void>): void {
    const info = this.#kind(p);
    const all = p.allNamespaces === true;
    const ns = all ? undefined : this.#namespace(p, info);
    const name = str(p.name);
    const filter = this.#filter(p);
    const timeoutMs = Math.min(Math.max(Number(p.timeoutSeconds ?? 1800), 1), 24 * 3600) * 1000;
    const key = `${client}/${op}/${id}`;
    this.#streams.get(key)?.stop();
    let seq = 0;
    const pass = (o: KObject): boolean => o.kind === info.kind && (ns === undefined || o.metadata.namespace === ns) && (!name || o.metadata.name === name) && filter(o);
    const unwatch = this.deps.store.watch((ev: WatchEvent) => {
      if (!pass(ev.obj)) return;
      void reply({ status: 'ok', more: true, seq: ++seq, data: { type: ev.type, object: ev.obj } });
    });
    const timer = this.deps.clock.setTimeout(() => stop(), timeoutMs);
    const stop = (): void => {
      unwatch();
      timer.cancel();
      this.#streams.delete(key);
      void reply({ status: 'ok', seq: ++seq });
    };
    this.#streams.set(key, { client, op, stop });
    if (p.sendInitial !== false) {
      for (const o of this.deps.store.list(info.kind, ns)) if (pass(o)) void reply({ status: 'ok', more: true, seq: ++seq, data: { type: 'ADDED', object: o } });
    }
    void reply({ status: 'ok', more: true, seq: ++seq, data: { type: 'BOOKMARK', revision: this.deps.store.revision } });
  }

  // ---------------------------------------------------------------- writes

  /** Validate, default and merge objects with what is stored; one transaction for all. */
  async apply(p: Params, createOnly: boolean): Promise<{ results: Array<{ kind: string; namespace?: string; name: string; action: string }>; dryRun: boolean }> {
    const objects = p.objects;
    if (!Array.isArray(objects) || objects.length === 0) throw new ApiError('BadRequest', '"objects" must be a non-empty array of manifests');
    if (objects.length > MAX_REQUEST_OBJECTS) throw new ApiError('BadRequest', `too many objects in one request (${objects.length}, at most ${MAX_REQUEST_OBJECTS})`);
    const { store, random } = this.deps;
    const details: string[] = [];
    const prepared: KObject[] = [];
    objects.forEach((raw, i) => {
      const errs = validateObject(raw);
      const label = describe(raw, i);
      if (errs.length) { for (const e of errs) details.push(fieldDetail(label, e)); return; }
      prepared.push(applyDefaults(raw as KObject));
    });
    if (details.length) throw new ApiError('Invalid', `${details.length} problem${details.length > 1 ? 's' : ''} in the request; nothing was applied`, details);
    const seen = new Set<string>();
    const newNamespaces = new Set(prepared.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name));
    const muts: Mutation[] = [];
    const results: Array<{ kind: string; namespace?: string; name: string; action: string }> = [];
    for (const [i, obj] of prepared.entries()) {
      const info = kindInfo(obj.kind);
      if (!info?.appliable) { details.push(`${describe(obj, i)}: ${obj.kind} objects are managed by pifleet and cannot be applied`); continue; }
      const ns = info.namespaced ? obj.metadata.namespace ?? 'default' : undefined;
      if (!info.namespaced) delete obj.metadata.namespace;
      const key = objectKey(obj.kind, ns, obj.metadata.name);
      if (seen.has(key)) { details.push(`${describe(obj, i)}: the same object appears twice in one request`); continue; }
      seen.add(key);
      if (ns && !newNamespaces.has(ns)) {
        const nsObj = store.get('Namespace', undefined, ns);
        if (!nsObj) { details.push(`${describe(obj, i)}: namespace "${ns}" not found (create it first, or in the same apply)`); continue; }
        if (nsObj.metadata.deletionTimestamp) { details.push(`${describe(obj, i)}: namespace "${ns}" is being deleted`); continue; }
      }
      const existing = store.get(obj.kind, ns, obj.metadata.name);
      const over = limitProblems(obj, this.#limits, existing);
      if (over.length) { for (const e of over) details.push(fieldDetail(describe(obj, i), e)); continue; }
      const ref = { kind: obj.kind, ...(ns ? { namespace: ns } : {}), name: obj.metadata.name };
      if (!existing) {
        const uid = random.uuid();
        let next: KObject = { ...obj, metadata: { ...obj.metadata, uid } };
        if (next.kind === 'Job') next = defaultJobSelector(next, uid);
        delete next.status;
        muts.push({ type: 'create', obj: next });
        results.push({ ...ref, action: 'created' });
        continue;
      }
      if (createOnly) { details.push(`${describe(obj, i)}: already exists`); continue; }
      if (existing.metadata.deletionTimestamp) { details.push(`${describe(obj, i)}: is being deleted; wait until it is gone`); continue; }
      let next = this.#mergeWithStored(obj, existing);
      if (next.kind === 'Job') next = defaultJobSelector(next, existing.metadata.uid as string);
      const upd = validateUpdate(existing, next);
      if (upd.length) { for (const e of upd) details.push(`${describe(obj, i)} ${e.path}: ${e.reason}`); continue; }
      const cmp = { ...existing, status: undefined, metadata: { ...existing.metadata, resourceVersion: undefined, generation: undefined } };
      const cand = { ...next, status: undefined, metadata: { ...next.metadata, resourceVersion: undefined, generation: undefined } };
      if (deepEqual(cmp, cand)) { results.push({ ...ref, action: 'unchanged' }); continue; }
      muts.push({ type: 'update', obj: next });
      results.push({ ...ref, action: 'configured' });
    }
    if (details.length) throw new ApiError(createOnly && details.every((d) => d.endsWith('already exists')) ? 'AlreadyExists' : 'Invalid', `${details.length} problem${details.length > 1 ? 's' : ''} in the request; nothing was applied`, details);
    const dryRun = p.dryRun === true;
    if (!dryRun && muts.length) await this.#commit(muts);
    return { results, dryRun };
  }

  /** The user's object, keeping what the system owns (uid, creation time, owners, system annotations). */
  #mergeWithStored(obj: KObject, existing: KObject): KObject {
    const annotations: Record<string, string> = {};
    for (const [k, v] of Object.entries(existing.metadata.annotations ?? {})) {
      if (SYSTEM_ANNOTATION_PREFIXES.some((pfx) => k.startsWith(pfx))) annotations[k] = v;
    }
    Object.assign(annotations, obj.metadata.annotations ?? {});
    const metadata = {
      ...obj.metadata,
      uid: existing.metadata.uid,
      creationTimestamp: existing.metadata.creationTimestamp,
      ...(obj.metadata.ownerReferences ? {} : existing.metadata.ownerReferences ? { ownerReferences: existing.metadata.ownerReferences } : {}),
      ...(existing.metadata.finalizers && !obj.metadata.finalizers ? { finalizers: existing.metadata.finalizers } : {}),
      ...(Object.keys(annotations).length ? { annotations } : {}),
    };
    if (!Object.keys(annotations).length) delete metadata.annotations;
    const next = { ...obj, metadata } as KObject;
    // a Pod's binding is the scheduler's: a re-applied manifest without nodeName keeps it
    if (next.kind === 'Pod' && !(next as Pod).spec.nodeName && (existing as Pod).spec.nodeName) {
      (next as Pod).spec = { ...(next as Pod).spec, nodeName: (existing as Pod).spec.nodeName };
    }
    delete next.status;
    return next;
  }

  async #commit(muts: Mutation[]): Promise<Array<KObject | undefined>> {
    try {
      return await this.deps.store.commit(muts);
    } catch (err) {
      if (err instanceof StoreError) throw new ApiError(err.reason, err.message);
      throw new ApiError('InternalError', `the desired state could not be written: ${(err as Error).message}`);
    }
  }

  async delete(p: Params): Promise<{ deleted: Array<{ kind: string; namespace?: string; name: string }> }> {
    const info = this.#kind(p);
    const { store, clock } = this.deps;
    const all = p.allNamespaces === true;
    const ns = all ? undefined : this.#namespace(p, info);
    const name = str(p.name);
    const names = Array.isArray(p.names) ? p.names.filter((n): n is string => typeof n === 'string') : [];
    let targets: KObject[];
    const pruned: Array<{ kind: string; namespace?: string; name: string }> = [];
    if (name || names.length) {
      targets = [];
      const missing: string[] = [];
      for (const n of name ? [name, ...names] : names) {
        const o = store.get(info.kind, ns, n);
        if (o) targets.push(o);
        else if (info.kind === 'Pod' && await this.#pruneOrphan(ns, n)) pruned.push({ kind: 'Pod', ...(ns ? { namespace: ns } : {}), name: n });
        else missing.push(n);
      }
      if (missing.length && p.ignoreNotFound !== true) {
        throw new ApiError('NotFound', missing.map((n) => `${info.plural} "${n}" not found${info.namespaced ? ` in namespace "${ns}"` : ''}`).join('; '));
      }
    } else if (str(p.labelSelector) || str(p.fieldSelector) || p.all === true) {
      const filter = this.#filter(p);
      targets = store.list(info.kind, ns).filter(filter);
    } else {
      throw new ApiError('BadRequest', 'delete needs a name, a label selector or all: true');
    }
    if (info.kind === 'Node' || info.kind === 'Event') throw new ApiError('BadRequest', `${info.plural} are managed by pifleet and cannot be deleted`);
    const grace = typeof p.gracePeriodSeconds === 'number' && p.gracePeriodSeconds >= 0 ? p.gracePeriodSeconds : undefined;
    const policy = str(p.propagationPolicy) ?? 'Background';
    if (!['Background', 'Foreground', 'Orphan'].includes(policy)) throw new ApiError('BadRequest', `propagationPolicy must be Background, Foreground or Orphan, not ${policy}`);
    const muts: Mutation[] = [];
    const now = clock.now();
    for (const o of targets) {
      if (o.kind === 'Namespace' && o.metadata.name === 'default') throw new ApiError('Forbidden', 'namespace "default" cannot be deleted');
      if (policy === 'Orphan') {
        for (const dep of store.dependents(o.metadata.uid as string)) {
          const freed = structuredClone(dep);
          delete freed.status;
          freed.metadata.ownerReferences = (dep.metadata.ownerReferences ?? []).filter((r) => r.uid !== o.metadata.uid);
          muts.push({ type: 'update', obj: freed });
        }
      }
      if (o.kind === 'Pod') {
        muts.push(grace === 0 ? { type: 'delete', kind: 'Pod', namespace: o.metadata.namespace, name: o.metadata.name, uid: o.metadata.uid as string } : deletePodMutation(o as Pod, now, grace));
      } else if (o.kind === 'Namespace') {
        if (!o.metadata.deletionTimestamp) {
          const next = structuredClone(o);
          delete next.status;
          next.metadata.deletionTimestamp = rfc3339(now);
          muts.push({ type: 'update', obj: next });
          muts.push({ type: 'status', kind: 'Namespace', name: o.metadata.name, status: { phase: 'Terminating' } });
        }
      } else {
        muts.push({ type: 'delete', kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name, uid: o.metadata.uid as string });
      }
    }
    if (muts.length) await this.#commit(muts);
    return { deleted: [...targets.map((o) => ({ kind: o.kind, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}), name: o.metadata.name })), ...pruned] };
  }

  /** `pifleet node remove NAME`: out of the membership, its Node object and pods gone (replaced elsewhere). */
  async removeNode(p: Params): Promise<{ removed: string }> {
    const name = str(p.name);
    if (!name) throw new ApiError('BadRequest', 'removeNode needs "name"');
    if (!this.deps.fleet) throw new ApiError('BadRequest', 'this daemon has no fleet membership to change');
    try {
      await this.deps.fleet.removeMember(name);
    } catch (err) {
      throw new ApiError('BadRequest', (err as Error).message);
    }
    const { store, clock } = this.deps;
    const muts: Mutation[] = [];
    for (const pod of store.list<Pod>('Pod')) if (pod.spec.nodeName === name && !pod.metadata.deletionTimestamp) muts.push(deletePodMutation(pod, clock.now(), 0));
    if (store.get('Node', undefined, name)) muts.push({ type: 'delete', kind: 'Node', name });
    if (muts.length) await this.#commit(muts);
    return { removed: name };
  }

  /** Deleting an orphan: its node removes its containers (the desired state never had it). */
  async #pruneOrphan(ns: string | undefined, name: string): Promise<boolean> {
    const hit = this.deps.orphans?.list().find((x) => x.orphan.name === name && (ns === undefined || x.orphan.namespace === ns));
    if (!hit) return false;
    await this.deps.orphans!.prune(hit.node, hit.orphan.uid);
    this.#log.info({ pod: `${hit.orphan.namespace}/${name}`, node: hit.node }, 'orphaned pod deleted: its node removes the containers');
    return true;
  }

  #mustGet(p: Params): { info: KindInfo; obj: KObject } {
    const info = this.#kind(p);
    const name = str(p.name);
    if (!name) throw new ApiError('BadRequest', 'missing "name"');
    const ns = this.#namespace(p, info);
    const obj = this.deps.store.get(info.kind, ns, name);
    if (!obj) throw new ApiError('NotFound', `${info.plural} "${name}" not found${info.namespaced ? ` in namespace "${ns}"` : ''}`);
    return { info, obj };
  }

  async #update(existing: KObject, next: KObject): Promise<KObject> {
    const errs = [...validateObject(next), ...validateUpdate(existing, next), ...limitProblems(next, this.#limits, existing)];
    if (errs.length) throw new ApiError('Invalid', `${existing.kind} "${existing.metadata.name}" is invalid`, errs.map((e) => fieldDetail('', e)));
    const defaulted = applyDefaults(next);
    delete defaulted.status;
    const [stored] = await this.#commit([{ type: 'update', obj: defaulted, resourceVersion: existing.metadata.resourceVersion as string }]);
    return stored as KObject;
  }

  async scale(p: Params): Promise<KObject> {
    const { info, obj } = this.#mustGet(p);
    const replicas = p.replicas;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) throw new ApiError('BadRequest', '"replicas" must be a non-negative integer');
    if (!['Deployment', 'ReplicaSet'].includes(info.kind)) throw new ApiError('BadRequest', `${info.plural} cannot be scaled (deployments and replicasets can)`);
    if (typeof p.currentReplicas === 'number' && (obj.spec as { replicas?: number }).replicas !== p.currentReplicas) {
      throw new ApiError('Conflict', `expected ${p.currentReplicas} replicas, found ${(obj.spec as { replicas?: number }).replicas}`);
    }
    const next = structuredClone(obj);
    (next.spec as { replicas?: number }).replicas = replicas;
    return this.#update(obj, next);
  }

  async patch(p: Params): Promise<KObject> {
    const { obj } = this.#mustGet(p);
    if (p.patch === null || typeof p.patch !== 'object' || Array.isArray(p.patch)) throw new ApiError('BadRequest', '"patch" must be a JSON object (a merge patch)');
    const type = str(p.patchType) ?? 'merge';
    if (type !== 'merge') throw new ApiError('BadRequest', `patch type ${type} is not supported (use merge)`);
    const base = structuredClone(obj);
    delete base.status;
    const next = mergePatch(base, p.patch) as KObject;
    if (next.kind !== obj.kind || next.metadata?.name !== obj.metadata.name) throw new ApiError('Invalid', 'a patch may not change kind or metadata.name');
    return this.#update(obj, next);
  }

  async rollout(p: Params): Promise<unknown> {
    const { info, obj } = this.#mustGet(p);
    const action = str(p.action);
    const { store, clock } = this.deps;
    if (!['Deployment', 'DaemonSet'].includes(info.kind)) throw new ApiError('BadRequest', `rollout is for deployments and daemonsets, not ${info.plural}`);
    const next = structuredClone(obj) as Deployment;
    delete next.status;
    switch (action) {
      case 'pause':
      case 'resume': {
        if (info.kind !== 'Deployment') throw new ApiError('BadRequest', `${action} is supported for deployments only`);
        const want = action === 'pause';
        if (Boolean(next.spec.paused) === want) return { changed: false, message: `${info.singular}.apps/${obj.metadata.name} is ${want ? 'already paused' : 'not paused'}` };
        next.spec.paused = want;
        await this.#update(obj, next);
        return { changed: true, message: `${info.singular}.apps/${obj.metadata.name} ${want ? 'paused' : 'resumed'}` };
      }
      case 'restart': {
        next.spec.template.metadata = { ...(next.spec.template.metadata ?? {}), annotations: { ...(next.spec.template.metadata?.annotations ?? {}), 'kubectl.kubernetes.io/restartedAt': new Date(clock.now()).toISOString() } };
        await this.#update(obj, next);
        return { changed: true, message: `${info.singular}.apps/${obj.metadata.name} restarted` };
      }
      case 'history':
      case 'undo': {
        if (info.kind !== 'Deployment') throw new ApiError('BadRequest', `rollout ${action} is supported for deployments only (pifleet keeps no DaemonSet revisions yet)`);
        const rss = store.list<ReplicaSet>('ReplicaSet', obj.metadata.namespace).filter((rs) => isOwnedBy(rs, obj)).sort((a, b) => revisionOf(a) - revisionOf(b));
        if (action === 'history') {
          return { revisions: rss.map((rs) => ({ revision: revisionOf(rs), changeCause: rs.metadata.annotations?.[CHANGE_CAUSE] ?? null, name: rs.metadata.name, template: rs.spec.template })) };
        }
        const to = typeof p.toRevision === 'number' ? p.toRevision : 0;
        if (rss.length === 0) throw new ApiError('BadRequest', `no rollout history found for deployment "${obj.metadata.name}"`);
        let target: ReplicaSet | undefined;
        if (to === 0) {
          if (rss.length < 2) throw new ApiError('BadRequest', `no rollout history found for deployment "${obj.metadata.name}" (only one revision)`);
          const current = Number(obj.metadata.annotations?.[REVISION] ?? revisionOf(rss[rss.length - 1] as ReplicaSet));
          target = [...rss].reverse().find((rs) => revisionOf(rs) !== current);
        } else {
          target = rss.find((rs) => revisionOf(rs) === to);
          if (!target) throw new ApiError('NotFound', `unable to find specified revision ${to} in history`);
        }
        if (!target) throw new ApiError('BadRequest', 'no previous revision to roll back to');
        if (!target.spec.template) throw new ApiError('InternalError', `revision ${revisionOf(target)} has no pod template`);
        const template = structuredClone(target.spec.template);
        if (template.metadata?.labels) delete template.metadata.labels[POD_TEMPLATE_HASH];
        if (deepEqual(template, obj.spec && (obj as Deployment).spec.template)) {
          return { changed: false, message: `skipped rollback (current template already matches revision ${revisionOf(target)})` };
        }
        next.spec.template = template;
        await this.#update(obj, next);
        return { changed: true, message: `deployment.apps/${obj.metadata.name} rolled back`, revision: revisionOf(target) };
      }
      default:
        throw new ApiError('BadRequest', 'rollout action must be one of history, undo, pause, resume, restart');
    }
  }

  // ---------------------------------------------------------------- node forwarding

  /** logs and exec run where the pod runs: the request goes to that node, which replies to the client directly. */
  async forward(client: string, op: string, id: string, p: Params): Promise<void> {
    const name = str(p.name);
    if (!name) throw new ApiError('BadRequest', 'missing "name" (the pod)');
    const ns = str(p.namespace) ?? 'default';
    const pod = this.deps.store.get<Pod>('Pod', ns, name);
    if (!pod) throw new ApiError('NotFound', `pods "${name}" not found in namespace "${ns}"`);
    const node = pod.spec.nodeName;
    if (!node) throw new ApiError('BadRequest', `pod "${name}" is not scheduled to a node yet`);
    const containers = pod.spec.containers.map((c) => c.name);
    const container = str(p.container) ?? (containers.length === 1 ? containers[0] : undefined);
    if (!container) throw new ApiError('BadRequest', `a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`);
    if (!containers.includes(container)) throw new ApiError('BadRequest', `container ${container} is not valid for pod ${name}`);
    if (op === 'exec' && (!Array.isArray(p.command) || p.command.length === 0 || !p.command.every((c) => typeof c === 'string'))) {
      throw new ApiError('BadRequest', '"command" must be a non-empty array of strings');
    }
    const replyTo = this.deps.topics.response(client, op);
    const req: NodeRpcRequest = { id, op: op as 'logs' | 'exec', replyTo, params: { ...p, namespace: ns, pod: name, uid: pod.metadata.uid, container } };
    await this.deps.bus.publish(this.deps.topics.nodeRpc(node), req);
    if (op === 'logs' && p.follow === true) {
      const key = `${client}/${op}/${id}`;
      this.#streams.set(key, {
        client, op,
        stop: () => { void this.deps.bus.publish(this.deps.topics.nodeRpc(node), { id, op: 'cancel', replyTo, params: {} } satisfies NodeRpcRequest); },
      });
    }
  }
}

/** `Kind/name path: reason` (kubectl's field-error shape); no path, no space before the colon. */
function fieldDetail(label: string, e: { path: string; reason: string }): string {
  const where = [label, e.path].filter(Boolean).join(' ');
  return where ? `${where}: ${e.reason}` : e.reason;
}

function describe(raw: unknown, i: number): string {
  const o = raw as { kind?: unknown; metadata?: { name?: unknown } } | null;
  const kind = o && typeof o.kind === 'string' ? o.kind : 'object';
  const name = o && o.metadata && typeof o.metadata.name === 'string' ? o.metadata.name : `#${i + 1}`;
  return `${kind}/${name}`;
}

export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof StoreError) return new ApiError(err.reason, err.message);
  return new ApiError('InternalError', err instanceof Error ? err.message : String(err));
}
