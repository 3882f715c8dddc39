/**
 * Pacing a staging that replaces routing the relays may be answering from (B4, issue 15).
 * A full re-import or sync of a million addresses kept the one Redis thread busy for two
 * thirds of every second and both cores of the development machine busy with it, and RCPT
 * lookups waited behind its scripts and for a core (p99 5–15 ms against 2–3 ms idle).
 *
 * `DutyCycle` sends one batch at a time and, after each answer, keeps Redis free of this
 * staging for as long as the batch took times (1 − duty) / duty: the staging holds Redis (and
 * itself, since `run` returns only once the batch is answered and the caller builds the next
 * one in the pause) for at most `duty` of the wall time.
 * A batch's round trip stands for its Redis time: it is longer when Redis or the machine is
 * busy with other work, so the staging backs off more exactly then.
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
 * Redis time and a first staging's largest pipeline tens of milliseconds; a batch that waited
 * out a Redis restart or failover (the client resends it) owes no pause for the outage.
 */
export const MAX_CHARGE_MS = 100;

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

  /** Runs `task` once the one before it has been answered and its pause has passed; returns when it has settled. */
  async run(task: () => Promise<void>): Promise<void> {
    while (this.running !== undefined) await this.running.catch(() => undefined);
    let sent = 0;
    let start!: () => void;
    // the slot is taken before the pause, so a caller who comes meanwhile waits for this task too
    const p: Promise<void> = new Promise<void>((resolve) => (start = resolve)).then(task).finally(() => {
      const answered = this.clock.now();
      const took = Math.min(answered - sent, MAX_CHARGE_MS);
      this.busy += took;
      this.owed += (took * (1 - this.duty)) / this.duty;
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
