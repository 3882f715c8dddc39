/**
 * Trace search (SPEC §11, B7): by trace id straight to its shard; by recipient, sender or
 * Message-ID through the index zsets of every shard (one ZRANGEBYSCORE each, never a scan),
 * then each timeline read from its shard. Events older than the retention are left out even
 * before Redis expires them.
 */
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { indexValue, traceShard, type StoredEvent, type TraceSettings } from './record.js';

export type TraceQuery =
  { readonly id: string } | { readonly messageId: string } | { readonly sender: string } | { readonly recipient: string };

export interface Timeline {
  /** The queue id, or `S…` for an SMTP session whose recipients were all refused. */
  readonly id: string;
  readonly events: readonly StoredEvent[];
}

/** At most this many timelines answer one search (the newest). */
export const SEARCH_LIMIT = 200;

async function indexed(
  redis: RedisClient,
  keys: Keys,
  shards: number,
  kind: 'r' | 's' | 'm',
  value: string,
  since: number,
): Promise<string[]> {
  const v = indexValue(kind, value);
  const perShard = await Promise.all(
    Array.from({ length: shards }, (_, k) =>
      redis.zrangebyscore(keys.mqShard(k).traceIndex(kind, v), since, '+inf', 'WITHSCORES', 'LIMIT', 0, SEARCH_LIMIT),
    ),
  );
  const found: { id: string; at: number }[] = [];
  for (const flat of perShard) for (let i = 0; i + 1 < flat.length; i += 2) found.push({ id: flat[i] as string, at: Number(flat[i + 1]) });
  found.sort((a, b) => a.at - b.at);
  return [...new Set(found.slice(-SEARCH_LIMIT).map((f) => f.id))];
}

function parse(raw: string): StoredEvent | undefined {
  try {
    return JSON.parse(raw) as StoredEvent;
  } catch {
    return undefined;
  }
}

/** The timelines a query finds, oldest first, each in event order. */
export async function searchTrace(
  redis: RedisClient,
  keys: Keys,
  settings: Pick<TraceSettings, 'shards' | 'retentionMs'>,
  query: TraceQuery,
  sinceMs?: number,
  now = Date.now(),
): Promise<Timeline[]> {
  const floor = Math.max(now - settings.retentionMs, sinceMs ?? 0);
  const ids =
    'id' in query
      ? [query.id.toUpperCase()]
      : 'messageId' in query
        ? await indexed(redis, keys, settings.shards, 'm', query.messageId.replace(/^<|>$/g, ''), floor)
        : 'sender' in query
          ? await indexed(redis, keys, settings.shards, 's', query.sender, floor)
          : await indexed(redis, keys, settings.shards, 'r', query.recipient, floor);
  const lists = await Promise.all(ids.map((id) => redis.lrange(keys.mqShard(traceShard(id)).traceTimeline(id), 0, -1)));
  const out: Timeline[] = [];
  ids.forEach((id, i) => {
    const events = (lists[i] ?? [])
      .map(parse)
      .filter((e): e is StoredEvent => e !== undefined && e.at >= now - settings.retentionMs)
      .sort((a, b) => a.at - b.at);
    // --since keeps whole timelines that have an event in the window
    if (events.length > 0 && events.some((e) => e.at >= floor)) out.push({ id, events });
  });
  return out;
}
