/**
 * A sync of one configured source through the common publish paths. A csvde source is
 * re-imported from its configured path (always full). An LDAP source runs a full sync
 * (read everything, reconcile, detect deletions; it records the delta watermark) or a
 * delta from the watermark, falling back to a full sync when there is no usable one.
 */
import type { LdapSourceConfig, SourceConfig } from '../config/schema.js';
import { readSecret } from '../config/secrets.js';
import { readLdapDelta } from '../directory/ldap/delta.js';
import { WatermarkInvalidError } from '../directory/ldap/errors.js';
import { readLdapFull, type FullReadResult } from '../directory/ldap/full-read.js';
import type { PartitionReport } from '../directory/ldap/reader.js';
import { settingsFingerprint, type Watermark } from '../directory/ldap/watermark.js';
import { readWatermark, writeWatermark } from '../store/sync-state.js';
import { importCsvde } from './import-csvde.js';
import { NoBaseSnapshotError, publishDelta } from './publish-delta.js';
import { publishSource, type SourceSpec } from './publish-source.js';
import type { PublishDeps, PublishOptions, PublishResult, ReadItem } from './types.js';

export type SyncMode = 'full' | 'delta';

export type SyncOptions = Omit<PublishOptions, 'cause' | 'origin'> & {
  readonly env?: NodeJS.ProcessEnv;
  /** 'delta' falls back to 'full' when no usable watermark exists. Default 'full'. */
  readonly mode?: SyncMode;
};

export type SyncResult = PublishResult & {
  readonly mode: SyncMode;
  readonly fallback?: string;
  /** A full LDAP read: how many searches it ran in parallel parts, or why one search (partitions configured). */
  readonly partitions?: PartitionReport;
};

export class SourceNotSyncableError extends Error {
  readonly code = 'SY_NOT_SYNCABLE';
}

const specOf = (s: SourceConfig): SourceSpec => ({ name: s.name, priority: s.priority, deletionThreshold: s.deletionThreshold });

async function fullLdap(deps: PublishDeps, source: LdapSourceConfig, password: string | undefined, opts: SyncOptions): Promise<SyncResult> {
  let read: FullReadResult = {};
  const pages = async function* (): AsyncGenerator<ReadItem[]> {
    read = yield* readLdapFull(source, password);
  };
  const result = await publishSource(deps, specOf(source), pages(), {
    ...opts,
    holdInvalid: true, // a bad entry never stops an LDAP sync (SPEC §2.2)
    cause: 'sync',
    origin: `${source.url}/${source.baseDn}`,
  });
  const next = read.watermark;
  if (!opts.dryRun) await writeWatermark(deps.redis, deps.keys, source.name, next && { ...next, fingerprint: settingsFingerprint(source) });
  const { partitions } = read;
  return { ...result, mode: 'full', ...(source.partitions && partitions ? { partitions } : {}) };
}

export async function syncSource(deps: PublishDeps, source: SourceConfig, opts: SyncOptions = {}): Promise<SyncResult> {
  if (source.type === 'csvde') {
    if (!source.path)
      throw new SourceNotSyncableError(`source ${source.name}: a csvde source needs a path to be synced (or use switchyard import FILE)`);
    return { ...(await importCsvde(deps, source, source.path, opts)), mode: 'full' };
  }
  const password = readSecret(
    { env: source.bindPasswordEnv, file: source.bindPasswordFile, key: `sources.${source.name}.bindPassword` },
    opts.env,
  );
  if (opts.mode !== 'delta') return fullLdap(deps, source, password, opts);

  const since = await readWatermark(deps.redis, deps.keys, source.name);
  const expected = source.mapping === 'ad' ? 'ad' : 'generic';
  if (since === undefined || since.mode !== expected) {
    return { ...(await fullLdap(deps, source, password, opts)), fallback: 'no delta watermark yet' };
  }
  if (since.fingerprint !== settingsFingerprint(source)) {
    const why = 'the source settings changed since its last full sync (url, baseDn, filter, scope or mapping)';
    return { ...(await fullLdap(deps, source, password, opts)), fallback: why };
  }
  const next: { value?: Watermark } = {};
  try {
    const result = await publishDelta(deps, specOf(source), readLdapDelta(source, since, next, { password }), {
      ...opts,
      holdInvalid: true,
      cause: 'sync',
      origin: `${source.url}/${source.baseDn}`,
    });
    if (!opts.dryRun && next.value)
      await writeWatermark(deps.redis, deps.keys, source.name, { ...next.value, fingerprint: since.fingerprint });
    return { ...result, mode: 'delta' };
  } catch (err) {
    if (err instanceof NoBaseSnapshotError || err instanceof WatermarkInvalidError) {
      return { ...(await fullLdap(deps, source, password, opts)), fallback: err instanceof Error ? err.message : String(err) };
    }
    throw err;
  }
}
