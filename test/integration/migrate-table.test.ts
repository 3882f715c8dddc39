/**
 * Issue 9: the table left by the previous release (one unsharded object, address and
 * conflict hash per snapshot, written here by that release's own stage and apply-delta
 * scripts, kept in legacy-lua/) is converted to the sharded layout without changing
 * what lookups answer (compared with that release's lookup script), and a second
 * migration is a no-op. A conversion batch whose transaction is cut half answered is sent
 * again (src/store/resent-pipeline.ts), through test/helpers/cutting-proxy.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { readCsvde } from '../../src/directory/csvde/reader.js';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { buildObject, objectKey, rankKey, type RecipientObject } from '../../src/routing/object.js';
import { encodeObject } from '../../src/store/codec.js';
import { lookup } from '../../src/store/lookup.js';
import { migrateTableLayout } from '../../src/store/migrate-table.js';
import { createRedis } from '../../src/store/redis.js';
import { listConflicts } from '../../src/store/status.js';
import { rollback } from '../../src/store/table.js';
import { startCuttingProxy } from '../helpers/cutting-proxy.js';
import { csvFixture, testEnv, type TestEnv } from '../helpers/env.js';

const legacy = (name: string): string => readFileSync(join(import.meta.dirname, 'legacy-lua', `${name}.lua`), 'utf8');

let env: TestEnv;
beforeEach(async () => {
  env = await testEnv();
});
afterEach(async () => env.cleanup());

async function objectsOf(file: string, source: string): Promise<RecipientObject[]> {
  const out: RecipientObject[] = [];
  for await (const batch of readCsvde(file)) {
    for (const item of batch) {
      if (!('entry' in item)) continue;
      const built = buildObject(source, item.entry);
      if (built.ok === true) out.push(built.object);
    }
  }
  return out;
}

/** The previous release's object arguments: bare key, JSON, rank, count, lower-cased addresses. */
function legacyArgs(o: RecipientObject, priority: number): string[] {
  const rank = rankKey(o, priority);
  const lowered = o.addresses.map((a) => a.toLowerCase());
  return [objectKey(o), encodeObject(o, rank, lowered), rank, String(lowered.length), ...lowered];
}

/** A full snapshot as the previous release's stage-8.lua wrote it, with its meta. */
async function legacyStage(id: string, source: string, priority: number, objects: RecipientObject[]): Promise<void> {
  const k = env.keys;
  const h = (kind: 'obj' | 'addr' | 'conf', snap: string): string => k.legacySnapshotHash(snap, kind);
  for (let i = 0; i < objects.length; i += 50) {
    const args = ['' + (i + 1), '0', ...objects.slice(i, i + 50).flatMap((o) => legacyArgs(o, priority))];
    await env.redis.eval(
      legacy('stage-8'),
      8,
      h('obj', id),
      h('addr', id),
      h('conf', id),
      h('obj', 'none'),
      h('addr', 'none'),
      h('obj', 'none'),
      h('addr', 'none'),
      k.snapshotBatches(id),
      ...args,
    );
  }
  await env.redis.unlink(k.snapshotBatches(id));
  const meta = { source, state: 'complete', kind: 'full', createdAt: new Date().toISOString(), objects: objects.length };
  await env.redis.hset(k.snapshots, id, JSON.stringify(meta));
}

/** A version as the previous release's publish-3.lua wrote it. */
async function legacyVersion(n: number, snapshots: Record<string, string>): Promise<void> {
  const k = env.keys;
  const fields = Object.entries(snapshots).flatMap(([s, ref]) => [`s:${s}`, ref]);
  await env.redis.hset(k.version(n), ...fields, 'meta', JSON.stringify({ publishedAt: new Date().toISOString(), cause: 'import' }));
  await env.redis.multi().set(k.current, n).set(k.versionSeq, n).lpush(k.history, n).exec();
}

/** What the previous release's lookup-1.lua answers. */
async function legacyLookup(addresses: string[]): Promise<(string | null)[]> {
  return (await env.redis.eval(legacy('lookup-1'), 1, env.keys.current, env.keys.prefix, ...addresses)) as (string | null)[];
}

