/** The `contacts` job: `contacts apply` of one GAL-sync direction (SPEC §10). */
import { UnrecoverableError, type Job } from 'bullmq';
import { ContactsApplyError, ContactsGuardError } from '../src/contacts/apply.js';
import { runGalSync } from '../src/contacts/run.js';
import { isPermanent } from '../src/jobqueue/failures.js';
import type { ContactsJobData } from '../src/jobqueue/queues.js';
import type { JobContext } from './context.js';

export function contactsProcessor(ctx: JobContext) {
  return async (job: Job<ContactsJobData>): Promise<Record<string, unknown>> => {
    const { from, to, ou, routingDomain } = job.data;
    try {
      const result = await runGalSync(
        { redis: ctx.redis, keys: ctx.keys, config: ctx.config, env: ctx.env },
        { from, to, ou, routingDomain },
        {
          dryRun: job.data.dryRun === true,
          allowMassDelete: job.data.allowMassDelete === true,
          onProgress: ({ done, total }) => void job.updateProgress({ read: total, written: done }).catch(() => undefined),
        },
      );
      ctx.log.info({ event: 'SY_CONTACTS_DONE', job: job.id, from, to, ou, counts: result.counts }, 'contacts apply finished');
      return { ...result, conflicts: result.conflicts.slice(0, 1000), errors: result.errors.slice(0, 1000) };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      ctx.log.warn({ event: 'SY_CONTACTS_FAILED', job: job.id, from, to, ou, err: message }, 'contacts apply failed');
      const permanent = err instanceof ContactsGuardError || err instanceof ContactsApplyError || isPermanent(err);
      throw permanent ? new UnrecoverableError(message) : err;
    }
  };
}
