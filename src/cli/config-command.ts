/** `switchyard config check`: validate and print the effective configuration, secrets redacted. */
import { stringify } from 'yaml';
import { ConfigError } from '../config/errors.js';
import { loadConfig, redactConfig } from '../config/load.js';
import { localAddresses, selfRoutesByName } from '../config/self-route.js';

export async function configCheckCommand(flags: { config: string; json?: boolean }): Promise<number> {
  try {
    const config = loadConfig(flags.config);
    // smart hosts given by name: what they resolve to now (start-up checks the same)
    const own = new Set([...localAddresses(), config.relay.hostname.toLowerCase()]);
    const loops = await selfRoutesByName(config.connectors, config.relay.listen, own);
    if (loops.length > 0) throw new ConfigError(flags.config, loops);
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
