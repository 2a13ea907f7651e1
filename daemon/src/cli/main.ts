/**
 * `pifleet`: the command-line client (kubectl's verbs against a pifleet fleet) and
 * `pifleet daemon`. The CLI is an MQTT client of the leader's API; it shares only the
 * manifest validation and the topic map with the daemon.
 */
import { Command, Option, CommanderError } from 'commander';
import type { KObject, Pod, CronJob, Job, Event } from '../api/types.js';
import { kindInfo, type KindInfo } from '../api/kinds.js';
import { loadManifests } from '../api/load.js';
import { readManifestSources } from './manifests.js';
import { ApiClient, ApiCallError, CliError, resolveConnection, type ConnectionOptions } from './client.js';
import { parseDuration, parseResourceArgs, parseTypedName, quotedName, pluralName, refName, kindOrThrow } from './resources.js';
import * as render from './render.js';
import { toJson, toYamlText, asList } from './print/get.js';
import { VERSION } from '../version.js';
import { registerStateCommands } from './state-command.js';
import { registerFleetCommands } from './fleet-commands.js';

interface GlobalOpts extends ConnectionOptions {
  namespace?: string;
  allNamespaces?: boolean;
  requestTimeout?: string;
}

const out = (s: string): void => { if (s) process.stdout.write(s.endsWith('\n') ? s : `${s}\n`); };
const err = (s: string): void => { if (s) process.stderr.write(s.endsWith('\n') ? s : `${s}\n`); };

function globals(cmd: Command): GlobalOpts {
  return cmd.optsWithGlobals() as GlobalOpts;
}

async function withClient<T>(cmd: Command, fn: (c: ApiClient, g: GlobalOpts) => Promise<T>): Promise<T> {
  const g = globals(cmd);
  const conn = resolveConnection(g);
  const client = await ApiClient.connect(conn, g.requestTimeout ? parseDuration(g.requestTimeout) : 5000);
  try {
    return await fn(client, g);
  } finally {
    await client.close();
  }
}

function ns(g: GlobalOpts): string {
  return g.namespace ?? 'default';
}

async function list(c: ApiClient, info: KindInfo, g: GlobalOpts, extra: Record<string, unknown> = {}): Promise<KObject[]> {
  const res = await c.request<{ items: KObject[] }>('get', { kind: info.kind, namespace: ns(g), allNamespaces: Boolean(g.allNamespaces), ...extra });
  return res.items;
}

async function getOne<T extends KObject = KObject>(c: ApiClient, info: KindInfo, name: string, g: GlobalOpts): Promise<T> {
  return c.request<T>('get', { kind: info.kind, namespace: ns(g), name });
}

/** Read, validate and default manifests locally: errors as FILE:LINE:COL field: reason. */
async function readManifests(files: string[], recursive: boolean): Promise<KObject[]> {
  const sources = await readManifestSources(files, process.stdin, { recursive });
  const objects: KObject[] = [];
  const problems: string[] = [];
  for (const s of sources) {
    const r = loadManifests(s.text, s.file);
    objects.push(...r.objects);
    for (const e of r.errors) problems.push(e.format());
  }
  if (problems.length) throw new CliError(`${problems.join('\n')}\nerror: ${problems.length} problem${problems.length > 1 ? 's' : ''} found; nothing was applied`, 1);
  if (objects.length === 0) throw new CliError('error: no objects passed to apply');
  return objects;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Pods behind `job/x`, `deployment/x`, `pod/x` or a bare pod name, newest first. */
async function resolvePods(c: ApiClient, target: string, g: GlobalOpts): Promise<Pod[]> {
  if (!target.includes('/')) return [await getOne<Pod>(c, kindOrThrow('pods'), target, g)];
  const { info, name } = parseTypedName(target);
  if (info.kind === 'Pod') return [await getOne<Pod>(c, info, name, g)];
  const owner = await getOne(c, info, name, g);
  const pods = (await list(c, kindOrThrow('pods'), g)) as Pod[];
  const ownedBy = (p: KObject, uid: string | undefined): boolean => Boolean(p.metadata.ownerReferences?.some((r) => r.uid === uid));
  let mine: Pod[];
  if (info.kind === 'Deployment') {
    const rss = (await list(c, kindOrThrow('replicasets'), g)).filter((rs) => ownedBy(rs, owner.metadata.uid));
    mine = pods.filter((p) => rss.some((rs) => ownedBy(p, rs.metadata.uid)));
  } else {
    mine = pods.filter((p) => ownedBy(p, owner.metadata.uid));
  }
  if (mine.length === 0) throw new CliError(`error: no pods found for ${refName(info.kind, name)}`);
  return mine.sort((a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''));
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

export function buildProgram(): Command {
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
      // --state-dir and --cluster are program-wide options (the CLI uses them too)
      const o = cmd.optsWithGlobals() as { config?: string; stateDir?: string; nodeName?: string; cluster?: string; mqttPort?: number; mqttWsPort?: number; logLevel?: string };
      const { runDaemonCommand } = await import('./daemon-command.js');
      await runDaemonCommand(o);
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

  registerFleetCommands(program);
  registerStateCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError && (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help')) return 0;
    return handleError(e);
  }
}

