/**
 * DATA, streamed: the message is read once, chunk by chunk, checked as it goes (line
 * discipline, header block, DKIM body hash) and written to Redis in chunks of CHUNK_BYTES
 * behind our Received: line, so a relay holds about one chunk per session whatever the
 * message size (SPEC §5, §8 B6). Consuming waits for each Redis write: a slow Redis slows
 * the sender (TCP back-pressure) instead of growing memory. Once something is wrong
 * (too big, over the reservation, Redis failed) the rest is read and dropped, so the SMTP
 * session stays in step and the reply comes after the final dot.
 */
import type { Readable } from 'node:stream';
import { CHUNK_BYTES, type ChunkSink } from '../mailqueue/body.js';
import { BodyHasher } from '../message/body-hash.js';
import type { ContentProblem } from '../message/headers.js';
import { HeaderBlock, LineChecker } from '../message/stream-scan.js';

/** Header bytes kept for the Received count and loop markers (the rest streams past). */
export const HEADER_SCAN_BYTES = 256 * 1024;

export interface IngestOptions {
  /** Our Received: header, stored before the message. */
  readonly prefix: Buffer;
  /** Opens the chunk sink at the first full chunk (a message of one chunk never needs it). */
  readonly sink: () => ChunkSink;
  /** Compute the DKIM body hash (a connector signs). */
  readonly hash: boolean;
  /** Bytes reserved for this message in the queue budget at MAIL (its SIZE=, or the maximum size). */
  readonly reserved: number;
  /** Asks for a larger reservation when the message outgrows it; refused → 452 at the end. */
  readonly grow?: (bytes: number) => Promise<boolean>;
  /** Called when no byte arrived for `idleMs` (the server answers 421 and closes). */
  readonly onIdle?: () => void;
  readonly idleMs?: number;
}

export interface Ingested {
  /** Stored bytes (prefix included). */
  readonly size: number;
  /** Chunks written through the sink (0 when the message is in `onlyChunk`). */
  readonly chunks: number;
  readonly onlyChunk?: Buffer;
  /** Stored header block bytes (prefix included). */
  readonly headerBytes: number;
  /** The start of the sender's header block (for the Received count and loop markers). */
  readonly head: Buffer;
  readonly bodyHash?: string;
  readonly problem?: ContentProblem;
  /** Over the server's size limit (smtp-server sets sizeExceeded). */
  readonly tooBig: boolean;
  /** Over the bytes reserved at MAIL. */
  readonly overReserved: boolean;
  /** A Redis write failed: nothing usable is stored. */
  readonly writeError?: unknown;
}

export async function ingest(stream: Readable & { sizeExceeded?: boolean }, o: IngestOptions): Promise<Ingested> {
  const lines = new LineChecker();
  const header = new HeaderBlock(HEADER_SCAN_BYTES);
  const hasher = o.hash ? new BodyHasher() : undefined;
  let sink: ChunkSink | undefined;
  // one chunk buffer per message, filled in place and reused once Redis has it (ioredis
  // serialises a command when it is sent), so DATA makes no garbage of its own; it starts
  // small and doubles up to CHUNK_BYTES, so a 10 KB message does not cost a 256 KB buffer
  const full = Math.max(CHUNK_BYTES, o.prefix.length);
  let chunk = Buffer.allocUnsafe(Math.min(full, Math.max(16 * 1024, o.prefix.length)));
  let filled = o.prefix.copy(chunk, 0);
  let size = o.prefix.length;
  let dropping = false;
  let overReserved = false;
  let reserved = o.reserved;
  let writeError: unknown;

  let idle: NodeJS.Timeout | undefined;
  const armIdle = (): void => {
    if (o.onIdle === undefined || o.idleMs === undefined) return;
    if (idle !== undefined) {
      idle.refresh(); // re-armed in place: no timer allocated per piece
      return;
    }
    idle = setTimeout(() => {
      o.onIdle?.();
      // the connection is closed: smtp-server abandons the stream without ending it
      stream.destroy(new Error('data timeout'));
    }, o.idleMs);
    idle.unref();
  };

  const flush = async (): Promise<void> => {
    try {
      sink ??= o.sink();
      await sink.write(chunk.subarray(0, filled));
    } catch (err) {
      writeError = err;
      dropping = true;
    }
    filled = 0;
  };

  armIdle();
  try {
    for await (const piece of stream as AsyncIterable<Buffer>) {
      armIdle();
      if (stream.sizeExceeded) dropping = true;
      if (dropping) continue;
      lines.update(piece);
      if (lines.problem !== undefined) dropping = true; // refused at the end: store nothing more
      const inHeader = header.update(piece);
      if (hasher && inHeader < piece.length) hasher.update(piece.subarray(inHeader));
      size += piece.length;
      if (size > reserved) {
        const want = Math.max(size, reserved * 2);
        if (o.grow === undefined || !(await o.grow(want).catch(() => false))) {
          overReserved = true;
          dropping = true;
          continue;
        }
        reserved = want;
      }
      for (let at = 0; at < piece.length && !dropping;) {
        if (filled === chunk.length && chunk.length < full) {
          const bigger = Buffer.allocUnsafe(Math.min(full, chunk.length * 2));
          chunk.copy(bigger, 0, 0, filled);
          chunk = bigger;
        }
        const n = piece.copy(chunk, filled, at);
        filled += n;
        at += n;
        if (filled === full) await flush();
      }
    }
  } finally {
    clearTimeout(idle);
  }
  const tooBig = Boolean(stream.sizeExceeded);
  let onlyChunk: Buffer | undefined;
  if (!dropping) {
    if (sink === undefined) onlyChunk = chunk.subarray(0, filled);
    else if (filled > 0) await flush();
  }
  const bodyHash = hasher && !dropping ? await hasher.digest() : undefined;
  return {
    size,
    chunks: sink?.count ?? 0,
    ...(onlyChunk ? { onlyChunk } : {}),
    headerBytes: o.prefix.length + header.total,
    head: header.head,
    ...(bodyHash !== undefined ? { bodyHash } : {}),
    ...(lines.problem ? { problem: lines.problem } : {}),
    tooBig,
    overReserved,
    ...(writeError !== undefined ? { writeError } : {}),
  };
}
