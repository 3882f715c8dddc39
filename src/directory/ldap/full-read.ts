/**
 * A full read of an LDAP source (SPEC §2.2) with what the next delta needs: its pages, then
 * the delta watermark (AD: the rootDSE's highestCommittedUSN read before the search, in the
 * same session; generic LDAP: the newest modifyTimestamp seen) and how the read was split.
 * It runs on the caller's thread: a thread of its own for the read (as the Csvde parser has)
 * measured no faster on the 2-core development machine (B2, docs/benchmarks.md).
 */
import type { LdapSourceConfig } from '../../config/schema.js';
import type { ReadItem } from '../items.js';
import { readLdap, type LdapSession, type PartitionReport } from './reader.js';
import { modifyTimestampTracker, readAdWatermark, type Watermark } from './watermark.js';

export interface FullReadResult {
  /** Where the next delta starts; undefined when the directory offers none. */
  readonly watermark?: Watermark | undefined;
  readonly partitions?: PartitionReport | undefined;
}

export async function* readLdapFull(source: LdapSourceConfig, password: string | undefined): AsyncGenerator<ReadItem[], FullReadResult> {
  let watermark: Watermark | undefined;
  let partitions: PartitionReport | undefined;
  const tracker = source.mapping === 'openldap' ? modifyTimestampTracker() : undefined;
  const beforeSearch = async (s: LdapSession): Promise<void> => {
    if (source.mapping !== 'ad') return;
    s.step('read rootDSE');
    // A directory that is not a real AD (no highestCommittedUSN) can still be read in
    // full; it just offers no delta.
    watermark = await readAdWatermark(s.client).catch(() => undefined);
  };
  yield* readLdap(source, {
    password,
    beforeSearch,
    onPartitions: (r) => (partitions = r),
    ...(tracker ? { onAttrs: tracker.onAttrs } : {}),
  });
  return { watermark: watermark ?? tracker?.watermark(), partitions };
}
