/**
 * The JSON form of the per-source reports of skipped and held LDAP entries (SPEC §2.2),
 * for `status --json` and the admin API: every entry listed, and the counts per source.
 */
import type { SourceReport } from '../store/source-report.js';

export function sourceReportsJson(reports: ReadonlyMap<string, SourceReport>): Record<string, unknown> {
  const all = [...reports.values()];
  return {
    skipped: all.flatMap((r) => r.skipped),
    held: all.flatMap((r) => r.held),
    notMailEnabled: all.reduce((n, r) => n + r.notMailEnabled, 0),
    sourceReports: Object.fromEntries(
      all.map((r) => [r.source, { at: r.at, skipped: r.skipped.length, held: r.held.length, notMailEnabled: r.notMailEnabled }]),
    ),
  };
}
