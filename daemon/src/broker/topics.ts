/**
 * The MQTT API: every topic pifleet uses and the payload that travels on it, in one place.
 * docs/mqtt-api.md documents the same map for people with mosquitto_pub/mosquitto_sub.
 * Payloads are JSON (UTF-8). MQTT 3.1.1 only (aedes): correlation ids travel in payloads.
 */
import type { KObject, Node, Pod, PodStatus, Event } from '../api/types.js';

export const TOPIC_ROOT = 'pifleet';

/** Announced by the leader (retained). */
export interface LeaderAnnouncement {
  node: string;
  term: number;
  /** host:port of the leader's MQTT broker as other nodes reach it. */
  address: string;
  mqttPort: number;
  since: string;
  version: string;
}

/** A node's own report of itself (retained; the last will replaces it with online:false). */
export interface NodeStatusMessage {
  node: string;
  online: boolean;
  /** When this report was made (ms since epoch); the leader judges liveness by it. */
  heartbeat: number;
  /** The Node object as the node sees itself (labels, status with conditions, capacity, ...). */
  object?: Node;
}

/** The statuses of all pods the node runs (retained). */
export interface NodePodsMessage {
  node: string;
  /** Strictly increasing per agent incarnation; lets the leader drop reordered reports. */
  seq: number;
  pods: Array<{ namespace: string; name: string; uid: string; status: PodStatus; gone?: boolean }>;
  /**
   * Containers of pods the desired state does not know but that may not be removed on a guess:
   * they were made from a newer or another lineage of the desired state than the one the leader
   * holds now (a repaired or shortened store). They keep running until pruned or deleted.
   */
  orphans?: OrphanPod[];
}

export interface OrphanPod {
  namespace: string;
  name: string;
  uid: string;
  /** The store lineage and pod resourceVersion the containers were made from (their labels). */
  lineage?: string;
  revision?: number;
  reason: 'NewerThanStore' | 'OtherLineage';
  status: PodStatus;
}

/** What the leader wants a node to run (retained; leader -> node). */
export interface NodeDesiredMessage {
  term: number;
  revision: number;
  /**
   * The identity of the desired-state history (changes when a store is repaired or found to be
   * older than the containers). Containers carry the lineage and revision they were made from.
   */
  lineage?: string;
  /** Remove orphaned containers of other lineages too (`pifleet state repair --prune`). */
  prune?: boolean;
  pods: Pod[];
  /** ConfigMaps and Secrets the pods refer to, by namespace/name. */
  configMaps: KObject[];
  secrets: KObject[];
}

/** Request payload: `id` correlates the response(s). */
export interface ApiRequest {
  id: string;
  [param: string]: unknown;
}

export interface ApiErrorBody {
  /** Kubernetes-style reason: NotFound, AlreadyExists, Conflict, Invalid, BadRequest, Timeout, InternalError. */
  reason: string;
  message: string;
  /** For Invalid: one line per problem, `FILE:LINE:COL field: reason` when positions are known. */
  details?: string[];
}

/** Response payload; streams (watch, logs -f) send several with more:true, then one without. */
export interface ApiResponse<T = unknown> {
  id: string;
  status: 'ok' | 'error';
  data?: T;
  error?: ApiErrorBody;
  more?: boolean;
  seq?: number;
}

/** A request the leader forwards to the node that runs a pod (logs, exec). */
export interface NodeRpcRequest {
  id: string;
  /** prune: remove the orphaned containers of one pod uid (params.uid). */
  op: 'logs' | 'exec' | 'cancel' | 'prune';
  /** Topic the node publishes ApiResponse messages to (the caller's response topic). */
  replyTo: string;
  params: Record<string, unknown>;
}

export type EventMessage = Event;

/** The topic map of one cluster. */
export interface Topics {
  leader: string;
  nodeStatus(node: string): string;
  nodeStatusAll: string;
  nodePods(node: string): string;
  nodePodsAll: string;
  nodeDesired(node: string): string;
  nodeRpc(node: string): string;
  events: string;
  request(client: string, op: string): string;
  requestAll: string;
  response(client: string, op: string): string;
  responseAll(client: string): string;
  /** Parses an API request topic into client and op. */
  parseRequest(topic: string): { client: string; op: string } | undefined;
  /** Parses a node topic (status, pods) into its node name. */
  parseNode(topic: string): string | undefined;
}

const SEGMENT = /^[A-Za-z0-9._-]{1,128}$/;

export function isTopicSegment(s: string): boolean {
  return SEGMENT.test(s);
}

export function topicsFor(cluster: string): Topics {
  const base = `${TOPIC_ROOT}/${cluster}`;
  return {
    leader: `${base}/leader`,
    nodeStatus: (node) => `${base}/nodes/${node}/status`,
    nodeStatusAll: `${base}/nodes/+/status`,
    nodePods: (node) => `${base}/nodes/${node}/pods`,
    nodePodsAll: `${base}/nodes/+/pods`,
    nodeDesired: (node) => `${base}/nodes/${node}/desired`,
    nodeRpc: (node) => `${base}/nodes/${node}/rpc`,
    events: `${base}/events`,
    request: (client, op) => `${base}/api/${client}/request/${op}`,
    requestAll: `${base}/api/+/request/+`,
    response: (client, op) => `${base}/api/${client}/response/${op}`,
    responseAll: (client) => `${base}/api/${client}/response/+`,
    parseRequest(topic) {
      const parts = topic.split('/');
      if (parts.length !== 6 || `${parts[0]}/${parts[1]}` !== base || parts[2] !== 'api' || parts[4] !== 'request') return undefined;
      return { client: parts[3] as string, op: parts[5] as string };
    },
    parseNode(topic) {
      const parts = topic.split('/');
      if (parts.length !== 5 || `${parts[0]}/${parts[1]}` !== base || parts[2] !== 'nodes') return undefined;
      return parts[3];
    },
  };
}
