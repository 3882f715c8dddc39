/**
 * B3 against Switchyard: a private Redis (AOF), the 10,000-entry directory imported, one
 * `switchyard relay` process with three smtp-sink next hops, the load of b3-load.ts; msg/s
 * end to end = accepted messages ÷ time until the queue is empty and every sink got its share.
 * B3_PROFILE=1 runs the relay with --cpu-prof (bench/data/profiles/); B3_STRACE=S attaches
 * `strace -c -f` to the relay for S seconds during the 1-recipient load. B3_MONITOR=1 itemises
 * the Redis commands per message by command and key (b3-monitor.ts; it costs Redis CPU).
 * B3_PERF=S samples the relay on-CPU with `perf` for S seconds of the 1-recipient load (b3-perf.ts;
 * B3_PERF_KEEP=FILE keeps the last run's perf.data, its JIT map beside it).
 * B3_NODE_FLAGS='--trace-opt --trace-deopt' adds node flags to the relay; B3_STDOUT=FILE appends
 * the relay's stdout (where V8's traces go) to FILE.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { freePort, startRedis } from '../src/main/embedded-redis.js';
import { projectRoot } from '../src/main/paths.js';
import { createKeys } from '../src/store/keys.js';
import { createQueueStore } from '../src/mailqueue/store.js';
import { run, runSwitchyard } from './lib.js';
import { startMonitor } from './b3-monitor.js';
import { PERF_NODE_FLAGS, perfRelay } from './b3-perf.js';
import { cpuSeconds, kernelCounters, treeCpuSeconds, drive, RCPTS, SESSIONS, sleep, startSmtpSink, type Results } from './b3-load.js';
import { csvdeOf, DOMAIN, loadPlan, TARGET_DOMAIN, type Directory, type Expected } from './relay-plan.js';

export interface RelayRun {
  readonly appendfsync: 'everysec' | 'always';
  readonly trace: boolean;
  /** relay.processes (default 1, as the configuration's default). */
  readonly processes?: number | 'auto';
}

const root = projectRoot();
export const PROFILE_DIR = join(root, 'bench', 'data', 'profiles');

function relayConfig(
  redisUrl: string,
  relayPort: number,
  sinks: Record<string, number>,
  trace: boolean,
  processes: number | 'auto',
): string {
  return stringify({
    redis: { url: redisUrl, namespace: 'b3' },
    domains: [
      { name: DOMAIN, type: 'authoritative' },
      { name: TARGET_DOMAIN, type: 'externalRelay', connector: 'cloud' },
    ],
    connectors: [
      { name: 'onprem', smartHosts: [`127.0.0.1:${sinks.onprem}`], tls: 'none' },
      { name: 'cloud', addressSpaces: [TARGET_DOMAIN], smartHosts: [`127.0.0.1:${sinks.cloud}`], tls: 'none' },
      { name: 'legacy', smartHosts: [`127.0.0.1:${sinks.legacy}`], tls: 'none' },
    ],
    sources: [{ name: 'directory', type: 'csvde', mailboxConnector: 'onprem' }],
    relay: {
      listen: [`127.0.0.1:${relayPort}`],
      hostname: 'relay.bench.test',
      processes,
      trustedNetworks: ['127.0.0.1/32'],
      ...(process.env.B3_QUEUE_BUDGET !== undefined ? { queueBudget: process.env.B3_QUEUE_BUDGET } : {}),
    },
    trace: { enabled: trace },
  });
}

/** `strace -c -f` on the relay for `seconds`, started `delayMs` into the load; the summary's top lines. */
async function straceRelay(pid: number, seconds: number, delayMs: number, work: string): Promise<string> {
  await sleep(delayMs);
  const out = join(work, 'strace.txt');
  const r = await run('timeout', ['-s', 'INT', String(seconds), 'strace', '-c', '-f', '-o', out, '-p', String(pid)]);
  try {
    return readFileSync(out, 'utf8').split('\n').slice(0, 22).join('\n');
  } catch {
    return `strace gave nothing (exit ${r.code}): ${r.stderr.slice(-300)}`;
  }
}

