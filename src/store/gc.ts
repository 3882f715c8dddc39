/**
 * Deletes snapshots no kept table version references: those of dropped versions, and
 * staging snapshots abandoned by a crashed import (older than `staleAfterMs`). Every shard
 * key is UNLINKed, a few per command (src/store/snapshot.ts).
 */
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { readHistory } from './table.js';
import { refIds } from './ref.js';
import { deleteSnapshot, type SnapshotMeta } from './snapshot.js';

export async function collectGarbage(redis: RedisClient, keys: Keys, staleAfterMs = 6 * 3600_000): Promise<string[]> {
  const referenced = new Set<string>();
  for (const v of await readHistory(redis, keys)) for (const ref of v.snapshots.values()) for (const id of refIds(ref)) referenced.add(id);
  const all = await redis.hgetall(keys.snapshots);
  const deleted: string[] = [];
  for (const [id, json] of Object.entries(all)) {
    if (referenced.has(id)) continue;
    const meta = JSON.parse(json) as SnapshotMeta;
    const stale = meta.state === 'complete' || Date.now() - Date.parse(meta.createdAt) > staleAfterMs;
    if (!stale) continue;
    await deleteSnapshot(redis, keys, id, meta);
    deleted.push(id);
  }
  return deleted;
}

/**
 * Deletes a snapshot its writer gave up on (refused, dry run, failed) — unless a kept
 * version references it after all (a publish whose reply was lost): then GC decides later.
 */
export async function discardSnapshot(redis: RedisClient, keys: Keys, id: string): Promise<void> {
  for (const v of await readHistory(redis, keys)) {
    for (const ref of v.snapshots.values()) if (refIds(ref).includes(id)) return;
  }
  await deleteSnapshot(redis, keys, id);
}
