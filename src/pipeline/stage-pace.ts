/**
 * How fast a full publish stages into Redis (B4, issue 15). Redis runs one script at a time
 * and reads a client's pipelined commands in one go, so an RCPT lookup waits for every
 * staging script Redis already holds: the scripts must be short (a batch of BATCH objects)
 * and few at once (IN_FLIGHT, a hard cap: a batch is not sent while the cap is reached).
 * Both can be overridden for a measurement (SWITCHYARD_STAGE_BATCH, SWITCHYARD_STAGE_IN_FLIGHT).
 */

function setting(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer, not "${raw}"`);
  return n;
}

/**
 * Objects per staging script. Measured on the loaded 2-core development machine during a
 * re-import (every object compared with the old state): 50 objects took ~0.8 ms of Redis
 * time, 20 objects ~0.3–0.5 ms (docs/benchmarks.md, B4 2026-12-01). The cheaper stage.lua
 * (issue 15 item 2) runs a 20-object re-import batch in ~0.36–0.41 ms of Redis time against
 * ~0.48–0.54 ms before, in `bench/stage-cost.ts` (Redis otherwise idle).
 */
export const STAGE_BATCH = setting('SWITCHYARD_STAGE_BATCH', 20);
/**
 * Staging scripts sent and not yet answered, at most: a lookup waits for at most this many.
 * One made B1's first import 1.7× slower (52 s against 30.5 s, 2026-12-01): the worker then
 * builds the next batch while Redis idles, and Redis idles while it does. With two, the next
 * batch is built while one runs; its B1 cost against main was not settled on the loaded
 * machine (pairs 1.73×/1.96×, 2.88×/2.58×, 1.68×/1.71×: docs/benchmarks.md).
 */
export const STAGE_IN_FLIGHT = setting('SWITCHYARD_STAGE_IN_FLIGHT', 2);

/** At most `limit` tasks running; `run` waits for a free slot before it starts one. */
export class Window {
  private readonly running = new Set<Promise<void>>();
  constructor(private readonly limit: number) {}

  get size(): number {
    return this.running.size;
  }

  async run(task: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    const p: Promise<void> = task().finally(() => this.running.delete(p));
    this.running.add(p);
  }

  /** Every task started has finished (their own errors are theirs to catch). */
  async drain(): Promise<void> {
    await Promise.allSettled(this.running);
  }
}
