/**
 * A first staging's plain batch whose connection closes after Redis answered part of it: ioredis
 * resends what it had no answer for, except the rest of a half-answered pipeline, which it
 * rejects with AbortError (Command aborted due to connection close). FreshStage sends such a
 * batch again whole (src/store/resent-pipeline.ts, which retention's reads use too). The same
 * for a transaction whose EXEC's answer is lost (a run's record, src/store/runs.ts; a delta's
 * overlay copy, src/pipeline/copy-overlay.ts), and for the mail queue's reads of a unit to
 * deliver (src/mailqueue/store.ts).
 * Deterministic here: the client talks to a real Redis through a loopback proxy that, once
 * armed, passes one whole reply and closes the connection (test/helpers/cutting-proxy.ts). test/integration/import-redis-kill.test.ts
 * covers the same with a real SIGKILL of Redis, where the timing is Redis's.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { buildObject, type RecipientObject } from '../../src/routing/object.js';
import { createQueueStore } from '../../src/mailqueue/store.js';
import { copyOverlay } from '../../src/pipeline/copy-overlay.js';
import { FreshStage } from '../../src/store/fresh-stage.js';
import { readLastSuccess, readRuns, recordRun } from '../../src/store/runs.js';
import { hgetallSharded } from '../../src/store/sharded.js';
import { createRedis, type RedisClient } from '../../src/store/redis.js';
import { createSnapshot } from '../../src/store/snapshot.js';
import { startCuttingProxy, type CuttingProxy } from '../helpers/cutting-proxy.js';
import { testEnv, type TestEnv } from '../helpers/env.js';
import { plainMeta } from '../helpers/queue-message.js';

let env: TestEnv;
let proxy: CuttingProxy;
let client: RedisClient;

beforeEach(async () => {
  env = await testEnv();
  proxy = await startCuttingProxy(env.redisUrl);
  client = createRedis({ ...env.config.redis, url: proxy.url }, 'worker');
  client.on('error', () => undefined); // the cut below, on purpose
  await client.ping();
});
afterEach(async () => {
  client.disconnect();
  await proxy.close();
  await env.cleanup();
});

/** `n` objects of two addresses; every other one a mail user with a target. */
function objects(n: number): RecipientObject[] {
  return Array.from({ length: n }, (_, i) => {
    const built = buildObject('corp', {
      id: `CN=o${i},DC=contoso,DC=edu`,
      dn: `CN=o${i},DC=contoso,DC=edu`,
      objectClass: ['user'],
      proxyAddresses: [`SMTP:o${i}@contoso.edu`, `smtp:o${i}@alias.contoso.edu`],
      ...(i % 2 === 1 ? { targetAddress: `SMTP:o${i}@live.contoso.edu` } : {}),
    });
    if (built.ok !== true) throw new Error('fixture');
    return built.object;
  });
}

it('sends a plain batch again whole when its connection closes half answered', async () => {
  const snap = await createSnapshot(env.redis, env.keys, 'corp', 4);
  const stage = new FreshStage(client, env.keys, snap, { expectedAddresses: 400 });
  for (const o of objects(100)) expect(stage.add(o, 10)).toBe(true);
  const batch = stage.take();
  // count the pipelines FreshStage makes: a second one is its resend (ioredis resending by
  // itself would reuse the first)
  let pipelines = 0;
  const pipeline = client.pipeline.bind(client);
  client.pipeline = (...args: Parameters<typeof pipeline>) => {
    pipelines++;
    return pipeline(...args);
  };
  proxy.armNext();
  await batch.send();
  expect(proxy.cuts).toBe(1); // the pipeline (one HSET per touched shard of tgt, addr and obj) was cut after its first reply
  expect(pipelines).toBe(2);
  const addresses = await hgetallSharded(env.redis, env.keys, snap, 'addr');
  expect(Object.keys(addresses)).toHaveLength(200);
  expect(Object.keys(await hgetallSharded(env.redis, env.keys, snap, 'obj'))).toHaveLength(100);
  expect(Object.keys(await hgetallSharded(env.redis, env.keys, snap, 'tgt'))).toHaveLength(50);
});

