/**
 * Staging a Csvde import on a real Redis: a stage.lua batch resent after a lost reply is applied
 * once, and the staging pace (table.stageBatch, table.stageInFlight) changes how a source is
 * staged, never what is published — on a first import (plain writes, stage.lua for the one
 * conflicting object) and on a re-import (every object through stage.lua, in the configured batches,
 * paced at table.stageDuty while relays answer lookups from a published table).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { startRedis } from '../../src/main/embedded-redis.js';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { createResolver, type Resolver } from '../../src/resolver/resolver.js';
import { routingContext } from '../../src/routing/decide.js';
import { listConflicts } from '../../src/store/status.js';
import { readCurrent } from '../../src/store/table.js';
import { isPermanent } from '../../src/jobqueue/failures.js';
import { publishDeps } from '../../src/pipeline/deps.js';
import { CLASSIFY_BATCH } from '../../src/store/fresh-stage.js';
import { STAGE_PACE } from '../../src/pipeline/stage-pace.js';
import type { PublishResult } from '../../src/pipeline/types.js';
import { csvFixture, testEnv, type TestEnv } from '../helpers/env.js';

let env: TestEnv;
/** What a relay answering RCPTs does (src/store/lookup-beacon.ts), with a mark that outlasts the test. */
/** Whether Redis's clock advances within a script (it stands still from Redis 7.2 on): stage.lua's time needs it. */
async function clockRunsInScripts(redis: TestEnv['redis']): Promise<boolean> {
  const span = await redis.eval(
    "local a = redis.call('TIME') local x = 0 for i = 1, 200000 do x = x + i end local b = redis.call('TIME') return (b[1] - a[1]) * 1000000 + (b[2] - a[2])",
    0,
  );
  return Number(span) > 0;
}

const relaysAnswer = async (ttlMs = 60_000): Promise<unknown> => env.redis.set(env.keys.lookupsSeen, 'relay under test', 'PX', ttlMs);
beforeEach(async () => {
  env = await testEnv();
});
afterEach(async () => env.cleanup());

/** What the table decides for a few addresses, and its conflicts. */
async function published(): Promise<unknown> {
  const resolver: Resolver = createResolver({ redis: env.redis, keys: env.keys, context: routingContext(env.config) });
  return {
    decisions: await resolver.resolve(['HELPDESK@contoso.edu', 'ada.lovelace@contoso.edu', 'nobody@chem.lab.contoso.edu'], false),
    conflicts: await listConflicts(env.redis, env.keys),
  };
}

