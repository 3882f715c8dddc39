/** Relays and workers bring the Redis layout up to date before they serve (SPEC §5, upgrade in place). */
import type { Logger } from '../log/logger.js';
import { runMigrations, type MigrateContext } from '../upgrade/migrate.js';

export async function migrateOnStart(ctx: MigrateContext, log: Logger): Promise<void> {
  const lines = await runMigrations(ctx);
  if (lines.length === 1 && lines[0]?.startsWith('layout already current')) return;
  log.info({ event: 'SY_MIGRATED', steps: lines }, 'Redis layout migrated');
}
