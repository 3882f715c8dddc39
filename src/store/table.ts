/**
 * The published routing table: numbered versions, each mapping every source to one
 * complete snapshot. Publishing and rollback are single Lua scripts, so a reader sees
 * the old version or the new one, never a mixture. Every key a script touches is named
 * by the client (SPEC §9). Lookups (src/store/lookup.ts) take one round trip.
 */
import { randomBytes } from 'node:crypto';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { DEFAULT_KEEP_FOR_MS, versionsToDrop, type Retention, type RetentionEntry } from './retention.js';
import { execResent } from './resent-pipeline.js';
import { runScript, scripts, type Script } from './scripts.js';

export interface VersionMeta {
  readonly publishedAt: string;
  readonly cause: 'import' | 'sync' | 'rollback' | 'remove';
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
  /** Versions younger than this are kept too (default 24 h). */
  readonly keepForMs?: number;
  readonly meta: VersionMeta;
}

interface Head {
  readonly current: string;
  readonly seq: string;
  /** The history, newest first. */
  readonly history: string[];
}

/** Reads what a version-changing script must name: the pointer, the sequence and the history. */
async function readHead(redis: RedisClient, keys: Keys): Promise<Head> {
  const [current, seq, history] = await Promise.all([
    redis.get(keys.current),
    redis.get(keys.versionSeq),
    redis.lrange(keys.history, 0, -1),
  ]);
  return { current: current ?? '', seq: seq ?? '0', history };
}

/** Versions read per round trip while looking for what retention may drop. */
const RETENTION_CHUNK = 32;

/**
 * The versions retention drops once a version with `snapshots` is published on `head`.
 * Only candidates are read — past the last `keep`, oldest first, up to the first one
 * younger than keepFor (versions only grow, so the newer ones are younger still).
 */
async function dropsFor(
  redis: RedisClient,
  keys: Keys,
  head: Head,
  snapshots: ReadonlyMap<string, string>,
  r: Retention,
): Promise<string[]> {
  const now = Date.now();
  const candidates = head.history.slice(Math.max(0, r.keep - 1));
  const read = new Map<string, TableVersion>();
  scan: for (let end = candidates.length; end > 0; end -= RETENTION_CHUNK) {
    const chunk = candidates.slice(Math.max(0, end - RETENTION_CHUNK), end).reverse();
    // a read that failed is not a version that is gone: retention would drop what it must keep
    const replies = await execResent(redis, (pipe) => {
      for (const v of chunk) pipe.hgetall(keys.version(v));
    });
    for (let i = 0; i < chunk.length; i++) {
      const fields = replies[i] as Record<string, string>;
      if (Object.keys(fields).length === 0) continue;
      const tv = parseVersion(Number(chunk[i]), fields);
      read.set(chunk[i] as string, tv);
      if (tv.meta && now - Date.parse(tv.meta.publishedAt) < r.keepForMs) break scan;
    }
  }
  const entries: RetentionEntry[] = [
    { version: Number(head.seq) + 1, snapshots },
    ...head.history.map((v) => {
      const tv = read.get(v);
      return tv
        ? { version: tv.version, snapshots: tv.snapshots, ...(tv.meta ? { publishedAt: tv.meta.publishedAt } : {}) }
        : { version: Number(v) };
    }),
  ];
  return versionsToDrop(entries, r, now).map(String);
}

/** Attempts of a publish or rollback whose inputs moved while it was prepared (each an other publish that won). */
const HEAD_ATTEMPTS = 20;

async function runOnHead(
  redis: RedisClient,
  keys: Keys,
  script: Script,
  build: (head: Head) => Promise<{ keys: string[]; args: (string | number)[] }>,
): Promise<unknown[]> {
  for (let attempt = 1; ; attempt++) {
    const head = await readHead(redis, keys);
    const call = await build(head);
    try {
      return (await runScript(redis, script, call.keys, call.args)) as unknown[];
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('SY_RETRY')) || attempt >= HEAD_ATTEMPTS) throw err;
    }
  }
}

