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
export function startThread(script: URL, data: unknown): Worker {
  if (existsSync(script)) return new Worker(script, { workerData: data });
  if (!import.meta.url.endsWith('.ts')) throw new Error(`${script.pathname} is missing: the build is incomplete (npm run build)`);
  const source = JSON.stringify(script.href.replace(/\.js$/, '.ts'));
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${source}); });`, {
    eval: true,
    workerData: data,
  });
}

type Event<P, R> = ThreadMessage<P, R> | { readonly type: 'crash'; readonly error: Error };

/** A reading thread started ahead of its reader (threadReader): its batches, once, or closed unread. */
export interface ThreadReader<B, R> {
  /** The thread's batches, then its result; a second call throws. */
  batches(): AsyncGenerator<B, R>;
  /** Stops the thread (nothing when its batches were read: leaving them stopped it); a reader still reading gets what had arrived, then an error. */
  close(): Promise<void>;
}

/**
 * Starts `script` now, so that it reads while this thread is busy with something else (an
 * import's start-up: loading its modules, its configuration, its Redis connection); it posts
 * at most CREDIT batches until they are taken. Until `batches()` is called the thread does not
 * keep the process alive, so a thread whose batches are never read (a command that failed
 * first) cannot hold the process open; `close()` stops it at once.
 */
export function threadReader<B, P, R>(
  script: URL,
  data: unknown,
  unpack: (posted: P) => B,
  revive: (error: PostedError) => Error,
): ThreadReader<B, R> {
  const worker = startThread(script, data);
  const events: Event<P, R>[] = [];
  let wake: (() => void) | undefined;
  const push = (event: Event<P, R>): void => {
    events.push(event);
    wake?.();
  };
  worker.on('message', (m: ThreadMessage<P, R>) => push(m));
  worker.on('error', (error) => push({ type: 'crash', error }));
  worker.on('exit', (code) => push({ type: 'crash', error: new Error(`the reading thread ${script.pathname} exited (code ${code})`) }));
  worker.unref(); // after the listeners: a 'message' listener refs the worker's port again
  let taken = false;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      // a reader waiting for a batch (or one that starts later) ends instead of waiting forever
      push({ type: 'crash', error: new Error(`the reading thread ${script.pathname} was closed`) });
      worker.removeAllListeners();
      worker.on('error', () => undefined); // an error still queued when the reader left early is moot
      await worker.terminate();
    })();
    return stopped;
  };
  async function* batches(): AsyncGenerator<B, R> {
    worker.ref();
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
      await stop();
    }
  }
  return {
    batches() {
      if (taken) throw new Error(`the batches of ${script.pathname} were taken already`);
      taken = true;
      return batches();
    },
    close: stop,
  };
}

/** Reads on a thread of its own, started when the first batch is asked for. */
export async function* batchesFromThread<B, P, R>(
  script: URL,
  data: unknown,
  unpack: (posted: P) => B,
  revive: (error: PostedError) => Error,
): AsyncGenerator<B, R> {
  return yield* threadReader<B, P, R>(script, data, unpack, revive).batches();
}