it('converts every kept snapshot, answers as before, and does nothing the second time', async () => {
  const corp = await objectsOf(csvFixture('contoso.csv'), 'corp');
  const students = await objectsOf(csvFixture('students.csv'), 'students');
  await legacyStage('1', 'corp', 10, corp);
  await legacyVersion(1, { corp: '1' });
  await legacyStage('2', 'students', 5, students);
  await legacyVersion(2, { corp: '1', students: '2' });
  // an overlay (delta) on corp: one object deleted, one changed, one added that takes over an address
  const k = env.keys;
  const h = (kind: 'obj' | 'addr' | 'conf', snap: string): string => k.legacySnapshotHash(snap, kind);
  const [first, second] = corp;
  if (!first || !second) throw new Error('fixture');
  const changed = { ...second, addresses: [...second.addresses, 'Second.Alias@contoso.edu'] };
  const added: RecipientObject = {
    ...first,
    id: 'CN=Newcomer,DC=contoso,DC=edu',
    dn: 'CN=Newcomer,DC=contoso,DC=edu',
    addresses: ['newcomer@contoso.edu'],
  };
  const deltaArgs = ['1', 'D', objectKey(first), 'U', ...legacyArgs(changed, 10), 'U', ...legacyArgs(added, 10)];
  await env.redis.eval(
    legacy('apply-delta-7'),
    7,
    h('obj', '1'),
    h('addr', '1'),
    h('conf', '1'),
    h('obj', '3'),
    h('addr', '3'),
    h('conf', '3'),
    k.snapshotBatches('3'),
    ...deltaArgs,
  );
  await env.redis.hset(
    k.snapshots,
    '3',
    JSON.stringify({ source: 'corp', state: 'complete', kind: 'overlay', base: '1', createdAt: new Date().toISOString() }),
  );
  await legacyVersion(3, { corp: '1+3', students: '2' });
  await env.redis.set(k.snapshotSeq, 3);

  const addresses = [
    ...new Set([...corp, ...students, changed, added].flatMap((o) => o.addresses.map((a) => a.toLowerCase()))),
    'nobody@contoso.edu',
    'second.alias@contoso.edu',
  ];
  const before = await legacyLookup(addresses);
  expect(before[0]).toBe('3');
  expect((await lookup(env.redis, k, addresses.slice(0, 1)))[0]).toMatchObject({ state: 'unavailable' });

  const result = await migrateTableLayout(env.redis, k);
  expect(result.migrated).toBe(true);
  expect(result.snapshots.map((s) => s.id)).toEqual(['1', '2', '3']);

  const after = await lookup(env.redis, k, addresses);
  expect(after.every((r) => r.state === 'ok' && r.version === 3)).toBe(true);
  const known = after.filter((r) => r.state === 'ok' && r.object !== undefined).length;
  expect(known).toBe(before.slice(1).filter((j) => j !== null).length);
  addresses.forEach((_, i) => {
    const r = after[i];
    const old = before[i + 1];
    expect(r?.state === 'ok' ? r.object : 'x').toEqual(
      old ? expect.objectContaining({ id: (JSON.parse(old) as { i: string }).i }) : undefined,
    );
  });
  expect((await lookup(env.redis, k, ['newcomer@contoso.edu']))[0]).toMatchObject({ object: { dn: 'CN=Newcomer,DC=contoso,DC=edu' } });
  const conflicts = await listConflicts(env.redis, k);
  expect(conflicts.length).toBeGreaterThan(0);
  for (const c of conflicts) expect(c.winner.id).not.toMatch(/^\d+:/);

  const again = await migrateTableLayout(env.redis, k);
  expect(again).toEqual({ migrated: false, snapshots: [], entries: 0 });
  // the previous release's hashes stay for its relays until dropped (or collected with the snapshot)
  expect(await env.redis.exists(h('addr', '1'), h('addr', '2'), h('addr', '3'))).toBe(3);
  expect(await migrateTableLayout(env.redis, k, { dropLegacy: true })).toEqual({ migrated: false, snapshots: [], entries: 0 });
  expect(await env.redis.exists(h('obj', '1'), h('addr', '2'), h('conf', '1'), h('obj', '3'))).toBe(0);
  expect(await lookup(env.redis, k, addresses)).toEqual(after);

  // the migrated table is a normal one: rollback, and a re-import diffed against it
  await rollback(env.redis, k, { to: 1, required: [], keep: 5 });
  expect((await lookup(env.redis, k, [first.addresses[0]?.toLowerCase() ?? '']))[0]).toMatchObject({
    state: 'ok',
    version: 4,
    object: { id: first.id },
  });
  const reimport = await importCsvde(env.deps, env.source('corp'), csvFixture('contoso.csv'));
  expect(reimport.counts).toMatchObject({ added: 0, changed: 0, removed: 0, addressesAdded: 0, addressesRemoved: 0 });
  expect(reimport.unchanged).toBe(true);
});

it("sends a conversion batch again when its transaction's EXEC is not answered, and converts the same", async () => {
  const corp = await objectsOf(csvFixture('contoso.csv'), 'corp');
  await legacyStage('1', 'corp', 10, corp);
  await legacyVersion(1, { corp: '1' });
  await env.redis.set(env.keys.snapshotSeq, 1);
  const addresses = [...new Set(corp.flatMap((o) => o.addresses.map((a) => a.toLowerCase())))];
  const before = await legacyLookup(addresses);
  const proxy = await startCuttingProxy(env.redisUrl);
  const client = createRedis({ ...env.config.redis, url: proxy.url }, 'worker');
  client.on('error', () => undefined); // the cut below, on purpose
  try {
    // the first transaction (the first batch of new object shards): MULTI's +OK passes, the
    // rest (QUEUED…, EXEC's array) is cut, and ioredis rejects it with AbortError
    proxy.cutAfterSending('\r\nmulti\r\n', 1);
    const result = await migrateTableLayout(client, env.keys);
    expect(proxy.cuts).toBe(1);
    expect(result).toMatchObject({ migrated: true, snapshots: [{ id: '1' }] });
  } finally {
    client.disconnect();
    await proxy.close();
  }
  const after = await lookup(env.redis, env.keys, addresses);
  addresses.forEach((_, i) => {
    const old = before[i + 1];
    const r = after[i];
    expect(r?.state === 'ok' ? r.object : 'x').toEqual(
      old ? expect.objectContaining({ id: (JSON.parse(old) as { i: string }).i }) : undefined,
    );
  });
  expect(await migrateTableLayout(env.redis, env.keys)).toEqual({ migrated: false, snapshots: [], entries: 0 });
});
