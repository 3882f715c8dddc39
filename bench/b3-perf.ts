/**
 * B3_PERF=S: `perf record -e cpu-clock` on the relay for S seconds of the 1-recipient load,
 * the relay started with --perf-basic-prof-only-functions so JIT frames have names. Unlike
 * the V8 profile (B3_PROFILE), this samples only while the relay is on a CPU: on a
 * saturated machine the V8 profile charges the time a socket write waits to be scheduled
 * again (the peer it woke ran first) to the write.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './lib.js';

export const PERF_NODE_FLAGS = ['--perf-basic-prof-only-functions', '--interpreted-frames-native-stack'];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Records `seconds` of the relay after `delayMs`, returns the report's top lines. */
export async function perfRelay(pid: number, seconds: number, delayMs: number, work: string): Promise<string> {
  await sleep(delayMs);
  const data = join(work, 'perf.data');
  const rec = await run('perf', [
    'record',
    '-e',
    'cpu-clock',
    '-F',
    '997',
    '-g',
    '-p',
    String(pid),
    '-o',
    data,
    '--',
    'sleep',
    String(seconds),
  ]);
  if (rec.code !== 0) return `perf record failed (exit ${rec.code}): ${rec.stderr.slice(-300)}`;
  const report = async (sort: string, rows: number, children = false, only?: RegExp): Promise<string> => {
    const out = join(work, `perf-${sort}-${children}.txt`);
    const mode = children ? '--children' : '--no-children';
    const r = await run('bash', ['-c', `perf report -i ${data} ${mode} --sort ${sort} --stdio -g none > ${out} 2>/dev/null`]);
    if (r.code !== 0) return `perf report --sort ${sort} failed: ${r.stderr.slice(-200)}`;
    return readFileSync(out, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#') && (only === undefined || only.test(l)))
      .slice(0, rows)
      .map((l) => l.slice(0, 220))
      .join('\n');
  };
  const keep = process.env.B3_PERF_KEEP;
  if (keep) {
    // with the JIT map beside it (perf report looks for /tmp/perf-PID.map): copy it back there to read the kept data
    const cp = await run('cp', [data, keep]);
    const cpMap = await run('cp', [`/tmp/perf-${pid}.map`, `${keep}.perf-${pid}.map`]);
    if (cp.code !== 0 || cpMap.code !== 0) console.log(`  B3_PERF_KEEP: not kept (${cp.stderr}${cpMap.stderr})`);
  }
  const byDso = await report('dso', 12);
  const byThread = await report('comm', 8);
  const bySym = await report('sym', 45);
  const inclusive = await report('sym', 80, true, /JS:|\[k\] (entry_SYSCALL|__x64_sys|do_syscall)/);
  rmSync(`/tmp/perf-${pid}.map`, { force: true });
  return `  perf (cpu-clock, on-CPU samples only) of the relay for ${seconds} s during r=1, by thread:\n${byThread}\n  by object:\n${byDso}\n  by symbol:\n${bySym}\n  inclusive (children, first column) of JS functions and syscall entry:\n${inclusive}`;
}
