/** Per source: the last run, how many runs, and when the next scheduled full sync is due. */
import cron from 'node-cron';
import type { Config } from '../config/schema.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { readRuns, type RunRecord } from './runs.js';

export interface SourceSchedule {
  readonly source: string;
  readonly lastRun?: RunRecord;
  readonly runs: number;
  readonly nextRun?: string;
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
  const [runs, counts] = await Promise.all([readRuns(redis, keys), redis.hgetall(keys.runCounts)]);
  return config.sources.map((s) => {
    const last = runs.get(s.name);
    const next = nextRun(s.schedule);
    return { source: s.name, runs: Number(counts[s.name] ?? 0), ...(last ? { lastRun: last } : {}), ...(next ? { nextRun: next } : {}) };
  });
}
