/**
 * Staging snapshots: a source's complete set of objects, written batch by batch into
 * fresh keys that no table version references until it is published. A staging
 * snapshot that is refused (guard, bad input, dry run) is deleted; one left behind by a
 * crash is collected by `collectGarbage`.
 */
import type { RecipientObject } from '../routing/object.js';
import { objectKey, rankKey } from '../routing/object.js';
import { encodeObject } from './codec.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import type { SnapshotRef } from './ref.js';
import { runScript, scripts } from './scripts.js';

export interface SnapshotMeta {
  readonly source: string;
  readonly state: 'staging' | 'complete';
  /** An overlay holds deltas on top of the full snapshot `base`. */
  readonly kind?: 'full' | 'overlay';
  readonly base?: string;
  readonly createdAt: string;
  readonly objects?: number;
  readonly addresses?: number;
  readonly conflicts?: number;
  readonly origin?: string;
}

export interface BatchResult {
  /** One per object: A added, C changed, U unchanged, D duplicate key (rejected). */
  readonly status: string;
  readonly addressesNew: number;
  readonly addressesKept: number;
  readonly conflicted: readonly string[];
}

export async function createSnapshot(redis: RedisClient, keys: Keys, source: string, origin?: string): Promise<string> {
  const id = String(await redis.incr(keys.snapshotSeq));
  const meta: SnapshotMeta = { source, state: 'staging', createdAt: new Date().toISOString(), ...(origin ? { origin } : {}) };
  await redis.hset(keys.snapshots, id, JSON.stringify(meta));
  return id;
}

export async function readSnapshotMeta(redis: RedisClient, keys: Keys, id: string): Promise<SnapshotMeta | undefined> {
  const json = await redis.hget(keys.snapshots, id);
  return json ? (JSON.parse(json) as SnapshotMeta) : undefined;
}

/** One object as script arguments: key, stored JSON, rank, address count, lower-cased addresses. */
export function objectArgs(o: RecipientObject, priority: number): string[] {
  const rank = rankKey(o, priority);
  const lowered = o.addresses.map((a) => a.toLowerCase());
  return [objectKey(o), encodeObject(o, rank, lowered), rank, String(lowered.length), ...lowered];
}

/** Encodes one batch as the stage script's arguments; `batchId` is unique within the snapshot. */
export function stageArgs(batchId: number, objects: readonly RecipientObject[], priority: number, hasOld: boolean): string[] {
  const args: string[] = [String(batchId), hasOld ? '1' : '0'];
  for (const o of objects) args.push(...objectArgs(o, priority));
  return args;
}

export async function stageBatch(
  redis: RedisClient,
  keys: Keys,
  id: string,
  old: SnapshotRef | undefined,
  args: readonly string[],
): Promise<BatchResult> {
  const base = old?.base ?? 'none';
  const overlay = old?.overlay ?? 'none';
  const reply = (await runScript(
    redis,
    scripts.stage,
    [
      keys.snapshotObjects(id),
      keys.snapshotAddresses(id),
      keys.snapshotConflicts(id),
      keys.snapshotObjects(base),
      keys.snapshotAddresses(base),
      keys.snapshotObjects(overlay),
      keys.snapshotAddresses(overlay),
      keys.snapshotBatches(id),
    ],
    args,
  )) as [string, number, number, string[]];
  return { status: reply[0], addressesNew: reply[1], addressesKept: reply[2], conflicted: reply[3] };
}

export async function writeSnapshotMeta(redis: RedisClient, keys: Keys, id: string, meta: SnapshotMeta): Promise<void> {
  await redis.hset(keys.snapshots, id, JSON.stringify(meta));
}

export async function deleteSnapshot(redis: RedisClient, keys: Keys, id: string): Promise<void> {
  await redis.unlink(keys.snapshotObjects(id), keys.snapshotAddresses(id), keys.snapshotConflicts(id), keys.snapshotBatches(id));
  await redis.hdel(keys.snapshots, id);
}
