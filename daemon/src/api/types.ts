/**
 * The object model: Kubernetes' own types (kubernetes-types, type-only) with the few
 * guarantees pifleet adds once an object has been validated and defaulted
 * (metadata.name and namespace are always set).
 */
import type { ObjectMeta, OwnerReference, LabelSelector, LabelSelectorRequirement, Time } from 'kubernetes-types/meta/v1.js';
import type * as core from 'kubernetes-types/core/v1.js';
import type * as apps from 'kubernetes-types/apps/v1.js';
import type * as batch from 'kubernetes-types/batch/v1.js';

export type { ObjectMeta, OwnerReference, LabelSelector, LabelSelectorRequirement, Time };

export type Meta = ObjectMeta & { name: string; namespace?: string };

/** Any stored object. Kind-specific views below narrow it. */
export interface KObject {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  spec?: unknown;
  status?: unknown;
  [field: string]: unknown;
}

type Stored<T> = Omit<T, 'metadata' | 'apiVersion' | 'kind'> & { apiVersion: string; kind: string; metadata: Meta };

export type Pod = Stored<core.Pod> & { spec: core.PodSpec };
export type PodSpec = core.PodSpec;
export type PodStatus = core.PodStatus;
export type PodTemplateSpec = core.PodTemplateSpec;
export type Container = core.Container;
export type ContainerStatus = core.ContainerStatus;
export type ContainerState = core.ContainerState;
export type Probe = core.Probe;
export type Volume = core.Volume;
export type EnvVar = core.EnvVar;
export type PodCondition = core.PodCondition;
export type Service = Stored<core.Service>;
export type ConfigMap = Stored<core.ConfigMap>;
export type Secret = Stored<core.Secret>;
export type Namespace = Stored<core.Namespace>;
export type Node = Stored<core.Node>;
export type NodeStatus = core.NodeStatus;
export type NodeCondition = core.NodeCondition;
export type Event = Stored<core.Event>;
export type Deployment = Stored<apps.Deployment> & { spec: apps.DeploymentSpec };
export type ReplicaSet = Stored<apps.ReplicaSet> & { spec: apps.ReplicaSetSpec };
export type DaemonSet = Stored<apps.DaemonSet> & { spec: apps.DaemonSetSpec };
export type Job = Stored<batch.Job> & { spec: batch.JobSpec };
export type CronJob = Stored<batch.CronJob> & { spec: batch.CronJobSpec };
export type JobStatus = batch.JobStatus;
export type CronJobStatus = batch.CronJobStatus;
