/**
 * Which table versions a publish or rollback drops (SPEC §3.2): every version is kept
 * that is one of the last `keep`, or younger than `keepForMs`, or, per source of the
 * newest version, the version of that source's last full sync — the newest version whose
 * state of the source is its current full snapshot without an overlay (or, when none is
 * left, the oldest version holding that base). Pure: the client decides, the script
 * checks that the head it decided on has not moved.
 */
import { parseRef } from './ref.js';

export interface Retention {
  /** The last N versions are kept (table.versionsKept). */
  readonly keep: number;
  /** Versions younger than this are kept (table.keepFor). */
  readonly keepForMs: number;
}

export const DEFAULT_KEEP_FOR_MS = 24 * 3_600_000;

/** One kept version as retention sees it; `snapshots` undefined: not read (treated as kept). */
export interface RetentionEntry {
  readonly version: number;
  readonly snapshots?: ReadonlyMap<string, string>;
  readonly publishedAt?: string;
}

/** The version of each source's last full sync among `entries` (newest first), by source. */
export function lastFullVersions(entries: readonly RetentionEntry[]): Map<string, number> {
  const out = new Map<string, number>();
  const newest = entries[0]?.snapshots;
  if (!newest) return out;
  for (const [source, state] of newest) {
    const base = parseRef(state).base;
    const bare = entries.find((e) => e.snapshots?.get(source) === base);
    if (bare) {
      out.set(source, bare.version);
      continue;
    }
    const holding = entries.filter((e) => {
      const s = e.snapshots?.get(source);
      return s !== undefined && parseRef(s).base === base;
    });
    const oldest = holding[holding.length - 1];
    if (oldest) out.set(source, oldest.version);
  }
  return out;
}

/** Versions to drop from `entries` (newest first, the version being published first). */
export function versionsToDrop(entries: readonly RetentionEntry[], r: Retention, now = Date.now()): number[] {
  const fulls = new Set(lastFullVersions(entries).values());
  return entries
    .filter((e, i) => {
      if (i < r.keep || e.snapshots === undefined || fulls.has(e.version)) return false;
      // a version whose age is unknown is kept: dropping is the step that cannot be undone
      const at = e.publishedAt === undefined ? Number.NaN : Date.parse(e.publishedAt);
      if (Number.isNaN(at)) return false;
      return now - at >= r.keepForMs;
    })
    .map((e) => e.version);
}
