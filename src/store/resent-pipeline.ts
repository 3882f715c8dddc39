/**
 * A pipeline whose commands may run twice (reads, writes of the same values), sent until
 * every command is answered. When its connection closes, ioredis resends a command it had no
 * answer for, except the rest of a pipeline whose first commands were answered: those it
 * rejects with AbortError ("Command aborted due to connection close"). Such a pipeline is
 * built and sent again whole, once the client is connected again (a worker-profile client
 * queues it meanwhile), at most RESENDS times. Any other failed command is thrown.
 */
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './redis.js';

/** Times a pipeline is sent at most when connections close under it. */
const RESENDS = 5;

/** Runs the commands `fill` adds to a pipeline of `redis`; answers their replies, in order. */
export async function execResent(redis: RedisClient, fill: (pipe: ChainableCommander) => void): Promise<unknown[]> {
  for (let attempt = 1; ; attempt++) {
    const pipe = redis.pipeline();
    fill(pipe);
    const replies = (await pipe.exec()) ?? [];
    const failed = replies.find(([err]) => err !== null)?.[0];
    if (!failed) return replies.map(([, reply]) => reply);
    if (failed.name !== 'AbortError' || attempt >= RESENDS) throw failed;
  }
}
