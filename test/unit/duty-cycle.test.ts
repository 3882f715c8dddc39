/**
 * The staging's duty cycle (B4, issue 15): while a table is published, a staging holds Redis
 * for at most its share of the wall time. A virtual clock stands in for time: a task "takes"
 * its time by moving the clock, a pause moves it by what was asked (or more, as a timer does).
 */
import { expect, it } from 'vitest';
import { DutyCycle, MAX_CHARGE_MS, MIN_PAUSE_MS, REDIS_TIME_FACTOR, type PaceClock } from '../../src/pipeline/duty-cycle.js';

class VirtualClock implements PaceClock {
  t = 1000;
  readonly pauses: number[] = [];
  constructor(private readonly overshoot = 0) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.pauses.push(ms);
    await Promise.resolve();
    this.t += ms + this.overshoot;
  }
}

/** A batch that keeps Redis `ms` busy: its answer comes `ms` after it was sent. */
const batch = (clock: VirtualClock, ms: number, log?: string[], name?: string) => async (): Promise<void> => {
  log?.push(`start ${name}`);
  await Promise.resolve();
  clock.t += ms;
  log?.push(`end ${name}`);
};

it('keeps the busy share at the duty over a run, whatever the batch times', async () => {
  for (const duty of [0.1, 0.25, 0.5, 0.9]) {
    const clock = new VirtualClock();
    const pace = new DutyCycle(duty, clock);
    const start = clock.t;
    const times = [0.4, 0.6, 3, 0.5, 12, 0.3, 0.7, 5, 0.4, 0.5];
    for (let i = 0; i < 200; i++) await pace.run(batch(clock, times[i % times.length] ?? 1));
    await pace.drain();
    const busy = times.reduce((a, b) => a + b, 0) * 20;
    expect(pace.busy).toBeCloseTo(busy, 6);
    // the last batch's pause is still owed when the run ends: at most one batch over the share
    const wall = clock.t - start;
    expect(busy / wall).toBeLessThanOrEqual(duty * 1.0001 + 12 / wall);
    expect(busy / wall).toBeGreaterThan(duty * 0.95);
    expect(pace.slept).toBeCloseTo(wall - busy, 6);
  }
});

it('carries pauses shorter than MIN_PAUSE_MS to the next batch instead of sleeping them', async () => {
  const clock = new VirtualClock();
  const pace = new DutyCycle(0.5, clock); // owes as long as each batch took
  for (let i = 0; i < 7; i++) await pace.run(batch(clock, 0.75));
  await pace.drain();
  expect(MIN_PAUSE_MS).toBe(2);
  // owed 0.75, then 1.5, then 2.25: slept; then 0.75, 1.5, 2.25 and slept again
  expect(clock.pauses).toEqual([2.25, 2.25]);
});

it('counts the time the staging spends on its own between batches as pause', async () => {
  const clock = new VirtualClock();
  const pace = new DutyCycle(0.25, clock); // owes three times each batch
  for (let i = 0; i < 5; i++) {
    await pace.run(batch(clock, 1));
    await pace.drain();
    clock.t += 4; // reading and building the next batch takes longer than the pause owed
  }
  expect(clock.pauses).toEqual([]);
  expect(pace.slept).toBe(0);
});

it('gives no credit for idle time: a burst after a slow read is paced again at once', async () => {
  const clock = new VirtualClock();
  const pace = new DutyCycle(0.25, clock);
  await pace.run(batch(clock, 1));
  await pace.drain();
  clock.t += 1000; // a long wait for the directory
  for (let i = 0; i < 4; i++) await pace.run(batch(clock, 1));
  await pace.drain();
  // the first batch after the wait goes at once, every later one after its 3 ms pause
  expect(clock.pauses).toEqual([3, 3, 3]);
});

it('a timer that sleeps too long leaves no debt: the overshoot counts as pause', async () => {
  const clock = new VirtualClock(1.5);
  const pace = new DutyCycle(0.25, clock);
  for (let i = 0; i < 3; i++) await pace.run(batch(clock, 1));
  await pace.drain();
  expect(clock.pauses).toEqual([3, 3]);
  expect(pace.slept).toBe(9);
});

it('runs one batch at a time, callers who do not wait included', async () => {
  const clock = new VirtualClock();
  const pace = new DutyCycle(0.5, clock);
  const log: string[] = [];
  await Promise.all(['a', 'b', 'c'].map((n) => pace.run(batch(clock, 3, log, n))));
  await pace.drain();
  expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  expect(clock.pauses).toEqual([3, 3]);
  expect(pace.size).toBe(0);
});

it('a duty of 1 never pauses; a duty outside (0, 1] is refused', async () => {
  const clock = new VirtualClock();
  const pace = new DutyCycle(1, clock);
  for (let i = 0; i < 10; i++) await pace.run(batch(clock, 5));
  await pace.drain();
  expect(clock.pauses).toEqual([]);
  for (const bad of [0, -0.5, 1.01, Number.NaN]) expect(() => new DutyCycle(bad)).toThrow(RangeError);
});

