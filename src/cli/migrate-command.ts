/** `switchyard migrate`: brings the Redis data to this version's layout, printing what was done. */
import { runMigrations } from '../upgrade/migrate.js';
import { withContext } from './context.js';

export async function migrateCommand(flags: { config: string }): Promise<number> {
  return withContext({ configPath: flags.config, profile: 'worker' }, async (ctx) => {
    for (const line of await runMigrations({ redis: ctx.redis, keys: ctx.keys, config: ctx.config })) process.stdout.write(`${line}\n`);
    return 0;
  });
}
