/**
 * The audit log (SPEC §11): every operator action with who, when, what and the result, in
 * one capped Redis stream under the namespace tag. Writing never fails the action it
 * records: an unwritable entry is reported on stderr by the caller's `record` promise.
 */
import { userInfo } from 'node:os';
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';

export type AuditAction =
  | 'rollback'
  | 'resume'
  | 'source-remove'
  | 'mass-delete'
  | 'queue-hold'
  | 'queue-release'
  | 'queue-retry'
  | 'queue-delete'
  | 'contacts-apply'
  | 'reload';

export interface AuditEntry {
  /** Stream id: `<ms>-<seq>`. */
  readonly id: string;
  readonly at: number;
  /** `os:<user>` from the CLI, `admin:<user>` from an admin sign-in. */
  readonly who: string;
  readonly action: AuditAction;
  /** What it acted on (source, version, selector…). */
  readonly what: string;
  /** `ok`, or `failed: <reason>`, or a count of what changed. */
  readonly result: string;
}

/** The OS user running the command. */
export function osOperator(): string {
  try {
    return `os:${userInfo().username}`;
  } catch {
    return `os:uid-${process.getuid?.() ?? '?'}`;
  }
}

export async function recordAudit(redis: RedisClient, keys: Keys, maxEntries: number, entry: Omit<AuditEntry, 'id' | 'at'>): Promise<void> {
  await redis.xadd(
    keys.audit,
    'MAXLEN',
    '~',
    maxEntries,
    '*',
    'who',
    entry.who,
    'action',
    entry.action,
    'what',
    entry.what,
    'result',
    entry.result,
  );
}

/** Entries since `sinceMs` (all kept ones without it), oldest first. */
export async function readAudit(redis: RedisClient, keys: Keys, sinceMs?: number, count = 10_000): Promise<AuditEntry[]> {
  const raw = await redis.xrange(keys.audit, sinceMs !== undefined ? String(sinceMs) : '-', '+', 'COUNT', count);
  return raw.map(([id, fields]) => {
    const f = new Map<string, string>();
    for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i] as string, fields[i + 1] as string);
    return {
      id,
      at: Number(id.split('-')[0]),
      who: f.get('who') ?? '?',
      action: (f.get('action') ?? '?') as AuditAction,
      what: f.get('what') ?? '',
      result: f.get('result') ?? '',
    };
  });
}

/** Runs an operator action and records it with its result (the action's error is rethrown). */
export async function audited<T>(
  redis: RedisClient,
  keys: Keys,
  maxEntries: number,
  who: string,
  action: AuditAction,
  what: string,
  run: () => Promise<T>,
  result: (value: T) => string = () => 'ok',
): Promise<T> {
  let value: T;
  try {
    value = await run();
  } catch (err) {
    await recordAudit(redis, keys, maxEntries, {
      who,
      action,
      what,
      result: `failed: ${err instanceof Error ? err.message : String(err)}`,
    }).catch(() => undefined);
    throw err;
  }
  await recordAudit(redis, keys, maxEntries, { who, action, what, result: result(value) });
  return value;
}

/** A publish run with `--allow-mass-delete` (import, sync): recorded when it published. */
export async function recordMassDelete(
  redis: RedisClient,
  keys: Keys,
  maxEntries: number,
  what: string,
  r: { readonly dryRun: boolean; readonly version?: number; readonly counts: { readonly removed: number } },
): Promise<void> {
  if (r.dryRun) return;
  await recordAudit(redis, keys, maxEntries, {
    who: osOperator(),
    action: 'mass-delete',
    what,
    result: `published version ${r.version ?? '?'}, ${r.counts.removed} removed`,
  });
}
