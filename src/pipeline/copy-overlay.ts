/**
 * A delta's new overlay starts as a copy of the previous one (src/pipeline/publish-delta.ts):
 * shard by shard, or re-sharded when the count grew. Each step is a transaction that is sent
 * again when a connection closes before its EXEC is answered (src/store/resent-pipeline.ts):
 * a COPY onto a key the first try made does nothing, an HSET writes the same value.
 */
import { shardKeys } from '../store/keys.js';
import { execResent } from '../store/resent-pipeline.js';
import { hscanSharded, type SnapshotLayout } from '../store/sharded.js';
import { addressShard, refShard } from '../store/shards.js';
import { targetFieldShard } from '../store/targets.js';
import type { PublishDeps } from './types.js';

/** Copies the previous overlay into the new one: shard by shard, or re-sharded when the count grew. */
export async function copyOverlay(deps: PublishDeps, from: SnapshotLayout, to: SnapshotLayout): Promise<void> {
  if (from.shards === to.shards) {
    // COPY onto a key it made already does nothing: the same overlay when sent again
    await execResent(
      deps.redis,
      (m) => {
        for (const hash of ['obj', 'addr', 'conf', 'tgt'] as const) {
          const dst = shardKeys(deps.keys, to.id, hash, to.shards);
          shardKeys(deps.keys, from.id, hash, from.shards).forEach((k, i) => m.copy(k, dst[i] as string));
        }
      },
      { transaction: true },
    );
    return;
  }
  for (const hash of ['obj', 'addr', 'conf', 'tgt'] as const) {
    const dst = shardKeys(deps.keys, to.id, hash, to.shards);
    for await (const flat of hscanSharded(deps.redis, deps.keys, from, hash, 1000)) {
      await execResent(
        deps.redis,
        (m) => {
          for (let i = 0; i < flat.length; i += 2) {
            const field = flat[i] as string;
            const shard =
              hash === 'obj'
                ? refShard(field, to.shards)
                : hash === 'tgt'
                  ? targetFieldShard(field, to.shards)
                  : addressShard(field, to.shards);
            m.hset(dst[shard] as string, field, flat[i + 1] as string);
          }
        },
        { transaction: true },
      );
    }
  }
}
