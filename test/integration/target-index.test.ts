/**
 * The targetAddress index (issue 12 item 3, SPEC §5 outbound sender rewriting), on a real
 * Redis: a full snapshot indexes every object under its target, the lowest rank keeps a
 * shared target (SPEC §3.1, over sources too), without a conflict or a change to any
 * address count, diff or `resolve` answer; deltas move it (a changed target, a holder
 * that leaves a shared target to the next one, a deletion); rollback and GC carry it with
 * the snapshot; a table published without it (an earlier release) falls back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DirectoryEntry } from '../../src/routing/entry.js';
import type { ReadItem } from '../../src/directory/items.js';
import { publishSource } from '../../src/pipeline/publish-source.js';
import { publishDelta, type DeltaItem } from '../../src/pipeline/publish-delta.js';
import type { PublishDeps } from '../../src/pipeline/types.js';
import { createResolver } from '../../src/resolver/resolver.js';
import { routingContext } from '../../src/routing/decide.js';
import { shardKeys } from '../../src/store/keys.js';
import { collectGarbage } from '../../src/store/gc.js';
import { readLayouts } from '../../src/store/snapshot.js';
import { listConflicts } from '../../src/store/status.js';
import { lookupTargets } from '../../src/store/target-lookup.js';
import { readCurrent, rollback } from '../../src/store/table.js';
import { refIds } from '../../src/store/ref.js';
import { testEnv, type TestEnv } from '../helpers/env.js';

let env: TestEnv;
afterEach(async () => env?.cleanup());

const corp = { name: 'corp', priority: 10, deletionThreshold: 500 };
const students = { name: 'students', priority: 5, deletionThreshold: 500 };

const entry = (cn: string, kind: 'user' | 'contact', proxies: string[], target?: string): DirectoryEntry => ({
  id: `CN=${cn},DC=contoso,DC=edu`,
  dn: `CN=${cn},DC=contoso,DC=edu`,
  objectClass: [kind],
  proxyAddresses: proxies,
  ...(target ? { targetAddress: `SMTP:${target}` } : {}),
});

/** alice: a mail user whose target is not among her addresses; two objects share one target. */
const ALICE = entry('Alice', 'user', ['SMTP:alice@contoso.edu', 'smtp:a.smith@contoso.edu'], 'Alice@Live.contoso.edu');
const SHARED_USER = entry('Shared User', 'user', ['SMTP:shared.user@contoso.edu'], 'shared@live.contoso.edu');
const SHARED_CONTACT = entry('Shared Contact', 'contact', ['SMTP:shared.contact@contoso.edu'], 'shared@live.contoso.edu');
const MAILBOX = entry('Bob', 'user', ['SMTP:bob@contoso.edu']);

/** The entries as one batch of a directory read. */
function batches(entries: DirectoryEntry[]): AsyncIterable<readonly ReadItem[]> {
  const items: readonly ReadItem[] = entries.map((e) => ({ entry: e }));
  return (async function* () {
    yield await Promise.resolve(items);
  })();
}
const full = (deps: PublishDeps, entries: DirectoryEntry[], spec = corp) =>
  publishSource(deps, spec, batches(entries), { cause: 'sync', allowMassDelete: true });
const delta = (deps: PublishDeps, items: DeltaItem[]) => publishDelta(deps, corp, [items], { cause: 'sync', allowMassDelete: true });

/** The primary address of the object whose target `address` is, as the relay asks it. */
async function primaryOf(address: string): Promise<string | undefined> {
  const [r] = await lookupTargets(env.redis, env.keys, [address.toLowerCase()]);
  if (r?.state !== 'ok') throw new Error(`lookup ${r?.state}`);
  return r.object?.primary;
}

