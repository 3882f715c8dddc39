/**
 * Writes a message the way the single-tag queue of earlier releases did (`{ns}:mq:…`,
 * ids without a shard), for the layout migration tests.
 */
import { randomBytes } from 'node:crypto';
import type { Keys } from '../../src/store/keys.js';
import type { RedisClient } from '../../src/store/redis.js';

export interface OldUnit {
  readonly hop: string;
  readonly rcpts: readonly string[];
  /** Which set the unit is in: ready (due now), active (an old relay's expired lease) or held. */
  readonly state: 'ready' | 'active' | 'held';
}

export function oldMessageId(now = Date.now()): string {
  return `${now.toString(36).toUpperCase()}${randomBytes(5).toString('hex').toUpperCase()}`;
}

/** Writes one message and its units in one MULTI, as the old store's enqueue did; returns its id. */
export async function writeOldMessage(redis: RedisClient, keys: Keys, body: string, units: readonly OldUnit[]): Promise<string> {
  const old = keys.mqLegacy;
  const now = Date.now();
  const id = oldMessageId(now);
  const meta = {
    id,
    from: 'sender@example.org',
    arrived: now,
    clientIp: '127.0.0.1',
    helo: 'old',
    size: body.length,
    smtputf8: false,
    eightBit: false,
  };
  const multi = redis.multi();
  multi.hset(old.message(id), { meta: JSON.stringify(meta), body: Buffer.from(body), left: String(units.length) });
  units.forEach((u, i) => {
    const uid = `${id}.${i}`;
    multi.hset(old.unit(uid), {
      msg: id,
      hop: u.hop,
      rcpts: JSON.stringify(u.rcpts.map((r) => ({ rcpt: r, orig: r, reason: 'mailbox' }))),
      attempts: '0',
      arrived: String(now),
      from: meta.from,
      warned: '0',
      held: u.state === 'held' ? '1' : '0',
    });
    multi.zadd(old[u.state], u.state === 'active' ? now - 1000 : now, uid);
  });
  const res = await multi.exec();
  for (const [err] of res ?? []) if (err) throw err;
  return id;
}
