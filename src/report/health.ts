/**
 * Health of the table as operators see it in `status`, `/healthz`, the status page and
 * metrics: completeness (SPEC §3.2: every configured source has a full snapshot in the
 * current version) and, per source, staleness (SPEC §2.2).
 */
import cron from 'node-cron';
import { parseDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { readLastSuccess } from '../store/runs.js';
import { readStatus, type TableStatus } from '../store/status.js';

export interface Completeness {
  /** False while a configured source has no snapshot in the current version (or no table). */
  readonly complete: boolean;
  /** Configured sources without a snapshot in the current version, in config order. */
  readonly missingSources: string[];
}

/** Completeness of a version holding `present` sources (a TableStatus: its sources). */
export function completeness(config: Pick<Config, 'sources'>, present: Iterable<string> | TableStatus): Completeness {
  const have = new Set('sources' in present ? present.sources.map((s) => s.source) : present);
  const missingSources = config.sources.map((s) => s.name).filter((name) => !have.has(name));
  return { complete: missingSources.length === 0, missingSources };
}

/** Runs of a cron expression looked at to find its interval: enough to span a week-end. */
const RUNS_SAMPLED = 12;
const intervals = new Map<string, number>();

/** The longest gap between consecutive runs of a cron expression (its interval), in ms. */
export function cronIntervalMs(expression: string): number {
  const known = intervals.get(expression);
  if (known !== undefined) return known;
  const task = cron.createTask(expression, () => undefined);
  try {
    const runs = task.getNextRuns(RUNS_SAMPLED).map((d) => d.getTime());
    let gap = 0;
    for (let i = 1; i < runs.length; i++) gap = Math.max(gap, (runs[i] ?? 0) - (runs[i - 1] ?? 0));
    intervals.set(expression, gap);
    return gap;
  } finally {
    void task.destroy();
  }
}

type SourceConfig = Config['sources'][number];

/**
 * `staleAfter` of a source in ms: as configured, else three times its schedule's interval
 * (schedule or deltaSchedule, the more frequent); undefined (never stale) without either.
 */
export function staleAfterMs(source: SourceConfig): number | undefined {
  if (source.staleAfter !== undefined) return parseDuration(source.staleAfter);
  const schedules = [source.schedule, source.type === 'ldap' ? source.deltaSchedule : undefined].filter(
    (s): s is string => s !== undefined,
  );
  if (schedules.length === 0) return undefined;
  return 3 * Math.min(...schedules.map(cronIntervalMs));
}

export interface SourceStaleness {
  readonly source: string;
  readonly stale: boolean;
  /** Since when it is stale: its last success plus staleAfter (null when not stale). */
  readonly staleSince: string | null;
  /** When its last successful sync or import finished (null: none known). */
  readonly lastSuccess: string | null;
  /** Seconds since then (null: none known). */
  readonly lastSuccessAgeSeconds: number | null;
  /** The threshold in seconds (null: never stale, no schedule and no staleAfter). */
  readonly staleAfterSeconds: number | null;
}

/**
 * Per configured source: stale when its last success is older than staleAfter (SPEC §2.2).
 * The last success is the recorded one, else the creation of its snapshot in the current
 * table (published before runs were recorded). A source that never succeeded is not
 * stale: it is missing (completeness says so).
 */
export function staleness(
  config: Pick<Config, 'sources'>,
  lastSuccess: ReadonlyMap<string, string>,
  status: Pick<TableStatus, 'sources'>,
  now = Date.now(),
): SourceStaleness[] {
  const published = new Map(status.sources.map((s) => [s.source, s.meta?.createdAt]));
  return config.sources.map((s) => {
    const last = lastSuccess.get(s.name) ?? published.get(s.name);
    const after = staleAfterMs(s);
    const at = last !== undefined ? Date.parse(last) : undefined;
    const stale = at !== undefined && after !== undefined && now - at > after;
    return {
      source: s.name,
      stale,
      staleSince: stale && at !== undefined && after !== undefined ? new Date(at + after).toISOString() : null,
      lastSuccess: last ?? null,
      lastSuccessAgeSeconds: at !== undefined ? Math.max(0, (now - at) / 1000) : null,
      staleAfterSeconds: after !== undefined ? after / 1000 : null,
    };
  });
}

/** Staleness read from Redis: recorded successes, and the current table for what predates them. */
export async function readStaleness(
  redis: RedisClient,
  keys: Keys,
  config: Pick<Config, 'sources'>,
  status?: Pick<TableStatus, 'sources'>,
): Promise<SourceStaleness[]> {
  const [last, table] = await Promise.all([readLastSuccess(redis, keys), status ?? readStatus(redis, keys)]);
  return staleness(config, last, table);
}
