/**
 * The sharded table layout (issue 9): publishes that race retry instead of failing, a
 * lookup client whose cached layout is gone (versions dropped, snapshots collected)
 * refreshes it, and the scripts only touch keys the client named.
 */
import { Redis } from 'ioredis';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { lookup } from '../../src/store/lookup.js';
import { readSnapshotMeta } from '../../src/store/snapshot.js';
import { readCurrent } from '../../src/store/table.js';
import { csvFixture, testEnv, type TestEnv } from '../helpers/env.js';

let env: TestEnv;
beforeEach(async () => {
  env = await testEnv();
});
afterEach(async () => env.cleanup());

it('two sources imported at once both publish (the second one retries on the moved head)', async () => {
  const results = await Promise.all([
    importCsvde(env.deps, env.source('corp'), csvFixture('contoso.csv')),
    importCsvde(env.deps, env.source('students'), csvFixture('students.csv')),
  ]);
  expect(results.map((r) => r.version).sort()).toEqual([1, 2]);
  const current = await readCurrent(env.redis, env.keys);
  expect(current?.version).toBe(2);
  expect([...(current?.snapshots.keys() ?? [])].sort()).toEqual(['corp', 'students']);
});

it('a lookup client whose cached version was dropped and collected refreshes and answers from the current one', async () => {
  const reader = new Redis(env.redisUrl);
  try {
    await importCsvde(env.deps, env.source('corp'), csvFixture('contoso.csv'));
    expect((await lookup(reader, env.keys, ['ada.lovelace@contoso.edu']))[0]).toMatchObject({ state: 'ok', version: 1 });
    // seven more publishes (nothing younger than keepFor kept): version 1 is gone
    for (let i = 0; i < 7; i++) {
      await importCsvde({ ...env.deps, keepForMs: 0 }, env.source('students'), csvFixture(i % 2 ? 'students.csv' : 'contoso.csv'), {
        allowMassDelete: true,
      });
    }
    expect(await env.redis.exists(env.keys.version(1))).toBe(0);
    const [r] = await lookup(reader, env.keys, ['ada.lovelace@contoso.edu']);
    expect(r).toMatchObject({ state: 'ok', version: 8, object: { dn: 'CN=Lovelace\\, Ada,OU=Staff,DC=contoso,DC=edu' } });
  } finally {
    reader.disconnect();
  }
});

it('a re-import keeps the shard count its size calls for; a first LDAP-style publish without a hint gets 16', async () => {
  const first = await importCsvde(env.deps, env.source('corp'), csvFixture('contoso.csv'));
  expect(first.version).toBe(1);
  expect((await readSnapshotMeta(env.redis, env.keys, '1'))?.shards).toBe(1);
  const { publishSource } = await import('../../src/pipeline/publish-source.js');
  const { readCsvde } = await import('../../src/directory/csvde/reader.js');
  await publishSource(env.deps, { name: 'students', priority: 5, deletionThreshold: 500 }, readCsvde(csvFixture('students.csv')), {
    cause: 'sync',
  });
  expect((await readSnapshotMeta(env.redis, env.keys, '2'))?.shards).toBe(16);
  // its keys exist only under the namespace's hash tag, one per shard that got an entry
  const keys = await env.redis.keys(`${env.keys.prefix}:snap:2:addr:*`);
  expect(keys.length).toBeGreaterThan(1);
  expect(keys.every((k) => k.startsWith(`{${env.namespace}}:`))).toBe(true);
});