it("writes a batch's obj hash last, so that a loss of its last writes always takes objects (which the publish counts)", async () => {
  const snap = await createSnapshot(env.redis, env.keys, 'corp', 4);
  const stage = new FreshStage(client, env.keys, snap, { expectedAddresses: 400 });
  for (const o of objects(100)) stage.add(o, 10);
  const monitor = await env.redis.monitor(); // a connection of its own
  const hashes: string[] = [];
  let shown: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (shown = resolve));
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args[0]?.toLowerCase() === 'echo' && args[1] === 'batch sent') shown();
    const m = args[0]?.toLowerCase() === 'hset' ? new RegExp(`:snap:${snap.id}:(obj|addr|tgt):`).exec(args[1] ?? '') : null;
    if (m) hashes.push(m[1] as string);
  });
  await stage.take().send();
  await env.redis.echo('batch sent');
  await done; // MONITOR shows commands in the order Redis ran them: the batch's came before
  monitor.disconnect();
  // one HSET per touched shard: targets, then addresses, then objects
  expect(hashes).toEqual([...Array<string>(4).fill('tgt'), ...Array<string>(4).fill('addr'), ...Array<string>(4).fill('obj')]);
});

it("records a run again when its transaction's EXEC is not answered", async () => {
  let transactions = 0;
  const multi = client.multi.bind(client);
  client.multi = ((...args: Parameters<typeof multi>) => {
    transactions++;
    return multi(...args);
  }) as typeof client.multi;
  const run = { source: 'corp', kind: 'import' as const, at: '2026-12-01T22:00:00.000Z', ok: true, durationMs: 5, version: 3 };
  proxy.armNext();
  // MULTI's +OK passes, the rest (QUEUED…, EXEC's array) is cut: ioredis rejects the transaction
  // with AbortError, which used to fail a run that had published
  await recordRun(client, env.keys, run);
  expect(proxy.cuts).toBe(1);
  expect(transactions).toBe(2);
  expect((await readRuns(env.redis, env.keys)).get('corp')).toEqual(run);
  expect((await readLastSuccess(env.redis, env.keys)).get('corp')).toBe(run.at);
  // Redis ran the first EXEC before the cut: the one case where the run count goes up twice
  expect(Number(await env.redis.hget(env.keys.runCounts, 'corp'))).toBeGreaterThanOrEqual(1);
});

it('loads a unit to deliver again when its reads are cut half answered', async () => {
  const store = createQueueStore(client, env.keys, { shards: 2 });
  const id = store.newId();
  const meta = plainMeta(id);
  await store.enqueue(meta, Buffer.from('hello'), [
    { hop: 'onprem', rcpts: [{ rcpt: 'a@contoso.edu', orig: 'a@contoso.edu', reason: 'mailbox' }] },
  ]);
  proxy.armNext();
  // the unit's hash is answered, the message's meta and body are cut: this used to fail the
  // delivery, and the unit waited out its lease
  const loaded = await store.load(`${id}.0`);
  expect(proxy.cuts).toBe(1);
  expect(loaded?.meta).toEqual(meta);
  expect(loaded?.unit.hop).toBe('onprem');
});

it("copies a delta's overlay again when the transaction's EXEC is not answered (a COPY onto its own copy does nothing)", async () => {
  const from = await createSnapshot(env.redis, env.keys, 'corp', 2);
  const stage = new FreshStage(env.redis, env.keys, from, { expectedAddresses: 100 });
  for (const o of objects(20)) stage.add(o, 10);
  await stage.take().send();
  const to = await createSnapshot(env.redis, env.keys, 'corp', 2);
  proxy.armNext();
  await copyOverlay({ redis: client, keys: env.keys, versionsKept: 5 }, from, to);
  expect(proxy.cuts).toBe(1);
  for (const hash of ['obj', 'addr', 'tgt'] as const) {
    expect(await hgetallSharded(env.redis, env.keys, to, hash)).toEqual(await hgetallSharded(env.redis, env.keys, from, hash));
  }
  expect(Object.keys(await hgetallSharded(env.redis, env.keys, to, 'addr'))).toHaveLength(40);
});
