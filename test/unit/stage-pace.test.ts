/** The staging window (issue 15, B4): never more than its limit of batches in flight, in order. */
import { expect, it } from 'vitest';
import { Window } from '../../src/pipeline/stage-pace.js';

it('starts a task only when fewer than the limit are running, and drains them all', async () => {
  const w = new Window(2);
  let running = 0;
  let most = 0;
  const started: number[] = [];
  const task = (n: number) => async (): Promise<void> => {
    started.push(n);
    running++;
    most = Math.max(most, running);
    await new Promise((r) => setTimeout(r, 2 + (n % 3)));
    running--;
  };
  for (let n = 0; n < 10; n++) {
    await w.run(task(n));
    expect(w.size).toBeLessThanOrEqual(2);
  }
  await w.drain();
  expect(most).toBe(2);
  expect(running).toBe(0);
  expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

it('a limit of one runs the tasks strictly one after the other', async () => {
  const w = new Window(1);
  const log: string[] = [];
  for (const n of [1, 2, 3]) {
    await w.run(async () => {
      log.push(`start ${n}`);
      await new Promise((r) => setTimeout(r, 1));
      log.push(`end ${n}`);
    });
  }
  await w.drain();
  expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
});
