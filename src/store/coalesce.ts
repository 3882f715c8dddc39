/**
 * Write coalescing for the relay's Redis connections (B3). A busy relay serves many SMTP
 * sessions in one turn of the event loop, and each of them sends its own script (a RCPT
 * lookup, a reservation, an acceptance, a finished delivery): one write(2) per command, and
 * each write wakes Redis for one command. A connection opted in here is corked by the first
 * script of a turn and uncorked at the end of that turn (setImmediate: after every I/O
 * callback of the turn), so the turn's commands leave in one write and Redis answers them
 * with one. Order and replies are unchanged (one connection, commands in the order sent);
 * a command waits at most for the rest of the turn it was sent in.
 *
 * Only single-server connections (Redis, also through Sentinel) are corked: a Cluster
 * writes to one connection per node, and is left as it is.
 */
import { Redis } from 'ioredis';
import type { RedisClient } from './redis.js';

const opted = new WeakSet<RedisClient>();

/** Lets the scripts sent on `redis` in one turn of the event loop share a write. */
export function coalesceWrites(redis: RedisClient): void {
  if (redis instanceof Redis) opted.add(redis);
}

/** Corks an opted-in connection until the end of this turn (once per turn). */
export function corkForTurn(redis: RedisClient): void {
  if (!opted.has(redis) || !(redis instanceof Redis) || redis.status !== 'ready') return;
  const stream = redis.stream;
  if (stream.writableCorked > 0) return;
  stream.cork();
  setImmediate(() => stream.uncork());
}
