/**
 * How fast a full publish stages into Redis (B4, issue 15). Redis runs one script at a time
 * and reads a client's pipelined commands in one go, so an RCPT lookup waits for every
 * staging script Redis already holds: the scripts must be short (`batch` objects) and few
 * at once (`inFlight`, a hard cap: a batch is not sent while the cap is reached). Both are
 * configuration keys (table.stageBatch, table.stageInFlight): larger values import faster
 * and make lookups wait longer while they run (docs/benchmarks.md, B1 and B4). While relays
 * answer lookups from a published table version, a staging is also paced to a share of the
 * wall time (table.stageDuty; staging-pace.ts).
 */
import type { StagePace } from './types.js';

/**
 * The share of wall time a full staging may hold Redis while relays answer lookups from a
 * published table version (table.stageDuty; src/pipeline/duty-cycle.ts). Measured with B4
 * (docs/benchmarks.md, session 30) on the 2-core development machine, with scripts of 10: at
 * a quarter, RCPTs sent back to back during a million-address re-import kept their idle p99
 * or better (1.6–1.8 ms, 2.1 ms idle, 4.4–7.7 ms unpaced), at 1000 RCPT/s 5.0–7.7 ms against
 * 9.4–11.4 ms unpaced, and the re-import took 2–3 min instead of 19–31 s; 0.1 (scripts of 20)
 * gave 4.0–5.5 ms at 1000/s and took five to seven minutes. Those runs charged each batch its
 * round trip, which held Redis ~16 % of the time at 0.25; charged Redis's own time (session
 * 32, Redis 7.0) it holds ~23 %, the re-import took 110–157 s, and the p99 was 1.25–1.9 times
 * the idle one (at or under it before, in another session's run); about 0.17 would hold the
 * old share. Kept at 0.25, the share the setting names.
 */
export const STAGE_DUTY = 0.25;

/**
 * The defaults. Batch: measured on the loaded 2-core development machine during a
 * re-import (every object compared with the old state), 50 objects took ~0.8 ms of Redis
 * time, 20 objects ~0.3–0.5 ms (docs/benchmarks.md, B4 2026-12-01); the cheaper stage.lua
 * (issue 15 item 2) runs a 20-object re-import batch in ~0.36–0.41 ms of Redis time. Paced
 * (session 30), 10 objects a script took a million-address re-import as long as 20 did
 * (106–112 s against 89–111 s) and brought B4's p99 at 1000 RCPT/s from 8.1–8.3 ms to
 * 5.0–5.2 ms, since a lookup waits behind a shorter script; 5 took a third longer for
 * little more (4.4–5.2 ms). Charging a batch its script's own Redis time (session 32), 5
 * re-imported as fast as 10, with a p99 0.2–1.4 ms lower in one run each: not enough to
 * change the default then. On a faster machine (sessions 35–36, three pairs of a
 * million-address re-import), 5 objects a script left 1–5 % of the scripts over 0.3 ms of
 * Redis time against 12–44 % with 10 (SLOWLOG), the issue's bound on a staging script, for
 * 0.9–1.1 times the Redis time in all and re-imports up to a fifth longer. In session 38,
 * three alternated pairs at 1000 RCPT/s (relay logging at info) with 2 objects a script
 * against 5: 419–512 scripts over 0.3 ms against 1,396–5,609, decisions over 1 ms 1.9–2.2 %
 * against 2.5–5.3 % with the re-import at the relay's priority and 1.2–1.4 % against
 * 1.8–2.3 % at nice 10 (the idle relay's own 0.8–1.6 %), for re-imports a fifth to a quarter
 * longer (77–87 s against 58–75 s): 2 is the default. Unpaced, session 21 found 20–50 faster; in session 31, 10 were faster
 * (100,000-row re-imports: 9.0–9.9 s against 11.4–12.0 s with 20); a first import, or a
 * re-import with no relay answering, writes the objects proved new with plain `HSET`s and
 * classifies them in scripts of 50 (fresh-stage.ts), and stages only the rest in these.
 * In flight: one made B1's first import 1.7× slower (the worker builds the next batch while
 * Redis idles, and Redis idles while it does); with two, the next batch is built while one
 * runs. Eight import a 100,000-row file about a tenth faster and make B4's p99 at the
 * relay's priority 20–30 % worse; batches of 10 import slower (docs/benchmarks.md, session 21).
 */
export const STAGE_PACE: StagePace = { batch: 2, inFlight: 2, duty: STAGE_DUTY };

/**
 * Objects per pipeline of plain `HSET`s in a staging (src/store/fresh-stage.ts),
 * for a snapshot of `shards` shards: one `HSET` per touched shard of each hash, so the batch
 * grows with the shards to keep a few dozen fields per command — each command costs the client
 * more than its fields do. 25 per shard, from 200 to 2000: at 16 shards 400–800 objects cost
 * the least client and Redis time, at 64 shards 1000–2400 (~40 % less client time than 200;
 * docs/benchmarks.md, session 23). A command of ~50 fields holds Redis for tens of µs.
 */
export function freshBatch(shards: number): number {
  return Math.min(2000, Math.max(200, 25 * shards));
}

/** At most `limit` tasks running; `run` waits for a free slot before it starts one. */
export class Window {
  private readonly running = new Set<Promise<unknown>>();
  constructor(private readonly limit: number) {}

  get size(): number {
    return this.running.size;
  }

  async run(task: () => Promise<unknown>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    const p: Promise<unknown> = task().finally(() => this.running.delete(p));
    this.running.add(p);
  }

  /** Every task started has finished (their own errors are theirs to catch). */
  async drain(): Promise<void> {
    await Promise.allSettled(this.running);
  }
}
