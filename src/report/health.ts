/**
 * Health of the table as operators see it in `status`, `/healthz`, the status page and
 * metrics: completeness (SPEC §3.2: every configured source has a full snapshot in the
 * current version) and, per source, staleness (SPEC §2.2).
 */
import type { Config } from '../config/schema.js';
import type { TableStatus } from '../store/status.js';

export interface Completeness {
  /** False while a configured source has no snapshot in the current version (or no table). */
  readonly complete: boolean;
  /** Configured sources without a snapshot in the current version, in config order. */
  readonly missingSources: string[];
}

/** Completeness of a version holding `present` sources (a TableStatus: its sources). */
export function completeness(config: Pick<Config, 'sources'>, present: Iterable<string> | TableStatus): Completeness {
  const have = new Set('sources' in present ? present.sources.map((s) => s.source) : present);
  const missingSources = config.sources.map((s) => s.name).filter((name) => !have.has(name));
  return { complete: missingSources.length === 0, missingSources };
}
