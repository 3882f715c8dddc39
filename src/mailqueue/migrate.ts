/**
 * Moves the mail queue an earlier release left under the single tag `{ns}` (`{ns}:mq:…`)
 * into the shards `{ns:q<k>}`. The old keys share one slot and the new ones are spread
 * over others, so nothing here is one transaction: each unit is copied (DUMP, then
 * RESTORE in its shard by mq-adopt-5) before it is removed from the old layout, and a
 * message is removed only once none of its units is left there. Interrupted, it loses
 * nothing; run again, it carries on (and a finished migration moves nothing).
 *
 * Old ids keep working: an id without a shard suffix lives in shard 0 (ids.ts), which
 * exists whatever `queue.shards` is; the backlog of an upgrade is delivered from there
 * while new mail spreads over every shard.
 * Units an old relay had in delivery (it is gone) become due at once; held ones stay held.
 */
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { runScript, scripts } from '../store/scripts.js';
import { messageOf, shardOf } from './ids.js';
import { masterOf } from './replicas.js';

const BATCH = 100;

export async function migrateQueueLayout(redis: RedisClient, keys: Keys, shards: number): Promise<{ moved: number }> {
  if (!Number.isInteger(shards) || shards < 1) throw new RangeError(`queue.shards must be a positive integer, not ${shards}`);
  const old = keys.mqLegacy;
  let moved = 0;
  const now = Date.now();
  const move = async (uid: string, state: 'ready' | 'held', score: number): Promise<void> => {
    const id = messageOf(uid);
    const k = keys.mqShard(shardOf(id));
    const [unitDump, messageDump] = await Promise.all([redis.dumpBuffer(old.unit(uid)), redis.dumpBuffer(old.message(id))]);
    if (unitDump !== null) {
      const placed = await runScript(
        redis,
        scripts.mqAdopt,
        [k.ready, k.active, k.held, k.unit(uid), k.message(id)],
        // DUMP payloads are binary: ioredis sends Buffers as they are
        [uid, state, score, unitDump, messageDump ?? ''],
      );
      if (placed === 1) moved++;
    }
    const done = redis.multi();
    for (const set of [old.ready, old.active, old.held]) done.zrem(set, uid);
    done.del(old.unit(uid));
    for (const [err] of (await done.exec()) ?? []) if (err) throw err;
  };
  /**
   * An old in-delivery unit is due when its lease ends (at once if it has ended): an old
   * relay still in the middle of that attempt is not raced into a second delivery. Held if
   * an operator held it during the attempt.
   */
  const moveFrom = async (state: 'ready' | 'active' | 'held', uid: string, score: number): Promise<void> => {
    if (state !== 'active') return move(uid, state, score);
    const held = (await redis.hget(old.unit(uid), 'held')) === '1';
    return move(uid, held ? 'held' : 'ready', held ? now : Math.max(now, score));
  };
  // an old relay still writing would add units meanwhile: until every old set is empty
  for (let round = 0; round < 10 && (round === 0 || (await oldUnits(redis, keys)) > 0); round++) {
    for (const state of ['ready', 'active', 'held'] as const) {
      for (;;) {
        const flat = await redis.zrange(old[state], 0, BATCH - 1, 'WITHSCORES');
        if (flat.length === 0) break;
        const units: Promise<void>[] = [];
        for (let i = 0; i + 1 < flat.length; i += 2) {
          const uid = flat[i] ?? '';
          units.push(moveFrom(state, uid, Number(flat[i + 1])));
        }
        await Promise.all(units);
      }
    }
    // a unit hash outside every set should not exist; if one does, it is delivered rather than lost
    for (const key of await scan(redis, old.unit('*'))) {
      const uid = key.slice(old.unit('').length);
      const held = (await redis.hget(key, 'held')) === '1';
      await move(uid, held ? 'held' : 'ready', now);
    }
  }
  if ((await oldUnits(redis, keys)) > 0) throw new Error('the old mail queue keeps receiving units: stop the old relays first');
  // every unit has left the old layout: what is left of its messages has a copy in a shard
  const messages = await scan(redis, old.message('*'));
  for (let i = 0; i < messages.length; i += BATCH) await redis.unlink(...messages.slice(i, i + BATCH));
  return { moved };
}

async function oldUnits(redis: RedisClient, keys: Keys): Promise<number> {
  const old = keys.mqLegacy;
  const [ready, active, held] = await Promise.all([redis.zcard(old.ready), redis.zcard(old.active), redis.zcard(old.held)]);
  return ready + active + held;
}

/** Keys matching `pattern`, all in the pattern's slot (one node on a Cluster). */
async function scan(redis: RedisClient, pattern: string): Promise<string[]> {
  const node = masterOf(redis, pattern);
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found;
}

/**
 * Layout 2 → 3: the unit sets were renamed when message data became chunked, so that a
 * relay of layout 2 still running never claims a message it cannot read (it would drop
 * it). Moves what is left in the old sets of every shard (mq-rename-6, one shard per
 * call, atomic per batch); a layout-2 relay that queues more meanwhile leaves it for the
 * next start or `switchyard migrate`.
 */
export async function migrateQueueSets(redis: RedisClient, keys: Keys, shards: number): Promise<{ moved: number }> {
  let moved = 0;
  for (let s = 0; s < Math.max(shards, 1); s++) {
    const k = keys.mqShard(s);
    for (;;) {
      const n = Number(
        await runScript(redis, scripts.mqRename, [k.layout2.ready, k.layout2.active, k.layout2.held, k.ready, k.active, k.held], [500]),
      );
      moved += n;
      if (n === 0) break;
    }
  }
  return { moved };
}

/** Units left in the sets of layout 2 in any shard. */
export async function layout2Units(redis: RedisClient, keys: Keys, shards: number): Promise<number> {
  const counts = await Promise.all(
    Array.from({ length: Math.max(shards, 1) }, async (_, s) => {
      const k = keys.mqShard(s).layout2;
      const [a, b, c] = await Promise.all([redis.zcard(k.ready), redis.zcard(k.active), redis.zcard(k.held)]);
      return a + b + c;
    }),
  );
  return counts.reduce((x, y) => x + y, 0);
}
