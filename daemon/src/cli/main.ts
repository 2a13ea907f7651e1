/**
 * `pifleet`: the command-line client (kubectl's verbs against a pifleet fleet). The CLI is an
 * MQTT client of the leader's API; it shares only the manifest validation and the topic map with
 * the daemon, and never imports the daemon: `pifleet daemon` is parsed here and handed to the
 * entry's runDaemon (daemon/src/main.ts), which loads the daemon only then.
 * This file holds the program, apply/create/get/describe/delete; the other verbs register
 * themselves from their own files.
 */
import { Command, Option, CommanderError } from 'commander';
import type { KObject, CronJob, Job, Event } from '../api/types.js';
import { kindInfo, type KindInfo } from '../api/kinds.js';
import { ApiCallError, CliError } from './client.js';
import { parseDuration, parseResourceArgs, parseTypedName, quotedName, pluralName, refName, kindOrThrow } from './resources.js';
import * as render from './render.js';
import { toJson, toYamlText, asList } from './print/get.js';
import { VERSION } from '../version.js';
import { err, getOne, globals, list, ns, out, readManifests, sleep, withClient } from './common.js';
import { registerStateCommands } from './state-command.js';
import { registerFleetCommands } from './fleet-commands.js';
import { registerPodCommands } from './pod-commands.js';
import { registerWorkloadCommands } from './workload-commands.js';
import { registerEditCommand } from './edit.js';
import { registerInfoCommands } from './info-commands.js';
import { registerTopCommand } from './top.js';

/** The daemon's flags as `pifleet daemon` parses them (--state-dir and --cluster are program-wide). */
export interface DaemonFlags {
  config?: string;
  stateDir?: string;
  nodeName?: string;
  cluster?: string;
  mqttPort?: number;
  mqttWsPort?: number;
  logLevel?: string;
}

/** What the entry passes in: how to run the daemon (the CLI cannot: it does not import it). */
export interface CliHooks {
  runDaemon?: (flags: DaemonFlags) => Promise<void>;
}

function handleError(e: unknown): number {
  if (e instanceof ApiCallError) {
    const reason = e.body.reason;
    err(`Error from server (${reason}): ${e.body.message}`);
    for (const d of e.body.details ?? []) err(`  ${d}`);
    return 1;
  }
  if (e instanceof CliError) {
    err(e.message.startsWith('error:') || e.message.includes('\n') || /^\S+:\d+:\d+ /.test(e.message) ? e.message : `error: ${e.message}`);
    return e.exitCode;
  }
  if (e instanceof CommanderError) return e.exitCode;
  err(`error: ${e instanceof Error ? e.message : String(e)}`);
  return 1;
}

