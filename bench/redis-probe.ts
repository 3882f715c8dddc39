/**
 * What Redis itself saw during a benchmark phase (B4): SLOWLOG entries over a threshold
 * counted per command and per table script (EVALSHA named by its script), LATENCY LATEST
 * events (latency-monitor-threshold: fork, AOF fsync, commands, expiry…), and the
 * per-command LATENCY HISTOGRAM of EVALSHA. `reset()` starts a new phase.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { scripts } from '../src/store/scripts.js';
import { schedstat } from './thread-times.js';

const scriptBySha = new Map(Object.values(scripts).map((s) => [s.sha, s.name]));

/** The settings of deploy/redis.conf the bench's Redis runs with (not where it listens or stores). */
export function shippedRedisConfig(root: string): string[] {
  const skip = new Set(['bind', 'port', 'dir', 'save', 'protected-mode']);
  return readFileSync(join(root, 'deploy', 'redis.conf'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !skip.has(l.split(/\s+/)[0] ?? ''));
}

export async function configureProbe(admin: Redis, slowerThanUs: number, latencyMs: number): Promise<void> {
  await admin.config('SET', 'slowlog-log-slower-than', String(slowerThanUs));
  await admin.config('SET', 'slowlog-max-len', '100000');
  await admin.config('SET', 'latency-monitor-threshold', String(latencyMs));
  await resetProbe(admin);
}

export async function resetProbe(admin: Redis): Promise<void> {
  await admin.config('RESETSTAT');
  await admin.call('SLOWLOG', 'RESET');
  await admin.call('LATENCY', 'RESET');
}

type SlowEntry = [number, number, number, string[]];
type Histogram = [string, [string, number, string, number[]]];

/** SLOWLOG since the last reset: count and max per command, EVALSHA per script name. */
async function slowlog(admin: Redis): Promise<string> {
  const slow = (await admin.call('SLOWLOG', 'GET', '100000')) as SlowEntry[];
  const by = new Map<string, { n: number; max: number }>();
  for (const [, , us, args] of slow) {
    const cmd = `${args[0] ?? '?'}`.toUpperCase();
    const name = cmd === 'EVALSHA' ? `EVALSHA ${scriptBySha.get(`${args[1] ?? ''}`) ?? '?'}` : cmd;
    const e = by.get(name) ?? { n: 0, max: 0 };
    by.set(name, { n: e.n + 1, max: Math.max(e.max, us) });
  }
  return [...by].map(([c, e]) => `${e.n} ${c} (max ${(e.max / 1000).toFixed(2)} ms)`).join(', ') || 'none';
}

/**
 * LATENCY LATEST: event, max ms since the reset, and in how many seconds it went over the
 * threshold (LATENCY HISTORY keeps one sample a second, the 160 latest).
 */
async function latencyEvents(admin: Redis): Promise<string> {
  const rows = (await admin.call('LATENCY', 'LATEST')) as [string, number, number, number][];
  const out: string[] = [];
  for (const [event, , , max] of rows) {
    const seconds = ((await admin.call('LATENCY', 'HISTORY', event)) as unknown[]).length;
    out.push(`${event} max ${max} ms (in ${seconds >= 160 ? '160+' : seconds} s)`);
  }
  return out.join(', ') || 'none';
}

/** EVALSHA's latency histogram (all scripts): calls, and the share over ~0.25, ~0.5 and ~1 ms (the bucket bounds). */
async function evalHistogram(admin: Redis): Promise<string> {
  const reply = (await admin.call('LATENCY', 'HISTOGRAM', 'evalsha')) as Histogram | [];
  const body = reply[1];
  if (!body) return 'no EVALSHA';
  const calls = body[1];
  const buckets = body[3]; // upper bound (µs), cumulative count, …
  const over = (us: number): string => {
    let bound = 0;
    let below = 0;
    for (let i = 0; i + 1 < buckets.length; i += 2) {
      if ((buckets[i] ?? 0) > us * 1.1) break;
      bound = buckets[i] ?? 0;
      below = buckets[i + 1] ?? 0;
    }
    return `over ${bound} µs ${((100 * (calls - below)) / Math.max(1, calls)).toFixed(2)} %`;
  };
  return `${calls} EVALSHA, ${over(250)}, ${over(500)}, ${over(1000)}`;
}

/** Mean Redis time per EVALSHA (INFO commandstats). */
async function evalMean(admin: Redis): Promise<string> {
  const info = await admin.info('commandstats');
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)/.exec(info);
  return m ? `${m[3]} µs Redis time per EVALSHA on average` : 'no EVALSHA';
}

/** One phase's lines (indented), then a reset for the next phase. */
export async function probeReport(admin: Redis, slowerThanUs: number): Promise<string[]> {
  // LATENCY first: reading a long SLOWLOG is itself a command of tens of milliseconds
  const latency = await latencyEvents(admin);
  const lines = [
    `Redis scripts: ${await evalHistogram(admin)}; ${await evalMean(admin)}`,
    `Redis SLOWLOG over ${slowerThanUs / 1000} ms: ${await slowlog(admin)}`,
    `Redis LATENCY LATEST: ${latency}`,
  ];
  await resetProbe(admin);
  return lines;
}

/** A process's main thread (thread-times.ts reads it): a process that has ended is an error here. */
function mainThread(pid: number): [number, number] {
  const s = schedstat(`/proc/${pid}/schedstat`);
  if (s === undefined) throw new Error(`process ${pid} has ended: no /proc/${pid}/schedstat`);
  return s;
}

/**
 * CPU contention per phase: how long the relay's and Redis's main threads ran, and how long
 * they were ready to run but waited for a core (ms per second of the phase).
 */
export class CpuWait {
  private from = new Map<string, [number, number]>();
  private at = 0;
  constructor(private readonly pids: Record<string, number>) {}

  start(): void {
    this.at = performance.now();
    for (const [name, pid] of Object.entries(this.pids)) this.from.set(name, mainThread(pid));
  }

  report(): string {
    const seconds = (performance.now() - this.at) / 1000;
    const parts = Object.entries(this.pids).map(([name, pid]) => {
      const [run, wait] = mainThread(pid);
      const [run0, wait0] = this.from.get(name) ?? [0, 0];
      const perS = (ns: number): string => (ns / 1e6 / seconds).toFixed(0);
      return `${name} ran ${perS(run - run0)} ms/s, waited for a core ${perS(wait - wait0)} ms/s`;
    });
    return `CPU (main threads): ${parts.join('; ')}`;
  }
}
