/**
 * Upgrade in place (SPEC §5): brings what an earlier release left in Redis to the layout
 * this release reads, and records it in `{ns}:layout`. Relays and workers run it when they
 * start, before they serve; `switchyard migrate` runs it by hand. One process migrates at
 * a time (a lock with a token); the others wait for it. Each step is idempotent and loses
 * nothing when interrupted (copy before delete), so a second run, or a run after a crash,
 * only finishes what is left.
 *
 * Layouts: 1 (no `{ns}:layout` key) is the single-tag layout of releases up to issue 4's:
 * unsharded snapshot hashes and one mail queue under `{ns}`. 2 shards the snapshot hashes
 * (src/store/shards.ts) and spreads the mail queue over `queue.shards` tags. 3 streams
 * message data in chunks and renamed the queue's unit sets (a layout-2 relay still running
 * must not claim a message it cannot read); its step moves units out of the old sets.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/schema.js';
import { layout2Units, migrateQueueLayout, migrateQueueSets } from '../mailqueue/migrate.js';
import type { Keys } from '../store/keys.js';
import { migrateTableLayout } from '../store/migrate-table.js';
import type { RedisClient } from '../store/redis.js';

/** The layout this release writes and reads. */
export const LAYOUT = 3;

export interface MigrateContext {
  readonly redis: RedisClient;
  readonly keys: Keys;
  readonly config: Config;
}

export interface MigrateOptions {
  /** How long to wait for another process's migration before giving up (ms). */
  readonly waitMs?: number;
}

export class MigrationError extends Error {
  readonly code = 'SY_MIGRATION';
}

const LOCK_MS = 10 * 60_000;

/**
 * Current, and nothing of the older layout left: a relay or worker of the older release
 * still running after the migration (a rolling upgrade done out of order) can have queued
 * mail or published a snapshot the old way since; the next start, or `migrate`, moves it.
 */
async function current(ctx: MigrateContext): Promise<boolean> {
  const { redis, keys } = ctx;
  if ((await redis.get(keys.layout)) !== String(LAYOUT)) return false;
  const old = keys.mqLegacy;
  const [ready, active, held, metas] = await Promise.all([
    redis.zcard(old.ready),
    redis.zcard(old.active),
    redis.zcard(old.held),
    redis.hvals(keys.snapshots),
  ]);
  if (ready + active + held > 0) return false;
  if ((await layout2Units(redis, keys, ctx.config.queue.shards)) > 0) return false;
  return !metas.some((json) => (JSON.parse(json) as { shards?: number }).shards === undefined);
}

/** Returns one line per step taken, or a single line saying the layout was current already. */
export async function runMigrations(ctx: MigrateContext, opts: MigrateOptions = {}): Promise<string[]> {
  const { redis, keys, config } = ctx;
  if (await current(ctx)) return [`layout already current (${LAYOUT})`];
  const token = randomUUID();
  const deadline = Date.now() + (opts.waitMs ?? LOCK_MS);
  while ((await redis.set(keys.layoutLock, token, 'PX', LOCK_MS, 'NX')) !== 'OK') {
    if (await current(ctx)) return [`layout migrated to ${LAYOUT} by another process`];
    if (Date.now() > deadline) {
      throw new MigrationError(`another process has been migrating the Redis layout for too long (lock ${keys.layoutLock}); retry later`);
    }
    await sleep(200);
  }
  try {
    if (await current(ctx)) return [`layout migrated to ${LAYOUT} by another process`];
    const lines: string[] = [];
    const table = await migrateTableLayout(redis, keys);
    lines.push(
      table.migrated
        ? `routing table: ${table.snapshots.length} snapshot(s) converted to sharded hashes (${table.entries} entries)`
        : 'routing table: nothing to convert',
    );
    const queue = await migrateQueueLayout(redis, keys, config.queue.shards);
    lines.push(queue.moved > 0 ? `mail queue: ${queue.moved} delivery unit(s) moved into the queue shards` : 'mail queue: nothing to move');
    const sets = await migrateQueueSets(redis, keys, config.queue.shards);
    lines.push(
      sets.moved > 0
        ? `mail queue: ${sets.moved} delivery unit(s) of layout 2 moved to the sets of layout 3`
        : 'mail queue sets: nothing to move',
    );
    await redis.set(keys.layout, String(LAYOUT));
    lines.push(`layout is now ${LAYOUT}`);
    return lines;
  } finally {
    if ((await redis.get(keys.layoutLock)) === token) await redis.del(keys.layoutLock);
  }
}
