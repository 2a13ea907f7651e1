/**
 * `pifleet-setup`: fleet plan -> SD-card boot files.
 *   validate --plan FILE                      check a plan (exit 1 with FILE:LINE:COL lines)
 *   plan     --plan FILE [--bundle FILE]      a table per board of what write would do
 *   write    --plan FILE --board NAME (--boot DIR | --image FILE.img) [--bundle FILE]
 * Exit codes: 0 ok, 1 invalid input (plan, secrets, options), 2 target refused.
 * Results go to stdout, progress and warnings to stderr.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { findBoard, loadPlan, PlanError, type Board, type FleetPlan } from './plan.js';
import { ensureSecrets, readSecrets, secretsNotIgnoredWarning, secretsPathFor, SecretsError } from './secrets.js';
import { BUNDLE_ON_BOOT, DAEMON_CONFIG_PATH } from './render/cloudinit.js';
import { CGROUP_FLAGS } from './render/cmdline.js';
import { DNSMASQ_CONF_PATH } from './render/dnsmasq.js';
import { notABootPartition, TargetRefused, type BootTarget } from './target/target.js';
import { openBootDir } from './target/boot-dir.js';
import { openImage } from './target/image.js';
import { writeBoard, SEED_FILES } from './writer.js';

export interface CliDeps {
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
  randomBytes?: (n: number) => Buffer;
}

/** An error the user can act on, with the exit code it maps to. */
class UsageError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

function line(write: (s: string) => void): (s: string) => void {
  return (s) => write(s.endsWith('\n') ? s : `${s}\n`);
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ').trimEnd()).join('\n');
}

function kv(m: Record<string, string>): string {
  const e = Object.entries(m);
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(',') : '-';
}

function filesFor(fleet: FleetPlan, board: Board, withBundle: boolean): string[] {
  const files = [...SEED_FILES.filter((f) => f !== 'meta-data'), `cmdline.txt (+${CGROUP_FLAGS.join(' ')})`];
  if (withBundle) files.push(BUNDLE_ON_BOOT);
  files.push('meta-data');
  const onBoard = [DAEMON_CONFIG_PATH];
  if (board.hostname === fleet.gateway.hostname) onBoard.push(DNSMASQ_CONF_PATH);
  return [...files, `(first boot writes ${onBoard.join(', ')})`];
}

