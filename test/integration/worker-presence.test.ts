/**
 * `import` (and its queued path) decides without loading BullMQ whether a worker may be
 * listening (src/cli/worker-presence.ts), from the connection names BullMQ gives its
 * clients. This pins that naming against a real BullMQ worker on the real test Redis: if a
 * BullMQ upgrade renames its connections, this fails instead of imports silently running
 * inline beside a worker.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { IMPORT_QUEUE } from '../../src/jobqueue/queues.js';
import { mayHaveWorkers } from '../../src/cli/worker-presence.js';
import { testEnv, type TestEnv } from '../helpers/env.js';

let env: TestEnv | undefined;
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await env?.cleanup();
  env = undefined;
});

describe('mayHaveWorkers', () => {
  it('says no for a namespace without BullMQ connections, yes while a BullMQ worker consumes its import queue', async () => {
    env = await testEnv();
    expect(await mayHaveWorkers(env.redis, env.keys)).toBe(false);

    const connection = new Redis(env.redisUrl, { maxRetriesPerRequest: null });
    closers.push(() => Promise.resolve(connection.disconnect()));
    const worker = new Worker(IMPORT_QUEUE, () => Promise.resolve(undefined), { connection, prefix: env.keys.bullPrefix });
    closers.push(() => worker.close());
    await worker.waitUntilReady();
    const queue = new Queue(IMPORT_QUEUE, { connection, prefix: env.keys.bullPrefix });
    closers.push(() => queue.close());
    // BullMQ's own answer and the pre-check agree
    expect(await queue.getWorkersCount()).toBeGreaterThan(0);
    expect(await mayHaveWorkers(env.redis, env.keys)).toBe(true);

    await worker.close();
    for (let i = 0; i < 40 && (await queue.getWorkersCount()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await queue.getWorkersCount()).toBe(0);
  });

  it('another namespace’s worker does not count', async () => {
    env = await testEnv();
    const other = await testEnv();
    closers.push(() => other.cleanup());
    const connection = new Redis(other.redisUrl, { maxRetriesPerRequest: null });
    closers.push(() => Promise.resolve(connection.disconnect()));
    const worker = new Worker(IMPORT_QUEUE, () => Promise.resolve(undefined), { connection, prefix: other.keys.bullPrefix });
    closers.push(() => worker.close());
    await worker.waitUntilReady();
    expect(await mayHaveWorkers(other.redis, other.keys)).toBe(true);
    expect(await mayHaveWorkers(env.redis, env.keys)).toBe(false);
  });
});
