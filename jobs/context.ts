/** What every job processor is given: config, Redis, keys, logger and the secret environment. */
import type { Job } from 'bullmq';
import type { Config } from '../src/config/schema.js';
import type { Logger } from '../src/log/logger.js';
import type { PublishDeps } from '../src/pipeline/types.js';
import type { PublishResult } from '../src/pipeline/types.js';

export interface JobContext extends PublishDeps {
  readonly config: Config;
  readonly log: Logger;
  readonly env: NodeJS.ProcessEnv;
  /** TTL of the per-source sync lock (how long a crashed worker blocks its source). */
  readonly sourceLockTtlMs?: number;
}

export interface ProgressReporter {
  (p: { read: number; written: number }): void;
  /** Reports the last progress the throttle held back (call when the work is done). */
  flush(): Promise<void>;
}

/** Progress for `switchyard sync`/`import` and the dashboard, at most once a second. */
export function progressReporter(job: Job): ProgressReporter {
  let last = 0;
  let held: { read: number; written: number } | undefined;
  const report = ((p) => {
    const now = Date.now();
    held = p;
    if (now - last < 1000) return;
    last = now;
    held = undefined;
    void job.updateProgress(p).catch(() => undefined);
  }) as ProgressReporter;
  report.flush = async () => {
    if (held) await job.updateProgress(held).catch(() => undefined);
    held = undefined;
  };
  return report;
}

/** A job's stored result: the publish result with its error list trimmed. */
export function jobResult(result: PublishResult, extra: Record<string, unknown>): Record<string, unknown> {
  return { ...extra, ...result, errors: result.errors.slice(0, 50) };
}

/**
 * A run that published but whose record was not confirmed (the connection closed under it
 * after every resend; Redis may still have written it): the job still succeeds — a retry would
 * run it again for nothing — and `status` may show the previous run until the next one.
 */
export function runNotRecorded(log: Logger, err: unknown): void {
  log.warn(
    { event: 'SY_RUN_RECORD_FAILED', err: String(err) },
    'run finished but its record was not confirmed: status may show the previous run',
  );
}