describe('staging an import', () => {
  it('a stage batch sent twice (reply lost, command resent) is applied once', async () => {
    const { createSnapshot, stageArgs, stageBatch } = await import('../../src/store/snapshot.js');
    const { buildObject } = await import('../../src/routing/object.js');
    const built = buildObject('corp', { id: 'CN=a', dn: 'CN=a', objectClass: ['user'], proxyAddresses: ['SMTP:a@contoso.edu'] });
    if (built.ok !== true) throw new Error('fixture');
    const id = await createSnapshot(env.redis, env.keys, 'corp', 4);
    const args = stageArgs(1, [built.object], 10);
    const first = await stageBatch(env.redis, env.keys, id, undefined, args);
    const again = await stageBatch(env.redis, env.keys, id, undefined, args);
    const { redisMs, ...reply } = first;
    expect(reply).toEqual({ status: 'A', addressesNew: 1, addressesKept: 0, conflicted: [] });
    // how long the script ran, by Redis's clock; none where the clock stands still in a script
    if (await clockRunsInScripts(env.redis)) {
      expect(redisMs).toBeGreaterThan(0);
      expect(redisMs).toBeLessThan(1000);
    } else expect(redisMs).toBeUndefined();
    expect(again).toEqual(reply); // the first reply as stored, without a time of its own
    expect(again.redisMs).toBeUndefined();
    const other = await stageBatch(env.redis, env.keys, id, undefined, stageArgs(2, [built.object], 10));
    expect(other.status).toBe('D'); // a different batch with the same object is a real duplicate
  });
  it('a server that refuses TIME to scripts stages all the same, reporting no time of its own', async () => {
    const { createSnapshot, stageArgs, stageBatch } = await import('../../src/store/snapshot.js');
    const { buildObject } = await import('../../src/routing/object.js');
    // a user denied TIME (as some managed Redis offerings deny it to scripts); scripts run with their caller's ACL
    const user = `no-time-${process.pid}`;
    await env.redis.call('ACL', 'SETUSER', user, 'on', '>secret', '~*', '&*', '+@all', '-time');
    const denied = new Redis(env.redisUrl, { username: user, password: 'secret' });
    try {
      await expect(denied.time()).rejects.toThrow(/NOPERM/);
      const built = buildObject('corp', { id: 'CN=a', dn: 'CN=a', objectClass: ['user'], proxyAddresses: ['SMTP:a@contoso.edu'] });
      if (built.ok !== true) throw new Error('fixture');
      const id = await createSnapshot(env.redis, env.keys, 'corp', 4);
      const reply = await stageBatch(denied, env.keys, id, undefined, stageArgs(1, [built.object], 10));
      expect(reply).toEqual({ status: 'A', addressesNew: 1, addressesKept: 0, conflicted: [] });
      const holders = await Promise.all(
        [0, 1, 2, 3].map((shard) => env.redis.hget(env.keys.snapshotAddresses(id.id, shard), 'a@contoso.edu')),
      );
      expect(holders.filter((h) => h !== null)).toHaveLength(1); // written, once
    } finally {
      denied.disconnect();
      await env.redis.call('ACL', 'DELUSER', user); // the suite's Redis is shared (afterEach closes env.redis)
    }
  });
  it('table.stageBatch / table.stageInFlight change how it stages, never what it publishes (conflicts across batches too)', async () => {
    // a Redis of its own: its script counts are this test's alone, whatever else runs beside it
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-staging-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const own = await startRedis({ dir });
    onTestFinished(() => own.stop()); // after afterEach, which cleans up the env below
    await env.cleanup();
    env = await testEnv(undefined, own.url);
    const evalsha = async (field: 'calls' | 'usec'): Promise<number> =>
      Number(
        new RegExp(`${field}=(\\d+)`).exec(
          (await env.redis.info('commandstats')).split('\n').find((l) => l.startsWith('cmdstat_evalsha:')) ?? '',
        )?.[1] ?? 0,
      );
    const scriptCalls = (): Promise<number> => evalsha('calls');
    const scriptMs: number[] = [];
    const wallMs: number[] = [];
    const firsts: number[] = [];
    const stages: number[] = [];
    const results = [];
    const paces = [
      undefined,
      { batch: 1, inFlight: 5, duty: 1 },
      { batch: 7, inFlight: 1, duty: 1 },
      { batch: 1000, inFlight: 3, duty: 1 },
      { batch: 1, inFlight: 2, duty: 0.05 },
    ];
    const paced: (PublishResult['paced'] | undefined)[] = [];
    for (const stage of paces) {
      await env.redis.flushall(); // this test's own Redis
      await relaysAnswer();
      // the first pace is the configuration's defaults, through the worker's and the CLI's deps
      const deps = stage ? { ...env.deps, stage } : publishDeps(env.redis, env.keys, env.config);
      // a first import writes without stage.lua every object whose fields are all new (src/store/fresh-stage.ts)
      const before = await scriptCalls();
      const r = await importCsvde(deps, env.source('corp'), csvFixture('contoso.csv'));
      firsts.push((await scriptCalls()) - before);
      expect(r.counts).toMatchObject({ objects: 267, conflicts: 1, invalid: 0 });
      results.push(await published());
      // a re-import diffs every object against the published state (stage.lua)
      const again = await scriptCalls();
      const usec = await evalsha('usec');
      const from = performance.now();
      const re = await importCsvde(deps, env.source('corp'), csvFixture('contoso.csv'));
      wallMs.push(performance.now() - from);
      stages.push((await scriptCalls()) - again);
      scriptMs.push(((await evalsha('usec')) - usec) / 1000);
      expect(re.counts).toMatchObject({ objects: 267, conflicts: 1, invalid: 0, unchanged: 267 });
      // a first import into an empty table is never paced; a re-import is while relays answer, at the duty configured
      expect(r.paced).toBeUndefined();
      paced.push(re.paced);
      expect(await published()).toEqual(results[0]);
    }
    for (const r of results.slice(1)) expect(r).toEqual(results[0]);
    // whatever the pace, two scripts: stage.lua for the one object whose address another
    // already holds (the fixture's conflict), and publish.lua
    expect(firsts).toEqual([2, 2, 2, 2, 2]);
    // the configured default (table.stageDuty, the same as STAGE_PACE's) paces; a duty of 1 does
    // not; at 0.05 each batch of one object is sent no sooner than 20 times the last one's charge
    // after it, so the re-import lasts at least that (less the last batch's, and < 2 ms carried)
    expect(env.config.table.stageDuty).toBe(STAGE_PACE.duty);
    expect(paced.map((p) => p?.duty)).toEqual([STAGE_PACE.duty, undefined, undefined, undefined, 0.05]);
    expect(paced[4]).toMatchObject({ batches: 267 });
    const charged = paced[4]?.redisMs ?? 0;
    expect(charged).toBeGreaterThan(0);
    expect(wallMs[4]).toBeGreaterThanOrEqual((0.5 * charged) / 0.05);
    // each batch is charged twice the time its script reported (duty-cycle.ts), which Redis's
    // own count of its EVALSHA time bounds, not the round trip (several times that here); where
    // the clock stands still in a script (Redis 7.2 and later) the round trip is charged
    if (await clockRunsInScripts(env.redis)) expect(charged).toBeLessThanOrEqual(2 * (scriptMs[4] ?? 0) + 0.1);
    // paced (relays answer), a re-import stages through stage.lua, one script per batch (plus the
    // same few around them): 267 objects in batches of the default and of 1
    expect(stages[4]! - stages[0]!).toBe(267 - Math.ceil(267 / STAGE_PACE.batch));
    // unpaced, it writes without a script and classifies in scripts of CLASSIFY_BATCH objects
    // (src/store/fresh-stage.ts), whatever the batch: 267 objects in batches of 1, of 7, of 1000
    expect(stages[1]).toBe(stages[3]);
    expect(stages[2]).toBe(stages[3]);
    expect(stages[3]).toBeLessThanOrEqual(Math.ceil(267 / CLASSIFY_BATCH) + 4);
  });

  it("a source's first staging beside a published source is paced while relays answer, and stages what it stages alone", async () => {
    const deps = { ...env.deps, stage: { batch: 1, inFlight: 2, duty: 0.05 } };
    await relaysAnswer();
    // alone, into an empty table: nothing to answer from yet, not paced
    const alone = await importCsvde(deps, env.source('students'), csvFixture('students.csv'));
    expect(alone.paced).toBeUndefined();
    await env.clear(); // this namespace's keys: the suite's Redis is shared
    // beside corp's published snapshot: plain writes and scripts, unpaced while no relay answers
    await importCsvde(deps, env.source('corp'), csvFixture('contoso.csv'));
    const quiet = await importCsvde(deps, env.source('students'), csvFixture('students.csv'));
    expect(quiet.paced).toBeUndefined();
    await env.clear(); // this namespace's keys: the suite's Redis is shared
    // and paced while relays answer
    await importCsvde(deps, env.source('corp'), csvFixture('contoso.csv'));
    await relaysAnswer();
    const beside = await importCsvde(deps, env.source('students'), csvFixture('students.csv'));
    expect(beside.paced?.duty).toBe(0.05);
    expect(beside.counts).toEqual(alone.counts);
    expect(quiet.counts).toEqual(alone.counts);
    expect(beside.counts.objects).toBeGreaterThan(0);
  });

  it('a re-import stops pacing when the relays stop answering, within a watch interval', async () => {
    const deps = { ...env.deps, stage: { batch: 1, inFlight: 2, duty: 0.02 } };
    await importCsvde(deps, env.source('corp'), csvFixture('contoso.csv'));
    // the relays' mark is there when the staging starts and gone once its first batch is
    // answered; 267 batches paced at 0.02 would take over half a second even at 40 µs a round
    // trip (each owes 49 times its own), so the watch WATCH_EVERY_MS in finds the mark gone
    // and the rest is sent unpaced
    await relaysAnswer();
    let gone: Promise<unknown> | undefined;
    const re = await importCsvde(deps, env.source('corp'), csvFixture('contoso.csv'), {
      onProgress: () => {
        gone ??= env.redis.del(env.keys.lookupsSeen);
      },
    });
    await gone;
    expect(re.counts).toMatchObject({ objects: 267, unchanged: 267 });
    expect(re.paced?.batches).toBeGreaterThan(0);
    expect(re.paced?.batches).toBeLessThan(267);
  });

  it.each([
    ['objects', (id: string) => env.keys.snapshotObjects(id, 0)],
    ['addresses', (id: string) => env.keys.snapshotAddresses(id, 0)],
  ])(
    'refuses to publish a staged snapshot that lost writes of %s (Redis lost them meanwhile), and is retried as a job',
    async (_, lost) => {
      // a first import of 267 objects in one shard: after the first batch (200 objects) is answered,
      // the writes of one of its hashes disappear, as in a Redis restart without them
      let dropped: Promise<number> | undefined;
      const run = importCsvde(env.deps, env.source('corp'), csvFixture('contoso.csv'), {
        onProgress: ({ written }) => {
          if (written > 0 && dropped === undefined) {
            dropped = env.redis.get(env.keys.snapshotSeq).then((id) => env.redis.del(lost(String(id))));
          }
        },
      });
      const err = await run.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(await dropped).toBe(1);
      expect(err).toMatchObject({ code: 'SY_STAGING_LOST' });
      expect(String(err)).toMatch(
        /holds \d+ objects and \d+ addresses where 267 and \d+ were staged .*nothing was published, run it again/,
      );
      expect(isPermanent(err)).toBe(false);
      expect(await readCurrent(env.redis, env.keys)).toBeUndefined();
      // the next run publishes the whole source
      expect((await importCsvde(env.deps, env.source('corp'), csvFixture('contoso.csv'))).counts).toMatchObject({ objects: 267 });
    },
  );
});
