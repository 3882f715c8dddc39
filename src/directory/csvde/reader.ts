/**
 * Streams a Csvde export as directory entries, in batches: never the whole file in memory.
 * The records come from csv-parse (records.ts), on a thread of its own for a large file
 * (parse-worker.ts, through thread/host.ts); here the header is read and each record becomes an entry or a
 * located error. A file that cannot be read on (no DN column, unclosed quote) throws
 * CsvdeFileError.
 */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import type { ReadItem } from '../items.js';
import { entryItem } from '../mail-enabled.js';
import { CsvdeFileError } from './errors.js';
import { batchesFromThread } from '../thread/host.js';
import { plainError, type PostedError } from '../thread/protocol.js';
import type { ParseWorkerData } from './parse-worker.js';
import { unpackBatch } from './record-transfer.js';
import { readRecords, type RecordBatch } from './records.js';
import { mapRow, parseHeader, type Header } from './row.js';

export interface CsvdeReadOptions {
  /** Called as bytes are read, for progress display. */
  readonly onBytes?: (bytesRead: number) => void;
  /** Parse on a thread of its own: by default for files of THREAD_FROM bytes or more. */
  readonly thread?: boolean;
}

/**
 * From this size a file is parsed on a thread of its own. Starting the thread costs some
 * 30 ms; csv-parse reads about 20 MB a second here, so from 4 MB on the thread pays.
 */
export const THREAD_FROM = 4 << 20;

function threadFor(path: string): boolean {
  try {
    return statSync(path).size >= THREAD_FROM;
  } catch {
    return false; // the read reports a missing or unreadable file with its name
  }
}

/** A failure of the parsing thread, as the reader's own thread would have thrown it. */
function revive(error: PostedError): Error {
  return error.kind === 'CsvdeFileError' ? new CsvdeFileError(String(error.fields.origin), String(error.fields.reason)) : plainError(error);
}

/** Yields the file's entries (and located row errors) in batches. */
export async function* readCsvde(path: string, opts: CsvdeReadOptions = {}): AsyncGenerator<ReadItem[]> {
  const name = basename(path);
  const data: ParseWorkerData = { path, name };
  const batches: AsyncGenerator<RecordBatch> =
    (opts.thread ?? threadFor(path))
      ? batchesFromThread(new URL('./parse-worker.js', import.meta.url), data, unpackBatch, revive)
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
