/**
 * The worker process (`switchyard worker`, part of `switchyard up`): BullMQ workers for
 * the sync and import queues running the processors of jobs/, and the node-cron schedules.
 * `switchyard up` runs the processors on a thread of their own (job-thread-host.ts), so a
 * million-object staging never holds the relay's event loop; the schedules stay here.
 */
import { publishDeps } from '../pipeline/deps.js';
import { Worker } from 'bullmq';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { CONTACTS_QUEUE, createQueues, IMPORT_QUEUE, MAILFLOW_QUEUE, SYNC_QUEUE, type Queues } from '../jobqueue/queues.js';
import { createKeys } from '../store/keys.js';
import { createRedis } from '../store/redis.js';
import { migrateOnStart } from './migrate-on-start.js';
import { assertLdaptsInternals } from '../directory/ldap/ldapts-internals.js';
import { contactsProcessor } from '../../jobs/contacts.js';
import { importProcessor } from '../../jobs/import.js';
import { startSchedules, type Schedules } from '../../jobs/schedules.js';
import { syncProcessor } from '../../jobs/sync.js';
import { mailflowProcessor } from '../../jobs/mailflow.js';
import type { JobContext } from '../../jobs/context.js';

export interface WorkerProcess {
  readonly queues: Queues;
  /** The running schedules (replaced by a reload). */
  readonly schedules: Schedules;
  /**
   * Applies a reloaded configuration (already validated) to jobs that start from now on —
   * sources, table retention — and rebuilds the schedules; a job in progress finishes
   * under the configuration it started with.
   */
  reconfigure(config: Config): Promise<void>;
  close(): Promise<void>;
}

/** The BullMQ workers running jobs/ processors, here or on a thread (job-thread-host.ts). */
export interface Processors {
  /** Applies a reloaded configuration to jobs that start from now on. */
  reconfigure(config: Config): Promise<void>;
  /** Waits for the jobs in progress, then stops taking jobs. */
  close(): Promise<void>;
}

/** Starts the processors elsewhere (on a thread): `switchyard up`. */
export type ProcessorStarter = (opts: ProcessorOptions) => Promise<Processors>;

export interface WorkerOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly env?: NodeJS.ProcessEnv;
  /** First retry delay of a failed job (exponential backoff from there). */
  readonly backoffMs?: number;
  /**
   * How soon a job of a crashed worker is taken over: its BullMQ lock lapses after
   * `lockDurationMs` (default 30 s), stalled jobs are looked for every `stalledIntervalMs`
   * (30 s), and the source's sync lock lapses after `sourceLockTtlMs` (60 s).
   */
  readonly lockDurationMs?: number;
  readonly stalledIntervalMs?: number;
  readonly sourceLockTtlMs?: number;
  /** Where the processors run: here (the default), or what this starts (a thread). */
  readonly startProcessors?: ProcessorStarter;
}

/** What the processors need: plain data, so that it can cross to a thread. */
export type ProcessorOptions = Omit<WorkerOptions, 'log' | 'backoffMs' | 'startProcessors'> & { readonly env: NodeJS.ProcessEnv };

/**
 * The BullMQ workers of the four queues on their own Redis connection (a blocking one:
 * BullMQ waits for jobs on it), logging to `log`.
 */
export async function startProcessors(opts: ProcessorOptions, log: Logger): Promise<Processors> {
  const { config, env } = opts;
  if (config.sources.some((s) => s.type === 'ldap')) assertLdaptsInternals();
  const redis = createRedis(config.redis, 'worker', env);
  const keys = createKeys(config.redis.namespace);
  // processors read ctx.config when a job starts; a reload assigns a new one
  const ctx: { -readonly [K in keyof JobContext]: JobContext[K] } = {
    ...publishDeps(redis, keys, config),
    config,
    log,
    env,
    ...(opts.sourceLockTtlMs ? { sourceLockTtlMs: opts.sourceLockTtlMs } : {}),
  };
  const workerOpts = {
    connection: redis,
    prefix: keys.bullPrefix,
    ...(opts.lockDurationMs ? { lockDuration: opts.lockDurationMs } : {}),
    ...(opts.stalledIntervalMs ? { stalledInterval: opts.stalledIntervalMs } : {}),
  };
  const workers = [
    new Worker(SYNC_QUEUE, syncProcessor(ctx), { ...workerOpts, concurrency: Math.max(1, config.sources.length) }),
    new Worker(IMPORT_QUEUE, importProcessor(ctx), { ...workerOpts, concurrency: 1 }),
    new Worker(CONTACTS_QUEUE, contactsProcessor(ctx), { ...workerOpts, concurrency: 1 }),
    new Worker(MAILFLOW_QUEUE, mailflowProcessor(ctx), { ...workerOpts, concurrency: 1 }),
  ];
  for (const w of workers) {
    w.on('error', (err) => log.error({ event: 'SY_WORKER_ERROR', queue: w.name, err: err.message }, 'worker error'));
    w.on('failed', (job, err) =>
      log.warn({ event: 'SY_JOB_FAILED', queue: w.name, job: job?.id, attempts: job?.attemptsMade, err: err.message }, 'job failed'),
    );
  }
  try {
    await Promise.all(workers.map((w) => w.waitUntilReady()));
  } catch (err) {
    await Promise.all(workers.map((w) => w.close(true).catch(() => undefined)));
    redis.disconnect();
    throw err;
  }
  return {
    reconfigure(next) {
      Object.assign(ctx, publishDeps(redis, keys, next), { config: next });
      const [syncWorker] = workers;
      if (syncWorker) syncWorker.concurrency = Math.max(1, next.sources.length);
      return Promise.resolve();
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

export async function startWorker(opts: WorkerOptions): Promise<WorkerProcess> {
  const { config, log } = opts;
  // the ldapts internal the LDAP sessions replace (lean entry decoding): fail at start, not at the first sync
  if (config.sources.some((s) => s.type === 'ldap')) assertLdaptsInternals();
  const env = opts.env ?? process.env;
  const redis = createRedis(config.redis, 'worker', env);
  const keys = createKeys(config.redis.namespace);
  await migrateOnStart({ redis, keys, config }, log);
  const queues = createQueues(redis, keys, opts.backoffMs);
  const { log: _log, backoffMs: _backoffMs, startProcessors: starter, ...rest } = opts;
  const plain: ProcessorOptions = { ...rest, env };
  let processors: Processors;
  try {
    processors = starter ? await starter(plain) : await startProcessors(plain, log);
  } catch (err) {
    await queues.close();
    await redis.quit().catch(() => redis.disconnect());
    throw err;
  }
  let schedules = startSchedules(config, queues, log);
  log.info(
    { event: 'SY_WORKER_READY', queues: [SYNC_QUEUE, IMPORT_QUEUE, MAILFLOW_QUEUE], schedules: [...schedules.nextRuns().keys()] },
    'worker ready',
  );
  return {
    queues,
    get schedules() {
      return schedules;
    },
    async reconfigure(next) {
      await processors.reconfigure(next);
      await schedules.stop();
      schedules = startSchedules(next, queues, log);
    },
    async close() {
      await schedules.stop();
      await processors.close();
      await queues.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
