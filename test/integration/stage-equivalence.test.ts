/**
 * stage.lua's cheaper form (issue 15 item 2: no HGET of the old state for the addresses of an
 * object whose addresses did not change, the rank read from the JSON, no empty target
 * arguments) writes what the previous form wrote and replies what it replied, batch by batch:
 * both run on a real Redis over the same generated objects — address conflicts inside and
 * across batches, shared targets, duplicate keys, addresses Lua cannot lower-case — as a
 * first import, and as re-imports against a published base alone and with an overlay of
 * deltas (written by apply-delta.lua) on top.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { objectKey, rankKey, type RecipientObject } from '../../src/routing/object.js';
import { encodeObject } from '../../src/store/codec.js';
import { shardKeys } from '../../src/store/keys.js';
import { runScript, scripts, type Script } from '../../src/store/scripts.js';
import type { SnapshotLayout, StateLayout } from '../../src/store/sharded.js';
import { objectRef } from '../../src/store/shards.js';
import { addressArgs, createSnapshot, stageArgs, stageBatch, type BatchResult } from '../../src/store/snapshot.js';
import { targetArgs } from '../../src/store/targets.js';
import { testEnv, type TestEnv } from '../helpers/env.js';
import { random } from '../helpers/random.js';

const source = readFileSync(join(import.meta.dirname, 'legacy-lua', 'stage-reference.lua'), 'utf8');
const reference: Script = { name: 'stage-reference', keyCount: undefined, source, sha: createHash('sha1').update(source).digest('hex') };
const PRIORITY = 10;
const SHARDS = 4;
const BATCH = 7;

let env: TestEnv;
beforeEach(async () => {
  env = await testEnv();
});
afterEach(async () => env.cleanup());

/** 30 addresses, two of them with a letter string.lower does not fold (their JSON has "l"). */
const POOL = Array.from({ length: 30 }, (_, i) => (i % 15 === 3 ? `Ärger${i}@Contoso.edu` : `User${i}@contoso.edu`));
const TARGETS = Array.from({ length: 5 }, (_, i) => `t${i}@live.contoso.edu`);

function generated(rnd: () => number, count: number, tag: string): RecipientObject[] {
  const out: RecipientObject[] = [];
  for (let i = 0; i < count; i++) {
    const n = 1 + Math.floor(rnd() * 3);
    const addresses = [...new Set(Array.from({ length: n }, () => POOL[Math.floor(rnd() * POOL.length)] as string))];
    const target = rnd() < 0.5 ? TARGETS[Math.floor(rnd() * TARGETS.length)] : undefined;
    const id = `CN=o${i % 13 === 12 ? i - 1 : i},DC=contoso,DC=edu`; // every 13th repeats the id before it
    out.push({
      source: 'corp',
      id,
      dn: id,
      kind: target ? 'mailUser' : 'mailbox',
      primary: addresses[0],
      addresses,
      ...(target ? { target } : {}),
      created: String(20200101 + Math.floor(rnd() * 50)),
      displayName: `o${i} ${tag}`,
    });
  }
  return out;
}

/** The next version of `objects`: a third unchanged, a third renamed only, the rest re-addressed; some gone, some new. */
function nextVersion(rnd: () => number, objects: RecipientObject[]): RecipientObject[] {
  const out: RecipientObject[] = [];
  for (const o of objects) {
    const r = rnd();
    if (r < 0.1) continue;
    if (r < 0.4) out.push(o);
    else if (r < 0.7) out.push({ ...o, displayName: `${o.displayName ?? ''} renamed` });
    else out.push({ ...generated(rnd, 1, 'moved')[0], id: o.id, dn: o.dn } as RecipientObject);
  }
  return [...out, ...generated(rnd, 15, 'new').map((o, i) => ({ ...o, id: `CN=new${i}`, dn: `CN=new${i}` }))];
}

/** The previous form's arguments: every object with its rank and a target hint and target ('0', '' for none). */
function referenceArgs(batchId: number, objects: readonly RecipientObject[]): string[] {
  const args = [String(batchId)];
  for (const o of objects) {
    const rank = rankKey(o, PRIORITY);
    const lowered = o.addresses.map((a) => a.toLowerCase());
    const target = targetArgs(o.target?.toLowerCase() ?? '');
    args.push(objectRef(objectKey(o)), encodeObject(o, rank, lowered), rank, ...target, String(lowered.length), ...addressArgs(lowered));
  }
  return args;
}

