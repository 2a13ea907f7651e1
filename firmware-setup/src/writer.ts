/**
 * Writing one board's boot files into a target: decide (pure: desired bytes vs current
 * bytes -> created/updated/unchanged per file), then execute only the changes. A second run
 * with the same plan and secrets finds every file unchanged and writes nothing.
 */
import type { Board, FleetPlan } from './plan.js';
import type { Secrets } from './secrets.js';
import { renderBoardFiles, BUNDLE_ON_BOOT } from './render/cloudinit.js';
import { addCgroupFlags, CmdlineError } from './render/cmdline.js';
import { notABootPartition, TargetRefused, type BootTarget } from './target/target.js';

export type FileState = 'created' | 'updated' | 'unchanged';

export interface DesiredFile {
  path: string;
  data: Buffer;
}

export interface FileChange extends DesiredFile {
  state: FileState;
}

export interface WriteResult {
  files: { path: string; state: FileState; bytes: number }[];
  warnings: string[];
}

/** Files written for every board (the bundle is added when one is given). */
export const SEED_FILES = ['user-data', 'network-config', 'meta-data'] as const;

/** Pure: compare each desired file with what the target holds. */
export function planChanges(desired: DesiredFile[], current: Map<string, Buffer | undefined>): FileChange[] {
  return desired.map((f) => {
    const cur = current.get(f.path);
    const state: FileState = cur === undefined ? 'created' : cur.equals(f.data) ? 'unchanged' : 'updated';
    return { ...f, state };
  });
}

export interface WriteBoardOptions {
  fleet: FleetPlan;
  board: Board;
  secrets: Secrets;
  target: BootTarget;
  /** The daemon bundle's bytes, copied to pifleet/pifleet-bundle.tar.gz. */
  bundle?: Buffer;
  /** Progress lines for long work (stderr in the CLI). */
  progress?: (line: string) => void;
}

export async function writeBoard(opts: WriteBoardOptions): Promise<WriteResult> {
  const { target, board } = opts;
  const progress = opts.progress ?? (() => {});
  const warnings: string[] = [];
  progress(`reading ${target.description}`);
  const names = await target.listRoot();
  const why = notABootPartition(names);
  if (why) throw new TargetRefused(`${target.description}: ${why}`);
  if (!names.some((n) => /^(user-data|meta-data|network-config)$/i.test(n))) {
    warnings.push(`${target.description} has no cloud-init files yet: only Raspberry Pi OS images from 2025-10 on (trixie) ` +
      'read user-data/network-config on first boot; older (bookworm) images ignore them (see docs/provisioning.md)');
  }
  const cmdline = (await target.read('cmdline.txt')) as Buffer;
  let newCmdline;
  try {
    newCmdline = addCgroupFlags(cmdline.toString('utf8'));
  } catch (err) {
    if (err instanceof CmdlineError) throw new TargetRefused(`${target.description}: ${err.message}`);
    throw err;
  }
  warnings.push(...newCmdline.warnings);
  const files = renderBoardFiles(opts.fleet, board, opts.secrets);
  const desired: DesiredFile[] = [
    ...SEED_FILES.filter((n) => n !== 'meta-data').map((n) => ({ path: n, data: Buffer.from(files[n]) })),
    { path: 'cmdline.txt', data: Buffer.from(newCmdline.text, 'utf8') },
  ];
  if (opts.bundle) desired.push({ path: BUNDLE_ON_BOOT, data: opts.bundle });
  // meta-data last: its instance-id tells cloud-init the rest is new, so write it when the rest is there
  desired.push({ path: 'meta-data', data: Buffer.from(files['meta-data']) });
  const current = new Map<string, Buffer | undefined>();
  for (const f of desired) {
    if (f.data.length > 1 << 20) progress(`comparing ${f.path} (${(f.data.length / 1048576).toFixed(1)} MiB)`);
    current.set(f.path, await target.read(f.path));
  }
  const changes = planChanges(desired, current);
  for (const c of changes) {
    if (c.state === 'unchanged') continue;
    if (c.data.length > 1 << 20) progress(`writing ${c.path} (${(c.data.length / 1048576).toFixed(1)} MiB)`);
    await target.write(c.path, c.data);
  }
  return { files: changes.map((c) => ({ path: c.path, state: c.state, bytes: c.data.length })), warnings };
}
