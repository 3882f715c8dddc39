/**
 * A staging (src/pipeline/stage-all.ts with src/store/fresh-stage.ts: plain `HSET`s for objects
 * whose fields are all new, stage.lua for the others) builds the snapshot stage.lua alone
 * builds and counts what its replies count — on a real Redis, over generated entries with
 * address conflicts, shared targets (and targets that are addresses), repeated identities
 * (also spelled with lone surrogates), non-ASCII addresses in two cases, at 1 and 4 shards: as
 * a first staging, and against a published state (a base, and a base with an overlay of
 * deltas), where stage.lua classifies the plain objects without writing. It keeps its order
 * rule (no script while a plain write is unanswered).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { ReadItem } from '../../src/directory/items.js';
import type { Command } from 'ioredis';
import { publishDelta } from '../../src/pipeline/publish-delta.js';
import { publishSource } from '../../src/pipeline/publish-source.js';
import { stageAll, type StagedObjects } from '../../src/pipeline/stage-all.js';
import { SAMPLE_SIZE, Tally } from '../../src/pipeline/tally.js';
import type { PublishDeps } from '../../src/pipeline/types.js';
import { buildObject, type RecipientObject } from '../../src/routing/object.js';
import type { DirectoryEntry } from '../../src/routing/entry.js';
import { shardKeys } from '../../src/store/keys.js';
import type { RedisClient } from '../../src/store/redis.js';
import type { SnapshotLayout, StateLayout } from '../../src/store/sharded.js';
import { createSnapshot, readStateLayout, stageArgs, stageBatch, type BatchResult } from '../../src/store/snapshot.js';
import { readCurrent } from '../../src/store/table.js';
import { testEnv, type TestEnv } from '../helpers/env.js';
import { random } from '../helpers/random.js';

const PRIORITY = 10;
const BATCH = 7;

let env: TestEnv;
beforeEach(async () => {
  env = await testEnv();
});
afterEach(async () => env.cleanup());

/**
 * `n` entries over a pool of `pool` addresses; every 29th repeats an earlier identity, and
 * every 31st its predecessor's spelled with the other lone UTF-16 surrogate (both U+FFFD in
 * the object). Some pool addresses are spelled two ways that are one field: non-ASCII in two
 * cases (Jörg3 / JÖRG3). Some targets are the object's own address or any pool address.
 */
function entries(rnd: () => number, n: number, pool: number): DirectoryEntry[] {
  const address = (): string => {
    const i = Math.floor(rnd() * pool);
    if (i % 10 === 3) return `Jörg${i}@Contoso.edu`;
    if (i % 10 === 4) return `JÖRG${i - 1}@CONTOSO.EDU`;
    return `User${i}@contoso.edu`;
  };
  return Array.from({ length: n }, (_, i) => {
    // every 29th repeats an identity; every 31st is its predecessor's with the other lone surrogate
    const lone = i % 31 === 30 ? '\uDC00' : i % 31 === 29 ? '\uD800' : '';
    const n = i % 29 === 28 ? Math.floor(rnd() * i) : i % 31 === 30 ? i - 1 : i;
    const id = `CN=o${n}${lone},OU=${n % 3},DC=contoso,DC=edu`;
    const proxies = [...new Set(Array.from({ length: 1 + Math.floor(rnd() * 3) }, address))];
    const t = rnd();
    const target = t < 0.3 ? `t${Math.floor(rnd() * (n / 8))}@live.contoso.edu` : t < 0.35 ? proxies[0] : t < 0.4 ? address() : undefined;
    return {
      id,
      dn: id,
      objectClass: target && rnd() < 0.5 ? ['contact'] : ['user'],
      proxyAddresses: proxies.map((a, k) => `${k === 0 ? 'SMTP' : 'smtp'}:${a}`),
      ...(target ? { targetAddress: `SMTP:${target}` } : {}),
      created: String(20200101 + Math.floor(rnd() * 50)),
      displayName: `o${i}`,
      origin: `gen.csv:${i + 2}`,
    };
  });
}

/** The entries as a reader yields them: batches of 50 (a sync iterable serves as an async one). */
function chunks(list: DirectoryEntry[]): Iterable<ReadItem[]> {
  const out: ReadItem[][] = [];
  for (let from = 0; from < list.length; from += 50) out.push(list.slice(from, from + 50).map((entry) => ({ entry })));
  return out;
}

/** Every shard of every hash of a snapshot, as sorted entries. */
async function contents(snap: SnapshotLayout): Promise<string[][][]> {
  const out: string[][][] = [];
  for (const hash of ['obj', 'addr', 'conf', 'tgt'] as const) {
    for (const key of shardKeys(env.keys, snap.id, hash, snap.shards)) out.push(Object.entries(await env.redis.hgetall(key)).sort());
  }
  return out;
}

