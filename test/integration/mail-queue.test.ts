/**
 * The sharded mail queue on a real Redis: messages spread over the shards, operations by
 * id find their shard, listing and depth cover them all, and claiming is fair: a shard
 * with a long backlog does not starve one with a few units.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { shardOf } from '../../src/mailqueue/ids.js';
import { createQueueStore, type QueueStore } from '../../src/mailqueue/store.js';
import { testEnv, type TestEnv } from '../helpers/env.js';
import { plainMeta } from '../helpers/queue-message.js';

let env: TestEnv | undefined;
afterEach(async () => {
  await env?.cleanup();
  env = undefined;
});

async function enqueue(store: QueueStore, hop = 'onprem', shard?: number): Promise<string> {
  let id = store.newId();
  while (shard !== undefined && shardOf(id) !== shard) id = store.newId();
  await store.enqueue(plainMeta(id), Buffer.from('hello'), [
    { hop, rcpts: [{ rcpt: `${id}@contoso.edu`, orig: `${id}@contoso.edu`, reason: 'mailbox' }] },
  ]);
  return id;
}

describe('sharded mail queue', () => {
  it('spreads messages round-robin over the shards and finds each by id', async () => {
    env = await testEnv();
    const store = createQueueStore(env.redis, env.keys, { shards: 4 });
    const ids = await Promise.all(Array.from({ length: 8 }, () => enqueue(store)));
    const shards = ids.map((id) => shardOf(id));
    expect([0, 1, 2, 3].map((k) => shards.filter((s) => s === k).length)).toEqual([2, 2, 2, 2]);
    for (const id of ids) expect(await env.redis.exists(env.keys.mqShard(shardOf(id)).message(id))).toBe(1);
    expect(await store.depth()).toEqual({ ready: 8, active: 0, held: 0 });

    const [a, b] = ids;
    expect(await store.control(`${a}.0`, 'hold', Date.now())).toBe(true);
    expect(await store.finish(`${b}.0`)).toBe(true);
    expect(await env.redis.exists(env.keys.mqShard(shardOf(b ?? '')).message(b ?? ''))).toBe(0);
    const listed = await store.list();
    expect(listed).toHaveLength(7);
    expect(listed.find((e) => e.msg === a)?.state).toBe('held');
    expect(await store.depth()).toEqual({ ready: 6, active: 0, held: 1 });

    const loaded = await store.load(`${ids[2]}.0`);
    expect(loaded).toBeDefined();
    const chunks: Buffer[] = [];
    if (loaded) for await (const c of store.open(loaded.meta.id, loaded.data)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('hello');
    const claimed = await store.claim(Date.now(), 60_000, 100);
    expect(claimed.uids.sort()).toEqual(
      listed
        .filter((e) => e.state === 'ready')
        .map((e) => e.uid)
        .sort(),
    );
    expect(claimed.more).toBe(false);
    await store.extend(claimed.uids, Date.now() + 120_000);
    expect(await store.depth()).toEqual({ ready: 0, active: 6, held: 1 });
    expect(await store.retry(claimed.uids[0] ?? '', Date.now(), { rcpts: [], attempts: 1, lastError: '451 later' })).toBe(true);
    expect(await store.depth()).toEqual({ ready: 1, active: 5, held: 1 });
  });

  it('claims fairly: a backlog in one shard does not starve the others', async () => {
    env = await testEnv();
    const store = createQueueStore(env.redis, env.keys, { shards: 4 });
    for (let i = 0; i < 60; i++) await enqueue(store, 'onprem', 1);
    const few = [await enqueue(store, 'cloud', 2), await enqueue(store, 'cloud', 3)];
    // two slots at a time, as a busy runner has: the few units of shards 2 and 3 come
    // within the first rounds, not after the backlog
    const order: string[] = [];
    for (let round = 0; round < 4; round++) {
      const { uids, more } = await store.claim(Date.now(), 60_000, 2);
      expect(more).toBe(true);
      order.push(...uids);
    }
    for (const id of few) expect(order).toContain(`${id}.0`);
    expect(order.filter((uid) => shardOf(uid) === 1).length).toBeGreaterThanOrEqual(4);
    // the rest of the backlog is claimed until no shard reports due units
    let total = order.length;
    for (;;) {
      const { uids, more } = await store.claim(Date.now(), 60_000, 7);
      total += uids.length;
      if (!more) break;
    }
    expect(total).toBe(62);
    expect(await store.depth()).toEqual({ ready: 0, active: 62, held: 0 });
  });

  it('returns units of a relay whose lease ran out, from every shard', async () => {
    env = await testEnv();
    const store = createQueueStore(env.redis, env.keys, { shards: 3 });
    for (let i = 0; i < 6; i++) await enqueue(store);
    const first = await store.claim(Date.now(), 1, 100);
    expect(first.uids).toHaveLength(6);
    const later = await store.claim(Date.now() + 10, 60_000, 100);
    expect(later.reclaimed).toBe(6);
    expect(later.uids.sort()).toEqual(first.uids.sort());
  });
});

describe('queue.shards', () => {
  it('defaults to 16 and is validated', () => {
    const base = { redis: { url: 'redis://127.0.0.1:6379' } };
    expect(parseConfig(base, 'q.yaml', {}).queue.shards).toBe(16);
    expect(parseConfig({ ...base, queue: { shards: 3 } }, 'q.yaml', {}).queue.shards).toBe(3);
    for (const shards of [0, 2.5, 5000]) expect(() => parseConfig({ ...base, queue: { shards } }, 'q.yaml', {})).toThrow(/queue\.shards/);
  });
});