function snapshotsOf(version: TableVersion | undefined): Map<string, string> {
  return new Map(version?.snapshots ?? []);
}

export async function publish(redis: RedisClient, keys: Keys, req: PublishRequest): Promise<{ version: number; dropped: number[] }> {
  const retention = { keep: req.keep, keepForMs: req.keepForMs ?? DEFAULT_KEEP_FOR_MS };
  try {
    const reply = await runOnHead(redis, keys, scripts.publish, async (head) => {
      const next = snapshotsOf(head.current ? await readVersion(redis, keys, Number(head.current)) : undefined);
      if (req.snapshot === undefined) next.delete(req.source);
      else next.set(req.source, req.snapshot);
      const dropped = await dropsFor(redis, keys, head, next, retention);
      return {
        keys: [
          keys.current,
          keys.versionSeq,
          keys.history,
          keys.version(head.current || '0'),
          keys.version(Number(head.seq) + 1),
          keys.tableEpoch,
          ...dropped.map((v) => keys.version(v)),
        ],
        args: [
          req.source,
          req.snapshot ?? '',
          req.expected ?? '',
          head.history.length,
          JSON.stringify(req.meta),
          head.current,
          head.seq,
          randomBytes(8).toString('hex'), // the table's epoch, if it has none yet
          ...dropped,
        ],
      };
    });
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

export interface RollbackRequest {
  /** The kept version to restore (whole table, or the source's state in it). */
  readonly to: number;
  /** Restore only this source's state; the others keep theirs. */
  readonly source?: string;
  /** Sources that must keep a state (configured ones that have one now). */
  readonly required: readonly string[];
  readonly keep: number;
  readonly keepForMs?: number;
}

export interface RollbackResult {
  readonly version: number;
  readonly restored: number;
  /** Sources whose state changed: pinned until `switchyard resume`. */
  readonly pinned: string[];
  readonly dropped: number[];
}

/** The snapshots a rollback publishes (the same rule as rollback.lua, for retention). */
export function rolledBack(now: TableVersion | undefined, target: TableVersion, source: string | undefined): Map<string, string> {
  if (source === undefined) return new Map(target.snapshots);
  const next = snapshotsOf(now);
  const state = target.snapshots.get(source);
  if (state !== undefined) next.set(source, state);
  return next;
}

export async function rollback(redis: RedisClient, keys: Keys, req: RollbackRequest): Promise<RollbackResult> {
  const retention = { keep: req.keep, keepForMs: req.keepForMs ?? DEFAULT_KEEP_FOR_MS };
  const meta: VersionMeta = { publishedAt: new Date().toISOString(), cause: 'rollback', ...(req.source ? { source: req.source } : {}) };
  try {
    const reply = await runOnHead(redis, keys, scripts.rollback, async (head) => {
      const [now, target] = await Promise.all([
        head.current ? readVersion(redis, keys, Number(head.current)) : undefined,
        readVersion(redis, keys, req.to),
      ]);
      const dropped = target ? await dropsFor(redis, keys, head, rolledBack(now, target, req.source), retention) : [];
      return {
        keys: [
          keys.current,
          keys.versionSeq,
          keys.history,
          keys.version(req.to),
          keys.version(Number(head.seq) + 1),
          keys.version(head.current || '0'),
          keys.pins,
          keys.syncState,
          ...dropped.map((v) => keys.version(v)),
        ],
        args: [
          String(req.to),
          req.source ?? '',
          JSON.stringify(meta),
          head.current,
          head.seq,
          head.history.length,
          meta.publishedAt,
          JSON.stringify(req.required),
          ...dropped,
        ],
      };
    });
    return {
      version: Number(reply[0]),
      restored: Number(reply[1]),
      pinned: (reply[2] as string[]).map(String),
      dropped: reply.slice(3).map(Number),
    };
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('SY_ROLLBACK')) throw new RollbackError(err.message.slice(12));
    throw err;
  }
}

export { lookup } from './lookup.js';
