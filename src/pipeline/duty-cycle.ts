/**
 * Pacing a staging that replaces routing the relays may be answering from (B4, issue 15).
 * A full re-import or sync of a million addresses kept the one Redis thread busy for two
 * thirds of every second and both cores of the development machine busy with it, and RCPT
 * lookups waited behind its scripts and for a core (p99 5–15 ms against 2–3 ms idle).
 *
 * `DutyCycle` sends one batch at a time and starts the next one no sooner than the batch's
 * charge divided by `duty` after it was sent, so the staging holds Redis for about `duty` of
 * the wall time (`run` returns only once the batch is answered: the caller builds the next
 * one in the pause).
 *
 * A batch's charge is its Redis time. A stage script reports how long it ran by Redis's
 * clock (stage.lua); Redis spends more than that on the command (reading and parsing its
 * arguments, the reply, the AOF write), so the charge is REDIS_TIME_FACTOR times it, and
 * never more than the round trip. A batch that reports nothing (a pipeline of plain
 * writes, a replayed script, a server whose clock stands still within a script: Redis 7.2
 * and later) is charged its round trip, which also makes the staging back off further when
 * Redis or the machine is busy; a reported time does not grow with the relays' load, and
 * holds Redis's share at the duty whatever they ask of it. Charging the round trip for every
 * batch, as before session 32, held Redis 15.6–16.2 % of the time at a duty of 0.25: the round
 * trip was about 1.6 times Redis's main-thread time for the batch (docs/benchmarks.md,
 * sessions 31–32).
 *
 * Owed pauses shorter than MIN_PAUSE_MS are carried to the next batch, not slept: a timer
 * cannot sleep less than about a millisecond, and the long-run share stays the same. Time
 * the staging spends on its own between batches (reading, building) counts as pause.
 */

export interface PaceClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: PaceClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Pauses shorter than this are owed, not slept (ms). */
export const MIN_PAUSE_MS = 2;

/**
 * The most one batch is charged (ms). A staging script takes well under a millisecond of
 * Redis time and the largest pipeline of plain writes tens of milliseconds; a batch that waited
 * out a Redis restart or failover (the client resends it) owes no pause for the outage.
 */
export const MAX_CHARGE_MS = 100;

/**
 * Redis's time for a staging batch per unit of its script's own time. Measured on the 2-core
 * development machine during paced 100,000-row re-imports (3 addresses an object) at a duty
 * of 0.25 (docs/benchmarks.md, session 32): Redis's main thread spent 1.4 times the scripts'
 * EVALSHA time on the staging, and held itself for the staging 23.3–23.5 % of the time with a
 * factor of 2, 28.7–30.0 % with 1.5 (15.6–16.2 % charging the round trip, 34 s against 50–61 s
 * for the re-import). A tuned factor, not a bound: larger objects cost more outside the script.
 */
export const REDIS_TIME_FACTOR = 2;

export class DutyCycle {
  /** Pause still owed to Redis before the next batch (ms), and when the last batch was answered. */
  private owed = 0;
  private answered: number | undefined;
  private running: Promise<void> | undefined;
  /** Time slept, and time charged as Redis's for this staging's batches (ms). */
  slept = 0;
  busy = 0;

  constructor(
    readonly duty: number,
    private readonly clock: PaceClock = realClock,
  ) {
    if (!(duty > 0 && duty <= 1)) throw new RangeError(`a duty cycle is a share in (0, 1], not ${duty}`);
  }

  get size(): number {
    return this.running === undefined ? 0 : 1;
  }

  /**
   * Runs `task` once the one before it has been answered and its pause has passed; returns
   * when it has settled. A task that resolves to a positive number reports Redis's own time
   * for its batch (ms): it is charged REDIS_TIME_FACTOR times that, at most its round trip.
   */
  async run(task: () => Promise<unknown>): Promise<void> {
    while (this.running !== undefined) await this.running.catch(() => undefined);
    let sent = 0;
    let start!: () => void;
    let reported: unknown;
    // the slot is taken before the pause, so a caller who comes meanwhile waits for this task too
    const p: Promise<void> = new Promise<void>((resolve) => (start = resolve))
      .then(task)
      .then((redisMs) => void (reported = redisMs))
      .finally(() => {
        const answered = this.clock.now();
        const roundTrip = answered - sent;
        const own = typeof reported === 'number' && reported > 0 && reported < Infinity ? REDIS_TIME_FACTOR * reported : Infinity;
        const charge = Math.min(roundTrip, own, MAX_CHARGE_MS);
        this.busy += charge;
        // the next batch no sooner than charge / duty after this one was sent
        this.owed += Math.max(0, charge / this.duty - roundTrip);
        this.answered = answered;
        if (this.running === p) this.running = undefined;
      });
    this.running = p;
    const settled = p.catch(() => undefined); // the task's errors are its own; none goes unhandled
    // what the staging spent on its own since the last answer was a pause too; no credit beyond the debt
    if (this.answered !== undefined) this.owed = Math.max(0, this.owed - (this.clock.now() - this.answered));
    if (this.owed >= MIN_PAUSE_MS) {
      const from = this.clock.now();
      await this.clock.sleep(this.owed);
      this.slept += this.clock.now() - from;
      this.owed = 0;
    }
    sent = this.clock.now();
    start();
    await settled;
  }

  /** The task started last has finished (its own errors are its to catch). */
  async drain(): Promise<void> {
    while (this.running !== undefined) await this.running.catch(() => undefined);
  }
}
