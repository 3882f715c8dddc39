/**
 * Pinned sources (SPEC §3.2): a rollback pins each source whose state it changes (set in
 * rollback.lua, atomically with the new version); a pinned source's scheduled syncs are
 * skipped and a requested one refused until `switchyard resume SOURCE` unpins it.
 */
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

export interface Pin {
  /** The table version whose state of the source the rollback restored. */
  readonly version: number;
  /** When the rollback pinned it (ISO time). */
  readonly since: string;
  /** The table version the rollback published. */
  readonly tableVersion?: number;
}

/** A sync of a pinned source was asked for: `resume` first. */
export class SourcePinnedError extends Error {
  readonly code = 'SY_PINNED';
}

export async function readPins(redis: RedisClient, keys: Keys): Promise<Map<string, Pin>> {
  const all = await redis.hgetall(keys.pins);
  return new Map(Object.entries(all).map(([k, v]) => [k, JSON.parse(v) as Pin]));
}

export async function readPin(redis: RedisClient, keys: Keys, source: string): Promise<Pin | undefined> {
  const json = await redis.hget(keys.pins, source);
  return json ? (JSON.parse(json) as Pin) : undefined;
}

/** Removes the pin; true when there was one. */
export async function unpin(redis: RedisClient, keys: Keys, source: string): Promise<boolean> {
  return (await redis.hdel(keys.pins, source)) > 0;
}

export function pinText(p: Pin): string {
  return `paused since rollback to v${p.version} (${p.since}); run switchyard resume to sync it again`;
}

/** Throws SourcePinnedError when `source` is pinned. */
export async function refuseIfPinned(redis: RedisClient, keys: Keys, source: string): Promise<void> {
  const pin = await readPin(redis, keys, source);
  if (pin) {
    throw new SourcePinnedError(
      `source ${source} is pinned: ${pinText(pin).split(';')[0]}; its syncs are paused — run "switchyard resume ${source}" (a full, guarded sync) to sync it again`,
    );
  }
}
