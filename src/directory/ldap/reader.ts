/**
 * Reads recipient entries from LDAP / Active Directory: a full read of the source's scope
 * in one short session (session.ts), the searches running ahead of staging and, when
 * configured, split into parallel parts (parallel.ts). Yields one batch per page.
 */
import type { LdapSourceConfig } from '../../config/schema.js';
import type { ReadItem } from '../items.js';
import { searchFilter } from './mapping.js';
import { fullRead, type FullReadOptions } from './parallel.js';
import { ldapSession } from './session.js';

export { classifyLdapError, ldapSession, searchEntries, type LdapReadOptions, type LdapSession } from './session.js';
export type { FullReadOptions, PartitionReport } from './parallel.js';

/** A full read of the source's scope, one batch per page. `beforeSearch` runs first in the same session. */
export function readLdap(source: LdapSourceConfig, opts: FullReadOptions = {}): AsyncGenerator<ReadItem[]> {
  return ldapSession(source, opts, async function* (session) {
    if (opts.beforeSearch) await opts.beforeSearch(session);
    for await (const items of fullRead(source, session, opts, searchFilter(session.mapping, source.filter))) {
      opts.onPage?.(items.length);
      yield items;
    }
  });
}
