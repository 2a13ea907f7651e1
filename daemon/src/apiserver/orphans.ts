/**
 * Orphans in the API: pods that run on a node but that the desired state does not know (made
 * from a lost or another lineage of the history, see agent/orphans.ts). `get pods` shows them
 * with the reason; deleting one asks its node to remove its containers. Nothing else touches
 * them: they are never removed on a guess.
 */
import type { OrphanPod } from '../broker/topics.js';
import type { Pod } from '../api/types.js';

export interface OrphanSource {
  list(): Array<{ node: string; orphan: OrphanPod }>;
  /** Ask the node to remove the orphan's containers. */
  prune(node: string, uid: string): Promise<void>;
}

export const ORPHANED_ANNOTATION = 'pifleet.io/orphaned';

/** An orphan as a Pod object, for get/describe: its status from the node, the reason in status.reason. */
export function orphanAsPod(node: string, o: OrphanPod): Pod {
  const why = o.reason === 'NewerThanStore'
    ? `its containers were made from revision ${o.revision ?? '?'} of the desired state, newer than what the store holds (writes were lost)`
    : `its containers belong to another lineage of the desired state (${o.lineage ?? 'unknown'}): the store was repaired or replaced`;
  const names = (o.status?.containerStatuses ?? []).map((c) => c.name);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: o.name, namespace: o.namespace, uid: o.uid,
      annotations: { [ORPHANED_ANNOTATION]: o.reason, ...(o.lineage ? { 'pifleet.io/lineage': o.lineage } : {}), ...(o.revision !== undefined ? { 'pifleet.io/revision': String(o.revision) } : {}) },
    },
    spec: { nodeName: node, containers: (names.length ? names : ['unknown']).map((name) => ({ name, image: o.status?.containerStatuses?.find((c) => c.name === name)?.image ?? '' })) },
    status: {
      ...(o.status ?? {}),
      reason: 'Orphaned',
      message: `Pod ${o.namespace}/${o.name} runs on ${node} but is not in the desired state: ${why}. It keeps running; \`pifleet delete pod ${o.name} -n ${o.namespace}\` removes it, \`pifleet state repair --prune\` removes all of them.`,
    },
  } as Pod;
}
