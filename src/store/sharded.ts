/**
 * Reading a snapshot's sharded hashes from TypeScript (status, diffs, counts): the
 * shard of every field is computed here, as the scripts expect (src/store/shards.ts).
 */
import { shardKeys, type Keys, type SnapshotHash } from './keys.js';
import type { RedisClient } from './redis.js';
import { addressShard, refShard } from './shards.js';
import { targetFieldShard } from './targets.js';

/** A snapshot and the number of shards its hashes have. */
export interface SnapshotLayout {
  readonly id: string;
  readonly shards: number;
}

/** A source's published state: its full snapshot and, after deltas, the overlay on top. */
export interface StateLayout {
  readonly base: SnapshotLayout;
  readonly overlay?: SnapshotLayout;
}

/**
 * A version's source states for a lookup script: from the layouts of its states' snapshots
 * (in state order, each base followed by its overlay when it has one), the states, every
 * object shard key the script reads, and the script's per-state arguments (S, then NB, NO).
 */
export function lookupStates(
  keys: Keys,
  hasOverlay: readonly boolean[],
  layouts: readonly SnapshotLayout[],
): { states: StateLayout[]; objectKeys: string[]; stateArgs: number[] } {
  let next = 0;
  const states: StateLayout[] = hasOverlay.map((overlaid) => {
    const base = layouts[next++];
    if (!base) throw new Error('layout: missing snapshot');
    const overlay = overlaid ? layouts[next++] : undefined;
    return overlay ? { base, overlay } : { base };
  });
  const objectKeys = states.flatMap((st) => [
    ...shardKeys(keys, st.base.id, 'obj', st.base.shards),
    ...(st.overlay ? shardKeys(keys, st.overlay.id, 'obj', st.overlay.shards) : []),
  ]);
  const stateArgs = [states.length, ...states.flatMap((st) => [st.base.shards, st.overlay?.shards ?? 0])];
  return { states, objectKeys, stateArgs };
}

function shardOf(hash: SnapshotHash, field: string, shards: number): number {
  if (hash === 'obj') return refShard(field, shards);
  return hash === 'tgt' ? targetFieldShard(field, shards) : addressShard(field, shards);
}

/** HMGET across shards: `fields` are object refs for 'obj', lower-cased addresses (or targets, for 'tgt') otherwise. */
export async function hmgetSharded(
  redis: RedisClient,
  keys: Keys,
  snap: SnapshotLayout,
  hash: SnapshotHash,
  fields: readonly string[],
): Promise<(string | null)[]> {
  if (fields.length === 0) return [];
  const names = shardKeys(keys, snap.id, hash, snap.shards);
  const groups = new Map<number, number[]>();
  fields.forEach((f, i) => {
    const s = shardOf(hash, f, snap.shards);
    const g = groups.get(s);
    if (g) g.push(i);
    else groups.set(s, [i]);
  });
  const out: (string | null)[] = new Array<string | null>(fields.length).fill(null);
  const entries = [...groups.entries()];
  const replies = await Promise.all(entries.map(([s, idx]) => redis.hmget(names[s] as string, ...idx.map((i) => fields[i] as string))));
  entries.forEach(([, idx], g) => idx.forEach((i, k) => (out[i] = replies[g]?.[k] ?? null)));
  return out;
}

/** Entries of one of a snapshot's hashes, summed over its shards. */
export async function hlenSharded(redis: RedisClient, keys: Keys, snap: SnapshotLayout, hash: SnapshotHash): Promise<number> {
  const lens = await Promise.all(shardKeys(keys, snap.id, hash, snap.shards).map((k) => redis.hlen(k)));
  return lens.reduce((a, b) => a + b, 0);
}

/** Every entry of one of a snapshot's hashes (small hashes only: conflicts, overlays). */
export async function hgetallSharded(
  redis: RedisClient,
  keys: Keys,
  snap: SnapshotLayout,
  hash: SnapshotHash,
): Promise<Record<string, string>> {
  const all = await Promise.all(shardKeys(keys, snap.id, hash, snap.shards).map((k) => redis.hgetall(k)));
  return Object.assign({}, ...all) as Record<string, string>;
}

/** HSCAN of every shard of one of a snapshot's hashes: flat [field, value, ...] chunks. */
export async function* hscanSharded(
  redis: RedisClient,
  keys: Keys,
  snap: SnapshotLayout,
  hash: SnapshotHash,
  count: number,
): AsyncGenerator<string[]> {
  for (const key of shardKeys(keys, snap.id, hash, snap.shards)) {
    let cursor = '0';
    do {
      const [next, flat] = await redis.hscan(key, cursor, 'COUNT', count);
      cursor = next;
      if (flat.length > 0) yield flat;
    } while (cursor !== '0');
  }
}

/** Every key of a snapshot (its shards, its target index's shards and its batches hash). */
export function snapshotKeys(keys: Keys, snap: SnapshotLayout): string[] {
  return [
    ...shardKeys(keys, snap.id, 'obj', snap.shards),
    ...shardKeys(keys, snap.id, 'addr', snap.shards),
    ...shardKeys(keys, snap.id, 'conf', snap.shards),
    ...shardKeys(keys, snap.id, 'tgt', snap.shards),
    keys.snapshotBatches(snap.id),
  ];
}
