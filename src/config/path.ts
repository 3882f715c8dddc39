/** Where the configuration file is looked for (SPEC §7): `--config`, else `$SWITCHYARD_CONFIG`, else `./switchyard.yaml`. */
export const DEFAULT_CONFIG_FILE = './switchyard.yaml';

export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.SWITCHYARD_CONFIG || DEFAULT_CONFIG_FILE;
}
