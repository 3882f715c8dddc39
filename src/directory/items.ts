/**
 * What the source readers yield, in batches: the vocabulary between the directory layer and
 * the publish pipeline above it (which re-exports these types).
 */
import type { DirectoryEntry } from '../routing/entry.js';
import type { NotMailEnabled } from './mail-enabled.js';

/** One invalid input entry, located precisely (`file:line` or a DN). */
export interface RowError {
  readonly origin: string;
  readonly reason: string;
}

/**
 * A full read: an entry, or a located error for an entry the reader could not read. An
 * entry with `skip: 'notMailEnabled'` (a contact without targetAddress, SPEC §1) is read
 * but is no recipient: it is left out of the table and counted, never an error.
 */
export type ReadItem = { readonly entry: DirectoryEntry; readonly skip?: NotMailEnabled } | { readonly error: RowError };

/**
 * A delta read: an added or changed entry, a deletion (by id), or a located error. An
 * upsert with `skip: 'notMailEnabled'` is no recipient (any more): its id leaves the
 * table if it was there, and it is counted.
 */
export type DeltaItem =
  | { readonly upsert: DirectoryEntry; readonly skip?: NotMailEnabled }
  | { readonly delete: string; readonly origin: string }
  | { readonly error: RowError };
