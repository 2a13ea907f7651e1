/**
 * The verbs about pifleet itself, as kubectl has them: `version` (client, and the server's from
 * the `version` op), `api-resources` (the kinds of api/kinds.ts), `explain` (the schemas, loaded
 * only by this command) and `completion bash|zsh`.
 */
import { Option, type Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { KINDS, type KindInfo } from '../api/kinds.js';
import { VERSION } from '../version.js';
import { CliError } from './client.js';
import { err, out, withClient } from './common.js';
import { ALL_KINDS, kindOrThrow } from './resources.js';
import { tabulate } from './print/tabwriter.js';

interface VersionInfo { major: string; minor: string; gitVersion: string; nodeVersion?: string; platform?: string }

const GO_ARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

export function versionInfo(version: string, runtime?: { node: string; platform: string; arch: string }): VersionInfo {
  const [major = '0', minor = '0'] = version.replace(/^v/, '').split('.');
  return {
    major, minor, gitVersion: `v${version.replace(/^v/, '')}`,
    ...(runtime ? { nodeVersion: runtime.node, platform: `${runtime.platform}/${GO_ARCH[runtime.arch] ?? runtime.arch}` } : {}),
  };
}

/** kubectl's skew warning: the major version differs, or the minor one by more than one. */
export function skewWarning(client: VersionInfo, server: VersionInfo): string | undefined {
  const [cM, cm, sM, sm] = [client.major, client.minor, server.major, server.minor].map(Number) as [number, number, number, number];
  if (cM === sM && Math.abs(cm - sm) <= 1) return undefined;
  return `version difference between client (${cM}.${cm}) and server (${sM}.${sm}) exceeds the supported minor version skew of +/-1`;
}

/** Verbs the API serves per kind, as api-resources -o wide lists them. */
function verbsOf(k: KindInfo): string[] {
  if (k.kind === 'Event') return ['get', 'list', 'watch'];
  if (k.kind === 'Node') return ['get', 'list', 'patch', 'watch'];
  return ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
}

export function apiResources(o: { output?: string; namespaced?: boolean; apiGroup?: string; sortBy?: string; noHeaders?: boolean }): string {
  const group = (k: KindInfo): string => (k.apiVersion.includes('/') ? k.apiVersion.split('/')[0] as string : '');
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  const key = (k: KindInfo): string => (o.sortBy === 'name' ? k.plural : o.sortBy === 'kind' ? k.kind : group(k));
  const kinds = KINDS.filter((k) => (o.namespaced === undefined || k.namespaced === o.namespaced) && (o.apiGroup === undefined || group(k) === o.apiGroup))
    .sort((a, b) => cmp(key(a), key(b)) || cmp(a.plural, b.plural));
  if (o.output === 'name') return kinds.map((k) => `${k.plural}${group(k) ? `.${group(k)}` : ''}\n`).join('');
  const wide = o.output === 'wide';
  const header = ['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND', ...(wide ? ['VERBS', 'CATEGORIES'] : [])];
  const rows = kinds.map((k) => [k.plural, k.shortNames.join(','), k.apiVersion, String(k.namespaced), k.kind,
    ...(wide ? [verbsOf(k).join(','), ALL_KINDS.includes(k.kind) ? 'all' : ''] : [])]);
  return tabulate(o.noHeaders ? rows : [header, ...rows]);
}

function parseBool(flag: string): (v: string) => boolean {
  return (v) => {
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw new CliError(`error: invalid argument "${v}" for "${flag}" flag: use true or false`);
  };
}

export function registerInfoCommands(program: Command): void {
  program.command('version')
    .description("print the client's version and the server's (the fleet's leader)")
    .option('--client', 'the client version only (no server needed)')
    .addOption(new Option('-o, --output <format>', 'yaml or json').choices(['yaml', 'json']))
    .action(async (o: { client?: boolean; output?: 'yaml' | 'json' }, cmd: Command) => {
      const client = versionInfo(VERSION, { node: process.version, platform: process.platform, arch: process.arch });
      let server: VersionInfo | undefined;
      let failure: unknown;
      if (!o.client) {
        try {
          server = versionInfo(await withClient(cmd, async (c) => (await c.request<{ version: string }>('version', {}, 10_000)).version));
        } catch (e) {
          failure = e;
        }
      }
      const info = { clientVersion: client, ...(server ? { serverVersion: server } : {}) };
      if (o.output === 'json') out(JSON.stringify(info, null, 2));
      else if (o.output === 'yaml') process.stdout.write(`${toYaml(info)}\n`);
      else out(`Client Version: ${client.gitVersion}${server ? `\nServer Version: ${server.gitVersion}` : ''}`);
      const warning = server && skewWarning(client, server);
      if (warning) err(`Warning: ${warning}`);
      if (failure) throw failure;
    });

  program.command('api-resources')
    .description('list the kinds the fleet serves: NAME SHORTNAMES APIVERSION NAMESPACED KIND')
    .addOption(new Option('-o, --output <format>', 'wide or name').choices(['wide', 'name']))
    .option('--namespaced [bool]', 'only namespaced kinds (true, the default of the flag) or only cluster-wide ones (false)', parseBool('--namespaced'))
    .option('--api-group <group>', 'only the kinds of this API group ("" for the core group)')
    .addOption(new Option('--sort-by <field>', 'sort by name or kind (default: API group)').choices(['name', 'kind']))
    .option('--no-headers', 'omit the header row')
    .action((o: { output?: string; namespaced?: boolean; apiGroup?: string; sortBy?: string; headers: boolean }) => {
      out(apiResources({ ...o, noHeaders: !o.headers }));
    });

  program.command('explain')
    .description('document a kind or a field of it: pifleet explain deployment.spec.strategy [--recursive]')
    .argument('<resource>', 'KIND or KIND.FIELD.PATH, e.g. pods, deploy.spec.template')
    .option('--recursive', 'list all fields of all levels (names and types only)')
    .action(async (resource: string, o: { recursive?: boolean }) => {
      const [kind = '', ...path] = resource.split('.');
      const info = kindOrThrow(kind);
      const { explain, ExplainError } = await import('./explain/print.js');
      try {
        process.stdout.write(explain(info, path.filter(Boolean), { recursive: Boolean(o.recursive) }));
      } catch (e) {
        if (e instanceof ExplainError) throw new CliError(`error: ${e.message}`);
        throw e;
      }
    });

  const completion = program.command('completion').description('print a shell completion script: source <(pifleet completion bash)');
  for (const shell of ['bash', 'zsh'] as const) {
    completion.command(shell)
      .description(`the ${shell} completion script (${shell === 'bash' ? 'source <(pifleet completion bash), or save it in /etc/bash_completion.d/pifleet' : 'source <(pifleet completion zsh) after compinit, or save it as _pifleet in your $fpath'})`)
      .action(async () => {
        const { completionScript } = await import('./completion.js');
        process.stdout.write(completionScript(shell, program));
      });
  }
}
