/**
 * Rollback as the CLI and the admin API run it (SPEC §3.2): plan it (which version, which
 * sources change and how — shown before asking), then apply it (rollback.lua pins the
 * changed sources and drops their delta watermarks in the same atomic step), then
 * collect the snapshots nothing references any more.
 */
import type { Config } from '../config/schema.js';
import { parseDuration } from '../config/duration.js';
import { collectGarbage } from '../store/gc.js';
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { topId } from '../store/ref.js';
import { readSnapshotMeta } from '../store/snapshot.js';
import { readCurrent, readVersion, rollback, rolledBack, RollbackError, type RollbackResult, type TableVersion } from '../store/table.js';

export interface RollbackAsk {
  /** Only this source's state (the others keep theirs). */
  readonly source?: string;
  /** The kept table version to take the state from (default: the previous one). */
  readonly to?: number;
}

export interface StateSide {
  readonly state: string | null;
  readonly objects: number | null;
  readonly addresses: number | null;
}

export interface SourceChange {
  readonly source: string;
  readonly from: StateSide;
  readonly to: StateSide;
}

export interface RollbackPlan {
  readonly current: number;
  readonly to: number;
  readonly source?: string;
  readonly changes: SourceChange[];
  /** Configured sources with a state now: a rollback may not leave one without. */
  readonly required: string[];
}

async function side(redis: RedisClient, keys: Keys, state: string | undefined): Promise<StateSide> {
  if (state === undefined) return { state: null, objects: null, addresses: null };
  const meta = await readSnapshotMeta(redis, keys, topId(state));
  return { state, objects: meta?.objects ?? null, addresses: meta?.addresses ?? null };
}

/** The default target: the previous kept version, or the source's previous kept state. */
async function previousOf(
  redis: RedisClient,
  keys: Keys,
  history: string[],
  now: TableVersion,
  source: string | undefined,
): Promise<number> {
  if (source === undefined) {
    const prev = history[1];
    if (prev === undefined) throw new RollbackError('no earlier version is kept');
    return Number(prev);
  }
  const state = now.snapshots.get(source);
  for (const v of history.slice(1)) {
    const tv = await readVersion(redis, keys, Number(v));
    const s = tv?.snapshots.get(source);
    if (s !== undefined && s !== state) return Number(v);
  }
  throw new RollbackError(`no earlier state of source ${source} is kept`);
}

export async function planRollback(redis: RedisClient, keys: Keys, config: Config, ask: RollbackAsk): Promise<RollbackPlan> {
  const now = await readCurrent(redis, keys);
  if (!now) throw new RollbackError('no table has been published');
  const history = await redis.lrange(keys.history, 0, -1);
  const to = ask.to ?? (await previousOf(redis, keys, history, now, ask.source));
  if (!history.includes(String(to))) throw new RollbackError(`version ${to} is not kept (kept: ${history.slice(0, 20).join(', ')})`);
  const target = await readVersion(redis, keys, to);
  if (!target) throw new RollbackError(`version ${to} is not kept`);
  if (ask.source !== undefined && !target.snapshots.has(ask.source)) {
    throw new RollbackError(`source ${ask.source} has no snapshot in version ${to}`);
  }
  const next = rolledBack(now, target, ask.source);
  const required = config.sources.map((s) => s.name).filter((s) => now.snapshots.has(s));
  const missing = required.filter((s) => !next.has(s));
  if (missing.length > 0) {
    throw new RollbackError(
      `refused: source${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ha${missing.length > 1 ? 've' : 's'} no snapshot in version ${to} (${missing.length > 1 ? 'they' : 'it'} would be left with none; roll back one source with --source)`,
    );
  }
  const names = [...new Set([...now.snapshots.keys(), ...next.keys()])].sort();
  const changes: SourceChange[] = [];
  for (const s of names) {
    const a = now.snapshots.get(s);
    const b = next.get(s);
    if (a !== b) changes.push({ source: s, from: await side(redis, keys, a), to: await side(redis, keys, b) });
  }
  if (changes.length === 0) {
    throw new RollbackError(`nothing to change: version ${to} has the same state${ask.source ? ` of source ${ask.source}` : ''}`);
  }
  return { current: now.version, to, ...(ask.source !== undefined ? { source: ask.source } : {}), changes, required };
}

export async function applyRollback(redis: RedisClient, keys: Keys, config: Config, plan: RollbackPlan): Promise<RollbackResult> {
  const result = await rollback(redis, keys, {
    to: plan.to,
    ...(plan.source !== undefined ? { source: plan.source } : {}),
    required: plan.required,
    keep: config.table.versionsKept,
    keepForMs: parseDuration(config.table.keepFor),
  });
  await collectGarbage(redis, keys).catch(() => undefined);
  return result;
}

/** The plan as lines for a terminal. */
export function formatPlan(plan: RollbackPlan): string {
  const what = plan.source ? `source ${plan.source} to its state in table version ${plan.to}` : `the whole table to version ${plan.to}`;
  const n = (v: number | null): string => (v === null ? '?' : String(v));
  const lines = [`rollback of ${what} (current version ${plan.current}):`];
  for (const c of plan.changes) {
    lines.push(
      `  ${c.source}: snapshot ${c.from.state ?? 'none'} → ${c.to.state ?? 'none'}, objects ${n(c.from.objects)} → ${n(c.to.objects)}, addresses ${n(c.from.addresses)} → ${n(c.to.addresses)}`,
    );
  }
  const pinned = plan.changes.filter((c) => c.to.state !== null).map((c) => c.source);
  if (pinned.length > 0) lines.push(`  pinned afterwards (syncs paused until switchyard resume): ${pinned.join(', ')}`);
  return lines.join('\n');
}
