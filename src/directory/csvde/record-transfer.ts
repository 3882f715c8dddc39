/**
 * A RecordBatch as it crosses from the parsing thread (parse-worker.ts) to the reader: its
 * values in one flat array and their layout in an Int32Array (transferred), instead of a
 * clone of every record's array. Each value arrives as a string of its own: slices of one
 * joined text would keep the whole batch alive as long as any value (an error reason kept
 * for the report, a sample) lives.
 * Layout, per record: first line, value count.
 */
import type { RecordBatch, RecordError } from './records.js';

export interface PostedBatch {
  readonly values: string[];
  readonly layout: Int32Array<ArrayBuffer>;
  readonly errors: readonly RecordError[];
  readonly bytes: number;
}

export function packBatch(batch: RecordBatch): PostedBatch {
  const layout = new Int32Array(2 * batch.records.length);
  const values: string[] = [];
  for (let r = 0; r < batch.records.length; r++) {
    const record = batch.records[r]!;
    layout[2 * r] = batch.firsts[r]!;
    layout[2 * r + 1] = record.length;
    for (const value of record) values.push(value);
  }
  return { values, layout, errors: batch.errors, bytes: batch.bytes };
}

export function unpackBatch(posted: PostedBatch): RecordBatch {
  const { values, layout } = posted;
  const records: string[][] = [];
  const firsts: number[] = [];
  let at = 0;
  for (let r = 0; r < layout.length; r += 2) {
    firsts.push(layout[r]!);
    const count = layout[r + 1]!;
    records.push(values.slice(at, at + count));
    at += count;
  }
  return { records, firsts, errors: posted.errors, bytes: posted.bytes };
}
