/**
 * `switchyard demo` (the README's main-job command, `npm start`): everything on the
 * embedded default. A private redis-server with persistence (unless REDIS_URL is set), the
 * demo organisation's two Csvde exports imported, `switchyard up` (worker, relay, admin
 * HTTP) on free loopback ports, demo on-premises, cloud, next-hop and internet mail systems,
 * a few sample messages sent through the relay, and where each one landed. Then it stays up
 * with the status page until Ctrl-C (or exits with --exit).
 */
import { publishDeps } from '../pipeline/deps.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { parse } from 'yaml';
import { parseConfig } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import { startDemoSink, type DemoSink } from '../main/demo-sinks.js';
import { freePort, startRedis, type EmbeddedRedis } from '../main/embedded-redis.js';
import { projectRoot } from '../main/paths.js';
import { startUp } from '../main/up.js';
import { importCsvde } from '../pipeline/import-csvde.js';
import { createKeys } from '../store/keys.js';
import { connected, createRedis } from '../store/redis.js';
import { formatPublish } from './format.js';

/** Sample messages: sender, recipients, what the demo shows with them. */
const SAMPLES: [string, string[], string][] = [
  ['partner@example.org', ['Ada.Lovelace@contoso.edu'], 'a faculty mailbox on premises'],
  ['partner@example.org', ['ada.ivanov@contoso.edu'], 'a migrated user: rewritten to her cloud targetAddress'],
  ['partner@example.org', ['s100007@contoso.edu'], 'a student mailbox in the cloud'],
  ['partner@example.org', ['nobody@contoso.edu'], 'unknown in the shared domain: to the next system'],
  ['partner@example.org', ['nobody@chem.lab.contoso.edu'], 'unknown in an authoritative domain: refused'],
  ['ada.lovelace@contoso.edu', ['friend@example.org'], 'outbound from a trusted client'],
];

async function send(port: number, from: string, to: string[], subject: string): Promise<string> {
  const conn = new SMTPConnection({
    host: '127.0.0.1',
    port,
    name: 'demo-client.contoso.edu',
    ignoreTLS: true,
    allowInternalNetworkInterfaces: true,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      conn.on('error', reject);
      conn.connect(() => resolve());
    });
    return await new Promise<string>((resolve) => {
      const body = `From: <${from}>\r\nTo: ${to.map((t) => `<${t}>`).join(', ')}\r\nSubject: ${subject}\r\n\r\nSent by switchyard demo.\r\n`;
      conn.send({ from, to }, body, (err, info) => resolve(err ? ((err as { response?: string }).response ?? err.message) : info.response));
    });
  } finally {
    conn.close();
  }
}

async function landed(sinks: DemoSink[], subject: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const hits = sinks.flatMap((s) =>
      s.received.filter((m) => m.subject === subject).map((m) => `${s.name} system, RCPT TO ${m.to.map((t) => `<${t}>`).join(' ')}`),
    );
    if (hits.length > 0) return hits.join('; ');
    await new Promise((r) => setTimeout(r, 50));
  }
  return 'not delivered yet';
}

export async function demoCommand(flags: { exit?: boolean } = {}): Promise<number> {
  const root = projectRoot();
  const out = (line = ''): void => void process.stdout.write(`${line}\n`);
  let embedded: EmbeddedRedis | undefined;
  let dir: string | undefined;
  const env = { ...process.env };
  if (!env.REDIS_URL) {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-demo-'));
    embedded = await startRedis({ dir, persistence: true });
    env.REDIS_URL = embedded.url;
    out(`private redis-server on ${embedded.url}, append-only file on (set REDIS_URL to use your own)`);
  }
  const sinks = await Promise.all(['on-premises', 'cloud', 'next-hop', 'internet'].map(startDemoSink));
  const [onprem, cloud, legacy, internet] = sinks as [DemoSink, DemoSink, DemoSink, DemoSink];
  const file = join(root, 'fixtures', 'demo', 'switchyard.yaml');
  const raw = parse(readFileSync(file, 'utf8')) as {
    connectors: { name: string; smartHosts: string[] }[];
    relay: Record<string, unknown>;
    sources: { path?: string }[];
  };
  const ports: Record<string, number> = { onprem: onprem.port, cloud: cloud.port, legacy: legacy.port, internet: internet.port };
  for (const c of raw.connectors) c.smartHosts = [`127.0.0.1:${ports[c.name] ?? 0}`];
  raw.relay = { ...raw.relay, listen: [`127.0.0.1:${await freePort()}`], retryFirst: '2s' };
  for (const s of raw.sources) if (s.path) s.path = join(root, s.path);
  const config = parseConfig(raw, file, env);
  const log = createLogger('demo', env.LOG_LEVEL ?? 'warn');
  const redis = createRedis(config.redis, 'worker', env);
  let up: Awaited<ReturnType<typeof startUp>> | undefined;
  try {
    await connected(redis);
    const keys = createKeys(config.redis.namespace);
    out();
    for (const source of config.sources) {
      if (source.type !== 'csvde' || !source.path) continue;
      out(formatPublish(await importCsvde(publishDeps(redis, keys, config), source, source.path, {})));
      out();
    }
    up = await startUp({ config, log, env, adminListen: `127.0.0.1:${await freePort()}`, pollMs: 200 });
    const port = up.relay.addresses[0]?.port ?? 0;
    out(
      `relay listening on 127.0.0.1:${port}; demo mail systems: on-premises :${onprem.port}, cloud :${cloud.port}, next hop :${legacy.port}, internet :${internet.port}`,
    );
    out();
    out('sample messages through the relay:');
    for (const [i, [from, to, what]] of SAMPLES.entries()) {
      const subject = `demo message ${i + 1}`;
      const reply = await send(port, from, to, subject);
      const where = reply.startsWith('250') ? await landed(sinks, subject) : 'refused at RCPT, nothing queued';
      out(`  ${from} → ${to.join(', ')} (${what})`);
      out(`      relay said: ${reply.split('\n')[0]}`);
      out(`      landed at:  ${where}`);
    }
    out();
    out(`ready: status page ${up.admin.url} · metrics ${up.admin.url}metrics · job dashboard ${up.admin.url}queues`);
    if (flags.exit) return 0;
    out('Ctrl-C to stop.');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    return 0;
  } finally {
    await up?.close();
    await redis.quit().catch(() => redis.disconnect());
    await Promise.all(sinks.map((s) => s.close()));
    await embedded?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
