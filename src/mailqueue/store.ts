/**
 * The mail queue in Redis. A message is one hash (meta, body, units left); each next hop
 * it goes to is one delivery unit (a hash) that lives in exactly one of three sorted sets:
 * ready (due time), active (lease expiry) or held. Acceptance writes everything in one
 * MULTI, so Redis has the whole message or nothing before the relay answers 250.
 *
 * The queue is spread over `queue.shards` shards, each under its own hash tag (SPEC §9): a
 * message and its units live in one shard, chosen round-robin at acceptance and carried in
 * the message id (ids.ts), so every operation by id touches one shard only.
 */
import type { Keys, QueueShardKeys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { runScript, scripts } from '../store/scripts.js';
import { createClaimPlanner } from './fair.js';
import { messageOf, newMessageId, shardOf, unitId } from './ids.js';
import { waitReplicas } from './replicas.js';
import type { MessageMeta, NewUnit, QueuedRecipient, UnitRecord } from './types.js';

export interface QueueStore {
  readonly shards: number;
  /** A new message id, in the next shard of this store's round-robin. */
  newId(now?: number): string;
  /** Stores a message (id from `newId`) and its units; `claim` puts them straight in active for this relay. */
  enqueue(meta: MessageMeta, body: Buffer, units: readonly NewUnit[], claim?: { leaseMs: number }): Promise<string[]>;
  /** Claims up to `limit` due units over all shards, fairly (fair.ts). */
  claim(now: number, leaseMs: number, limit: number): Promise<ClaimResult>;
  load(uid: string): Promise<{ unit: UnitRecord; meta: MessageMeta; body: Buffer } | undefined>;
  extend(uids: readonly string[], until: number): Promise<void>;
  finish(uid: string): Promise<boolean>;
  retry(uid: string, due: number, fields: RetryFields): Promise<boolean>;
  control(uid: string, action: 'hold' | 'release' | 'retry', now: number): Promise<boolean>;
  list(): Promise<QueueEntry[]>;
  depth(): Promise<{ ready: number; active: number; held: number }>;
}

export interface ClaimResult {
  /** Units whose lease had run out, returned to ready. */
  readonly reclaimed: number;
  readonly uids: string[];
  /** Some shard still has due units: claim again when slots are free. */
  readonly more: boolean;
  /** Shards that could not be reached this round (their first error). */
  readonly failed: readonly { shard: number; error: string }[];
}

export interface RetryFields {
  readonly rcpts: readonly QueuedRecipient[];
  readonly attempts: number;
  readonly lastError?: string;
  readonly warned?: boolean;
}

export interface QueueEntry extends UnitRecord {
  readonly state: 'ready' | 'active' | 'held';
  /** Due time (ready), lease expiry (active) or time held (held), ms. */
  readonly at: number;
}

function unitFields(meta: MessageMeta, unit: NewUnit): Record<string, string> {
  return {
    msg: meta.id,
    hop: unit.hop,
    rcpts: JSON.stringify(unit.rcpts),
    attempts: '0',
    arrived: String(meta.arrived),
    from: meta.from,
    warned: '0',
    held: '0',
    ...(unit.sender !== undefined ? { sender: unit.sender } : {}),
  };
}

function parseUnit(uid: string, h: Record<string, string>): UnitRecord | undefined {
  if (h.msg === undefined || h.hop === undefined || h.rcpts === undefined) return undefined;
  return {
    uid,
    msg: h.msg,
    hop: h.hop,
    rcpts: JSON.parse(h.rcpts) as QueuedRecipient[],
    attempts: Number(h.attempts ?? 0),
    arrived: Number(h.arrived ?? 0),
    from: h.from ?? '',
    ...(h.last ? { lastError: h.last } : {}),
    warned: h.warned === '1',
    held: h.held === '1',
    ...(h.sender !== undefined ? { sender: h.sender } : {}),
  };
}

type PipelineResult = [Error | null, unknown][] | null;

function results(res: PipelineResult): unknown[] {
  if (res === null) throw new Error('Redis transaction aborted');
  return res.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

export interface Durability {
  /** Replicas that must acknowledge an enqueue (Redis WAIT); 0 for none. */
  readonly replicas: number;
  readonly timeoutMs: number;
}

export class ReplicationError extends Error {
  readonly code = 'SY_REPLICATION';
}

export interface QueueStoreOptions {
  /** `queue.shards` (default 16). */
  readonly shards?: number;
  readonly durability?: Durability;
}

export const DEFAULT_SHARDS = 16;

const STATES = ['ready', 'active', 'held'] as const;

export function createQueueStore(redis: RedisClient, keys: Keys, options: QueueStoreOptions = {}): QueueStore {
  const shards = options.shards ?? DEFAULT_SHARDS;
  const durability = options.durability ?? { replicas: 0, timeoutMs: 0 };
  const shardKeys = Array.from({ length: shards }, (_, k) => keys.mqShard(k));
  const keysOf = (id: string): QueueShardKeys => keys.mqShard(shardOf(id));
  const setKeys = (uid: string): string[] => {
    const k = keysOf(uid);
    return [k.ready, k.active, k.held, k.unit(uid)];
  };
  const planner = createClaimPlanner(shards);
  let next = Math.floor(Math.random() * shards);

  async function claimShard(k: QueueShardKeys, now: number, leaseMs: number, limit: number) {
    const reply = (await runScript(redis, scripts.mqClaim, [k.ready, k.active], [now, leaseMs, limit])) as [number, number, ...string[]];
    const [reclaimed, dueLeft, ...uids] = reply;
    return { reclaimed, dueLeft, uids };
  }

  /** Runs `fn` on every shard at once (one round trip per node), in shard order. */
  const everyShard = <T>(fn: (k: QueueShardKeys) => Promise<T>): Promise<T[]> => Promise.all(shardKeys.map(fn));

  return {
    shards,
    newId(now = Date.now()) {
      const shard = next;
      next = (next + 1) % shards;
      return newMessageId(shard, now);
    },
    async enqueue(meta, body, units, claim) {
      const now = Date.now();
      const k = keysOf(meta.id);
      const multi = redis.multi();
      multi.hset(k.message(meta.id), { meta: JSON.stringify(meta), body, left: String(units.length) });
      const uids = units.map((u, i) => {
        const uid = unitId(meta.id, i);
        multi.hset(k.unit(uid), unitFields(meta, u));
        if (claim) multi.zadd(k.active, now + claim.leaseMs, uid);
        else multi.zadd(k.ready, now, uid);
        return uid;
      });
      results(await multi.exec());
      if (durability.replicas > 0) {
        const acked = await waitReplicas(redis, k.message(meta.id), durability.replicas, durability.timeoutMs);
        if (acked < durability.replicas)
          throw new ReplicationError(
            `only ${acked} of ${durability.replicas} replicas acknowledged the message within ${durability.timeoutMs} ms`,
          );
      }
      return uids;
    },
    async claim(now, leaseMs, limit) {
      const quota = planner.plan(limit);
      const settled = await Promise.allSettled(
        shardKeys.map(async (k) => {
          const n = quota[k.shard];
          return n === undefined ? undefined : claimShard(k, now, leaseMs, n);
        }),
      );
      let reclaimed = 0;
      const uids: string[] = [];
      const failed: { shard: number; error: string }[] = [];
      settled.forEach((r, shard) => {
        if (r.status === 'fulfilled') {
          if (r.value === undefined) return; // paused after a failure
          reclaimed += r.value.reclaimed;
          uids.push(...r.value.uids);
          planner.observe(shard, r.value.dueLeft);
        } else {
          planner.observe(shard, undefined);
          failed.push({ shard, error: String(r.reason) });
        }
      });
      if (failed.length === quota.filter((n) => n !== undefined).length)
        throw new Error(`no queue shard reachable: ${failed[0]?.error ?? ''}`);
      return { reclaimed, uids, more: planner.more(), failed };
    },
    async load(uid) {
      const id = messageOf(uid);
      const k = keysOf(id);
      const pipe = redis.pipeline();
      pipe.hgetall(k.unit(uid));
      pipe.hget(k.message(id), 'meta');
      pipe.hgetBuffer(k.message(id), 'body');
      const [h, metaJson, body] = results(await pipe.exec()) as [Record<string, string>, string | null, Buffer | null];
      const unit = parseUnit(uid, h);
      if (unit === undefined || metaJson === null || body === null) return undefined;
      return { unit, meta: JSON.parse(metaJson) as MessageMeta, body };
    },
    async extend(uids, until) {
      const byShard = new Map<number, string[]>();
      for (const uid of uids) {
        const s = shardOf(uid);
        byShard.set(s, [...(byShard.get(s) ?? []), uid]);
      }
      await Promise.all(
        [...byShard].map(async ([s, list]) => {
          const pipe = redis.pipeline();
          for (const uid of list) pipe.zadd(keys.mqShard(s).active, 'XX', until, uid);
          results(await pipe.exec());
        }),
      );
    },
    async finish(uid) {
      const reply = await runScript(redis, scripts.mqFinish, [...setKeys(uid), keysOf(uid).message(messageOf(uid))], [uid]);
      return reply === 1;
    },
    async retry(uid, due, fields) {
      const args: (string | number)[] = [uid, due, 'rcpts', JSON.stringify(fields.rcpts), 'attempts', fields.attempts];
      if (fields.lastError !== undefined) args.push('last', fields.lastError);
      if (fields.warned !== undefined) args.push('warned', fields.warned ? '1' : '0');
      const reply = await runScript(redis, scripts.mqRetry, setKeys(uid), args);
      return reply === 1;
    },
    async control(uid, action, now) {
      return (await runScript(redis, scripts.mqControl, setKeys(uid), [uid, action, now])) === 1;
    },
    async list() {
      const perShard = await everyShard((k) => listShard(redis, k));
      return perShard.flat().sort((a, b) => a.arrived - b.arrived || a.uid.localeCompare(b.uid));
    },
    async depth() {
      const counts = await everyShard(async (k) => {
        const pipe = redis.pipeline();
        pipe.zcard(k.ready);
        pipe.zcard(k.active);
        pipe.zcard(k.held);
        return results(await pipe.exec()) as number[];
      });
      const sum = (i: number): number => counts.reduce((n, c) => n + (c[i] ?? 0), 0);
      return { ready: sum(0), active: sum(1), held: sum(2) };
    },
  };
}

/** Every unit of one shard with its state (one pipeline for the sets, then hashes by 500). */
async function listShard(redis: RedisClient, k: QueueShardKeys): Promise<QueueEntry[]> {
  const pipe = redis.pipeline();
  for (const state of STATES) pipe.zrange(k[state], 0, -1, 'WITHSCORES');
  const sets = results(await pipe.exec()) as string[][];
  const members: { uid: string; state: QueueEntry['state']; at: number }[] = [];
  sets.forEach((flat, s) => {
    for (let i = 0; i + 1 < flat.length; i += 2) members.push({ uid: flat[i] ?? '', state: STATES[s] ?? 'ready', at: Number(flat[i + 1]) });
  });
  const out: QueueEntry[] = [];
  for (let i = 0; i < members.length; i += 500) {
    const chunk = members.slice(i, i + 500);
    const p = redis.pipeline();
    for (const m of chunk) p.hgetall(k.unit(m.uid));
    const hashes = results(await p.exec()) as Record<string, string>[];
    chunk.forEach((m, j) => {
      const unit = parseUnit(m.uid, hashes[j] ?? {});
      if (unit) out.push({ ...unit, state: m.state, at: m.at });
    });
  }
  return out;
}
