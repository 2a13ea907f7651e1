import t from 'tap';
import { rolloutHistory, rolloutStatus } from '../../../../daemon/src/cli/print/rollout.js';
import type { KObject } from '../../../../daemon/src/api/types.js';

const deploy = (status: Record<string, unknown>, replicas = 3, generation = 2): KObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default', generation },
  spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { spec: { containers: [] } } },
  status: { observedGeneration: 2, ...status },
});

t.test('deployment rollout status walks through kubectl\'s messages until done', async (t) => {
  t.same(rolloutStatus(deploy({}, 3, 3)), { done: false, message: 'Waiting for deployment spec update to be observed...' });
  t.same(rolloutStatus(deploy({ replicas: 4, updatedReplicas: 1, availableReplicas: 3 })), { done: false, message: 'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...' });
  t.same(rolloutStatus(deploy({ replicas: 4, updatedReplicas: 3, availableReplicas: 3 })), { done: false, message: 'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...' });
  t.same(rolloutStatus(deploy({ replicas: 3, updatedReplicas: 3, availableReplicas: 1 })), { done: false, message: 'Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are available...' });
  t.same(rolloutStatus(deploy({ replicas: 3, updatedReplicas: 3, availableReplicas: 3 })), { done: true, message: 'deployment "web" successfully rolled out' });
});

t.test('a deployment past its progress deadline is an error, not a wait', async (t) => {
  const st = rolloutStatus(deploy({ replicas: 3, updatedReplicas: 1, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] }));
  t.equal(st.done, false);
  t.equal(st.error, 'deployment "web" exceeded its progress deadline');
});

t.test('daemon set rollout status counts updated and available pods', async (t) => {
  const ds = (status: Record<string, unknown>, strategy = 'RollingUpdate'): KObject => ({
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent', generation: 1 },
    spec: { updateStrategy: { type: strategy }, selector: {}, template: {} }, status: { observedGeneration: 1, ...status },
  });
  t.equal(rolloutStatus(ds({ desiredNumberScheduled: 4, updatedNumberScheduled: 2, numberAvailable: 4 })).message, 'Waiting for daemon set "agent" rollout to finish: 2 out of 4 new pods have been updated...');
  t.equal(rolloutStatus(ds({ desiredNumberScheduled: 4, updatedNumberScheduled: 4, numberAvailable: 3 })).message, 'Waiting for daemon set "agent" rollout to finish: 3 of 4 updated pods are available...');
  t.same(rolloutStatus(ds({ desiredNumberScheduled: 4, updatedNumberScheduled: 4, numberAvailable: 4 })), { done: true, message: 'daemon set "agent" successfully rolled out' });
  t.equal(rolloutStatus(ds({}, 'OnDelete')).error, 'rollout status is only available for RollingUpdate strategy type');
});

t.test('kinds without rollouts say so', async (t) => {
  t.equal(rolloutStatus({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' } }).error, 'no status viewer has been implemented for Job.batch');
  t.equal(rolloutStatus({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } }).error, 'no status viewer has been implemented for Pod');
});

t.test('rollout history is a REVISION / CHANGE-CAUSE table under the object name', async (t) => {
  t.equal(rolloutHistory('Deployment', 'web', [{ revision: 3, changeCause: 'kubectl set image deployment/web web=nginx:1.26' }, { revision: 1, changeCause: null }, { revision: 2, changeCause: '' }]), [
    'deployment.apps/web ',
    'REVISION  CHANGE-CAUSE',
    '1         <none>',
    '2         <none>',
    '3         kubectl set image deployment/web web=nginx:1.26',
    '',
    '',
  ].join('\n'));
  t.equal(rolloutHistory('DaemonSet', 'agent', []), 'daemonset.apps/agent \nNo rollout history found.\n');
});

t.test('rollout history of one revision prints its pod template, and refuses an unknown revision', async (t) => {
  const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.26' }] } };
  const text = rolloutHistory('Deployment', 'web', [{ revision: 1, changeCause: null, template }], 1);
  t.match(text, /^deployment\.apps\/web with revision #1\nPod Template:\n {2}Labels:\s+app=web\n {2}Containers:\n {3}web:\n {4}Image:\s+nginx:1\.26\n/);
  t.throws(() => rolloutHistory('Deployment', 'web', [{ revision: 1, changeCause: null, template }], 7), /unable to find the specified revision/);
});
