/**
 * relay.authFailures on a real Redis: failures below slowAfter answer at once, later ones
 * wait slowBy per failure past it, refuseAfter refuses for refuseFor; the count is one per
 * address under the namespace's hash tag, shared by every limiter (every relay).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createAuthLimiter } from '../../src/relay/auth-limit.js';
import { createKeys } from '../../src/store/keys.js';

const redis = new Redis(inject('redisUrl'));
afterAll(() => redis.disconnect());

describe('AUTH failure limiter', () => {
  it('slows from slowAfter, refuses at refuseAfter for refuseFor, per address, across limiters', async () => {
    const keys = createKeys(`authlimit-${randomUUID().slice(0, 8)}`);
    const policy = { slowAfter: 3, refuseAfter: 5, slowByMs: 200, windowMs: 600_000, refuseForMs: 3_600_000 };
    const a = createAuthLimiter(redis, keys, policy);
    const b = createAuthLimiter(redis, keys, policy); // another relay
    const timed = async (f: () => Promise<number>) => {
      const t = performance.now();
      const n = await f();
      return { n, ms: performance.now() - t };
    };
    expect(keys.authFailures('192.0.2.7')).toMatch(/^\{authlimit-[^}]+\}:relay:authfail:192\.0\.2\.7$/);
    const first = await timed(() => a.failed('192.0.2.7'));
    const second = await timed(() => b.failed('192.0.2.7'));
    expect([first.n, second.n]).toEqual([1, 2]);
    const third = await timed(() => a.failed('192.0.2.7'));
    const fourth = await timed(() => b.failed('192.0.2.7'));
    expect(third.n).toBe(3);
    expect(third.ms).toBeGreaterThanOrEqual(195); // 1 × slowBy
    expect(fourth.ms).toBeGreaterThanOrEqual(395); // 2 × slowBy
    // the window starts with the first failure and is not extended by later ones
    const windowTtl = await redis.pttl(keys.authFailures('192.0.2.7'));
    expect(windowTtl).toBeLessThanOrEqual(600_000);
    expect(windowTtl).toBeGreaterThan(590_000);
    expect(await a.refused('192.0.2.7')).toBe(false);
    expect(await a.failed('192.0.2.7')).toBe(5);
    expect(await b.refused('192.0.2.7')).toBe(true);
    expect(await a.refused('192.0.2.8')).toBe(false);
    expect(await redis.pttl(keys.authFailures('192.0.2.7'))).toBeGreaterThan(3_590_000);
  });
});
