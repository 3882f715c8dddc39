/**
 * Delta reads (SPEC §2.2). AD: objects with uSNChanged above the watermark, and the
 * tombstones (isDeleted, via the Show Deleted control) in the domain's Deleted Objects
 * container; a different DC (dsServiceName / invocationID) means a full sync instead.
 * Generic LDAP: entries with modifyTimestamp at or after the watermark; deletions wait
 * for the next full sync. Entries that no longer carry an address become deletions.
 */
import { NoSuchObjectError } from 'ldapts';
import type { LdapSourceConfig } from '../../config/schema.js';
import type { DirectoryEntry } from '../../routing/entry.js';
import type { DeltaItem } from '../items.js';
import { guidFromBytes } from '../guid.js';
import { mailEnabledSkip } from '../mail-enabled.js';
import { WatermarkInvalidError } from './errors.js';
import { searchFilter } from './mapping.js';
import { ldapSession, searchEntries, type LdapReadOptions } from './session.js';
import { modifyTimestampTracker, readAdWatermark, ShowDeletedControl, type Watermark } from './watermark.js';

function upsertItem(entry: DirectoryEntry): DeltaItem {
  const skip = mailEnabledSkip(entry);
  return skip === undefined ? { upsert: entry } : { upsert: entry, skip };
}

/** Reads the changes since `since`; `next` receives the watermark for the following delta. */
export function readLdapDelta(
  source: LdapSourceConfig,
  since: Watermark,
  next: { value?: Watermark },
  opts: LdapReadOptions = {},
): AsyncGenerator<DeltaItem[]> {
  return ldapSession(source, opts, async function* (session) {
    const { client, mapping } = session;
    let filter: string;
    let tracker: ReturnType<typeof modifyTimestampTracker> | undefined;
    if (since.mode === 'ad') {
      session.step('read rootDSE');
      const now = await readAdWatermark(client);
      if (now.dsServiceName !== since.dsServiceName || now.invocationId !== since.invocationId) {
        throw new WatermarkInvalidError(
          `the DC changed (${since.dsServiceName} ${since.invocationId} → ${now.dsServiceName} ${now.invocationId})`,
        );
      }
      next.value = now;
      // nothing committed on this DC since the watermark: no change, no tombstone to read, so an
      // idle poll costs the rootDSE read alone (SPEC §2.2, §8 B5)
      if (BigInt(now.usn) === BigInt(since.usn)) return;
      filter = searchFilter(mapping, source.filter, `(uSNChanged>=${BigInt(since.usn) + 1n})`);
    } else {
      tracker = modifyTimestampTracker();
      filter = searchFilter(mapping, source.filter, `(modifyTimestamp>=${since.modifyTimestamp})`);
    }
    session.step(`search ${source.baseDn} for changes`);
    for await (const page of searchEntries(
      client,
      mapping,
      source.baseDn,
      { scope: source.scope, filter, pageSize: opts.pageSize ?? source.pageSize },
      tracker?.onAttrs,
    )) {
      yield page.map(({ dn, mapped }): DeltaItem =>
        'entry' in mapped ? upsertItem(mapped.entry) : { error: { origin: dn, reason: mapped.error } },
      );
    }
    if (tracker) next.value = tracker.watermark() ?? since;
    if (since.mode !== 'ad' || next.value?.mode !== 'ad') return;
    const deleted = `CN=Deleted Objects,${next.value.namingContext}`;
    session.step(`search ${deleted} for tombstones`);
    try {
      const pages = searchEntries(client, mapping, deleted, {
        scope: 'one',
        filter: `(&(isDeleted=TRUE)(uSNChanged>=${BigInt(since.usn) + 1n}))`,
        attributes: ['objectGUID'],
        pageSize: opts.pageSize ?? source.pageSize,
        controls: [new ShowDeletedControl()],
      });
      for await (const page of pages) {
        const items: DeltaItem[] = [];
        for (const { dn, attrs } of page) {
          const raw = attrs.get('objectguid')?.[0];
          if (Buffer.isBuffer(raw) && raw.length === 16) items.push({ delete: guidFromBytes(raw), origin: dn });
        }
        if (items.length > 0) yield items;
      }
    } catch (err) {
      if (!(err instanceof NoSuchObjectError)) throw err;
    }
  });
}
