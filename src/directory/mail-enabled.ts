/**
 * SPEC §1: a contact with no targetAddress is not mail-enabled. It is left out of the
 * table and counted (`notMailEnabled`), never an error. Pure.
 */
import type { DirectoryEntry } from '../routing/entry.js';

export type NotMailEnabled = 'notMailEnabled';

/** `notMailEnabled` for an entry that is read but is not a recipient; undefined otherwise. */
export function mailEnabledSkip(entry: DirectoryEntry): NotMailEnabled | undefined {
  const contact = entry.objectClass.some((c) => c.toLowerCase() === 'contact');
  const target = entry.targetAddress?.trim() ?? '';
  return contact && target === '' ? 'notMailEnabled' : undefined;
}

/** The entry as a reader item: `skip` set when it is read but not mail-enabled. */
export function entryItem(entry: DirectoryEntry): { readonly entry: DirectoryEntry; readonly skip?: NotMailEnabled } {
  const skip = mailEnabledSkip(entry);
  return skip === undefined ? { entry } : { entry, skip };
}
