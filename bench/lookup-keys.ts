/**
 * What naming every object shard costs a lookup (B4, issue 15): the lookup script run by a
 * client against a private Redis holding one snapshot of N shards, once with every object
 * shard in KEYS (as shipped) and once with a script that is given only the one object shard
 * the address needs (found beforehand, for this measurement only), and once with the shipped
 * script given only that shard as a state of one object shard (the same script work, fewer
 * keys: what the key count alone costs). Prints Redis time per call (INFO commandstats) and
 * the client round trip, back to back on one connection.
 *
 *   npm run build && node dist/bench/lookup-keys.js [--addresses 200000] [--calls 20000]
 */
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { startRedis } from '../src/main/embedded-redis.js';
import { shardKeys, createKeys } from '../src/store/keys.js';
import { scripts } from '../src/store/scripts.js';
import { addressShard, objectRef, refShard } from '../src/store/shards.js';

const arg = (name: string, d: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const ADDRESSES = arg('--addresses', 200_000);
const CALLS = arg('--calls', 20_000);
const SHARDS = 32;
const dir = join(tmpdir(), `switchyard-lookup-keys-${process.pid}`);
const server = await startRedis({ dir });
const redis = new Redis(server.url);
const keys = createKeys('lk');
try {
  const id = '1';
  const pipe = redis.pipeline();
  for (let i = 0; i < ADDRESSES; i++) {
    const address = `u${i}@contoso.edu`;
    const ref = objectRef(`o${i}`);
    pipe.hset(keys.snapshotAddresses(id, addressShard(address, SHARDS)), address, ref);
    pipe.hset(keys.snapshotObjects(id, refShard(ref, SHARDS)), ref, `{"r":"a","i":${i}}`);
    if (i % 10_000 === 9_999) await pipe.exec().then(() => undefined);
  }
  await redis.set(keys.current, '1');
  const objectKeys = shardKeys(keys, id, 'obj', SHARDS);
  const onlyOne = `local v = redis.call('GET', KEYS[1]) if v ~= ARGV[1] then return {'STALE', v} end
local ref = redis.call('HGET', KEYS[3], ARGV[2]) if not ref then return {v, false} end
return {v, redis.call('HGET', KEYS[2], ref)}`;
  const shaOne = (await redis.script('LOAD', onlyOne)) as string;
  await redis.script('LOAD', scripts.lookup.source);
  const rounds: [string, (a: string) => Promise<unknown>][] = [
    [
      `all ${SHARDS} object shards in KEYS (shipped)`,
      (a) =>
        redis.evalsha(
          scripts.lookup.sha,
          2 + SHARDS,
          keys.current,
          ...objectKeys,
          keys.snapshotAddresses(id, addressShard(a, SHARDS)),
          '1',
          1,
          SHARDS,
          0,
          a,
        ),
    ],
    [
      'shipped script, only the needed object shard in KEYS',
      (a) => {
        const i = Number(a.slice(1, a.indexOf('@')));
        const obj = keys.snapshotObjects(id, refShard(objectRef(`o${i}`), SHARDS));
        return redis.evalsha(
          scripts.lookup.sha,
          3,
          keys.current,
          obj,
          keys.snapshotAddresses(id, addressShard(a, SHARDS)),
          '1',
          1,
          1,
          0,
          a,
        );
      },
    ],
    [
      'a minimal script, only the needed object shard in KEYS',
      async (a) => {
        const i = Number(a.slice(1, a.indexOf('@')));
        const obj = keys.snapshotObjects(id, refShard(objectRef(`o${i}`), SHARDS));
        return redis.evalsha(shaOne, 3, keys.current, obj, keys.snapshotAddresses(id, addressShard(a, SHARDS)), '1', a);
      },
    ],
  ];
  for (let round = 0; round < 2; round++) {
    for (const [label, call] of rounds) {
      await redis.config('RESETSTAT');
      const times: number[] = [];
      for (let c = 0; c < CALLS; c++) {
        const a = `u${Math.floor(Math.random() * ADDRESSES)}@contoso.edu`;
        const t = performance.now();
        const r = (await call(a)) as unknown[];
        times.push(performance.now() - t);
        if (!r[1]) throw new Error(`${label}: ${a} not found`);
      }
      times.sort((x, y) => x - y);
      const info = await redis.info('commandstats');
      const us = /cmdstat_evalsha:calls=\d+,usec=\d+,usec_per_call=([\d.]+)/.exec(info)?.[1];
      const p = (q: number): string => (times[Math.floor(q * times.length)] ?? NaN).toFixed(3);
      console.log(`${label}: Redis ${us} µs per call; round trip p50 ${p(0.5)} ms, p99 ${p(0.99)} ms`);
    }
  }
} finally {
  redis.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
