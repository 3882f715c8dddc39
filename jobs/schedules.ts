/**
 * node-cron schedules: each source's `schedule` (full sync) and, for LDAP sources,
 * `deltaSchedule` (delta sync); `mailflow.schedule` (`test mailflow`). A tick only enqueues, with
 * a job id derived from the slot's scheduled time, so the schedulers of several workers
 * add the same job once and a slot never runs twice.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Config } from '../src/config/schema.js';
import type { Logger } from '../src/log/logger.js';
import { contactsJobOptions, syncJobOptions, type ContactsJobData, type Queues, type SyncJobData } from '../src/jobqueue/queues.js';

export interface Schedules {
  /** `source:mode` → next scheduled run. */
  nextRuns(): Map<string, Date | null>;
  stop(): Promise<void>;
}

export function startSchedules(config: Config, queues: Queues, log: Logger): Schedules {
  const tasks = new Map<string, ScheduledTask>();
  const plan = config.sources.flatMap((source) => [
    ...(source.schedule !== undefined ? [{ source: source.name, mode: 'full' as const, expression: source.schedule }] : []),
    ...(source.type === 'ldap' && source.deltaSchedule !== undefined
      ? [{ source: source.name, mode: 'delta' as const, expression: source.deltaSchedule }]
      : []),
  ]);
  for (const { source, mode, expression } of plan) {
    const task = cron.schedule(
      expression,
      async (ctx) => {
        const slot = new Date(Math.floor(ctx.date.getTime() / 1000) * 1000).toISOString();
        const data: SyncJobData = { source, mode, trigger: 'schedule', slot };
        const job = await queues.sync.add('sync', data, syncJobOptions(data));
        log.debug({ event: 'SY_SCHEDULE_TICK', source, mode, slot, job: job.id }, 'scheduled sync enqueued');
      },
      { name: `sync-${source}-${mode}`, noOverlap: true },
    );
    tasks.set(`${source}:${mode}`, task);
  }
  // GAL-sync directions (SPEC §10): one `contacts apply` job per slot
  for (const gal of config.galSync) {
    if (gal.schedule === undefined) continue;
    const task = cron.schedule(
      gal.schedule,
      async (ctx) => {
        const slot = new Date(Math.floor(ctx.date.getTime() / 1000) * 1000).toISOString();
        const data: ContactsJobData = {
          from: gal.from,
          to: gal.to,
          ou: gal.ou,
          routingDomain: gal.routingDomain,
          trigger: 'schedule',
          slot,
        };
        const job = await queues.contacts.add('contacts', data, contactsJobOptions(data));
        log.debug({ event: 'SY_CONTACTS_TICK', from: gal.from, to: gal.to, slot, job: job.id }, 'scheduled contacts apply enqueued');
      },
      { name: `contacts-${gal.from}-${gal.to}`, noOverlap: true },
    );
    tasks.set(`contacts:${gal.from}>${gal.to}`, task);
  }
  const mailflow = config.mailflow.schedule;
  if (mailflow !== undefined) {
    const task = cron.schedule(
      mailflow,
      async (ctx) => {
        const slot = new Date(Math.floor(ctx.date.getTime() / 1000) * 1000).toISOString();
        const job = await queues.mailflow.add('mailflow', { slot }, { jobId: `mailflow-${slot.replace(/[^A-Za-z0-9_.-]/g, '_')}` });
        log.debug({ event: 'SY_SCHEDULE_TICK', queue: 'mailflow', slot, job: job.id }, 'scheduled mail-flow test enqueued');
      },
      { name: 'mailflow', noOverlap: true },
    );
    tasks.set('mailflow', task);
  }
  return {
    nextRuns: () => new Map([...tasks].map(([name, t]) => [name, t.getNextRun()])),
    async stop() {
      await Promise.all([...tasks.values()].map((t) => Promise.resolve(t.destroy())));
    },
  };
}
