/** Shared helpers of the benchmark scripts: timing, child processes, peak RSS. */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/main/paths.js';
import { STAGE_PACE } from '../src/pipeline/stage-pace.js';

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The median of a bench's rounds (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** "min–max" of a bench's rounds, in seconds with two decimals. */
export const span = (xs: readonly number[]): string => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;

export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, (performance.now() - t) / 1000];
}

export function run(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; discardStdout?: boolean; onSpawn?: (pid: number) => void } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', opts.discardStdout ? 'ignore' : 'pipe', 'pipe'] });
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    const stdin = child.stdin;
    if (stdin && opts.input) createReadStream(opts.input).pipe(stdin);
    else stdin?.end();
  });
}

/**
 * Runs the `switchyard` CLI (this checkout's, or `bin`) in a child process that reports its
 * peak RSS (MB); `onSpawn` gets the child's pid (`nice` execs node: the same process).
 */
export async function runSwitchyard(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  nice?: number,
  bin?: string,
  onSpawn?: (pid: number) => void,
): Promise<RunResult & { seconds: number; rssMb: number }> {
  const root = projectRoot();
  const node = [process.execPath, '-r', join(root, 'bench', 'report-rss.cjs'), bin ?? join(root, 'bin', 'switchyard.js'), ...args];
  const [cmd, ...rest] = nice === undefined ? node : ['nice', '-n', String(nice), ...node];
  const [r, seconds] = await timed(() => run(cmd ?? process.execPath, rest, { env, ...(onSpawn ? { onSpawn } : {}) }));
  if (r.code !== 0) throw new Error(`switchyard ${args[0]} failed: ${r.stderr}`);
  const rssMb = Number(/SY_BENCH_MAXRSS_KB=(\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
  return { ...r, seconds, rssMb };
}

/**
 * The staging pace a benchmark runs with: the configuration's defaults (table.stageBatch,
 * table.stageInFlight, table.stageDuty), or SWITCHYARD_STAGE_BATCH / SWITCHYARD_STAGE_IN_FLIGHT /
 * SWITCHYARD_STAGE_DUTY to try others.
 */
export function benchStagePace(): { batch: number; inFlight: number; duty: number } {
  const read = (name: string, fallback: number): number => {
    const raw = process.env[name];
    const n = raw === undefined || raw === '' ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer, not "${raw}"`);
    return n;
  };
  const rawDuty = process.env.SWITCHYARD_STAGE_DUTY;
  const duty = rawDuty === undefined || rawDuty === '' ? STAGE_PACE.duty : Number(rawDuty);
  if (!(duty > 0 && duty <= 1)) throw new RangeError(`SWITCHYARD_STAGE_DUTY must be a share in (0, 1], not "${rawDuty}"`);
  return {
    batch: read('SWITCHYARD_STAGE_BATCH', STAGE_PACE.batch),
    inFlight: read('SWITCHYARD_STAGE_IN_FLIGHT', STAGE_PACE.inFlight),
    duty,
  };
}

/**
 * The `table:` section of a benchmark's configuration file, with benchStagePace(). A
 * `--baseline` build older than a key set here refuses the file (strict configuration).
 */
export function benchTableConfig(): { table?: { stageBatch: number; stageInFlight: number; stageDuty?: number } } {
  const { SWITCHYARD_STAGE_BATCH: batchSet, SWITCHYARD_STAGE_IN_FLIGHT: inFlightSet, SWITCHYARD_STAGE_DUTY: dutySet } = process.env;
  // nothing when unset: the defaults apply, and a --baseline build older than these keys reads the file too
  if (!batchSet && !inFlightSet && !dutySet) return {};
  const { batch, inFlight, duty } = benchStagePace();
  return { table: { stageBatch: batch, stageInFlight: inFlight, ...(dutySet ? { stageDuty: duty } : {}) } };
}
