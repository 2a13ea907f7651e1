/**
 * Tells every node what to run: for each node, the pods bound to it (status stripped) and the
 * ConfigMaps and Secrets those pods use, published retained on nodes/<node>/desired whenever
 * that set changes (and only then).
 */
import type { ConfigMap, KObject, Pod, Secret } from '../api/types.js';
import type { NodeDesiredMessage } from '../broker/topics.js';
import type { ReconcileResult } from '../lib/workqueue.js';
import type { WatchEvent } from '../state/store.js';
import type { Controller, ControllerContext } from '../controllers/manager.js';
import { canonicalJson } from '../controllers/pods.js';

/** Names of the ConfigMaps and Secrets a pod refers to. */
export function podReferences(pod: Pod): { configMaps: Set<string>; secrets: Set<string> } {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  const spec = pod.spec;
  for (const v of spec.volumes ?? []) {
    if (v.configMap?.name) configMaps.add(v.configMap.name);
    if (v.secret?.secretName) secrets.add(v.secret.secretName);
    for (const src of v.projected?.sources ?? []) {
      if (src.configMap?.name) configMaps.add(src.configMap.name);
      if (src.secret?.name) secrets.add(src.secret.name);
    }
  }
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    for (const e of c.env ?? []) {
      if (e.valueFrom?.configMapKeyRef?.name) configMaps.add(e.valueFrom.configMapKeyRef.name);
      if (e.valueFrom?.secretKeyRef?.name) secrets.add(e.valueFrom.secretKeyRef.name);
    }
    for (const ef of c.envFrom ?? []) {
      if (ef.configMapRef?.name) configMaps.add(ef.configMapRef.name);
      if (ef.secretRef?.name) secrets.add(ef.secretRef.name);
    }
  }
  for (const s of spec.imagePullSecrets ?? []) if (s.name) secrets.add(s.name);
  return { configMaps, secrets };
}

function stripStatus<T extends KObject>(o: T): T {
  if (o.status === undefined) return o;
  const { status: _s, ...rest } = o;
  return rest as T;
}

export class Distributor implements Controller {
  readonly name = 'distributor';
  #published = new Map<string, string>();

  constructor(private readonly ctx: ControllerContext, private readonly publish: (node: string, msg: NodeDesiredMessage) => Promise<void>) {}

  /** The message for one node, from the store as it is now. */
  desiredFor(node: string): NodeDesiredMessage {
    const { store } = this.ctx;
    const pods = store.list<Pod>('Pod').filter((p) => p.spec.nodeName === node).map(stripStatus);
    const cms = new Map<string, KObject>();
    const secs = new Map<string, KObject>();
    for (const p of pods) {
      const ns = p.metadata.namespace ?? 'default';
      const refs = podReferences(p);
      for (const n of refs.configMaps) {
        const cm = store.get<ConfigMap>('ConfigMap', ns, n);
        if (cm) cms.set(`${ns}/${n}`, cm);
      }
      for (const n of refs.secrets) {
        const s = store.get<Secret>('Secret', ns, n);
        if (s) secs.set(`${ns}/${n}`, s);
      }
    }
    const lineage = store.lineage;
    return {
      term: store.term, revision: store.revision, ...(lineage ? { lineage } : {}), ...(store.meta('prune') === true ? { prune: true } : {}),
      pods, configMaps: [...cms.values()], secrets: [...secs.values()],
    };
  }

  *keysFor(ev: WatchEvent): Iterable<string> {
    const kind = ev.obj.kind;
    if (kind === 'Pod') {
      const a = (ev.obj as Pod).spec.nodeName;
      const b = (ev.old as Pod | undefined)?.spec.nodeName;
      // status-only changes (the node's own reports) change nothing for the node
      if (ev.type === 'MODIFIED' && ev.old && canonicalJson(stripStatus(ev.old)) === canonicalJson(stripStatus(ev.obj))) return;
      if (a) yield a;
      if (b && b !== a) yield b;
    } else if (kind === 'ConfigMap' || kind === 'Secret') {
      const ns = ev.obj.metadata.namespace;
      const nodes = new Set<string>();
      for (const p of this.ctx.store.list<Pod>('Pod', ns)) {
        if (!p.spec.nodeName) continue;
        const refs = podReferences(p);
        if ((kind === 'ConfigMap' ? refs.configMaps : refs.secrets).has(ev.obj.metadata.name)) nodes.add(p.spec.nodeName);
      }
      yield* nodes;
    } else if (kind === 'Node' && ev.type === 'ADDED') {
      yield ev.obj.metadata.name;
    }
  }

  *initialKeys(): Iterable<string> {
    const nodes = new Set<string>();
    for (const n of this.ctx.store.list('Node')) nodes.add(n.metadata.name);
    for (const p of this.ctx.store.list<Pod>('Pod')) if (p.spec.nodeName) nodes.add(p.spec.nodeName);
    yield* nodes;
  }

  #unwatchMeta: (() => void) | undefined;

  start(queue: { add(k: string): void }): void {
    // a new lineage or a prune request changes what every node must do with its orphans
    this.#unwatchMeta = this.ctx.store.watchMeta((key) => {
      if (key === 'lineage' || key === 'prune') for (const n of this.initialKeys()) queue.add(n);
    });
  }

  stop(): void {
    this.#unwatchMeta?.();
    this.#unwatchMeta = undefined;
    this.#published.clear();
  }

  /** Forget what was published (after a reconnect to a new broker, everything is sent again). */
  reset(): void {
    this.#published.clear();
  }

  async reconcile(node: string): Promise<ReconcileResult> {
    const msg = this.desiredFor(node);
    // revision and term change with every write; only the content decides
    const fingerprint = canonicalJson({ term: msg.term, lineage: msg.lineage, prune: msg.prune, pods: msg.pods, configMaps: msg.configMaps, secrets: msg.secrets });
    if (this.#published.get(node) === fingerprint) return;
    await this.publish(node, msg);
    this.#published.set(node, fingerprint);
  }
}
