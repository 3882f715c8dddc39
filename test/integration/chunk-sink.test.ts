/**
 * The DATA chunk sink on a real Redis (SPEC §5 "Bounded resources"): chunks land in the
 * message's data hash in order; the first chunk sets the data's expiry and renews the
 * transaction's budget reservation, and later chunks renew them only every quarter of the
 * shorter lifetime, so a 30 MB message costs one command per chunk, not three.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DATA_TTL_MS } from '../../src/mailqueue/body.js';
import { shardOf } from '../../src/mailqueue/ids.js';
import { createQueueStore } from '../../src/mailqueue/store.js';
import { testEnv, type TestEnv } from '../helpers/env.js';

let env: TestEnv | undefined;
afterEach(async () => {
  await env?.cleanup();
  env = undefined;
});

describe('chunk sink', () => {
  it('writes chunks in order and renews expiry and reservation at the first chunk, then only every quarter lifetime', async () => {
    env = await testEnv();
    const reservationMs = 8_000; // renewed at most every 2 s
    const store = createQueueStore(env.redis, env.keys, { shards: 2, reservationMs });
    const id = store.newId();
    const k = env.keys.mqShard(shardOf(id));
    expect((await store.reserve(id, 1000, 1_000_000)).granted).toBe(true);
    const reservedUntil = async (): Promise<number> => Number(await env?.redis.zscore(k.reservations, id));

    const sink = store.sink(id);
    const before = Date.now();
    await sink.write(Buffer.from('chunk zero'));
    const ttl = await env.redis.pttl(k.data(id));
    expect(ttl).toBeGreaterThan(DATA_TTL_MS - 5_000);
    const first = await reservedUntil();
    expect(first).toBeGreaterThanOrEqual(before + reservationMs);

    // a second chunk at once: no renewal (the score stays), the chunk is stored
    await env.redis.zadd(k.reservations, 'XX', first - 1000, id);
    await sink.write(Buffer.from('chunk one'));
    expect(await reservedUntil()).toBe(first - 1000);

    // a quarter of the reservation later: the next chunk renews it
    await new Promise((r) => setTimeout(r, reservationMs / 4 + 100));
    const later = Date.now();
    await sink.write(Buffer.from('chunk two'));
    expect(await reservedUntil()).toBeGreaterThanOrEqual(later + reservationMs);

    expect(sink.count).toBe(3);
    const stored = await env.redis.hgetallBuffer(k.data(id));
    expect(Object.keys(stored).sort()).toEqual(['0', '1', '2']);
    expect(stored['1']?.toString()).toBe('chunk one');
  });
});
