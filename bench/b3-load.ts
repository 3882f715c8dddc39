/**
 * B3's load and its measurements: smtp-source sessions (Postfix's load generator), smtp-sink
 * next hops, CPU seconds of a process from /proc, and the direct rate — smtp-source straight
 * into smtp-sink with nothing in between, the harness's ceiling (SPEC §8 B3).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/main/embedded-redis.js';
import { run } from './lib.js';
import { loadPlan, DOMAIN, type Directory, type Invocation } from './relay-plan.js';

export const SESSIONS = 20;
export const SIZE = 10_240;
export const RCPTS = [1, 5] as const;
const asRoot = process.getuid?.() === 0;
/** Linux reports /proc CPU times in USER_HZ, 100 on every platform Node runs on here. */
const TICKS_PER_S = 100;

export interface Measured {
  readonly msgsPerS: number;
  readonly seconds: number;
  readonly accepted: number;
  /** CPU per accepted message of what is measured (relay + Redis, Postfix + slapd), ms. */
  readonly cpuMsPerMsg?: number;
  readonly note?: string;
}

export type Results = Map<number, Measured>;

export function smtpSource(port: number, group: number, messages: number, rcpts: number): Promise<void> {
  const g = String(group).padStart(2, '0');
  const args = ['-A', '-N', '-s', '1', '-m', String(messages), '-r', String(rcpts), '-M', 'loadgen.test'];
  args.push('-f', 'bench@sender.test', '-t', `.g${g}@${DOMAIN}`, '-l', String(SIZE), `127.0.0.1:${port}`);
  return run('smtp-source', args, { discardStdout: true }).then((r) => {
    if (r.code !== 0) throw new Error(`smtp-source failed: ${r.stderr.slice(-300)}`);
  });
}

/** SESSIONS workers, each running its smtp-source invocations one after the other. */
export async function drive(port: number, workers: readonly Invocation[][], rcpts: number): Promise<void> {
  await Promise.all(
    workers.map(async (list) => {
      for (const inv of list) await smtpSource(port, inv.group, inv.messages, rcpts);
    }),
  );
}

export interface SinkProc {
  readonly port: number;
  readonly proc: ChildProcess;
  count(): number;
}

export async function startSmtpSink(name: string, dir: string): Promise<SinkProc> {
  const port = await freePort();
  const countFile = join(dir, `${name}.count`);
  const out = createWriteStream(countFile);
  const proc = spawn('smtp-sink', [...(asRoot ? ['-u', 'nobody'] : []), '-c', '-h', `sink-${name}`, `127.0.0.1:${port}`, '256'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  proc.stdout?.pipe(out);
  for (let i = 0; i < 100; i++) {
    if ((await run('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`])).code === 0) break;
    await sleep(50);
  }
  return {
    port,
    proc,
    count() {
      const all = [...readFileSync(countFile, 'latin1').matchAll(/mesg=(\d+)/g)];
      return Number(all.at(-1)?.[1] ?? 0);
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** User + system CPU seconds a live process has used so far (its own, not its children's). */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_S;
  } catch {
    return NaN;
  }
}

/** System CPU seconds and context switches (voluntary, involuntary) of a live process so far. */
export function kernelCounters(pid: number | undefined): { sys: number; vcs: number; ivcs: number } {
  const none = { sys: NaN, vcs: NaN, ivcs: NaN };
  if (pid === undefined) return none;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const sys = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[12]) / TICKS_PER_S;
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { sys, vcs: field('voluntary_ctxt_switches'), ivcs: field('nonvoluntary_ctxt_switches') };
  } catch {
    return none;
  }
}

/** CPU seconds of a process and its live children (a relay with `relay.processes` > 1). */
export function treeCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  let total = cpuSeconds(pid);
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) total += cpuSeconds(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

export const loadAverage = (): string => readFileSync('/proc/loadavg', 'latin1').split(' ').slice(0, 3).join(' ');

/**
 * The direct rate: the same sessions, messages, sizes and recipients as the relay gets, but
 * smtp-source talks straight to one smtp-sink, which accepts every recipient.
 */
export async function runDirect(dir: Directory, messages: number, label: string): Promise<Results> {
  const work = join(tmpdir(), `switchyard-b3-direct-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const sink = await startSmtpSink('direct', work);
  const results: Results = new Map();
  try {
    for (const rcpts of RCPTS) {
      const { workers, expected } = loadPlan(dir, messages, SESSIONS, rcpts);
      const before = sink.count();
      const t0 = performance.now();
      await drive(sink.port, workers, rcpts);
      const seconds = (performance.now() - t0) / 1000;
      await sleep(300); // let the sink's counter flush
      const got = sink.count() - before;
      if (got !== expected.offered) throw new Error(`direct: the sink got ${got} of ${expected.offered} messages`);
      const m = { msgsPerS: got / seconds, seconds, accepted: got };
      results.set(rcpts, m);
      console.log(`  direct (${label}) r=${rcpts}: ${m.msgsPerS.toFixed(1)} msg/s (${got} messages in ${seconds.toFixed(2)} s)`);
    }
  } finally {
    sink.proc.kill('SIGTERM');
    rmSync(work, { recursive: true, force: true });
  }
  return results;
}
