/**
 * B7 (SPEC §8, issue 14): message trace at volume. N trace events (default 1,000,000) are
 * generated through the real writer (src/trace/writer.ts: batched pipelines per queue
 * shard) into a private Redis, as messages of 3 recipients (3 RCPT decisions, one in ten
 * refused, received, 2 attempts, a deferral and its retry for one in five), recipients
 * drawn from 100,000 addresses and senders from 10,000. Then `trace --recipient` and
 * `trace --id` searches (src/trace/search.ts, what the CLI runs) are timed, and Redis
 * memory per event is reported (INFO used_memory, before and after).
 *
 *   npm run bench:trace [-- --events 1000000 --queries 200]
 * Target: trace --recipient and --id ≤ 200 ms.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedis } from '../src/main/embedded-redis.js';
import { createLogger } from '../src/log/logger.js';
import type { TraceEvent } from '../src/log/observer.js';
import { newMessageId } from '../src/mailqueue/ids.js';
import { createKeys } from '../src/store/keys.js';
import { searchTrace } from '../src/trace/search.js';
import { createTraceWriter } from '../src/trace/writer.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1] ?? fallback) : fallback;
};
const EVENTS = arg('events', 1_000_000);
const QUERIES = arg('queries', 200);
const SHARDS = 16;
const RECIPIENTS = 100_000;
const SENDERS = 10_000;
const settings = { shards: SHARDS, retentionMs: 7 * 86_400_000, maxEventsPerMessage: 500, maxIndexEntries: 10_000 };

const rcptAddr = (n: number): string => `user${n}@contoso.edu`;
const pick = (n: number): number => Math.floor(Math.random() * n);

/** One message's events as the hooks emit them; returns how many it emitted. */
function message(trace: (e: TraceEvent) => void, seq: number, at: number, ids: string[]): number {
  const session = `s${seq}`;
  const id = newMessageId(seq % SHARDS, at);
  ids.push(id);
  const rcpts = [rcptAddr(pick(RECIPIENTS)), rcptAddr(pick(RECIPIENTS)), rcptAddr(pick(RECIPIENTS))];
  const refused = seq % 10 === 0 ? 1 : 0;
  let n = 0;
  rcpts.forEach((r, i) => {
    const route = i >= refused;
    trace({
      kind: 'rcpt',
      at,
      session,
      rcpt: r,
      action: route ? 'route' : 'reject',
      reason: route ? 'mailbox' : 'unknown-recipient',
      reply: route ? '250 2.1.5 OK' : '550 5.1.1 Recipient address rejected: user unknown',
      ...(route ? { hop: i === 2 ? 'cloud' : 'onprem' } : {}),
    });
    n++;
  });
  const routed = rcpts.slice(refused).map((r, i) => ({ orig: r, rcpt: r, hop: i === 1 ? 'cloud' : 'onprem' }));
  trace({
    kind: 'received',
    at,
    session,
    id,
    messageId: `${id}@sender.test`,
    from: `sender${pick(SENDERS)}@example.org`,
    client: '192.0.2.10',
    helo: 'mail.example.org',
    tls: true,
    size: 10_240,
    rcpts: routed,
  });
  trace({ kind: 'session-end', at, session, client: '192.0.2.10', helo: 'mail.example.org' });
  n++;
  for (const hop of ['onprem', 'cloud']) {
    const mine = routed.filter((r) => r.hop === hop);
    if (mine.length === 0) continue;
    const defer = hop === 'cloud' && seq % 5 === 0;
    trace({
      kind: 'attempt',
      at: at + 5,
      id,
      uid: `${id}.${hop === 'onprem' ? 0 : 1}`,
      hop,
      attempt: 1,
      results: mine.map((r) => ({
        rcpt: r.rcpt,
        outcome: defer ? 'deferred' : 'delivered',
        reply: defer ? '451 4.3.0 later' : '250 2.0.0 Ok: queued as 4XyZ',
        host: `${hop}.contoso.edu:25`,
      })),
    });
    n++;
    if (defer) {
      trace({ kind: 'retry', at: at + 6, id, uid: `${id}.1`, hop, rcpts: mine.map((r) => r.rcpt), due: at + 60_000 });
      n++;
    }
  }
  return n;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function timeQueries(label: string, run: (i: number) => Promise<number>): Promise<void> {
  const ms: number[] = [];
  let found = 0;
  for (let i = 0; i < QUERIES; i++) {
    const t0 = performance.now();
    found += await run(i);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const verdict = percentile(ms, 99) <= 200 ? 'within 200 ms' : 'OVER 200 ms';
  console.log(
    `  ${label}: ${QUERIES} queries, ${(found / QUERIES).toFixed(1)} timelines each; p50 ${percentile(ms, 50).toFixed(2)} ms, p99 ${percentile(ms, 99).toFixed(2)} ms, max ${(ms.at(-1) ?? NaN).toFixed(2)} ms — ${verdict}`,
  );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-b7-'));
  const server = await startRedis({ dir });
  const redis = new Redis(server.url, { maxRetriesPerRequest: null });
  try {
    const keys = createKeys('b7');
    const before = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
    const writer = createTraceWriter({ redis, keys, settings, logger: createLogger('bench', 'warn') });
    const ids: string[] = [];
    const t0 = performance.now();
    let events = 0;
    let seq = 0;
    const start = Date.now() - 3_600_000;
    while (events < EVENTS) {
      events += message((e) => writer.trace(e), seq, start + seq, ids);
      seq++;
      // let the writer's pipelines drain now and then, as a relay's event loop would
      if (seq % 500 === 0) await writer.flush();
    }
    await writer.close();
    const seconds = (performance.now() - t0) / 1000;
    const after = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
    console.log(`B7 message trace: ${events} events of ${seq} messages through the trace writer, ${SHARDS} queue shards`);
    console.log(`  written in ${seconds.toFixed(1)} s (${Math.round(events / seconds)} events/s)`);
    console.log(
      `  Redis memory: ${((after - before) / 1048576).toFixed(1)} MB, ${Math.round((after - before) / events)} bytes per event (INFO used_memory)`,
    );
    await timeQueries(
      'trace --recipient',
      async () => (await searchTrace(redis, keys, settings, { recipient: rcptAddr(pick(RECIPIENTS)) })).length,
    );
    await timeQueries('trace --id', async () => (await searchTrace(redis, keys, settings, { id: ids[pick(ids.length)] ?? '' })).length);
    await timeQueries(
      'trace --sender',
      async () => (await searchTrace(redis, keys, settings, { sender: `sender${pick(SENDERS)}@example.org` })).length,
    );
  } finally {
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
