/**
 * The thread that parses a large Csvde file (threaded-records.ts starts it): csv-parse and
 * the line numbering run here, on the other core, while the reader's thread builds and
 * stages the objects. Batches go out packed (record-transfer.ts), at most CREDIT ahead of
 * what the reader has taken, so a million-row file never piles up in memory.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CsvdeFileError } from './errors.js';
import { readRecords } from './records.js';
import { packBatch } from './record-transfer.js';
import { CREDIT, type WorkerData, type WorkerMessage } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('parse-worker.js runs as a worker thread');
const { path, name } = workerData as WorkerData;

let credit = CREDIT;
let wake: (() => void) | undefined;
port.on('message', () => {
  credit++;
  wake?.();
});

function post(message: WorkerMessage): void {
  port!.postMessage(message, message.type === 'batch' ? [message.batch.layout.buffer] : []);
}

try {
  for await (const batch of readRecords(path, name)) {
    while (credit === 0) await new Promise<void>((resolve) => (wake = resolve));
    credit--;
    post({ type: 'batch', batch: packBatch(batch) });
  }
  post({ type: 'end' });
} catch (err) {
  const e = err as Error & { code?: unknown };
  post(
    err instanceof CsvdeFileError
      ? { type: 'fail', origin: err.origin, reason: err.reason }
      : { type: 'fail', message: e.message ?? String(err), ...(typeof e.code === 'string' ? { code: e.code } : {}) },
  );
}
port.close();
