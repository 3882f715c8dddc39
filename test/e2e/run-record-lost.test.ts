/**
 * An import that published but whose run record cannot be written (src/store/runs.ts): every
 * time the CLI sends the record's transaction, the connection is cut after MULTI's answer,
 * so ioredis rejects it with AbortError; after execResent's five sends the CLI gives up on the
 * record. The import succeeded (its table is published), so the command says so on stderr and
 * exits 0; it used to record a failed run over it and exit 1. The CLI in a process of its own,
 * talking to the test's Redis through test/helpers/cutting-proxy.ts.
 */
import { Redis } from 'ioredis';
import { afterEach, beforeEach, expect, inject, it } from 'vitest';
import { readCurrent } from '../../src/store/table.js';
import { runCli } from '../helpers/cli.js';
import { startCuttingProxy, type CuttingProxy } from '../helpers/cutting-proxy.js';
import { csvFixture, testEnv, type TestEnv } from '../helpers/env.js';

let proxy: CuttingProxy;
let env: TestEnv;
let direct: Redis;

beforeEach(async () => {
  direct = new Redis(inject('redisUrl'));
  proxy = await startCuttingProxy(inject('redisUrl'));
  env = await testEnv(undefined, proxy.url); // the CLI's configuration names the proxy
});
afterEach(async () => {
  proxy.cutAfterSending(undefined); // the clean-up unlinks the record too
  await env.cleanup();
  await proxy.close();
  direct.disconnect();
});

it('exits 0 and says so when a published import cannot record its run', async () => {
  proxy.cutAfterSending(env.keys.lastRuns);
  const r = await runCli(['import', csvFixture('contoso.csv'), '--source', 'corp'], env.configFile);
  expect(r.stderr).toMatch(/the run finished but was not recorded \(status shows the previous run\): .*aborted/i);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^published table version 1/);
  expect(proxy.cuts).toBe(5); // execResent's sends, each cut after MULTI's +OK
  expect((await readCurrent(direct, env.keys))?.version).toBe(1);
});
