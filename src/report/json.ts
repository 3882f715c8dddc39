/**
 * The JSON forms of a routing decision and of the table status: one shape for the CLI's
 * `--json` output and the admin HTTP API.
 */
import type { Decision } from '../routing/decide.js';
import type { TableStatus } from '../store/status.js';
import type { Completeness, SourceStaleness } from './health.js';

/** The `resolve --json` object: exactly the SPEC §4 fields. */
export function decisionJson(d: Decision): Record<string, unknown> {
  return {
    address: d.address,
    action: d.action,
    ...(d.recipient !== undefined ? { recipient: d.recipient } : {}),
    ...(d.connector !== undefined ? { connector: d.connector } : {}),
    smtp: d.smtp,
    reason: d.reason,
    ...(d.object ? { object: d.object } : {}),
    tableVersion: d.tableVersion ?? null,
  };
}

export function statusJson(s: TableStatus, conflicts: number, health?: Completeness): Record<string, unknown> {
  return {
    tableVersion: s.current?.version ?? null,
    ...(health ? { complete: s.current !== undefined && health.complete, missingSources: health.missingSources } : {}),
    publishedAt: s.current?.meta?.publishedAt ?? null,
    cause: s.current?.meta?.cause ?? null,
    conflicts,
    sources: s.sources.map((src) => ({
      name: src.source,
      snapshot: src.snapshot,
      objects: src.meta?.objects ?? null,
      addresses: src.meta?.addresses ?? null,
      conflicts: src.meta?.conflicts ?? null,
      importedAt: src.meta?.createdAt ?? null,
      origin: src.meta?.origin ?? null,
    })),
    history: s.history.map((v) => ({ version: v.version, ...v.meta, sources: Object.fromEntries(v.snapshots) })),
  };
}

/** Staleness for `status --json` and /api/status: each configured source, and the stale ones' names. */
export function stalenessJson(rows: readonly SourceStaleness[]): Record<string, unknown> {
  return { staleSources: rows.filter((r) => r.stale).map((r) => r.source), staleness: rows };
}
