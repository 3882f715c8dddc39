/**
 * Converts the routing table left by the previous release (one unsharded object, address
 * and conflict hash per snapshot, objects referred to by their bare key) into the sharded
 * layout (src/store/shards.ts), for every snapshot a kept version references. Version
 * hashes keep their form; a snapshot is converted into fresh shard keys and only then
 * does its meta get `shards`, which is what switches readers over, so lookups answer
 * the same throughout. Idempotent: a snapshot whose meta has `shards` is skipped, and a
 * conversion interrupted before that point is redone from the start.
 *
 * The unsharded hashes are left in place by default (a relay of the previous release may
 * still read them); they go when GC deletes the snapshot, or now with `dropLegacy`.
 */
import { shardKeys, type Keys, type SnapshotHash } from './keys.js';
import type { RedisClient } from './redis.js';
import { refIds } from './ref.js';
import { execResent } from './resent-pipeline.js';
import { chooseShards, addressShard, objectRef, refShard } from './shards.js';
import type { SnapshotMeta } from './snapshot.js';
import { readHistory } from './table.js';

export interface MigrationResult {
  /** True when at least one snapshot was converted (false: nothing to do, e.g. the second run). */
  readonly migrated: boolean;
  /** Snapshot ids converted, with their new shard counts. */
  readonly snapshots: readonly { readonly id: string; readonly shards: number }[];
  /** Hash entries written. */
  readonly entries: number;
}

export interface MigrationOptions {
  /** UNLINK the unsharded hashes of converted snapshots (default: leave them to GC, for relays of the previous release). */
  readonly dropLegacy?: boolean;
}

const SCAN_COUNT = 1000;

/** The hashes the unsharded layout had (it had no target index). */
type LegacyHash = Exclude<SnapshotHash, 'tgt'>;

/** An entry of the old layout in the new one: object keys become refs; "" (overlay tombstone) stays. */
function convert(hash: LegacyHash, field: string, value: string): [string, string] {
  if (hash === 'obj') return [objectRef(field), value];
  if (value === '') return [field, value];
  if (hash === 'addr') return [field, objectRef(value)];
  const c = JSON.parse(value) as { w: string; l: string[] };
  return [field, JSON.stringify({ w: objectRef(c.w), l: c.l.map(objectRef) })];
}

async function convertHash(redis: RedisClient, keys: Keys, id: string, hash: LegacyHash, shards: number): Promise<number> {
  const targets = shardKeys(keys, id, hash, shards);
  let cursor = '0';
  let written = 0;
  do {
    const [next, flat] = await redis.hscan(keys.legacySnapshotHash(id, hash), cursor, 'COUNT', SCAN_COUNT);
    cursor = next;
    const byShard = new Map<number, string[]>();
    for (let i = 0; i < flat.length; i += 2) {
      const [field, value] = convert(hash, flat[i] as string, flat[i + 1] as string);
      const shard = hash === 'obj' ? refShard(field, shards) : addressShard(field, shards);
      const list = byShard.get(shard) ?? [];
      list.push(field, value);
      byShard.set(shard, list);
      written++;
    }
    if (byShard.size > 0) {
      await execResent(
        redis,
        (m) => {
          for (const [shard, pairs] of byShard) m.hset(targets[shard] as string, ...pairs);
        },
        { transaction: true },
      );
    }
  } while (cursor !== '0');
  return written;
}

async function dropLegacy(redis: RedisClient, keys: Keys, id: string): Promise<void> {
  await redis.unlink(keys.legacySnapshotHash(id, 'obj'), keys.legacySnapshotHash(id, 'addr'), keys.legacySnapshotHash(id, 'conf'));
}

/** Converts one snapshot; its meta gets `shards` last (the switch). */
async function convertSnapshot(
  redis: RedisClient,
  keys: Keys,
  id: string,
  meta: SnapshotMeta,
  opts: MigrationOptions,
): Promise<{ shards: number; entries: number }> {
  const shards = chooseShards(await redis.hlen(keys.legacySnapshotHash(id, 'addr')));
  const fresh = (['obj', 'addr', 'conf'] as const).flatMap((h) => shardKeys(keys, id, h, shards));
  await redis.unlink(...fresh); // leftovers of an interrupted run
  let entries = 0;
  for (const hash of ['obj', 'addr', 'conf'] as const) entries += await convertHash(redis, keys, id, hash, shards);
  await redis.hset(keys.snapshots, id, JSON.stringify({ ...meta, shards }));
  if (opts.dropLegacy) await dropLegacy(redis, keys, id);
  return { shards, entries };
}

/**
 * Migrates every snapshot kept versions reference to the sharded layout. Run it once,
 * with no publish of the previous release running; running it again changes nothing.
 */
export async function migrateTableLayout(redis: RedisClient, keys: Keys, opts: MigrationOptions = {}): Promise<MigrationResult> {
  const referenced = new Set<string>();
  for (const v of await readHistory(redis, keys)) for (const raw of v.snapshots.values()) for (const id of refIds(raw)) referenced.add(id);
  const ids = [...referenced].sort((a, b) => Number(a) - Number(b));
  const metas = ids.length > 0 ? await redis.hmget(keys.snapshots, ...ids) : [];
  const snapshots: { id: string; shards: number }[] = [];
  let entries = 0;
  for (const [i, id] of ids.entries()) {
    const json = metas[i];
    if (!json) throw new Error(`migrate: snapshot ${id} is referenced by a kept version but has no meta`);
    const meta = JSON.parse(json) as SnapshotMeta;
    if (meta.shards !== undefined) {
      if (opts.dropLegacy) await dropLegacy(redis, keys, id);
      continue;
    }
    const done = await convertSnapshot(redis, keys, id, meta, opts);
    snapshots.push({ id, shards: done.shards });
    entries += done.entries;
  }
  return { migrated: snapshots.length > 0, snapshots, entries };
}
