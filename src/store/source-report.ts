/**
 * Per source, the LDAP entries its syncs could not make into recipient objects (SPEC §2.2):
 * `skipped` (left out of the table), `held` (published before, now invalid: the last valid
 * routing is kept) and how many entries were not mail-enabled. A full sync replaces the
 * record; a delta updates it.
 */
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

export interface ReportedEntry {
  readonly source: string;
  /** The object's id ('' when the entry could not be read far enough to have one). */
  readonly id: string;
  readonly dn: string;
  readonly reason: string;
}

export interface SourceReport {
  readonly source: string;
  readonly at: string;
  readonly skipped: readonly ReportedEntry[];
  readonly held: readonly ReportedEntry[];
  readonly notMailEnabled: number;
}

/** At most this many entries of each list are kept (the counts beyond are lost). */
export const REPORT_LIMIT = 1000;

export function emptyReport(source: string): SourceReport {
  return { source, at: new Date().toISOString(), skipped: [], held: [], notMailEnabled: 0 };
}

export async function readSourceReport(redis: RedisClient, keys: Keys, source: string): Promise<SourceReport | undefined> {
  const json = await redis.hget(keys.sourceReports, source);
  return json ? (JSON.parse(json) as SourceReport) : undefined;
}

export async function readSourceReports(redis: RedisClient, keys: Keys): Promise<Map<string, SourceReport>> {
  const all = await redis.hgetall(keys.sourceReports);
  return new Map(Object.entries(all).map(([k, v]) => [k, JSON.parse(v) as SourceReport]));
}

export async function writeSourceReport(redis: RedisClient, keys: Keys, report: SourceReport): Promise<void> {
  const capped = { ...report, skipped: report.skipped.slice(0, REPORT_LIMIT), held: report.held.slice(0, REPORT_LIMIT) };
  await redis.hset(keys.sourceReports, report.source, JSON.stringify(capped));
}

/**
 * A delta's update: entries of ids the delta changed or deleted leave the lists, then the
 * delta's own skipped and held entries join them.
 */
export function updateReport(
  prev: SourceReport | undefined,
  source: string,
  touched: ReadonlySet<string>,
  skipped: readonly ReportedEntry[],
  held: readonly ReportedEntry[],
): SourceReport {
  const base = prev ?? emptyReport(source);
  const keep = (e: ReportedEntry): boolean => e.id === '' || !touched.has(e.id.toLowerCase());
  return {
    source,
    at: new Date().toISOString(),
    skipped: [...base.skipped.filter(keep), ...skipped],
    held: [...base.held.filter(keep), ...held],
    notMailEnabled: base.notMailEnabled,
  };
}
