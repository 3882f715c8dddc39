/**
 * Streams a Csvde export as directory entries, in batches: never the whole file in memory.
 * The records come from csv-parse (records.ts), on a thread of its own for a large file
 * (parse-thread.ts); here the header is read and each record becomes an entry or a
 * located error. A file that cannot be read on (no DN column, unclosed quote) throws
 * CsvdeFileError.
 */
import { basename } from 'node:path';
import type { ReadItem } from '../items.js';
import { entryItem } from '../mail-enabled.js';
import { CsvdeFileError } from './errors.js';
import { threadBatches, threadFor, type CsvdePrefetch } from './parse-thread.js';
import { readRecords, type RecordBatch } from './records.js';
import { mapRow, parseHeader, type Header } from './row.js';

export interface CsvdeReadOptions {
  /** Called as bytes are read, for progress display. */
  readonly onBytes?: (bytesRead: number) => void;
  /** Parse on a thread of its own: by default for files of THREAD_FROM bytes or more. */
  readonly thread?: boolean;
  /** The parsing thread prefetchCsvde started for this file (it is used instead of a new one). */
  readonly prefetched?: CsvdePrefetch;
}

/** Yields the file's entries (and located row errors) in batches. */
export async function* readCsvde(path: string, opts: CsvdeReadOptions = {}): AsyncGenerator<ReadItem[]> {
  const name = basename(path);
  if (opts.prefetched !== undefined && opts.prefetched.path !== path)
    throw new Error(`readCsvde: the thread prefetched ${opts.prefetched.path}, not ${path}`);
  const batches: AsyncGenerator<RecordBatch> =
    opts.prefetched !== undefined
      ? opts.prefetched.batches()
      : (opts.thread ?? threadFor(path))
        ? threadBatches(path)
        : readRecords(path, name);
  let header: Header | undefined;
  for await (const { records, firsts, errors, bytes } of batches) {
    opts.onBytes?.(bytes);
    const out: ReadItem[] = [];
    let e = 0;
    const errorsBefore = (r: number): void => {
      for (; e < errors.length && errors[e]!.before <= r; e++)
        out.push({ error: { origin: `${name}:${errors[e]!.line}`, reason: errors[e]!.reason } });
    };
    for (let r = 0; r < records.length; r++) {
      errorsBefore(r);
      const origin = `${name}:${firsts[r]!}`;
      if (header === undefined) {
        const parsed = parseHeader(records[r]!);
        if (!parsed.ok) throw new CsvdeFileError(origin, parsed.reason);
        header = parsed.header;
        continue;
      }
      const row = mapRow(header, records[r]!, origin);
      out.push(row.ok ? entryItem(row.entry) : { error: { origin, reason: row.reason } });
    }
    errorsBefore(Infinity); // those after the last record
    if (out.length > 0) yield out;
  }
  if (header === undefined) throw new CsvdeFileError(name, 'the file is empty (no header line)');
}
