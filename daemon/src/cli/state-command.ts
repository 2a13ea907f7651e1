/**
 * `pifleet state check` and `pifleet state repair`: work on a state directory directly (no
 * daemon, no MQTT). check only reads; repair refuses while a daemon uses the directory.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { checkStore, formatReport, repairStore } from '../state/check.js';
import { acquireStateLock } from '../state/lock.js';
import { createSystemClock } from '../lib/clock.js';
import { createRandom } from '../lib/random.js';
import { createLogger } from '../lib/logger.js';
import { CliError, DEFAULT_STATE_DIRS } from './client.js';

const out = (s: string): void => { process.stdout.write(s.endsWith('\n') ? s : `${s}\n`); };

/** The state directory: --state-dir, PIFLEET_STATE_DIR, or the first default that has a store. */
export function resolveStateDir(flag: string | undefined, env: Record<string, string | undefined> = process.env): string {
  if (flag) return resolve(flag);
  if (env.PIFLEET_STATE_DIR) return resolve(env.PIFLEET_STATE_DIR);
  for (const d of DEFAULT_STATE_DIRS) if (existsSync(join(d, 'store'))) return resolve(d);
  throw new CliError(`no state directory found (looked for ${DEFAULT_STATE_DIRS.map((d) => join(d, 'store')).join(' and ')}): pass --state-dir DIR`);
}

export function registerStateCommands(program: Command): void {
  const state = program.command('state').description('check or repair the desired-state store of a state directory (no daemon needed)');
  state.command('check')
    .description('a read-only verdict on the store: ok, a torn last write (recovered on start) or corruption (the daemon will not start)')
    .option('-o, --output <format>', 'json|yaml')
    .action(async (o: { output?: string }, cmd: Command) => {
      const dir = resolveStateDir((cmd.optsWithGlobals() as { stateDir?: string }).stateDir);
      const report = await checkStore(join(dir, 'store'));
      if (o.output === 'json') out(JSON.stringify(report, null, 2));
      else if (o.output === 'yaml') out(toYaml(report));
      else out(formatReport(report));
      if (report.verdict === 'corrupt' || report.verdict === 'snapshot-corrupt') process.exitCode = 1;
    });
  state.command('repair')
    .description('keep a copy of a damaged log, keep the entries before the damage, and start a new lineage (the daemon must be stopped)')
    .option('--prune', 'also remove containers left from the lost part of the history (orphans) once the daemon runs again')
    .action(async (o: { prune?: boolean }, cmd: Command) => {
      const dir = resolveStateDir((cmd.optsWithGlobals() as { stateDir?: string }).stateDir);
      const release = await acquireStateLock(dir, 'cannot repair').catch((e: Error) => { throw new CliError(e.message); });
      try {
        const r = await repairStore(join(dir, 'store'), {
          clock: createSystemClock(), random: createRandom(), logger: createLogger({ level: 'warn' }), prune: Boolean(o.prune),
        }).catch((e: Error) => { throw new CliError(e.message); });
        const lines = [formatReport(r.before), ''];
        if (r.copy) lines.push(`kept a copy of the damaged log: ${r.copy}`);
        if (r.before.damage) {
          lines.push(`repaired: kept ${r.keptEntries} entries, dropped ${r.droppedBytes} bytes from byte ${r.before.damage.offset}`);
          const lost = r.before.damage.lost;
          lines.push(lost.length ? `objects lost or set back: ${lost.map((l) => `${l.key} (${l.now === 'gone' ? 'gone' : `back to ${l.now}`})`).join(', ')}` : 'no readable object changes were lost');
        } else {
          lines.push('the log had no damage: nothing dropped');
        }
        lines.push(`new lineage ${r.lineage}: containers made from other lineages ${r.prune ? 'are removed once the daemon runs again (--prune)' : 'keep running as orphans (pifleet get pods lists them) until deleted or repaired with --prune'}`);
        out(lines.join('\n'));
      } finally {
        await release();
      }
    });
}
