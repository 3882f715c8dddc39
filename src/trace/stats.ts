/**
 * Mail per connector over time for the status page charts (SPEC §11): counters per minute
 * kept in Redis, one hash per hour under `{ns}` (every relay adds to the same ones), kept
 * 26 hours. Fed by the trace writer from the events it already sees, and the queue depth
 * by whichever relay samples it first in a minute.
 */
import type { TraceEvent } from '../log/observer.js';
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { checkedReplies } from '../store/resent-pipeline.js';

export const STATS_TTL_S = 26 * 3600;
export type Counted = 'accepted' | 'delivered' | 'deferred' | 'bounced';

const hourOf = (ms: number): number => Math.floor(ms / 3_600_000);
const minuteOf = (ms: number): number => Math.floor(ms / 60_000) % 60;

function slot(at: number, hop: string, what: Counted): [number, string] {
  return [hourOf(at), `${minuteOf(at)}|${hop}|${what}`];
}

/** The counter increments one event stands for: `[hour, field]` (called for every trace event). */
export function countsOf(e: TraceEvent): [hour: number, field: string][] {
  const out: [number, string][] = [];
  if (e.kind === 'received') {
    const hops = new Set<string>();
    for (const r of e.rcpts) hops.add(r.hop);
    for (const hop of hops) out.push(slot(e.at, hop, 'accepted'));
  } else if (e.kind === 'attempt') for (const r of e.results) out.push(slot(e.at, e.hop, r.outcome as Counted));
  return out;
}

export async function writeCounts(redis: RedisClient, keys: Keys, counts: ReadonlyMap<string, number>): Promise<void> {
  if (counts.size === 0) return;
  const pipe = redis.pipeline();
  const hours = new Set<number>();
  for (const [slot, n] of counts) {
    const [hour, field] = [Number(slot.slice(0, slot.indexOf('/'))), slot.slice(slot.indexOf('/') + 1)];
    pipe.hincrby(keys.stats(hour), field, n);
    hours.add(hour);
  }
  for (const h of hours) pipe.expire(keys.stats(h), STATS_TTL_S);
  // not sent again (an increment would count twice); a failed one is thrown for the writer to report
  checkedReplies(await pipe.exec());
}

/** Queue depth once a minute (HSETNX: the first relay of the minute records it). */
export async function sampleDepth(
  redis: RedisClient,
  keys: Keys,
  depth: Readonly<Record<string, number>>,
  now = Date.now(),
): Promise<void> {
  const pipe = redis.pipeline();
  for (const [state, n] of Object.entries(depth)) pipe.hsetnx(keys.stats(hourOf(now)), `${minuteOf(now)}|queue|${state}`, n);
  pipe.expire(keys.stats(hourOf(now)), STATS_TTL_S);
  checkedReplies(await pipe.exec());
}

export interface Series {
  /** Bucket start times (ms), oldest first. */
  readonly buckets: readonly number[];
  /** `connector|what` (and `queue|state`) → one value per bucket. */
  readonly series: Readonly<Record<string, readonly number[]>>;
}

/** The last `minutes` minutes in buckets of `bucketMinutes` (counters summed; queue depth: the last sample). */
export async function readSeries(
  redis: RedisClient,
  keys: Keys,
  minutes: number,
  bucketMinutes: number,
  now = Date.now(),
): Promise<Series> {
  const end = Math.floor(now / 60_000);
  const start = end - minutes + 1;
  const hours = [...new Set(Array.from({ length: minutes }, (_, i) => Math.floor((start + i) / 60)))];
  const data = await Promise.all(hours.map((h) => redis.hgetall(keys.stats(h))));
  const n = Math.ceil(minutes / bucketMinutes);
  const series: Record<string, number[]> = {};
  hours.forEach((h, i) => {
    for (const [field, value] of Object.entries(data[i] ?? {})) {
      const [m, name, what] = field.split('|');
      const minute = h * 60 + Number(m);
      if (minute < start || minute > end || name === undefined || what === undefined) continue;
      const b = Math.floor((minute - start) / bucketMinutes);
      const list = (series[`${name}|${what}`] ??= new Array<number>(n).fill(0));
      list[b] = name === 'queue' ? Number(value) : (list[b] ?? 0) + Number(value);
    }
  });
  return { buckets: Array.from({ length: n }, (_, b) => (start + b * bucketMinutes) * 60_000), series };
}

/** Samples the queue depth every minute (and now); returns the stop function. */
export function startDepthSampler(redis: RedisClient, keys: Keys, depth: () => Promise<Record<string, number>>): () => void {
  const tick = (): void =>
    void depth()
      .then((d) => sampleDepth(redis, keys, d))
      .catch(() => undefined); // a missed sample is a gap in the chart
  tick();
  const timer = setInterval(tick, 60_000);
  timer.unref();
  return () => clearInterval(timer);
}