it('a failed batch frees the slot and still counts', async () => {
  const clock = new VirtualClock();
  const pace = new DutyCycle(0.5, clock);
  await pace.run(() => {
    clock.t += 4;
    return Promise.reject(new Error('lost'));
  });
  await pace.drain();
  let ran = false;
  await pace.run(() => {
    ran = true;
    return Promise.resolve();
  });
  await pace.drain();
  expect(ran).toBe(true);
  expect(clock.pauses).toEqual([4]);
});

it('charges a batch that waited out an outage no more than MAX_CHARGE_MS, and owes no pause for it', async () => {
  const clock = new VirtualClock();
  const pace = new DutyCycle(0.25, clock);
  await pace.run(batch(clock, 30_000)); // answered after a 30 s Redis restart (the client resent it)
  await pace.run(batch(clock, 1));
  await pace.run(batch(clock, 1));
  await pace.drain();
  expect(MAX_CHARGE_MS).toBe(100);
  expect(clock.pauses).toEqual([3]); // none after the outage; three times its time after the next
  expect(pace.busy).toBe(102);
  // a slow answer under the cap is charged whole: the next batch 4 × 60 ms after it was sent
  const slow = new VirtualClock();
  const paced = new DutyCycle(0.25, slow);
  await paced.run(batch(slow, 60));
  await paced.run(batch(slow, 1));
  expect(slow.pauses).toEqual([180]);
});

/** A stage script that ran `redisMs` by Redis's clock and was answered `roundTrip` after it was sent. */
const reporting = (clock: VirtualClock, roundTrip: number, redisMs: number) => async (): Promise<number> => {
  await Promise.resolve();
  clock.t += roundTrip;
  return redisMs;
};

it("charges a batch that reports Redis's time REDIS_TIME_FACTOR times that, never more than its round trip", async () => {
  expect(REDIS_TIME_FACTOR).toBe(2);
  const clock = new VirtualClock();
  const pace = new DutyCycle(0.25, clock);
  const start = clock.t;
  // 0.75 ms of script in a 3 ms round trip: charged 1.5 ms, so each batch starts 6 ms after the one before
  for (let i = 0; i < 4; i++) await pace.run(reporting(clock, 3, 0.75));
  await pace.drain();
  expect(clock.pauses).toEqual([3, 3, 3]);
  expect(pace.busy).toBe(6);
  expect(clock.t - start).toBe(4 * 3 + 3 * 3);
  // a report longer than the round trip (another clock) is charged the round trip; so is a
  // report that is not a positive time: NaN, 0 (a clock that stood still in the script, as
  // from Redis 7.2 on), a negative one (TIME refused), a plain pipeline's reply, nothing
  const other = new VirtualClock();
  const cycle = new DutyCycle(0.5, other);
  await cycle.run(reporting(other, 2, 5));
  await cycle.run(reporting(other, 3, Number.NaN));
  await cycle.run(reporting(other, 4, 0));
  await cycle.run(reporting(other, 5, -1));
  await cycle.run(async () => {
    other.t += 6;
    return Promise.resolve('OK');
  });
  await cycle.run(async () => {
    other.t += 7;
    return Promise.resolve(undefined);
  });
  await cycle.drain();
  expect(other.pauses).toEqual([2, 3, 4, 5, 6]);
  expect(cycle.busy).toBe(2 + 3 + 4 + 5 + 6 + 7);
});

it('keeps the share of reported Redis time at the duty over a run', async () => {
  const clock = new VirtualClock();
  const pace = new DutyCycle(0.25, clock);
  const start = clock.t;
  const scripts = [0.4, 0.6, 0.3, 0.5, 0.7];
  for (let i = 0; i < 100; i++) await pace.run(reporting(clock, 2.5, scripts[i % scripts.length] ?? 0.5));
  await pace.drain();
  const charged = scripts.reduce((a, b) => a + b, 0) * 20 * REDIS_TIME_FACTOR;
  expect(pace.busy).toBeCloseTo(charged, 6);
  const wall = clock.t - start;
  expect(charged / wall).toBeLessThanOrEqual(0.25 * 1.0001 + 2.5 / wall);
  expect(charged / wall).toBeGreaterThan(0.25 * 0.95);
});

it('returns from run only once the batch is answered, so the caller builds the next one in the pause', async () => {
  const clock = new VirtualClock();
  const pace = new DutyCycle(0.25, clock);
  const log: string[] = [];
  for (const n of ['a', 'b']) {
    await pace.run(batch(clock, 1, log, n));
    log.push(`built after ${n}`);
  }
  expect(log).toEqual(['start a', 'end a', 'built after a', 'start b', 'end b', 'built after b']);
});
