/**
 * The thread that parses a large Csvde file (parse-thread.ts starts it through thread/host.ts):
 * csv-parse and the line numbering run here, on the other core, while the reader's thread
 * builds and stages the objects. Batches go out packed (record-transfer.ts).
 */
import { workerData } from 'node:worker_threads';
import { serveBatches } from '../thread/port.js';
import { readRecords } from './records.js';
import { packBatch } from './record-transfer.js';

export interface ParseWorkerData {
  readonly path: string;
  readonly name: string;
}

const { path, name } = workerData as ParseWorkerData;
await serveBatches(readRecords(path, name), (batch) => {
  const posted = packBatch(batch);
  return { posted, transfer: [posted.layout.buffer] };
});
