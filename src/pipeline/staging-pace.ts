/**
 * How a full staging sends its batches while a table version is published (B4, issue 15):
 * paced to the duty cycle (duty-cycle.ts) while relays answer lookups from the table, and
 * `inFlight` at a time at full speed while none does (the relays' mark,
 * src/store/lookup-beacon.ts). Pacing a staging nobody waits behind only made it slower: with
 * no relay running, a re-import of 100,000 rows took 60.7 s paced against 10.3 s unpaced
 * (docs/benchmarks.md, session 31). The mark is asked again every WATCH_EVERY_MS while
 * batches are sent, so a long staging starts yielding when mail starts flowing and speeds up
 * when it stops. The mark is per namespace: a staging does not yield to another namespace's
 * relays on the same Redis.
 */
import { DutyCycle, realClock, type PaceClock } from './duty-cycle.js';
import { Window } from './stage-pace.js';
import type { StagePace } from './types.js';

/** How often a running staging asks whether relays answer lookups (ms). */
export const WATCH_EVERY_MS = 500;

export class StagingPace {
  private readonly window: Window;
  private readonly cycle: DutyCycle;
  private pacedNow: boolean;
  private asked: number;
  private asking = false;
  /** Batches sent paced (stage.lua scripts, and pipelines of plain writes). */
  pacedBatches = 0;

  /**
   * `relaysAnswer` says whether relays answer lookups now (asked again every WATCH_EVERY_MS;
   * a failed answer keeps the mode); `initially` is its answer before the first batch.
   */
  constructor(
    pace: StagePace,
    initially: boolean,
    private readonly relaysAnswer: () => Promise<boolean>,
    private readonly clock: PaceClock = realClock,
  ) {
    this.window = new Window(pace.inFlight);
    this.cycle = new DutyCycle(pace.duty, clock);
    this.pacedNow = initially;
    this.asked = clock.now();
  }

  get duty(): number {
    return this.cycle.duty;
  }

  /** Whether batches are paced now (relays answered when last asked). */
  get pacing(): boolean {
    return this.pacedNow;
  }

  /** Time paused for the lookups (ms). */
  get slept(): number {
    return this.cycle.slept;
  }

  /** Redis time charged for the paced batches (ms; DutyCycle.busy). */
  get charged(): number {
    return this.cycle.busy;
  }

  /**
   * Paced: once every batch sent before has been answered and the pause owed has passed, and
   * returns when this one is answered (DutyCycle.run). Unpaced: as soon as fewer than
   * `inFlight` are unanswered (Window.run). A task may resolve to Redis's own time for its
   * batch (ms), which the duty cycle charges instead of the round trip.
   */
  async run(task: () => Promise<unknown>): Promise<void> {
    this.watch();
    if (this.pacedNow) {
      await this.window.drain();
      this.pacedBatches++;
      return this.cycle.run(task);
    }
    await this.cycle.drain();
    return this.window.run(task);
  }

  /** Every batch sent has been answered (their own errors are theirs to catch). */
  async drain(): Promise<void> {
    await this.window.drain();
    await this.cycle.drain();
  }

  private watch(): void {
    if (this.asking || this.clock.now() - this.asked < WATCH_EVERY_MS) return;
    this.asking = true;
    this.relaysAnswer()
      .then(
        (answer) => {
          this.pacedNow = answer;
        },
        () => undefined, // Redis will fail the batches too; until then the mode stays
      )
      .finally(() => {
        this.asked = this.clock.now();
        this.asking = false;
      });
  }
}
