/**
 * `switchyard sync [SOURCE] [--full] [--dry-run] [--allow-mass-delete]`: a full sync of
 * one source, or of every source that can be synced (LDAP, and csvde with a path).
 * Runs inline; the job queue arrives with the worker.
 */
import { syncSource } from '../pipeline/sync-source.js';
import { withContext } from './context.js';
import { formatPublish } from './format.js';
import { UsageError } from './usage-error.js';

export interface SyncFlags {
  readonly config: string;
  readonly full?: boolean;
  readonly dryRun?: boolean;
  readonly allowMassDelete?: boolean;
  readonly json?: boolean;
}

export async function syncCommand(name: string | undefined, flags: SyncFlags): Promise<number> {
  return withContext({ configPath: flags.config, profile: 'worker' }, async (ctx) => {
    const sources = name === undefined
      ? ctx.config.sources.filter((s) => s.type === 'ldap' || s.path !== undefined)
      : ctx.config.sources.filter((s) => s.name === name);
    if (sources.length === 0) {
      throw new UsageError(name === undefined ? `no source to sync in ${flags.config}` : `${name}: no such source in ${flags.config} (have: ${ctx.config.sources.map((s) => s.name).join(', ') || 'none'})`);
    }
    for (const source of sources) {
      const result = await syncSource({ redis: ctx.redis, keys: ctx.keys, versionsKept: ctx.config.table.versionsKept }, source, {
        dryRun: flags.dryRun === true,
        allowMassDelete: flags.allowMassDelete === true,
      });
      process.stdout.write(flags.json ? `${JSON.stringify({ mode: 'full', ...result })}\n` : `full sync: ${formatPublish(result)}\n`);
    }
    return 0;
  });
}
