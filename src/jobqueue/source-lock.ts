/**
 * At most one sync per source at a time, whatever the mode (SPEC §6): a short Redis lock
 * per source, refreshed while the sync runs and released by its owner only. Full and
 * delta jobs are deduplicated separately (a full sync is never swallowed by a stream of
 * deltas), so this lock is what keeps them from overlapping.
 */
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';

/** How long a crashed owner blocks the source: the lock lapses this long after its last refresh. */
export const SOURCE_LOCK_TTL_MS = 60_000;
const RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
const REFRESH = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";

export interface SourceLock {
  release(): Promise<void>;
}

/** Takes the source's lock for `owner`, or returns undefined when another sync holds it. */
export async function lockSource(
  redis: RedisClient,
  keys: Keys,
  source: string,
  owner: string,
  ttlMs = SOURCE_LOCK_TTL_MS,
): Promise<SourceLock | undefined> {
  const key = keys.sourceLock(source);
  if ((await redis.set(key, owner, 'PX', ttlMs, 'NX')) !== 'OK') return undefined;
  const timer = setInterval(() => {
    void redis.eval(REFRESH, 1, key, owner, ttlMs).catch(() => undefined);
  }, ttlMs / 3);
  timer.unref();
  return {
    async release() {
      clearInterval(timer);
      await redis.eval(RELEASE, 1, key, owner).catch(() => undefined);
    },
  };
}
