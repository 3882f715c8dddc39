/**
 * A staging that replaces a published state (a re-import or full sync) while no relay answers
 * lookups writes the objects whose fields are all new in the new snapshot with plain `HSET`s
 * (src/store/fresh-stage.ts), and stage.lua, run with N = 0, classifies them against the old
 * state without writing. On a real Redis, against a published base and a base with an overlay
 * of deltas: the snapshot, the counts and a dry run's lists are stage.lua alone's; a writing
 * script still waits for every plain write before it; and relays that start answering midway
 * send every later object through stage.lua, paced.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { ReadItem } from '../../src/directory/items.js';
import { publishDelta } from '../../src/pipeline/publish-delta.js';
import { publishSource } from '../../src/pipeline/publish-source.js';
import { stageAll, type StagedObjects } from '../../src/pipeline/stage-all.js';
import { WATCH_EVERY_MS } from '../../src/pipeline/staging-pace.js';
import { Tally } from '../../src/pipeline/tally.js';
import type { PublishDeps } from '../../src/pipeline/types.js';
import type { DirectoryEntry } from '../../src/routing/entry.js';
import type { RecipientObject } from '../../src/routing/object.js';
import type { StateLayout } from '../../src/store/sharded.js';
import { createSnapshot, readStateLayout } from '../../src/store/snapshot.js';
import { readCurrent } from '../../src/store/table.js';
import { testEnv, type TestEnv } from '../helpers/env.js';
import { random } from '../helpers/random.js';
import {
  BATCH,
  chunks,
  contents,
  entries,
  nextVersion,
  PRIORITY,
  scriptOnly,
  stageWith,
  toAsync,
  watchScripts,
} from '../helpers/staging.js';

let env: TestEnv;
beforeEach(async () => {
  env = await testEnv();
});
afterEach(async () => env.cleanup());

/** Publishes `v1` as source corp's state, with an overlay of deltas on top when `overlay`; answers that state. */
async function published(v1: DirectoryEntry[], overlay: boolean): Promise<StateLayout> {
  const deps: PublishDeps = { redis: env.redis, keys: env.keys, versionsKept: 5, stage: { batch: BATCH, inFlight: 2, duty: 1 } };
  const spec = { name: 'corp', priority: PRIORITY, deletionThreshold: 100 };
  await publishSource(deps, spec, toAsync(chunks(v1)), { cause: 'import', skipInvalid: true });
  if (overlay) {
    const upserts = v1.slice(0, 12).map((e, i) => ({
      upsert: i % 2 === 0 ? { ...e, displayName: 'delta' } : { ...e, proxyAddresses: [`SMTP:d${i}@contoso.edu`] },
    }));
    const deletes = v1.slice(12, 18).map((e) => ({ delete: e.id, origin: e.dn }));
    const added = { upsert: { ...(v1[20] as DirectoryEntry), id: 'CN=delta', dn: 'CN=delta' } };
    await publishDelta(deps, spec, [[...upserts, ...deletes, added]], { cause: 'sync' });
  }
  const raw = (await readCurrent(env.redis, env.keys))?.snapshots.get('corp') as string;
  const old = await readStateLayout(env.redis, env.keys, raw);
  expect(old.overlay !== undefined).toBe(overlay);
  return old;
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
    const old = await published(v1, overlay);
    const v2 = nextVersion(rnd, v1);
    const staged: StagedObjects = { added: [], changed: [] };
    const ours = await stageWith(env, v2, shards, { staged, old });
    const ref = await scriptOnly(env, v2, shards, old);
    expect(await contents(env, ours.snap)).toEqual(await contents(env, ref.snap));
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

it('sends a writing script only once every plain write before it is answered; classifying scripts go with the writes', async () => {
  const rnd = random(9);
  const v1 = entries(rnd, 400, 3000);
  const old = await published(v1, true);
  const { client, seen } = watchScripts(env.redis);
  const ours = await stageWith(env, nextVersion(rnd, v1), 4, { redis: client, old });
  expect(ours.scripted).toBeGreaterThan(0);
  expect(seen.writing).toBe(ours.scripted);
  expect(seen.early).toBe(0);
  expect(seen.classifying).toBeGreaterThan(0);
});

it('sends every object through stage.lua, paced, from when relays start answering lookups', async () => {
  // 3000 users whose fields are all their own: every object could be written plain
  const users: DirectoryEntry[] = Array.from({ length: 3000 }, (_, i) => ({
    id: `CN=u${i}`,
    dn: `CN=u${i}`,
    objectClass: ['user'],
    proxyAddresses: [`SMTP:u${i}@contoso.edu`, `smtp:u${i}@alias.contoso.edu`],
  }));
  const old = await published(users, false);
  const { client, seen } = watchScripts(env.redis);
  const deps: PublishDeps = { redis: client, keys: env.keys, versionsKept: 5, stage: { batch: 50, inFlight: 2, duty: 0.5 } };
  // the entries as a reader yields them; after the first 500 a relay starts answering RCPTs
  // (src/store/lookup-beacon.ts), and the reader waits past the pace's next look at the mark
  const items = async function* (): AsyncIterable<ReadItem[]> {
    for (const [n, chunk] of [...chunks(users)].entries()) {
      if (n === 10) {
        await env.redis.set(env.keys.lookupsSeen, 'relay under test', 'PX', 60_000);
        await new Promise((resolve) => setTimeout(resolve, WATCH_EVERY_MS + 100));
      }
      yield chunk;
    }
  };
  const snap = await createSnapshot(env.redis, env.keys, 'corp', old.base.shards);
  const tally = new Tally();
  const staged = await stageAll(
    deps,
    { name: 'corp', priority: PRIORITY, paced: true },
    snap,
    old,
    items(),
    tally,
    { cause: 'sync' },
    undefined,
  );
  expect([tally.unchanged, tally.added, tally.changed, tally.addressesKept, tally.addressesAdded]).toEqual([3000, 0, 0, 6000, 0]);
  // classified first, then (once the pace saw the mark) staged by writing scripts, paced, never classified again
  expect(seen.classifying).toBeGreaterThan(0);
  expect(seen.writing).toBeGreaterThan(0);
  expect(seen.classifyingAfterWriting).toBe(0);
  expect(staged.batches).toBe(seen.writing);
  expect(staged.paced?.batches).toBeGreaterThanOrEqual(seen.writing);
});