export async function runOurs(dir: Directory, messages: number, opts: RelayRun): Promise<Results> {
  const { appendfsync, trace } = opts;
  const procs = opts.processes ?? 1;
  const work = join(tmpdir(), `switchyard-b3-${process.pid}-${appendfsync}-${trace ? 'trace' : 'notrace'}-${procs}`);
  mkdirSync(work, { recursive: true });
  const redis = await startRedis({ dir: join(work, 'redis'), persistence: true, appendfsync });
  const sinks = {
    onprem: await startSmtpSink('onprem', work),
    cloud: await startSmtpSink('cloud', work),
    legacy: await startSmtpSink('legacy', work),
  };
  const relayPort = await freePort();
  const csv = join(work, 'directory.csv');
  writeFileSync(csv, csvdeOf(dir));
  const configFile = join(work, 'switchyard.yaml');
  const ports = { onprem: sinks.onprem.port, cloud: sinks.cloud.port, legacy: sinks.legacy.port };
  writeFileSync(configFile, relayConfig(redis.url, relayPort, ports, trace, opts.processes ?? 1));
  const env = { ...process.env, REDIS_URL: '' };
  const stopAll = async (): Promise<void> => {
    for (const s of Object.values(sinks)) s.proc.kill('SIGTERM');
    await redis.stop();
    rmSync(work, { recursive: true, force: true });
  };
  const logFile = join(work, 'relay.log');
  const profile = [
    ...(process.env.B3_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : []),
    ...(process.env.B3_PERF ? PERF_NODE_FLAGS : []),
    ...(process.env.B3_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean),
  ];
  let relay: ReturnType<typeof spawn>;
  try {
    await runSwitchyard(['import', csv, '--source', 'directory', '--inline', '--config', configFile], env);
    relay = spawn(process.execPath, [...profile, join(root, 'bin', 'switchyard.js'), 'relay', '--config', configFile], {
      env: { ...env, LOG_LEVEL: process.env.B3_LOG_LEVEL ?? 'info' },
      stdio: ['ignore', 'pipe', openSync(logFile, 'w')], // a file, not a pipe to this process
    });
    if (process.env.B3_STDOUT) {
      // appended: every relay run of the bench (each relay.processes setting) adds to the file
      const copy = createWriteStream(process.env.B3_STDOUT, { flags: 'a' });
      copy.on('error', (err) => console.log(`  B3_STDOUT not written: ${err.message}`));
      relay.stdout?.pipe(copy);
    }
    await new Promise<void>((res, rej) => {
      relay.stdout?.on('data', (d: Buffer) => d.toString().includes('relay listening') && res());
      relay.once('exit', (c) => rej(new Error(`relay exited ${c}; see ${readFileSync(logFile, 'utf8').slice(-2000)}`)));
    });
  } catch (err) {
    await stopAll(); // nothing of this run outlives it: Redis and the sinks are stopped
    throw err;
  }
  const client = new Redis(redis.url);
  const queue = createQueueStore(client, createKeys('b3'));
  const results: Results = new Map();
  const label = `switchyard (${appendfsync}, trace ${trace ? 'on' : 'off'}, relay.processes ${procs})`;
  try {
    for (const rcpts of RCPTS) {
      const { workers, expected } = loadPlan(dir, messages, SESSIONS, rcpts);
      const before = { onprem: sinks.onprem.count(), cloud: sinks.cloud.count() };
      await client.config('RESETSTAT');
      const cpu0 = { relay: treeCpuSeconds(relay.pid), redis: cpuSeconds(redis.process.pid), primary: cpuSeconds(relay.pid) };
      const k0 = kernelCounters(relay.pid);
      const lines0 = logLines(logFile);
      const straceSeconds = Number(process.env.B3_STRACE ?? 0);
      const strace = rcpts === 1 && straceSeconds > 0 && relay.pid ? straceRelay(relay.pid, straceSeconds, 1000, work) : undefined;
      const perfSeconds = Number(process.env.B3_PERF ?? 0);
      const perf = rcpts === 1 && perfSeconds > 0 && relay.pid ? perfRelay(relay.pid, perfSeconds, 1000, work) : undefined;
      const monitor = process.env.B3_MONITOR ? await startMonitor(redis.url) : undefined;
      const t0 = performance.now();
      await drive(relayPort, workers, rcpts);
      const injected = (performance.now() - t0) / 1000;
      for (;;) {
        const { ready, active, held } = await queue.depth();
        if (ready + active + held === 0) break;
        await sleep(20);
      }
      const seconds = (performance.now() - t0) / 1000;
      const cpu = {
        relay: treeCpuSeconds(relay.pid) - cpu0.relay,
        redis: cpuSeconds(redis.process.pid) - cpu0.redis,
        primary: cpuSeconds(relay.pid) - cpu0.primary,
      };
      const k1 = kernelCounters(relay.pid);
      await sleep(300); // let the sinks' counters flush
      const got = { onprem: sinks.onprem.count() - before.onprem, cloud: sinks.cloud.count() - before.cloud };
      checkSinks(expected, got, sinks.legacy.count());
      const cpuMsPerMsg = (1000 * (cpu.relay + cpu.redis)) / expected.accepted;
      // one relay process is one Node.js thread: near 100 % of a core, it is the bottleneck
      const primary = procs === 1 ? '' : ` of which the primary ${((1000 * cpu.primary) / expected.accepted).toFixed(2)}`;
      const split = `relay ${((1000 * cpu.relay) / expected.accepted).toFixed(2)} ms/msg${primary} (${((100 * cpu.relay) / seconds).toFixed(0)} % of one core), Redis ${((1000 * cpu.redis) / expected.accepted).toFixed(2)} ms/msg (${((100 * cpu.redis) / seconds).toFixed(0)} %)`;
      const m = { msgsPerS: expected.accepted / seconds, seconds, accepted: expected.accepted, cpuMsPerMsg };
      results.set(rcpts, m);
      console.log(
        `  ${label} r=${rcpts}: ${m.msgsPerS.toFixed(1)} msg/s end to end (${expected.accepted} accepted of ${expected.offered} in ${seconds.toFixed(2)} s; injection done at ${injected.toFixed(2)} s; ${expected.rejectedRcpts} RCPTs rejected 550 5.1.1); CPU: ${split}`,
      );
      console.log(
        `    Redis commands per accepted message: ${commandsPerMessage(String(await client.info('commandstats')), expected.accepted)}; ${ioPerMessage(String(await client.info('stats')), expected.accepted)}`,
      );
      const per = (n: number): string => (n / expected.accepted).toFixed(2);
      console.log(
        `    relay process (the primary, with 1 process the relay): system CPU ${per(1000 * (k1.sys - k0.sys))} ms/msg; context switches ${per(k1.vcs - k0.vcs)} voluntary, ${per(k1.ivcs - k0.ivcs)} involuntary per message; log lines ${per(logLines(logFile) - lines0)} per message`,
      );
      if (monitor) console.log(monitor.stop(expected.accepted));
      if (perf) console.log(await perf);
      if (strace) console.log(`  strace -c -f of the relay for ${straceSeconds} s during r=1:\n${await strace}`);
    }
  } finally {
    client.disconnect();
    relay.kill('SIGTERM');
    await new Promise((r) => relay.once('exit', r));
    await stopAll();
  }
  return results;
}

