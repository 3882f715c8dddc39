/**
 * Repeated AUTH failures from one client address are slowed down, then refused for a while
 * (SPEC §5 Trust; relay.authFailures). The count lives in Redis (`{ns}:relay:authfail:<ip>`)
 * so every relay of the namespace agrees: ten failures spread over two relays refuse the
 * address on both.
 *
 * - failures below `slowAfter`: answered at once;
 * - from `slowAfter` on: each failure's reply waits `slowBy` × (failures past the threshold),
 *   capped at 5 × slowBy;
 * - at `refuseAfter`: the address is refused (454 4.7.0, no password checked) for `refuseFor`.
 * The count of an address that stops failing expires after `window`.
 */
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { checkedReplies } from '../store/resent-pipeline.js';
import type { SmtpReply } from '../routing/replies.js';

export interface AuthLimitPolicy {
  readonly slowAfter: number;
  readonly refuseAfter: number;
  readonly slowByMs: number;
  readonly windowMs: number;
  readonly refuseForMs: number;
}

export const authRefused: SmtpReply = {
  code: 454,
  enhanced: '4.7.0',
  text: 'Too many failed authentication attempts from your address, try again later',
};

export interface AuthLimiter {
  /** Whether the address is refused now (checked before any password). */
  refused(ip: string): Promise<boolean>;
  /** Counts a failure; resolves after the slow-down delay it earns. */
  failed(ip: string): Promise<number>;
}

export function createAuthLimiter(redis: RedisClient, keys: Keys, policy: AuthLimitPolicy): AuthLimiter {
  return {
    async refused(ip) {
      const n = Number((await redis.get(keys.authFailures(ip))) ?? 0);
      return n >= policy.refuseAfter;
    },
    async failed(ip) {
      const key = keys.authFailures(ip);
      // SET NX PX starts the window once; INCR keeps its expiry (any Redis version)
      // a failed INCR is thrown (the caller answers 4xx), never read as a count of 0: the limit would be off
      const n = Number(checkedReplies(await redis.multi().set(key, '0', 'PX', policy.windowMs, 'NX').incr(key).exec())[1]);
      if (n >= policy.refuseAfter) await redis.pexpire(key, policy.refuseForMs);
      else if (n >= policy.slowAfter) {
        const delay = Math.min(n - policy.slowAfter + 1, 5) * policy.slowByMs;
        await new Promise((r) => setTimeout(r, delay));
      }
      return n;
    },
  };
}
