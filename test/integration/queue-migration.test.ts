/**
 * Upgrading in place (SPEC §5): the single-tag mail queue an earlier release left is moved
 * into the shards, and the relay delivers every message of it, old ids included.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { migrateQueueLayout } from '../../src/mailqueue/migrate.js';
import { createQueueStore } from '../../src/mailqueue/store.js';
import { shardOf } from '../../src/mailqueue/ids.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { writeOldMessage } from '../helpers/old-queue.js';
import { message } from '../helpers/smtp.js';

let t: RelayEnv | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

async function keysMatching(t: RelayEnv, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await t.env.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found;
}

describe('queue layout migration', () => {
  it('moves the old single-tag queue into the shards; the relay delivers it all and old ids still work', async () => {
    t = await relayEnv({ start: false });
    const { redis, keys, config } = t.env;
    const shards = config.queue.shards;
    const split = await writeOldMessage(redis, keys, message('split'), [
      { hop: 'onprem', rcpts: ['ada.lovelace@contoso.edu'], state: 'ready' },
      { hop: 'cloud', rcpts: ['ada.ivanov@live.contoso.edu'], state: 'ready' },
    ]);
    const inFlight = await writeOldMessage(redis, keys, message('in-flight'), [
      { hop: 'legacy', rcpts: ['nobody@contoso.edu'], state: 'active' },
    ]);
    const held = await writeOldMessage(redis, keys, message('held'), [
      { hop: 'onprem', rcpts: ['grace.hopper@contoso.edu'], state: 'held' },
    ]);
    // many messages spread over the shards
    const bulk: string[] = [];
    for (let i = 0; i < 40; i++)
      bulk.push(
        await writeOldMessage(redis, keys, message(`bulk ${i}`), [{ hop: 'legacy', rcpts: [`b${i}@contoso.edu`], state: 'ready' }]),
      );

    expect(await migrateQueueLayout(redis, keys, shards)).toEqual({ moved: 44 });
    expect(await keysMatching(t, `${keys.prefix}:mq:*`)).toEqual([]);
    expect([split, inFlight, held, ...bulk].every((id) => shardOf(id) === 0)).toBe(true);
    const store = createQueueStore(redis, keys, { shards });
    expect(await store.depth()).toEqual({ ready: 43, active: 0, held: 1 });
    // a second run changes nothing
    expect(await migrateQueueLayout(redis, keys, shards)).toEqual({ moved: 0 });
    expect(await store.depth()).toEqual({ ready: 43, active: 0, held: 1 });

    await t.startRelay();
    const [onprem, cloud, legacy] = await Promise.all([t.sinks.onprem.waitFor(1), t.sinks.cloud.waitFor(1), t.sinks.legacy.waitFor(41)]);
    expect(onprem[0]?.rcpts.map((r) => r.address)).toEqual(['ada.lovelace@contoso.edu']);
    expect(onprem[0]?.text).toContain('Subject: split');
    expect(cloud[0]?.rcpts.map((r) => r.address)).toEqual(['ada.ivanov@live.contoso.edu']);
    expect(legacy.filter((m) => m.text.includes('Subject: in-flight'))).toHaveLength(1);
    // the held message stays held, and is released by its old id
    for (let i = 0; i < 50 && (await store.depth()).active > 0; i++) await new Promise((r) => setTimeout(r, 100));
    const listed = await store.list();
    expect(listed.map((e) => [e.uid, e.state])).toEqual([[`${held}.0`, 'held']]);
    expect(await store.control(`${held}.0`, 'release', Date.now())).toBe(true);
    const [, second] = await t.sinks.onprem.waitFor(2);
    expect(second?.text).toContain('Subject: held');
    expect(t.sinks.internet.messages).toHaveLength(0); // no DSN: everything was delivered
    for (let i = 0; i < 50 && (await store.depth()).active > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await store.depth()).toEqual({ ready: 0, active: 0, held: 0 });
    // nothing of the queue is left (message trace keeps its timelines under the same shard tags)
    expect((await keysMatching(t, `{${t.env.namespace}:q*`)).filter((k) => k.includes(':mq:'))).toEqual([]);
  });

  it('finishes a migration that was interrupted after copying some units', async () => {
    t = await relayEnv({ start: false });
    const { redis, keys, config } = t.env;
    const id = await writeOldMessage(redis, keys, message('twice'), [
      { hop: 'onprem', rcpts: ['ada.lovelace@contoso.edu'], state: 'ready' },
      { hop: 'legacy', rcpts: ['nobody@contoso.edu'], state: 'ready' },
    ]);
    // an operator held this one while an old relay was delivering it
    const heldInFlight = await writeOldMessage(redis, keys, message('held in flight'), [
      { hop: 'onprem', rcpts: ['grace.hopper@contoso.edu'], state: 'active' },
    ]);
    await redis.hset(keys.mqLegacy.unit(`${heldInFlight}.0`), 'held', '1');
    // as if a first run copied unit 0 and died before removing it from the old layout
    const k = keys.mqShard(shardOf(id));
    await redis.copy(keys.mqLegacy.unit(`${id}.0`), k.unit(`${id}.0`));
    await redis.copy(keys.mqLegacy.message(id), k.message(id));
    await redis.zadd(k.ready, Date.now(), `${id}.0`);
    expect(await migrateQueueLayout(redis, keys, config.queue.shards)).toEqual({ moved: 2 });
    const store = createQueueStore(redis, keys, { shards: config.queue.shards });
    expect(await store.depth()).toEqual({ ready: 2, active: 0, held: 1 });
    expect(await redis.hget(k.message(id), 'left')).toBe('2');
    await t.startRelay();
    await Promise.all([t.sinks.onprem.waitFor(1), t.sinks.legacy.waitFor(1)]);
    for (let i = 0; i < 50 && (await redis.exists(k.message(id))) === 1; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await redis.exists(k.message(id))).toBe(0);
    expect(t.sinks.onprem.messages).toHaveLength(1);
  });
});