async function* toAsync<T>(items: Iterable<T>): AsyncIterable<T> {
  for (const item of items) yield await Promise.resolve(item);
}

/** The same entries staged by stage.lua alone, in batches, as every staging did before. */
async function scriptOnly(
  list: DirectoryEntry[],
  shards: number,
  old?: StateLayout,
): Promise<{ snap: SnapshotLayout; replies: BatchResult[]; objects: RecipientObject[] }> {
  const snap = await createSnapshot(env.redis, env.keys, 'corp', shards);
  const objects = list.map((e) => buildObject('corp', e)).flatMap((b) => (b.ok === true ? [b.object] : []));
  const replies: BatchResult[] = [];
  for (let from = 0, b = 1; from < objects.length; from += BATCH, b++) {
    replies.push(await stageBatch(env.redis, env.keys, snap, old, stageArgs(b, objects.slice(from, from + BATCH), PRIORITY)));
  }
  return { snap, replies, objects };
}

async function firstStaging(
  list: DirectoryEntry[],
  shards: number,
  redis: RedisClient = env.redis,
  staged?: StagedObjects,
  old?: StateLayout,
): Promise<{ snap: SnapshotLayout; tally: Tally; scripted: number }> {
  const deps: PublishDeps = { redis, keys: env.keys, versionsKept: 5, stage: { batch: BATCH, inFlight: 2, duty: 1 } };
  const snap = await createSnapshot(env.redis, env.keys, 'corp', shards);
  const tally = new Tally();
  const { batches: scripted } = await stageAll(
    deps,
    { name: 'corp', priority: PRIORITY },
    snap,
    old,
    toAsync(chunks(list)),
    tally,
    { cause: 'import' },
    undefined,
    staged,
  );
  return { snap, tally, scripted };
}

it.each([
  [1, 4],
  [2, 4],
  [3, 1],
  [4, 1],
])('stages what stage.lua alone stages, and counts the same (seed %i, %i shards)', async (seed, shards) => {
  const list = entries(random(seed), 400, 3000);
  const ours = await firstStaging(list, shards);
  const ref = await scriptOnly(list, shards);
  expect(await contents(ours.snap)).toEqual(await contents(ref.snap));

  const statuses = ref.replies.map((r) => r.status).join('');
  const duplicates = ref.objects.filter((_, i) => statuses[i] === 'D').map((o) => o.dn);
  expect(duplicates.length).toBeGreaterThan(0);
  expect(ours.tally.added).toBe([...statuses].filter((s) => s === 'A').length);
  expect(ours.tally.invalid).toBe(duplicates.length);
  expect(ours.tally.errors.map((e) => e.reason)).toEqual(
    duplicates.map((dn) => `duplicate object identity "${dn}" (an earlier entry has it)`),
  );
  expect(ours.tally.addressesAdded).toBe(ref.replies.reduce((n, r) => n + r.addressesNew, 0));
  expect(ours.tally.written).toBe(ref.objects.length);
  const conflicted = new Set(ref.replies.flatMap((r) => r.conflicted));
  expect(conflicted.size).toBeGreaterThan(0);
  expect(ours.tally.samples.conflicts.length).toBe(Math.min(SAMPLE_SIZE, conflicted.size));
  for (const a of ours.tally.samples.conflicts) expect(conflicted).toContain(a);
  // both ways were taken: some objects through stage.lua, most without it
  expect(ours.scripted).toBeGreaterThan(0);
  expect(ours.scripted).toBeLessThan(ref.replies.length / 2);
});

it('writes a directory without shared fields with no script at all', async () => {
  const list = entries(random(9), 300, 10).map((e, i) => ({
    ...e,
    id: `CN=u${i}`,
    dn: `CN=u${i}`,
    proxyAddresses: [`SMTP:u${i}@contoso.edu`, `smtp:U${i}@Alias.contoso.edu`, `smtp:ü${i}@contoso.edu`],
    targetAddress: i % 2 === 0 ? `SMTP:u${i}@live.contoso.edu` : undefined,
    objectClass: ['user'],
  }));
  const ours = await firstStaging(list, 4);
  const ref = await scriptOnly(list, 4);
  expect(ours.scripted).toBe(0);
  expect(ours.tally.added).toBe(300);
  expect(await contents(ours.snap)).toEqual(await contents(ref.snap));
});

