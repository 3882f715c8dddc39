/** A Csvde file as a full snapshot of one source, through the common publish path. */
import { statSync } from 'node:fs';
import type { SourceConfig } from '../config/schema.js';
import type { CsvdePrefetch } from '../directory/csvde/parse-thread.js';
import { readCsvde } from '../directory/csvde/reader.js';
import { publishSource } from './publish-source.js';
import type { PublishDeps, PublishOptions, PublishResult } from './types.js';

export interface ImportOptions extends Omit<PublishOptions, 'cause' | 'origin'> {
  readonly onBytes?: (bytes: number) => void;
  /** The file's parsing thread, started early by the caller (prefetchCsvde). */
  readonly prefetched?: CsvdePrefetch;
}

/** Bytes of a Csvde row per address it yields, about (generated rows: ~67; real exports carry more). */
const BYTES_PER_ADDRESS = 64;

/** Addresses the file may hold, from its size (nothing when it cannot be read: the reader reports that). */
function sizeHint(file: string): { sizeHint?: number } {
  try {
    return { sizeHint: Math.ceil(statSync(file).size / BYTES_PER_ADDRESS) };
  } catch {
    return {};
  }
}

export async function importCsvde(deps: PublishDeps, source: SourceConfig, file: string, opts: ImportOptions = {}): Promise<PublishResult> {
  const { onBytes, prefetched, ...publish } = opts;
  const items = readCsvde(file, { ...(onBytes ? { onBytes } : {}), ...(prefetched ? { prefetched } : {}) });
  return publishSource(deps, { name: source.name, priority: source.priority, deletionThreshold: source.deletionThreshold }, items, {
    ...publish,
    cause: 'import',
    origin: file,
    ...sizeHint(file),
  });
}
