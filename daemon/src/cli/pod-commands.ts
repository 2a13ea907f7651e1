/**
 * `logs` and `exec`: a container of a pod named directly or through its owner
 * (`job/x`, `deployment/x`), newest pod first.
 */
import type { Command } from 'commander';
import { resolvePods, withClient, ns } from './common.js';
import { parseDuration } from './resources.js';

export function registerPodCommands(program: Command): void {
  // ------------------------------------------------------------- logs
  program.command('logs')
    .description('print the logs of a container: POD, pod/NAME, job/NAME, deployment/NAME')
    .argument('<target>', 'pod name or TYPE/NAME')
    .argument('[container]', 'container name')
    .option('-c, --container <name>', 'container name')
    .option('-f, --follow', 'stream new lines')
    .option('--tail <lines>', 'lines from the end (-1: all)', (v) => Number(v), -1)
    .option('-p, --previous', 'the previous (dead) instance of the container')
    .option('--timestamps', 'prefix lines with timestamps')
    .option('--since <duration>', 'only lines newer than this, e.g. 5m')
    .action(async (target: string, containerArg: string | undefined, o: { container?: string; follow?: boolean; tail: number; previous?: boolean; timestamps?: boolean; since?: string }, cmd: Command) => {
      await withClient(cmd, async (c, g) => {
        const [pod] = await resolvePods(c, target, g);
        const params = {
          name: pod!.metadata.name, namespace: pod!.metadata.namespace ?? ns(g),
          ...(o.container ?? containerArg ? { container: o.container ?? containerArg } : {}),
          follow: Boolean(o.follow), ...(o.tail >= 0 ? { tail: o.tail } : {}), previous: Boolean(o.previous), timestamps: Boolean(o.timestamps),
          ...(o.since ? { sinceSeconds: Math.ceil(parseDuration(o.since) / 1000) } : {}),
        };
        const stream = c.stream('logs', params, (d) => {
          const lines = (d as { lines?: string[] } | undefined)?.lines;
          if (lines?.length) process.stdout.write(`${lines.join('\n')}\n`);
        });
        await new Promise<void>((resolve, reject) => {
          const stop = (): void => { void stream.cancel().then(resolve); };
          process.once('SIGINT', stop);
          stream.done.then(resolve, reject);
        });
      });
    });

  // ------------------------------------------------------------- exec
  program.command('exec')
    .description('run a command in a container (non-interactive): pifleet exec POD [-c C] -- CMD ARGS...')
    .argument('<pod>', 'pod name or TYPE/NAME')
    .argument('<command...>', 'command and arguments (after --)')
    .option('-c, --container <name>', 'container name')
    .option('--timeout <duration>', 'how long the command may run', '60s')
    .action(async (target: string, command: string[], o: { container?: string; timeout: string }, cmd: Command) => {
      await withClient(cmd, async (c, g) => {
        const [pod] = await resolvePods(c, target, g);
        const timeoutMs = parseDuration(o.timeout);
        const res = await c.request<{ exitCode: number; stdout: string; stderr: string }>('exec', {
          name: pod!.metadata.name, namespace: pod!.metadata.namespace ?? ns(g), command, timeoutSeconds: Math.ceil(timeoutMs / 1000),
          ...(o.container ? { container: o.container } : {}),
        }, timeoutMs + 10_000);
        if (res.stdout) process.stdout.write(res.stdout);
        if (res.stderr) process.stderr.write(res.stderr);
        if (res.exitCode !== 0) {
          process.exitCode = res.exitCode;
        }
      });
    });
}