/** Reads and writes Redis made per message (every client's; a read takes what a client sent since the last). */
function ioPerMessage(info: string, messages: number): string {
  const stat = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN) / messages;
  return `Redis socket reads ${stat('total_reads_processed').toFixed(2)}, writes ${stat('total_writes_processed').toFixed(2)} per message`;
}

/** Lines in the relay's log so far. */
function logLines(file: string): number {
  const text = readFileSync(file);
  let n = 0;
  for (let i = text.indexOf(10); i >= 0; i = text.indexOf(10, i + 1)) n++;
  return n;
}

/** INFO commandstats as "evalsha 5.2 (41 µs), …": calls and Redis time per message, most calls first. */
function commandsPerMessage(info: string, messages: number): string {
  const rows = [...info.matchAll(/^cmdstat_(\S+):calls=(\d+),usec=(\d+)/gm)]
    .map((m) => ({ name: m[1] ?? '', calls: Number(m[2]) / messages, us: Number(m[3]) / messages }))
    .filter((r) => !r.name.startsWith('config') && !r.name.startsWith('info'))
    .sort((a, b) => b.calls - a.calls);
  const total = rows.reduce((n, r) => n + r.calls, 0);
  return `${total.toFixed(1)} in all: ${rows
    .slice(0, 8)
    .map((r) => `${r.name} ${r.calls.toFixed(2)} (${r.us.toFixed(0)} µs)`)
    .join(', ')}`;
}

function checkSinks(expected: Expected, got: { onprem: number; cloud: number }, legacy: number): void {
  if (got.onprem !== expected.onprem || got.cloud !== expected.cloud || legacy !== 0) {
    throw new Error(`sinks got onprem ${got.onprem}/${expected.onprem}, cloud ${got.cloud}/${expected.cloud}, next hop ${legacy}/0`);
  }
}
