import t from 'tap';
import {
  decideUnowned, identityOf, orphanMessage, orphanReason, orphanStatus, provenanceLabels, provenanceOf, provenanceOfLabels, type UnownedInput,
} from '../../../daemon/src/agent/orphans.js';
import type { Observed } from '../../../daemon/src/agent/plan.js';
import type { Pod } from '../../../daemon/src/api/types.js';
import { LABELS, type ContainerDetails } from '../../../daemon/src/runtime/types.js';

const NOW = Date.UTC(2026, 0, 1, 12);
const UID = 'abcdef12-0000-4000-8000-000000000001';

function labels(over: Record<string, string> = {}): Record<string, string> {
  return { [LABELS.podUid]: UID, [LABELS.podNamespace]: 'shop', [LABELS.podName]: 'web', ...over };
}

let idSeq = 0;
function obs(container: string, l: Record<string, string>, d: Partial<ContainerDetails> = {}): Observed {
  const id = `id${++idSeq}`;
  return {
    id, container, attempt: 0, hash: 'h',
    details: { id, name: `pf_${container}`, image: 'img:1', imageId: 'sha256:1', labels: l, state: 'running', running: true, createdAt: NOW - 60_000, startedAt: NOW - 59_000, oomKilled: false, ...d },
  };
}

const decide = (over: Partial<UnownedInput>) => decideUnowned({
  made: {}, desired: { lineage: 'L2', revision: 100 }, reapplied: false, pruneRequested: false, ...over,
});

t.test('a container of a pod the desired state deleted is removed: no labels, the same lineage, or a revision not above the store', async (t) => {
  t.same(decide({ made: {} }), { remove: true, why: 'deleted' }, 'made before the labels existed');
  t.same(decide({ made: { lineage: 'L2', revision: 100 } }), { remove: true, why: 'deleted' });
  t.same(decide({ made: { revision: 40 } }), { remove: true, why: 'deleted' });
  t.same(decide({ made: { lineage: 'L1', revision: 40 }, desired: { revision: 100 } }), { remove: true, why: 'deleted' }, 'a desired state without lineage does not compare lineages');
});

t.test('a container of another lineage or newer than the store is an orphan and kept', async (t) => {
  t.same(decide({ made: { lineage: 'L1', revision: 40 } }), { remove: false, reason: 'OtherLineage' });
  t.same(decide({ made: { lineage: 'L2', revision: 101 } }), { remove: false, reason: 'NewerThanStore' });
  t.same(decide({ made: { revision: 101 } }), { remove: false, reason: 'NewerThanStore' }, 'no lineage label: the revision still decides');
  t.same(decide({ made: { lineage: 'L1', revision: 500 } }), { remove: false, reason: 'OtherLineage' }, 'another lineage is named first');
  t.equal(orphanReason({ revision: 1 }, { revision: Number.NaN }), 'NewerThanStore', 'a desired revision that is no number proves nothing');
});

t.test('an orphan is removed on prune, when its namespace/name is desired again, or when a prune request names it', async (t) => {
  const made = { lineage: 'L1', revision: 40 };
  t.same(decide({ made, desired: { lineage: 'L2', revision: 100, prune: true } }), { remove: true, why: 'prune', reason: 'OtherLineage' });
  t.same(decide({ made, reapplied: true }), { remove: true, why: 'reapplied', reason: 'OtherLineage' });
  t.same(decide({ made, pruneRequested: true }), { remove: true, why: 'requested', reason: 'OtherLineage' });
  t.same(decide({ made, desired: { lineage: 'L2', revision: 100, prune: false } }), { remove: false, reason: 'OtherLineage' }, 'prune must be exactly true');
});

t.test('containers are stamped with the lineage and the pod resourceVersion, and the stamp reads back', async (t) => {
  const pod = { metadata: { name: 'web', uid: UID, resourceVersion: '42' } } as Pod;
  const l = provenanceLabels('L2', pod);
  t.same(l, { [LABELS.lineage]: 'L2', [LABELS.podRevision]: '42' });
  t.same(provenanceOfLabels(l), { lineage: 'L2', revision: 42 });
  t.same(provenanceLabels(undefined, { metadata: { name: 'web' } } as Pod), {}, 'nothing known: no labels');
  t.same(provenanceLabels('', { metadata: { name: 'web', resourceVersion: 'abc' } } as Pod), {}, 'an empty lineage and a non-decimal revision are left out');
  t.same(provenanceOfLabels({ [LABELS.podRevision]: '1e3' }), {}, 'a label that is no decimal says nothing');
});

t.test('a pod\'s provenance is the newest container\'s lineage and the highest revision', async (t) => {
  const old = obs('c', labels({ [LABELS.lineage]: 'L1', [LABELS.podRevision]: '10' }), { createdAt: NOW - 90_000 });
  const later = obs('c', labels({ [LABELS.lineage]: 'L2', [LABELS.podRevision]: '12' }), { createdAt: NOW - 10_000 });
  const unlabelled = obs('POD', labels(), { createdAt: NOW });
  t.same(provenanceOf([old, later, unlabelled]), { lineage: 'L2', revision: 12 });
  t.same(provenanceOf([unlabelled]), {});
  t.same(identityOf(UID, [old, later]), { namespace: 'shop', name: 'web', uid: UID });
  t.equal(identityOf(UID, [obs('c', {})]), undefined, 'no identity without the pod labels');
});

t.test('an orphan\'s status is computed from what Docker shows, with its identity from the labels', async (t) => {
  const id = { namespace: 'shop', name: 'web', uid: UID };
  const infra = obs('POD', labels(), { ipAddress: '10.0.0.7' });
  const app = obs('app', labels());
  const side = obs('side', labels(), { state: 'exited', running: false, exitCode: 2, finishedAt: NOW - 5000 });
  const st = orphanStatus(id, [infra, app, side], '192.168.1.10', NOW);
  t.equal(st.phase, 'Running');
  t.equal(st.podIP, '10.0.0.7', 'the infra container holds the pod IP');
  t.equal(st.hostIP, '192.168.1.10');
  t.same(st.containerStatuses?.map((c) => [c.name, Object.keys(c.state ?? {})[0], c.image]), [['app', 'running', 'img:1'], ['side', 'terminated', 'img:1']]);
  t.equal(st.containerStatuses?.[1]?.state?.terminated?.exitCode, 2);
  const done = orphanStatus(id, [obs('c', labels(), { state: 'exited', running: false, exitCode: 0, finishedAt: NOW - 1000 })], 'h', NOW);
  t.equal(done.phase, 'Succeeded', 'nothing restarts an orphan: a container that ended is the end');
});

t.test('the Warning message says why the pod is kept and how to remove it', async (t) => {
  const id = { namespace: 'shop', name: 'web', uid: UID };
  const other = orphanMessage(id, { lineage: 'L1', revision: 40 }, 'OtherLineage', { lineage: 'L2', revision: 100 });
  t.match(other, /another history of the desired state \(lineage L1, the leader has L2\)/);
  t.match(other, /pifleet delete pod web -n shop/);
  t.match(other, /pifleet state repair --prune/);
  t.match(orphanMessage(id, { revision: 140 }, 'NewerThanStore', { revision: 100 }), /pod revision 140, newer than the leader's desired state \(revision 100\)/);
});
