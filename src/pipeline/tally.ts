/**
 * The running counts of one publish, full or delta: one shape for both paths, turned into
 * the result's `Counts` at the end.
 */
import { deletionGuard } from '../routing/guard.js';
import type { Counts, PublishResult, RowError } from './types.js';

const SAMPLES = 10;
const KEPT_ERRORS = 1000;

/** How a staging or delta script classed one object (stage.lua: A C U; apply-delta.lua: A C U R N). */
export type ObjectStatus = 'A' | 'C' | 'U' | 'R' | 'N';

export interface Samples {
  readonly added: string[];
  readonly changed: string[];
  readonly removed: string[];
  readonly conflicts: string[];
}

export class Tally {
  /** Entries read from the source. */
  read = 0;
  /** Objects handed to Redis. */
  written = 0;
  added = 0;
  changed = 0;
  unchanged = 0;
  removed = 0;
  addressesAdded = 0;
  addressesRemoved = 0;
  /** Full publish only: addresses of the new snapshot the old state had already. */
  addressesKept = 0;
  invalid = 0;
  /** Entries left out without error (not mail-enabled; a delta's delete of an object the table lacks). */
  skipped = 0;
  readonly errors: RowError[] = [];
  readonly samples: Samples = { added: [], changed: [], removed: [], conflicts: [] };

  /** An invalid entry: counted, and kept (up to a limit) for the report. */
  error(e: RowError): void {
    this.invalid++;
    if (this.errors.length < KEPT_ERRORS) this.errors.push(e);
  }

  /** One object's status from a script, with its name (DN) for the samples. */
  record(status: ObjectStatus, name: string): void {
    switch (status) {
      case 'A':
        this.added++;
        sample(this.samples.added, name);
        break;
      case 'C':
        this.changed++;
        sample(this.samples.changed, name);
        break;
      case 'U':
        this.unchanged++;
        break;
      case 'R':
        this.removed++;
        sample(this.samples.removed, name);
        break;
      case 'N':
        this.skipped++;
        break;
    }
  }

  conflicted(addresses: readonly string[]): void {
    for (const a of addresses) if (!this.samples.conflicts.includes(a)) sample(this.samples.conflicts, a);
  }

  /** The result's counts, with the totals only the caller knows. */
  counts(totals: { objects: number; addresses: number; conflicts: number; newConflicts: number }): Counts {
    return {
      ...totals,
      added: this.added,
      changed: this.changed,
      unchanged: this.unchanged,
      removed: this.removed,
      addressesAdded: this.addressesAdded,
      addressesRemoved: this.addressesRemoved,
      invalid: this.invalid,
      skipped: this.skipped,
    };
  }
}

export function sample(list: string[], value: string): void {
  if (list.length < SAMPLES) list.push(value);
}

export const SAMPLE_SIZE = SAMPLES;

/**
 * The result of a publish before it commits, full or delta: its counts, samples and errors,
 * and the deletion guard's verdict on what would go (SPEC §3.3), unless forced.
 */
export function guardedResult(
  spec: { readonly name: string; readonly deletionThreshold: number },
  opts: { readonly dryRun?: boolean; readonly allowMassDelete?: boolean },
  tally: Tally,
  counts: Counts,
  before: { readonly objects: number; readonly addresses: number },
  report: PublishResult['report'],
): PublishResult & { durationMs: number } {
  const refusal = opts.allowMassDelete
    ? undefined
    : deletionGuard({
        source: spec.name,
        previous: before.objects,
        removed: counts.removed,
        threshold: spec.deletionThreshold,
        previousAddresses: before.addresses,
        removedAddresses: counts.addressesRemoved,
      });
  return {
    source: spec.name,
    dryRun: opts.dryRun === true,
    counts,
    samples: tally.samples,
    errors: tally.errors,
    ...(report ? { report } : {}),
    ...(refusal !== undefined ? { refusal } : {}),
    durationMs: 0,
  };
}
