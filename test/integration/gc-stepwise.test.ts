/**
 * Freeing old snapshots in small steps (issue 15, B4), on a real Redis: a snapshot no kept
 * version references is UNLINKed a few keys at a time until none of its keys is left; a
 * referenced snapshot keeps every key; a free interrupted half-way is finished by the next GC.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import type { PublishDeps } from '../../src/pipeline/types.js';
import { collectGarbage, freeSnapshot } from '../../src/store/gc.js';
import { lookup } from '../../src/store/lookup.js';
import type { RedisClient } from '../../src/store/redis.js';
import { snapshotKeys } from '../../src/store/sharded.js';
import { readHistory } from '../../src/store/table.js';
import { csvFixture, testEnv, type TestEnv } from '../helpers/env.js';

let env: TestEnv;
afterEach(async () => env.cleanup());

const SHARDS = 4;
const dir = mkdtempSync(join(tmpdir(), 'switchyard-gc-'));
/** contoso.csv with some secondary addresses left out: a changed full snapshot of corp. */
function corpWithout(...addresses: string[]): string {
  let text = readFileSync(csvFixture('contoso.csv'), 'utf8');
  for (const a of addresses) text = text.replace(`;smtp:${a}`, '');
  const file = join(dir, `contoso-${addresses.length}.csv`);
  writeFileSync(file, text);
  return file;
}

/** Counts UNLINK calls and the keys each named; fails every UNLINK after `failAfter` of them. */
function unlinkSpy(redis: RedisClient, failAfter = Infinity): { client: RedisClient; calls: number[] } {
  const calls: number[] = [];
  const client = new Proxy(redis, {
    get(target, prop, receiver) {
      if (prop !== 'unlink') return Reflect.get(target, prop, receiver) as unknown;
      return async (...names: string[]) => {
        if (calls.length >= failAfter) throw new Error('connection lost (test)');
        calls.push(names.length);
        return target.unlink(...names);
      };
    },
  });
  return { client, calls };
}

/** Four publishes of corp/students, retention 2 and keepFor 0: corp's first snapshot is dropped by the last. */
async function publishFour(deps: PublishDeps, lastDeps = deps): Promise<{ first: string; kept: string[] }> {
  await importCsvde(deps, env.source('corp'), csvFixture('contoso.csv')); // v1
  const first = (await readHistory(env.redis, env.keys))[0]?.snapshots.get('corp') ?? '';
  await importCsvde(deps, env.source('students'), csvFixture('students.csv')); // v2: corp still the first
  await importCsvde(deps, env.source('corp'), corpWithout('ada_lovelace@contoso.edu')); // v3
  await importCsvde(lastDeps, env.source('corp'), corpWithout('ada_lovelace@contoso.edu', 'brian_lovelace@contoso.edu')); // v4
  const kept = [...new Set((await readHistory(env.redis, env.keys)).flatMap((v) => [...v.snapshots.values()]))];
  return { first, kept };
}

const existing = async (names: string[]): Promise<number> => (names.length === 0 ? 0 : env.redis.exists(...names));

describe('stepwise freeing of snapshots', () => {
  it('frees every key of an unreferenced snapshot, a few per UNLINK, and never a key of a referenced one', async () => {
    env = await testEnv((raw) => (raw.table = { versionsKept: 2, keepFor: '0ms' }));
    const deps = { ...env.deps, keepForMs: 0, minShards: SHARDS };
    const { first, kept } = await publishFour(deps);
    expect(first).not.toBe('');
    expect(kept).not.toContain(first);
    // dropped by v4's publish and collected then: no key and no meta left
    expect(await existing(snapshotKeys(env.keys, { id: first, shards: SHARDS }))).toBe(0);
    expect(await env.redis.hexists(env.keys.snapshots, first)).toBe(0);
    // the kept ones keep every object and address shard, and lookups answer from them
    for (const id of kept) {
      expect(await env.redis.hexists(env.keys.snapshots, id)).toBe(1);
      const shards = snapshotKeys(env.keys, { id, shards: SHARDS }).filter((k) => /:(obj|addr):\d+$/.test(k));
      expect(await existing(shards)).toBe(shards.length);
    }
    const [found] = await lookup(env.redis, env.keys, ['ada.lovelace@contoso.edu']);
    expect(found).toMatchObject({ state: 'ok', object: { addresses: expect.arrayContaining(['ada.lovelace@contoso.edu']) } });

    // freeing a snapshot directly: as many UNLINKs as steps, none naming more keys than a step
    const { client, calls } = unlinkSpy(env.redis);
    const victim = kept.find((id) => !id.includes('+')) ?? '';
    const names = snapshotKeys(env.keys, { id: victim, shards: SHARDS });
    await freeSnapshot(client, env.keys, victim, undefined, { keysPerStep: 3, pauseMs: 1 });
    expect(Math.max(...calls)).toBeLessThanOrEqual(3);
    expect(calls.reduce((a, b) => a + b, 0)).toBe(names.length + 3); // its shards and batches, and the 3 legacy hashes
    expect(await existing(names)).toBe(0);
  });

  it('a free interrupted half-way leaves the snapshot listed, and the next GC frees the rest', async () => {
    env = await testEnv((raw) => (raw.table = { versionsKept: 2, keepFor: '0ms' }));
    // v4's import loses its connection after 5 UNLINKs (its staging batches, then 4 of the
    // dropped snapshot's keys, one per step): the publish stands, the free is unfinished
    const { client } = unlinkSpy(env.redis, 5);
    const deps = { ...env.deps, keepForMs: 0, minShards: SHARDS };
    const { first, kept } = await publishFour(deps, { ...deps, redis: client });
    const names = snapshotKeys(env.keys, { id: first, shards: SHARDS });
    expect(await env.redis.hexists(env.keys.snapshots, first)).toBe(1);
    const left = await existing(names);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(names.filter((k) => !k.endsWith(':batches') && !k.includes(':conf:')).length);

    expect(await collectGarbage(env.redis, env.keys, undefined, { keysPerStep: 2, pauseMs: 0 })).toEqual([first]);
    expect(await existing(names)).toBe(0);
    expect(await env.redis.hexists(env.keys.snapshots, first)).toBe(0);
    for (const id of kept) expect(await env.redis.hexists(env.keys.snapshots, id)).toBe(1);
  });
});
