/**
 * `pifleet top pods|nodes` (kubectl top): CPU and memory as the nodes last measured them (each
 * agent samples with its heartbeat; the leader answers the `metrics` request), in kubectl's
 * columns and units: CPU in millicores (`250m`), memory (working set) in MiB (`64Mi`), and for
 * nodes the share of their allocatable CPU and memory.
 *
 *   pifleet top pods [NAME] [-n NS | -A] [--containers] [-l SELECTOR] [--sort-by cpu|memory]
 *   pifleet top nodes [NAME] [-l SELECTOR] [--sort-by cpu|memory]
 */
import type { Command } from 'commander';
import type { KObject, Node } from '../api/types.js';
import { parseQuantity } from '../api/quantity.js';
import { ApiClient, CliError, resolveConnection, type ConnectionOptions } from './client.js';
import { parseDuration } from './resources.js';
import { tabulate } from './print/tabwriter.js';

interface Globals extends ConnectionOptions { namespace?: string; requestTimeout?: string }

/** The `metrics` answer as the CLI reads it (metrics.k8s.io/v1beta1 shapes). */
interface Usage { cpu: string; memory: string }
export interface PodMetricsItem { metadata: { name: string; namespace: string }; containers: Array<{ name: string; usage: Usage }> }
export interface NodeMetricsItem { metadata: { name: string }; usage: Usage }

export interface TopOptions {
  allNamespaces?: boolean;
  containers?: boolean;
  sortBy?: 'cpu' | 'memory';
  noHeaders?: boolean;
}

/** A usage quantity as a number (cores, bytes); 0 when it does not parse. */
const value = (q: string): number => parseQuantity(q) ?? 0;

/** kubectl's CPU cell: millicores, rounded up as Quantity.MilliValue() does. */
export function formatCpu(cores: number): string {
  return `${Math.ceil(cores * 1000 - 1e-6)}m`;
}

/** kubectl's memory cell: whole MiB, rounded down. */
export function formatMemory(bytes: number): string {
  return `${Math.floor(bytes / (1024 * 1024))}Mi`;
}

/** kubectl's percentage cell: usage of the allocatable amount, truncated. */
export function formatPercent(used: number, allocatable: number): string {
  return allocatable > 0 ? `${Math.trunc((used / allocatable) * 100)}%` : '<unknown>';
}

function sortRows<T>(rows: T[], by: TopOptions['sortBy'], cpu: (r: T) => number, mem: (r: T) => number): T[] {
  if (!by) return rows;
  const key = by === 'cpu' ? cpu : mem;
  return [...rows].sort((a, b) => key(b) - key(a));
}

/** The `top pods` table. */
export function renderPodTable(items: PodMetricsItem[], o: TopOptions): string {
  const ns = (m: PodMetricsItem): string[] => (o.allNamespaces ? [m.metadata.namespace] : []);
  const header = [...(o.allNamespaces ? ['NAMESPACE'] : []), ...(o.containers ? ['POD', 'NAME'] : ['NAME']), 'CPU(cores)', 'MEMORY(bytes)'];
  let rows: Array<{ cells: string[]; cpu: number; mem: number }>;
  if (o.containers) {
    rows = items.flatMap((m) => m.containers.map((c) => {
      const cpu = value(c.usage.cpu);
      const mem = value(c.usage.memory);
      return { cells: [...ns(m), m.metadata.name, c.name, formatCpu(cpu), formatMemory(mem)], cpu, mem };
    }));
  } else {
    rows = items.map((m) => {
      const cpu = m.containers.reduce((s, c) => s + value(c.usage.cpu), 0);
      const mem = m.containers.reduce((s, c) => s + value(c.usage.memory), 0);
      return { cells: [...ns(m), m.metadata.name, formatCpu(cpu), formatMemory(mem)], cpu, mem };
    });
  }
  const sorted = sortRows(rows, o.sortBy, (r) => r.cpu, (r) => r.mem);
  return tabulate([...(o.noHeaders ? [] : [header]), ...sorted.map((r) => r.cells)]);
}