async function stageWithReference(
  snap: SnapshotLayout,
  old: StateLayout | undefined,
  batchId: number,
  objects: RecipientObject[],
): Promise<BatchResult> {
  const { keys } = env;
  const [id, ...rest] = referenceArgs(batchId, objects);
  const stateKeys = (s: SnapshotLayout | undefined): string[] =>
    s ? [...shardKeys(keys, s.id, 'obj', s.shards), ...shardKeys(keys, s.id, 'addr', s.shards)] : [];
  const k = [
    keys.snapshotBatches(snap.id),
    ...(['obj', 'addr', 'conf', 'tgt'] as const).flatMap((h) => shardKeys(keys, snap.id, h, snap.shards)),
    ...stateKeys(old?.base),
    ...stateKeys(old?.overlay),
  ];
  const reply = (await runScript(env.redis, reference, k, [
    id ?? '',
    snap.shards,
    old?.base.shards ?? 0,
    old?.overlay?.shards ?? 0,
    ...rest,
  ])) as [string, number, number, string[]];
  return { status: reply[0], addressesNew: reply[1], addressesKept: reply[2], conflicted: reply[3] };
}

/** A reply without the script's own time (which the previous script did not report), checked to be one when there. */
function withoutTime({ redisMs, ...reply }: BatchResult): BatchResult {
  if (redisMs !== undefined) expect(redisMs).toBeGreaterThan(0);
  return reply;
}

/** Stages `objects` in batches into two new snapshots, one per form; returns both snapshots and both series of replies. */
async function stageBoth(objects: RecipientObject[], old: StateLayout | undefined) {
  const mine = await createSnapshot(env.redis, env.keys, 'corp', SHARDS);
  const theirs = await createSnapshot(env.redis, env.keys, 'corp', SHARDS);
  const replies: { mine: BatchResult[]; theirs: BatchResult[] } = { mine: [], theirs: [] };
  for (let from = 0, b = 1; from < objects.length; from += BATCH, b++) {
    const batch = objects.slice(from, from + BATCH);
    replies.mine.push(withoutTime(await stageBatch(env.redis, env.keys, mine, old, stageArgs(b, batch, PRIORITY))));
    replies.theirs.push(await stageWithReference(theirs, old, b, batch));
  }
  return { mine, theirs, replies };
}

/** Every shard of every hash of a snapshot, as sorted entries. */
async function contents(snap: SnapshotLayout): Promise<string[][][]> {
  const out: string[][][] = [];
  for (const hash of ['obj', 'addr', 'conf', 'tgt'] as const) {
    for (const key of shardKeys(env.keys, snap.id, hash, snap.shards)) out.push(Object.entries(await env.redis.hgetall(key)).sort());
  }
  return out;
}

/** Applies deltas to a new overlay on `base` with apply-delta.lua, as src/pipeline/publish-delta.ts does. */
async function overlayOn(
  base: SnapshotLayout,
  upserts: RecipientObject[],
  deletes: RecipientObject[],
  before: Map<string, RecipientObject>,
): Promise<SnapshotLayout> {
  const overlay = await createSnapshot(env.redis, env.keys, 'corp', 1);
  const argv: string[] = [];
  const touched = (o: RecipientObject): string[] => {
    const was = before.get(o.id);
    const addresses = new Set([...(was?.addresses ?? []), ...o.addresses].map((a) => a.toLowerCase()));
    const targets = new Set([was?.target, o.target].filter((t): t is string => t !== undefined).map((t) => t.toLowerCase()));
    return [
      o.target?.toLowerCase() ?? '',
      String(targets.size),
      ...[...targets].flatMap(targetArgs),
      String(addresses.size),
      ...addressArgs([...addresses]),
    ];
  };
  for (const o of upserts) {
    const rank = rankKey(o, PRIORITY);
    argv.push('U', objectRef(objectKey(o)), encodeObject(o, rank), rank, ...touched(o));
  }
  for (const o of deletes) argv.push('D', objectRef(objectKey(o)), ...touched({ ...o, addresses: [], target: undefined }));
  const k = [
    env.keys.snapshotBatches(overlay.id),
    ...(['obj', 'addr', 'conf', 'tgt'] as const).flatMap((h) => shardKeys(env.keys, base.id, h, base.shards)),
    ...(['obj', 'addr', 'conf', 'tgt'] as const).flatMap((h) => shardKeys(env.keys, overlay.id, h, overlay.shards)),
  ];
  const reply = (await runScript(env.redis, scripts.applyDelta, k, ['1', base.shards, overlay.shards, ...argv])) as [string];
  expect(reply[0]).toMatch(/^[ACU]+R+$/);
  return overlay;
}

