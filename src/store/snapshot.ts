/**
 * Staging snapshots: a source's complete set of objects, written batch by batch into
 * fresh keys that no table version references until it is published. A staging
 * snapshot that is refused (guard, bad input, dry run) is deleted; one left behind by a
 * crash is collected by `collectGarbage`. Each snapshot's hashes are split in `shards`
 * shards (src/store/shards.ts), a number fixed when the snapshot is created.
 */
import type { RecipientObject } from '../routing/object.js';
import { objectKey, rankKey } from '../routing/object.js';
import { encodeObject } from './codec.js';
import { shardKeys, type Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { parseRef } from './ref.js';
import { runScript, scripts } from './scripts.js';
import type { SnapshotLayout, StateLayout } from './sharded.js';
import { hintOf, MAX_SHARDS, objectRef } from './shards.js';
import { targetArgs } from './targets.js';

export interface SnapshotMeta {
  readonly source: string;
  readonly state: 'staging' | 'complete';
  /** An overlay holds deltas on top of the full snapshot `base`. */
  readonly kind?: 'full' | 'overlay';
  readonly base?: string;
  readonly createdAt: string;
  /** Shards of each of its hashes (absent: the unsharded layout of an older release). */
  readonly shards?: number;
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
  /**
   * How long the script ran by Redis's clock (ms); absent for a batch replayed after a resend,
   * and where the clock did not advance within the script (Redis 7.2 and later) or was refused.
   */
  readonly redisMs?: number;
}

/** A snapshot still in the layout of an older release: run `migrateTableLayout` first. */
export class LegacyLayoutError extends Error {
  readonly code = 'SY_TABLE_LAYOUT';
}

export async function createSnapshot(
  redis: RedisClient,
  keys: Keys,
  source: string,
  shards: number,
  origin?: string,
): Promise<SnapshotLayout> {
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS || (shards & (shards - 1)) !== 0) {
    throw new RangeError(`snapshot shards must be a power of two from 1 to ${MAX_SHARDS}, not ${shards}`);
  }
  const id = String(await redis.incr(keys.snapshotSeq));
  const meta: SnapshotMeta = { source, state: 'staging', createdAt: new Date().toISOString(), shards, ...(origin ? { origin } : {}) };
  await redis.hset(keys.snapshots, id, JSON.stringify(meta));
  return { id, shards };
}

export async function readSnapshotMeta(redis: RedisClient, keys: Keys, id: string): Promise<SnapshotMeta | undefined> {
  const json = await redis.hget(keys.snapshots, id);
  return json ? (JSON.parse(json) as SnapshotMeta) : undefined;
}

/** The layouts of snapshots, from their metas (one round trip). */
export async function readLayouts(redis: RedisClient, keys: Keys, ids: readonly string[]): Promise<SnapshotLayout[]> {
  if (ids.length === 0) return [];
  const metas = await redis.hmget(keys.snapshots, ...ids);
  return ids.map((id, i) => {
    const json = metas[i];
    if (!json) throw new LegacyLayoutError(`snapshot ${id} has no meta`);
    const shards = (JSON.parse(json) as SnapshotMeta).shards;
    if (shards === undefined)
      throw new LegacyLayoutError(
        `snapshot ${id} is in the unsharded layout of an older release: run "switchyard migrate" (relays and workers also migrate when they start)`,
      );
    return { id, shards };
  });
}

/** The layout of a published state ("12" or "12+15"). */
export async function readStateLayout(redis: RedisClient, keys: Keys, raw: string): Promise<StateLayout> {
  const ref = parseRef(raw);
  const [base, overlay] = await readLayouts(redis, keys, ref.overlay ? [ref.base, ref.overlay] : [ref.base]);
  return overlay ? { base: base as SnapshotLayout, overlay } : { base: base as SnapshotLayout };
}

/** Lower-cased addresses as the scripts take them: a pair (shard hint, address) each. */
export function addressArgs(lowered: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of lowered) out.push(String(hintOf(a)), a);
  return out;
}

/**
 * One object as stage arguments, appended to `out`: ref, stored JSON, c = 2 × address count
 * + 1 when it has a target, then (c odd) the target's hint and lower-cased target, then the
 * (hint, lower-cased address) pairs. The rank travels in the JSON only (stage.lua decodes it
 * when a conflict needs it), and an object without a target sends no empty arguments.
 */
