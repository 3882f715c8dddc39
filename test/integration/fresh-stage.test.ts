/**
 * A source's first staging (src/pipeline/stage-all.ts with src/store/fresh-stage.ts: plain
 * `HSET`s for objects whose fields are all new, stage.lua for the others) builds the snapshot
 * stage.lua alone builds and counts what its replies count — on a real Redis, over generated
 * entries with address conflicts, shared targets (and targets that are addresses), repeated
 * identities (also spelled with lone surrogates), non-ASCII addresses in two cases, at 1 and 4 shards;
 * and it keeps its order rule (no script while a plain write is unanswered). A staging that
 * replaces a published state: test/integration/restage.test.ts.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { StagedObjects } from '../../src/pipeline/stage-all.js';
import { SAMPLE_SIZE } from '../../src/pipeline/tally.js';
import { testEnv, type TestEnv } from '../helpers/env.js';
import { random } from '../helpers/random.js';
import { contents, entries, scriptOnly, stageWith, watchScripts } from '../helpers/staging.js';

let env: TestEnv;
beforeEach(async () => {
  env = await testEnv();
});
afterEach(async () => env.cleanup());

it.each([
  [1, 4],
  [2, 4],
  [3, 1],
  [4, 1],
])('stages what stage.lua alone stages, and counts the same (seed %i, %i shards)', async (seed, shards) => {
  const list = entries(random(seed), 400, 3000);
  const ours = await stageWith(env, list, shards);
  const ref = await scriptOnly(env, list, shards);
  expect(await contents(env, ours.snap)).toEqual(await contents(env, ref.snap));

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
  const ours = await stageWith(env, list, 4);
  const ref = await scriptOnly(env, list, 4);
  expect(ours.scripted).toBe(0);
  expect(ours.tally.added).toBe(300);
  expect(await contents(env, ours.snap)).toEqual(await contents(env, ref.snap));
});

it('sends a script only once every plain write before it is answered, and lists a dry run in the order read', async () => {
  const { client, seen } = watchScripts(env.redis);
  const list = entries(random(5), 400, 3000);
  const staged: StagedObjects = { added: [], changed: [] };
  const ours = await stageWith(env, list, 4, { redis: client, staged });
  expect(ours.scripted).toBeGreaterThan(0);
  expect(seen).toEqual({ writing: ours.scripted, early: 0, classifying: 0, classifyingAfterWriting: 0 });

  const ref = await scriptOnly(env, list, 4);
  const statuses = ref.replies.map((r) => r.status).join('');
  expect(staged.added.map((o) => o.dn)).toEqual(ref.objects.filter((_, i) => statuses[i] === 'A').map((o) => o.dn));
});