/** The `top nodes` table; nodes without figures yet are listed last with <unknown>, as kubectl does. */
export function renderNodeTable(items: NodeMetricsItem[], nodes: Node[], o: TopOptions): string {
  const header = ['NAME', 'CPU(cores)', 'CPU(%)', 'MEMORY(bytes)', 'MEMORY(%)'];
  const allocatable = new Map(nodes.map((n) => [n.metadata.name, n.status?.allocatable ?? {}]));
  const rows = items.map((m) => {
    const a = allocatable.get(m.metadata.name) ?? {};
    const cpu = value(m.usage.cpu);
    const mem = value(m.usage.memory);
    const cpuCap = parseQuantity(a.cpu) ?? 0;
    const memCap = parseQuantity(a.memory) ?? 0;
    return { cells: [m.metadata.name, formatCpu(cpu), formatPercent(cpu, cpuCap), formatMemory(mem), formatPercent(mem, memCap)], cpu, mem };
  });
  const measured = new Set(items.map((m) => m.metadata.name));
  const missing = nodes.filter((n) => !measured.has(n.metadata.name)).map((n) => [n.metadata.name, '<unknown>', '<unknown>', '<unknown>', '<unknown>']);
  const sorted = sortRows(rows, o.sortBy, (r) => r.cpu, (r) => r.mem);
  return tabulate([...(o.noHeaders ? [] : [header]), ...sorted.map((r) => r.cells), ...missing]);
}

const write = (s: string): void => { if (s) process.stdout.write(s.endsWith('\n') ? s : `${s}\n`); };

async function withClient<T>(cmd: Command, fn: (c: ApiClient, g: Globals) => Promise<T>): Promise<T> {
  const g = cmd.optsWithGlobals() as Globals;
  const client = await ApiClient.connect(resolveConnection(g), g.requestTimeout ? parseDuration(g.requestTimeout) : 5000);
  try {
    return await fn(client, g);
  } finally {
    await client.close();
  }
}

function sortByOption(v: string | undefined): TopOptions['sortBy'] {
  if (v === undefined) return undefined;
  if (v === 'cpu' || v === 'memory') return v;
  throw new CliError(`error: --sort-by must be cpu or memory, not "${v}"`);
}

export function registerTopCommand(program: Command): void {
  const top = program.command('top').description('show CPU and memory of pods or nodes, as measured with their last heartbeat');

  top.command('pod')
    .alias('pods').alias('po')
    .description('CPU (cores) and memory (working set) of pods: top pods [NAME]')
    .argument('[name]', 'one pod')
    .option('-A, --all-namespaces', 'pods of every namespace')
    .option('--containers', 'one line per container')
    .option('-l, --selector <selector>', 'pods matching this label selector')
    .option('--sort-by <column>', 'cpu or memory (largest first)')
    .option('--no-headers', 'omit the header row')
    .action(async (name: string | undefined, o: { allNamespaces?: boolean; containers?: boolean; selector?: string; sortBy?: string; headers: boolean }, cmd: Command) => {
      const opts: TopOptions = { allNamespaces: Boolean(o.allNamespaces), containers: Boolean(o.containers), sortBy: sortByOption(o.sortBy), noHeaders: !o.headers };
      await withClient(cmd, async (c, g) => {
        const namespace = g.namespace ?? 'default';
        const scope = { namespace, allNamespaces: opts.allNamespaces, ...(o.selector ? { labelSelector: o.selector } : {}) };
        const res = await c.request<{ items: PodMetricsItem[] }>('metrics', { kind: 'pods', ...scope, ...(name ? { name } : {}) });
        if (res.items.length) return write(renderPodTable(res.items, opts));
        // as kubectl: pods without figures yet are an error, no pods at all is not
        const pods = await c.request<{ items: KObject[] }>('get', { kind: 'Pod', ...scope });
        const first = pods.items[0];
        if (first) throw new CliError(`error: metrics not available yet for pod ${first.metadata.namespace ?? namespace}/${first.metadata.name}: nodes report usage with every heartbeat, try again in a few seconds`);
        process.stderr.write(opts.allNamespaces ? 'No resources found\n' : `No resources found in ${namespace} namespace.\n`);
      });
    });

  top.command('node')
    .alias('nodes').alias('no')
    .description('CPU (cores) and memory of nodes, and their share of what the node can allocate: top nodes [NAME]')
    .argument('[name]', 'one node')
    .option('-l, --selector <selector>', 'nodes matching this label selector')
    .option('--sort-by <column>', 'cpu or memory (largest first)')
    .option('--no-headers', 'omit the header row')
    .action(async (name: string | undefined, o: { selector?: string; sortBy?: string; headers: boolean }, cmd: Command) => {
      const opts: TopOptions = { sortBy: sortByOption(o.sortBy), noHeaders: !o.headers };
      await withClient(cmd, async (c) => {
        const scope = o.selector ? { labelSelector: o.selector } : {};
        const res = await c.request<{ items: NodeMetricsItem[] }>('metrics', { kind: 'nodes', ...scope, ...(name ? { name } : {}) });
        const nodes = name
          ? [await c.request<Node>('get', { kind: 'Node', name })]
          : (await c.request<{ items: Node[] }>('get', { kind: 'Node', ...scope })).items;
        write(renderNodeTable(res.items, nodes, opts));
      });
    });
}
