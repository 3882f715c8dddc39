/** Delivery units as stored (hash fields ↔ records) and as listed per shard (queue list). */
import type { QueueShardKeys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { checkedReplies } from '../store/resent-pipeline.js';
import type { QueuedRecipient, UnitRecord } from './types.js';

export interface QueueEntry extends UnitRecord {
  readonly state: 'ready' | 'active' | 'held';
  /** Due time (ready), lease expiry (active) or time held (held), ms. */
  readonly at: number;
}

export function parseUnit(uid: string, h: Record<string, string>): UnitRecord | undefined {
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
    ...(h.hfrom !== undefined && h.hto !== undefined ? { headerRewrite: { from: h.hfrom, to: h.hto } } : {}),
  };
}

const STATES = ['ready', 'active', 'held'] as const;

/** Every unit of one shard with its state (one pipeline for the sets, then hashes by 500). */
export async function listShard(redis: RedisClient, k: QueueShardKeys): Promise<QueueEntry[]> {
  const pipe = redis.pipeline();
  for (const state of STATES) pipe.zrange(k[state], 0, -1, 'WITHSCORES');
  const sets = checkedReplies(await pipe.exec()) as string[][];
  const members: { uid: string; state: QueueEntry['state']; at: number }[] = [];
  sets.forEach((flat, s) => {
    for (let i = 0; i + 1 < flat.length; i += 2) members.push({ uid: flat[i] ?? '', state: STATES[s] ?? 'ready', at: Number(flat[i + 1]) });
  });
  const out: QueueEntry[] = [];
  for (let i = 0; i < members.length; i += 500) {
    const chunk = members.slice(i, i + 500);
    const p = redis.pipeline();
    for (const m of chunk) p.hgetall(k.unit(m.uid));
    const hashes = checkedReplies(await p.exec()) as Record<string, string>[];
    chunk.forEach((m, j) => {
      const unit = parseUnit(m.uid, hashes[j] ?? {});
      if (unit) out.push({ ...unit, state: m.state, at: m.at });
    });
  }
  return out;
}
