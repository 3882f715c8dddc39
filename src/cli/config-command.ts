/** `switchyard config check`: validate and print the effective configuration, secrets redacted. */
import { stringify } from 'yaml';
import { ConfigError } from '../config/errors.js';
import { loadConfig, redactConfig } from '../config/load.js';

export function configCheckCommand(flags: { config: string; json?: boolean }): number {
  try {
    const config = loadConfig(flags.config);
    const shown = redactConfig(config);
    process.stdout.write(
      flags.json ? `${JSON.stringify(shown)}\n` : `# ${flags.config}: valid; effective configuration:\n${stringify(shown)}`,
    );
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) process.stderr.write(`${err.file}: ${p}\n`);
    return 1;
  }
}
