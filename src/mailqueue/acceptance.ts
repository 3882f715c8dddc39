/**
 * Accepted means queued, exactly once (SPEC §5): the end-of-DATA write of a message, its
 * durability (WAIT), its commit, and the cancel that settles an unknown outcome. See store.ts
 * for the protocol; this module is its Redis side.
 */
import type { QueueShardKeys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { runScript, scripts } from '../store/scripts.js';
import { unitId } from './ids.js';
import { waitReplicas } from './replicas.js';
import type { StoredData } from './body.js';
import { parseUnit } from './units.js';
import type { MessageMeta, NewUnit, UnitRecord } from './types.js';

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

export interface Durability {
  /** Replicas that must acknowledge an enqueue (Redis WAIT); 0 for none. */
  readonly replicas: number;
  readonly timeoutMs: number;
}

export class ReplicationError extends Error {
  readonly code = 'SY_REPLICATION';
}

/**
 * How long the reply to the end of DATA waits for Redis to tell whether a write whose reply
 * was lost happened (a Redis restart, a failover) before answering 4xx anyway.
 */
export const SETTLE_UNKNOWN_MS = 10_000;

export function unitFields(meta: MessageMeta, unit: NewUnit): Record<string, string> {
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
    ...(unit.headerRewrite !== undefined ? { hfrom: unit.headerRewrite.from, hto: unit.headerRewrite.to } : {}),
  };
}

/** A unit as `QueueStore.load` reads it back: its record, its message's meta and where its data is. */
export interface LoadedUnit {
  readonly unit: UnitRecord;
  readonly meta: MessageMeta;
  readonly data: StoredData;
}

/**
 * The units of a message just written and claimed by this relay, as `load` would read them
 * (through the same field encoding), so its runner starts without a round trip to read back
 * what it wrote. Only a message of one chunk carries its data; a longer one streams from Redis.
 */
export function acceptedUnits(input: AcceptInput, uids: readonly string[]): LoadedUnit[] {
  const meta = JSON.parse(JSON.stringify(input.meta)) as MessageMeta;
  const data: StoredData = input.onlyChunk ? { chunks: 1, first: input.onlyChunk } : { chunks: input.chunks };
  return input.units.flatMap((u, i) => {
    const uid = uids[i];
    const unit = uid === undefined ? undefined : parseUnit(uid, unitFields(input.meta, u));
    return unit === undefined ? [] : [{ unit, meta, data }];
  });
}

export interface Acceptance {
  readonly accept: (input: AcceptInput, opts: AcceptOptions) => Promise<AcceptOutcome>;
  readonly commit: (id: string, n: number, claim: { leaseMs: number } | undefined) => Promise<boolean>;
  /** 'cancelled' (or nothing was there), 'committed', or 'newer' (pending, younger than `olderThan`). */
  readonly cancel: (id: string, n: number, olderThan?: number) => Promise<'cancelled' | 'committed' | 'newer'>;
}

export function createAcceptance(redis: RedisClient, keysOf: (id: string) => QueueShardKeys, durability: Durability): Acceptance {
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

  return { accept, commit, cancel };
}
