/**
 * An import that published but whose run record cannot be written (src/store/runs.ts): every
 * time the CLI sends the record's transaction, the connection is cut after MULTI's answer,
 * so ioredis rejects it with AbortError; after execResent's five sends the CLI gives up on the
 * record. The import succeeded (its table is published), so the command says so on stderr and
 * exits 0; it used to record a failed run over it and exit 1. The CLI in a process of its own,
 * talking to the test's Redis through test/helpers/cutting-proxy.ts. The same for an import
 * or sync job on a worker (jobs/import.ts, jobs/sync.ts): the job completes with its result and logs
 * SY_RUN_RECORD_FAILED; it is neither failed nor retried.
 */
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, beforeEach, expect, inject, it } from 'vitest';
import { IMPORT_QUEUE, SYNC_QUEUE } from '../../src/jobqueue/queues.js';
import { startWorker } from '../../src/main/worker.js';
import { readRuns } from '../../src/store/runs.js';
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
  // the configuration names the proxy; corp's path is for the sync job
  env = await testEnv(
    (raw) => Object.assign((raw.sources as Record<string, unknown>[])[0]!, { path: csvFixture('contoso.csv') }),
    proxy.url,
  );
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
  expect(r.stderr).toMatch(/the run finished but its record was not confirmed \(status may show the previous run\): .*aborted/i);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^published table version 1/);
  expect(proxy.cuts).toBe(5); // execResent's sends, each cut after MULTI's +OK
  expect((await readCurrent(direct, env.keys))?.version).toBe(1);
});

it.each(['import', 'sync'] as const)(
  '%s: the job completes with its result and logs SY_RUN_RECORD_FAILED when its run cannot be recorded',
  async (kind) => {
    const lines: string[] = [];
    const worker = await startWorker({
      config: env.config,
      log: pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }),
      backoffMs: 300,
    });
    // QueueEvents duplicates the connection it is given: this one is closed below
    const connection = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
    const events = new QueueEvents(kind === 'import' ? IMPORT_QUEUE : SYNC_QUEUE, {
      connection,
      prefix: env.keys.bullPrefix,
    });
    try {
      await events.waitUntilReady();
      proxy.cutAfterSending(env.keys.lastRuns);
      const job =
        kind === 'import'
          ? await worker.queues.import.add('import', { source: 'corp', file: csvFixture('contoso.csv') })
          : await worker.queues.sync.add('sync', { source: 'corp', mode: 'full', trigger: 'request' });
      const result = (await job.waitUntilFinished(events, 30_000)) as { version: number };
      expect(result.version).toBe(1);
      const done = await worker.queues[kind].getJob(job.id as string);
      expect(done?.attemptsMade).toBe(1); // completed on its first attempt: not failed, not retried
      expect(await done?.isCompleted()).toBe(true);
      expect(proxy.cuts).toBe(5);
      const failed = lines
        .map((l) => JSON.parse(l) as { event?: string; job?: string; source?: string })
        .filter((l) => l.event === 'SY_RUN_RECORD_FAILED');
      expect(failed).toEqual([expect.objectContaining({ job: job.id, source: 'corp' })]);
      expect((await readCurrent(direct, env.keys))?.version).toBe(1);
      // the proxy cuts the answers, not the requests: Redis ran the record's transaction, the worker never knew.
      // What matters is that no failure was written over the run
      expect((await readRuns(direct, env.keys)).get('corp')).toMatchObject({ ok: true, version: 1 });
    } finally {
      proxy.cutAfterSending(undefined);
      await events.close();
      connection.disconnect();
      await worker.close();
    }
  },
);
