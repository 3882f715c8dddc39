/**
 * Sync and import jobs on BullMQ with node-cron schedules (SPEC §6), real Redis and slapd:
 * retries, permanent failures, coalescing, one run per scheduled slot across workers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueEvents, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeGeneratedCsvde } from '../../bench/generate-csvde.js';
import { ADMIN_DN, SERVICE_DN } from '../../testkit/embedded-slapd.js';
import { Attribute, Change, Client } from 'ldapts';
import { syncSource } from '../../src/pipeline/sync-source.js';
import { createResolver } from '../../src/resolver/resolver.js';
import { routingContext } from '../../src/routing/decide.js';
import { createLogger } from '../../src/log/logger.js';
import { startWorker, type WorkerOptions, type WorkerProcess } from '../../src/main/worker.js';
import { SYNC_QUEUE, syncJobOptions, type SyncJobData } from '../../src/jobqueue/queues.js';
import { readRuns } from '../../src/store/runs.js';
import { readCurrent } from '../../src/store/table.js';
import { hlenSharded } from '../../src/store/sharded.js';
import { readLayouts } from '../../src/store/snapshot.js';
import { csvFixture, testEnv, type TestEnv } from '../helpers/env.js';
import { fixtureSlapd, slapdSource } from '../helpers/slapd.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'switchyard.js');
let slapd: Awaited<ReturnType<typeof fixtureSlapd>>;
let big: string;

beforeAll(async () => {
  slapd = await fixtureSlapd();
  big = join(mkdtempSync(join(tmpdir(), 'sy-jobs-')), 'big.csv');
  await writeGeneratedCsvde(big, 60_000);
});
afterAll(async () => slapd?.cleanup());

async function withWorker<T>(
  env: TestEnv,
  fn: (w: WorkerProcess, events: QueueEvents) => Promise<T>,
  secrets: NodeJS.ProcessEnv = {},
  timing: Partial<WorkerOptions> = {},
): Promise<T> {
  const worker = await startWorker({
    config: env.config,
    log: createLogger('test-worker', 'silent'),
    env: { SY_TEST_LDAP_PASSWORD: slapd.servicePassword, ...secrets },
    backoffMs: 300,
    ...timing,
  });
  const connection = new Redis(env.redisUrl, { maxRetriesPerRequest: null });
  const events = new QueueEvents(SYNC_QUEUE, { connection, prefix: env.keys.bullPrefix, lastEventId: '0-0' });
  await events.waitUntilReady();
  try {
    return await fn(worker, events);
  } finally {
    await events.close();
    connection.disconnect();
    await worker.close();
  }
}

const ldapSource = (over: Record<string, unknown> = {}): Record<string, unknown> => slapdSource(slapd, over);
const request = (source: string): SyncJobData => ({ source, mode: 'full', trigger: 'request' });

describe('sync jobs', () => {
  it('a requested sync runs on the worker, reports its result and is recorded for status', async () => {
    const env = await testEnv((raw) => (raw.sources as unknown[]).push(ldapSource()));
    try {
      await withWorker(env, async (w, events) => {
        const job = await w.queues.sync.add('sync', request('corp-ad'), syncJobOptions(request('corp-ad')));
        const result = (await job.waitUntilFinished(events)) as { version: number; counts: { objects: number } };
        expect(result).toMatchObject({ mode: 'full', trigger: 'request', version: 1, counts: { objects: 267 } });
        // progress (objects read / written) was reported on the job
        expect((await w.queues.sync.getJob(job.id as string))?.progress).toEqual({ read: 267, written: 267 });
        const runs = await readRuns(env.redis, env.keys);
        expect(runs.get('corp-ad')).toMatchObject({ kind: 'sync', ok: true, version: 1, counts: { objects: 267 } });
      });
    } finally {
      await env.cleanup();
    }
  });

  it('a wrong password fails at once, without retries, with the reason', async () => {
    const env = await testEnv((raw) => (raw.sources as unknown[]).push(ldapSource({ bindPasswordEnv: 'SY_WRONG_PASSWORD' })));
    try {
      await withWorker(
        env,
        async (w, events) => {
          const job = await w.queues.sync.add('sync', request('corp-ad'), syncJobOptions(request('corp-ad')));
          await expect(job.waitUntilFinished(events)).rejects.toThrow(
            `source corp-ad: connect and bind as ${SERVICE_DN}: invalid credentials (check bindDn and the password)`,
          );
          const failed = (await w.queues.sync.getJob(job.id as string)) as Job;
          expect(failed.attemptsMade).toBe(1);
          expect((await readRuns(env.redis, env.keys)).get('corp-ad')).toMatchObject({
            ok: false,
            error: expect.stringContaining('invalid credentials'),
          });
        },
        { SY_WRONG_PASSWORD: 'not-the-password' },
      );
    } finally {
      await env.cleanup();
    }
  });

  it('slapd down: the job fails, retries with backoff, and succeeds once slapd is back; the table is unchanged meanwhile', async () => {
    const env = await testEnv((raw) => (raw.sources as unknown[]).push(ldapSource()));
    try {
      await withWorker(env, async (w, events) => {
        await slapd.stop();
        const job = await w.queues.sync.add('sync', request('corp-ad'), syncJobOptions(request('corp-ad')));
        // wait until at least one attempt has failed
        const deadline = Date.now() + 10_000;
        while (((await w.queues.sync.getJob(job.id as string))?.attemptsMade ?? 0) < 1 && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 50));
        expect((await readRuns(env.redis, env.keys)).get('corp-ad')).toMatchObject({
          ok: false,
          error: expect.stringMatching(/^source corp-ad: /),
        });
        expect(await env.redis.get(env.keys.current)).toBeNull();
        await slapd.start();
        const result = (await job.waitUntilFinished(events)) as { counts: { objects: number } };
        expect(result.counts.objects).toBe(267);
        expect(((await w.queues.sync.getJob(job.id as string)) as Job).attemptsMade).toBeGreaterThanOrEqual(1);
      });
    } finally {
      await env.cleanup();
    }
  });

  it('requests made while a sync runs are coalesced per mode, and a full and a delta of one source never overlap', async () => {
    const env = await testEnv((raw) => ((raw.sources as Record<string, unknown>[])[0]!.path = big));
    try {
      await withWorker(env, async (w, events) => {
        const first = await w.queues.sync.add('sync', request('corp'), syncJobOptions(request('corp')));
        while ((await first.getState()) !== 'active') await new Promise((r) => setTimeout(r, 10));
        const more = await Promise.all([1, 2, 3, 4].map(() => w.queues.sync.add('sync', request('corp'), syncJobOptions(request('corp')))));
        // a delta request for the same source (a csvde source runs it as a full re-read) waits for the lock
        const delta: SyncJobData = { source: 'corp', mode: 'delta', trigger: 'request' };
        await w.queues.sync.add('sync', delta, syncJobOptions(delta));
        await first.waitUntilFinished(events);
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline && ((await w.queues.sync.getCompletedCount()) < 3 || (await w.queues.sync.getActiveCount()) > 0)) {
          await new Promise((r) => setTimeout(r, 20));
        }
        // the runs' processing intervals (final attempts) never overlap
        const done = (await w.queues.sync.getJobs(['completed']))
          .map((j) => [j.processedOn ?? 0, j.finishedOn ?? 0] as const)
          .sort((a, b) => a[0] - b[0]);
        expect(done).toHaveLength(3);
        for (let i = 1; i < done.length; i++)
          expect((done[i] as readonly [number, number])[0]).toBeGreaterThanOrEqual((done[i - 1] as readonly [number, number])[1]);
        expect(more.length).toBe(4);
        // the first full, one coalesced full follow-up, the delta — one after another
        expect(Number(await env.redis.hget(env.keys.runCounts, 'corp'))).toBe(3);
      });
    } finally {
      await env.cleanup();
    }
  });
});

describe('requests never merged (SPEC §3.4)', () => {
  it('a dry run queued while a real sync of the same source waits: both run as asked, the dry run publishes nothing', async () => {
    const env = await testEnv((raw) => ((raw.sources as Record<string, unknown>[])[0]!.path = big));
    try {
      await withWorker(env, async (w, events) => {
        const first = await w.queues.sync.add('sync', request('corp'), syncJobOptions(request('corp')));
        while ((await first.getState()) !== 'active') await new Promise((r) => setTimeout(r, 10));
        const real = await w.queues.sync.add('sync', request('corp'), syncJobOptions(request('corp')));
        const dryData: SyncJobData = { ...request('corp'), dryRun: true };
        const dry = await w.queues.sync.add('sync', dryData, syncJobOptions(dryData));
        const forcedData: SyncJobData = { ...request('corp'), allowMassDelete: true };
        const forced = await w.queues.sync.add('sync', forcedData, syncJobOptions(forcedData));
        // the real request joins the running one's follow-up (the same job id: coalesced); the others do not
        expect(new Set([first.id, dry.id, forced.id]).size).toBe(3);
        expect([first.id, real.id]).not.toContain(dry.id);
        const published = (await first.waitUntilFinished(events)) as { version: number };
        const [dryResult, forcedResult] = (await Promise.all([dry.waitUntilFinished(events), forced.waitUntilFinished(events)])) as {
          dryRun: boolean;
          version?: number;
        }[];
        expect(dryResult).toMatchObject({ dryRun: true });
        expect(dryResult?.version).toBeUndefined();
        expect(forcedResult).toMatchObject({ dryRun: false, version: published.version });
        // the first, its coalesced follow-up, the dry run and the forced run: four runs
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline && Number(await env.redis.hget(env.keys.runCounts, 'corp')) < 4) {
          await new Promise((r) => setTimeout(r, 20));
        }
        expect(Number(await env.redis.hget(env.keys.runCounts, 'corp'))).toBe(4);
        expect((await readCurrent(env.redis, env.keys))?.version).toBe(published.version);
        expect(Number(await env.redis.hget(env.keys.runCounts, 'corp'))).toBe(4);
      });
    } finally {
      await env.cleanup();
    }
  });
});

describe('CLI through the queue', () => {
  it('sync and import go through the worker when one listens, inline with --inline or without one', async () => {
    const env = await testEnv((raw) => ((raw.sources as Record<string, unknown>[])[0]!.path = csvFixture('contoso.csv')));
    const { execFile } = await import('node:child_process');
    const cli = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [BIN, ...args, '--config', env.configFile],
          { env: { ...process.env, REDIS_URL: '' } },
          (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        );
      });
    try {
      const inline = await cli(['sync', 'corp', '--json']);
      expect(JSON.parse(inline.stdout)).toMatchObject({ queued: false, version: 1 });
      await withWorker(env, async () => {
        const viaWorker = await cli(['sync', 'corp', '--json']);
        expect(JSON.parse(viaWorker.stdout)).toMatchObject({ queued: true, trigger: 'request', unchanged: true, version: 1 });
        const imp = await cli(['import', csvFixture('students.csv'), '--source', 'students']);
        expect(imp.code).toBe(0);
        expect(imp.stdout).toMatch(/^published table version 2: source students/);
        expect((await readRuns(env.redis, env.keys)).get('students')).toMatchObject({ kind: 'import', trigger: 'request', ok: true });
        const forced = await cli(['sync', 'corp', '--inline', '--json']);
        expect(JSON.parse(forced.stdout)).toMatchObject({ queued: false });
        const bad = await cli(['import', csvFixture('bad-rows.csv'), '--source', 'corp']);
        expect(bad.code).toBe(1);
        expect(bad.stderr).toMatch(/^switchyard: refused: \d+ invalid entries, first at bad-rows\.csv:/m);
      });
      const status = JSON.parse((await cli(['status', '--json'])).stdout) as { schedule: unknown[] };
      expect(status.schedule).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            source: 'corp',
            runs: 4,
            lastRun: expect.objectContaining({ kind: 'import', ok: false, error: expect.stringMatching(/^refused: \d+ invalid entries/) }),
          }),
        ]),
      );
    } finally {
      await env.cleanup();
    }
  });
});

describe('schedules', () => {
  it('two worker processes with the same every-second schedule run each slot once', async () => {
    const env = await testEnv((raw) => {
      const src = (raw.sources as Record<string, unknown>[])[0]!;
      src.path = csvFixture('contoso.csv');
      src.schedule = '* * * * * *';
    });
    const workers: ChildProcess[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        workers.push(
          spawn(process.execPath, [BIN, 'worker', '--config', env.configFile], {
            env: { ...process.env, REDIS_URL: '', LOG_LEVEL: 'warn' },
            stdio: 'ignore',
          }),
        );
      }
      const deadline = Date.now() + 20_000;
      while (Number((await env.redis.hget(env.keys.runCounts, 'corp')) ?? 0) < 4 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      for (const w of workers) w.kill('SIGTERM');
      await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once('exit', r)))));
      const queue = (await import('bullmq')).Queue;
      const connection = new Redis(env.redisUrl, { maxRetriesPerRequest: null });
      const q = new queue(SYNC_QUEUE, { connection, prefix: env.keys.bullPrefix });
      const done = await q.getJobs(['completed', 'failed']);
      const slots = done.map((j) => (j.data as SyncJobData).slot);
      await q.close();
      connection.disconnect();
      const runs = Number(await env.redis.hget(env.keys.runCounts, 'corp'));
      expect(runs).toBeGreaterThanOrEqual(4);
      expect(new Set(slots).size).toBe(slots.length); // no slot twice
      expect(done.length).toBe(runs); // every run is one slot's one job
      expect(done.every((j) => j.id === `sync-corp-full-${((j.data as SyncJobData).slot ?? '').replace(/[^A-Za-z0-9_.-]/g, '_')}`)).toBe(
        true,
      );
    } finally {
      for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
      await env.cleanup();
    }
  });

  it('deltaSchedule runs delta syncs that bring a directory change to the routing decision', async () => {
    const env = await testEnv((raw) =>
      (raw.sources as unknown[]).push({
        name: 'people',
        type: 'ldap',
        mapping: 'openldap',
        url: slapd.ldapUrl,
        startTls: true, // a simple bind never goes over plain ldap:// (SPEC §2.2)
        caFile: slapd.caFile,
        bindDn: SERVICE_DN,
        bindPasswordEnv: 'SY_TEST_LDAP_PASSWORD',
        baseDn: 'ou=People,dc=contoso,dc=edu',
        mailboxConnector: 'onprem',
        deltaSchedule: '* * * * * *',
      }),
    );
    try {
      await syncSource(env.deps, env.source('people'), { env: { SY_TEST_LDAP_PASSWORD: slapd.servicePassword }, mode: 'full' });
      const resolver = createResolver({ redis: env.redis, keys: env.keys, context: routingContext(env.config) });
      await withWorker(env, async () => {
        const admin = new Client({ url: slapd.ldapUrl });
        await admin.bind(ADMIN_DN, slapd.adminPassword);
        await admin.modify(
          'uid=alan,ou=People,dc=contoso,dc=edu',
          new Change({
            operation: 'replace',
            modification: new Attribute({ type: 'mailRoutingAddress', values: ['alan@scheduled.example'] }),
          }),
        );
        await admin.unbind();
        const deadline = Date.now() + 20_000;
        let d = (await resolver.resolve(['alan.turing@contoso.edu'], false))[0];
        while (d?.recipient !== 'alan@scheduled.example' && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          d = (await resolver.resolve(['alan.turing@contoso.edu'], false))[0];
        }
        expect(d).toMatchObject({ reason: 'target-address', recipient: 'alan@scheduled.example' });
        // the job records its run after the publish it made (and its progress report): the
        // decision can change a moment before the run record exists
        let run = (await readRuns(env.redis, env.keys)).get('people');
        while (run === undefined && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          run = (await readRuns(env.redis, env.keys)).get('people');
        }
        expect(run).toMatchObject({
          kind: 'sync',
          mode: 'delta',
          trigger: 'schedule',
          ok: true,
        });
      });
    } finally {
      await env.cleanup();
    }
  });
});

describe('faults', () => {
  it('Redis restarts (AOF, as shipped) during a sync job: the job completes after it, the table is whole', async () => {
    const { startRedis } = await import('../../src/main/embedded-redis.js');
    const dir = mkdtempSync(join(tmpdir(), 'sy-jobs-redis-'));
    let redis = await startRedis({ dir, persistence: true });
    const env = await testEnv((raw) => ((raw.sources as Record<string, unknown>[])[0]!.path = big), redis.url);
    try {
      await withWorker(env, async (w) => {
        const job = await w.queues.sync.add('sync', request('corp'), syncJobOptions(request('corp')));
        while ((await job.getState()) !== 'active') await new Promise((r) => setTimeout(r, 10));
        await new Promise((r) => setTimeout(r, 300)); // mid-staging
        await redis.stop();
        redis = await startRedis({ dir, persistence: true, port: redis.port });
        const deadline = Date.now() + 60_000;
        let state = await job.getState().catch(() => 'unknown');
        while (state !== 'completed' && state !== 'failed' && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          state = await job.getState().catch(() => 'unknown');
        }
        expect(state).toBe('completed');
      });
      const resolver = createResolver({ redis: env.redis, keys: env.keys, context: routingContext(env.config) });
      const probe = ['u0@contoso.edu', 'u59999@contoso.edu', 'u30001@contoso.edu'];
      expect((await resolver.resolve(probe, false)).map((d) => d.reason)).toEqual(['mailbox', 'target-address', 'mailbox']);
      const published = (await env.redis.hget(env.keys.version((await env.redis.get(env.keys.current)) ?? '0'), 's:corp')) ?? 'x';
      const [layout] = await readLayouts(env.redis, env.keys, [published]);
      expect(layout && (await hlenSharded(env.redis, env.keys, layout, 'obj'))).toBe(60_000);
    } finally {
      await env.cleanup();
      await redis.stop();
    }
  });

  it('a worker killed with SIGKILL mid-sync: another worker takes the job over and publishes', async () => {
    const env = await testEnv((raw) => ((raw.sources as Record<string, unknown>[])[0]!.path = big));
    const victim = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '..', 'helpers', 'worker-process.ts'), env.configFile],
      { env: { ...process.env, REDIS_URL: '' }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        victim.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        victim.once('exit', (code) => reject(new Error(`worker process exited (${code})`)));
      });
      const connection = new Redis(env.redisUrl, { maxRetriesPerRequest: null });
      const queue = new (await import('bullmq')).Queue<SyncJobData>(SYNC_QUEUE, { connection, prefix: env.keys.bullPrefix });
      const job = await queue.add('sync', request('corp'), syncJobOptions(request('corp')));
      while ((await job.getState()) !== 'active') await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 300)); // mid-staging
      victim.kill('SIGKILL');
      await new Promise((r) => victim.once('exit', r));
      expect(await env.redis.get(env.keys.current)).toBeNull();
      await withWorker(
        env,
        async () => {
          const deadline = Date.now() + 30_000;
          while ((await job.getState()) !== 'completed' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
          expect(await job.getState()).toBe('completed');
        },
        {},
        { lockDurationMs: 2000, stalledIntervalMs: 1000, sourceLockTtlMs: 3000 },
      );
      await queue.close();
      connection.disconnect();
      const resolver = createResolver({ redis: env.redis, keys: env.keys, context: routingContext(env.config) });
      expect((await resolver.resolve(['u0@contoso.edu', 'u59999@contoso.edu'], false)).map((d) => d.reason)).toEqual([
        'mailbox',
        'target-address',
      ]);
    } finally {
      if (victim.exitCode === null) victim.kill('SIGKILL');
      await env.cleanup();
    }
  });
});
