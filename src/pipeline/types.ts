import type { RowError } from '../directory/items.js';
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import type { ReportedEntry } from '../store/source-report.js';
import type { DryRunDiff } from './dry-run.js';

/** What every publish needs: the Redis client, the key names, how many table versions to keep. */
export interface PublishDeps {
  readonly redis: RedisClient;
  readonly keys: Keys;
  readonly versionsKept: number;
  /** Versions younger than this are kept too (table.keepFor; default 24 h). */
  readonly keepForMs?: number;
  /** Fewest shards a new snapshot gets (default 1: sized from its expected entries). */
  readonly minShards?: number;
  /** How a full publish stages (table.stageBatch, table.stageInFlight, table.stageDuty; default STAGE_PACE). */
  readonly stage?: StagePace;
}

export type { ReadItem, RowError } from '../directory/items.js';

/**
 * Objects per staging script, and scripts sent and not yet answered at most (stage-pace.ts);
 * the share of wall time a staging may hold Redis while relays answer lookups from a published
 * table version (staging-pace.ts, duty-cycle.ts; 1: unpaced, `inFlight` batches at a time).
 */
export interface StagePace {
  readonly batch: number;
  readonly inFlight: number;
  readonly duty: number;
}

export interface PublishOptions {
  readonly dryRun?: boolean;
  readonly skipInvalid?: boolean;
  readonly allowMassDelete?: boolean;
  /**
   * LDAP semantics (SPEC §2.2): an entry that cannot be made into a recipient object is
   * skipped and reported, never a refusal; an object of the published state that turns
   * invalid keeps its last valid form (held). The report is stored per source.
   */
  readonly holdInvalid?: boolean;
  /** Where the data came from, kept with the snapshot (a file path, an LDAP URL). */
  readonly origin?: string;
  readonly cause: 'import' | 'sync';
  /** Expected number of addresses (e.g. from a file's size): sizes a first snapshot's shards. */
  readonly sizeHint?: number;
  readonly onProgress?: (progress: { read: number; written: number }) => void;
}

export interface Counts {
  readonly objects: number;
  readonly addresses: number;
  readonly added: number;
  readonly changed: number;
  readonly unchanged: number;
  readonly removed: number;
  readonly addressesAdded: number;
  readonly addressesRemoved: number;
  readonly conflicts: number;
  readonly newConflicts: number;
  readonly invalid: number;
  readonly skipped: number;
}

/** How a staging was paced while relays answered lookups (src/pipeline/staging-pace.ts). */
export interface PacedStaging {
  /** table.stageDuty */
  readonly duty: number;
  /** Time paused for the lookups (ms). */
  readonly pausedMs: number;
  /** Batches sent paced. */
  readonly batches: number;
  /**
   * Redis time charged for them (ms): twice what each script reported, or the round trip of a
   * batch that reported nothing; never more than its round trip, nor MAX_CHARGE_MS (duty-cycle.ts).
   * Absent from the results of a release before it.
   */
  readonly redisMs?: number;
}

export interface PublishResult {
  readonly source: string;
  readonly dryRun: boolean;
  /** The published table version (absent on a dry run); the current one when unchanged. */
  readonly version?: number;
  /** True when the source had not changed: nothing was published. */
  readonly unchanged?: boolean;
  readonly counts: Counts;
  readonly samples: { readonly added: string[]; readonly changed: string[]; readonly removed: string[]; readonly conflicts: string[] };
  readonly errors: readonly RowError[];
  /** With `holdInvalid`: the entries skipped and held, and how many were not mail-enabled. */
  readonly report?: {
    readonly skipped: readonly ReportedEntry[];
    readonly held: readonly ReportedEntry[];
    readonly notMailEnabled: number;
  };
  /** On a dry run: the whole diff (SPEC §3.4). */
  readonly diff?: DryRunDiff;
  /** Set when batches were paced: relays answered lookups from a published table meanwhile (table.stageDuty). */
  readonly paced?: PacedStaging;
  /** Set when the deletion guard refuses (reported by a dry run, thrown otherwise). */
  readonly refusal?: string;
  readonly durationMs: number;
}
