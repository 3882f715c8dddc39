/**
 * The relay's decision times (SY_RCPT lines at debug, with `time` and `ms`) read from its log
 * file as it grows. B4's phases run as long as a re-import does (minutes when it is paced), and
 * a back-to-back phase logs a million lines: the file is read once, in chunks, from where the
 * last read stopped, never whole into one string, and only the current phase's decisions are kept.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

export class DecisionLog {
  private offset = 0;
  private partial = '';
  /** Keeps a character whose bytes a chunk's end splits until the next chunk. */
  private readonly decoder = new StringDecoder('utf8');
  private readonly times: number[] = [];
  private readonly ms: number[] = [];
  private readonly buffer = Buffer.allocUnsafe(4 << 20);

  constructor(private readonly path: string) {}

  /** Reads what the relay wrote since the last call. */
  private readNew(): void {
    const fd = openSync(this.path, 'r');
    try {
      for (;;) {
        const n = readSync(fd, this.buffer, 0, this.buffer.length, this.offset);
        if (n === 0) break;
        this.offset += n;
        const lines = (this.partial + this.decoder.write(this.buffer.subarray(0, n))).split('\n');
        this.partial = lines.pop() ?? '';
        for (const line of lines) {
          if (!line.includes('"SY_RCPT"')) continue;
          const entry = JSON.parse(line) as { time: number; ms: number };
          this.times.push(entry.time);
          this.ms.push(entry.ms);
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  /** The decision times logged between two instants (ms since the epoch), as read so far; earlier ones are forgotten. */
  between(from: number, to: number): number[] {
    this.readNew();
    // phases follow one another: what was logged before this one is never asked for again
    let first = 0;
    while (first < this.times.length && (this.times[first] as number) < from) first++;
    if (first > 0) {
      this.times.splice(0, first);
      this.ms.splice(0, first);
    }
    const out: number[] = [];
    for (let i = 0; i < this.times.length; i++) {
      const t = this.times[i] as number;
      if (t >= from && t <= to) out.push(this.ms[i] as number);
    }
    return out;
  }

  /** Waits (5 s at most) until the log holds `rcpts` decisions since `from`: the relay writes asynchronously, up to 250 ms late. */
  async caughtUp(from: number, rcpts: number): Promise<void> {
    for (let i = 0; i < 100 && this.between(from, Date.now()).length < rcpts; i++) await new Promise((r) => setTimeout(r, 50));
  }
}
