/**
 * When the delivery runner reads the shared queue (SPEC §5, §8 B3): a message the relay
 * accepted and claimed at once is delivered without a claim of the queue shards, so a
 * finished delivery does not start one; units queued unclaimed because every delivery slot
 * was taken are claimed as soon as a slot frees, not at the next poll.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { startRedis, type EmbeddedRedis } from '../../src/main/embedded-redis.js';
import { startRelay, type RunningRelay } from '../../src/main/relay.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { message, sendMail } from '../helpers/smtp.js';

const POLL_MS = 60_000; // no poll during the test: what is delivered was claimed for a reason
let t: RelayEnv | undefined;
let relay: RunningRelay | undefined;
let redis: EmbeddedRedis | undefined;
let dir: string | undefined;
afterEach(async () => {
  await relay?.close(2000);
  relay = undefined;
  await t?.cleanup();
  t = undefined;
  await redis?.stop();
  redis = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A relay with its own Redis (so that its command counts are the relay's alone). */
async function start(relaySettings: Record<string, unknown>): Promise<{ port: number; stats: Redis }> {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-claims-'));
  redis = await startRedis({ dir });
  t = await relayEnv({ start: false, redisUrl: redis.url, relay: relaySettings });
  relay = await startRelay({ config: t.env.config, log: createLogger('claims', process.env.TEST_LOG_LEVEL ?? 'silent'), pollMs: POLL_MS });
  return { port: relay.addresses[0]?.port ?? 0, stats: new Redis(redis.url) };
}

async function evalshaCalls(stats: Redis): Promise<number> {
  const info = String(await stats.info('commandstats'));
  return Number(/^cmdstat_evalsha:calls=(\d+)/m.exec(info)?.[1] ?? 0);
}

const send = (port: number, subject: string): Promise<unknown> =>
  sendMail({ port, from: 'sender@example.org', to: ['someone@example.org'], body: message(subject) });

describe('delivery runner claims', () => {
  it('messages claimed at acceptance are delivered without claiming the 16 queue shards after each', async () => {
    const { port, stats } = await start({});
    await send(port, 'warm-up');
    await t!.sinks.internet.waitFor(1);
    await new Promise((r) => setTimeout(r, 200)); // the warm-up's delivery settled
    const before = await evalshaCalls(stats);
    for (let i = 0; i < 20; i++) await send(port, `m${i}`);
    await t!.sinks.internet.waitFor(21);
    await new Promise((r) => setTimeout(r, 200));
    const perMessage = ((await evalshaCalls(stats)) - before) / 20;
    stats.disconnect();
    // acceptance and settling take a few scripts; one claim alone is 16 (one per queue shard)
    expect(perMessage).toBeLessThan(8);
  });

  it('units queued unclaimed while every slot was taken are claimed when a slot frees, not at the next poll', async () => {
    const { port, stats } = await start({ deliveryConcurrency: 1 });
    stats.disconnect();
    const started = Date.now();
    await Promise.all(Array.from({ length: 6 }, (_, i) => send(port, `parallel${i}`)));
    await t!.sinks.internet.waitFor(6, 20_000);
    expect(Date.now() - started).toBeLessThan(POLL_MS / 4);
  });
});
