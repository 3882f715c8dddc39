/**
 * A message's data in Redis, streamed: DATA is written in chunks to the message's data
 * hash (chunk index → bytes) as it arrives, and delivery reads it back one chunk at a time,
 * so neither side holds a whole message (SPEC §5 "Bounded resources", §8 B6). Messages of
 * earlier releases keep their data in the message hash's `body` field; they are read whole.
 */
import { Readable } from 'node:stream';
import type { QueueShardKeys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';

/**
 * Bytes per chunk: large enough that Redis and the socket see few commands, small enough to
 * bound memory. 64 KB, the size of a socket read: with 256 KB chunks the 50 × 30 MB run of
 * B6 peaked at 289 MB RSS (each session and delivery holds a chunk, its serialised copy and
 * the parser's pieces, and allocations over glibc's mmap threshold fragment its heap); with
 * 64 KB it peaked at 223–237 MB.
 */
export const CHUNK_BYTES = 64 * 1024;

/** How long chunks of a DATA in progress live without a new one (an abandoned transaction's data expires). */
export const DATA_TTL_MS = 15 * 60 * 1000;

export interface ChunkSink {
  /** Writes the next chunk (resolves when Redis has it). */
  write(chunk: Buffer): Promise<void>;
  /** Chunks written so far. */
  readonly count: number;
}

/**
 * Writes a message's chunks in order during DATA. The first write, and then one every
 * quarter of the shorter lifetime, renews the data's expiry and the transaction's budget
 * reservation (`reservationMs` from now): a chunk costs one command, not three.
 */
export function chunkSink(redis: RedisClient, k: QueueShardKeys, id: string, reservationMs: number): ChunkSink {
  let count = 0;
  let renewedAt = -Infinity;
  const renewEvery = Math.min(reservationMs, DATA_TTL_MS) / 4;
  return {
    get count() {
      return count;
    },
    async write(chunk) {
      const index = count++;
      const now = Date.now();
      // plain commands, not a MULTI: a pipeline would copy the chunk once more (ioredis
      // joins its commands into one buffer); the expiry and the reservation only need renewing
      const written = redis.hset(k.data(id), String(index), chunk);
      if (now - renewedAt < renewEvery) {
        await written;
        return;
      }
      renewedAt = now;
      await Promise.all([written, redis.pexpire(k.data(id), DATA_TTL_MS), redis.zadd(k.reservations, 'XX', now + reservationMs, id)]);
    },
  };
}

/** Where one stored message's data is. */
export interface StoredData {
  /** Chunks in the data hash; 0 for a message of an earlier release (`legacy`). */
  readonly chunks: number;
  readonly legacy?: Buffer;
  /** Chunk 0, read with the message (most messages are one chunk: no second round trip). */
  readonly first?: Buffer;
}

/** Reads a stored message's data in order, one chunk in memory at a time (plus the stream's small buffer). */
export function readData(redis: RedisClient, k: QueueShardKeys, id: string, data: StoredData): Readable {
  if (data.legacy !== undefined) return Readable.from([data.legacy], { objectMode: false });
  let next = 0;
  return new Readable({
    highWaterMark: CHUNK_BYTES,
    read() {
      if (next >= data.chunks) {
        this.push(null);
        return;
      }
      const index = next++;
      if (index === 0 && data.first !== undefined) {
        this.push(data.first);
        return;
      }
      redis.hgetBuffer(k.data(id), String(index)).then(
        (chunk) => {
          if (chunk === null) this.destroy(new Error(`chunk ${index} of message ${id} is missing`));
          else this.push(chunk);
        },
        (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
      );
    },
  });
}

/** Reads the first `bytes` of a stream (at least; whole chunks) and returns them with the rest of the stream. */
export async function splitAt(stream: Readable, bytes: number): Promise<{ head: Buffer; rest: AsyncIterable<Buffer> }> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const parts: Buffer[] = [];
  let have = 0;
  while (have < bytes) {
    const r = await iterator.next();
    if (r.done) break;
    parts.push(r.value);
    have += r.value.length;
  }
  const joined = Buffer.concat(parts);
  const head = joined.subarray(0, bytes);
  const spill = joined.subarray(bytes);
  async function* rest(): AsyncGenerator<Buffer> {
    if (spill.length > 0) yield spill;
    for (;;) {
      const r = await iterator.next();
      if (r.done) return;
      yield r.value;
    }
  }
  return { head, rest: rest() };
}

/** Re-cuts a stream of buffers into chunks of CHUNK_BYTES (the last one shorter). */
export async function* rechunk(source: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let have = 0;
  for await (const piece of source) {
    let rest = piece;
    while (have + rest.length >= CHUNK_BYTES) {
      const take = CHUNK_BYTES - have;
      parts.push(rest.subarray(0, take));
      yield Buffer.concat(parts);
      rest = rest.subarray(take);
      parts = [];
      have = 0;
    }
    if (rest.length > 0) {
      parts.push(rest);
      have += rest.length;
    }
  }
  if (have > 0) yield Buffer.concat(parts);
}
