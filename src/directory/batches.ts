/**
 * Reads an object-mode stream in batches: one await per batch instead of one per record,
 * which matters at a million records. Backpressure is kept: the stream is only read as
 * fast as batches are consumed.
 */
import type { Readable } from 'node:stream';

export async function* readBatches<T>(stream: Readable, max: number): AsyncGenerator<T[]> {
  let ended = false;
  let failure: unknown;
  let waiter: (() => void) | undefined;
  const wake = (): void => {
    const w = waiter;
    waiter = undefined;
    w?.();
  };
  const onEnd = (): void => {
    ended = true;
    wake();
  };
  const onError = (err: unknown): void => {
    failure ??= err;
    wake();
  };
  stream.on('readable', wake);
  stream.on('end', onEnd);
  stream.on('error', onError);
  try {
    for (;;) {
      if (failure !== undefined) throw failure;
      const batch: T[] = [];
      let record: T | null;
      while (batch.length < max && (record = stream.read() as T | null) !== null) batch.push(record);
      if (batch.length > 0) {
        yield batch;
        continue;
      }
      if (ended) return;
      await new Promise<void>((resolve) => (waiter = resolve));
    }
  } finally {
    stream.off('readable', wake);
    stream.off('end', onEnd);
    stream.off('error', onError);
  }
}
