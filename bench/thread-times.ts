/**
 * Where a benchmarked process's time went, thread by thread: how long each thread ran and how
 * long it was ready to run but waited for a core (/proc/<pid>/task/<tid>/schedstat), sampled
 * while the process runs so that threads which end before it (a parsing thread) are counted
 * too, and how idle the whole machine was meanwhile (/proc/stat). On two cores shared by an
 * import's threads and Redis, "waited for a core" is the cost no single thread shows (B1).
 */
import { readdirSync, readFileSync } from 'node:fs';

interface ThreadTime {
  readonly tid: number;
  readonly ranMs: number;
  readonly waitedMs: number;
}

/** A thread's /proc schedstat: ns on a CPU, ns runnable but waiting for one; undefined once it has ended. */
export function schedstat(path: string): [number, number] | undefined {
  try {
    const [ran, waited] = readFileSync(path, 'utf8').split(' ').map(Number);
    return [ran ?? 0, waited ?? 0];
  } catch {
    return undefined; // the thread (or the process) has ended: its last sample stands
  }
}

/** user, nice, system, idle, iowait, irq, softirq, steal: the machine's jiffies so far. */
function machineTicks(): number[] {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  return line.trim().split(/\s+/).slice(1, 9).map(Number);
}

export class ThreadTimes {
  private readonly first = new Map<string, [number, number]>();
  private readonly last = new Map<string, [number, number]>();
  private readonly timer: NodeJS.Timeout;
  private readonly ticks0 = machineTicks();

  /** `pid`'s threads, and each of `others` (name → pid: its main thread only). */
  constructor(
    private readonly pid: number,
    private readonly others: Record<string, number> = {},
    intervalMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref(); // never what keeps a benchmark alive
  }

  private sample(): void {
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${this.pid}/task`);
    } catch {
      // ended
    }
    const paths: [string, string][] = tids.map((t) => [t, `/proc/${this.pid}/task/${t}/schedstat`]);
    for (const [name, pid] of Object.entries(this.others)) paths.push([name, `/proc/${pid}/schedstat`]);
    for (const [key, path] of paths) {
      const s = schedstat(path);
      if (s === undefined) continue;
      // the process's own threads all began with it: every bit of their time counts
      if (!this.first.has(key)) this.first.set(key, key in this.others ? s : [0, 0]);
      this.last.set(key, s);
    }
  }

  private time(key: string): ThreadTime {
    const [r0, w0] = this.first.get(key) ?? [0, 0];
    const [r1, w1] = this.last.get(key) ?? [0, 0];
    return { tid: Number(key), ranMs: (r1 - r0) / 1e6, waitedMs: (w1 - w0) / 1e6 };
  }

  /** Stops sampling; one line: the main thread, the busiest other thread, the rest together, `others`, machine idle. */
  report(): string {
    clearInterval(this.timer);
    this.sample();
    const ticks = machineTicks().map((v, i) => v - (this.ticks0[i] ?? 0));
    const idle =
      ((ticks[3] ?? 0) + (ticks[4] ?? 0)) /
      Math.max(
        1,
        ticks.reduce((a, b) => a + b, 0),
      );
    const fmt = (t: { ranMs: number; waitedMs: number }): string => `${(t.ranMs / 1000).toFixed(2)} / ${(t.waitedMs / 1000).toFixed(2)} s`;
    const threads = [...this.first.keys()].filter((k) => /^\d+$/.test(k)).map((k) => this.time(k));
    const main = threads.find((t) => t.tid === this.pid);
    const rest = threads.filter((t) => t.tid !== this.pid).sort((a, b) => b.ranMs - a.ranMs);
    const busiest = rest[0];
    const others = rest.slice(1).filter((t) => t.ranMs > 0);
    const sum = others.reduce((a, t) => ({ ranMs: a.ranMs + t.ranMs, waitedMs: a.waitedMs + t.waitedMs }), { ranMs: 0, waitedMs: 0 });
    const parts = [
      ...(main ? [`main thread ${fmt(main)}`] : []),
      ...(busiest && busiest.ranMs > 0 ? [`busiest other thread ${fmt(busiest)}`] : []),
      ...(others.length > 0 ? [`${others.length} more threads (V8's GC helpers, libuv) ${fmt(sum)}`] : []),
      ...Object.keys(this.others).map((name) => `${name} ${fmt(this.time(name))}`),
    ];
    return `threads, ran / waited for a core: ${parts.join('; ')}; machine idle ${(idle * 100).toFixed(0)} %`;
  }
}