export function buildProgram(hooks: CliHooks = {}): Command {
  const program = new Command('pifleet')
    .description('Run Kubernetes-style workloads on a fleet of Raspberry Pis')
    .version(VERSION, '--version')
    .option('--server <url>', 'MQTT address of the fleet, e.g. mqtt://10.0.0.1:1883 (default: the local daemon)')
    .option('--token-file <file>', 'file holding the cluster token')
    .option('--cluster <name>', 'cluster name (default: from the client config)')
    .option('--state-dir <dir>', "a local daemon's state directory to find its client config in")
    .option('-n, --namespace <ns>', 'namespace', undefined)
    .option('--request-timeout <duration>', 'how long to wait for the server to answer a connection', '5s')
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  // ------------------------------------------------------------- daemon
  program.command('daemon')
    .description('run the pifleet node daemon (leader of a one-member fleet today); --state-dir and --cluster apply here too')
    .option('--config <file>', 'YAML config file (see config/pifleet.yaml)')
    .option('--node-name <name>', 'this node\'s name (default: host name)')
    .option('--mqtt-port <port>', 'MQTT port', (v) => Number(v))
    .option('--mqtt-ws-port <port>', 'MQTT over WebSocket port (0 = off)', (v) => Number(v))
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace')
    .action(async (_o: unknown, cmd: Command) => {
      if (!hooks.runDaemon) throw new CliError('error: this entry of pifleet has no daemon: run bin/pifleet.js (daemon/src/main.ts)');
      // --state-dir and --cluster are program-wide options (the CLI uses them too)
      await hooks.runDaemon(cmd.optsWithGlobals() as DaemonFlags);
    });

  // ------------------------------------------------------------- apply / create
  program.command('apply')
    .description('apply manifests from files, directories or stdin (-f -)')
    .requiredOption('-f, --filename <path...>', 'file, directory or - for stdin')
    .option('-R, --recursive', 'process directories recursively')
    .addOption(new Option('--dry-run <mode>', 'validate only').choices(['none', 'client', 'server']).default('none'))
    .option('-o, --output <format>', 'name|json|yaml')
    .action(async (o: { filename: string[]; recursive?: boolean; dryRun: string; output?: string }, cmd: Command) => {
      const g = globals(cmd);
      const objects = await readManifests(o.filename, Boolean(o.recursive));
      for (const obj of objects) if (g.namespace && kindInfo(obj.kind)?.namespaced && !obj.metadata.namespace) obj.metadata.namespace = g.namespace;
      const suffix = o.dryRun === 'none' ? '' : ` (${o.dryRun} dry run)`;
      if (o.dryRun === 'client') {
        for (const obj of objects) out(`${refName(obj.kind, obj.metadata.name)} ${o.output === 'name' ? '' : `configured${suffix}`}`.trim());
        return;
      }
      await withClient(cmd, async (c) => {
        const res = await c.request<{ results: Array<{ kind: string; name: string; action: string }> }>('apply', { objects, dryRun: o.dryRun === 'server' });
        for (const r of res.results) out(o.output === 'name' ? refName(r.kind, r.name) : `${refName(r.kind, r.name)} ${r.action}${suffix}`);
      });
    });

  const create = program.command('create').description('create a resource');
  create.command('job <name>')
    .description('create a Job, e.g. from a CronJob: pifleet create job once --from=cronjob/backup')
    .requiredOption('--from <cronjob/NAME>', 'the CronJob whose jobTemplate to use')
    .action(async (name: string, o: { from: string }, cmd: Command) => {
      const { info, name: cjName } = parseTypedName(o.from);
      if (info.kind !== 'CronJob') throw new CliError(`error: from must be an existing cronjob: ${o.from}`);
      await withClient(cmd, async (c, g) => {
        const cj = await getOne<CronJob>(c, info, cjName, g);
        const tpl = cj.spec.jobTemplate;
        const job: Job = {
          apiVersion: 'batch/v1', kind: 'Job',
          metadata: {
            name, namespace: ns(g),
            labels: { ...(tpl.metadata?.labels ?? {}) },
            annotations: { ...(tpl.metadata?.annotations ?? {}), 'cronjob.kubernetes.io/instantiate': 'manual' },
            ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cj.metadata.name, uid: cj.metadata.uid as string, controller: true, blockOwnerDeletion: true }],
          },
          spec: structuredClone(tpl.spec ?? { template: { spec: { containers: [] } } }),
        };
        await c.request('create', { object: job });
        out(`job.batch/${name} created`);
      });
    });

  // ------------------------------------------------------------- get
  program.command('get')
    .description('list resources: pods, deployments, replicasets, daemonsets, jobs, cronjobs, services, configmaps, secrets, nodes, events, namespaces, all')
    .argument('<resource...>', 'TYPE [NAME...] or TYPE/NAME...')
    .option('-A, --all-namespaces', 'all namespaces')
    .option('-l, --selector <selector>', "label selector, e.g. 'app=web,tier in (fe,be),!canary'")
    .option('--field-selector <selector>', 'field selector, e.g. status.phase=Running')
    .option('-o, --output <format>', 'wide|json|yaml|name')
    .option('-w, --watch', 'after listing, watch for changes')
    .option('--watch-only', 'watch for changes without listing first')
    .option('--show-labels', 'show labels as the last column')
    .option('-L, --label-columns <keys...>', 'label keys to show as columns')
    .option('--no-headers', 'omit the header row')
    .action(async (args: string[], o: { allNamespaces?: boolean; selector?: string; fieldSelector?: string; output?: string; watch?: boolean; watchOnly?: boolean; showLabels?: boolean; labelColumns?: string[]; headers: boolean }, cmd: Command) => {
      const wanted = parseResourceArgs(args);
      await withClient(cmd, async (c, g) => {
        g.allNamespaces = o.allNamespaces;
        const printOpts = { output: o.output, allNamespaces: Boolean(o.allNamespaces), showLabels: Boolean(o.showLabels), labelColumns: o.labelColumns ?? [], noHeaders: !o.headers, namespace: ns(g) };
        const params = { ...(o.selector ? { labelSelector: o.selector } : {}), ...(o.fieldSelector ? { fieldSelector: o.fieldSelector } : {}) };
        let missing = false;
        const sections: string[] = [];
        const structured = ['json', 'yaml'].includes(o.output ?? '');
        const all: KObject[] = [];
        const single = wanted.length === 1 ? wanted[0]! : undefined;
        const watcher = single ? render.createWatchPrinter(single.info, printOpts) : undefined;
        for (const { info, names } of wanted) {
          let objects: KObject[];
          if (names.length) {
            objects = [];
            for (const n of names) {
              try { objects.push(await getOne(c, info, n, g)); } catch (e) { if (e instanceof ApiCallError && e.body.reason === 'NotFound') { err(`Error from server (NotFound): ${pluralName(info.kind, n)} not found`); missing = true; } else throw e; }
            }
          } else if (!o.watchOnly) {
            objects = await list(c, info, g, params);
          } else objects = [];
          all.push(...objects);
          if (o.watchOnly || (structured && wanted.length > 1) || (names.length && objects.length === 0)) continue;
          if (watcher && (o.watch) && !structured && o.output !== 'name') {
            sections.push(watcher.list(objects));
            continue;
          }
          const r = render.formatList(objects, info, { ...printOpts, single: names.length === 1 && wanted.length === 1, multiKind: wanted.length > 1 });
          if (r.stdout) sections.push(r.stdout);
          if (r.stderr && wanted.length === 1) err(r.stderr);
        }
        if (structured && wanted.length > 1 && !o.watchOnly) {
          // one List for all kinds, as kubectl prints it
          sections.push(o.output === 'json' ? toJson(asList(all)) : toYamlText(asList(all)));
        }
        if (wanted.length > 1 && all.length === 0 && !o.watchOnly && !missing) err(g.allNamespaces ? 'No resources found' : `No resources found in ${ns(g)} namespace.`);
        if (sections.length) out(sections.join(wanted.length > 1 && !structured ? '\n' : ''));
        if (o.watch || o.watchOnly) {
          if (!single || !watcher) throw new CliError('error: you may only specify a single resource type with --watch');
          const { info, names } = single;
          const stream = c.stream('watch', { kind: info.kind, namespace: ns(g), allNamespaces: Boolean(o.allNamespaces), sendInitial: false, ...(names[0] ? { name: names[0] } : {}), ...params, timeoutSeconds: 24 * 3600 }, (d) => {
            const ev = d as { type: string; object?: KObject };
            if (!ev.object) return;
            out(structured || o.output === 'name' ? render.formatWatchEvent(ev.type, ev.object, info, printOpts) : watcher.event(ev.type, ev.object));
          });
          await new Promise<void>((resolve) => {
            const stop = (): void => { void stream.cancel().then(resolve); };
            process.once('SIGINT', stop);
            process.once('SIGTERM', stop);
            stream.done.then(resolve, resolve);
          });
        }
        if (missing) process.exitCode = 1;
      });
    });

  // ------------------------------------------------------------- describe
  program.command('describe')
    .description('show details of a resource and its events')
    .argument('<resource...>', 'TYPE [NAME...] or TYPE/NAME')
    .option('-l, --selector <selector>', 'label selector')
    .option('-A, --all-namespaces', 'all namespaces')
    .action(async (args: string[], o: { selector?: string; allNamespaces?: boolean }, cmd: Command) => {
      const wanted = parseResourceArgs(args);
      await withClient(cmd, async (c, g) => {
        g.allNamespaces = o.allNamespaces;
        const texts: string[] = [];
        for (const { info, names } of wanted) {
          const objects = names.length ? await Promise.all(names.map((n) => getOne(c, info, n, g))) : await list(c, info, g, o.selector ? { labelSelector: o.selector } : {});
          if (objects.length === 0 && wanted.length === 1) err(`No resources found in ${ns(g)} namespace.`);
          for (const obj of objects) {
            const related = await render.relatedFor(obj, {
              events: async () => (await c.request<{ items: Event[] }>('get', { kind: 'Event', allNamespaces: true, fieldSelector: `involvedObject.name=${obj.metadata.name},involvedObject.kind=${obj.kind}` })).items
                .filter((e) => !obj.metadata.namespace || (e.metadata.namespace ?? 'default') === obj.metadata.namespace || obj.kind === 'Node'),
              list: async (kind: string) => (await c.request<{ items: KObject[] }>('get', { kind, namespace: obj.metadata.namespace ?? ns(g), allNamespaces: obj.kind === 'Node' })).items,
            });
            texts.push(render.describe(obj, related));
          }
        }
        out(texts.join('\n\n'));
      });
    });

  // ------------------------------------------------------------- delete
  program.command('delete')
    .description('delete resources by name, label selector or manifest file')
    .argument('[resource...]', 'TYPE NAME..., TYPE/NAME..., or TYPE with -l/--all')
    .option('-f, --filename <path...>', 'delete what these manifests describe')
    .option('-R, --recursive', 'process directories recursively')
    .option('-l, --selector <selector>', 'label selector')
    .option('--all', 'all resources of the type in the namespace')
    .option('-A, --all-namespaces', 'with --all or -l: every namespace')
    .option('--grace-period <seconds>', 'seconds to give pods to stop (0 with --force: immediately)', (v) => Number(v))
    .option('--force', 'with --grace-period=0: remove pods without waiting for their node')
    .addOption(new Option('--cascade <policy>', 'background|foreground|orphan').default('background'))
    .option('--ignore-not-found', 'treat "not found" as success')
    .option('--wait [bool]', 'wait until the resources are gone', true)
    .option('--timeout <duration>', 'how long to wait', '60s')
    .action(async (args: string[], o: { filename?: string[]; recursive?: boolean; selector?: string; all?: boolean; allNamespaces?: boolean; gracePeriod?: number; force?: boolean; cascade: string; ignoreNotFound?: boolean; wait: boolean | string; timeout: string }, cmd: Command) => {
      const targets: Array<{ info: KindInfo; names: string[]; namespace?: string }> = [];
      if (o.filename) {
        for (const obj of await readManifests(o.filename, Boolean(o.recursive))) targets.push({ info: kindOrThrow(obj.kind.toLowerCase()), names: [obj.metadata.name], ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}) });
      } else {
        for (const t of parseResourceArgs(args)) targets.push(t);
      }
      const policy = { background: 'Background', foreground: 'Foreground', orphan: 'Orphan' }[o.cascade.toLowerCase()];
      if (!policy) throw new CliError(`error: invalid --cascade ${JSON.stringify(o.cascade)}: background, foreground or orphan`);
      await withClient(cmd, async (c, g) => {
        const deleted: Array<{ kind: string; namespace?: string; name: string }> = [];
        for (const t of targets) {
          if (!t.names.length && !o.selector && !o.all) throw new CliError('error: resource(s) were provided, but no name was specified (use a name, -l or --all)');
          const res = await c.request<{ deleted: Array<{ kind: string; namespace?: string; name: string }> }>('delete', {
            kind: t.info.kind, namespace: t.namespace ?? ns(g), allNamespaces: Boolean(o.allNamespaces),
            ...(t.names.length ? { names: t.names } : {}),
            ...(o.selector ? { labelSelector: o.selector } : {}),
            ...(o.all ? { all: true } : {}),
            ...(o.gracePeriod !== undefined ? { gracePeriodSeconds: o.force && o.gracePeriod <= 0 ? 0 : Math.max(o.gracePeriod, 1) } : o.force ? { gracePeriodSeconds: 0 } : {}),
            propagationPolicy: policy,
            ignoreNotFound: Boolean(o.ignoreNotFound),
          });
          for (const d of res.deleted) out(`${quotedName(d.kind, d.name)} deleted`);
          deleted.push(...res.deleted);
          if (!res.deleted.length && !t.names.length) err(`No resources found in ${ns(g)} namespace.`);
        }
        const wait = o.wait !== false && o.wait !== 'false';
        if (wait && deleted.length) {
          const deadline = Date.now() + parseDuration(o.timeout);
          for (const d of deleted) {
            for (;;) {
              try {
                await c.request('get', { kind: d.kind, namespace: d.namespace ?? ns(g), name: d.name });
              } catch (e) {
                if (e instanceof ApiCallError && e.body.reason === 'NotFound') break;
                throw e;
              }
              if (Date.now() > deadline) throw new CliError(`error: timed out waiting for ${quotedName(d.kind, d.name)} to be deleted`);
              await sleep(250);
            }
          }
        }
      });
    });

  registerPodCommands(program);
  registerWorkloadCommands(program);
  registerEditCommand(program);
  registerFleetCommands(program);
  registerStateCommands(program);
  registerTopCommand(program);
  registerInfoCommands(program);
  return program;
}

export async function main(argv: string[], hooks: CliHooks = {}): Promise<number> {
  const program = buildProgram(hooks);
  program.exitOverride();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError && (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help')) return 0;
    return handleError(e);
  }
}

