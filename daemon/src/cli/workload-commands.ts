/**
 * The verbs that change workloads in place: `scale`, `rollout status|history|undo|pause|resume|restart`,
 * `wait --for`, `patch` (JSON merge patch) and the `cronjob suspend|resume` shortcuts.
 */
import { Option, type Command } from 'commander';
import type { KObject } from '../api/types.js';
import { ApiCallError, CliError } from './client.js';
import { getOne, ns, out, sleep, withClient } from './common.js';
import { parseDuration, parseResourceArgs, parseTypedName, pluralName, refName } from './resources.js';
import * as render from './render.js';

export function registerWorkloadCommands(program: Command): void {
  // ------------------------------------------------------------- scale
  program.command('scale')
    .description('set the number of replicas: pifleet scale deployment/web --replicas=5')
    .argument('<resource...>', 'TYPE/NAME or TYPE NAME')
    .requiredOption('--replicas <n>', 'the new number of replicas', (v) => Number(v))
    .option('--current-replicas <n>', 'only if the current number is this', (v) => Number(v))
    .action(async (args: string[], o: { replicas: number; currentReplicas?: number }, cmd: Command) => {
      if (!Number.isInteger(o.replicas) || o.replicas < 0) throw new CliError('error: --replicas must be a non-negative integer');
      await withClient(cmd, async (c, g) => {
        for (const { info, names } of parseResourceArgs(args)) {
          if (!names.length) throw new CliError('error: resource(s) were provided, but no name was specified');
          for (const n of names) {
            await c.request('scale', { kind: info.kind, namespace: ns(g), name: n, replicas: o.replicas, ...(o.currentReplicas !== undefined ? { currentReplicas: o.currentReplicas } : {}) });
            out(`${refName(info.kind, n)} scaled`);
          }
        }
      });
    });

  // ------------------------------------------------------------- rollout
  const rollout = program.command('rollout').description('manage rollouts of deployments and daemonsets');
  rollout.command('status <resource>')
    .description('watch a rollout until it completes')
    .option('-w, --watch [bool]', 'watch until done', true)
    .option('--timeout <duration>', 'give up after this long (0 = never)', '0')
    .action(async (target: string, o: { watch: boolean | string; timeout: string }, cmd: Command) => {
      const { info, name } = parseTypedName(target);
      await withClient(cmd, async (c, g) => {
        const limit = parseDuration(o.timeout);
        const deadline = limit > 0 ? Date.now() + limit : Infinity;
        let last = '';
        for (;;) {
          const obj = await getOne(c, info, name, g);
          const st = render.rolloutStatus(obj);
          if (st.error) throw new CliError(`error: ${st.error}`);
          if (st.message !== last) { out(st.message); last = st.message; }
          if (st.done || o.watch === false || o.watch === 'false') return;
          if (Date.now() > deadline) throw new CliError('error: timed out waiting for the condition');
          await sleep(500);
        }
      });
    });
  rollout.command('history <resource>')
    .description('list the revisions of a deployment')
    .option('--revision <n>', 'show the pod template of this revision', (v) => Number(v))
    .action(async (target: string, o: { revision?: number }, cmd: Command) => {
      const { info, name } = parseTypedName(target);
      await withClient(cmd, async (c, g) => {
        const res = await c.request<{ revisions: Array<{ revision: number; changeCause: string | null; template: unknown }> }>('rollout', { action: 'history', kind: info.kind, namespace: ns(g), name });
        out(render.rolloutHistory(info.kind, name, res.revisions, o.revision));
      });
    });
  rollout.command('undo <resource>')
    .description('roll back to the previous (or a given) revision')
    .option('--to-revision <n>', 'the revision to roll back to (0: the previous one)', (v) => Number(v), 0)
    .action(async (target: string, o: { toRevision: number }, cmd: Command) => {
      const { info, name } = parseTypedName(target);
      await withClient(cmd, async (c, g) => {
        const res = await c.request<{ message: string }>('rollout', { action: 'undo', kind: info.kind, namespace: ns(g), name, toRevision: o.toRevision });
        out(res.message);
      });
    });
  for (const action of ['pause', 'resume', 'restart'] as const) {
    rollout.command(`${action} <resource>`)
      .description(action === 'restart' ? 'restart all pods of a workload by rolling them' : `${action} a deployment's rollout`)
      .action(async (target: string, _o: unknown, cmd: Command) => {
        const { info, name } = parseTypedName(target);
        await withClient(cmd, async (c, g) => {
          const res = await c.request<{ message: string }>('rollout', { action, kind: info.kind, namespace: ns(g), name });
          out(res.message);
        });
      });
  }

  // ------------------------------------------------------------- wait
  program.command('wait')
    .description("wait for a condition: --for=condition=Available deployment/web, --for=condition=complete job/x, --for=delete pod/p")
    .argument('<resource...>', 'TYPE/NAME...')
    .requiredOption('--for <condition>', 'condition=NAME[=VALUE] or delete')
    .option('--timeout <duration>', 'give up after this long', '30s')
    .action(async (args: string[], o: { for: string; timeout: string }, cmd: Command) => {
      const deadline = Date.now() + parseDuration(o.timeout);
      const m = /^condition=([^=]+)(?:=(.*))?$/i.exec(o.for);
      if (!m && o.for !== 'delete') throw new CliError(`error: unrecognized condition: ${JSON.stringify(o.for)} (use condition=NAME or delete)`);
      await withClient(cmd, async (c, g) => {
        for (const { info, names } of parseResourceArgs(args)) {
          for (const name of names) {
            for (;;) {
              let obj: KObject | undefined;
              try { obj = await getOne(c, info, name, g); } catch (e) { if (!(e instanceof ApiCallError && e.body.reason === 'NotFound')) throw e; }
              if (o.for === 'delete') {
                if (!obj) { out(`${refName(info.kind, name)} condition met`); break; }
              } else {
                if (!obj) throw new CliError(`Error from server (NotFound): ${pluralName(info.kind, name)} not found`);
                const want = (m![2] ?? 'True').toLowerCase();
                const conds = ((obj.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? []);
                if (conds.some((cd) => cd.type.toLowerCase() === m![1]!.toLowerCase() && cd.status.toLowerCase() === want)) { out(`${refName(info.kind, name)} condition met`); break; }
              }
              if (Date.now() > deadline) throw new CliError(`error: timed out waiting for the condition on ${info.plural}/${name}`);
              await sleep(250);
            }
          }
        }
      });
    });

  // ------------------------------------------------------------- patch, cronjob suspend/resume
  program.command('patch')
    .description('change fields of a resource with a JSON merge patch')
    .argument('<resource...>', 'TYPE NAME or TYPE/NAME')
    .requiredOption('-p, --patch <json>', 'the merge patch, e.g. \'{"spec":{"suspend":true}}\'')
    .addOption(new Option('--type <type>', 'patch type').choices(['merge']).default('merge'))
    .action(async (args: string[], o: { patch: string }, cmd: Command) => {
      let patch: unknown;
      try { patch = JSON.parse(o.patch); } catch (e) { throw new CliError(`error: --patch is not valid JSON: ${(e as Error).message}`); }
      await withClient(cmd, async (c, g) => {
        for (const { info, names } of parseResourceArgs(args)) {
          for (const n of names) {
            await c.request('patch', { kind: info.kind, namespace: ns(g), name: n, patch, patchType: 'merge' });
            out(`${refName(info.kind, n)} patched`);
          }
        }
      });
    });
  const cron = program.command('cronjob').description('CronJob shortcuts');
  for (const action of ['suspend', 'resume'] as const) {
    cron.command(`${action} <name>`)
      .description(`${action} a CronJob (no new Jobs are ${action === 'suspend' ? 'started' : 'held back'})`)
      .action(async (name: string, _o: unknown, cmd: Command) => {
        await withClient(cmd, async (c, g) => {
          await c.request('patch', { kind: 'CronJob', namespace: ns(g), name, patch: { spec: { suspend: action === 'suspend' } } });
          out(`cronjob.batch/${name} ${action === 'suspend' ? 'suspended' : 'resumed'}`);
        });
      });
  }
}
