/**
 * Fair claiming over the queue shards (pure). Each claim round visits every shard (one
 * script per shard, sent together: one round trip per node); the free delivery slots go
 * to the shards that last reported due work, spread evenly, and the starting shard
 * rotates every round so that no shard is always served last. A shard last seen empty
 * still gets slots when no shard is known to have work (new mail may have arrived there).
 */
export interface ClaimPlanner {
  /** How many units to claim from each shard this round (sums to `limit`). */
  plan(limit: number): number[];
  /** What a shard reported after its claim: units still due, or undefined when it failed. */
  observe(shard: number, dueLeft: number | undefined): void;
  /** Some shard reported due units it could not hand out this round. */
  more(): boolean;
}

export function createClaimPlanner(shards: number, start = Math.floor(Math.random() * shards)): ClaimPlanner {
  let cursor = start % shards;
  // units last seen due per shard; undefined until a shard answered (unknown counts as work)
  const due: (number | undefined)[] = Array.from({ length: shards }, () => undefined);
  return {
    plan(limit) {
      const order = Array.from({ length: shards }, (_, i) => (cursor + i) % shards);
      cursor = (cursor + 1) % shards;
      const busy = order.filter((k) => due[k] !== 0);
      const takers = busy.length > 0 ? busy : order;
      const quota = Array.from({ length: shards }, () => 0);
      const each = Math.floor(limit / takers.length);
      const extra = limit % takers.length;
      takers.forEach((k, i) => (quota[k] = each + (i < extra ? 1 : 0)));
      return quota;
    },
    observe(shard, dueLeft) {
      due[shard] = dueLeft;
    },
    more: () => due.some((n) => n !== undefined && n > 0),
  };
}
