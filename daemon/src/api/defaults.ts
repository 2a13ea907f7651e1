/**
 * Defaulting: what the API server fills in before storing an object, as Kubernetes does
 * (so `get -o yaml` shows what will actually run), plus pifleet's own choice of 0400 for
 * secret volumes. Pure: every function returns a defaulted deep clone and is idempotent.
 * Runs on validated objects; still never throws on odd shapes (it skips what it does not know).
 */
import { kindInfo } from './kinds.js';
import type { KObject } from './types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Set o[k] = v when it is absent (undefined or null). */
function def(o: Obj, k: string, v: unknown): void {
  if (o[k] === undefined || o[k] === null) o[k] = v;
}

/** Kubernetes' default: 0644 for ConfigMap volumes. */
export const CONFIGMAP_VOLUME_MODE = 0o644; // 420
/**
 * pifleet's default for Secret volumes: 0400, readable by the file's owner only (Kubernetes
 * uses 0644). Secrets sit in tmpfs on the node and the issue asks for owner-only files; a
 * manifest that needs wider access sets `defaultMode` itself.
 */
export const SECRET_VOLUME_MODE = 0o400; // 256

/** `Always` when the image has no tag or the tag `latest`, else `IfNotPresent` (digests too). */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  if (image.includes('@')) return 'IfNotPresent';
  const last = image.slice(image.lastIndexOf('/') + 1);
  const i = last.lastIndexOf(':');
  const tag = i >= 0 ? last.slice(i + 1) : '';
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function probe(p: unknown): void {
  if (!isObj(p)) return;
  def(p, 'timeoutSeconds', 1);
  def(p, 'periodSeconds', 10);
  def(p, 'successThreshold', 1);
  def(p, 'failureThreshold', 3);
  if (isObj(p.httpGet)) {
    def(p.httpGet, 'path', '/');
    def(p.httpGet, 'scheme', 'HTTP');
  }
}

function container(c: unknown): void {
  if (!isObj(c)) return;
  if (typeof c.image === 'string') def(c, 'imagePullPolicy', defaultPullPolicy(c.image));
  def(c, 'terminationMessagePath', '/dev/termination-log');
  def(c, 'terminationMessagePolicy', 'File');
  for (const p of arr(c.ports)) if (isObj(p)) def(p, 'protocol', 'TCP');
  for (const e of arr(c.env)) {
    if (isObj(e) && isObj(e.valueFrom) && isObj(e.valueFrom.fieldRef)) def(e.valueFrom.fieldRef, 'apiVersion', 'v1');
  }
  for (const which of ['livenessProbe', 'readinessProbe', 'startupProbe']) probe(c[which]);
  // Kubernetes: a limit without a request requests the limit
  if (isObj(c.resources) && isObj(c.resources.limits)) {
    const requests = isObj(c.resources.requests) ? c.resources.requests : {};
    for (const [name, q] of Object.entries(c.resources.limits)) def(requests, name, q);
    if (Object.keys(requests).length) c.resources.requests = requests;
  }
}

function podSpec(spec: unknown, opts: { restartPolicy: boolean }): void {
  if (!isObj(spec)) return;
  if (opts.restartPolicy) def(spec, 'restartPolicy', 'Always');
  def(spec, 'terminationGracePeriodSeconds', 30);
  def(spec, 'dnsPolicy', 'ClusterFirst');
  def(spec, 'schedulerName', 'default-scheduler');
  for (const c of arr(spec.initContainers)) container(c);
  for (const c of arr(spec.containers)) container(c);
  for (const v of arr(spec.volumes)) {
    if (!isObj(v)) continue;
    if (isObj(v.secret)) def(v.secret, 'defaultMode', SECRET_VOLUME_MODE);
    if (isObj(v.configMap)) def(v.configMap, 'defaultMode', CONFIGMAP_VOLUME_MODE);
    if (isObj(v.hostPath)) def(v.hostPath, 'type', '');
  }
}

function podTemplate(tpl: unknown, opts: { restartPolicy: boolean }): void {
  if (isObj(tpl)) podSpec(tpl.spec, opts);
}

function deployment(spec: Obj): void {
  def(spec, 'replicas', 1);
  def(spec, 'revisionHistoryLimit', 10);
  def(spec, 'progressDeadlineSeconds', 600);
  def(spec, 'minReadySeconds', 0);
  def(spec, 'strategy', {});
  const st = spec.strategy;
  if (isObj(st)) {
    def(st, 'type', 'RollingUpdate');
    if (st.type === 'RollingUpdate') {
      def(st, 'rollingUpdate', {});
      if (isObj(st.rollingUpdate)) {
        def(st.rollingUpdate, 'maxUnavailable', '25%');
        def(st.rollingUpdate, 'maxSurge', '25%');
      }
    }
  }
  podTemplate(spec.template, { restartPolicy: true });
}

function daemonSet(spec: Obj): void {
  def(spec, 'revisionHistoryLimit', 10);
  def(spec, 'updateStrategy', {});
  const st = spec.updateStrategy;
  if (isObj(st)) {
    def(st, 'type', 'RollingUpdate');
    if (st.type === 'RollingUpdate') {
      def(st, 'rollingUpdate', {});
      if (isObj(st.rollingUpdate)) {
        def(st.rollingUpdate, 'maxUnavailable', 1);
        def(st.rollingUpdate, 'maxSurge', 0);
      }
    }
  }
  podTemplate(spec.template, { restartPolicy: true });
}

