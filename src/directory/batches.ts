/**
 * Reads an object-mode stream in batches: one await per batch instead of one per record,
 * which matters at a million records. Backpressure is kept: the stream is only read as
 * fast as batches are consumed.
 */
import type { Readable } from 'node:stream';

export async function* readBatches<T>(stream: Readable, max: number): AsyncGenerator<T[]> {
  let ended = false;
  let failure: Error | undefined;
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
    failure ??= err instanceof Error ? err : new Error(String(err));
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

/**
 * Asks `source` for its next item while the consumer still works on the current one, so
 * a server (LDAP pages) and this process work at the same time. One item ahead at most.
 */
export async function* prefetch<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let next = it.next();
  try {
    for (;;) {
      const current = await next;
      if (current.done) return;
      next = it.next();
      next.catch(() => undefined); // surfaced when awaited above
      yield current.value;
    }
  } finally {
    await it.return?.();
  }
}
