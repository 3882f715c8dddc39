/**
 * The published routing table: numbered versions, each mapping every source to one
 * complete snapshot. Publishing and rollback are single Lua scripts, so a reader sees
 * the old version or the new one, never a mixture. Every key a script touches is named
 * by the client (SPEC §9). Lookups (src/store/lookup.ts) take one round trip.
 */
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { runScript, scripts, type Script } from './scripts.js';

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

/** Reads what a version-changing script must name: the pointer, the sequence and the history. */
async function readHead(redis: RedisClient, keys: Keys): Promise<{ current: string; seq: string; history: string[] }> {
  const [current, seq, history] = await Promise.all([
    redis.get(keys.current),
    redis.get(keys.versionSeq),
    redis.lrange(keys.history, 0, -1),
  ]);
  return { current: current ?? '', seq: seq ?? '0', history };
}

/** Keys of a version-changing script: pointer, sequence, history, `read`, the new version, the dropped ones. */
function headKeys(keys: Keys, head: { seq: string; history: string[] }, read: string, keep: number): string[] {
  const dropped = head.history.slice(Math.max(0, keep - 1));
  return [
    keys.current,
    keys.versionSeq,
    keys.history,
    keys.version(read),
    keys.version(Number(head.seq) + 1),
    ...dropped.map((v) => keys.version(v)),
  ];
}

/** Attempts of a publish or rollback whose inputs moved while it was prepared (each an other publish that won). */
const HEAD_ATTEMPTS = 20;

async function runOnHead(
  redis: RedisClient,
  keys: Keys,
  script: Script,
  build: (head: { current: string; seq: string; history: string[] }) => { keys: string[]; args: (string | number)[] },
): Promise<(number | string)[]> {
  for (let attempt = 1; ; attempt++) {
    const head = await readHead(redis, keys);
    const call = build(head);
    try {
      return (await runScript(redis, script, call.keys, call.args)) as (number | string)[];
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('SY_RETRY')) || attempt >= HEAD_ATTEMPTS) throw err;
    }
  }
}

export async function publish(redis: RedisClient, keys: Keys, req: PublishRequest): Promise<{ version: number; dropped: number[] }> {
  try {
    const reply = await runOnHead(redis, keys, scripts.publish, (head) => ({
      keys: headKeys(keys, head, head.current || '0', req.keep),
      args: [req.source, req.snapshot ?? '', req.expected ?? '', req.keep, JSON.stringify(req.meta), head.current, head.seq],
    }));
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
    const reply = await runOnHead(redis, keys, scripts.rollback, (head) => ({
      keys: headKeys(keys, head, to === undefined ? (head.history[1] ?? '0') : String(to), keep),
      args: [to === undefined ? '' : String(to), keep, JSON.stringify(meta), head.current, head.seq],
    }));
    return { version: Number(reply[0]), restored: Number(reply[1]), dropped: reply.slice(2).map(Number) };
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('SY_ROLLBACK')) throw new RollbackError(err.message.slice(12));
    throw err;
  }
}

export { lookup } from './lookup.js';
