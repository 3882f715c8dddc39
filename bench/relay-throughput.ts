/**
 * B3 (SPEC §8): relay throughput. smtp-source (Postfix's load generator) with 20 sessions
 * sends 10,000 messages of 10 KB, with 1 and then 5 recipients each, through the relay to
 * smtp-sink next hops; messages/s end to end = accepted messages ÷ time until the last
 * recipient is handed to its sink. The same load runs against the Postfix peer of
 * ../shared/peers/postfix (Postfix routing from LDAP maps) in the same run, when it exists.
 *
 *   npm run bench:relay [-- --messages 10000 --peer-flavour ldap|lmdb --skip-peer]
 *   npm run bench:relay -- --trace-compare   (trace off, on, on, off in one run: issue 14's ≤ 10 %)
 * Target: ≥ 1.0× Postfix.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { freePort, startRedis } from '../src/main/embedded-redis.js';
import { projectRoot } from '../src/main/paths.js';
import { createKeys } from '../src/store/keys.js';
import { createQueueStore } from '../src/mailqueue/store.js';
import { run, runSwitchyard } from './lib.js';
import { csvdeOf, DOMAIN, loadPlan, makeDirectory, TARGET_DOMAIN, type Directory, type Expected } from './relay-plan.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const MESSAGES = Number(arg('messages', '10000'));
const SESSIONS = 20;
const SIZE = 10_240;
const DIRECTORY = 10_000;
const RCPTS = [1, 5];
const FLAVOUR = arg('peer-flavour', 'ldap');
const root = projectRoot();
const PEER = resolve(process.env.SWITCHYARD_POSTFIX_PEER ?? join(root, '..', 'shared', 'peers', 'postfix'));
const asRoot = process.getuid?.() === 0;

interface Measured {
  readonly msgsPerS: number;
  readonly seconds: number;
  readonly accepted: number;
}

function smtpSource(port: number, group: number, messages: number, rcpts: number): Promise<void> {
  const args = [
    '-A',
    '-N',
    '-s',
    '1',
    '-m',
    String(messages),
    '-r',
    String(rcpts),
    '-M',
    'loadgen.test',
    '-f',
    'bench@sender.test',
    '-t',
    `.g${String(group).padStart(2, '0')}@${DOMAIN}`,
    '-l',
    String(SIZE),
    `127.0.0.1:${port}`,
  ];
  return run('smtp-source', args, { discardStdout: true }).then((r) => {
    if (r.code !== 0) throw new Error(`smtp-source failed: ${r.stderr.slice(-300)}`);
  });
}

interface SinkProc {
  readonly port: number;
  readonly proc: ChildProcess;
  readonly countFile: string;
  count(): number;
}

async function startSmtpSink(name: string, dir: string): Promise<SinkProc> {
  const port = await freePort();
  const countFile = join(dir, `${name}.count`);
  const out = createWriteStream(countFile);
  const proc = spawn('smtp-sink', [...(asRoot ? ['-u', 'nobody'] : []), '-c', '-h', `sink-${name}`, `127.0.0.1:${port}`, '256'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  proc.stdout?.pipe(out);
  for (let i = 0; i < 100; i++) {
    if ((await run('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`])).code === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    proc,
    countFile,
    count() {
      const all = [...readFileSync(countFile, 'latin1').matchAll(/mesg=(\d+)/g)];
      return Number(all.at(-1)?.[1] ?? 0);
    },
  };
}

async function runOurs(dir: Directory, appendfsync: 'everysec' | 'always', trace = true): Promise<Map<number, Measured>> {
  const work = join(tmpdir(), `switchyard-b3-${process.pid}-${appendfsync}-${trace ? 'trace' : 'notrace'}`);
  mkdirSync(work, { recursive: true });
  const redis = await startRedis({ dir: join(work, 'redis'), persistence: true, appendfsync });
  const sinks = {
    onprem: await startSmtpSink('onprem', work),
    cloud: await startSmtpSink('cloud', work),
    legacy: await startSmtpSink('legacy', work),
  };
  const relayPort = await freePort();
  const namespace = 'b3';
  const csv = join(work, 'directory.csv');
  writeFileSync(csv, csvdeOf(dir));
  const configFile = join(work, 'switchyard.yaml');
  writeFileSync(
    configFile,
    stringify({
      redis: { url: redis.url, namespace },
      domains: [
        { name: DOMAIN, type: 'authoritative' },
        { name: TARGET_DOMAIN, type: 'externalRelay', connector: 'cloud' },
      ],
      connectors: [
        { name: 'onprem', smartHosts: [`127.0.0.1:${sinks.onprem.port}`], tls: 'none' },
        { name: 'cloud', addressSpaces: [TARGET_DOMAIN], smartHosts: [`127.0.0.1:${sinks.cloud.port}`], tls: 'none' },
        { name: 'legacy', smartHosts: [`127.0.0.1:${sinks.legacy.port}`], tls: 'none' },
      ],
      sources: [{ name: 'directory', type: 'csvde', mailboxConnector: 'onprem' }],
      relay: {
        listen: [`127.0.0.1:${relayPort}`],
        hostname: 'relay.bench.test',
        trustedNetworks: ['127.0.0.1/32'],
        ...(process.env.B3_QUEUE_BUDGET !== undefined ? { queueBudget: process.env.B3_QUEUE_BUDGET } : {}),
      },
      trace: { enabled: trace },
    }),
  );
  const env = { ...process.env, REDIS_URL: '' };
  await runSwitchyard(['import', csv, '--source', 'directory', '--inline', '--config', configFile], env);
  const logFile = join(work, 'relay.log');
  const relay = spawn(
    process.execPath,
    [
      ...(process.env.B3_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', join(root, 'bench', 'data', 'profiles')] : []),
      join(root, 'bin', 'switchyard.js'),
      'relay',
      '--config',
      configFile,
    ],
    {
      env: { ...env, LOG_LEVEL: process.env.B3_LOG_LEVEL ?? 'info' },
      stdio: ['ignore', 'pipe', openSync(logFile, 'w')], // a file, not a pipe to this process
    },
  );
  await new Promise<void>((res, rej) => {
    relay.stdout?.on('data', (d: Buffer) => d.toString().includes('relay listening') && res());
    relay.once('exit', (c) => rej(new Error(`relay exited ${c}; see ${logFile}`)));
  });
  const client = new Redis(redis.url);
  const keys = createKeys(namespace);
  const queue = createQueueStore(client, keys);
  const results = new Map<number, Measured>();
  try {
    for (const rcpts of RCPTS) {
      const { workers, expected } = loadPlan(dir, MESSAGES, SESSIONS, rcpts);
      const before = { onprem: sinks.onprem.count(), cloud: sinks.cloud.count() };
      const t0 = performance.now();
      await Promise.all(
        workers.map(async (list) => {
          for (const inv of list) await smtpSource(relayPort, inv.group, inv.messages, rcpts);
        }),
      );
      const injected = (performance.now() - t0) / 1000;
      for (;;) {
        const { ready, active, held } = await queue.depth();
        if (ready + active + held === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const seconds = (performance.now() - t0) / 1000;
      await new Promise((r) => setTimeout(r, 300)); // let the sinks' counters flush
      checkSinks(
        expected,
        { onprem: sinks.onprem.count() - before.onprem, cloud: sinks.cloud.count() - before.cloud },
        sinks.legacy.count(),
      );
      const m = { msgsPerS: expected.accepted / seconds, seconds, accepted: expected.accepted };
      results.set(rcpts, m);
      console.log(
        `  switchyard (${appendfsync}) r=${rcpts}: ${m.msgsPerS.toFixed(1)} msg/s end to end (${expected.accepted} accepted of ${expected.offered} in ${seconds.toFixed(2)} s; injection done at ${injected.toFixed(2)} s; ${expected.rejectedRcpts} RCPTs rejected 550 5.1.1)`,
      );
    }
  } finally {
    client.disconnect();
    relay.kill('SIGTERM');
    await new Promise((r) => relay.once('exit', r));
    for (const s of Object.values(sinks)) s.proc.kill('SIGTERM');
    await redis.stop();
    rmSync(work, { recursive: true, force: true });
  }
  return results;
}

function checkSinks(expected: Expected, got: { onprem: number; cloud: number }, legacy: number): void {
  if (got.onprem !== expected.onprem || got.cloud !== expected.cloud || legacy !== 0) {
    throw new Error(`sinks got onprem ${got.onprem}/${expected.onprem}, cloud ${got.cloud}/${expected.cloud}, next hop ${legacy}/0`);
  }
}

async function runPeer(): Promise<Map<number, Measured> | string> {
  if (process.argv.includes('--skip-peer')) return 'skipped (--skip-peer)';
  if (!existsSync(join(PEER, 'setup.sh'))) return `skipped: no Postfix peer at ${PEER}`;
  if (
    (
      await run('bash', [
        '-c',
        'command -v postfix && test -f /usr/lib/postfix/postfix-lmdb.so && test -f /usr/lib/postfix/postfix-ldap.so',
      ])
    ).code !== 0
  ) {
    return 'skipped: postfix, postfix-ldap or postfix-lmdb not installed (npm run bench:relay installs them as root)';
  }
  const work = `/var/tmp/switchyard-b3-peer-${process.pid}`;
  const results = new Map<number, Measured>();
  try {
    const setup = await run('bash', [join(PEER, 'setup.sh'), work, String(DIRECTORY), FLAVOUR, 'authoritative']);
    if (setup.code !== 0) return `skipped: peer setup failed: ${setup.stderr.slice(-400)}`;
    for (const rcpts of RCPTS) {
      const r = await run('bash', [join(PEER, 'run.sh'), work, String(MESSAGES), String(SESSIONS), String(rcpts), '--size', String(SIZE)]);
      const m = /([\d.]+) msg\/s end-to-end \((\d+) accepted msgs in ([\d.]+) s/.exec(r.stdout);
      if (r.code !== 0 || !m) throw new Error(`peer run failed: ${r.stdout.slice(-400)} ${r.stderr.slice(-400)}`);
      const measured = { msgsPerS: Number(m[1]), accepted: Number(m[2]), seconds: Number(m[3]) };
      results.set(rcpts, measured);
      console.log(
        `  postfix (${FLAVOUR} maps) r=${rcpts}: ${measured.msgsPerS} msg/s end to end (${measured.accepted} accepted in ${measured.seconds} s)`,
      );
    }
  } finally {
    await run('bash', [join(PEER, 'teardown.sh'), work, '--purge']);
  }
  return results;
}

console.log(
  `B3: ${MESSAGES} messages of ${SIZE} bytes, ${SESSIONS} sessions (smtp-source), directory of ${DIRECTORY} recipients, 5 % unknown, half contacts`,
);
const dir = makeDirectory(DIRECTORY);
if (process.argv.includes('--trace-compare')) {
  // issue 14: message trace must cost B3 at most 10 %; off, on, on, off in this one process
  // (ABBA, so a drift of the shared machine's load weighs on both alike), means compared
  const runs: { trace: boolean; r: Map<number, Measured> }[] = [];
  for (const trace of [false, true, true, false]) {
    console.log(`Switchyard relay, everysec, trace.enabled: ${trace}:`);
    runs.push({ trace, r: await runOurs(dir, 'everysec', trace) });
  }
  const mean = (trace: boolean, rcpts: number): number => {
    const v = runs.filter((x) => x.trace === trace).map((x) => x.r.get(rcpts)?.msgsPerS ?? NaN);
    return v.reduce((a, b) => a + b, 0) / v.length;
  };
  for (const rcpts of RCPTS) {
    const off = mean(false, rcpts);
    const on = mean(true, rcpts);
    console.log(
      `B3 r=${rcpts}: trace off ${off.toFixed(1)} msg/s, trace on ${on.toFixed(1)} msg/s (means of 2): trace costs ${((1 - on / off) * 100).toFixed(1)} % (target ≤ 10 %)`,
    );
  }
  process.exit(0);
}
console.log('Postfix peer (reference):');
const peer = await runPeer();
if (typeof peer === 'string') console.log(`  ${peer}`);
console.log('Switchyard relay, Redis AOF with appendfsync everysec (as shipped in deploy/redis.conf), LOG_LEVEL info:');
const ours = await runOurs(dir, 'everysec');
console.log('Switchyard relay, Redis AOF with appendfsync always (an fsync before every 250, as Postfix does):');
const oursAlways = await runOurs(dir, 'always');
for (const [label, results] of [
  ['everysec', ours],
  ['always', oursAlways],
] as const) {
  for (const rcpts of RCPTS) {
    const o = results.get(rcpts);
    const p = typeof peer === 'string' ? undefined : peer.get(rcpts);
    const ratio = o && p ? `${(o.msgsPerS / p.msgsPerS).toFixed(2)}× Postfix (target ≥ 1.0×)` : 'no reference (peer skipped)';
    console.log(`B3 r=${rcpts} (${label}): switchyard ${o?.msgsPerS.toFixed(1)} msg/s; ${ratio}`);
  }
}
