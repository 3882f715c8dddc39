/**
 * What one staged object costs Redis (B4, issue 15): the staging script run through
 * `stageBatch` against a private Redis, batches of STAGE_BATCH with STAGE_IN_FLIGHT in flight
 * (src/pipeline/stage-pace.ts), objects shaped as bench/generate-csvde.ts makes them (3
 * addresses each, 40 % with a targetAddress). Three phases, each into a new snapshot of
 * --shards shards: a first import (no old state), a re-import of the same objects (all
 * unchanged) and one where every object changed but kept its addresses (as B4's re-imports),
 * both against the first snapshot. Per phase, from INFO commandstats: Redis time per object
 * (EVALSHA's), the Redis calls the script made per object, then bench/redis-probe.ts' lines
 * (EVALSHA histogram, SLOWLOG over 0.3 ms, LATENCY LATEST). --pad-keys K declares K more
 * (unused) keys with every script: what naming fewer keys would save.
 *
 *   npm run build && node dist/bench/stage-cost.js [--rows 333334] [--shards 32] [--pad-keys 0]
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedis } from '../src/main/embedded-redis.js';
import { projectRoot } from '../src/main/paths.js';
import { Window } from '../src/pipeline/stage-pace.js';
import type { RecipientObject } from '../src/routing/object.js';
import { createKeys } from '../src/store/keys.js';
import type { SnapshotLayout, StateLayout } from '../src/store/sharded.js';
import { createSnapshot, stageArgs, stageBatch } from '../src/store/snapshot.js';
import { benchStagePace } from './lib.js';
import { configureProbe, probeReport, shippedRedisConfig } from './redis-probe.js';

const { batch: STAGE_BATCH, inFlight: STAGE_IN_FLIGHT } = benchStagePace();

const arg = (name: string, d: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const ROWS = arg('--rows', 333_334);
const SHARDS = arg('--shards', 32);
const SLOW_US = 300;
const PAD_KEYS = arg('--pad-keys', 0);

/** `redis` with PAD_KEYS unused keys added to every EVALSHA (after the script's own keys). */
function padded(redis: Redis): Redis {
  if (PAD_KEYS === 0) return redis;
  const pad = Array.from({ length: PAD_KEYS }, (_, i) => `{sc}:pad:${i}`);
  return new Proxy(redis, {
    get(target, prop, receiver) {
      if (prop !== 'evalsha') return Reflect.get(target, prop, receiver) as unknown;
      return (sha: string, count: number, ...rest: (string | number)[]) =>
        target.evalsha(sha, count + PAD_KEYS, ...rest.slice(0, count), ...pad, ...rest.slice(count));
    },
  });
}

/** Object i as the Csvde reader builds generatedRow(i, seed). */
function objectOf(i: number, seed: number): RecipientObject {
  const n = `u${i}`;
  const kind = i % 10;
  const name = `User ${i}${seed ? ` r${seed}` : ''}`;
  const dn = `CN=User ${i}\\, Test,OU=${kind < 6 ? 'Staff' : kind < 9 ? 'Cloud' : 'Contacts'},DC=contoso,DC=edu`;
  const addresses = [`${n}@contoso.edu`, `${n}@alias.contoso.edu`, `${n}@mail.contoso.edu`];
  return {
    source: 'corp',
    id: dn,
    dn,
    kind: kind < 6 ? 'mailbox' : kind < 9 ? 'mailUser' : 'contact',
    primary: addresses[0],
    addresses,
    ...(kind < 6 ? {} : { target: `${n}@live.contoso.edu` }),
    displayName: name,
    givenName: 'User',
    sn: 'Test',
    cn: name,
    mailNickname: n,
  };
}

async function stageAll(redis: Redis, snap: SnapshotLayout, old: StateLayout | undefined, seed: number): Promise<string> {
  const window = new Window(STAGE_IN_FLIGHT);
  const statuses = new Map<string, number>();
  let batchId = 0;
  let addressesNew = 0;
  let addressesKept = 0;
  for (let from = 0; from < ROWS; from += STAGE_BATCH) {
    const objects = Array.from({ length: Math.min(STAGE_BATCH, ROWS - from) }, (_, k) => objectOf(from + k, seed));
    await window.run(async () => {
      const r = await stageBatch(client, keys, snap, old, stageArgs(++batchId, objects, 10));
      for (const s of r.status) statuses.set(s, (statuses.get(s) ?? 0) + 1);
      addressesNew += r.addressesNew;
      addressesKept += r.addressesKept;
    });
  }
  await window.drain();
  const objects = [...statuses].map(([s, n]) => `${n} ${s}`).join(', ');
  return `${objects}; addresses ${addressesNew} new, ${addressesKept} kept`;
}

/** Redis time of the scripts and the calls they made, per object, from INFO commandstats. */
async function perObject(admin: Redis): Promise<string> {
  const info = await admin.info('commandstats');
  let scriptUs = 0;
  let scripts = 0;
  const calls: string[] = [];
  let total = 0;
  for (const m of info.matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+)/g)) {
    const [, cmd, n, us] = m;
    if (cmd === 'evalsha' || cmd === 'eval') {
      scriptUs += Number(us);
      scripts += Number(n);
    } else if (cmd !== 'info' && cmd !== 'config' && cmd !== 'slowlog' && cmd !== 'latency') {
      total += Number(n);
      calls.push(`${cmd} ${(Number(n) / ROWS).toFixed(2)}`);
    }
  }
  return (
    `${(scriptUs / ROWS).toFixed(2)} µs of Redis time per object (${scripts} scripts, ${(scriptUs / Math.max(1, scripts)).toFixed(0)} µs each); ` +
    `${(total / ROWS).toFixed(2)} Redis calls per object (${calls.join(', ')})`
  );
}

const dir = join(tmpdir(), `switchyard-stage-cost-${process.pid}`);
const server = await startRedis({
  dir,
  extraConfig: shippedRedisConfig(projectRoot()).filter((l) => !/^(appendonly|appendfsync)\b/.test(l)),
});
const redis = new Redis(server.url);
const admin = new Redis(server.url);
const client = padded(redis);
const keys = createKeys('sc');
try {
  console.log(
    `stage cost: ${ROWS} objects × 3 addresses, ${SHARDS} shards, batches of ${STAGE_BATCH}, ${STAGE_IN_FLIGHT} in flight, ${PAD_KEYS} keys added`,
  );
  await configureProbe(admin, SLOW_US, 1);
  const first = await createSnapshot(redis, keys, 'corp', SHARDS);
  const phases: [string, StateLayout | undefined, number][] = [
    ['first import (no old state)', undefined, 0],
    ['re-import, every object unchanged', { base: first }, 0],
    ['re-import, every object changed, same addresses', { base: first }, 1],
  ];
  for (const [label, old, seed] of phases) {
    const snap = old ? await createSnapshot(redis, keys, 'corp', SHARDS) : first;
    await admin.config('RESETSTAT');
    const t = performance.now();
    const statuses = await stageAll(redis, snap, old, seed);
    const seconds = (performance.now() - t) / 1000;
    console.log(`  ${label}: ${statuses} in ${seconds.toFixed(1)} s`);
    console.log(`    ${await perObject(admin)}`);
    for (const line of await probeReport(admin, SLOW_US)) console.log(`    ${line}`);
  }
} finally {
  redis.disconnect();
  admin.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
