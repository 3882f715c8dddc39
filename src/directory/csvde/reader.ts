/**
 * Streams a Csvde export as directory entries: never the whole file in memory.
 * UTF-8 with or without BOM and UTF-16LE with BOM (csv-parse's `bom` switches the
 * encoding), CRLF or LF. Row problems are yielded as located errors; a file that cannot
 * be read on (no DN column, unclosed quote) throws CsvdeFileError.
 */
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { parse, type Info } from 'csv-parse';
import type { ReadItem } from '../items.js';
import { readBatches } from '../batches.js';
import { entryItem } from '../mail-enabled.js';
import { CsvdeFileError } from './errors.js';
import { mapRow, parseHeader, type Header } from './row.js';

export interface CsvdeReadOptions {
  /** Called as bytes are read, for progress display. */
  readonly onBytes?: (bytesRead: number) => void;
}

const BATCH = 1000;

interface ParsedRecord {
  readonly record: string[];
  readonly info: Info;
}

/** Yields the file's entries (and located row errors) in batches of up to `BATCH`. */
export async function* readCsvde(path: string, opts: CsvdeReadOptions = {}): AsyncGenerator<ReadItem[]> {
  const name = basename(path);
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  let bytes = 0;
  file.on('data', (chunk) => {
    bytes += chunk.length;
    opts.onBytes?.(bytes);
  });
  // Records csv-parse had to skip (bad quoting inside one record) become row errors;
  // a quote never closed swallows the rest of the file, so that one is fatal.
  const skipped: { origin: string; reason: string }[] = [];
  let fatal: CsvdeFileError | undefined;
  const parser = file.pipe(
    parse({
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
      info: true,
      skip_records_with_error: true,
      on_skip: (err) => {
        const e = err as Error & { code?: string; lines?: number };
        const origin = `${name}:${e.lines ?? '?'}`;
        if (e.code === 'CSV_QUOTE_NOT_CLOSED') fatal ??= new CsvdeFileError(origin, csvReason(e));
        else skipped.push({ origin, reason: csvReason(e) });
      },
    }),
  );
  file.on('error', (err) => parser.destroy(err));
  let header: Header | undefined;
  try {
    for await (const records of readBatches<ParsedRecord>(parser, BATCH)) {
      const out: ReadItem[] = skipped.splice(0).map((error) => ({ error }));
      for (const { record, info } of records) {
        const origin = `${name}:${info.lines}`;
        if (header === undefined) {
          const parsed = parseHeader(record);
          if (!parsed.ok) throw new CsvdeFileError(origin, parsed.reason);
          header = parsed.header;
          continue;
        }
        const row = mapRow(header, record, origin);
        out.push(row.ok ? entryItem(row.entry) : { error: { origin, reason: row.reason } });
      }
      if (out.length > 0) yield out;
    }
    if (skipped.length > 0) yield skipped.splice(0).map((error) => ({ error }));
    if (fatal !== undefined) throw fatal;
  } catch (err) {
    if (err instanceof CsvdeFileError) throw err;
    const e = err as Error & { code?: string; lines?: number };
    if (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EISDIR') throw new CsvdeFileError(name, `cannot read: ${e.code}`);
    if (typeof e.code === 'string' && e.code.startsWith('CSV_')) {
      throw new CsvdeFileError(`${name}:${e.lines ?? '?'}`, csvReason(e));
    }
    throw err;
  } finally {
    file.destroy();
  }
  if (header === undefined) throw new CsvdeFileError(name, 'the file is empty (no header line)');
}

function csvReason(e: Error & { code?: string }): string {
  switch (e.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'unbalanced quotes: a quoted value is never closed';
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return 'unbalanced quotes: text after a closing quote (in the record ending on this line)';
    default:
      return e.message;
  }
}
