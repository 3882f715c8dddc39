/**
 * A pipeline's or transaction's failed command is an error, never read as a reply
 * (src/store/resent-pipeline.ts `checkedReplies`): ioredis answers them inside exec()'s
 * result instead of rejecting. Two places read them as success before: the trace's counters
 * (a failed increment was dropped without SY_TRACE_WRITE_FAILED) and the AUTH failure limiter
 * (a failed INCR read as 0 failures: the limit silently off). On a real Redis, with the key
 * of the wrong type so that Redis itself fails the command.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createAuthLimiter } from '../../src/relay/auth-limit.js';
import { writeCounts } from '../../src/trace/stats.js';
import { testEnv, type TestEnv } from '../helpers/env.js';

let env: TestEnv;
beforeEach(async () => {
  env = await testEnv();
});
afterEach(async () => {
  await env.cleanup();
});

it("throws a trace counter's failed increment, for the writer to report", async () => {
  const hour = 490_000;
  await writeCounts(env.redis, env.keys, new Map([[`${hour}/7|onprem|accepted`, 2]]));
  expect(await env.redis.hget(env.keys.stats(hour), '7|onprem|accepted')).toBe('2');
  await env.redis.set(env.keys.stats(hour + 1), 'not a hash');
  await expect(writeCounts(env.redis, env.keys, new Map([[`${hour + 1}/8|onprem|accepted`, 1]]))).rejects.toThrow(/WRONGTYPE/);
});

it('throws a failed count of AUTH failures instead of counting none', async () => {
  const limiter = createAuthLimiter(env.redis, env.keys, {
    slowAfter: 3,
    slowByMs: 1,
    refuseAfter: 5,
    windowMs: 60_000,
    refuseForMs: 60_000,
  });
  expect(await limiter.failed('127.0.0.2')).toBe(1);
  expect(await limiter.failed('127.0.0.2')).toBe(2);
  await env.redis.hset(env.keys.authFailures('127.0.0.3'), 'f', 'v');
  await expect(limiter.failed('127.0.0.3')).rejects.toThrow(/WRONGTYPE/);
});
