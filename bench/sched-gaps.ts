/**
 * The machine's scheduling floor under latency benchmarks (B4): a busy loop that reads the
 * clock and counts the gaps between two reads over 0.5, 1 and 2 ms, the times its thread was
 * not running although it never yielded (another process, or the hypervisor taking the
 * virtual CPU). Measured once with the rest of the machine idle and once with a second busy
 * thread (both cores wanted, as during a re-import). A latency percentile cannot be below
 * what such gaps add to the requests in flight when they happen.
 */
import { Worker } from 'node:worker_threads';

function busyGaps(ms: number): { gaps: number[]; lostMs: number } {
  const limits = [0.5, 1, 2];
  const gaps = limits.map(() => 0);
  let lostMs = 0;
  let last = performance.now();
  const end = last + ms;
  while (last < end) {
    const now = performance.now();
    const gap = now - last;
    if (gap > limits[0]!) {
      lostMs += gap;
      limits.forEach((l, i) => gap > l && gaps[i]!++);
    }
    last = now;
  }
  return { gaps, lostMs };
}

const line = (label: string, ms: number, r: { gaps: number[]; lostMs: number }): string =>
  `${label}: in ${ms / 1000} s of a busy loop, descheduled over 0.5 ms ${r.gaps[0]}×, over 1 ms ${r.gaps[1]}×, over 2 ms ${r.gaps[2]}× (${r.lostMs.toFixed(0)} ms lost)`;

/** Two lines: the gaps of a busy loop of `ms` on the idle machine, then beside a second busy thread. */
export async function schedulingFloor(ms = 5000): Promise<string[]> {
  const alone = busyGaps(ms);
  const other = new Worker(`const end = performance.now() + ${ms + 500}; while (performance.now() < end);`, { eval: true });
  await new Promise((r) => other.once('online', r));
  const beside = busyGaps(ms);
  await other.terminate();
  return [line('scheduling floor, machine idle', ms, alone), line('scheduling floor, both cores busy', ms, beside)];
}
