/**
 * What the source readers yield, in batches: the vocabulary between the directory layer and
 * the publish pipeline above it (which re-exports these types).
 */
import type { DirectoryEntry } from '../routing/entry.js';

/** One invalid input entry, located precisely (`file:line` or a DN). */
export interface RowError {
  readonly origin: string;
  readonly reason: string;
}

/** A full read: an entry, or a located error for an entry the reader could not read. */
export type ReadItem = { readonly entry: DirectoryEntry } | { readonly error: RowError };

/** A delta read: an added or changed entry, a deletion (by id), or a located error. */
export type DeltaItem =
  { readonly upsert: DirectoryEntry } | { readonly delete: string; readonly origin: string } | { readonly error: RowError };
