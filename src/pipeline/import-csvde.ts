/** A Csvde file as a full snapshot of one source, through the common publish path. */
import type { SourceConfig } from '../config/schema.js';
import { readCsvde } from '../directory/csvde/reader.js';
import { publishSource } from './publish-source.js';
import type { PublishDeps, PublishOptions, PublishResult } from './types.js';

export interface ImportOptions extends Omit<PublishOptions, 'cause' | 'origin'> {
  readonly onBytes?: (bytes: number) => void;
}

export async function importCsvde(deps: PublishDeps, source: SourceConfig, file: string, opts: ImportOptions = {}): Promise<PublishResult> {
  const items = readCsvde(file, opts.onBytes ? { onBytes: opts.onBytes } : {});
  return publishSource(deps, { name: source.name, priority: source.priority, deletionThreshold: source.deletionThreshold }, items, {
    ...opts,
    cause: 'import',
    origin: file,
  });
}
