/**
 * The reading thread's side (host.ts starts it): serves a reader's batches to the thread that
 * started it, at most CREDIT ahead of what that thread has taken, then the read's result or
 * its failure.
 */
import { parentPort } from 'node:worker_threads';
import { CREDIT, postedError, type ThreadMessage } from './protocol.js';

export async function serveBatches<B, P, R>(
  read: AsyncGenerator<B, R>,
  pack: (batch: B) => { posted: P; transfer?: ArrayBuffer[] },
): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('a reading thread runs as a worker thread');
  let credit = CREDIT;
  let wake: (() => void) | undefined;
  port.on('message', () => {
    credit++;
    wake?.();
  });
  const post = (message: ThreadMessage<P, R>, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);
  try {
    for (;;) {
      const next = await read.next();
      if (next.done === true) {
        post({ type: 'end', result: next.value });
        break;
      }
      while (credit === 0) await new Promise<void>((resolve) => (wake = resolve));
      credit--;
      const { posted, transfer } = pack(next.value);
      post({ type: 'batch', batch: posted }, transfer);
    }
  } catch (err) {
    post({ type: 'fail', error: postedError(err) });
  }
  port.close();
}
