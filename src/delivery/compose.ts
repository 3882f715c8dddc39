/**
 * The message a delivery sends, as a stream from the queue with the header changes as
 * stages in front of it: our loop marker, then (when the unit needs them) the From:
 * rewrite and a DKIM signature computed from the header block and the body hash stored
 * at DATA. Only the header block is ever in memory; the body streams from Redis to the
 * next hop's socket (SPEC §5, §8 B6).
 */
import { Readable } from 'node:stream';
import { CHUNK_BYTES, splitAt } from '../mailqueue/body.js';
import { bodyHashOf } from '../message/body-hash.js';
import { headerEnd } from '../message/headers.js';
import { rewriteFromHeader, type Signer } from './outbound.js';

/** Header blocks larger than this are sent unchanged (not rewritten, not signed). */
export const MAX_HEADER_STAGE_BYTES = 1024 * 1024;

/** A stored message, readable as often as needed. */
export interface Original {
  /** Stored bytes. */
  readonly size: number;
  /** Bytes of the stored header block (absent for messages of earlier releases: found in `legacy`). */
  readonly headerBytes?: number;
  /** The whole data of a message of an earlier release. */
  readonly legacy?: Buffer;
  /** The whole data when it is one chunk (already read with the message): sent without a stream. */
  readonly whole?: Buffer;
  /** A fresh stream of the stored data. */
  open(): Readable;
}

export interface ComposeOptions {
  /** Our loop marker header line(s), CRLF-terminated. */
  readonly marker: string;
  readonly rewrite?: { readonly from: string; readonly to: string };
  readonly signer?: Signer;
  /** The body hash stored at DATA (computed here by a second read when missing). */
  readonly bodyHash?: string;
  readonly onSkip?: (why: string) => void;
}

/** The header block size of a stored message. */
export function headerBytesOf(original: Original): number {
  if (original.headerBytes !== undefined) return original.headerBytes;
  return original.legacy !== undefined ? headerEnd(original.legacy) : 0;
}

/**
 * A byte stream of the parts: `Readable.from` would default to object mode, where its buffer
 * holds 16 chunks (4 MB of 256 KB chunks per delivery to a slow next hop), not 256 KB.
 */
const byteStream = (parts: AsyncIterable<Buffer>): Readable => Readable.from(parts, { objectMode: false, highWaterMark: CHUNK_BYTES });

async function* concat(first: readonly Buffer[], rest: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for (const b of first) if (b.length > 0) yield b;
  yield* rest;
}

/** The stored body after its header block (a fresh read). */
export async function bodyOf(original: Original): Promise<AsyncIterable<Buffer>> {
  return (await splitAt(original.open(), headerBytesOf(original))).rest;
}

export async function composeMessage(original: Original, o: ComposeOptions): Promise<{ body: Buffer | Readable; size: number }> {
  const marker = Buffer.from(o.marker, 'latin1');
  const staged = o.rewrite !== undefined || o.signer !== undefined;
  const hb = headerBytesOf(original);
  const whole = original.whole ?? original.legacy;
  if (whole !== undefined) {
    // one chunk at most (or a message of an earlier release, read whole): no stream needed
    if (!staged) return { body: Buffer.concat([marker, whole]), size: marker.length + whole.length };
    const head = o.rewrite ? rewriteFromHeader(whole.subarray(0, hb), o.rewrite.from, o.rewrite.to) : whole.subarray(0, hb);
    const bodyHash = o.signer ? (o.bodyHash ?? (await bodyHashOf([whole.subarray(hb)]))) : undefined;
    const signature = o.signer && bodyHash !== undefined ? Buffer.from(o.signer.signatureFor(head, bodyHash), 'latin1') : Buffer.alloc(0);
    const body = Buffer.concat([marker, signature, head, whole.subarray(hb)]);
    return { body, size: body.length };
  }
  if (!staged || hb > MAX_HEADER_STAGE_BYTES) {
    if (staged) o.onSkip?.(`header block of ${hb} bytes is over ${MAX_HEADER_STAGE_BYTES}`);
    return { body: byteStream(concat([marker], original.open())), size: marker.length + original.size };
  }
  const { head, rest } = await splitAt(original.open(), hb);
  const newHead = o.rewrite ? rewriteFromHeader(head, o.rewrite.from, o.rewrite.to) : head;
  let signature = Buffer.alloc(0);
  if (o.signer) {
    const bodyHash = o.bodyHash ?? (await bodyHashOf(await bodyOf(original)));
    signature = Buffer.from(o.signer.signatureFor(newHead, bodyHash), 'latin1');
  }
  return {
    body: byteStream(concat([marker, signature, newHead], rest)),
    size: marker.length + signature.length + newHead.length + (original.size - hb),
  };
}
