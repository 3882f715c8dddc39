/**
 * node-cron schedules: each source's `schedule` (full sync). A tick only enqueues, with
 * a job id derived from the slot's scheduled time, so the schedulers of several workers
 * add the same job once and a slot never runs twice.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Config } from '../src/config/schema.js';
import type { Logger } from '../src/log/logger.js';
import { syncJobOptions, type Queues, type SyncJobData } from '../src/queue/queues.js';

export interface Schedules {
  /** Source name → next scheduled full sync. */
  nextRuns(): Map<string, Date | null>;
  stop(): Promise<void>;
}

export function startSchedules(config: Config, queues: Queues, log: Logger): Schedules {
  const tasks = new Map<string, ScheduledTask>();
  for (const source of config.sources) {
    if (source.type === 'ldap' && source.deltaSchedule !== undefined) {
      log.warn({ event: 'SY_DELTA_NOT_IMPLEMENTED', source: source.name }, 'deltaSchedule is not implemented yet: only the full-sync schedule runs');
    }
    if (source.schedule === undefined) continue;
    const task = cron.schedule(
      source.schedule,
      async (ctx) => {
        const slot = new Date(Math.floor(ctx.date.getTime() / 1000) * 1000).toISOString();
        const data: SyncJobData = { source: source.name, mode: 'full', trigger: 'schedule', slot };
        const job = await queues.sync.add('sync', data, syncJobOptions(data));
        log.debug({ event: 'SY_SCHEDULE_TICK', source: source.name, slot, job: job.id }, 'scheduled sync enqueued');
      },
      { name: `sync-${source.name}`, noOverlap: true },
    );
    tasks.set(source.name, task);
  }
  return {
    nextRuns: () => new Map([...tasks].map(([name, t]) => [name, t.getNextRun()])),
    async stop() {
      await Promise.all([...tasks.values()].map((t) => t.destroy()));
    },
  };
}