function jobSpec(spec: Obj): void {
  // Kubernetes: both absent -> 1 and 1; a work queue (parallelism alone) keeps completions unset
  if ((spec.completions === undefined || spec.completions === null) && (spec.parallelism === undefined || spec.parallelism === null)) {
    spec.completions = 1;
    spec.parallelism = 1;
  }
  def(spec, 'parallelism', 1);
  def(spec, 'backoffLimit', 6);
  def(spec, 'completionMode', 'NonIndexed');
  def(spec, 'suspend', false);
  podTemplate(spec.template, { restartPolicy: false });
}

function cronJob(spec: Obj): void {
  def(spec, 'concurrencyPolicy', 'Allow');
  def(spec, 'suspend', false);
  def(spec, 'successfulJobsHistoryLimit', 3);
  def(spec, 'failedJobsHistoryLimit', 1);
  // like Kubernetes, only the pod template of jobTemplate is defaulted here; the Job's own
  // fields get their defaults when the CronJob creates it
  if (isObj(spec.jobTemplate) && isObj(spec.jobTemplate.spec)) podTemplate(spec.jobTemplate.spec.template, { restartPolicy: false });
}

function service(spec: Obj): void {
  def(spec, 'type', 'ClusterIP');
  if (spec.type === 'ExternalName') return;
  def(spec, 'sessionAffinity', 'None');
  def(spec, 'internalTrafficPolicy', 'Cluster');
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') def(spec, 'externalTrafficPolicy', 'Cluster');
  for (const p of arr(spec.ports)) {
    if (!isObj(p)) continue;
    def(p, 'protocol', 'TCP');
    if (p.targetPort === undefined || p.targetPort === null || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
}

/** A Secret's data with stringData merged in (base64-encoded; stringData wins, as in Kubernetes). */
export function effectiveSecretData(secret: { data?: unknown; stringData?: unknown }): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObj(secret.data)) for (const [k, v] of Object.entries(secret.data)) if (typeof v === 'string') out[k] = v;
  if (isObj(secret.stringData)) {
    for (const [k, v] of Object.entries(secret.stringData)) if (typeof v === 'string') out[k] = Buffer.from(v, 'utf8').toString('base64');
  }
  return out;
}

/** The object with Kubernetes' defaults (and pifleet's) filled in: a deep clone, idempotent. */
export function applyDefaults<T extends KObject>(obj: T): T {
  const o = structuredClone(obj) as T & Obj;
  if (!isObj(o)) return o;
  const info = typeof o.kind === 'string' ? kindInfo(o.kind) : undefined;
  if (!isObj(o.metadata)) (o as Obj).metadata = {};
  if (info?.namespaced && (o.metadata.namespace === undefined || o.metadata.namespace === null || o.metadata.namespace === '')) o.metadata.namespace = 'default';
  const spec = isObj(o.spec) ? o.spec : undefined;
  switch (o.kind) {
    case 'Pod':
      podSpec(spec, { restartPolicy: true });
      break;
    case 'Deployment':
      if (spec) deployment(spec);
      break;
    case 'ReplicaSet':
      if (spec) {
        def(spec, 'replicas', 1);
        podTemplate(spec.template, { restartPolicy: true });
      }
      break;
    case 'DaemonSet':
      if (spec) daemonSet(spec);
      break;
    case 'Job':
      if (spec) jobSpec(spec);
      break;
    case 'CronJob':
      if (spec) cronJob(spec);
      break;
    case 'Service':
      if (spec) service(spec);
      break;
    case 'Secret': {
      const so = o as Obj;
      def(so, 'type', 'Opaque');
      if (so.type === '') so.type = 'Opaque';
      if (so.stringData !== undefined) {
        const data = effectiveSecretData(so);
        delete so.stringData;
        so.data = data;
      }
      break;
    }
    default:
      break;
  }
  return o;
}

export const JOB_CONTROLLER_UID_LABEL = 'batch.kubernetes.io/controller-uid';
export const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';
export const LEGACY_CONTROLLER_UID_LABEL = 'controller-uid';
export const LEGACY_JOB_NAME_LABEL = 'job-name';

/**
 * Kubernetes' generated Job selector: unless `manualSelector: true`, the selector is the
 * Job's uid and the pod template carries the uid and name labels (new and legacy keys).
 * Returns a clone; the same uid gives the same result (idempotent).
 */
export function defaultJobSelector(job: KObject, uid: string): KObject {
  const j = structuredClone(job);
  const spec = isObj(j.spec) ? j.spec : undefined;
  if (!spec || spec.manualSelector === true) return j;
  spec.selector = { matchLabels: { [JOB_CONTROLLER_UID_LABEL]: uid } };
  if (!isObj(spec.template)) spec.template = {};
  const tpl = spec.template as Obj;
  if (!isObj(tpl.metadata)) tpl.metadata = {};
  const md = tpl.metadata as Obj;
  const labels = isObj(md.labels) ? md.labels : {};
  md.labels = {
    ...labels,
    [JOB_CONTROLLER_UID_LABEL]: uid,
    [JOB_NAME_LABEL]: j.metadata.name,
    [LEGACY_CONTROLLER_UID_LABEL]: uid,
    [LEGACY_JOB_NAME_LABEL]: j.metadata.name,
  };
  return j;
}
