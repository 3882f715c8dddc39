/**
 * `switchyard import FILE --source NAME [--dry-run] [--skip-invalid] [--allow-mass-delete] [--inline]`
 * BullMQ (with its own ioredis) and pino load only when they are used: a queued import, an
 * info line that LOG_LEVEL lets through. Most of a small import's fixed cost was loading them.
 */
import { publishDeps } from '../pipeline/deps.js';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CsvdeSourceConfig } from '../config/schema.js';
import { levelEnabled } from '../log/levels.js';
import type { CsvdePrefetch } from '../directory/csvde/parse-thread.js';
import { InvalidInputError } from '../pipeline/errors.js';
import { importCsvde } from '../pipeline/import-csvde.js';
import type { PublishResult } from '../pipeline/types.js';
import { recordRun } from '../store/runs.js';
import { withContext, type Context } from './context.js';
import { formatPublish } from './format.js';
import { runNotRecorded } from './run-not-recorded.js';
import { createProgress } from './progress.js';
import { UsageError } from './usage-error.js';
import { mayHaveWorkers } from './worker-presence.js';

export interface ImportFlags {
  readonly config: string;
  readonly source: string;
  readonly dryRun?: boolean;
  readonly skipInvalid?: boolean;
  readonly allowMassDelete?: boolean;
  readonly json?: boolean;
  readonly inline?: boolean;
}

function options(flags: ImportFlags): { dryRun: boolean; skipInvalid: boolean; allowMassDelete: boolean } {
  return { dryRun: flags.dryRun === true, skipInvalid: flags.skipInvalid === true, allowMassDelete: flags.allowMassDelete === true };
}

/**
 * Through the import queue; the worker reads the file, so it gets an absolute path, and this
 * process's own parsing thread (`prefetched`) is stopped before the job is queued.
 */
async function viaWorker(
  ctx: Context,
  source: CsvdeSourceConfig,
  file: string,
  flags: ImportFlags,
  prefetched: CsvdePrefetch | undefined,
): Promise<PublishResult | undefined> {
  if (flags.inline === true || !(await mayHaveWorkers(ctx.redis, ctx.keys))) return undefined;
  const [{ createQueues }, { waitForJob, workersListening }] = await Promise.all([import('../jobqueue/queues.js'), import('./queued.js')]);
  const queues = createQueues(ctx.redis, ctx.keys);
  try {
    if (!(await workersListening(queues.import))) return undefined;
    await prefetched?.close();
    const job = await queues.import.add('import', { source: source.name, file: resolve(file), ...options(flags) });
    return await waitForJob(ctx, queues.import, job, `import ${source.name} (job ${job.id})`);
  } finally {
    await queues.close();
  }
}

async function inline(
  ctx: Context,
  source: CsvdeSourceConfig,
  file: string,
  flags: ImportFlags,
  prefetched?: CsvdePrefetch,
): Promise<PublishResult> {
  let size = 0;
  try {
    size = statSync(file).size;
  } catch {
    // readCsvde reports the missing file with its name
  }
  const progress = createProgress(`import ${source.name}`, size);
  const started = Date.now();
  let objects = 0;
  const run = { source: source.name, kind: 'import' as const, trigger: 'inline' as const };
  try {
    const result = await importCsvde(publishDeps(ctx.redis, ctx.keys, ctx.config), source, file, {
      ...options(flags),
      ...(prefetched ? { prefetched } : {}),
      onProgress: (p) => (objects = p.written),
      onBytes: (bytes) => progress.update(bytes, `${objects} objects written`),
    });
    await recordRun(ctx.redis, ctx.keys, {
      ...run,
      at: new Date().toISOString(),
      ok: true,
      durationMs: result.durationMs,
      version: result.version,
      dryRun: result.dryRun,
      counts: { ...result.counts },
    }).catch(runNotRecorded);
    return result;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await recordRun(ctx.redis, ctx.keys, {
      ...run,
      at: new Date().toISOString(),
      ok: false,
      durationMs: Date.now() - started,
      error: message,
    }).catch(() => undefined);
    if (err instanceof InvalidInputError) {
      for (const e of err.errors.slice(0, 50)) process.stderr.write(`${e.origin}: ${e.reason}\n`);
      if (err.total > 50) process.stderr.write(`… and ${err.total - 50} more\n`);
    }
    throw err;
  } finally {
    progress.stop();
  }
}

/**
 * `prefetched`: the file's parsing thread, which the command line started before loading this
 * command (main.ts); stopped here when the import does not read it (a worker does, or it failed first).
 */
export async function importCommand(file: string, flags: ImportFlags, prefetched?: CsvdePrefetch): Promise<number> {
  try {
    return await importWith(file, flags, prefetched);
  } finally {
    await prefetched?.close();
  }
}

async function importWith(file: string, flags: ImportFlags, prefetched: CsvdePrefetch | undefined): Promise<number> {
  return withContext({ configPath: flags.config, profile: 'worker' }, async (ctx) => {
    const source = ctx.config.sources.find((s) => s.name === flags.source);
    if (!source)
      throw new UsageError(
        `--source ${flags.source}: no such source in ${flags.config} (have: ${ctx.config.sources.map((s) => s.name).join(', ') || 'none'})`,
      );
    if (source.type !== 'csvde') throw new UsageError(`--source ${flags.source}: is an ${source.type} source; import takes a csvde source`);
    const result = (await viaWorker(ctx, source, file, flags, prefetched)) ?? (await inline(ctx, source, file, flags, prefetched));
    if (flags.allowMassDelete === true)
      await (
        await import('../audit/log.js')
      ).recordMassDelete(ctx.redis, ctx.keys, ctx.config.audit.maxEntries, `import ${source.name} ${file}`, result);
    if (levelEnabled(process.env.LOG_LEVEL ?? 'warn', 'info'))
      (await import('../log/logger.js'))
        .createLogger('import')
        .info(
          { event: 'SY_IMPORT_DONE', source: source.name, version: result.version, counts: result.counts, dryRun: result.dryRun },
          'import finished',
        );
    process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : `${formatPublish(result)}\n`);
    for (const e of result.errors.slice(0, 50)) process.stderr.write(`${e.origin}: ${e.reason} (skipped)\n`);
    return 0;
  });
}
