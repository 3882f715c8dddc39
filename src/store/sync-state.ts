/** Per-source sync state kept between runs: the delta watermark. */
import type { Watermark } from '../directory/ldap/watermark.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

export async function readWatermark(redis: RedisClient, keys: Keys, source: string): Promise<Watermark | undefined> {
  const json = await redis.hget(keys.syncState, source);
  return json ? (JSON.parse(json) as Watermark) : undefined;
}

export async function writeWatermark(redis: RedisClient, keys: Keys, source: string, watermark: Watermark | undefined): Promise<void> {
  if (watermark === undefined) await redis.hdel(keys.syncState, source);
  else await redis.hset(keys.syncState, source, JSON.stringify(watermark));
}
