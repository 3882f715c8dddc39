/**
 * The mail queue in Redis. A message is one hash (meta, body, units left); each next hop
 * it goes to is one delivery unit (a hash) that lives in exactly one of three sorted sets:
 * ready (due time), active (lease expiry) or held. Acceptance writes everything in one
 * MULTI, so Redis has the whole message or nothing before the relay answers 250.
 */
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { runScript, scripts } from '../store/scripts.js';
import { messageOf, unitId } from './ids.js';
import type { MessageMeta, NewUnit, QueuedRecipient, UnitRecord } from './types.js';

export interface QueueStore {
  /** Stores a message and its units; `claim` puts them straight in active for this relay. */
  enqueue(meta: MessageMeta, body: Buffer, units: readonly NewUnit[], claim?: { leaseMs: number }): Promise<string[]>;
  claim(now: number, leaseMs: number, limit: number): Promise<{ reclaimed: number; uids: string[] }>;
  load(uid: string): Promise<{ unit: UnitRecord; meta: MessageMeta; body: Buffer } | undefined>;
  extend(uids: readonly string[], until: number): Promise<void>;
  finish(uid: string): Promise<boolean>;
  retry(uid: string, due: number, fields: RetryFields): Promise<boolean>;
  control(uid: string, action: 'hold' | 'release' | 'retry', now: number): Promise<boolean>;
  list(): Promise<QueueEntry[]>;
  depth(): Promise<{ ready: number; active: number; held: number }>;
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

export function createQueueStore(redis: RedisClient, keys: Keys, durability: Durability = { replicas: 0, timeoutMs: 0 }): QueueStore {
  const setKeys = (uid: string): string[] => [keys.mqReady, keys.mqActive, keys.mqHeld, keys.mqUnit(uid)];
  return {
    async enqueue(meta, body, units, claim) {
      const now = Date.now();
      const multi = redis.multi();
      multi.hset(keys.mqMessage(meta.id), { meta: JSON.stringify(meta), body, left: String(units.length) });
      const uids = units.map((u, i) => {
        const uid = unitId(meta.id, i);
        multi.hset(keys.mqUnit(uid), unitFields(meta, u));
        if (claim) multi.zadd(keys.mqActive, now + claim.leaseMs, uid);
        else multi.zadd(keys.mqReady, now, uid);
        return uid;
      });
      results(await multi.exec());
      if (durability.replicas > 0 && 'wait' in redis) {
        const acked = await redis.wait(durability.replicas, durability.timeoutMs);
        if (acked < durability.replicas)
          throw new ReplicationError(
            `only ${acked} of ${durability.replicas} replicas acknowledged the message within ${durability.timeoutMs} ms`,
          );
      }
      return uids;
    },
    async claim(now, leaseMs, limit) {
      const reply = (await runScript(redis, scripts.mqClaim, [keys.mqReady, keys.mqActive], [now, leaseMs, limit])) as [
        number,
        ...string[],
      ];
      const [reclaimed, ...uids] = reply;
      return { reclaimed, uids };
    },
    async load(uid) {
      const id = messageOf(uid);
      const pipe = redis.pipeline();
      pipe.hgetall(keys.mqUnit(uid));
      pipe.hget(keys.mqMessage(id), 'meta');
      pipe.hgetBuffer(keys.mqMessage(id), 'body');
      const [h, metaJson, body] = results(await pipe.exec()) as [Record<string, string>, string | null, Buffer | null];
      const unit = parseUnit(uid, h);
      if (unit === undefined || metaJson === null || body === null) return undefined;
      return { unit, meta: JSON.parse(metaJson) as MessageMeta, body };
    },
    async extend(uids, until) {
      if (uids.length === 0) return;
      const pipe = redis.pipeline();
      for (const uid of uids) pipe.zadd(keys.mqActive, 'XX', until, uid);
      results(await pipe.exec());
    },
    async finish(uid) {
      const reply = await runScript(redis, scripts.mqFinish, [...setKeys(uid), keys.mqMessage(messageOf(uid))], [uid]);
      return reply === 1;
    },
    async retry(uid, due, fields) {
      const args: (string | number)[] = [uid, due, 'rcpts', JSON.stringify(fields.rcpts), 'attempts', fields.attempts];
      if (fields.lastError !== undefined) args.push('last', fields.lastError);
      if (fields.warned !== undefined) args.push('warned', fields.warned ? '1' : '0');
      const reply = await runScript(redis, scripts.mqRetry, [keys.mqReady, keys.mqActive, keys.mqHeld, keys.mqUnit(uid)], args);
      return reply === 1;
    },
    async control(uid, action, now) {
      return (await runScript(redis, scripts.mqControl, setKeys(uid), [uid, action, now])) === 1;
    },
    async list() {
      const pipe = redis.pipeline();
      pipe.zrange(keys.mqReady, 0, -1, 'WITHSCORES');
      pipe.zrange(keys.mqActive, 0, -1, 'WITHSCORES');
      pipe.zrange(keys.mqHeld, 0, -1, 'WITHSCORES');
      const sets = results(await pipe.exec()) as string[][];
      const states = ['ready', 'active', 'held'] as const;
      const members: { uid: string; state: QueueEntry['state']; at: number }[] = [];
      sets.forEach((flat, s) => {
        for (let i = 0; i + 1 < flat.length; i += 2)
          members.push({ uid: flat[i] ?? '', state: states[s] ?? 'ready', at: Number(flat[i + 1]) });
      });
      const out: QueueEntry[] = [];
      for (let i = 0; i < members.length; i += 500) {
        const chunk = members.slice(i, i + 500);
        const p = redis.pipeline();
        for (const m of chunk) p.hgetall(keys.mqUnit(m.uid));
        const hashes = results(await p.exec()) as Record<string, string>[];
        chunk.forEach((m, j) => {
          const unit = parseUnit(m.uid, hashes[j] ?? {});
          if (unit) out.push({ ...unit, state: m.state, at: m.at });
        });
      }
      return out.sort((a, b) => a.arrived - b.arrived || a.uid.localeCompare(b.uid));
    },
    async depth() {
      const pipe = redis.pipeline();
      pipe.zcard(keys.mqReady);
      pipe.zcard(keys.mqActive);
      pipe.zcard(keys.mqHeld);
      const [ready, active, held] = results(await pipe.exec()) as number[];
      return { ready: ready ?? 0, active: active ?? 0, held: held ?? 0 };
    },
  };
}
