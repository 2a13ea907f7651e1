/**
 * Jobs end to end on one real daemon and the real Docker engine.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { startTestDaemon, apiClient, waitFor, docker, type PodLike } from '../../harness/daemon.js';
import { ensureTestImages, TEST_IMAGE_1 } from '../../harness/images.js';

t.before(async () => {
  await ensureTestImages();
});

interface JobLike {
  metadata: { name: string; uid: string };
  status?: { active?: number; succeeded?: number; failed?: number; completedIndexes?: string; conditions?: Array<{ type: string; status: string; reason?: string }> };
}

const job = (name: string, spec: string, command: string, restartPolicy = 'Never'): string => `
apiVersion: batch/v1
kind: Job
metadata: { name: ${name} }
spec:
${spec}
  template:
    spec:
      restartPolicy: ${restartPolicy}
      terminationGracePeriodSeconds: 1
      containers:
        - name: work
          image: ${TEST_IMAGE_1}
          imagePullPolicy: Never
          command: ["sh", "-c", ${JSON.stringify(command)}]
`;

function condition(j: JobLike, type: string): { status: string; reason?: string } | undefined {
  return j.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

t.test('a one-shot Job runs once, ends Complete with 1 succeeded and keeps its logs', async (t) => {
  const d = await startTestDaemon(t);
  const api = await apiClient(t, d);
  t.equal((await d.cli(['apply', '-f', '-'], { input: job('once', '  backoffLimit: 0', 'echo hello from the job') })).code, 0);
  const w = await d.cli(['wait', '--for=condition=complete', 'job/once', '--timeout=60s']);
  t.equal(w.code, 0, w.stderr);
  const j = await api.request<JobLike>('get', { kind: 'jobs', name: 'once' });
  t.equal(j.status?.succeeded, 1);
  t.ok(condition(j, 'Complete'));
  const pods = (await api.request<{ items: PodLike[] }>('get', { kind: 'pods', labelSelector: 'job-name=once' })).items;
  t.equal(pods.length, 1, 'one pod');
  t.equal(pods[0]!.status?.phase, 'Succeeded');
  const containers = (await docker(['ps', '-aq', '--filter', `label=pifleet.cluster=${d.cluster}`, '--filter', `label=pifleet.pod.uid=${pods[0]!.metadata.uid}`])).stdout.trim().split('\n').filter(Boolean);
  t.equal(containers.length, 1, 'one container ran');
  const logs = await d.cli(['logs', 'job/once']);
  t.equal(logs.code, 0, logs.stderr);
  t.match(logs.stdout, /hello from the job/);
  const get = await d.cli(['get', 'jobs']);
  t.match(get.stdout, /once\s+Complete\s+1\/1\s+\d+s\s+\d+s/);
  // deleting the Job removes its pods and their containers
  t.equal((await d.cli(['delete', 'job', 'once'])).code, 0);
  await waitFor('containers removed', async () => (await docker(['ps', '-aq', '--filter', `label=pifleet.pod.uid=${pods[0]!.metadata.uid}`])).stdout.trim() === '', { timeoutMs: 60_000 });
});

t.test('completions 10 with parallelism 3 never runs more than 3 containers at once and 10 succeed', async (t) => {
  const d = await startTestDaemon(t);
  const api = await apiClient(t, d);
  const events = spawn('docker', ['events', '--format', '{{json .}}', '--filter', 'type=container', '--filter', `label=pifleet.cluster=${d.cluster}`,
    '--filter', 'event=start', '--filter', 'event=die'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { events.kill('SIGKILL'); });
  let running = 0;
  let maxRunning = 0;
  let starts = 0;
  let buf = '';
  events.stdout.on('data', (b: Buffer) => {
    buf += b.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const ev = JSON.parse(line) as { status?: string; Action?: string; Actor?: { Attributes?: Record<string, string> } };
      const attrs = ev.Actor?.Attributes ?? {};
      if (attrs['pifleet.container'] === 'POD' || attrs['pifleet.pod.name']?.startsWith('par-') !== true) continue;
      const action = ev.Action ?? ev.status;
      if (action === 'start') { running++; starts++; maxRunning = Math.max(maxRunning, running); }
      if (action === 'die') running--;
    }
  });
  await new Promise((r) => setTimeout(r, 500)); // the event stream is attached
  t.equal((await d.cli(['apply', '-f', '-'], { input: job('par', '  completions: 10\n  parallelism: 3', 'sleep 1') })).code, 0);
  const w = await d.cli(['wait', '--for=condition=complete', 'job/par', '--timeout=180s'], { timeoutMs: 200_000 });
  t.equal(w.code, 0, w.stderr);
  const j = await api.request<JobLike>('get', { kind: 'jobs', name: 'par' });
  t.equal(j.status?.succeeded, 10);
  t.equal(starts, 10, 'Docker started exactly 10 job containers');
  t.ok(maxRunning <= 3, `at most 3 ran at once (max ${maxRunning})`);
  t.ok(maxRunning >= 2, `and they did run in parallel (max ${maxRunning})`);
});

t.test('a failing Job with backoffLimit 2 ends BackoffLimitExceeded after 3 pods with growing delays; OnFailure restarts in place', async (t) => {
  const d = await startTestDaemon(t, { env: { PIFLEET_JOBS_BACKOFF_BASE_SECONDS: '3' } });
  const api = await apiClient(t, d);
  t.equal((await d.cli(['apply', '-f', '-'], { input: job('fail', '  backoffLimit: 2', 'exit 1') + '---\n' + job('inplace', '  backoffLimit: 2', 'exit 1', 'OnFailure') })).code, 0);
  const failed = await waitFor('fail Failed', async () => {
    const j = await api.request<JobLike>('get', { kind: 'jobs', name: 'fail' });
    return condition(j, 'Failed') ? j : undefined;
  }, { timeoutMs: 120_000 });
  t.equal(condition(failed, 'Failed')?.reason, 'BackoffLimitExceeded');
  const pods = (await api.request<{ items: PodLike[] }>('get', { kind: 'pods', labelSelector: 'job-name=fail' })).items;
  t.equal(pods.length, 3, 'exactly 3 pods');
  const starts = pods.map((p) => Date.parse(p.status?.containerStatuses?.[0]?.state?.terminated?.finishedAt ?? '')).sort((a, b) => a - b);
  const created = pods.map((p) => Date.parse((p.metadata as { creationTimestamp?: string }).creationTimestamp ?? '')).sort((a, b) => a - b);
  const gap1 = created[1]! - starts[0]!;
  const gap2 = created[2]! - starts[1]!;
  t.ok(gap2 > gap1, `delays grow (${gap1} ms, then ${gap2} ms)`);

  const restarted = await waitFor('inplace restarts in its pod', async () => {
    const ps = (await api.request<{ items: PodLike[] }>('get', { kind: 'pods', labelSelector: 'job-name=inplace' })).items;
    return ps.length === 1 && (ps[0]!.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 ? ps : undefined;
  }, { timeoutMs: 120_000 });
  t.equal(restarted.length, 1, 'OnFailure restarts the container in the same pod');
  const inplace = await waitFor('inplace Failed', async () => {
    const j = await api.request<JobLike>('get', { kind: 'jobs', name: 'inplace' });
    return condition(j, 'Failed') ? j : undefined;
  }, { timeoutMs: 180_000 });
  t.equal(condition(inplace, 'Failed')?.reason, 'BackoffLimitExceeded');
});

t.test('activeDeadlineSeconds ends a sleeping Job DeadlineExceeded and stops its container', async (t) => {
  const d = await startTestDaemon(t);
  const api = await apiClient(t, d);
  t.equal((await d.cli(['apply', '-f', '-'], { input: job('slow', '  activeDeadlineSeconds: 5\n  backoffLimit: 0', 'sleep 600') })).code, 0);
  const pod = await waitFor('slow running', async () => {
    const ps = (await api.request<{ items: PodLike[] }>('get', { kind: 'pods', labelSelector: 'job-name=slow' })).items;
    return ps[0]?.status?.containerStatuses?.[0]?.state?.running ? ps[0] : undefined;
  }, { timeoutMs: 60_000 });
  const j = await waitFor('DeadlineExceeded', async () => {
    const x = await api.request<JobLike>('get', { kind: 'jobs', name: 'slow' });
    return condition(x, 'Failed') ? x : undefined;
  }, { timeoutMs: 60_000 });
  t.equal(condition(j, 'Failed')?.reason, 'DeadlineExceeded');
  await waitFor('no container of the Job runs', async () => (await docker(['ps', '-q', '--filter', `label=pifleet.pod.uid=${pod.metadata.uid}`])).stdout.trim() === '', { timeoutMs: 30_000 });
});

t.test('an Indexed Job of 4 completions runs each index 0..3 exactly once', async (t) => {
  const d = await startTestDaemon(t);
  const api = await apiClient(t, d);
  t.equal((await d.cli(['apply', '-f', '-'], { input: job('idx', '  completions: 4\n  parallelism: 2\n  completionMode: Indexed', 'echo index=$JOB_COMPLETION_INDEX') })).code, 0);
  const w = await d.cli(['wait', '--for=condition=complete', 'job/idx', '--timeout=120s'], { timeoutMs: 130_000 });
  t.equal(w.code, 0, w.stderr);
  const j = await api.request<JobLike>('get', { kind: 'jobs', name: 'idx' });
  t.equal(j.status?.completedIndexes, '0-3');
  const pods = (await api.request<{ items: PodLike[] }>('get', { kind: 'pods', labelSelector: 'job-name=idx' })).items;
  const seen: string[] = [];
  for (const p of pods) {
    const logs = await d.cli(['logs', p.metadata.name]);
    seen.push(...[...logs.stdout.matchAll(/index=(\d+)/g)].map((m) => m[1]!));
    t.equal(p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'], logs.stdout.match(/index=(\d+)/)?.[1]);
  }
  t.same(seen.sort(), ['0', '1', '2', '3']);
});
