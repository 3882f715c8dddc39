/**
 * A RecordBatch as it crosses from the parsing thread (parse-worker.ts) to the reader: its
 * values joined into one string and their layout in an Int32Array, so posting it costs one
 * string copy and one transferred buffer instead of a clone of every array and value.
 * Layout, per record: first line, value count, then each value's end offset in `text`.
 */
import type { RecordBatch, RecordError } from './records.js';

export interface PostedBatch {
  readonly text: string;
  readonly layout: Int32Array<ArrayBuffer>;
  readonly errors: readonly RecordError[];
  readonly bytes: number;
}

export function packBatch(batch: RecordBatch): PostedBatch {
  let size = 0;
  for (const record of batch.records) size += 2 + record.length;
  const layout = new Int32Array(size);
  const values: string[] = [];
  let at = 0;
  let end = 0;
  for (let r = 0; r < batch.records.length; r++) {
    const record = batch.records[r]!;
    layout[at++] = batch.firsts[r]!;
    layout[at++] = record.length;
    for (const value of record) {
      values.push(value);
      end += value.length;
      layout[at++] = end;
    }
  }
  return { text: values.join(''), layout, errors: batch.errors, bytes: batch.bytes };
}

export function unpackBatch(posted: PostedBatch): RecordBatch {
  const { text, layout } = posted;
  const records: string[][] = [];
  const firsts: number[] = [];
  let start = 0;
  for (let at = 0; at < layout.length;) {
    firsts.push(layout[at++]!);
    const count = layout[at++]!;
    const record = new Array<string>(count);
    for (let v = 0; v < count; v++) {
      const end = layout[at++]!;
      record[v] = text.slice(start, end);
      start = end;
    }
    records.push(record);
  }
  return { records, firsts, errors: posted.errors, bytes: posted.bytes };
}
