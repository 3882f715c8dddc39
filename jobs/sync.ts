/** The `sync` job: a full sync of one source through the common publish path. */
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { lockSource } from '../src/jobqueue/source-lock.js';
import { syncSource } from '../src/pipeline/sync-source.js';
import { isPermanent } from '../src/jobqueue/failures.js';
import type { SyncJobData } from '../src/jobqueue/queues.js';
import { recordRun } from '../src/store/runs.js';
import { pinText, readPin, SourcePinnedError } from '../src/store/pins.js';
import { jobResult, progressReporter, runNotRecorded, type JobContext } from './context.js';

/** How long a sync waits before trying again for a source another sync holds. */
const LOCKED_RETRY_MS = 1000;

export function syncProcessor(ctx: JobContext) {
  return async (job: Job<SyncJobData>, token?: string): Promise<Record<string, unknown>> => {
    const { source: name, mode, trigger } = job.data;
    const source = ctx.config.sources.find((s) => s.name === name);
    if (!source) throw new UnrecoverableError(`source ${name}: not in the worker's configuration`);
    // a rollback pinned the source: scheduled runs skip it, a requested one is refused until `resume`
    const pin = await readPin(ctx.redis, ctx.keys, name);
    if (pin) {
      ctx.log.info({ event: 'SY_SYNC_PINNED', job: job.id, source: name, mode, trigger, pin }, 'source pinned by a rollback: sync skipped');
      if (trigger === 'schedule') return { skipped: 'pinned', source: name, pinned: pin, slot: job.data.slot };
      throw new UnrecoverableError(new SourcePinnedError(`source ${name} is ${pinText(pin)}`).message);
    }
    const lock = await lockSource(ctx.redis, ctx.keys, name, `${job.id ?? '?'}:${job.attemptsMade}`, ctx.sourceLockTtlMs);
    if (!lock) {
      await job.moveToDelayed(Date.now() + LOCKED_RETRY_MS, token);
      throw new DelayedError(`source ${name}: another sync runs; waiting`);
    }
    const started = Date.now();
    const log = ctx.log.child({ job: job.id, source: name, mode, trigger });
    try {
      const progress = progressReporter(job);
      const result = await syncSource(ctx, source, {
        dryRun: job.data.dryRun === true,
        allowMassDelete: job.data.allowMassDelete === true,
        onProgress: progress,
        env: ctx.env,
        mode,
      });
      await progress.flush();
      await recordRun(ctx.redis, ctx.keys, {
        source: name,
        kind: 'sync',
        mode: result.mode,
        trigger,
        at: new Date().toISOString(),
        ok: true,
        durationMs: result.durationMs,
        version: result.version,
        dryRun: result.dryRun,
        counts: { ...result.counts },
      }).catch((err: unknown) => runNotRecorded(log, err));
      log.info(
        {
          event: 'SY_SYNC_DONE',
          ran: result.mode,
          fallback: result.fallback,
          partitions: result.partitions,
          version: result.version,
          counts: result.counts,
          durationMs: result.durationMs,
        },
        'sync finished',
      );
      return jobResult(result, { trigger, slot: job.data.slot });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const permanent = isPermanent(err);
      await recordRun(ctx.redis, ctx.keys, {
        source: name,
        kind: 'sync',
        mode,
        trigger,
        at: new Date().toISOString(),
        ok: false,
        durationMs: Date.now() - started,
        error: message,
        attempt: job.attemptsMade + 1,
      }).catch(() => undefined);
      log.warn({ event: 'SY_SYNC_FAILED', err: message, permanent, attempt: job.attemptsMade + 1 }, 'sync failed');
      throw permanent ? new UnrecoverableError(message) : err;
    } finally {
      await lock.release();
    }
  };
}
