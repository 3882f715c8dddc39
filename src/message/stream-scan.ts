/**
 * Checks of a message as it streams in, chunk by chunk, with constant memory: the line
 * discipline SMTP requires (CRLF only, no NUL: bare LF and NUL are how SMTP smuggling
 * works; lines over 998 characters are accepted and passed on, as Postfix does, SPEC §5)
 * and the header block (where it ends; its first bytes kept for the Received count and
 * our loop markers).
 */
import type { ContentProblem } from './headers.js';

const CR = 0x0d;
const LF = 0x0a;

export class LineChecker {
  private last = -1;
  problem: ContentProblem | undefined;

  update(chunk: Buffer): void {
    if (this.problem !== undefined || chunk.length === 0) return;
    if (chunk.indexOf(0) >= 0) {
      this.problem = 'nulByte';
      return;
    }
    for (let lf = chunk.indexOf(LF); lf >= 0; lf = chunk.indexOf(LF, lf + 1)) {
      const before = lf === 0 ? this.last : chunk[lf - 1];
      if (before !== CR) {
        this.problem = 'bareLf';
        return;
      }
    }
    this.last = chunk[chunk.length - 1] ?? this.last;
  }
}

/** Finds the end of the header block across chunks and keeps up to `keep` bytes of it. */
export class HeaderBlock {
  /** Offset just past the blank line ending the header block, once seen. */
  end: number | undefined;
  private seen = 0;
  private tail = Buffer.alloc(0);
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;

  constructor(private readonly keep: number) {}

  /** Feeds the next chunk; returns how many of its bytes belong to the header block. */
  update(chunk: Buffer): number {
    if (this.end !== undefined) return 0;
    const start = this.seen;
    this.seen += chunk.length;
    // a message that starts with CRLF has an empty header block
    if (start === 0 && chunk.length >= 2 && chunk[0] === CR && chunk[1] === LF) {
      this.end = 2;
      this.store(chunk.subarray(0, 2));
      return 2;
    }
    const window = Buffer.concat([this.tail, chunk]);
    const at = window.indexOf('\r\n\r\n');
    if (at >= 0) {
      this.end = start - this.tail.length + at + 4;
      const inChunk = this.end - start;
      this.store(chunk.subarray(0, inChunk));
      return inChunk;
    }
    this.tail = window.subarray(Math.max(0, window.length - 3));
    this.store(chunk);
    return chunk.length;
  }

  /** The kept start of the header block (at most `keep` bytes). */
  get head(): Buffer {
    return Buffer.concat(this.kept);
  }

  /** Bytes seen so far (the whole header block when no blank line ends it). */
  get total(): number {
    return this.end ?? this.seen;
  }

  private store(part: Buffer): void {
    const room = this.keep - this.keptBytes;
    if (room <= 0) return;
    const piece = part.subarray(0, room);
    this.kept.push(Buffer.from(piece));
    this.keptBytes += piece.length;
  }
}
