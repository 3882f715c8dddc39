/** The `import` job: a Csvde file as the full snapshot of one csvde source. */
import { UnrecoverableError, type Job } from 'bullmq';
import { importCsvde } from '../src/pipeline/import-csvde.js';
import { isPermanent } from '../src/jobqueue/failures.js';
import type { ImportJobData } from '../src/jobqueue/queues.js';
import { recordRun } from '../src/store/runs.js';
import { jobResult, progressReporter, runNotRecorded, type JobContext } from './context.js';

export function importProcessor(ctx: JobContext) {
  return async (job: Job<ImportJobData>): Promise<Record<string, unknown>> => {
    const { source: name, file } = job.data;
    const source = ctx.config.sources.find((s) => s.name === name);
    if (!source || source.type !== 'csvde')
      throw new UnrecoverableError(`source ${name}: no csvde source of that name in the worker's configuration`);
    const started = Date.now();
    try {
      const progress = progressReporter(job);
      const result = await importCsvde(ctx, source, file, {
        dryRun: job.data.dryRun === true,
        skipInvalid: job.data.skipInvalid === true,
        allowMassDelete: job.data.allowMassDelete === true,
        onProgress: progress,
      });
      await progress.flush();
      await recordRun(ctx.redis, ctx.keys, {
        source: name,
        kind: 'import',
        trigger: 'request',
        at: new Date().toISOString(),
        ok: true,
        durationMs: result.durationMs,
        version: result.version,
        dryRun: result.dryRun,
        counts: { ...result.counts },
      }).catch((err: unknown) => runNotRecorded(ctx.log.child({ job: job.id, source: name }), err));
      ctx.log.info(
        { event: 'SY_IMPORT_DONE', job: job.id, source: name, version: result.version, counts: result.counts },
        'import finished',
      );
      return jobResult(result, { file });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await recordRun(ctx.redis, ctx.keys, {
        source: name,
        kind: 'import',
        trigger: 'request',
        at: new Date().toISOString(),
        ok: false,
        durationMs: Date.now() - started,
        error: message,
        attempt: job.attemptsMade + 1,
      }).catch(() => undefined);
      throw isPermanent(err) ? new UnrecoverableError(message) : err;
    }
  };
}
