/**
 * Running `sync` / `import` through the job queue when a worker is listening: enqueue,
 * show the job's progress, wait for its result. With no worker (or --inline) the
 * commands run the same code in-process instead.
 */
import type { Job, Queue } from 'bullmq';
import { createQueueEvents } from '../jobqueue/queues.js';
import type { PublishResult } from '../pipeline/types.js';
import type { Context } from './context.js';
import { createProgress } from './progress.js';

export async function workersListening(queue: Queue): Promise<boolean> {
  return (await queue.getWorkersCount()) > 0;
}

export async function waitForJob(ctx: Context, queue: Queue, job: Job, label: string): Promise<PublishResult & Record<string, unknown>> {
  const connection = ctx.redis.duplicate();
  const events = createQueueEvents(connection, ctx.keys, queue.name);
  const progress = createProgress(label, 0);
  const onProgress = ({ jobId, data }: { jobId: string; data: unknown }): void => {
    if (jobId !== job.id) return;
    const p = data as { read?: number; written?: number };
    progress.update(p.written ?? 0, `${p.read ?? 0} read, ${p.written ?? 0} written`);
  };
  events.on('progress', onProgress);
  let poller: NodeJS.Timeout | undefined;
  try {
    await events.waitUntilReady();
    // QueueEvents can miss an event that lands before its first read: poll the job's state too.
    const polled = new Promise<unknown>((resolve, reject) => {
      poller = setInterval(() => {
        void (async () => {
          const fresh = await queue.getJob(job.id as string);
          const state = await fresh?.getState();
          if (state === 'completed') resolve(fresh?.returnvalue);
          else if (state === 'failed') reject(new Error(fresh?.failedReason ?? 'job failed'));
        })().catch(() => undefined);
      }, 1000);
    });
    return (await Promise.race([job.waitUntilFinished(events), polled])) as PublishResult & Record<string, unknown>;
  } finally {
    clearInterval(poller);
    progress.stop();
    events.off('progress', onProgress);
    await events.close();
    connection.disconnect();
  }
}
