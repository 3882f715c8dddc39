/**
 * A relay's lookups cache the layout of the table version they last saw (src/store/lookup.ts).
 * A table that is wiped (a Redis restarted without its data, an operator's FLUSHALL) and
 * published again starts its version numbers over, and the same number can name other
 * snapshots: the first publish of a table sets a new epoch (publish.lua), and a cached layout
 * of another epoch is loaded again instead of naming keys that are gone or someone else's.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { createSnapshot } from '../../src/store/snapshot.js';
import { lookup, readCurrent } from '../../src/store/table.js';
import { lookupTargets } from '../../src/store/target-lookup.js';
import { csvFixture, testEnv, type TestEnv } from '../helpers/env.js';

let env: TestEnv;
beforeEach(async () => {
  env = await testEnv();
});
afterEach(async () => env.cleanup());

it('a table wiped and published again under the same version number is looked up in its new snapshots', async () => {
  const publish = () => importCsvde(env.deps, env.source('corp'), csvFixture('contoso.csv'));
  const found = async (): Promise<[string | undefined, string | undefined]> => {
    const [address] = await lookup(env.redis, env.keys, ['ada.lovelace@contoso.edu']);
    const [target] = await lookupTargets(env.redis, env.keys, ['ada.ivanov@live.contoso.edu']);
    return [address?.state === 'ok' ? address.object?.dn : address?.state, target?.state === 'ok' ? target.object?.dn : target?.state];
  };
  await publish();
  const before = await readCurrent(env.redis, env.keys);
  const dns = await found(); // cached: version 1 and its layout
  expect(dns[0]).toMatch(/^CN=Lovelace\\, Ada,/);
  expect(dns[1]).toMatch(/^CN=/);
  const epoch = await env.redis.get(env.keys.tableEpoch);
  expect(epoch).toMatch(/^[0-9a-f]{16}$/);

  await env.clear(); // the table is gone: lookups say so
  expect(await found()).toEqual(['no-table', 'no-table']);
  // published again: version 1 once more, its snapshot another (a staging left from before the wipe took id 1)
  await createSnapshot(env.redis, env.keys, 'corp', 4);
  await publish();
  const after = await readCurrent(env.redis, env.keys);
  expect(after?.version).toBe(before?.version);
  expect(after?.snapshots.get('corp')).not.toBe(before?.snapshots.get('corp'));
  const epoch2 = await env.redis.get(env.keys.tableEpoch);
  expect(epoch2).toMatch(/^[0-9a-f]{16}$/);
  expect(epoch2).not.toBe(epoch);
  expect(await found()).toEqual(dns);

  // a later publish keeps the epoch
  await importCsvde(env.deps, env.source('students'), csvFixture('students.csv'));
  expect(await env.redis.get(env.keys.tableEpoch)).toBe(epoch2);
});
