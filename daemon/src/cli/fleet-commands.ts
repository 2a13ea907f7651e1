/**
 * The CLI verbs about the fleet and metadata: `status` (leader, term, members with
 * reachability, quorum, commit index; answered by the members' peer channel when no leader
 * is reachable), `node remove`, `cordon`, `uncordon`, `drain`, and kubectl's `label` and
 * `annotate` (KEY=VALUE, KEY-, --overwrite, -l, --all) for every kind.
 */
import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import type { KObject, Pod } from '../api/types.js';
import { kindOrThrow, parseResourceArgs, refName } from './resources.js';
import { ApiClient, askMembers, CliError, resolveConnection, type ConnectionOptions } from './client.js';
import { parseDuration } from './resources.js';
import { tabulate } from './print/tabwriter.js';

interface Globals extends ConnectionOptions { namespace?: string; allNamespaces?: boolean; requestTimeout?: string }

const out = (s: string): void => { if (s) process.stdout.write(s.endsWith('\n') ? s : `${s}\n`); };

async function withClient<T>(cmd: Command, fn: (c: ApiClient, g: Globals) => Promise<T>): Promise<T> {
  const g = cmd.optsWithGlobals() as Globals;
  const client = await ApiClient.connect(resolveConnection(g), g.requestTimeout ? parseDuration(g.requestTimeout) : 5000);
  try {
    return await fn(client, g);
  } finally {
    await client.close();
  }
}

/** KEY=VALUE and KEY- arguments into a merge patch of one metadata map (null removes). */
export function parseKeyValues(args: string[], what: 'label' | 'annotation'): { set: Record<string, string>; remove: string[] } {
  const set: Record<string, string> = {};
  const remove: string[] = [];
  for (const a of args) {
    if (a.endsWith('-') && !a.includes('=')) { remove.push(a.slice(0, -1)); continue; }
    const eq = a.indexOf('=');
    if (eq <= 0) throw new CliError(`error: invalid ${what} "${a}": use KEY=VALUE to set or KEY- to remove`);
    set[a.slice(0, eq)] = a.slice(eq + 1);
  }
  if (!Object.keys(set).length && !remove.length) throw new CliError(`error: at least one ${what} update is required`);
  return { set, remove };
}

function registerMetadataVerb(program: Command, verb: 'label' | 'annotate'): void {
  const field = verb === 'label' ? 'labels' : 'annotations';
  program.command(verb)
    .description(`update the ${field} of resources: ${verb} TYPE NAME KEY=VALUE ... KEY- ...`)
    .argument('<args...>', 'TYPE NAME... (or TYPE/NAME), then KEY=VALUE and KEY- items')
    .option('--overwrite', `allow changing ${field} that are already set`)
    .option('-l, --selector <selector>', 'the resources matching this label selector')
    .option('--all', 'every resource of the type in the namespace')
    .action(async (args: string[], o: { overwrite?: boolean; selector?: string; all?: boolean }, cmd: Command) => {
      const split = args.findIndex((a) => a.includes('=') || (a.endsWith('-') && !a.includes('/')));
      if (split < 0) throw new CliError(`error: at least one ${verb === 'label' ? 'label' : 'annotation'} update is required`);
      const targets = args.slice(0, split);
      const { set, remove } = parseKeyValues(args.slice(split), verb === 'label' ? 'label' : 'annotation');
      await withClient(cmd, async (c, g) => {
        const ns = g.namespace ?? 'default';
        const jobs: Array<{ kind: string; name: string }> = [];
        if (o.selector || o.all) {
          const info = kindOrThrow(targets[0] ?? '');
          const list = await c.request<{ items: KObject[] }>('get', { kind: info.kind, namespace: ns, ...(o.selector ? { labelSelector: o.selector } : {}) });
          for (const obj of list.items) jobs.push({ kind: info.kind, name: obj.metadata.name });
        } else {
          for (const { info, names } of parseResourceArgs(targets)) for (const name of names) jobs.push({ kind: info.kind, name });
        }
        if (!jobs.length) throw new CliError('error: no resources found to update');
        for (const j of jobs) {
          const cur = await c.request<KObject>('get', { kind: j.kind, namespace: ns, name: j.name });
          const have = ((cur.metadata as Record<string, unknown>)[field] ?? {}) as Record<string, string>;
          if (!o.overwrite) {
            const clash = Object.keys(set).find((k) => k in have && have[k] !== set[k]);
            if (clash) throw new CliError(`error: '${clash}' already has a value (${have[clash]}), and --overwrite is false`);
          }
          const patch: Record<string, string | null> = { ...set };
          for (const k of remove) patch[k] = null;
          const changed = Object.entries(patch).some(([k, v]) => (v === null ? k in have : have[k] !== v));
          if (changed) await c.request('patch', { kind: j.kind, namespace: ns, name: j.name, patch: { metadata: { [field]: patch } } });
          out(`${refName(j.kind, j.name)} ${changed ? (verb === 'label' ? 'labeled' : 'annotated') : `not ${verb === 'label' ? 'labeled' : 'annotated'}`}`);
        }
      });
    });
}

async function setUnschedulable(c: ApiClient, name: string, on: boolean): Promise<boolean> {
  const node = await c.request<KObject & { spec?: { unschedulable?: boolean } }>('get', { kind: 'Node', name });
  if (Boolean(node.spec?.unschedulable) === on) return false;
  await c.request('patch', { kind: 'Node', name, patch: { spec: { unschedulable: on ? true : null } } });
  return true;
}

