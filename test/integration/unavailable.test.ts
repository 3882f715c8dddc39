/**
 * SPEC §4 step 6 with a real Redis that the test stops: never a 5xx because of an
 * outage. Uses its own redis-server (AOF on, as shipped) so it can stop and restart it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRedis, type EmbeddedRedis } from '../../src/main/embedded-redis.js';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { createResolver } from '../../src/resolver/resolver.js';
import { routingContext } from '../../src/routing/decide.js';
import { createRedis } from '../../src/store/redis.js';
import { csvFixture, onlySources, testEnv, type TestEnv } from '../helpers/env.js';

let dir: string;
let redis: EmbeddedRedis;
let env: TestEnv;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sy-outage-'));
  redis = await startRedis({ dir, persistence: true });
  env = await testEnv(onlySources('corp'), redis.url); // what it imports: a complete table answers 550
});
afterAll(async () => {
  env.redis.disconnect();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('answers 451 4.3.0 while Redis is down and routes again once it is back', async () => {
  const lookupClient = createRedis(env.config.redis, 'lookup');
  lookupClient.on('error', () => undefined);
  const resolver = createResolver({ redis: lookupClient, keys: env.keys, context: routingContext(env.config) });
  const probe = ['ada.lovelace@contoso.edu', 'nobody@chem.lab.contoso.edu', 'nobody@contoso.edu'];
  await new Promise((r) => lookupClient.once('ready', r));

  expect((await resolver.resolve(probe, false)).map((d) => d.smtp.slice(0, 9))).toEqual(['451 4.3.0', '451 4.3.0', '451 4.3.0']);
  await importCsvde(env.deps, env.source('corp'), csvFixture('contoso.csv'));
  expect((await resolver.resolve(probe, false)).map((d) => d.reason)).toEqual(['mailbox', 'unknown-recipient', 'internal-relay']);

  await redis.stop();
  const down = await resolver.resolve(probe, false);
  expect(down.map((d) => [d.action, d.smtp.slice(0, 9), d.reason])).toEqual(probe.map(() => ['defer', '451 4.3.0', 'temporary-failure']));
  // decisions that need no directory still work
  expect((await resolver.resolve(['x@example.org'], false))[0]?.smtp).toBe('554 5.7.1 Relay access denied');

  redis = await startRedis({ dir, persistence: true, port: redis.port });
  const deadline = Date.now() + 10_000;
  let back = await resolver.resolve(probe, false);
  while (back[0]?.reason !== 'mailbox' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    back = await resolver.resolve(probe, false);
  }
  expect(back.map((d) => d.reason)).toEqual(['mailbox', 'unknown-recipient', 'internal-relay']);
  lookupClient.disconnect();
});
