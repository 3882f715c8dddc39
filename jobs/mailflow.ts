/** The `mailflow` job: `test mailflow` without --send on `mailflow.schedule`; the report lands in Redis for metrics and the status page. */
import type { Job } from 'bullmq';
import type { MailflowJobData } from '../src/jobqueue/queues.js';
import { runMailflow } from '../src/mailflow/run.js';
import type { JobContext } from './context.js';

export function mailflowProcessor(ctx: JobContext) {
  return async (job: Job<MailflowJobData>): Promise<{ ok: boolean; failed: number; checks: number }> => {
    const report = await runMailflow(ctx.redis, ctx.keys, ctx.config, { send: false, sample: ctx.config.mailflow.sample, env: ctx.env });
    const failed = report.checks.filter((c) => c.ok === false);
    ctx.log[failed.length > 0 ? 'warn' : 'info'](
      {
        event: 'SY_MAILFLOW_DONE',
        job: job.id,
        ok: report.ok,
        checks: report.checks.length,
        failed: failed.map((c) => `${c.stage} ${c.path}: ${c.observed}`).slice(0, 20),
      },
      report.ok ? 'mail-flow test passed' : 'mail-flow test found broken paths',
    );
    return { ok: report.ok, failed: failed.length, checks: report.checks.length };
  };
}
