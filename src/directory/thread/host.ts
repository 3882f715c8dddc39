/**
 * Runs a reader on a thread of its own (its script serves it with port.ts): the same
 * batches and the same errors as reading here, while this thread is free to build and stage
 * what they hold (B1: SPEC §8). Taking a batch returns one credit to the reading thread;
 * leaving early stops it.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { PostedError, ThreadMessage } from './protocol.js';

/**
 * Starts `script` (a compiled module beside its caller: dist/src, and the bundle's dist/cli).
 * Run from the TypeScript sources (the tests, this module itself a `.ts`), the `.ts` beside
 * it is loaded through tsx.
 */
function start(script: URL, data: unknown): Worker {
  if (existsSync(script)) return new Worker(script, { workerData: data });
  if (!import.meta.url.endsWith('.ts')) throw new Error(`${script.pathname} is missing: the build is incomplete (npm run build)`);
  const source = JSON.stringify(script.href.replace(/\.js$/, '.ts'));
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${source}); });`, {
    eval: true,
    workerData: data,
  });
}

type Event<P, R> = ThreadMessage<P, R> | { readonly type: 'crash'; readonly error: Error };

export async function* batchesFromThread<B, P, R>(
  script: URL,
  data: unknown,
  unpack: (posted: P) => B,
  revive: (error: PostedError) => Error,
): AsyncGenerator<B, R> {
  const worker = start(script, data);
  const events: Event<P, R>[] = [];
  let wake: (() => void) | undefined;
  const push = (event: Event<P, R>): void => {
    events.push(event);
    wake?.();
  };
  worker.on('message', (m: ThreadMessage<P, R>) => push(m));
  worker.on('error', (error) => push({ type: 'crash', error }));
  worker.on('exit', (code) => push({ type: 'crash', error: new Error(`the reading thread ${script.pathname} exited (code ${code})`) }));
  try {
    for (;;) {
      while (events.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const event = events.shift()!;
      switch (event.type) {
        case 'batch':
          worker.postMessage(1); // the thread may read the next batch while this one is used
          yield unpack(event.batch);
          break;
        case 'end':
          return event.result;
        case 'fail':
          throw revive(event.error);
        case 'crash':
          throw event.error;
      }
    }
  } finally {
    worker.removeAllListeners();
    worker.on('error', () => undefined); // an error still queued when the reader left early is moot
    await worker.terminate();
  }
}
