/**
 * B6 (SPEC §8): relay memory. 50 concurrent messages of 30 MB (then of 1 MB) into one
 * `switchyard relay` process whose next hop reads slowly (8 MB/s per connection); Redis
 * with AOF as shipped and maxmemory 4gb. Prints the relay's peak RSS (sampled from /proc
 * every 50 ms), Redis's used_memory peak, the wall time, and checks that every message
 * arrived once with its body intact (sha256 at the sink).
 *
 *   npm run bench:memory [-- --messages 50 --mb 30]
 * Targets: relay RSS ≤ 300 MB; Redis within maxmemory; nothing lost. The reference is the
 * data itself: the bytes in flight at the peak (messages × size) against the relay's RSS.
 */
import { createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { stringify } from 'yaml';
import { freePort, startRedis } from '../src/main/embedded-redis.js';
import { projectRoot } from '../src/main/paths.js';
import { bigMessage, type BigMessage } from '../testkit/big-message.js';
import { startSink } from '../testkit/smtp-sink.js';
import { runSwitchyard } from './lib.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const MESSAGES = Number(arg('messages', '50'));
const SIZES_MB = [Number(arg('mb', '30')), 1];
const SINK_BYTES_PER_S = 8 * 1024 * 1024;
const MAXMEMORY = 4 * 1024 ** 3;
const MB = 1024 * 1024;

function send(port: number, m: BigMessage): Promise<string> {
  const conn = new SMTPConnection({ host: '127.0.0.1', port, name: 'bench.test', ignoreTLS: true, allowInternalNetworkInterfaces: true });
  return new Promise((resolve) => {
    conn.on('error', (err: Error) => resolve(`error: ${err.message}`));
    conn.connect(() => {
      conn.send({ from: 'sender@example.org', to: ['ada.lovelace@contoso.edu'], size: m.size }, m.stream, (err, info) => {
        conn.quit();
        resolve(err ? `error: ${err.message}` : info.response);
      });
    });
  });
}

const rssOf = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

async function runOnce(mb: number): Promise<void> {
  const work = join(tmpdir(), `switchyard-b6-${process.pid}-${mb}`);
  mkdirSync(work, { recursive: true });
  const redis = await startRedis({ dir: join(work, 'redis'), persistence: true, extraConfig: [`maxmemory ${MAXMEMORY}`] });
  const sink = await startSink({ keep: 'hash', bytesPerSecond: SINK_BYTES_PER_S });
  const relayPort = await freePort();
  const csv = join(work, 'directory.csv');
  writeFileSync(
    csv,
    'objectClass,DN,displayName,proxyAddresses\r\nuser,"CN=Ada Lovelace,DC=contoso,DC=edu",Ada Lovelace,SMTP:ada.lovelace@contoso.edu\r\n',
  );
  const configFile = join(work, 'switchyard.yaml');
  writeFileSync(
    configFile,
    stringify({
      redis: { url: redis.url, namespace: 'b6' },
      domains: [{ name: 'contoso.edu', type: 'authoritative' }],
      connectors: [{ name: 'onprem', smartHosts: [`127.0.0.1:${sink.port}`], tls: 'none' }],
      sources: [{ name: 'corp', type: 'csvde', mailboxConnector: 'onprem' }],
      relay: {
        listen: [`127.0.0.1:${relayPort}`],
        hostname: 'relay.bench.test',
        trustedNetworks: ['127.0.0.1/32'],
        maxMessageSize: 40 * MB,
        queueBudget: '1GB',
        maxConnectionsPerIp: MESSAGES + 10,
      },
    }),
  );
  const env = { ...process.env, REDIS_URL: '' };
  await runSwitchyard(['import', csv, '--source', 'corp', '--inline', '--config', configFile], env);
  const nodeArgs = (process.env.B6_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const relay = spawn(process.execPath, [...nodeArgs, join(projectRoot(), 'bin', 'switchyard.js'), 'relay', '--config', configFile], {
    env: { ...env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (process.env.B6_RELAY_STDOUT) relay.stdout?.pipe(createWriteStream(process.env.B6_RELAY_STDOUT));
  await new Promise<void>((res, rej) => {
    relay.stdout?.on('data', (d: Buffer) => d.toString().includes('relay listening') && res());
    relay.once('exit', (c) => rej(new Error(`relay exited ${c}`)));
  });
  const pid = relay.pid ?? 0;
  const idleRss = rssOf(pid);
  let peak = idleRss;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(pid));
    } catch {
      // exited: reported below
    }
  }, 50);
  const client = new Redis(redis.url);
  try {
    const t0 = performance.now();
    const messages = Array.from({ length: MESSAGES }, (_, i) => bigMessage(i, mb * MB));
    const replies = await Promise.all(messages.map((m) => send(relayPort, m)));
    const accepted = replies.filter((r) => r.startsWith('250')).length;
    const injected = (performance.now() - t0) / 1000;
    const deadline = Date.now() + 30 * 60_000;
    while (sink.messages.length < accepted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const seconds = (performance.now() - t0) / 1000;
    const bodies = await Promise.all(messages.map((m) => m.body));
    const got = new Map(sink.messages.map((m) => [Number(/^X-Big: (\d+)/m.exec(m.text)?.[1]), m]));
    const intact = bodies.filter((b, i) => got.get(i)?.bodySha256 === b).length;
    const info = await client.info('memory');
    const redisPeak = Number(/used_memory_peak:(\d+)/.exec(info)?.[1]);
    const ok =
      accepted === MESSAGES && intact === MESSAGES && sink.messages.length === MESSAGES && peak <= 300 * MB && redisPeak < MAXMEMORY;
    console.log(
      `B6 ${MESSAGES} × ${mb} MB: relay RSS idle ${(idleRss / MB).toFixed(0)} MB, peak ${(peak / MB).toFixed(0)} MB (target ≤ 300; ` +
        `${((MESSAGES * mb * MB) / peak).toFixed(1)}× the relay's peak RSS was in flight); Redis used_memory peak ${(redisPeak / MB).toFixed(0)} MB ` +
        `(maxmemory ${MAXMEMORY / MB} MB); accepted ${accepted}/${MESSAGES} in ${injected.toFixed(1)} s, delivered ${sink.messages.length} ` +
        `(${intact} intact) after ${seconds.toFixed(1)} s — ${ok ? 'met' : 'MISSED'}`,
    );
    if (accepted !== MESSAGES)
      console.log(
        `  refused: ${replies
          .filter((r) => !r.startsWith('250'))
          .slice(0, 3)
          .join(' | ')}`,
      );
  } finally {
    clearInterval(sampler);
    client.disconnect();
    relay.kill('SIGTERM');
    await new Promise((r) => relay.once('exit', r));
    await sink.close();
    await redis.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

console.log(`B6: ${MESSAGES} concurrent messages into one relay, next hop reading ${SINK_BYTES_PER_S / MB} MB/s per connection`);
for (const mb of SIZES_MB) await runOnce(mb);
