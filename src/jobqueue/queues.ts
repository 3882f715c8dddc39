/**
 * The job queues (SPEC §6): `sync` (one source, full or delta) and `import` (a Csvde file
 * into a source). Job ids are deterministic per cron slot, so several schedulers never run
 * one slot twice; deduplication per source and mode coalesces requests made while one runs
 * into a single follow-up run (BullMQ keepLastIfActive); the per-source lock of
 * ./source-lock.ts keeps a full and a delta of one source from overlapping.
 */
import { Queue, QueueEvents, type JobsOptions } from 'bullmq';
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';

export const SYNC_QUEUE = 'sync';
export const IMPORT_QUEUE = 'import';
export const CONTACTS_QUEUE = 'contacts';
export const MAILFLOW_QUEUE = 'mailflow';

/** A scheduled `test mailflow` run (SPEC §11): never --send, results in Redis and metrics. */
export interface MailflowJobData {
  readonly slot: string;
}

export interface SyncJobData {
  readonly source: string;
  /** 'delta' falls back to a full sync when the source has no usable watermark. */
  readonly mode: 'full' | 'delta';
  readonly dryRun?: boolean;
  readonly allowMassDelete?: boolean;
  /** 'schedule' for a cron slot, 'request' for the CLI or the admin page. */
  readonly trigger: 'schedule' | 'request';
  /** The cron slot (ISO time) a scheduled job belongs to. */
  readonly slot?: string;
}

export interface ImportJobData {
  readonly source: string;
  readonly file: string;
  readonly dryRun?: boolean;
  readonly skipInvalid?: boolean;
  readonly allowMassDelete?: boolean;
}

/** A `contacts apply` of one GAL-sync direction (SPEC §10). */
export interface ContactsJobData {
  readonly from: string;
  readonly to: string;
  readonly ou: string;
  readonly routingDomain: string;
  readonly dryRun?: boolean;
  readonly allowMassDelete?: boolean;
  readonly trigger: 'schedule' | 'request';
  readonly slot?: string;
}

/** Retries with exponential backoff for transient failures; results kept for a day. */
export function jobDefaults(backoffMs = 5_000): JobsOptions {
  return {
    attempts: 6,
    backoff: { type: 'exponential', delay: backoffMs },
    removeOnComplete: { age: 86_400, count: 1000 },
    removeOnFail: { age: 7 * 86_400, count: 1000 },
  };
}

export interface Queues {
  readonly sync: Queue<SyncJobData>;
  readonly import: Queue<ImportJobData>;
  readonly contacts: Queue<ContactsJobData>;
  readonly mailflow: Queue<MailflowJobData>;
  close(): Promise<void>;
}

export function createQueues(connection: RedisClient, keys: Keys, backoffMs?: number): Queues {
  const opts = { connection, prefix: keys.bullPrefix, defaultJobOptions: jobDefaults(backoffMs) };
  const sync = new Queue<SyncJobData>(SYNC_QUEUE, opts);
  const imp = new Queue<ImportJobData>(IMPORT_QUEUE, opts);
  const contacts = new Queue<ContactsJobData>(CONTACTS_QUEUE, opts);
  // a missed check is simply run at the next slot: no retries
  const mailflow = new Queue<MailflowJobData>(MAILFLOW_QUEUE, { ...opts, defaultJobOptions: { ...opts.defaultJobOptions, attempts: 1 } });
  return {
    sync,
    import: imp,
    contacts,
    mailflow,
    async close() {
      await Promise.all([sync.close(), imp.close(), contacts.close(), mailflow.close()]);
    },
  };
}

/** BullMQ job ids may not contain ':'. */
function idPart(value: string): string {
  return value.replace(/[^A-Za-z0-9_.-]/g, '_');
}

export function syncJobOptions(data: SyncJobData): JobsOptions {
  // a dry run or a forced mass delete is never merged with another request (SPEC §3.4):
  // each is a job of its own, and no plain request joins it either
  if (data.dryRun === true || data.allowMassDelete === true) return {};
  const dedup = { deduplication: { id: `sync-${idPart(data.source)}-${data.mode}`, keepLastIfActive: true } };
  return data.slot !== undefined ? { ...dedup, jobId: `sync-${idPart(data.source)}-${data.mode}-${idPart(data.slot)}` } : dedup;
}

export function contactsJobOptions(data: ContactsJobData): JobsOptions {
  if (data.dryRun === true || data.allowMassDelete === true) return {};
  const id = `contacts-${idPart(data.from)}-${idPart(data.to)}`;
  const dedup = { deduplication: { id, keepLastIfActive: true } };
  return data.slot !== undefined ? { ...dedup, jobId: `${id}-${idPart(data.slot)}` } : dedup;
}

export function createQueueEvents(connection: RedisClient, keys: Keys, queue: string): QueueEvents {
  return new QueueEvents(queue, { connection, prefix: keys.bullPrefix });
}