/** Does a bundle carry its own Node binary? (tar listing; for nodeRuntime: bundle) */
function bundleHasNode(file: string): boolean {
  const r = spawnSync('tar', ['-tzf', file], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new UsageError(`${file}: not a readable .tar.gz bundle: ${(r.stderr || '').trim()} (build it with npm run bundle)`);
  return r.stdout.split('\n').some((l) => l.replace(/^\.\//, '') === 'node/bin/node');
}

export async function main(argv: string[], deps: CliDeps = {}): Promise<number> {
  const out = line(deps.stdout ?? ((s) => process.stdout.write(s)));
  const err = line(deps.stderr ?? ((s) => process.stderr.write(s)));
  const randomBytes = deps.randomBytes ?? nodeRandomBytes;

  const program = new Command('pifleet-setup')
    .description('Turn a fleet plan into Raspberry Pi boot files: hostnames, addresses, DHCP/DNS on the gateway, the pifleet daemon')
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => (deps.stdout ?? ((x) => process.stdout.write(x)))(s), writeErr: (s) => (deps.stderr ?? ((x) => process.stderr.write(x)))(s) });

  program.command('validate')
    .description('check a fleet plan; prints every problem as FILE:LINE:COL field: reason')
    .requiredOption('--plan <file>', 'the fleet plan (see config/fleet.example.yaml)')
    .action((o: { plan: string }) => {
      const fleet = loadPlan(o.plan);
      const secrets = secretsPathFor(o.plan);
      readSecrets(secrets); // reports a secrets file with bad permissions or content
      out(`${o.plan}: valid: cluster ${fleet.plan.cluster}, ${fleet.plan.boards.length} board(s), gateway ${fleet.gateway.hostname} ${fleet.gateway.address}, ` +
        `DHCP ${fleet.plan.network.dhcp.rangeStart}-${fleet.plan.network.dhcp.rangeEnd}, domain ${fleet.plan.network.dns.domain}`);
    });

  program.command('plan')
    .description('print, per board, what `write` would put on its card')
    .requiredOption('--plan <file>', 'the fleet plan')
    .option('--bundle <file>', 'the daemon bundle that write would copy (npm run bundle)')
    .action((o: { plan: string; bundle?: string }) => {
      const fleet = loadPlan(o.plan);
      const net = fleet.plan.network;
      out(`cluster ${fleet.plan.cluster}: ${net.subnet}, router ${fleet.router}, DNS ${net.dns.domain} via ${fleet.gateway.hostname}, ` +
        `DHCP ${net.dhcp.rangeStart}-${net.dhcp.rangeEnd} (${net.dhcp.leaseTime}), secrets ${secretsPathFor(o.plan)}`);
      for (const b of fleet.plan.boards) {
        const gw = b.hostname === fleet.gateway.hostname;
        out('');
        out(table([
          ['HOSTNAME', 'ROLE', 'MAC', 'ADDRESS', 'LABELS', 'TAINTS'],
          [`${b.hostname}.${net.dns.domain}`, b.role, b.mac ?? '-', `${b.address}/${fleet.subnet.prefix} ${gw ? 'static' : 'dhcp (static lease)'}`,
            kv(b.labels), b.taints.length ? b.taints.map((t) => `${t.key}${t.value !== undefined ? `=${t.value}` : ''}:${t.effect}`).join(',') : '-'],
        ]));
        out(`  files: ${filesFor(fleet, b, Boolean(o.bundle)).join(', ')}`);
      }
    });

  program.command('write')
    .description('write one board\'s boot files into its mounted boot partition or into an image file')
    .requiredOption('--plan <file>', 'the fleet plan')
    .requiredOption('--board <hostname>', 'which board of the plan this card is for')
    .option('--boot <dir>', 'the mounted boot partition (bootfs) of a freshly flashed card')
    .option('--image <file>', 'a Raspberry Pi OS .img file: written through mtools, no mounting, no root')
    .option('--bundle <file>', 'the daemon bundle (npm run bundle) to copy to pifleet/ on the card')
    .action(async (o: { plan: string; board: string; boot?: string; image?: string; bundle?: string }) => {
      if (Boolean(o.boot) === Boolean(o.image)) throw new UsageError('write needs exactly one of --boot DIR or --image FILE.img');
      const fleet = loadPlan(o.plan);
      const board = findBoard(fleet, o.board);
      if (!board) throw new UsageError(`${o.plan}: no board named ${o.board} (the plan has ${fleet.plan.boards.map((b) => b.hostname).join(', ')})`);
      let bundle: Buffer | undefined;
      if (o.bundle) {
        try {
          bundle = readFileSync(o.bundle);
        } catch (e) {
          throw new UsageError(`cannot read the bundle ${o.bundle}: ${(e as Error).message} (build it with npm run bundle)`);
        }
        if (fleet.plan.nodeRuntime === 'bundle' && !bundleHasNode(o.bundle)) {
          throw new UsageError(`${o.bundle} has no node/bin/node but the plan says nodeRuntime: bundle: build it with npm run bundle -- --node PATH-TO-ARM64-NODE`);
        }
      }
      // the target is checked before the secrets file is created: a refused card writes nothing
      const target: BootTarget = o.boot ? await openBootDir(o.boot) : await openImage(o.image as string);
      const secretsFile = secretsPathFor(o.plan);
      const why = notABootPartition(await target.listRoot());
      if (why) throw new TargetRefused(`${target.description}: ${why}`);
      const { secrets, created } = ensureSecrets(secretsFile, randomBytes);
      if (created) err(`created ${secretsFile} (mode 0600) with a new cluster join token: keep it, every later run reuses it`);
      const exposed = secretsNotIgnoredWarning(secretsFile);
      if (exposed) err(`warning: ${exposed}`);
      const result = await writeBoard({ fleet, board, secrets, target, ...(bundle ? { bundle } : {}), progress: (s) => err(`${s}...`) });
      for (const w of result.warnings) err(`warning: ${w}`);
      if (!bundle && !result.files.some((f) => f.path === BUNDLE_ON_BOOT)) {
        const has = await target.read(BUNDLE_ON_BOOT);
        if (!has) err(`warning: no --bundle and no ${BUNDLE_ON_BOOT} on the card: the first boot cannot install the daemon (npm run bundle, then write again with --bundle)`);
      }
      out(`${board.hostname} -> ${target.description}:`);
      out(table(result.files.map((f) => ['  ' + f.path, f.state === 'unchanged' ? 'unchanged (no changes)' : f.state])));
      const changed = result.files.filter((f) => f.state !== 'unchanged').length;
      out(changed ? `${changed} file(s) written` : 'no changes');
    });

  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0 ? 0 : 1;
    }
    if (e instanceof PlanError) {
      for (const p of e.problems) err(p);
      err(`${e.problems.length} problem(s) in the fleet plan; nothing was written`);
      return 1;
    }
    if (e instanceof SecretsError) { err(`error: ${e.message}`); return 1; }
    if (e instanceof UsageError) { err(`error: ${e.message}`); return e.exitCode; }
    if (e instanceof TargetRefused) { err(`refused: ${e.message}`); return 2; }
    err(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
