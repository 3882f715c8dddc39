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
import { runScript, scripts } from '../store/scripts.js';
import { createClaimPlanner } from './fair.js';
import { messageOf, newMessageId, shardOf, unitId } from './ids.js';
import { waitReplicas } from './replicas.js';
import { CHUNK_BYTES, chunkSink, readData, type ChunkSink, type StoredData } from './body.js';
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

/** One message at the end of DATA, its chunks already written through `sink` (or the only one here). */
export interface AcceptInput {
  readonly meta: MessageMeta;
  readonly units: readonly NewUnit[];
  /** Chunks written through the sink. */
  readonly chunks: number;
  /** The whole data of a message that fit in one chunk (then `chunks` is 0). */
  readonly onlyChunk?: Buffer;
}

export interface AcceptOptions {
  /** relay.queueBudget in bytes (0: none). */
  readonly budget: number;
  /** Put the units straight in active for this relay's runner. */
  readonly claim?: { leaseMs: number };
}

export type AcceptOutcome =
  | { readonly ok: true; readonly uids: string[] }
  | { readonly ok: false; readonly why: 'over-budget' | 'not-durable' | 'unavailable'; readonly detail: string };

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
  /** How long a budget reservation lives without a chunk written (default 2 min). */
  readonly reservationMs?: number;
}

export const DEFAULT_RESERVATION_MS = 2 * 60 * 1000;

/**
 * How long the reply to the end of DATA waits for Redis to tell whether a write whose reply
 * was lost happened (a Redis restart, a failover) before answering 4xx anyway.
 */
export const SETTLE_UNKNOWN_MS = 10_000;

/** A pending message older than this whose relay never committed or cancelled it is committed by the reaper. */
export const PENDING_REAP_MS = 2 * 60 * 1000;

export const DEFAULT_SHARDS = 16;

