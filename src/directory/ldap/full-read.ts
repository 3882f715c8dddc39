/**
 * A full read of an LDAP source (SPEC §2.2) with what the next delta needs: its pages, then
 * the delta watermark (AD: the rootDSE's highestCommittedUSN read before the search, in the
 * same session; generic LDAP: the newest modifyTimestamp seen) and how the read was split.
 * By default the read runs on a thread of its own (read-worker.ts): decoding the server's
 * answer costs as much CPU as building and staging the objects, and the two then share
 * the machine's cores (B2, SPEC §8).
 */
import type { LdapSourceConfig } from '../../config/schema.js';
import type { ReadItem } from '../items.js';
import { batchesFromThread } from '../thread/host.js';
import { plainError, type PostedError } from '../thread/protocol.js';
import { LdapSourceError } from './errors.js';
import { readLdap, type LdapSession, type PartitionReport } from './reader.js';
import { modifyTimestampTracker, readAdWatermark, type Watermark } from './watermark.js';

export interface FullReadResult {
  /** Where the next delta starts; undefined when the directory offers none. */
  readonly watermark?: Watermark | undefined;
  readonly partitions?: PartitionReport | undefined;
}

export interface ReadWorkerData {
  readonly source: LdapSourceConfig;
  readonly password: string | undefined;
}

/** The full read on this thread. */
export async function* readLdapFullHere(
  source: LdapSourceConfig,
  password: string | undefined,
): AsyncGenerator<ReadItem[], FullReadResult> {
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

/** A failure of the reading thread, as this thread would have thrown it. */
function revive(error: PostedError): Error {
  if (error.kind !== 'LdapSourceError') return plainError(error);
  const { source, transient, code } = error.fields;
  const prefix = `source ${String(source)}: `;
  const message = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
  return new LdapSourceError(String(source), message, transient === true, String(code));
}

/** The full read, on a thread of its own unless `thread` is false. */
export function readLdapFull(
  source: LdapSourceConfig,
  password: string | undefined,
  thread = true,
): AsyncGenerator<ReadItem[], FullReadResult> {
  if (!thread) return readLdapFullHere(source, password);
  const data: ReadWorkerData = { source, password };
  return batchesFromThread(new URL('./read-worker.js', import.meta.url), data, (page: ReadItem[]) => page, revive);
}
