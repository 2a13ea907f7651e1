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

/** kubernetes-types marks every field readonly; our code builds and edits clones, so drop that. */
export type Mutable<T> = T extends (infer U)[] ? Mutable<U>[] : T extends object ? { -readonly [K in keyof T]: Mutable<T[K]> } : T;

export type Meta = Mutable<ObjectMeta> & { name: string; namespace?: string };

/** Any stored object. Kind-specific views below narrow it. */
export interface KObject {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  spec?: unknown;
  status?: unknown;
  [field: string]: unknown;
}

type Stored<T> = Mutable<Omit<T, 'metadata' | 'apiVersion' | 'kind'>> & { apiVersion: string; kind: string; metadata: Meta };

export type Pod = Stored<core.Pod> & { spec: Mutable<core.PodSpec> };
export type PodSpec = Mutable<core.PodSpec>;
export type PodStatus = Mutable<core.PodStatus>;
export type PodTemplateSpec = Mutable<core.PodTemplateSpec>;
export type Container = Mutable<core.Container>;
export type ContainerStatus = Mutable<core.ContainerStatus>;
export type ContainerState = Mutable<core.ContainerState>;
export type Probe = Mutable<core.Probe>;
export type Volume = Mutable<core.Volume>;
export type EnvVar = Mutable<core.EnvVar>;
export type PodCondition = Mutable<core.PodCondition>;
export type Service = Stored<core.Service>;
export type ConfigMap = Stored<core.ConfigMap>;
export type Secret = Stored<core.Secret>;
export type Namespace = Stored<core.Namespace>;
export type Node = Stored<core.Node>;
export type NodeStatus = Mutable<core.NodeStatus>;
export type NodeCondition = Mutable<core.NodeCondition>;
export type Event = Stored<core.Event>;
export type Deployment = Stored<apps.Deployment> & { spec: Mutable<apps.DeploymentSpec> };
export type ReplicaSet = Stored<apps.ReplicaSet> & { spec: Mutable<apps.ReplicaSetSpec> };
export type DaemonSet = Stored<apps.DaemonSet> & { spec: Mutable<apps.DaemonSetSpec> };
export type Job = Stored<batch.Job> & { spec: Mutable<batch.JobSpec> };
export type CronJob = Stored<batch.CronJob> & { spec: Mutable<batch.CronJobSpec> };
export type ReplicaSetStatus = Mutable<apps.ReplicaSetStatus>;
export type JobStatus = Mutable<batch.JobStatus>;
export type CronJobStatus = Mutable<batch.CronJobStatus>;
