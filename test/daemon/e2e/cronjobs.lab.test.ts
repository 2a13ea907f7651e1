/**
 * A real `*／1 * * * *` CronJob against the real daemon and Docker, including a kill -9 across a slot.
 */
import t from 'tap';
import { startTestDaemon, apiClient, waitFor } from '../../harness/daemon.js';
import { ensureTestImages, TEST_IMAGE_1 } from '../../harness/images.js';

t.before(async () => {
  await ensureTestImages();
});

const cron = (name: string, deadline: number): string => `
apiVersion: batch/v1
kind: CronJob
metadata: { name: ${name} }
spec:
  schedule: "*/1 * * * *"
  startingDeadlineSeconds: ${deadline}
  successfulJobsHistoryLimit: 10
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: tick
              image: ${TEST_IMAGE_1}
              imagePullPolicy: Never
              command: ["echo", "tick"]
`;

interface JobLike { metadata: { name: string; annotations?: Record<string, string>; ownerReferences?: Array<{ name: string }> } }

const sleepUntil = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms - Date.now())));

t.test('a */1 CronJob fires once per slot, and a kill -9 across a slot gives one Job within the deadline and none past it', async (t) => {
  const d = await startTestDaemon(t);
  let api = await apiClient(t, d);
  t.equal((await d.cli(['apply', '-f', '-'], { input: cron('tick', 45) + '---\n' + cron('strict', 10) })).code, 0);
  const jobs = async (cj: string): Promise<string[]> => (await api.request<{ items: JobLike[] }>('get', { kind: 'jobs' })).items
    .filter((j) => j.metadata.ownerReferences?.some((o) => o.name === cj)).map((j) => j.metadata.name).sort();
  const slot = (ms: number): number => Math.floor(ms / 60_000);

  // first slot: the daemon is down from 4 s before to 15 s after it (a slot at least 8 s away)
  let s1 = slot(Date.now()) + 1;
  if (s1 * 60_000 - Date.now() < 8000) s1++;
  await sleepUntil(s1 * 60_000 - 4000);
  await api.close();
  await d.kill9();
  await sleepUntil(s1 * 60_000 + 15_000);
  await d.start();
  api = await apiClient(t, d);
  await waitFor('the missed slot caught up within 45 s', async () => (await jobs('tick')).includes(`tick-${s1}`), { timeoutMs: 25_000 });

  // next slot: both fire normally
  const s2 = s1 + 1;
  await sleepUntil(s2 * 60_000);
  await waitFor('slot 2 jobs', async () => (await jobs('tick')).includes(`tick-${s2}`) && (await jobs('strict')).includes(`strict-${s2}`), { timeoutMs: 30_000 });

  const tick = await jobs('tick');
  const strict = await jobs('strict');
  t.same(tick, [`tick-${s1}`, `tick-${s2}`], 'one Job per slot, named after its scheduled minute');
  t.same(strict, [`strict-${s2}`], 'no Job for the slot whose 10 s deadline had passed');
  const cj = await d.json<{ status?: { lastScheduleTime?: string } }>(['get', 'cronjob', 'tick']);
  t.equal(cj.status?.lastScheduleTime, new Date(s2 * 60_000).toISOString().replace('.000Z', 'Z'));
  const get = await d.cli(['get', 'cronjobs']);
  t.match(get.stdout, /tick\s+\*\/1 \* \* \* \*\s+\S+\s+False\s+\d+\s+\S+\s+\S+/);
});
