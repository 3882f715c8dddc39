/**
 * A full staging yields Redis to relays that answer RCPTs from the published table, and runs
 * at full speed when none does (src/pipeline/staging-pace.ts): a real relay marks the table
 * as read for a few seconds after it answers a recipient (src/store/lookup-beacon.ts).
 */
import { afterEach, expect, it } from 'vitest';
import { formatPublish } from '../../src/cli/format.js';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { BEACON_TTL_MS } from '../../src/store/lookup-beacon.js';
import { csvFixture } from '../helpers/env.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { sendMail } from '../helpers/smtp.js';

let t: RelayEnv | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

it('a re-import is paced while a relay answers RCPTs, and unpaced before any has', async () => {
  t = await relayEnv(); // the demo directory published, the relay listening
  const { redis, keys } = t.env;
  const deps = { ...t.env.deps, stage: { batch: 5, inFlight: 2, duty: 0.25 } };
  expect(await redis.exists(keys.lookupsSeen)).toBe(0);
  const quiet = await importCsvde(deps, t.env.source('corp'), csvFixture('contoso.csv'));
  expect(quiet.paced).toBeUndefined();

  await sendMail({ port: t.port, from: 'sender@example.org', to: ['ada.lovelace@contoso.edu'] });
  const ttl = await redis.pttl(keys.lookupsSeen);
  expect(ttl).toBeGreaterThan(0);
  expect(ttl).toBeLessThanOrEqual(BEACON_TTL_MS);

  const busy = await importCsvde(deps, t.env.source('corp'), csvFixture('contoso.csv'));
  // every one of the 267 objects' batches of 5 paced, and what was staged is the same
  expect(busy.paced).toMatchObject({ duty: 0.25, batches: Math.ceil(267 / 5) });
  expect(formatPublish(busy)).toMatch(
    /^ {2}paced {6}54 batches while relays answered, \d+\.\d\d s charged as Redis time, \d+\.\d\d s paused for their lookups \(table\.stageDuty 0\.25\)$/m,
  );
  // a result from a worker of the release before, without the Redis time
  const older = { ...busy, paced: { duty: 0.25, pausedMs: 80, batches: 54 } };
  expect(formatPublish(older)).toMatch(
    /^ {2}paced {6}54 batches while relays answered, 0\.08 s paused for their lookups \(table\.stageDuty 0\.25\)$/m,
  );
  expect(formatPublish(quiet)).not.toMatch(/paced/);
  expect(busy.counts).toEqual(quiet.counts);
  expect(busy.counts).toMatchObject({ objects: 267, unchanged: 267 });
});
