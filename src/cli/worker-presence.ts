/**
 * Whether a command may have to go through the job queue (SPEC §7: `sync` and `import` run
 * inline when no worker is running), answered without loading BullMQ: one CLIENT LIST.
 * Every connection BullMQ opens is named after its queue, under the namespace's BullMQ
 * prefix (`<prefix>:<queue in base64>[:w:<worker>]`, what its own `getWorkers()` matches),
 * so a namespace without a connection of that prefix has no worker. When there is one (a
 * worker, or any other queue client), or the list cannot be had (a Cluster, a provider
 * without CLIENT LIST), the caller asks BullMQ itself. test/integration/worker-presence.test.ts
 * pins the naming against a real BullMQ worker.
 */
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';

export async function mayHaveWorkers(redis: RedisClient, keys: Keys): Promise<boolean> {
  if (redis.isCluster) return true; // each node has its own list
  let list: string;
  try {
    list = (await redis.call('CLIENT', 'LIST')) as string;
  } catch {
    return true;
  }
  // one line per connection: `id=… addr=… name=<name> …`
  return list.includes(` name=${keys.bullPrefix}:`);
}
