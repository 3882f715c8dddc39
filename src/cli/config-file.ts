/** The configuration file a command reads, and what to say when there is none. Loads nothing heavy. */
import { existsSync } from 'node:fs';
import { DEFAULT_CONFIG_FILE } from '../config/path.js';

/** No configuration file where the command looked (exit code 1). */
export class MissingConfigError extends Error {
  readonly code = 'SY_CONFIG';
}

/**
 * Throws unless `path` exists, naming every place looked at — `--config`,
 * `$SWITCHYARD_CONFIG`, `./switchyard.yaml` — and how to start. `given`: from --config.
 */
export function requireConfigFile(path: string, given: boolean, env: NodeJS.ProcessEnv = process.env): void {
  if (existsSync(path)) return;
  const fromEnv = env.SWITCHYARD_CONFIG;
  const looked = [
    given ? `--config ${path} (no such file)` : '--config (not given)',
    fromEnv ? `$SWITCHYARD_CONFIG=${fromEnv}${given ? ' (not used)' : ' (no such file)'}` : '$SWITCHYARD_CONFIG (not set)',
    given || fromEnv ? `${DEFAULT_CONFIG_FILE} (not used)` : `${DEFAULT_CONFIG_FILE} (no such file)`,
  ];
  throw new MissingConfigError(
    `no configuration file; looked at ${looked.join(', ')}. To start: switchyard config init --out ${path}, edit it, then switchyard config check`,
  );
}
