/**
 * readRecords on a thread of its own (parse-worker.ts): the same batches, the same errors,
 * while this thread is free to build and stage what they hold (B1, SPEC §8). Taking a batch
 * returns one credit to the parsing thread; leaving early stops it.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { CsvdeFileError } from './errors.js';
import { unpackBatch } from './record-transfer.js';
import type { RecordBatch } from './records.js';
import type { WorkerData, WorkerMessage } from './worker-protocol.js';

/** The worker's script: beside this module once compiled (dist/src, and the bundle's dist/cli). */
function startWorker(data: WorkerData): Worker {
  const compiled = new URL('./parse-worker.js', import.meta.url);
  if (existsSync(compiled)) return new Worker(compiled, { workerData: data });
  // run from the TypeScript sources (the tests): the thread loads them through tsx
  const source = JSON.stringify(new URL('./parse-worker.ts', import.meta.url).href);
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${source}); });`, {
    eval: true,
    workerData: data,
  });
}

type Event = WorkerMessage | { readonly type: 'crash'; readonly error: Error };

export async function* readRecordsThreaded(path: string, name: string): AsyncGenerator<RecordBatch> {
  const worker = startWorker({ path, name });
  const events: Event[] = [];
  let wake: (() => void) | undefined;
  const push = (event: Event): void => {
    events.push(event);
    wake?.();
  };
  worker.on('message', (m: WorkerMessage) => push(m));
  worker.on('error', (error) => push({ type: 'crash', error }));
  worker.on('exit', (code) => push({ type: 'crash', error: new Error(`the Csvde parsing thread exited (code ${code})`) }));
  try {
    for (;;) {
      while (events.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const event = events.shift()!;
      switch (event.type) {
        case 'batch':
          worker.postMessage(1); // the thread may parse the next batch while this one is used
          yield unpackBatch(event.batch);
          break;
        case 'end':
          return;
        case 'fail':
          if (event.origin !== undefined) throw new CsvdeFileError(event.origin, event.reason);
          throw Object.assign(new Error(event.message), event.code !== undefined ? { code: event.code } : {});
        case 'crash':
          throw event.error;
      }
    }
  } finally {
    worker.removeAllListeners();
    await worker.terminate();
  }
}
