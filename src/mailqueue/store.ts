/**
 * The mail queue in Redis. A message is one hash (meta, units left, chunk count) and its
 * data, streamed in chunks during DATA (body.ts); each next hop it goes to is one delivery
 * unit (a hash) that lives in exactly one of three sorted sets: ready (due time), active
 * (lease expiry) or held.
 *
 * Accepted means queued, exactly once (SPEC §5). With `redis.waitReplicas`, the message is
 * written *pending* at the end of DATA (nothing deliverable, mq-put.lua), made durable
 * (WAIT), then committed in one step (mq-commit.lua); on any failure before the commit it
 * is cancelled (mq-cancel.lua), atomically with the commit, so a 4xx never meets a
 * delivery. A pending message whose relay died before deciding is committed by the reaper:
 * a duplicate of a message whose sender got no answer, never a loss. Without replicas the
 * write itself commits; after an error whose effect is unknown (a timeout after Redis ran
 * it), mq-cancel, sent after it on the same connection, either takes it back (4xx) or finds
 * it committed (250).
 *
 * The queue is spread over `queue.shards` shards, each under its own hash tag (SPEC §9): a
 * message and its units live in one shard, chosen round-robin at acceptance and carried in
 * the message id (ids.ts), so every operation by id touches one shard only.
 */