const STATES = ['ready', 'active', 'held'] as const;

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

  const unitKeys = (k: QueueShardKeys, id: string, n: number): string[] => Array.from({ length: n }, (_, i) => k.unit(unitId(id, i)));
  const uidsOf = (id: string, n: number): string[] => Array.from({ length: n }, (_, i) => unitId(id, i));

  /** Writes the message pending (`commit` undefined), or deliverable at once (ready, or active when claimed). */
  async function put(input: AcceptInput, budget: number, commitNow: { claim?: { leaseMs: number } } | undefined): Promise<boolean> {
    const { meta, units } = input;
    const k = keysOf(meta.id);
    const now = Date.now();
    const mode = commitNow === undefined ? 'pending' : commitNow.claim ? 'active' : 'ready';
    const score = commitNow?.claim ? now + commitNow.claim.leaseMs : now;
    const messageFields = { meta: JSON.stringify(meta), left: String(units.length), chunks: String(input.onlyChunk ? 1 : input.chunks) };
    const reply = await runScript(
      redis,
      scripts.mqPut,
      [
        k.message(meta.id),
        k.data(meta.id),
        k.pending,
        k.bytes,
        k.reservations,
        k.reservationSizes,
        k.ready,
        k.active,
        ...unitKeys(k, meta.id, units.length),
      ],
      [
        meta.id,
        now,
        budget,
        meta.size,
        JSON.stringify(messageFields),
        input.onlyChunk ?? '',
        mode,
        score,
        ...units.map((u) => JSON.stringify(unitFields(meta, u))),
      ],
    );
    return reply === 1;
  }

  async function commit(id: string, n: number, claim: { leaseMs: number } | undefined): Promise<boolean> {
    const k = keysOf(id);
    const now = Date.now();
    const reply = await runScript(
      redis,
      scripts.mqCommit,
      [k.message(id), k.pending, k.ready, k.active],
      [id, n, claim ? 'active' : 'ready', claim ? now + claim.leaseMs : now],
    );
    return reply === 1;
  }

  /** 'cancelled' (or nothing was there), 'committed', or 'newer' (pending, younger than `olderThan`). */
  async function cancel(id: string, n: number, olderThan?: number): Promise<'cancelled' | 'committed' | 'newer'> {
    const k = keysOf(id);
    const reply = await runScript(
      redis,
      scripts.mqCancel,
      [k.message(id), k.data(id), k.pending, k.bytes, k.reservations, k.reservationSizes, ...unitKeys(k, id, n)],
      [id, olderThan ?? ''],
    );
    return reply === 1 ? 'cancelled' : reply === 0 ? 'committed' : 'newer';
  }

  async function durable(id: string): Promise<void> {
    if (durability.replicas <= 0) return;
    const acked = await waitReplicas(redis, keysOf(id).message(id), durability.replicas, durability.timeoutMs);
    if (acked < durability.replicas)
      throw new ReplicationError(
        `only ${acked} of ${durability.replicas} replicas acknowledged the message within ${durability.timeoutMs} ms`,
      );
  }

  /**
   * After an error whose effect is unknown: cancel decides (it is atomic with the commit). It
   * is retried through a Redis restart or failover (SETTLE_UNKNOWN_MS) before the 4xx: a 4xx
   * given while a write whose reply was lost may stand would let the reaper deliver it.
   */
  async function settleUnknown(id: string, n: number, err: unknown): Promise<AcceptOutcome> {
    const detail = err instanceof Error ? err.message : String(err);
    const deadline = Date.now() + SETTLE_UNKNOWN_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await cancel(id, n);
        if (r === 'committed') return { ok: true, uids: uidsOf(id, n) };
        return { ok: false, why: err instanceof ReplicationError ? 'not-durable' : 'unavailable', detail };
      } catch {
        if (Date.now() >= deadline) break;
        await new Promise((r) => setTimeout(r, Math.min(1000, 200 * attempt)));
      }
    }
    // Redis unreachable all along: a pending write, if it happened, is committed by the reaper
    // later (a possible duplicate of a message answered 4xx: the outage-instant exception of SPEC §5)
    return { ok: false, why: 'unavailable', detail };
  }

  async function accept(input: AcceptInput, opts: AcceptOptions): Promise<AcceptOutcome> {
    const { meta } = input;
    const n = input.units.length;
    const overBudget: AcceptOutcome = { ok: false, why: 'over-budget', detail: `${meta.size} bytes do not fit the queue budget` };
    if (durability.replicas <= 0) {
      // nothing to wait for: the write is the commit; after an unknown outcome, cancel decides
      try {
        return (await put(input, opts.budget, opts.claim ? { claim: opts.claim } : {}))
          ? { ok: true, uids: uidsOf(meta.id, n) }
          : overBudget;
      } catch (err) {
        return settleUnknown(meta.id, n, err);
      }
    }
    try {
      if (!(await put(input, opts.budget, undefined))) return overBudget;
    } catch (err) {
      return settleUnknown(meta.id, n, err);
    }
    try {
      await durable(meta.id);
    } catch (err) {
      return settleUnknown(meta.id, n, err);
    }
    try {
      if (await commit(meta.id, n, opts.claim)) return { ok: true, uids: uidsOf(meta.id, n) };
      return { ok: false, why: 'unavailable', detail: 'the pending message was gone at commit' };
    } catch (err) {
      return settleUnknown(meta.id, n, err);
    }
  }

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
      const pipe = redis.pipeline();
      pipe.hgetall(k.unit(uid));
      pipe.hmget(k.message(id), 'meta', 'chunks');
      pipe.hgetBuffer(k.message(id), 'body');
      pipe.hgetBuffer(k.data(id), '0');
      const [h, [metaJson, chunks], legacy, first] = results(await pipe.exec()) as [
        Record<string, string>,
        (string | null)[],
        Buffer | null,
        Buffer | null,
      ];
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
          const pipe = redis.pipeline();
          for (const uid of list) pipe.zadd(keys.mqShard(s).active, 'XX', until, uid);
          results(await pipe.exec());
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
        return results(await pipe.exec()) as number[];
      });
      const sum = (i: number): number => counts.reduce((n, c) => n + (c[i] ?? 0), 0);
      return { ready: sum(0), active: sum(1), held: sum(2) };
    },
    async queuedBytes() {
      return everyShard(async (k) => Number((await redis.get(k.bytes)) ?? 0));
    },
  };
}

/** Re-cuts a stream of buffers into chunks of CHUNK_BYTES (the last one shorter). */
async function* rechunk(source: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let have = 0;
  for await (const piece of source) {
    let rest = piece;
    while (have + rest.length >= CHUNK_BYTES) {
      const take = CHUNK_BYTES - have;
      parts.push(rest.subarray(0, take));
      yield Buffer.concat(parts);
      rest = rest.subarray(take);
      parts = [];
      have = 0;
    }
    if (rest.length > 0) {
      parts.push(rest);
      have += rest.length;
    }
  }
  if (have > 0) yield Buffer.concat(parts);
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
