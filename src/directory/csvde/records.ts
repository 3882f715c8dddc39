/**
 * A Csvde file's records, as csv-parse reads them, each numbered by its first physical
 * line, in batches. UTF-8 with or without BOM and UTF-16LE with BOM (csv-parse's `bom`
 * switches the encoding), CRLF or LF. Records csv-parse skips (bad quoting inside one
 * record) become located errors where they stood; a file that cannot be read on (a quote
 * never closed, an unreadable file) throws CsvdeFileError. Streamed: never the whole file.
 */
import { createReadStream } from 'node:fs';
import { parse, type Info, type Parser } from 'csv-parse';
import { readBatches } from '../batches.js';
import { CsvdeFileError } from './errors.js';

/**
 * Records per batch. A batch from the parsing thread is cloned into the reader's heap when it
 * arrives, and up to CREDIT (thread/protocol.ts) wait there while one is staged: the fewer
 * records waiting, the fewer outlive a young-generation collection. 1,000 a batch cost
 * 13–15 % more CPU than 250 in B1 at 100,000 and 1,000,000 rows (docs/benchmarks.md,
 * session 24); 100 and 500 measured about as 250.
 */
export const BATCH = 250;

export interface RecordBatch {
  /** Records in file order, empty lines left out. */
  readonly records: string[][];
  /** Each record's first physical line. */
  readonly firsts: number[];
  /** Records csv-parse could not read, each placed before `records[before]` (or after the last). */
  readonly errors: readonly RecordError[];
  /** Bytes of the file read so far. */
  readonly bytes: number;
}

export interface RecordError {
  readonly before: number;
  readonly line: number;
  readonly reason: string;
}

/** A record csv-parse skipped, known by the records it had produced before it. */
interface Skip {
  /** Records csv-parse had produced before it (the header and empty lines included). */
  readonly after: number;
  /** csv-parse's line count when it found the problem. */
  readonly lines: number | undefined;
  readonly reason: string;
  /** A quote never closed: it swallowed the rest of the file, which cannot be read on. */
  readonly fatal: boolean;
}

/** `name` is how errors name the file (its base name). */
export async function* readRecords(path: string, name: string): AsyncGenerator<RecordBatch> {
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  let bytes = 0;
  file.on('data', (chunk) => (bytes += chunk.length));
  const skips: Skip[] = [];
  let lastSkipped: number | undefined;
  /** Where csv-parse counted the first record after a skipped one to end (by record number). */
  const resync = new Map<number, number>();
  const parser: Parser = file.pipe(
    parse({
      bom: true,
      // CRLF or LF, also mixed in one file (SPEC §2.1): auto-detection would fix the first line's
      record_delimiter: ['\r\n', '\n'],
      relax_column_count: true,
      // Empty lines come through as [''] and the lines are numbered here: csv-parse's
      // per-record `info` (two object copies a record) cost a third of its time
      // (docs/benchmarks.md, B1 2026-12-01).
      skip_records_with_error: true,
      on_skip: (err) => {
        const e = err as Error & { code?: string; lines?: number; records?: number };
        const fatal = e.code === 'CSV_QUOTE_NOT_CLOSED';
        if (!fatal && e.lines !== undefined && e.lines === lastSkipped) return undefined; // one record, reported once
        lastSkipped = e.lines;
        skips.push({ after: e.records ?? 0, lines: e.lines, reason: csvReason(e), fatal });
        // A skipped record may end lines after its error (csv-parse stays inside a quoted
        // value until the next quote closes it): ask csv-parse where the next good record
        // ends, once (it reads `on_record` from its options on every record), and number
        // from there on.
        parserOptions().on_record = (record: string[], info: Info): string[] => {
          resync.set(info.records, info.lines);
          parserOptions().on_record = undefined;
          return record;
        };
      },
    }),
  );
  const parserOptions = (): { on_record?: ((record: string[], info: Info) => string[]) | undefined } => {
    const options = (parser as Parser & { options?: unknown }).options;
    if (typeof options !== 'object' || options === null)
      throw new Error('csv-parse: the parser has no options object (src/directory/csvde/records.ts)');
    return options as { on_record?: (record: string[], info: Info) => string[] };
  };
  parserOptions(); // before any byte is read: an upgraded csv-parse without it fails here, loudly
  file.on('error', (err) => parser.destroy(err));
  const lines = new LineCounter();
  try {
    for await (const batch of readBatches<string[]>(parser, BATCH)) {
      const out: { records: string[][]; firsts: number[]; errors: RecordError[]; bytes: number } = {
        records: [],
        firsts: [],
        errors: [],
        bytes,
      };
      for (const record of batch) {
        placeSkips(skips, lines, name, out);
        const first = lines.record(record, resync.size === 0 ? undefined : takeResync(resync, lines.records + 1));
        if (record.length === 1 && record[0] === '') continue; // an empty line
        out.records.push(record);
        out.firsts.push(first);
      }
      if (out.records.length > 0 || out.errors.length > 0) yield out;
    }
    const out = { records: [], firsts: [], errors: [] as RecordError[], bytes };
    placeSkips(skips, lines, name, out);
    if (out.errors.length > 0) yield out;
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
}

/** csv-parse's line where record number `n` ended, if it was asked (once per skipped record). */
function takeResync(resync: Map<number, number>, n: number): number | undefined {
  const endedOn = resync.get(n);
  resync.delete(n);
  return endedOn;
}

/** Errors for the skipped records that came before the next record (all that are left, at the end). */
function placeSkips(skips: Skip[], lines: LineCounter, name: string, out: { records: unknown[]; errors: RecordError[] }): void {
  while (skips.length > 0 && skips[0]!.after <= lines.records) {
    const skip = skips.shift()!;
    const line = lines.skipped(skip.lines);
    if (skip.fatal) throw new CsvdeFileError(`${name}:${line}`, skip.reason);
    out.errors.push({ before: out.records.length, line, reason: skip.reason });
  }
}

/**
 * Numbers each record by its FIRST physical line: a record spans one line plus the line
 * breaks inside its quoted values. A record csv-parse skipped (bad quoting) is placed after
 * the last one read, on the line csv-parse was on when it gave up; the next good record is
 * placed by the line csv-parse says it ended on. csv-parse counts each CRLF inside a quoted
 * value twice, which is taken back out (those of skipped records cannot be: a skipped record
 * with a CRLF inside a quoted value shifts what follows by one line, as it always did).
 */
class LineCounter {
  /** Records numbered so far (empty lines and the header included). */
  records = 0;
  private next = 1; // the line after the last record placed
  private doubled = 0; // CRLFs inside quoted values so far (counted twice by csv-parse)

  /** `endedOn`: csv-parse's line count where this record ended, when known (after a skipped record). */
  record(record: readonly string[], endedOn?: number): number {
    let breaks = 0;
    for (const value of record) {
      if (value.indexOf('\n') === -1 && value.indexOf('\r') === -1) continue;
      breaks += value.match(/\r\n|\r|\n/g)?.length ?? 0;
      this.doubled += value.match(/\r\n/g)?.length ?? 0;
    }
    const first = endedOn === undefined ? this.next : endedOn - this.doubled - breaks;
    this.next = first + 1 + breaks;
    this.records++;
    return first;
  }

  skipped(lines: number | undefined): number {
    const first = this.next;
    if (lines !== undefined) this.next = Math.max(first, lines - this.doubled) + 1;
    return first;
  }
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