import type { Readable } from 'node:stream';
import type { Keys, QueueShardKeys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { checkedReplies, execResent } from '../store/resent-pipeline.js';
import { runScript, scripts } from '../store/scripts.js';
import { createClaimPlanner } from './fair.js';
import { messageOf, newMessageId, shardOf } from './ids.js';
import {
  createAcceptance,
  ReplicationError,
  type AcceptInput,
  type AcceptOptions,
  type AcceptOutcome,
  type Durability,
} from './acceptance.js';
import { CHUNK_BYTES, chunkSink, readData, rechunk, type ChunkSink, type StoredData } from './body.js';
import { listShard, parseUnit, type QueueEntry } from './units.js';
import type { MessageMeta, NewUnit, QueuedRecipient, UnitRecord } from './types.js';

export interface QueueStore {
  readonly shards: number;
  /** A new message id, in the next shard of this store's round-robin. */
  newId(now?: number): string;
  /** Reserves `bytes` of the id's shard budget for a transaction (MAIL); refused when it would not fit. */
  reserve(id: string, bytes: number, budget: number): Promise<{ granted: boolean; used: number }>;
  /** Where the relay streams a message's chunks during DATA. */
  sink(id: string): ChunkSink;
  /** Writes, makes durable and commits an accepted message — or takes it back (accepted means queued, once). */
  accept(input: AcceptInput, options: AcceptOptions): Promise<AcceptOutcome>;
  /** Takes back whatever a transaction left (its reservation and any chunks written); never touches a committed message. */
  abandon(id: string): Promise<void>;
  /** Stores a generated message (a DSN) from its content, streamed; no budget. Returns its unit ids. */
  enqueue(
    meta: MessageMeta,
    content: Buffer | AsyncIterable<Buffer>,
    units: readonly NewUnit[],
    claim?: { leaseMs: number },
  ): Promise<string[]>;
  /** Commits pending messages written more than `olderThanMs` ago whose relay never decided (store.ts, reaper). */
  reap(now: number, olderThanMs: number): Promise<number>;
  /** Claims up to `limit` due units over all shards, fairly (fair.ts). */
  claim(now: number, leaseMs: number, limit: number): Promise<ClaimResult>;
  load(uid: string): Promise<{ unit: UnitRecord; meta: MessageMeta; data: StoredData } | undefined>;
  /** The message's data as a stream (one chunk in memory at a time). */
  open(id: string, data: StoredData): Readable;
  extend(uids: readonly string[], until: number): Promise<void>;
  finish(uid: string): Promise<boolean>;
  retry(uid: string, due: number, fields: RetryFields): Promise<boolean>;
  control(uid: string, action: 'hold' | 'release' | 'retry', now: number): Promise<boolean>;
  list(): Promise<QueueEntry[]>;
  depth(): Promise<{ ready: number; active: number; held: number }>;
  /** Bytes of message data queued, per shard (relay.queueBudget is per shard). */
  queuedBytes(): Promise<number[]>;
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

export interface QueueStoreOptions {
  /** `queue.shards` (default 16). */
  readonly shards?: number;
  readonly durability?: Durability;
  /** How long a budget reservation lives without a chunk written (default 2 min). */
  readonly reservationMs?: number;
}

export const DEFAULT_RESERVATION_MS = 2 * 60 * 1000;

/** A pending message older than this whose relay never committed or cancelled it is committed by the reaper. */
export const PENDING_REAP_MS = 2 * 60 * 1000;

export const DEFAULT_SHARDS = 16;

export function createQueueStore(redis: RedisClient, keys: Keys, options: QueueStoreOptions = {}): QueueStore {
  const shards = options.shards ?? DEFAULT_SHARDS;
  const durability = options.durability ?? { replicas: 0, timeoutMs: 0 };
  const reservationMs = options.reservationMs ?? DEFAULT_RESERVATION_MS;
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

  const { accept, commit, cancel } = createAcceptance(redis, keysOf, durability);

  return {
    shards,
    newId(now = Date.now()) {
      const shard = next;
      next = (next + 1) % shards;
      return newMessageId(shard, now);
    },
    async reserve(id, bytes, budget) {
      const k = keysOf(id);
      const [granted, used] = (await runScript(
        redis,
        scripts.mqReserve,
        [k.bytes, k.reservations, k.reservationSizes],
        [id, bytes, budget, Date.now(), reservationMs],
      )) as [number, number];
      return { granted: granted === 1, used };
    },
    sink: (id) => chunkSink(redis, keysOf(id), id, reservationMs),
    accept,
    async abandon(id) {
      await cancel(id, 0);
    },
    async enqueue(meta, content, units, claim) {
      let chunks = 0;
      let size = 0;
      let only: Buffer | undefined;
      if (Buffer.isBuffer(content) && content.length <= CHUNK_BYTES) {
        only = content;
        size = content.length;
      } else {
        const sink = chunkSink(redis, keysOf(meta.id), meta.id, reservationMs);
        for await (const chunk of rechunk(Buffer.isBuffer(content) ? [content] : content)) {
          size += chunk.length;
          await sink.write(chunk);
        }
        chunks = sink.count;
      }
      const outcome = await accept(
        { meta: { ...meta, size }, units, chunks, ...(only ? { onlyChunk: only } : {}) },
        { budget: 0, ...(claim ? { claim } : {}) },
      );
      if (!outcome.ok) throw outcome.why === 'not-durable' ? new ReplicationError(outcome.detail) : new Error(outcome.detail);
      return outcome.uids;
    },
    async reap(now, olderThanMs) {
      let reaped = 0;
      await everyShard(async (k) => {
        const ids = await redis.zrangebyscore(k.pending, '-inf', now - olderThanMs, 'LIMIT', 0, 50);
        for (const id of ids) {
          const left = Number((await redis.hget(k.message(id), 'left')) ?? 0);
          if (await commit(id, left, undefined)) reaped++;
        }
      });
      return reaped;
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
      // reads: sent again whole when a connection closes half answered (else the unit waits out its lease)
      const [h, [metaJson, chunks], legacy, first] = (await execResent(redis, (pipe) => {
        pipe.hgetall(k.unit(uid));
        pipe.hmget(k.message(id), 'meta', 'chunks');
        pipe.hgetBuffer(k.message(id), 'body');
        pipe.hgetBuffer(k.data(id), '0');
      })) as [Record<string, string>, (string | null)[], Buffer | null, Buffer | null];
      const unit = parseUnit(uid, h);
      if (unit === undefined || metaJson === null || metaJson === undefined) return undefined;
      if (legacy === null && (chunks === null || chunks === undefined)) return undefined;
      const data: StoredData = legacy !== null ? { chunks: 0, legacy } : { chunks: Number(chunks), ...(first !== null ? { first } : {}) };
      return { unit, meta: JSON.parse(metaJson) as MessageMeta, data };
    },
    open: (id, data) => readData(redis, keysOf(id), id, data),
    async extend(uids, until) {
      const byShard = new Map<number, string[]>();
      for (const uid of uids) {
        const s = shardOf(uid);
        byShard.set(s, [...(byShard.get(s) ?? []), uid]);
      }
      await Promise.all(
        [...byShard].map(async ([s, list]) => {
          // the same lease again when sent twice (XX: never re-adds a unit that finished meanwhile)
          await execResent(redis, (pipe) => {
            for (const uid of list) pipe.zadd(keys.mqShard(s).active, 'XX', until, uid);
          });
        }),
      );
    },
    async finish(uid) {
      const id = messageOf(uid);
      const k = keysOf(uid);
      const reply = await runScript(redis, scripts.mqFinish, [...setKeys(uid), k.message(id), k.data(id), k.bytes], [uid]);
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
        return checkedReplies(await pipe.exec()) as number[];
      });
      const sum = (i: number): number => counts.reduce((n, c) => n + (c[i] ?? 0), 0);
      return { ready: sum(0), active: sum(1), held: sum(2) };
    },
    async queuedBytes() {
      return everyShard(async (k) => Number((await redis.get(k.bytes)) ?? 0));
    },
  };
}

export type { QueueEntry } from './units.js';