export function pushObjectArgs(out: string[], o: RecipientObject, priority: number): void {
  const lowered = o.addresses.map((a) => a.toLowerCase());
  const target = o.target?.toLowerCase() ?? '';
  out.push(objectRef(objectKey(o)), encodeObject(o, rankKey(o, priority), lowered), String(2 * lowered.length + (target ? 1 : 0)));
  if (target) out.push(...targetArgs(target));
  for (const a of lowered) out.push(String(hintOf(a)), a);
}

/** Encodes one batch as the stage script's arguments; `batchId` is unique within the snapshot. */
export function stageArgs(batchId: number, objects: readonly RecipientObject[], priority: number): string[] {
  const args: string[] = [String(batchId)];
  for (const o of objects) pushObjectArgs(args, o, priority);
  return args;
}

/**
 * The stage script's keys for a snapshot and the state it replaces, built once per snapshot (up
 * to 1 + 4 × 256 + 4 × 256 names): for staging, and for classifying only.
 */
type KeyCache = WeakMap<SnapshotLayout, { keys: Keys; old: StateLayout | undefined; names: string[] }>;
const stageKeyCache: Record<'stage' | 'classify', KeyCache> = { stage: new WeakMap(), classify: new WeakMap() };

/** stage.lua's keys; `classify`: those of a batch it only classifies (N = 0: none of the new snapshot's shards). */
function stageKeys(keys: Keys, snap: SnapshotLayout, old: StateLayout | undefined, classify = false): string[] {
  const cache = stageKeyCache[classify ? 'classify' : 'stage'];
  const cached = cache.get(snap);
  if (cached !== undefined && cached.keys === keys && cached.old === old) return cached.names;
  const base = old?.base;
  const overlay = old?.overlay;
  const scriptKeys = [
    keys.snapshotBatches(snap.id),
    ...(classify
      ? []
      : [
          ...shardKeys(keys, snap.id, 'obj', snap.shards),
          ...shardKeys(keys, snap.id, 'addr', snap.shards),
          ...shardKeys(keys, snap.id, 'conf', snap.shards),
          ...shardKeys(keys, snap.id, 'tgt', snap.shards),
        ]),
    ...(base ? [...shardKeys(keys, base.id, 'obj', base.shards), ...shardKeys(keys, base.id, 'addr', base.shards)] : []),
    ...(overlay ? [...shardKeys(keys, overlay.id, 'obj', overlay.shards), ...shardKeys(keys, overlay.id, 'addr', overlay.shards)] : []),
  ];
  cache.set(snap, { keys, old, names: scriptKeys });
  return scriptKeys;
}

export async function stageBatch(
  redis: RedisClient,
  keys: Keys,
  snap: SnapshotLayout,
  old: StateLayout | undefined,
  args: readonly string[],
): Promise<BatchResult> {
  const header = [args[0] ?? '0', String(snap.shards), String(old?.base.shards ?? 0), String(old?.overlay?.shards ?? 0)];
  const reply = await runScript(redis, scripts.stage, stageKeys(keys, snap, old), args.length > 1 ? header.concat(args.slice(1)) : header);
  return batchResult(reply);
}

/** stage.lua's reply as a BatchResult (its time in ms, where Redis's clock gave one). */
function batchResult(raw: unknown): BatchResult {
  const reply = raw as [string, number, number, string[], number?];
  const result = { status: reply[0], addressesNew: reply[1], addressesKept: reply[2], conflicted: reply[3] };
  const micros = reply[4];
  return typeof micros === 'number' && micros > 0 ? { ...result, redisMs: micros / 1000 } : result;
}

/**
 * Classifies objects the client wrote into `snap` itself, every field of theirs proven new
 * there (src/store/fresh-stage.ts), against the state `old` the snapshot replaces: stage.lua
 * with N = 0, which writes nothing. `args` are per object as stage.lua takes them (ref, JSON,
 * c, …; a target is not needed). The reply is stage.lua's for the same objects staged by
 * `HSETNX`: A, C or U each, and their addresses counted as new or kept (no conflicts).
 */
export async function classifyBatch(
  redis: RedisClient,
  keys: Keys,
  snap: SnapshotLayout,
  old: StateLayout,
  args: readonly string[],
): Promise<BatchResult> {
  const header = ['0', '0', String(old.base.shards), String(old.overlay?.shards ?? 0)];
  return batchResult(await runScript(redis, scripts.stage, stageKeys(keys, snap, old, true), header.concat(args)));
}

export async function writeSnapshotMeta(redis: RedisClient, keys: Keys, id: string, meta: SnapshotMeta): Promise<void> {
  await redis.hset(keys.snapshots, id, JSON.stringify(meta));
}
