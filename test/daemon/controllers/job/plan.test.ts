import t from 'tap';
import { formatIndexes, jobPod, jobSettings, planJob, restartsInPlace } from '../../../../daemon/src/controllers/job/plan.js';
import type { Job, Pod } from '../../../../daemon/src/api/types.js';
import { job } from './env.js';

const stored = (j: Job): Job => ({ ...j, metadata: { ...j.metadata, uid: 'uid-job' } });

t.test('completedIndexes are written as Kubernetes writes them: sorted ranges', async (t) => {
  t.equal(formatIndexes([]), '');
  t.equal(formatIndexes([3, 0, 1, 2]), '0-3');
  t.equal(formatIndexes([0, 2, 3, 5, 7, 8, 9]), '0,2-3,5,7-9');
});

t.test('missing fields get the Kubernetes defaults; parallelism without completions is a work queue', async (t) => {
  const bare = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'b' }, spec: { template: { spec: { containers: [] } } } } as unknown as Job;
  t.match(jobSettings(bare), { parallelism: 1, completions: 1, backoffLimit: 6, indexed: false, suspend: false, restartPolicy: 'Never' });
  const queue = { ...bare, spec: { ...bare.spec, parallelism: 4 } } as Job;
  t.equal(jobSettings(queue).completions, undefined);
});

t.test('an Indexed pod gets JOB_COMPLETION_INDEX in every container, once, from the index annotation', async (t) => {
  const j = stored(job('ix', { indexed: true, completions: 3 }));
  j.spec.template.spec!.initContainers = [{ name: 'init', image: 'busybox:1' }];
  j.spec.template.spec!.containers.push({ name: 'side', image: 'busybox:1', env: [{ name: 'JOB_COMPLETION_INDEX', value: 'mine' }] });
  const p = jobPod(j, 'abcde', 2);
  t.equal(p.metadata.name, 'ix-2-abcde');
  t.equal(p.spec.hostname, 'ix-2');
  t.equal(p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'], '2');
  t.same(p.spec.initContainers?.[0]?.env?.map((e) => e.name), ['JOB_COMPLETION_INDEX']);
  t.same(p.spec.containers[0]?.env?.map((e) => e.name), ['JOB_COMPLETION_INDEX']);
  t.same(p.spec.containers[1]?.env, [{ name: 'JOB_COMPLETION_INDEX', value: 'mine' }], 'a container that sets it keeps its own');
  t.notOk(j.spec.template.spec!.containers[0]?.env, 'the Job template is not changed');
});

t.test('restarts in place are counted for running and pending pods only', async (t) => {
  const pod = (phase: string, restarts: number[]): Pod => ({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: phase }, spec: { containers: [] },
    status: { phase, containerStatuses: restarts.map((r, i) => ({ name: `c${i}`, image: '', imageID: '', ready: false, restartCount: r })) },
  } as Pod);
  t.equal(restartsInPlace([pod('Running', [1, 2]), pod('Pending', [1]), pod('Failed', [5]), pod('Succeeded', [5])]), 4);
});

t.test('the planner never plans more pods than parallelism or remaining completions', async (t) => {
  for (const [completions, parallelism, succeeded] of [[5, 3, 0], [5, 3, 3], [5, 3, 4], [2, 8, 0], [1, 1, 1]] as const) {
    const j = stored(job('p', { completions, parallelism }));
    const done: Pod[] = Array.from({ length: succeeded }, (_, i) => ({ ...jobPod(j, `s${i}xxx`), status: { phase: 'Succeeded' } } as Pod));
    let n = 0;
    const plan = planJob({ job: j, pods: done, now: 0, backoffBaseMs: 10_000, backoffMaxMs: 360_000, suffix: () => `n${n++}xxx`, finishedAt: () => 0 });
    t.equal(plan.create.length, Math.min(parallelism, Math.max(0, completions - succeeded)), `completions ${completions}, parallelism ${parallelism}, succeeded ${succeeded}`);
  }
});

t.test('lowering the parallelism of an Indexed Job stops the pods of the highest indexes', async (t) => {
  const j = stored(job('ix', { indexed: true, completions: 4, parallelism: 1 }));
  const pods = [0, 1, 2].map((i) => ({ ...jobPod(j, `p${i}xxx`, i), status: { phase: 'Running' } } as Pod));
  const plan = planJob({ job: j, pods, now: 0, backoffBaseMs: 10_000, backoffMaxMs: 360_000, suffix: () => 'zzzzz', finishedAt: () => 0 });
  t.same(plan.delete.map((p) => p.metadata.name).sort(), ['ix-1-p1xxx', 'ix-2-p2xxx']);
  t.equal(plan.create.length, 0);
});

t.test('the planner creates no pods while 110 of the Job\'s pods wait for a node, and says why once the scheduler has', async (t) => {
  const j = stored(job('wide', { completions: 1000, parallelism: 1000 }));
  const unschedulable = { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Too many pods.' }] };
  const bound = Array.from({ length: 110 }, (_, i) => ({ ...jobPod(j, `b${i}xxx`), spec: { ...jobPod(j, 'x').spec, nodeName: 'n1' }, status: { phase: 'Running' } } as Pod));
  const waiting = (n: number, status: object = { phase: 'Pending' }): Pod[] => Array.from({ length: n }, (_, i) => ({ ...jobPod(j, `w${i}xxx`), status } as Pod));
  let k = 0;
  const plan = (pods: Pod[]) => planJob({ job: j, pods, now: 0, backoffBaseMs: 10_000, backoffMaxMs: 360_000, suffix: () => `n${k++}xxx`, finishedAt: () => 0 });

  const full = plan([...bound, ...waiting(110, unschedulable)]);
  t.equal(full.create.length, 0, 'nothing more while 110 wait');
  t.equal(full.unscheduledLimit, '110 pods of this Job are waiting for a node (0/1 nodes are available: 1 Too many pods); 780 more are not created: at most 110 of its pods may wait for a node at a time (the pods-per-node ceiling)');
  t.equal(full.status.active, 220);

  const some = plan([...bound, ...waiting(100, unschedulable)]);
  t.equal(some.create.length, 10, 'up to the bound');
  t.ok(some.unscheduledLimit);

  const fresh = plan([...bound, ...waiting(110)]);
  t.equal(fresh.create.length, 0, 'pods the scheduler has not tried yet count too');
  t.equal(fresh.unscheduledLimit, undefined, 'but are no failure to report');

  const roomy = plan([...bound, ...waiting(10, unschedulable)]);
  t.equal(roomy.create.length, 50, 'the burst cap (50 per plan) applies below the bound');
  t.equal(roomy.unscheduledLimit, undefined);
});
