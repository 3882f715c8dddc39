/** What every publish needs from the configuration: one place, so a CLI run and a worker keep the same versions. */
import { parseDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import type { PublishDeps } from './types.js';

export function publishDeps(redis: RedisClient, keys: Keys, config: Pick<Config, 'table'>): PublishDeps {
  const { versionsKept, keepFor, stageBatch, stageInFlight, stageDuty } = config.table;
  const stage = { batch: stageBatch, inFlight: stageInFlight, duty: stageDuty };
  return { redis, keys, versionsKept, keepForMs: parseDuration(keepFor), stage };
}