function statusTable(st: Record<string, unknown>): string {
  const members = (st.members ?? st.memberList ?? []) as Array<Record<string, unknown>>;
  const q = st.quorum as { voters: number; needed: number; reachable: number; ok: boolean } | undefined;
  const lines = [
    `cluster:   ${st.cluster}${st.fleet ? ` (fleet ${String(st.fleet).slice(0, 8)})` : ''}`,
    `leader:    ${st.leader || '<none>'} (term ${st.term})`,
    `revision:  ${st.revision ?? st.appliedIndex} (commit index ${st.commitIndex ?? '?'}, last index ${st.lastIndex ?? '?'})`,
    ...(q ? [`quorum:    ${q.reachable} of ${q.voters} voters reachable, ${q.needed} needed: ${q.ok ? 'ok' : 'NO QUORUM'}`] : []),
    ...(st.storeReadOnly ? [`store:     READ-ONLY: ${st.storeReadOnly}`] : []),
    `version:   ${st.version}`,
    '',
  ];
  const rows = members.map((m) => [
    String(m.name), m.name === st.leader ? 'leader' : m.voter ? 'voter' : 'learner', String(m.address ?? '<none>'),
    m.reachable ? 'yes' : 'no', m.lastContactMs === undefined ? '-' : `${(Number(m.lastContactMs) / 1000).toFixed(1)}s`, m.matchIndex === undefined ? '-' : String(m.matchIndex),
  ]);
  return lines.join('\n') + tabulate([['MEMBER', 'ROLE', 'ADDRESS', 'REACHABLE', 'LAST-CONTACT', 'MATCH-INDEX'], ...rows]);
}

export function registerFleetCommands(program: Command): void {
  registerMetadataVerb(program, 'label');
  registerMetadataVerb(program, 'annotate');

  program.command('status')
    .description('the fleet: leader, term, members and their reachability, quorum, commit index')
    .option('-o, --output <format>', 'json|yaml')
    .action(async (o: { output?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals() as Globals;
      const conn = resolveConnection(g);
      let info: Record<string, unknown>;
      try {
        info = await withClient(cmd, (c) => c.request<Record<string, unknown>>('status'));
      } catch (err) {
        if (!conn.peers.length || !(err instanceof CliError) || /refused the token/.test(err.message)) throw err;
        // no leader answers: every member says what it sees
        const answers = await askMembers(conn);
        if (o.output === 'json') { out(JSON.stringify({ leader: null, members: answers }, null, 2)); process.exitCode = 1; return; }
        out(`leader:    <none reachable>: ${err.message}\n`);
        out(tabulate([['PEER', 'MEMBER', 'ROLE', 'TERM', 'LEADER', 'ANSWER'], ...answers.map((a) => [
          a.peer, a.view?.node ?? '-', a.view?.role ?? '-', a.view?.term === undefined ? '-' : String(a.view.term), a.view?.leader ?? '<none>', a.error ? `no: ${a.error}` : 'yes',
        ])]));
        process.exitCode = 1;
        return;
      }
      if (o.output === 'json') out(JSON.stringify(info, null, 2));
      else if (o.output === 'yaml') out(toYaml(info));
      else out(statusTable(info));
    });

  const node = program.command('node').description('fleet membership');
  node.command('remove <name>')
    .description('remove a board from the fleet (its pods are replaced elsewhere; it must rejoin with a new state directory)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withClient(cmd, async (c) => {
        await c.request('removeNode', { name }, 30_000);
        out(`node/${name} removed from the fleet`);
      });
    });

  for (const [verb, on] of [['cordon', true], ['uncordon', false]] as const) {
    program.command(`${verb} <node>`)
      .description(on ? 'mark a node unschedulable (its pods stay)' : 'mark a node schedulable again')
      .action(async (name: string, _o: unknown, cmd: Command) => {
        await withClient(cmd, async (c) => {
          const changed = await setUnschedulable(c, name, on);
          out(`node/${name} ${changed ? (on ? 'cordoned' : 'uncordoned') : `already ${on ? 'cordoned' : 'uncordoned'}`}`);
        });
      });
  }

  program.command('drain <node>')
    .description('cordon a node and evict its pods (DaemonSet pods stay, as with --ignore-daemonsets)')
    .option('--timeout <duration>', 'how long to wait for the pods to go', '60s')
    .action(async (name: string, o: { timeout: string }, cmd: Command) => {
      await withClient(cmd, async (c) => {
        if (await setUnschedulable(c, name, true)) out(`node/${name} cordoned`);
        const deadline = Date.now() + parseDuration(o.timeout);
        const pods = (await c.request<{ items: Pod[] }>('get', { kind: 'Pod', allNamespaces: true, fieldSelector: `spec.nodeName=${name}` })).items;
        const evict = pods.filter((p) => !p.metadata.ownerReferences?.some((r) => r.controller && r.kind === 'DaemonSet') && !p.metadata.deletionTimestamp);
        for (const p of evict) {
          await c.request('delete', { kind: 'Pod', namespace: p.metadata.namespace, name: p.metadata.name });
          out(`evicting pod ${p.metadata.namespace}/${p.metadata.name}`);
        }
        for (const p of evict) {
          for (;;) {
            const left = await c.request<Pod>('get', { kind: 'Pod', namespace: p.metadata.namespace, name: p.metadata.name }).catch(() => undefined);
            if (!left || left.metadata.uid !== p.metadata.uid) { out(`pod/${p.metadata.name} evicted`); break; }
            if (Date.now() > deadline) throw new CliError(`error: timed out waiting for pod ${p.metadata.namespace}/${p.metadata.name} to leave node ${name}`);
            await new Promise((r) => setTimeout(r, 250));
          }
        }
        out(`node/${name} drained`);
      });
    });
}
