/** What every command registration shares: the Run wrapper, the --config option and its check. */
import { Option, type Command } from 'commander';
import { defaultConfigPath } from '../config/path.js';
import { requireConfigFile } from './config-file.js';

export interface CommonFlags {
  readonly config: string;
  readonly json?: boolean;
}

export interface ServeFlags {
  readonly config: string;
  readonly adminListen?: string;
}

/** Runs a command's task; the action returns its promise, so parseAsync awaits it. */
export type Run = (task: () => Promise<number> | number) => Promise<void>;

export function configOption(): Option {
  return new Option('--config <file>', 'configuration file').default(defaultConfigPath(), '$SWITCHYARD_CONFIG or ./switchyard.yaml');
}

/**
 * The first SIGTERM or SIGINT from now on: how a long-running command (`relay`, `worker`,
 * `up`) is told to stop. Taken before start-up, so a signal during it still stops cleanly
 * (with the log flushed) once start-up is over.
 */
export function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
}

/** Stops with where it looked unless the command's configuration file exists. */
export function configured(cmd: Command, flags: { config: string }): void {
  requireConfigFile(flags.config, cmd.getOptionValueSource('config') === 'cli');
}
