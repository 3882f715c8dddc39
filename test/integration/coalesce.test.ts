/**
 * Write coalescing of the relay's Redis connections (src/store/coalesce.ts, B3): the scripts
 * one turn of the event loop sends on an opted-in connection reach Redis in one read, with
 * every reply in order; a script sent from the end of a turn (a setImmediate callback) is
 * still sent; a connection not opted in is left alone. On a Redis of its own, so that its
 * read count is this test's.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRedis, type EmbeddedRedis } from '../../src/main/embedded-redis.js';
import { coalesceWrites } from '../../src/store/coalesce.js';
import { runScript, type Script } from '../../src/store/scripts.js';

const source = "return 'r' .. ARGV[1]";
const echo: Script = { name: 'echo', keyCount: undefined, source, sha: createHash('sha1').update(source).digest('hex') };

let dir: string;
let server: EmbeddedRedis;
let probe: Redis;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-coalesce-'));
  server = await startRedis({ dir });
  probe = new Redis(server.url);
  await probe.script('LOAD', source);
});

afterAll(async () => {
  probe.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Reads Redis made while `fn` ran, less the probe's own INFO. */
async function readsDuring(fn: () => Promise<unknown>): Promise<number> {
  const reads = async (): Promise<number> => Number(/^total_reads_processed:(\d+)/m.exec(await probe.info('stats'))?.[1]);
  const before = await reads();
  await fn();
  return (await reads()) - before - 1;
}

async function client(opted: boolean): Promise<Redis> {
  const redis = new Redis(server.url);
  await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  if (opted) coalesceWrites(redis);
  return redis;
}

it("sends one turn's scripts in one write, replies in order", async () => {
  const redis = await client(true);
  try {
    let replies: unknown[] = [];
    const reads = await readsDuring(async () => {
      replies = await Promise.all(Array.from({ length: 20 }, (_, i) => runScript(redis, echo, [], [i])));
    });
    expect(replies).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}`));
    expect(reads).toBe(1);
  } finally {
    redis.disconnect();
  }
});

it('sends a script from the end of a turn (setImmediate), and the next turn corks again', async () => {
  const redis = await client(true);
  try {
    const late = await new Promise((resolve, reject) => {
      setImmediate(() => {
        runScript(redis, echo, [], ['late']).then(resolve, reject);
      });
    });
    expect(late).toBe('rlate');
    const again = await Promise.all([runScript(redis, echo, [], ['a']), runScript(redis, echo, [], ['b'])]);
    expect(again).toEqual(['ra', 'rb']);
    expect(redis.stream.writableCorked).toBe(0);
  } finally {
    redis.disconnect();
  }
});

it('leaves a connection not opted in uncorked', async () => {
  const redis = await client(false);
  try {
    const pending = Promise.all([runScript(redis, echo, [], [1]), runScript(redis, echo, [], [2])]);
    expect(redis.stream.writableCorked).toBe(0);
    expect(await pending).toEqual(['r1', 'r2']);
  } finally {
    redis.disconnect();
  }
});
