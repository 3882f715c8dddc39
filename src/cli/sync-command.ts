/**
 * `switchyard sync [SOURCE] [--full] [--dry-run] [--allow-mass-delete]`: a full sync of
 * one source, or of every source that can be synced (LDAP, and csvde with a path).
 * Goes through the sync queue when a worker is listening (a request made while that
 * source syncs is coalesced into one follow-up run), else runs inline (or with --inline).
 */
import { syncSource } from '../pipeline/sync-source.js';
import type { PublishResult } from '../pipeline/types.js';
import { createQueues, syncJobOptions, type SyncJobData } from '../queue/queues.js';
import { recordRun } from '../store/runs.js';
import { waitForJob, workersListening } from './queued.js';
import { withContext } from './context.js';
import { formatPublish } from './format.js';
import { UsageError } from './usage-error.js';

export interface SyncFlags {
  readonly config: string;
  readonly full?: boolean;
  readonly dryRun?: boolean;
  readonly allowMassDelete?: boolean;
  readonly json?: boolean;
  readonly inline?: boolean;
}

export async function syncCommand(name: string | undefined, flags: SyncFlags): Promise<number> {
  return withContext({ configPath: flags.config, profile: 'worker' }, async (ctx) => {
    const sources = name === undefined
      ? ctx.config.sources.filter((s) => s.type === 'ldap' || s.path !== undefined)
      : ctx.config.sources.filter((s) => s.name === name);
    if (sources.length === 0) {
      throw new UsageError(name === undefined ? `no source to sync in ${flags.config}` : `${name}: no such source in ${flags.config} (have: ${ctx.config.sources.map((s) => s.name).join(', ') || 'none'})`);
    }
    const queues = createQueues(ctx.redis, ctx.keys);
    try {
      const queued = flags.inline !== true && (await workersListening(queues.sync));
      for (const source of sources) {
        let result: PublishResult;
        if (queued) {
          const data: SyncJobData = { source: source.name, mode: 'full', trigger: 'request', dryRun: flags.dryRun === true, allowMassDelete: flags.allowMassDelete === true };
          const job = await queues.sync.add('sync', data, syncJobOptions(data));
          result = await waitForJob(ctx, queues.sync, job, `sync ${source.name} (job ${job.id})`);
        } else {
          result = await syncSource({ redis: ctx.redis, keys: ctx.keys, versionsKept: ctx.config.table.versionsKept }, source, {
            dryRun: flags.dryRun === true,
            allowMassDelete: flags.allowMassDelete === true,
          });
          await recordRun(ctx.redis, ctx.keys, { source: source.name, kind: 'sync', mode: 'full', trigger: 'inline', at: new Date().toISOString(), ok: true, durationMs: result.durationMs, version: result.version, dryRun: result.dryRun, counts: { ...result.counts } });
        }
        process.stdout.write(flags.json ? `${JSON.stringify({ mode: 'full', queued, ...result })}\n` : `full sync${queued ? ' (worker)' : ''}: ${formatPublish(result)}\n`);
      }
      return 0;
    } finally {
      await queues.close();
    }
  });
}
