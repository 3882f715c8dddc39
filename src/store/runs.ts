/** The last sync or import run of each source, kept for `status`, metrics and the admin page. */
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { execResent } from './resent-pipeline.js';

export interface RunRecord {
  readonly source: string;
  readonly kind: 'sync' | 'import';
  readonly mode?: 'full' | 'delta';
  readonly trigger?: 'schedule' | 'request' | 'inline';
  readonly at: string;
  readonly ok: boolean;
  readonly durationMs: number;
  readonly version?: number;
  readonly dryRun?: boolean;
  readonly counts?: Record<string, number>;
  readonly error?: string;
  readonly attempt?: number;
}

/**
 * Records `run`: the record, the run count and the last success land together or not at all.
 * Sent again when a connection closed before EXEC was answered (execResent): the record and
 * the last success are the same values again; the count goes up twice in the one case where
 * the lost answer was to an EXEC that had run.
 */
export async function recordRun(redis: RedisClient, keys: Keys, run: RunRecord): Promise<void> {
  await execResent(
    redis,
    (tx) => {
      tx.hset(keys.lastRuns, run.source, JSON.stringify(run)).hincrby(keys.runCounts, run.source, 1);
      // the last success outlives later failures: staleness is measured from it (SPEC §2.2)
      if (run.ok && run.dryRun !== true) tx.hset(keys.lastSuccess, run.source, run.at);
    },
    { transaction: true },
  );
}

/** Source → ISO time of its last successful (not dry) run. */
export async function readLastSuccess(redis: RedisClient, keys: Keys): Promise<Map<string, string>> {
  return new Map(Object.entries(await redis.hgetall(keys.lastSuccess)));
}

export async function readRuns(redis: RedisClient, keys: Keys): Promise<Map<string, RunRecord>> {
  const all = await redis.hgetall(keys.lastRuns);
  return new Map(Object.entries(all).map(([k, v]) => [k, JSON.parse(v) as RunRecord]));
}
