/**
 * Fair claiming over the queue shards (pure). Each claim round visits every shard (one
 * script per shard, sent together: one round trip per node); the free delivery slots go
 * to the shards that last reported due work, spread evenly, and the starting shard
 * rotates every round so that no shard is always served last. A shard last seen empty
 * still gets slots when no shard is known to have work (new mail may have arrived there).
 * A shard that could not be reached is left out for a second, so that a master failing
 * over does not slow down every round of the others.
 */
export interface ClaimPlanner {
  /** How many units to claim from each shard this round (sums to `limit`); undefined: skip the shard. */
  plan(limit: number, now?: number): (number | undefined)[];
  /** What a shard reported after its claim: units still due, or undefined when it failed. */
  observe(shard: number, dueLeft: number | undefined, now?: number): void;
  /** Some shard reported due units it could not hand out this round. */
  more(): boolean;
}

/** How long a shard that failed is left out of the claim rounds (ms). */
export const SHARD_PAUSE_MS = 1000;

export function createClaimPlanner(shards: number, start = Math.floor(Math.random() * shards)): ClaimPlanner {
  let cursor = start % shards;
  // units last seen due per shard; undefined until a shard answered (unknown counts as work)
  const due: (number | undefined)[] = Array.from({ length: shards }, () => undefined);
  const pausedUntil: number[] = Array.from({ length: shards }, () => 0);
  return {
    plan(limit, now = Date.now()) {
      const order = Array.from({ length: shards }, (_, i) => (cursor + i) % shards);
      cursor = (cursor + 1) % shards;
      const up = order.filter((k) => (pausedUntil[k] ?? 0) <= now);
      const visit = up.length > 0 ? up : order;
      const busy = visit.filter((k) => due[k] !== 0);
      const takers = busy.length > 0 ? busy : visit;
      const quota: (number | undefined)[] = Array.from({ length: shards }, () => undefined);
      for (const k of visit) quota[k] = 0;
      const each = Math.floor(limit / takers.length);
      const extra = limit % takers.length;
      takers.forEach((k, i) => (quota[k] = each + (i < extra ? 1 : 0)));
      return quota;
    },
    observe(shard, dueLeft, now = Date.now()) {
      due[shard] = dueLeft;
      pausedUntil[shard] = dueLeft === undefined ? now + SHARD_PAUSE_MS : 0;
    },
    more: () => due.some((n) => n !== undefined && n > 0),
  };
}
