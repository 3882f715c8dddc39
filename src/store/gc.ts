/**
 * Deletes snapshots no kept table version references: those of dropped versions, and
 * staging snapshots abandoned by a crashed import (older than `staleAfterMs`). A snapshot
 * of a million addresses is ~100 hashes of ~30,000 entries: each is UNLINKed on its own
 * (Redis frees it on its lazy-free thread, deploy/redis.conf) with a pause between, so
 * the freeing is spread out instead of competing with lookups for the CPU all at once.
 * The meta goes last: a GC interrupted half-way leaves the snapshot listed, and the next
 * one frees the rest.
 */
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { readHistory } from './table.js';
import { refIds } from './ref.js';
import { readSnapshotMeta, type SnapshotMeta } from './snapshot.js';
import { snapshotKeys } from './sharded.js';

/** How fast a snapshot is freed: keys per UNLINK, and the pause after each (ms). */
export interface FreePace {
  readonly keysPerStep: number;
  readonly pauseMs: number;
}

/** One shard (~30,000 entries at the sizes of src/store/shards.ts) takes the lazy-free thread ~1–2 ms. */
export const DEFAULT_FREE_PACE: FreePace = { keysPerStep: 1, pauseMs: 2 };

/** Every key a snapshot may have: its shards, and the unsharded hashes of an older release. */
function keysOf(keys: Keys, id: string, meta: SnapshotMeta | undefined): string[] {
  const legacy = [keys.legacySnapshotHash(id, 'obj'), keys.legacySnapshotHash(id, 'addr'), keys.legacySnapshotHash(id, 'conf')];
  return meta?.shards !== undefined
    ? [...snapshotKeys(keys, { id, shards: meta.shards }), ...legacy]
    : [...legacy, keys.snapshotBatches(id)];
}

/** UNLINKs a snapshot's keys a few at a time, pausing between steps, then its meta. */
export async function freeSnapshot(
  redis: RedisClient,
  keys: Keys,
  id: string,
  meta?: SnapshotMeta,
  pace = DEFAULT_FREE_PACE,
): Promise<void> {
  const m = meta ?? (await readSnapshotMeta(redis, keys, id));
  const all = keysOf(keys, id, m);
  // a one-shard snapshot is small (≤ ~65,536 entries a hash): no pause needed
  const pauseMs = m?.shards === 1 ? 0 : pace.pauseMs;
  const step = Math.max(1, pace.keysPerStep);
  for (let i = 0; i < all.length; i += step) {
    await redis.unlink(...all.slice(i, i + step));
    if (pauseMs > 0 && i + step < all.length) await new Promise((r) => setTimeout(r, pauseMs));
  }
  await redis.hdel(keys.snapshots, id);
}

async function referencedIds(redis: RedisClient, keys: Keys): Promise<Set<string>> {
  const referenced = new Set<string>();
  for (const v of await readHistory(redis, keys)) for (const ref of v.snapshots.values()) for (const id of refIds(ref)) referenced.add(id);
  return referenced;
}

export async function collectGarbage(
  redis: RedisClient,
  keys: Keys,
  staleAfterMs = 6 * 3600_000,
  pace = DEFAULT_FREE_PACE,
): Promise<string[]> {
  const referenced = await referencedIds(redis, keys);
  const all = await redis.hgetall(keys.snapshots);
  const deleted: string[] = [];
  for (const [id, json] of Object.entries(all)) {
    if (referenced.has(id)) continue;
    const meta = JSON.parse(json) as SnapshotMeta;
    const stale = meta.state === 'complete' || Date.now() - Date.parse(meta.createdAt) > staleAfterMs;
    if (!stale) continue;
    await freeSnapshot(redis, keys, id, meta, pace);
    deleted.push(id);
  }
  return deleted;
}

/**
 * Deletes a snapshot its writer gave up on (refused, dry run, failed) — unless a kept
 * version references it after all (a publish whose reply was lost): then GC decides later.
 */
export async function discardSnapshot(redis: RedisClient, keys: Keys, id: string, pace = DEFAULT_FREE_PACE): Promise<void> {
  if ((await referencedIds(redis, keys)).has(id)) return;
  await freeSnapshot(redis, keys, id, undefined, pace);
}
