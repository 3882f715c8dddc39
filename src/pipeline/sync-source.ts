/**
 * A full sync of one configured source through the common publish path: an LDAP
 * source is read with ldapts, a csvde source is re-imported from its configured path.
 */
import type { SourceConfig } from '../config/schema.js';
import { readSecret } from '../config/secrets.js';
import { readLdap } from '../directory/ldap/reader.js';
import { importCsvde } from './import-csvde.js';
import { publishSource, type PublishDeps } from './publish-source.js';
import type { PublishOptions, PublishResult } from './types.js';

export type SyncOptions = Omit<PublishOptions, 'cause' | 'origin'> & { readonly env?: NodeJS.ProcessEnv };

export class SourceNotSyncableError extends Error {
  readonly code = 'SY_NOT_SYNCABLE';
}

export async function syncSource(deps: PublishDeps, source: SourceConfig, opts: SyncOptions = {}): Promise<PublishResult> {
  if (source.type === 'csvde') {
    if (!source.path) throw new SourceNotSyncableError(`source ${source.name}: a csvde source needs a path to be synced (or use switchyard import FILE)`);
    return importCsvde(deps, source, source.path, opts);
  }
  const password = readSecret({ env: source.bindPasswordEnv, file: source.bindPasswordFile, key: `sources.${source.name}.bindPassword` }, opts.env);
  return publishSource(
    deps,
    { name: source.name, priority: source.priority, deletionThreshold: source.deletionThreshold },
    readLdap(source, { password }),
    { ...opts, cause: 'sync', origin: `${source.url}/${source.baseDn}` },
  );
}
