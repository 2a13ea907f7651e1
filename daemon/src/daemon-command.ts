/**
 * `pifleet daemon`: load the config, start the daemon, stop it on SIGTERM/SIGINT. Only the
 * entry (main.ts) imports this module, and only when the daemon is asked for: the CLI never
 * loads the daemon's modules.
 */
import { loadConfig, ConfigError, type ConfigInput } from './config.js';
import { startDaemon } from './daemon.js';
import { createLogger } from './lib/logger.js';
import type { DaemonFlags } from './cli/main.js';

export type { DaemonFlags };

export async function runDaemonCommand(flags: DaemonFlags): Promise<void> {
  const input: Record<string, unknown> = {};
  if (flags.stateDir) input.stateDir = flags.stateDir;
  if (flags.nodeName) input.nodeName = flags.nodeName;
  if (flags.cluster) input.cluster = flags.cluster;
  if (flags.logLevel) input.logLevel = flags.logLevel;
  if (flags.mqttPort !== undefined || flags.mqttWsPort !== undefined) {
    input.mqtt = { ...(flags.mqttPort !== undefined ? { port: flags.mqttPort } : {}), ...(flags.mqttWsPort !== undefined ? { wsPort: flags.mqttWsPort } : {}) };
  }
  const file = flags.config ?? process.env.PIFLEET_CONFIG;
  let cfg;
  try {
    cfg = loadConfig({ ...(file ? { file } : {}), flags: input as ConfigInput });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`pifleet daemon: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
  const logger = createLogger({ level: cfg.logLevel, base: { node: cfg.nodeName, cluster: cfg.cluster } });
  let handle;
  try {
    handle = await startDaemon(cfg, { logger });
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, 'pifleet daemon could not start');
    logger.flush?.();
    process.exitCode = 1;
    return;
  }
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'signal received');
      const force = setTimeout(() => { logger.error('shutdown took longer than 20 s; exiting anyway'); process.exit(1); }, 20_000);
      force.unref();
      handle.stop().then(resolve, (err) => { logger.error({ err: (err as Error).message }, 'error while stopping'); resolve(); });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
