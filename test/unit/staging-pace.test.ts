/**
 * The staging's pace while a table is published (src/pipeline/staging-pace.ts): paced to its
 * duty cycle while relays answer lookups, `inFlight` at a time while none does, switching as
 * the answer to the watch changes. A virtual clock stands in for time (as in duty-cycle.test.ts).
 */
import { expect, it } from 'vitest';
import type { PaceClock } from '../../src/pipeline/duty-cycle.js';
import { StagingPace, WATCH_EVERY_MS } from '../../src/pipeline/staging-pace.js';

class VirtualClock implements PaceClock {
  t = 1000;
  readonly pauses: number[] = [];
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.pauses.push(ms);
    await Promise.resolve();
    this.t += ms;
  }
}

const PACE = { batch: 10, inFlight: 2, duty: 0.25 };
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A batch answered when `release` is called; logs its start and end, and how many ran at once. */
function batches() {
  const log: string[] = [];
  let running = 0;
  let most = 0;
  const held: (() => void)[] = [];
  const task =
    (name: string, clock?: VirtualClock, ms = 4) =>
    async (): Promise<void> => {
      log.push(`start ${name}`);
      running++;
      most = Math.max(most, running);
      if (clock) {
        await Promise.resolve();
        clock.t += ms;
      } else await new Promise<void>((r) => held.push(r));
      running--;
      log.push(`end ${name}`);
    };
  return { log, task, most: () => most, release: () => held.shift()?.() };
}

it('unpaced while no relay answers: inFlight batches at once, never a pause', async () => {
  const clock = new VirtualClock();
  const asked: number[] = [];
  const pace = new StagingPace(PACE, false, () => (asked.push(clock.t), Promise.resolve(false)), clock);
  const b = batches();
  await pace.run(b.task('a'));
  await pace.run(b.task('b')); // returns at once: two in flight
  const third = pace.run(b.task('c')); // waits for a slot
  await tick();
  expect(b.log).toEqual(['start a', 'start b']);
  b.release();
  await third;
  expect(b.log).toEqual(['start a', 'start b', 'end a', 'start c']);
  b.release();
  b.release();
  await pace.drain();
  expect(b.most()).toBe(2);
  expect(clock.pauses).toEqual([]);
  expect(pace.pacedBatches).toBe(0);
  expect(asked).toEqual([]); // no watch before WATCH_EVERY_MS
});

it('paced while relays answer: one batch at a time, each owing its time × (1 − duty) / duty', async () => {
  const clock = new VirtualClock();
  const pace = new StagingPace(PACE, true, () => Promise.resolve(true), clock);
  const b = batches();
  for (let i = 0; i < 5; i++) await pace.run(b.task(String(i), clock, 4));
  await pace.drain();
  expect(b.most()).toBe(1);
  expect(clock.pauses).toEqual([12, 12, 12, 12]); // after each batch but the last, 4 ms × 3
  expect(pace.pacedBatches).toBe(5);
  expect(pace.slept).toBe(48);
  expect(pace.duty).toBe(0.25);
});

it('asks again every WATCH_EVERY_MS and switches: paced from the batch after the answer, unpaced again when the relays stop', async () => {
  const clock = new VirtualClock();
  const answers = [true, false];
  const asked: number[] = [];
  const pace = new StagingPace(PACE, false, () => (asked.push(clock.t), Promise.resolve(answers.shift() ?? false)), clock);
  const b = batches();
  const run = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      await pace.run(b.task(String(i), clock, 4));
      await tick();
    }
  };
  await run(10);
  expect(pace.pacedBatches).toBe(0);
  clock.t += WATCH_EVERY_MS; // the next batch starts the watch; the one after it is paced
  await run(3);
  expect(asked).toHaveLength(1);
  expect(pace.pacedBatches).toBe(2);
  const sleptBefore = pace.slept;
  expect(sleptBefore).toBeGreaterThan(0);
  clock.t += WATCH_EVERY_MS; // the next watch says the relays stopped
  await run(5);
  expect(asked).toHaveLength(2);
  expect(pace.pacedBatches).toBe(3); // the one that started the watch was still paced
  await pace.drain();
  expect(pace.slept - sleptBefore).toBeLessThan(13); // at most the pause that batch owed
});

it('a paced batch starts only once every unpaced batch before it is answered', async () => {
  const clock = new VirtualClock();
  let answer = false;
  const pace = new StagingPace(PACE, false, () => Promise.resolve(answer), clock);
  const b = batches();
  await pace.run(b.task('a'));
  await pace.run(b.task('b'));
  answer = true;
  clock.t += WATCH_EVERY_MS;
  const c = pace.run(b.task('c')); // starts the watch; still unpaced: waits for a slot
  await tick();
  b.release(); // a
  await c;
  const d = pace.run(b.task('d', clock)); // paced: waits for b and c
  await tick();
  expect(b.log).toEqual(['start a', 'start b', 'end a', 'start c']);
  b.release(); // b
  b.release(); // c
  await d;
  expect(b.log).toEqual(['start a', 'start b', 'end a', 'start c', 'end b', 'end c', 'start d', 'end d']);
  expect(pace.pacedBatches).toBe(1);
});

it('keeps its mode when the watch fails, and watches again after WATCH_EVERY_MS', async () => {
  const clock = new VirtualClock();
  let calls = 0;
  const pace = new StagingPace(
    PACE,
    true,
    () => {
      calls++;
      return calls === 1 ? Promise.reject(new Error('Redis is away')) : Promise.resolve(false);
    },
    clock,
  );
  const b = batches();
  clock.t += WATCH_EVERY_MS;
  await pace.run(b.task('1', clock));
  await tick();
  await pace.run(b.task('2', clock)); // the failed watch left it paced
  expect(pace.pacedBatches).toBe(2);
  clock.t += WATCH_EVERY_MS;
  await pace.run(b.task('3', clock)); // watches again: no relay answers
  await tick();
  await pace.run(b.task('4', clock));
  await pace.drain();
  expect(calls).toBe(2);
  expect(pace.pacedBatches).toBe(3);
});
