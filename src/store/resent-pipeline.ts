/**
 * A pipeline or transaction whose commands may run twice (reads, writes of the same values),
 * sent until every command is answered. When its connection closes, ioredis resends a command
 * it had no answer for, except the rest of a pipeline whose first commands were answered:
 * those it rejects with AbortError ("Command aborted due to connection close"); a transaction
 * whose MULTI was answered and whose EXEC was not rejects as a whole with it. Such a pipeline
 * is built and sent again whole, once the client is connected again (a worker-profile client
 * queues it meanwhile), at most RESENDS times. Any other failed command is thrown: ioredis
 * answers a pipeline's failed commands in its replies, which callers must not read as
 * success (`checkedReplies`).
 */
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './redis.js';

/** Times a pipeline is sent at most when connections close under it. */
const RESENDS = 5;

/** What `exec()` answers: per command, its error or its reply; null for a transaction WATCH aborted. */
export type ExecReplies = [error: Error | null, reply: unknown][] | null;

/** The replies of an `exec()`, in order; throws the first command's error (or a WATCH-aborted transaction). */
export function checkedReplies(replies: ExecReplies): unknown[] {
  if (replies === null) throw new Error('Redis transaction aborted (a watched key changed)');
  return replies.map(([err, reply]) => {
    if (err) throw err;
    return reply;
  });
}

function aborted(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

/**
 * Runs the commands `fill` adds to a pipeline of `redis` (a MULTI/EXEC transaction with
 * `transaction`: all of them or none); answers their replies, in order. A transaction is sent
 * again only when EXEC's answer was lost, so it may then have run twice: its commands must
 * give the same state when they do.
 */
export async function execResent(
  redis: RedisClient,
  fill: (pipe: ChainableCommander) => void,
  opts: { transaction?: boolean } = {},
): Promise<unknown[]> {
  for (let attempt = 1; ; attempt++) {
    const pipe = opts.transaction === true ? redis.multi() : redis.pipeline();
    fill(pipe);
    let replies: ExecReplies;
    try {
      replies = await pipe.exec();
    } catch (err) {
      if (aborted(err) && attempt < RESENDS) continue;
      throw err;
    }
    const failed = replies?.find(([err]) => err !== null)?.[0];
    if (failed && aborted(failed) && attempt < RESENDS) continue;
    return checkedReplies(replies);
  }
}
