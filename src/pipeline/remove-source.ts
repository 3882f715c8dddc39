/**
 * `switchyard source remove NAME` (SPEC §3.2): a new table version without a source that
 * is no longer configured, through the deletion guard (it removes every object of the
 * source). Its pin and delta watermark go with it.
 */
import type { Config } from '../config/schema.js';
import { parseDuration } from '../config/duration.js';
import { deletionGuard } from '../routing/guard.js';
import { collectGarbage } from '../store/gc.js';
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { topId } from '../store/ref.js';
import { execResent } from '../store/resent-pipeline.js';
import { readSnapshotMeta } from '../store/snapshot.js';
import { publish, readCurrent } from '../store/table.js';
import { DeletionGuardError } from './errors.js';

export class SourceRemoveError extends Error {
  readonly code = 'SY_SOURCE_REMOVE';
}

export interface RemoveResult {
  readonly source: string;
  readonly version: number;
  readonly objects: number;
  readonly addresses: number;
}

/** Deletes a source's pin and sync state; answers whether there was any. */
async function clearSourceState(redis: RedisClient, keys: Keys, name: string): Promise<boolean> {
  const deleted = await execResent(redis, (tx) => tx.hdel(keys.pins, name).hdel(keys.syncState, name), { transaction: true });
  return deleted.some((n) => Number(n) > 0);
}

export async function removeSource(
  redis: RedisClient,
  keys: Keys,
  config: Config,
  name: string,
  opts: { readonly allowMassDelete?: boolean } = {},
): Promise<RemoveResult> {
  if (config.sources.some((s) => s.name === name)) {
    throw new SourceRemoveError(`refused: source ${name} is still configured; take it out of the configuration first`);
  }
  const current = await readCurrent(redis, keys);
  const state = current?.snapshots.get(name);
  if (state === undefined) {
    const have = [...(current?.snapshots.keys() ?? [])].join(', ') || 'none';
    // left by a removal whose last step failed: the source is gone from the table and the config
    const left = await clearSourceState(redis, keys, name);
    const cleared = left ? '; a pin or sync state it left was cleared' : '';
    throw new SourceRemoveError(`source ${name} is not in the table (its sources: ${have})${cleared}`);
  }
  const meta = await readSnapshotMeta(redis, keys, topId(state));
  const objects = meta?.objects ?? 0;
  const refusal = opts.allowMassDelete
    ? undefined
    : deletionGuard({ source: name, previous: objects, removed: objects, threshold: Number.POSITIVE_INFINITY });
  if (refusal !== undefined) throw new DeletionGuardError(refusal);
  const { version } = await publish(redis, keys, {
    source: name,
    snapshot: undefined,
    expected: state,
    keep: config.table.versionsKept,
    keepForMs: parseDuration(config.table.keepFor),
    meta: { publishedAt: new Date().toISOString(), cause: 'remove', source: name },
  });
  // the table no longer has the source: its pin and sync state go too (should this fail, a
  // second `remove` clears them)
  await clearSourceState(redis, keys, name);
  await collectGarbage(redis, keys).catch(() => undefined);
  return { source: name, version, objects, addresses: meta?.addresses ?? 0 };
}
