/**
 * A large Csvde file is parsed on a thread of its own (parse-worker.ts, through
 * thread/host.ts), while the reader's thread builds and stages the objects. The thread can be
 * started ahead of its reader (prefetchCsvde): the command line starts it before loading the
 * import's modules, so that its start-up and first batches overlap the command's own (B1).
 * Light on purpose (no row mapping, no configuration): the command line loads it before the rest.
 */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { batchesFromThread, threadReader, type ThreadReader } from '../thread/host.js';
import { plainError, type PostedError } from '../thread/protocol.js';
import { CsvdeFileError } from './errors.js';
import type { ParseWorkerData } from './parse-worker.js';
import { unpackBatch, type PostedBatch } from './record-transfer.js';
import type { RecordBatch } from './records.js';

/**
 * From this size a file is parsed on a thread of its own. Starting the thread costs some
 * 30 ms; csv-parse reads about 20 MB a second here, so from 4 MB on the thread pays.
 */
export const THREAD_FROM = 4 << 20;

/** A file's parsing thread, started before its reader (prefetchCsvde). */
export type CsvdePrefetch = ThreadReader<RecordBatch, void> & { readonly path: string };

const PARSE_WORKER = new URL('./parse-worker.js', import.meta.url);

/** Whether `path` is large enough to be parsed on a thread (false when it cannot be read: the read says why). */
export function threadFor(path: string): boolean {
  try {
    return statSync(path).size >= THREAD_FROM;
  } catch {
    return false;
  }
}

/**
 * A failure of the parsing thread, as the reader's own thread would have thrown it: known by
 * its `code`, which a bundler cannot rename as it may rename a class (its `kind`).
 */
export function revive(error: PostedError): Error {
  return error.fields.code === 'SY_CSVDE_FILE'
    ? new CsvdeFileError(String(error.fields.origin), String(error.fields.reason))
    : plainError(error);
}

/** The file's record batches, parsed on a thread started when the first is asked for. */
export function threadBatches(path: string): AsyncGenerator<RecordBatch> {
  const data: ParseWorkerData = { path, name: basename(path) };
  return batchesFromThread<RecordBatch, PostedBatch, void>(PARSE_WORKER, data, unpackBatch, revive);
}

/**
 * Starts parsing `path` on its thread now, when it is large enough to be parsed on one (else
 * undefined). Give it to readCsvde as `prefetched`, or `close()` it.
 */
export function prefetchCsvde(path: string): CsvdePrefetch | undefined {
  if (!threadFor(path)) return undefined;
  const data: ParseWorkerData = { path, name: basename(path) };
  return Object.assign(threadReader<RecordBatch, PostedBatch, void>(PARSE_WORKER, data, unpackBatch, revive), { path });
}
