/** The admin HTTP bearer token from the environment variable admin.tokenEnv names. */
import type { Config } from '../config/schema.js';
import { readSecret } from '../config/secrets.js';

export function adminToken(config: Config, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return readSecret({ env: config.admin.tokenEnv, key: 'admin.token' }, env);
}
