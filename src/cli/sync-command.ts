/**
 * `switchyard sync [SOURCE] [--full] [--dry-run] [--allow-mass-delete]`: a delta sync
 * (LDAP sources with a watermark; otherwise, or with --full, a full sync) of one source,
 * or of every source that can be synced (LDAP, and csvde with a path).
 * Goes through the sync queue when a worker is listening (a request made while that
 * source syncs is coalesced into one follow-up run), else runs inline (or with --inline).
 * BullMQ loads only when a worker may be listening (one CLIENT LIST says; worker-presence.ts).
 */
import { publishDeps } from '../pipeline/deps.js';
import { syncSource } from '../pipeline/sync-source.js';
import type { SyncMode, SyncResult } from '../pipeline/sync-source.js';
import type { SourceConfig } from '../config/schema.js';
import type { Queues, SyncJobData } from '../jobqueue/queues.js';
import { recordRun } from '../store/runs.js';
import { lockSource } from '../jobqueue/source-lock.js';
import { readPins, refuseIfPinned } from '../store/pins.js';
import { withContext, type Context } from './context.js';
import { formatPublish } from './format.js';
import { runNotRecorded } from './run-not-recorded.js';
import { UsageError } from './usage-error.js';
import { mayHaveWorkers } from './worker-presence.js';

export interface SyncFlags {
  readonly config: string;
  readonly full?: boolean;
  readonly dryRun?: boolean;
  readonly allowMassDelete?: boolean;
  readonly json?: boolean;
  readonly inline?: boolean;
}

async function syncInline(ctx: Context, source: SourceConfig, mode: SyncMode, flags: SyncFlags): Promise<SyncResult> {
  const started = Date.now();
  const run = { source: source.name, kind: 'sync' as const, trigger: 'inline' as const };
  const lock = await lockSource(ctx.redis, ctx.keys, source.name, `cli:${process.pid}:${started}`);
  if (!lock) throw new Error(`source ${source.name}: another sync of it is running; let it finish or try again`);
  try {
    const deps = publishDeps(ctx.redis, ctx.keys, ctx.config);
    const result = await syncSource(deps, source, {
      dryRun: flags.dryRun === true,
      allowMassDelete: flags.allowMassDelete === true,
      mode,
    });
    await recordRun(ctx.redis, ctx.keys, {
      ...run,
      mode: result.mode,
      at: new Date().toISOString(),
      ok: true,
      durationMs: result.durationMs,
      version: result.version,
      dryRun: result.dryRun,
      counts: { ...result.counts },
    }).catch(runNotRecorded);
    return result;
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    await recordRun(ctx.redis, ctx.keys, {
      ...run,
      mode,
      at: new Date().toISOString(),
      ok: false,
      durationMs: Date.now() - started,
      error,
    }).catch(() => undefined);
    throw err;
  } finally {
    await lock.release();
  }
}

export async function syncCommand(name: string | undefined, flags: SyncFlags): Promise<number> {
  return withContext({ configPath: flags.config, profile: 'worker' }, async (ctx) => {
    let sources =
      name === undefined
        ? ctx.config.sources.filter((s) => s.type === 'ldap' || s.path !== undefined)
        : ctx.config.sources.filter((s) => s.name === name);
    if (sources.length === 0) {
      throw new UsageError(
        name === undefined
          ? `no source to sync in ${flags.config}`
          : `${name}: no such source in ${flags.config} (have: ${ctx.config.sources.map((s) => s.name).join(', ') || 'none'})`,
      );
    }
    // a source a rollback pinned syncs again only through `switchyard resume` (SPEC §3.2)
    if (name !== undefined) await refuseIfPinned(ctx.redis, ctx.keys, name);
    const pins = await readPins(ctx.redis, ctx.keys);
    for (const p of sources.filter((s) => pins.has(s.name)))
      process.stderr.write(`switchyard: ${p.name} skipped: pinned by a rollback (switchyard resume ${p.name})\n`);
    sources = sources.filter((s) => !pins.has(s.name));
    const mayQueue = flags.inline !== true && (await mayHaveWorkers(ctx.redis, ctx.keys));
    const [queueing, queuedKit] = mayQueue
      ? await Promise.all([import('../jobqueue/queues.js'), import('./queued.js')])
      : [undefined, undefined];
    const queues: Queues | undefined = queueing?.createQueues(ctx.redis, ctx.keys);
    try {
      const queued = queues !== undefined && queuedKit !== undefined && (await queuedKit.workersListening(queues.sync));
      for (const source of sources) {
        const mode: SyncMode = flags.full === true ? 'full' : 'delta';
        let result: SyncResult;
        if (queued && queueing && queuedKit) {
          const data: SyncJobData = {
            source: source.name,
            mode,
            trigger: 'request',
            dryRun: flags.dryRun === true,
            allowMassDelete: flags.allowMassDelete === true,
          };
          const job = await queues.sync.add('sync', data, queueing.syncJobOptions(data));
          result = (await queuedKit.waitForJob(ctx, queues.sync, job, `sync ${source.name} (job ${job.id})`)) as unknown as SyncResult; // the job returns the SyncResult of jobs/sync.ts
        } else {
          result = await syncInline(ctx, source, mode, flags);
        }
        if (flags.allowMassDelete === true)
          await (
            await import('../audit/log.js')
          ).recordMassDelete(ctx.redis, ctx.keys, ctx.config.audit.maxEntries, `sync ${source.name}`, result);
        const how = `${result.mode} sync${queued ? ' (worker)' : ''}${result.fallback && mode === 'delta' ? ` (instead of delta: ${result.fallback})` : ''}`;
        process.stdout.write(flags.json ? `${JSON.stringify({ queued, ...result })}\n` : `${how}: ${formatPublish(result)}\n`);
      }
      return 0;
    } finally {
      await queues?.close();
    }
  });
}
