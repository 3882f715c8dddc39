/**
 * The relays' mark that a table is being read (src/store/lookup-beacon.ts) on a real Redis:
 * renewed at most once a BEACON_EVERY_MS however many lookups, and gone BEACON_TTL_MS after
 * the last renewal; a write that fails while Redis is away is dropped, not retried at every
 * lookup.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, expect, it, onTestFinished } from 'vitest';
import { startRedis } from '../../src/main/embedded-redis.js';
import { BEACON_EVERY_MS, BEACON_TTL_MS, createLookupBeacon, lookupsSeen } from '../../src/store/lookup-beacon.js';
import { connected, createRedis } from '../../src/store/redis.js';
import { testEnv, type TestEnv } from '../helpers/env.js';

let env: TestEnv;
beforeEach(async () => {
  env = await testEnv();
});
afterEach(async () => env.cleanup());

it('is set at the first lookup, renewed at most once a second, and lasts BEACON_TTL_MS', async () => {
  let now = 50_000;
  const beacon = createLookupBeacon(env.redis, env.keys, 'relay a', () => now);
  const mark = async (): Promise<[string | null, number]> =>
    Promise.all([env.redis.get(env.keys.lookupsSeen), env.redis.pttl(env.keys.lookupsSeen)]);
  expect(await lookupsSeen(env.redis, env.keys)).toBe(false);
  beacon.seen();
  expect(await lookupsSeen(env.redis, env.keys)).toBe(true);
  const [value, ttl] = await mark();
  expect(value).toBe('relay a');
  expect(ttl).toBeGreaterThan(BEACON_TTL_MS - 1000);
  expect(ttl).toBeLessThanOrEqual(BEACON_TTL_MS);
  // another writer's mark (no renewal within the second would overwrite it)
  await env.redis.set(env.keys.lookupsSeen, 'relay b', 'PX', 60_000);
  now += BEACON_EVERY_MS - 1;
  for (let i = 0; i < 1000; i++) beacon.seen();
  expect((await mark())[0]).toBe('relay b');
  now += 1;
  beacon.seen();
  const [renewed, ttlAgain] = await mark();
  expect(renewed).toBe('relay a');
  expect(ttlAgain).toBeLessThanOrEqual(BEACON_TTL_MS);
  await env.redis.pexpire(env.keys.lookupsSeen, 1); // as if BEACON_TTL_MS passed without a lookup
  await new Promise((r) => setTimeout(r, 20));
  expect(await lookupsSeen(env.redis, env.keys)).toBe(false);
});

it('drops a write that fails while Redis is away, and tries again only a second later', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-beacon-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  let redis = await startRedis({ dir });
  onTestFinished(() => redis.stop());
  // the relay's lookup connection: fails fast, no offline queue (src/store/redis.ts)
  const client = createRedis({ ...env.config.redis, url: redis.url }, 'lookup');
  client.on('error', () => undefined);
  onTestFinished(() => client.disconnect());
  await connected(client);
  const admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined);
  onTestFinished(() => admin.disconnect());
  let now = 10_000;
  const beacon = createLookupBeacon(client, env.keys, 'relay a', () => now);
  const rejections: unknown[] = [];
  const onRejection = (e: unknown): number => rejections.push(e);
  process.on('unhandledRejection', onRejection);
  onTestFinished(() => void process.off('unhandledRejection', onRejection));

  await redis.stop();
  beacon.seen(); // fails: Redis is away
  await new Promise((r) => setTimeout(r, 50));
  redis = await startRedis({ dir, port: redis.port });
  await connected(client, 10_000);
  now += BEACON_EVERY_MS - 1;
  beacon.seen(); // within the second of the failed write: not sent
  await client.ping();
  expect(await admin.exists(env.keys.lookupsSeen)).toBe(0);
  now += 1;
  beacon.seen();
  await client.ping();
  expect(await admin.get(env.keys.lookupsSeen)).toBe('relay a');
  expect(rejections).toEqual([]);
});