describe.each([1, 8])('target index (snapshots of at least %i shards)', (minShards) => {
  it('indexes a target that is no address; a shared target goes to the lowest rank, with no conflict and no address counted', async () => {
    env = await testEnv();
    const deps = { ...env.deps, minShards };
    // the contact first: staging order does not decide, the rank does (mail user before contact)
    const r = await full(deps, [SHARED_CONTACT, ALICE, MAILBOX, SHARED_USER]);
    expect(r.counts).toMatchObject({ objects: 4, addresses: 5, conflicts: 0, newConflicts: 0 });
    expect(await listConflicts(env.redis, env.keys)).toEqual([]);
    expect(await primaryOf('alice@live.contoso.edu')).toBe('alice@contoso.edu');
    expect(await primaryOf('ALICE@LIVE.CONTOSO.EDU')).toBe('alice@contoso.edu');
    expect(await primaryOf('shared@live.contoso.edu')).toBe('shared.user@contoso.edu');
    expect(await primaryOf('alice@contoso.edu')).toBeUndefined(); // an address, not a target
    expect(await primaryOf('bob@contoso.edu')).toBeUndefined();
    // resolve is unchanged: a target is not an address of the table
    const resolver = createResolver({ redis: env.redis, keys: env.keys, context: routingContext(env.config) });
    const [d] = await resolver.resolve(['alice@live.contoso.edu'], true);
    expect(d?.object).toBeUndefined();
    // a dry run of the same directory finds nothing to change
    const again = await publishSource(deps, corp, batches([SHARED_USER, MAILBOX, ALICE, SHARED_CONTACT]), { cause: 'sync', dryRun: true });
    expect(again.counts).toMatchObject({ added: 0, changed: 0, removed: 0, addressesAdded: 0, addressesRemoved: 0, newConflicts: 0 });
  });

  it('follows deltas: a changed target, a holder leaving a shared target, a deletion', async () => {
    env = await testEnv();
    const deps = { ...env.deps, minShards };
    await full(deps, [ALICE, SHARED_USER, SHARED_CONTACT, MAILBOX]);
    await delta(deps, [{ upsert: { ...ALICE, targetAddress: 'SMTP:alice.smith@live.contoso.edu' } }]);
    expect(await primaryOf('alice.smith@live.contoso.edu')).toBe('alice@contoso.edu');
    expect(await primaryOf('alice@live.contoso.edu')).toBeUndefined();
    // the holder of the shared target moves away: the contact takes it over
    const r = await delta(deps, [{ upsert: { ...SHARED_USER, targetAddress: 'SMTP:su@live.contoso.edu' } }]);
    expect(r.counts).toMatchObject({ conflicts: 0, addressesAdded: 0, addressesRemoved: 0 });
    expect(await primaryOf('shared@live.contoso.edu')).toBe('shared.contact@contoso.edu');
    expect(await primaryOf('su@live.contoso.edu')).toBe('shared.user@contoso.edu');
    // it comes back: it outranks the contact again
    await delta(deps, [{ upsert: SHARED_USER }]);
    expect(await primaryOf('shared@live.contoso.edu')).toBe('shared.user@contoso.edu');
    expect(await primaryOf('su@live.contoso.edu')).toBeUndefined();
    // deleted: the contact again; the contact deleted too: nobody
    await delta(deps, [{ delete: SHARED_USER.id, origin: SHARED_USER.dn }]);
    expect(await primaryOf('shared@live.contoso.edu')).toBe('shared.contact@contoso.edu');
    await delta(deps, [{ delete: SHARED_CONTACT.id, origin: SHARED_CONTACT.dn }]);
    expect(await primaryOf('shared@live.contoso.edu')).toBeUndefined();
    // no longer a mail user (target removed): out of the index
    await delta(deps, [{ upsert: { ...ALICE, targetAddress: undefined } }]);
    expect(await primaryOf('alice.smith@live.contoso.edu')).toBeUndefined();
    expect(await listConflicts(env.redis, env.keys)).toEqual([]);
  });

  it('rolls back with the snapshot, and goes with it when GC drops it', async () => {
    env = await testEnv();
    const deps = { ...env.deps, minShards, versionsKept: 2, keepForMs: 0 };
    const v1 = (await full(deps, [ALICE, MAILBOX])).version ?? 0;
    await delta(deps, [{ upsert: { ...ALICE, targetAddress: 'SMTP:alice.smith@live.contoso.edu' } }]);
    expect(await primaryOf('alice@live.contoso.edu')).toBeUndefined();
    await rollback(env.redis, env.keys, { to: v1, required: ['corp'], keep: 5 });
    expect(await primaryOf('alice@live.contoso.edu')).toBe('alice@contoso.edu');
    expect(await primaryOf('alice.smith@live.contoso.edu')).toBeUndefined();

    // a new full snapshot, then enough versions for retention to drop the first one
    const before = await readCurrent(env.redis, env.keys);
    const first = refIds(before?.snapshots.get('corp') ?? '')[0] ?? '';
    const [layout] = await readLayouts(env.redis, env.keys, [first]);
    const tgtKeys = shardKeys(env.keys, first, 'tgt', layout?.shards ?? 1);
    expect(await env.redis.exists(...tgtKeys)).toBeGreaterThan(0);
    await full({ ...deps, versionsKept: 1 }, [ALICE, MAILBOX, SHARED_USER]);
    await full({ ...deps, versionsKept: 1 }, [ALICE, SHARED_USER]);
    await collectGarbage(env.redis, env.keys, 0);
    expect(await env.redis.exists(...tgtKeys)).toBe(0);
    expect(await primaryOf('alice@live.contoso.edu')).toBe('alice@contoso.edu');
  });
});

describe('target index over sources and releases', () => {
  it('a target two sources share goes to the higher priority, as addresses do', async () => {
    env = await testEnv();
    const other = entry('Alice Student', 'user', ['SMTP:alice@students.contoso.edu'], 'alice@live.contoso.edu');
    await full(env.deps, [other], students);
    expect(await primaryOf('alice@live.contoso.edu')).toBe('alice@students.contoso.edu');
    await full(env.deps, [ALICE]);
    expect(await primaryOf('alice@live.contoso.edu')).toBe('alice@contoso.edu'); // corp: priority 10 > 5
  });

  it('a snapshot without an index (an earlier release) falls back to a target that is the object’s own address', async () => {
    env = await testEnv();
    const own = entry('Ada', 'user', ['SMTP:ada@contoso.edu', 'smtp:ada@live.contoso.edu'], 'ada@live.contoso.edu');
    await full(env.deps, [own, ALICE]);
    const current = await readCurrent(env.redis, env.keys);
    const id = refIds(current?.snapshots.get('corp') ?? '')[0] ?? '';
    const [layout] = await readLayouts(env.redis, env.keys, [id]);
    // what an earlier release published: no index
    expect(await env.redis.unlink(...shardKeys(env.keys, id, 'tgt', layout?.shards ?? 1))).toBeGreaterThan(0);
    expect(await primaryOf('ada@live.contoso.edu')).toBe('ada@contoso.edu');
    expect(await primaryOf('alice@live.contoso.edu')).toBeUndefined(); // until the next full sync
    // a delta on top indexes what it changes
    await delta(env.deps, [{ upsert: { ...ALICE, proxyAddresses: [...ALICE.proxyAddresses, 'smtp:alice2@contoso.edu'] } }]);
    expect(await primaryOf('alice@live.contoso.edu')).toBe('alice@contoso.edu');
    await full(env.deps, [own, ALICE]);
    expect(await primaryOf('alice@live.contoso.edu')).toBe('alice@contoso.edu');
  });
});
