/**
 * Whether relays are answering recipient lookups from a namespace's table: each relay
 * process that answers an RCPT sets `lookupsSeen` (src/store/keys.ts) with a TTL, at most
 * once a second, and a full staging paces itself only while the key is there
 * (src/pipeline/staging-pace.ts). A staging at night, with no mail flowing, or into a table
 * no relay reads runs at full speed; one that starts while relays answer yields Redis to
 * their lookups, and switches as they start or stop.
 */
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

/** A relay renews the mark at most this often while it answers lookups (ms). */
export const BEACON_EVERY_MS = 1_000;
/** The mark lasts this long after the last renewal (ms): a relay answering one RCPT in a few seconds keeps it. */
export const BEACON_TTL_MS = 5_000;

export interface LookupBeacon {
  /** A lookup was answered: renews the mark when the last renewal is BEACON_EVERY_MS old. */
  seen(): void;
}

/**
 * The relay's side, on a fail-fast connection (the relay's lookup client). A failed write is
 * dropped and tried again a second later at the earliest, like any other: the mark is advice
 * to stagings, never on the mail path.
 */
export function createLookupBeacon(redis: RedisClient, keys: Keys, name: string, now: () => number = Date.now): LookupBeacon {
  let last = -Infinity;
  return {
    seen(): void {
      const t = now();
      if (t - last < BEACON_EVERY_MS) return;
      last = t;
      redis.set(keys.lookupsSeen, name, 'PX', BEACON_TTL_MS).catch(() => undefined);
    },
  };
}

/** The staging's side: whether some relay answered lookups in the last BEACON_TTL_MS. */
export async function lookupsSeen(redis: RedisClient, keys: Keys): Promise<boolean> {
  return (await redis.exists(keys.lookupsSeen)) === 1;
}
