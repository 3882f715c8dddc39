/**
 * Streams a Csvde export as directory entries: never the whole file in memory.
 * UTF-8 with or without BOM and UTF-16LE with BOM (csv-parse's `bom` switches the
 * encoding), CRLF or LF. Row problems are yielded as located errors; a file that cannot
 * be read on (no DN column, unclosed quote) throws CsvdeFileError.
 */
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { parse, type Info, type Options } from 'csv-parse';
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
  /** The record's first physical line. */
  readonly first: number;
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
  const lines = lineCounter();
  let lastSkipped: number | undefined;
  const parser = file.pipe(
    parse({
      bom: true,
      // CRLF or LF, also mixed in one file (SPEC §2.1): auto-detection would fix the first line's
      record_delimiter: ['\r\n', '\n'],
      relax_column_count: true,
      skip_empty_lines: true,
      info: true,
      skip_records_with_error: true,
      // both run in parse order, synchronously: the line count follows the file
      // csv-parse's types do not follow `info: true` into on_record (it gets and returns {record, info})
      on_record: ((raw: { record: string[]; info: Info }): ParsedRecord => ({
        record: raw.record,
        first: lines.record(raw.record, raw.info),
      })) as unknown as Options['on_record'],
      on_skip: (err) => {
        const e = err as Error & { code?: string; lines?: number; empty_lines?: number; records?: number };
        if (e.code === 'CSV_QUOTE_NOT_CLOSED') {
          fatal ??= new CsvdeFileError(`${name}:${lines.skipped(e.lines, e.empty_lines)}`, csvReason(e));
          return undefined;
        }
        if (e.lines !== undefined && e.lines === lastSkipped) return undefined; // one record, reported once
        lastSkipped = e.lines;
        skipped.push({ origin: `${name}:${lines.skipped(e.lines, e.empty_lines)}`, reason: csvReason(e) });
      },
    }),
  );
  file.on('error', (err) => parser.destroy(err));
  let header: Header | undefined;
  try {
    for await (const records of readBatches<ParsedRecord>(parser, BATCH)) {
      const out: ReadItem[] = skipped.splice(0).map((error) => ({ error }));
      for (const { record, first } of records) {
        const origin = `${name}:${first}`;
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

/**
 * Each record's FIRST physical line, for reasons that name a line. csv-parse's
 * `info.lines` is the line a record ends on, with each CRLF inside a quoted value counted
 * twice; this takes those back out and counts back over the record's own line breaks.
 * A record csv-parse skipped (bad quoting) is placed after the last good one.
 */
function lineCounter(): {
  record(record: readonly string[], info: Info): number;
  skipped(lines: number | undefined, emptyLines: number | undefined): number;
} {
  let doubled = 0; // CRLFs inside quoted values so far (counted twice by csv-parse)
  let next = 1; // the line after the last record placed
  let empty = 0; // empty lines csv-parse had skipped by then
  const count = (record: readonly string[], re: RegExp) => record.reduce((n, v) => n + (v.match(re)?.length ?? 0), 0);
  return {
    record(record, info) {
      doubled += count(record, /\r\n/g);
      const first = info.lines - doubled - count(record, /\r\n|\r|\n/g);
      next = info.lines - doubled + 1;
      empty = info.empty_lines;
      return first;
    },
    skipped(lines, emptyLines) {
      const first = next + Math.max(0, (emptyLines ?? empty) - empty);
      if (lines !== undefined) next = Math.max(first, lines - doubled) + 1;
      empty = emptyLines ?? empty;
      return first;
    },
  };
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