it('sends a script only once every plain write before it is answered, and lists a dry run in the order read', async () => {
  // the client as stageAll sees it, watching what is unanswered when a script goes out
  let unanswered = 0;
  let scripts = 0;
  let early = 0;
  const redis = env.redis;
  const watched = new Proxy(redis, {
    get(target, prop, receiver) {
      if (prop === 'pipeline')
        return () => {
          const pipe = target.pipeline();
          const exec = pipe.exec.bind(pipe);
          pipe.exec = async () => {
            unanswered++;
            try {
              return await exec();
            } finally {
              unanswered--;
            }
          };
          return pipe;
        };
      if (prop === 'sendCommand')
        return (command: Command) => {
          // a batch's first send (an EVAL after a NOSCRIPT is the same batch, sent again)
          if (command.name === 'evalsha') {
            scripts++;
            if (unanswered > 0) early++;
          }
          return target.sendCommand(command);
        };
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  const list = entries(random(5), 400, 3000);
  const staged: StagedObjects = { added: [], changed: [] };
  const ours = await firstStaging(list, 4, watched, staged);
  expect(ours.scripted).toBeGreaterThan(0);
  expect(scripts).toBe(ours.scripted);
  expect(early).toBe(0);

  const ref = await scriptOnly(list, 4);
  const statuses = ref.replies.map((r) => r.status).join('');
  expect(staged.added.map((o) => o.dn)).toEqual(ref.objects.filter((_, i) => statuses[i] === 'A').map((o) => o.dn));
});

/** The next version of a directory: some entries gone, some renamed, some re-addressed, some new. */
function nextVersion(rnd: () => number, list: DirectoryEntry[]): DirectoryEntry[] {
  const fresh = entries(rnd, list.length, 3000);
  const out: DirectoryEntry[] = [];
  list.forEach((e, i) => {
    const r = rnd();
    if (r < 0.1) return;
    if (r < 0.5) out.push(e);
    else if (r < 0.75) out.push({ ...e, displayName: `${e.displayName ?? ''} renamed` });
    else out.push({ ...(fresh[i] as DirectoryEntry), id: e.id, dn: e.dn, objectClass: e.objectClass });
  });
  return [...out, ...fresh.slice(0, 20).map((e, i) => ({ ...e, id: `CN=new${i}`, dn: `CN=new${i}` }))];
}

it.each([
  [6, 4, false],
  [7, 1, true],
  [8, 4, true],
])(
  're-stages against a published state what stage.lua alone stages, and counts the same (seed %i, %i shards, overlay %s)',
  async (seed, shards, overlay) => {
    const rnd = random(seed);
    const v1 = entries(rnd, 400, 3000);
    const deps: PublishDeps = { redis: env.redis, keys: env.keys, versionsKept: 5, stage: { batch: BATCH, inFlight: 2, duty: 1 } };
    const spec = { name: 'corp', priority: PRIORITY, deletionThreshold: 100 };
    await publishSource(deps, spec, toAsync(chunks(v1)), { cause: 'import', skipInvalid: true });
    if (overlay) {
      const upserts = v1
        .slice(0, 12)
        .map((e, i) => ({ upsert: i % 2 === 0 ? { ...e, displayName: 'delta' } : { ...e, proxyAddresses: [`SMTP:d${i}@contoso.edu`] } }));
      const deletes = v1.slice(12, 18).map((e) => ({ delete: e.id, origin: e.dn }));
      await publishDelta(
        deps,
        spec,
        [[...upserts, ...deletes, { upsert: { ...(v1[20] as DirectoryEntry), id: 'CN=delta', dn: 'CN=delta' } }]],
        { cause: 'sync' },
      );
    }
    const raw = (await readCurrent(env.redis, env.keys))?.snapshots.get('corp') as string;
    const old = await readStateLayout(env.redis, env.keys, raw);
    expect(old.overlay !== undefined).toBe(overlay);

    const v2 = nextVersion(rnd, v1);
    const staged: StagedObjects = { added: [], changed: [] };
    const ours = await firstStaging(v2, shards, env.redis, staged, old);
    const ref = await scriptOnly(v2, shards, old);
    expect(await contents(ours.snap)).toEqual(await contents(ref.snap));
    const statuses = ref.replies.map((r) => r.status).join('');
    const having = (s: string): RecipientObject[] => ref.objects.filter((_, i) => statuses[i] === s);
    expect(new Set(statuses)).toEqual(new Set(['A', 'C', 'U', 'D']));
    expect([ours.tally.added, ours.tally.changed, ours.tally.unchanged]).toEqual([
      having('A').length,
      having('C').length,
      having('U').length,
    ]);
    expect(ours.tally.invalid).toBe(having('D').length);
    expect(ours.tally.addressesAdded).toBe(ref.replies.reduce((n, r) => n + r.addressesNew, 0));
    expect(ours.tally.addressesKept).toBe(ref.replies.reduce((n, r) => n + r.addressesKept, 0));
    expect(ours.tally.written).toBe(ref.objects.length);
    // a dry run's objects, in the order read
    expect(staged.added.map((o) => o.dn)).toEqual(having('A').map((o) => o.dn));
    expect(staged.changed.map((o) => o.dn)).toEqual(having('C').map((o) => o.dn));
    // both ways were taken: some objects through stage.lua, most without it
    expect(ours.scripted).toBeGreaterThan(0);
    expect(ours.scripted).toBeLessThan(ref.replies.length / 2);
  },
);
