/** The pages of Jobs and CronJobs. */
import type { CronJob, Job } from '../../../api/types.js';
import { humanDuration, parseTime, rfc1123z } from '../duration.js';
import { printBool, selectorString } from '../format.js';
import { annotationsMultiline, controllerOf, labelsMultiline, Page, writeEvents, type DescribeContext } from './common.js';
import { podTemplate } from './pods.js';

export function describeJob(job: Job, c: DescribeContext): string {
  const p = new Page();
  const spec = job.spec;
  const st = job.status ?? {};
  p.w(0, `Name:\t${job.metadata.name}\n`);
  p.w(0, `Namespace:\t${job.metadata.namespace ?? ''}\n`);
  p.w(0, `Selector:\t${selectorString(spec.selector)}\n`);
  labelsMultiline(p, 'Labels', job.metadata.labels);
  annotationsMultiline(p, 'Annotations', job.metadata.annotations);
  const ctl = controllerOf(job);
  if (ctl) p.w(0, `Controlled By:\t${ctl}\n`);
  if (spec.parallelism !== undefined && spec.parallelism !== null) p.w(0, `Parallelism:\t${spec.parallelism}\n`);
  p.w(0, `Completions:\t${spec.completions ?? '<unset>'}\n`);
  if (spec.completionMode) p.w(0, `Completion Mode:\t${spec.completionMode}\n`);
  if (spec.suspend !== undefined && spec.suspend !== null) p.w(0, `Suspend:\t${spec.suspend}\n`);
  if (spec.backoffLimit !== undefined && spec.backoffLimit !== null) p.w(0, `Backoff Limit:\t${spec.backoffLimit}\n`);
  if (spec.ttlSecondsAfterFinished !== undefined && spec.ttlSecondsAfterFinished !== null) p.w(0, `TTL Seconds After Finished:\t${spec.ttlSecondsAfterFinished}\n`);
  if (st.startTime) p.w(0, `Start Time:\t${rfc1123z(st.startTime as string)}\n`);
  if (st.completionTime) p.w(0, `Completed At:\t${rfc1123z(st.completionTime as string)}\n`);
  const start = parseTime(st.startTime as string | undefined);
  const end = parseTime(st.completionTime as string | undefined);
  if (start !== undefined && end !== undefined) p.w(0, `Duration:\t${humanDuration(end - start)}\n`);
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds !== null) p.w(0, `Active Deadline Seconds:\t${spec.activeDeadlineSeconds}s\n`);
  p.w(0, st.ready === undefined || st.ready === null
    ? `Pods Statuses:\t${st.active ?? 0} Active / ${st.succeeded ?? 0} Succeeded / ${st.failed ?? 0} Failed\n`
    : `Pods Statuses:\t${st.active ?? 0} Active (${st.ready} Ready) / ${st.succeeded ?? 0} Succeeded / ${st.failed ?? 0} Failed\n`);
  if (spec.completionMode === 'Indexed') p.w(0, `Completed Indexes:\t${st.completedIndexes || '<none>'}\n`);
  podTemplate(p, spec.template);
  writeEvents(p, c.events, c.now);
  return p.done();
}

export function describeCronJob(cj: CronJob, c: DescribeContext): string {
  const p = new Page();
  const spec = cj.spec;
  const opt = (v: number | undefined | null, unit = ''): string => (v === undefined || v === null ? '<unset>' : `${v}${unit}`);
  p.w(0, `Name:\t${cj.metadata.name}\n`);
  p.w(0, `Namespace:\t${cj.metadata.namespace ?? ''}\n`);
  labelsMultiline(p, 'Labels', cj.metadata.labels);
  annotationsMultiline(p, 'Annotations', cj.metadata.annotations);
  p.w(0, `Schedule:\t${spec.schedule}\n`);
  p.w(0, `Concurrency Policy:\t${spec.concurrencyPolicy ?? 'Allow'}\n`);
  p.w(0, `Suspend:\t${printBool(spec.suspend)}\n`);
  p.w(0, `Successful Job History Limit:\t${opt(spec.successfulJobsHistoryLimit)}\n`);
  p.w(0, `Failed Job History Limit:\t${opt(spec.failedJobsHistoryLimit)}\n`);
  p.w(0, `Starting Deadline Seconds:\t${opt(spec.startingDeadlineSeconds, 's')}\n`);
  const jt = spec.jobTemplate?.spec;
  p.w(0, `Selector:\t${jt?.selector ? selectorString(jt.selector) : '<unset>'}\n`);
  p.w(0, `Parallelism:\t${opt(jt?.parallelism)}\n`);
  p.w(0, `Completions:\t${opt(jt?.completions)}\n`);
  if (jt?.activeDeadlineSeconds !== undefined && jt.activeDeadlineSeconds !== null) p.w(0, `Active Deadline Seconds:\t${jt.activeDeadlineSeconds}s\n`);
  podTemplate(p, jt?.template);
  p.w(0, `Last Schedule Time:\t${cj.status?.lastScheduleTime ? rfc1123z(cj.status.lastScheduleTime as string) : '<unset>'}\n`);
  const active = cj.status?.active ?? [];
  p.w(0, `Active Jobs:\t${active.length ? active.map((j) => j.name).join(', ') : '<none>'}\n`);
  writeEvents(p, c.events, c.now);
  return p.done();
}
