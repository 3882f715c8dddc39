/** Per source: the last run, how many runs, and when the next scheduled full sync is due. */
import cron from 'node-cron';
import type { Config } from '../config/schema.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { readRuns, type RunRecord } from './runs.js';
import type { Watermark } from '../directory/ldap/watermark.js';
import { readPins, type Pin } from './pins.js';

export interface SourceSchedule {
  readonly source: string;
  readonly lastRun?: RunRecord;
  readonly runs: number;
  /** Next scheduled full sync. */
  readonly nextRun?: string;
  /** Next scheduled delta sync (LDAP sources with deltaSchedule). */
  readonly nextDelta?: string;
  readonly watermark?: Watermark;
  /** Set after a rollback changed the source: its syncs are paused until `switchyard resume`. */
  readonly pinned?: Pin;
}

export function nextRun(expression: string | undefined): string | undefined {
  if (expression === undefined) return undefined;
  const task = cron.createTask(expression, () => undefined);
  try {
    return task.getNextRun()?.toISOString();
  } finally {
    void task.destroy();
  }
}

export async function sourceSchedule(redis: RedisClient, keys: Keys, config: Config): Promise<SourceSchedule[]> {
  const [runs, counts, states, pins] = await Promise.all([
    readRuns(redis, keys),
    redis.hgetall(keys.runCounts),
    redis.hgetall(keys.syncState),
    readPins(redis, keys),
  ]);
  return config.sources.map((s) => {
    const last = runs.get(s.name);
    const next = nextRun(s.schedule);
    const delta = s.type === 'ldap' ? nextRun(s.deltaSchedule) : undefined;
    const wm = states[s.name];
    const pin = pins.get(s.name);
    return {
      source: s.name,
      runs: Number(counts[s.name] ?? 0),
      ...(last ? { lastRun: last } : {}),
      ...(next ? { nextRun: next } : {}),
      ...(delta ? { nextDelta: delta } : {}),
      ...(wm ? { watermark: JSON.parse(wm) as Watermark } : {}),
      ...(pin ? { pinned: pin } : {}),
    };
  });
}
