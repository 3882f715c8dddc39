/**
 * Queue ids: sortable by arrival, unique across relays without a round trip, and carrying
 * their queue shard so that every operation by id finds its keys without a scan.
 *
 *   message id  <time base36><10 hex>Q<shard, 2 base36 digits>   e.g. MI4ZK2QA9F3C01B2E7Q0C
 *   unit id     <message id>.<n>
 *
 * Ids of earlier releases have no `Q<shard>` suffix (they end in hex digits, never `Q`):
 * they live in shard 0, where the layout migration puts them. Shard 0 exists whatever
 * `queue.shards` is, so they stay found when it changes.
 */
import { randomFillSync } from 'node:crypto';

/** Most queue shards an id can name (two base36 digits). */
export const MAX_SHARDS = 36 * 36;

const SUFFIX = /Q([0-9A-Z]{2})$/;

/**
 * Random bytes for ids, drawn from a pool refilled 4 KB at a time: a `randomBytes` call
 * takes OpenSSL's lock and a getpid(2) (5.8 µs idle; 33 µs a message in a loaded relay's
 * profile); with the pool a whole id takes 0.45 µs. Ids need to be unique, not secret.
 */
const POOL = Buffer.alloc(4096);
let poolAt = POOL.length;

function randomHex(bytes: number): string {
  if (poolAt + bytes > POOL.length) {
    randomFillSync(POOL);
    poolAt = 0;
  }
  const hex = POOL.toString('hex', poolAt, poolAt + bytes);
  poolAt += bytes;
  return hex;
}

export function newMessageId(shard: number, now = Date.now()): string {
  if (!Number.isInteger(shard) || shard < 0 || shard >= MAX_SHARDS) throw new RangeError(`queue shard ${shard} out of range`);
  const tag = shard.toString(36).toUpperCase().padStart(2, '0');
  return `${now.toString(36).toUpperCase()}${randomHex(5).toUpperCase()}Q${tag}`;
}

export function unitId(messageId: string, index: number): string {
  return `${messageId}.${index}`;
}

export function messageOf(uid: string): string {
  const dot = uid.lastIndexOf('.');
  return dot < 0 ? uid : uid.slice(0, dot);
}

/** The shard of a message or unit id (case-insensitive, as operators type them); 0 for old ids. */
export function shardOf(id: string): number {
  const m = SUFFIX.exec(messageOf(id).toUpperCase());
  return m?.[1] !== undefined ? parseInt(m[1], 36) : 0;
}
