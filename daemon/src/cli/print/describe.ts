/**
 * `describe` as kubectl 1.30 lays it out (staging/src/k8s.io/kubectl/pkg/describe/describe.go):
 * pods, deployments, replicasets, daemonsets, jobs, cronjobs, services, configmaps, secrets
 * (sizes only, never values), nodes and namespaces; other kinds get a generic page. One file per
 * kind family under describe/. The caller passes the object's events and the related objects
 * kubectl would fetch (pods for controllers, services and nodes; replicasets for deployments). Pure.
 */
import type { ConfigMap, CronJob, DaemonSet, Deployment, Job, KObject, Namespace, Node, Pod, ReplicaSet, Secret, Service } from '../../api/types.js';
import type { DescribeContext } from './describe/common.js';
import { describePod } from './describe/pods.js';
import { describeDaemonSet, describeDeployment, describeReplicaSet } from './describe/workloads.js';
import { describeCronJob, describeJob } from './describe/jobs.js';
import { describeService } from './describe/services.js';
import { describeConfigMap, describeGeneric, describeNamespace, describeSecret } from './describe/config.js';
import { describeNode } from './describe/nodes.js';

export { describeEvents, type DescribeContext } from './describe/common.js';
export { describePodTemplate, describeProbe } from './describe/pods.js';

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
