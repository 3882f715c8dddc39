/**
 * The published routing table: numbered versions, each mapping every source to one
 * complete snapshot. Publishing and rollback are single Lua scripts, so a reader sees
 * the old version or the new one, never a mixture. Lookups take one round trip.
 */
import { decodeObject } from './codec.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { runScript, scripts } from './scripts.js';
import type { RecipientObject } from '../routing/object.js';
import type { LookupResult } from '../routing/decide.js';

export interface VersionMeta {
  readonly publishedAt: string;
  readonly cause: 'import' | 'sync' | 'rollback';
  readonly source?: string;
  readonly rollbackOf?: number;
}

export interface TableVersion {
  readonly version: number;
  /** Source name → snapshot id. */
  readonly snapshots: ReadonlyMap<string, string>;
  readonly meta?: VersionMeta;
}

/** A stable error class for "another publish of this source won the race". */
export class StalePublishError extends Error {
  readonly code = 'SY_STALE';
}

export class RollbackError extends Error {
  readonly code = 'SY_ROLLBACK';
}

function parseVersion(version: number, fields: Record<string, string>): TableVersion {
  const snapshots = new Map<string, string>();
  for (const [f, v] of Object.entries(fields)) if (f.startsWith('s:')) snapshots.set(f.slice(2), v);
  const meta = fields.meta ? (JSON.parse(fields.meta) as VersionMeta) : undefined;
  return meta ? { version, snapshots, meta } : { version, snapshots };
}

export async function readVersion(redis: RedisClient, keys: Keys, version: number): Promise<TableVersion | undefined> {
  const fields = await redis.hgetall(keys.version(version));
  return Object.keys(fields).length === 0 ? undefined : parseVersion(version, fields);
}

export async function readCurrent(redis: RedisClient, keys: Keys): Promise<TableVersion | undefined> {
  const current = await redis.get(keys.current);
  return current === null ? undefined : readVersion(redis, keys, Number(current));
}

/** Kept versions, newest first. */
export async function readHistory(redis: RedisClient, keys: Keys): Promise<TableVersion[]> {
  const numbers = await redis.lrange(keys.history, 0, -1);
  const versions = await Promise.all(numbers.map((n) => readVersion(redis, keys, Number(n))));
  return versions.filter((v): v is TableVersion => v !== undefined);
}

export interface PublishRequest {
  readonly source: string;
  /** New snapshot id, or undefined to remove the source from the table. */
  readonly snapshot: string | undefined;
  /** The snapshot the new one was diffed against (undefined: the source had none). */
  readonly expected: string | undefined;
  readonly keep: number;
  readonly meta: VersionMeta;
}

export async function publish(redis: RedisClient, keys: Keys, req: PublishRequest): Promise<{ version: number; dropped: number[] }> {
  try {
    const reply = (await runScript(
      redis,
      scripts.publish,
      [keys.current, keys.versionSeq, keys.history],
      [keys.prefix, req.source, req.snapshot ?? '', req.expected ?? '', req.keep, JSON.stringify(req.meta)],
    )) as (number | string)[];
    return { version: Number(reply[0]), dropped: reply.slice(1).map(Number) };
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('SY_STALE')) {
      throw new StalePublishError(
        `refused: another import or sync of source "${req.source}" published while this one ran (${err.message.slice(9)}); nothing was published, run it again`,
      );
    }
    throw err;
  }
}

export async function rollback(
  redis: RedisClient,
  keys: Keys,
  to: number | undefined,
  keep: number,
): Promise<{ version: number; restored: number; dropped: number[] }> {
  const meta: VersionMeta = { publishedAt: new Date().toISOString(), cause: 'rollback' };
  try {
    const reply = (await runScript(
      redis,
      scripts.rollback,
      [keys.current, keys.versionSeq, keys.history],
      [keys.prefix, to === undefined ? '' : String(to), keep, JSON.stringify(meta)],
    )) as (number | string)[];
    return { version: Number(reply[0]), restored: Number(reply[1]), dropped: reply.slice(2).map(Number) };
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('SY_ROLLBACK')) throw new RollbackError(err.message.slice(12));
    throw err;
  }
}

/** Looks up lower-cased addresses in the current version, one round trip for all. */
export async function lookup(redis: RedisClient, keys: Keys, addressKeys: readonly string[]): Promise<LookupResult[]> {
  let reply: (string | null)[];
  try {
    reply = (await runScript(redis, scripts.lookup, [keys.current], [keys.prefix, ...addressKeys])) as (string | null)[];
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    return addressKeys.map(() => ({ state: 'unavailable', error }));
  }
  const version = reply[0];
  if (version === null || version === undefined) return addressKeys.map(() => ({ state: 'no-table' }));
  return addressKeys.map((_, i) => {
    const json = reply[i + 1];
    const object: RecipientObject | undefined = json ? decodeObject(json) : undefined;
    return object ? { state: 'ok', version: Number(version), object } : { state: 'ok', version: Number(version) };
  });
}