it.each([1, 2, 3])('stages what the previous script staged and replies the same (seed %i)', async (seed) => {
  const rnd = random(seed);
  const v1 = generated(rnd, 40, 'v1');
  const first = await stageBoth(v1, undefined);
  expect(first.replies.mine).toEqual(first.replies.theirs);
  expect(await contents(first.mine)).toEqual(await contents(first.theirs));
  expect(first.replies.mine.some((r) => r.conflicted.length > 0)).toBe(true);
  expect(first.replies.mine.map((r) => r.status).join('')).toContain('D');

  const v2 = nextVersion(rnd, v1);
  const onBase = await stageBoth(v2, { base: first.mine });
  expect(onBase.replies.mine).toEqual(onBase.replies.theirs);
  expect(await contents(onBase.mine)).toEqual(await contents(onBase.theirs));
  expect(new Set(onBase.replies.mine.map((r) => r.status).join(''))).toEqual(new Set(['A', 'C', 'U', 'D']));

  // deltas on top of the first snapshot: some objects re-addressed or renamed, some deleted, one added
  const live = new Map<string, RecipientObject>();
  for (const o of v1) if (!live.has(o.id)) live.set(o.id, o);
  const liveObjects = [...live.values()];
  const upserts = [
    ...liveObjects.slice(0, 3).map((o) => ({ ...o, displayName: 'delta' })),
    ...liveObjects.slice(3, 6).map((o) => ({ ...(generated(rnd, 1, 'delta')[0] as RecipientObject), id: o.id, dn: o.dn })),
    { ...(generated(rnd, 1, 'delta')[0] as RecipientObject), id: 'CN=delta', dn: 'CN=delta' },
  ];
  const overlay = await overlayOn(first.mine, upserts, liveObjects.slice(6, 9), live);
  const onOverlay = await stageBoth(v2, { base: first.mine, overlay });
  expect(onOverlay.replies.mine).toEqual(onOverlay.replies.theirs);
  expect(await contents(onOverlay.mine)).toEqual(await contents(onOverlay.theirs));
});

it('counts the addresses of an object renamed in place as kept, and a moved address as new', async () => {
  const mailbox = (id: string, addresses: string[], name: string): RecipientObject => ({
    source: 'corp',
    id,
    dn: id,
    kind: 'mailbox',
    addresses,
    displayName: name,
  });
  const old = await createSnapshot(env.redis, env.keys, 'corp', SHARDS);
  await stageBatch(
    env.redis,
    env.keys,
    old,
    undefined,
    stageArgs(1, [mailbox('CN=a', ['a@contoso.edu', 'Äa@contoso.edu'], 'A'), mailbox('CN=b', ['b@contoso.edu'], 'B')], PRIORITY),
  );
  const next = await createSnapshot(env.redis, env.keys, 'corp', SHARDS);
  const reply = await stageBatch(
    env.redis,
    env.keys,
    next,
    { base: old },
    stageArgs(
      1,
      [mailbox('CN=a', ['a@contoso.edu', 'Äa@contoso.edu'], 'A renamed'), mailbox('CN=b', ['b@contoso.edu', 'b2@contoso.edu'], 'B')],
      PRIORITY,
    ),
  );
  expect(withoutTime(reply)).toEqual({ status: 'CC', addressesNew: 1, addressesKept: 3, conflicted: [] });
});
