/**
 * An import while its Redis is killed (SIGKILL) and restarted. A first import, and a re-import
 * while no relay answers, write most of their objects without stage.lua
 * (src/store/fresh-stage.ts; a re-import has stage.lua classify them against the published
 * state without writing), so this is that path under a real fault, with the worker's Redis
 * profile (it waits out the restart):
 * - restarted from an AOF that holds every answered write (`appendfsync always`): the writes
 *   Redis had no answer for are sent again (by ioredis, or by FreshStage for the rest of a
 *   half-answered pipeline, the classifying scripts again by EVAL once the restart emptied the
 *   script cache), and the whole file is published, or, re-imported, found unchanged;
 * - restarted without the writes (no persistence; also what `appendfsync everysec`, as
 *   shipped, can do to the last second of answered writes): the import is refused
 *   (SY_STAGING_LOST) and publishes nothing.
 * Either way the next run publishes the whole file, and no run publishes a table with objects
 * or addresses missing (the count runs just before the publish script: a restart that loses
 * writes in the milliseconds between them is not covered).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeGeneratedCsvde } from '../../bench/generate-csvde.js';
import { startRedis, type EmbeddedRedis } from '../../src/main/embedded-redis.js';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import type { PublishResult } from '../../src/pipeline/types.js';
import { createRedis, type RedisClient } from '../../src/store/redis.js';
import { lookup, readCurrent } from '../../src/store/table.js';
import { onlySources, testEnv, type TestEnv } from '../helpers/env.js';

const ROWS = 30_000; // 6 MB: parsed on its own thread (parse-thread.ts THREAD_FROM), a second of import
let dir: string;
let redis: EmbeddedRedis;
let env: TestEnv;
let client: RedisClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sy-import-kill-'));
  await writeGeneratedCsvde(join(dir, 'export.csv'), ROWS);
  redis = await startRedis({ dir: join(dir, 'redis'), persistence: true, appendfsync: 'always' });
  env = await testEnv(onlySources('corp'), redis.url);
  client = createRedis(env.config.redis, 'worker');
  client.on('error', () => undefined); // the kill below, on purpose
});
afterAll(async () => {
  client?.disconnect();
  await env?.cleanup();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** How many of the file's addresses the published table answers with an object (a sample of one in 50). */
async function resolvable(): Promise<{ asked: number; found: number }> {
  const asked: string[] = [];
  for (let i = 0; i < ROWS; i += 50) asked.push(`u${i}@contoso.edu`, `u${i}@alias.contoso.edu`, `u${i}@mail.contoso.edu`);
  const found = (await lookup(client, env.keys, asked)).filter((r) => r.state === 'ok' && r.object !== undefined).length;
  return { asked: asked.length, found };
}

const everyAddress = { asked: 3 * Math.ceil(ROWS / 50), found: 3 * Math.ceil(ROWS / 50) };

/**
 * Runs an import of the file, killing Redis once a third of it is written and restarting it
 * (`persistence`: from its AOF, or empty): a first import, or a re-import of the published file.
 */
async function importKilled(persistence: boolean, reimport = false): Promise<{ result?: PublishResult; error?: unknown }> {
  if (!reimport) await client.flushall(); // a first import: no published state
  let killed: Promise<void> | undefined;
  const outcome = await importCsvde({ ...env.deps, redis: client }, env.source('corp'), join(dir, 'export.csv'), {
    onProgress: ({ written }) => {
      if (written >= ROWS / 3 && killed === undefined) {
        killed = (async () => {
          await redis.stop('SIGKILL');
          redis = await startRedis({ dir: join(dir, 'redis'), persistence, appendfsync: 'always', port: redis.port });
        })();
        killed.catch(() => undefined); // a failed restart is thrown where it is awaited, below
      }
    },
  }).then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
  expect(killed).toBeDefined();
  await killed;
  return outcome;
}

/** The next run publishes the whole file. */
async function importAgain(): Promise<void> {
  const again = await importCsvde({ ...env.deps, redis: client }, env.source('corp'), join(dir, 'export.csv'));
  expect(again.counts).toMatchObject({ objects: ROWS, addresses: 3 * ROWS, invalid: 0 });
  expect(await resolvable()).toEqual(everyAddress);
}

it('Redis killed mid-import and restarted from an AOF of every answered write: the unanswered ones are sent again, the whole file is published', async () => {
  const { result, error } = await importKilled(true);
  expect(error).toBeUndefined();
  expect(result?.counts).toMatchObject({ objects: ROWS, addresses: 3 * ROWS });
  expect(await resolvable()).toEqual(everyAddress);
  await importAgain();
});

it('Redis killed and restarted empty mid-import (no persistence): the import is refused, nothing is published, the next run publishes the whole file', async () => {
  const { error } = await importKilled(false);
  expect(error).toMatchObject({ code: 'SY_STAGING_LOST' });
  expect(await readCurrent(client, env.keys)).toBeUndefined();
  await importAgain();
});

it('Redis killed mid-re-import of the published file and restarted from its AOF: every object is classified unchanged, nothing is published anew', async () => {
  // the test before left Redis running without persistence: from here on, every answered write in its AOF
  await client.flushall();
  await redis.stop();
  redis = await startRedis({ dir: join(dir, 'redis'), persistence: true, appendfsync: 'always', port: redis.port });
  await importAgain();
  const before = await readCurrent(client, env.keys);
  const { result, error } = await importKilled(true, true);
  expect(error).toBeUndefined();
  expect(result?.counts).toMatchObject({ objects: ROWS, addresses: 3 * ROWS, added: 0, changed: 0, unchanged: ROWS, removed: 0 });
  expect(result?.counts).toMatchObject({ addressesAdded: 0, addressesRemoved: 0, invalid: 0 });
  expect((await readCurrent(client, env.keys))?.version).toBe(before?.version);
  expect(await resolvable()).toEqual(everyAddress);
});
