/**
 * `switchyard migrate`: brings the data in Redis to the layout this version reads. Each
 * returned line says what was done. No migration exists yet.
 */
import type { Config } from '../config/schema.js';
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';

export interface MigrateContext {
  readonly redis: RedisClient;
  readonly keys: Keys;
  readonly config: Config;
}

export async function runMigrations(_ctx: MigrateContext): Promise<string[]> {
  return Promise.resolve(['layout already current']);
}
