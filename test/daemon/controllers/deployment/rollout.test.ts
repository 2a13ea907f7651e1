import t from 'tap';
import { newRSReplicas, resolveIntOrPercent, scaleDownOld, surgeAndUnavailable } from '../../../../daemon/src/controllers/deployment/rollout.js';
import type { ReplicaSet } from '../../../../daemon/src/api/types.js';
import { deployment } from '../fixtures.js';

let seq = 0;
function rs(name: string, spec: number, available: number, created = seq++): ReplicaSet {
  return {
    apiVersion: 'apps/v1', kind: 'ReplicaSet',
    metadata: { name, namespace: 'default', creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, created)).toISOString() },
    spec: { replicas: spec, selector: { matchLabels: { app: name } } },
    status: { replicas: Math.max(spec, available), availableReplicas: available },
  };
}

t.test('int-or-percent: surge rounds up, unavailable rounds down, plain numbers and numeric strings pass through', async (t) => {
  t.equal(resolveIntOrPercent('25%', 10, true), 3);
  t.equal(resolveIntOrPercent('25%', 10, false), 2);
  t.equal(resolveIntOrPercent(2, 10, false), 2);
  t.equal(resolveIntOrPercent('3', 10, false), 3);
  t.equal(resolveIntOrPercent(undefined, 10, false), 0);
  t.throws(() => resolveIntOrPercent('lots', 10, true), /integer or a percentage/);
});

t.test('maxSurge and maxUnavailable both 0 would deadlock, so unavailable becomes 1', async (t) => {
  t.same(surgeAndUnavailable(deployment('d', 4, { maxSurge: 0, maxUnavailable: 0 })), [0, 1]);
  t.same(surgeAndUnavailable(deployment('d', 4)), [1, 1], '25%/25% of 4');
  t.same(surgeAndUnavailable(deployment('d', 1)), [1, 0], '25% of 1: surge rounds up, unavailable down');
  t.same(surgeAndUnavailable(deployment('d', 0)), [0, 0], 'nothing to be unavailable with 0 replicas');
});

t.test('the new ReplicaSet grows only up to replicas + maxSurge in total', async (t) => {
  const d = deployment('d', 4, { maxSurge: 1, maxUnavailable: 1 });
  const old = rs('old', 4, 4);
  const fresh = rs('new', 0, 0);
  t.equal(newRSReplicas(d, [old, fresh], fresh), 1);
  const grown = rs('new', 1, 0);
  t.equal(newRSReplicas(d, [rs('old', 3, 3), grown], grown), 2);
  t.equal(newRSReplicas(d, [rs('old', 4, 4), grown], grown), 1, 'total at 5: no growth');
});

t.test('old ReplicaSets lose unhealthy pods first, then available ones only down to replicas - maxUnavailable', async (t) => {
  const d = deployment('d', 4, { maxSurge: 1, maxUnavailable: 1 });
  const old = rs('old', 4, 2); // two of its pods are not available
  const n = rs('new', 1, 0);
  const sizes = scaleDownOld(d, [old, n], n, [old]);
  // allCount 5 - minAvailable 3 - newUnavailable 1 = 1 may go, and it is an unhealthy one
  t.same([...sizes], [['old', 3]]);
  const healthy = rs('old', 4, 4);
  t.same([...scaleDownOld(d, [healthy, n], n, [healthy])], [['old', 3]], 'available 4 - min 3 = 1');
  const ready = rs('new', 1, 1);
  t.same([...scaleDownOld(d, [rs('old', 4, 4), ready], ready, [rs('old', 4, 4)])], [['old', 2]], 'a new available pod frees two');
});

t.test('stale ReplicaSet status (spec already lowered, pods not yet deleted) does not let the old set shrink below the minimum', async (t) => {
  const d = deployment('d', 4, { maxSurge: 1, maxUnavailable: 1 });
  // old was just scaled 4 -> 3 but its status still says 4 available; the new set has 1 of 2 available
  const old = rs('old', 3, 4);
  const n = rs('new', 2, 1);
  const sizes = scaleDownOld(d, [old, n], n, [old]);
  const oldAfter = sizes.get('old') ?? 3;
  // what will really be available: the old set keeps at most its spec, the new one has 1
  t.ok(Math.min(oldAfter, 3) + 1 >= 3, `old may go to ${oldAfter}: ${Math.min(oldAfter, 3) + 1} available must stay >= 3`);
  t.equal(oldAfter, 2);
});

t.test('several old ReplicaSets are scaled down oldest first', async (t) => {
  const d = deployment('d', 4, { maxSurge: 0, maxUnavailable: 2 });
  const older = rs('older', 2, 2, 1);
  const old = rs('old', 2, 2, 2);
  const n = rs('new', 0, 0, 3);
  t.same([...scaleDownOld(d, [older, old, n], n, [old, older])], [['older', 0]]);
});
