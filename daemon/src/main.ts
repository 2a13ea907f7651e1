/**
 * The `pifleet` entry (bin/pifleet.js runs it): the command-line client, and with `pifleet daemon`
 * the node daemon. The CLI parses every command line (so `pifleet --state-dir X daemon` and
 * `pifleet daemon --help` work as usual) and hands `daemon` back here; only then is the daemon
 * (daemon-command.ts -> daemon.ts and everything it starts) imported. The CLI's own module graph
 * holds none of the daemon's modules.
 */
import { main as cliMain } from './cli/main.js';

export async function main(argv: string[]): Promise<number> {
  return cliMain(argv, {
    runDaemon: async (flags) => {
      const { runDaemonCommand } = await import('./daemon-command.js');
      await runDaemonCommand(flags);
    },
  });
}
